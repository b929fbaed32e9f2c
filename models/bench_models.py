#!/usr/bin/python3
"""Benchmark models of /work/shared/BENCH_SUITE.md, as argen files.

    /usr/bin/python3 models/bench_models.py char-lstm|llama-15m|pixelcnn-gated|wavenet-20 OUT.safetensors [--dtype float32]

char-lstm: Embedding(256,128) -> LSTM(128->512, 2 layers, batch_first) -> Linear(512,256),
bytes tokenizer. Weights: torch.manual_seed(1234); build RecurrentLM('lstm', 256, 512, 2,
embedding_dim=128); then every parameter, in model.parameters() order (embed.weight,
rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0, ..._l1, head.weight,
head.bias), is overwritten with N(0, 0.02) draws (Tensor.normal_). float32, ~3.6M params,
~14.4 MB. The file is regenerated, not committed.

llama-15m: llama2.c's stories15M config, Llama(vocab_size=32000, dim=288, n_layers=6, n_heads=6,
n_kv_heads=6, hidden_dim=768, context_length=256, norm_eps=1e-5, rope_theta=10000, tied=True)
(models/transformers.py). Weights: torch.manual_seed(1234); build the module; then every parameter,
in model.parameters() order (the tied tok_embeddings/output weight once, then per layer wq, wk, wv,
wo, w1, w2, w3 and both RMSNorm weights, ..., norm.weight), is overwritten with N(0, 0.02) draws,
the RMSNorm weights included. float32, ~15.2M params, ~61 MB. Tokenizer: 'chars' with 32000
distinct characters (token i is chr(0x100 + i)) and bos 1: every token decodes to one character,
and an empty prompt starts from bos (token 1), as llama2.c's run.c does.

pixelcnn-gated: GatedPixelCNN(height=28, width=28, channels=1, levels=256, filters=64, layers=10,
input_kernel=7, num_classes=0, head_hidden=256, skip=0) (models/image_models.py). Weights:
torch.manual_seed(1234); build the module; then every parameter, in model.parameters() order, is
overwritten with N(0, 0.02) draws. float32. No tokenizer (the levels are the pixel values).

wavenet-20: WaveNet(dilations=[1, 2, ..., 512] * 2, residual_channels=64, dilation_channels=64,
skip_channels=128, head_hidden=256, quantization=256, input='one_hot', input_kernel=1,
num_speakers=0) (models/wavenet.py), 16 kHz mu-law codes. Weights as above (seed 1234, every
parameter in model.parameters() order overwritten with N(0, 0.02)). float32. No tokenizer.
"""

import argparse
import os
import sys

import torch

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from argen_models import RecurrentLM  # noqa: E402
from transformers import Llama  # noqa: E402
from image_models import GatedPixelCNN  # noqa: E402
from wavenet import WaveNet  # noqa: E402
from export import export  # noqa: E402


def char_lstm():
    torch.manual_seed(1234)
    model = RecurrentLM("lstm", vocab_size=256, hidden_size=512, num_layers=2, embedding_dim=128)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    return model.eval()


LLAMA_15M = dict(vocab_size=32000, dim=288, n_layers=6, n_heads=6, n_kv_heads=6, hidden_dim=768,
                 context_length=256, norm_eps=1e-5, rope_theta=10000.0, tied=True)


def llama_15m():
    torch.manual_seed(1234)
    model = Llama(**LLAMA_15M)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    return model.eval()


def llama_15m_tokenizer():
    """One distinct character per token (token i = chr(0x100 + i), no surrogates), bos = 1."""
    return {"type": "chars", "vocab": [chr(0x100 + i) for i in range(LLAMA_15M["vocab_size"])], "bos": 1}


PIXELCNN_GATED = dict(height=28, width=28, channels=1, levels=256, filters=64, layers=10,
                      input_kernel=7, num_classes=0, head_hidden=256, skip=0)


def pixelcnn_gated():
    torch.manual_seed(1234)
    model = GatedPixelCNN(**PIXELCNN_GATED)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    return model.eval()


WAVENET_20 = dict(dilations=[2 ** i for i in range(10)] * 2, residual_channels=64, dilation_channels=64,
                  skip_channels=128, head_hidden=256, quantization=256, input="one_hot", input_kernel=1,
                  num_speakers=0, sample_rate=16000)


def wavenet_20():
    torch.manual_seed(1234)
    model = WaveNet(**WAVENET_20)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    return model.eval()


BUILDERS = {"char-lstm": (char_lstm, "bytes",
                          "BENCH_SUITE char-lstm: random N(0, 0.02) weights, seed 1234"),
            "llama-15m": (llama_15m, llama_15m_tokenizer(),
                          "BENCH_SUITE llama-15m (llama2.c stories15M config): random N(0, 0.02) weights, "
                          "seed 1234"),
            # Image and audio models have no tokenizer (None: export's default for their arch).
            "pixelcnn-gated": (pixelcnn_gated, None,
                               "BENCH_SUITE pixelcnn-gated (28x28x1, 256 levels): random N(0, 0.02) weights, "
                               "seed 1234"),
            "wavenet-20": (wavenet_20, None,
                           "BENCH_SUITE wavenet-20 (2 x dilations 1..512, 16 kHz mu-law): random N(0, 0.02) "
                           "weights, seed 1234")}


def write(model_id, path, dtype="float32"):
    build, tokenizer, description = BUILDERS[model_id]
    kw = {} if tokenizer is None else {"tokenizer": tokenizer}
    return export(build(), path, dtype=dtype, name=model_id, description=description,
                  license="CC0-1.0", **kw)


def main():
    p = argparse.ArgumentParser(description="Write a benchmark model as an argen .safetensors file.")
    p.add_argument("model", choices=sorted(BUILDERS))
    p.add_argument("output")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    a = p.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    meta = write(a.model, a.output, a.dtype)
    print(f"wrote {a.output} ({os.path.getsize(a.output)} bytes): {meta['config']}")


if __name__ == "__main__":
    main()
