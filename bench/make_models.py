#!/usr/bin/python3
"""Writes the benchmark models into OUT_DIR (default build/bench):

  usage: make_models.py [OUT_DIR [MODEL...]]
         (MODEL: char-lstm, llama-15m, pixelcnn-gated, wavenet-20; default all)

  char-lstm.safetensors   argen model, written by models/bench_models.py (its CLI)
  char-lstm.step.onnx     one decode step for onnxruntime, exported with torch.onnx.export from the
                          same PyTorch module: inputs token [1,1] int64, h [2,1,512], c [2,1,512];
                          outputs logits [1,1,256], h_n [2,1,512], c_n [2,1,512]

  llama-15m.safetensors   argen model, written by models/bench_models.py (its CLI)
  llama-15m.step.onnx     one cached decode step (bench/llama_step.py, LlamaStep around the same
                          Llama module), torch.onnx.export: inputs token [1,1] int64, pos [1] int64,
                          k_cache, v_cache [6,P,288] (P = pos, dynamic); outputs logits [1,1,32000],
                          k_cache_out, v_cache_out [6,P+1,288]

  pixelcnn-gated.safetensors  argen model (models/bench_models.py)
  pixelcnn-gated.full.onnx    the whole GatedPixelCNN forward, torch.onnx.export: input images
                              [1,1,28,28] int64 levels; output logits [1,1,28,28,256] (the naive
                              peers run it once per pixel)

  wavenet-20.safetensors      argen model (models/bench_models.py)
  wavenet-20.step.onnx        one generation step with per-layer queues kept by the caller
                              (bench/wavenet_step.py, WaveNetStep around the same WaveNet module):
                              inputs code [1] int64, past [20,64] (layer l's input d_l steps ago);
                              outputs logits [1,256], cur [20,64] (layer l's input now)

and checks that both files of a model hold the same weights (the .safetensors tensors equal the
module's state_dict), that LlamaStep, step by step, gives the reference Llama forward's logits, and that
WaveNetStep (driven with ring buffers as the JS peer does, and through torch queues as the PyTorch peer
does) gives WaveNet.forward's logits.

Image and audio files need models/export.py support for those archs; where export.py cannot write them
yet, make_models.py says so on stderr and writes the ONNX files only (run.sh then skips the argen rows).
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))
import bench_models  # noqa: E402  (models/bench_models.py)
import safetensors_io as st  # noqa: E402
from llama_step import LlamaStep  # noqa: E402  (bench/llama_step.py)
from wavenet_step import Queues, WaveNetStep  # noqa: E402  (bench/wavenet_step.py)


class Step(nn.Module):
    """One decode step of the char-lstm LM with explicit state (what ONNX needs)."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, token, h, c):
        out, (h_n, c_n) = self.lm.rnn(self.lm.embed(token), (h, c))
        return self.lm.head(out), h_n, c_n


def write_argen(model_id, out_dir):
    """models/bench_models.py MODEL OUT, then checks the file against bench_models' module."""
    st_path = os.path.join(out_dir, f"{model_id}.safetensors")
    subprocess.run([sys.executable, os.path.join(ROOT, "models", "bench_models.py"), model_id, st_path],
                   check=True, stdout=subprocess.DEVNULL)
    lm = bench_models.BUILDERS[model_id][0]()
    tensors, _ = st.load(st_path)
    sd = {k: v for k, v in lm.state_dict().items() if k in tensors or not k.startswith("output.")}
    if set(tensors) != set(sd):  # (a tied output.weight is not stored)
        sys.exit(f"make_models: tensor names differ: {sorted(set(tensors) ^ set(sd))}")
    for k, v in sd.items():
        if not np.array_equal(tensors[k], v.numpy()):
            sys.exit(f"make_models: {k} differs between {st_path} and bench_models.{model_id}")
    return lm, st_path


def char_lstm(out_dir):
    lm, st_path = write_argen("char-lstm", out_dir)
    onnx_path = os.path.join(out_dir, "char-lstm.step.onnx")
    H, L = lm.rnn.hidden_size, lm.rnn.num_layers
    args = (torch.zeros(1, 1, dtype=torch.int64), torch.zeros(L, 1, H), torch.zeros(L, 1, H))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 1.13's exporter warns about LSTM shape inference
        torch.onnx.export(Step(lm), args, onnx_path, opset_version=17,
                          input_names=["token", "h", "c"], output_names=["logits", "h_n", "c_n"])
    print(f"wrote {st_path} and {onnx_path}")


def llama_15m(out_dir):
    lm, st_path = write_argen("llama-15m", out_dir)
    onnx_path = os.path.join(out_dir, "llama-15m.step.onnx")
    step = LlamaStep(lm).eval()
    # The cached step must give the full forward's logits at every position (a few steps from BOS).
    toks = [1, 7, 31999, 300, 12345, 5, 5, 42]
    with torch.no_grad():
        ref = lm(torch.tensor([toks]))[0]
        k, v = step.empty_cache()
        for i, t in enumerate(toks):
            logits, k, v = step(torch.tensor([[t]]), torch.tensor([i]), k, v)
            err = float((logits[0, 0] - ref[i]).abs().max())
            if err > 1e-5:
                sys.exit(f"make_models: LlamaStep differs from Llama.forward at position {i}: {err:.2e}")
        P = 3  # export with a non-empty cache; P is a dynamic axis
        args = (torch.tensor([[1]]), torch.tensor([P]), k[:, :P].clone(), v[:, :P].clone())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(step, args, onnx_path, opset_version=17,
                              input_names=["token", "pos", "k_cache", "v_cache"],
                              output_names=["logits", "k_cache_out", "v_cache_out"],
                              dynamic_axes={"k_cache": {1: "past"}, "v_cache": {1: "past"},
                                            "k_cache_out": {1: "present"}, "v_cache_out": {1: "present"}})
    print(f"wrote {st_path} and {onnx_path} (LlamaStep = Llama.forward over {len(toks)} positions)")


def write_argen_if_supported(model_id, out_dir):
    """write_argen, or (while models/export.py cannot write this arch) a note on stderr and no file."""
    st_path = os.path.join(out_dir, f"{model_id}.safetensors")
    if os.path.exists(st_path):
        os.remove(st_path)  # never leave a stale file that run.sh would take for this one
    try:
        lm, st_path = write_argen(model_id, out_dir)
        return st_path
    except subprocess.CalledProcessError:
        print(f"make_models: models/export.py could not write {model_id} (see above): no {st_path}; "
              "run.sh skips its argen rows", file=sys.stderr)
        return None


def pixelcnn_gated(out_dir):
    st_path = write_argen_if_supported("pixelcnn-gated", out_dir)
    net = bench_models.pixelcnn_gated()
    onnx_path = os.path.join(out_dir, "pixelcnn-gated.full.onnx")
    c = bench_models.PIXELCNN_GATED
    img = torch.randint(0, c["levels"], (1, c["channels"], c["height"], c["width"]),
                        generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (img,), onnx_path, opset_version=17, input_names=["images"],
                          output_names=["logits"])
    print(f"wrote {st_path or '(no argen file)'} and {onnx_path}")


def wavenet_20(out_dir):
    st_path = write_argen_if_supported("wavenet-20", out_dir)
    net = bench_models.wavenet_20()
    step = WaveNetStep(net).eval()
    onnx_path = os.path.join(out_dir, "wavenet-20.step.onnx")
    # The step must give the full forward's logits at every position, driven both ways. 1100 codes:
    # every ring buffer wraps (the longest dilation, 512, twice).
    T = 1100
    codes = torch.randint(0, net.quantization, (1, T), generator=torch.Generator().manual_seed(1))
    L, R = len(step.dilations), step.R
    with torch.no_grad():
        ref = net(codes)[0]
        rings = [torch.zeros(d, R) for d in step.dilations]  # what ort_wavenet.mjs keeps in JS
        queues = Queues(step)                                 # what torch_wavenet.py runs
        err1 = err2 = 0.0
        for t in range(T):
            past = torch.stack([rings[l][t % d] for l, d in enumerate(step.dilations)])
            logits, cur = step(codes[:, t], past)
            for l, d in enumerate(step.dilations):
                rings[l][t % d] = cur[l]
            err1 = max(err1, float((logits[0] - ref[t]).abs().max()))
            err2 = max(err2, float((queues(codes[:, t])[0] - ref[t]).abs().max()))
        if max(err1, err2) > 1e-5:
            sys.exit(f"make_models: WaveNetStep differs from WaveNet.forward: {err1:.2e} (rings), "
                     f"{err2:.2e} (queues)")
        args = (torch.tensor([128]), torch.randn(L, R) * 0.1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(step, args, onnx_path, opset_version=17, input_names=["code", "past"],
                              output_names=["logits", "cur"])
    print(f"wrote {st_path or '(no argen file)'} and {onnx_path} (WaveNetStep = WaveNet.forward over "
          f"{T} codes: {max(err1, err2):.1e})")


MODELS = {"char-lstm": char_lstm, "llama-15m": llama_15m, "pixelcnn-gated": pixelcnn_gated,
          "wavenet-20": wavenet_20}


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "bench")
    models = sys.argv[2:] or list(MODELS)
    os.makedirs(out_dir, exist_ok=True)
    for m in models:
        MODELS[m](out_dir)


if __name__ == "__main__":
    main()
