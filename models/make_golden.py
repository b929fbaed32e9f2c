#!/usr/bin/python3
"""Write the golden parity files in tests/golden/ (committed; C++ tests need no torch).

    /usr/bin/python3 models/make_golden.py [--out tests/golden] [--check]

For each case: <name>.safetensors (an argen/1 model with small random weights, exported
with models/export.py; the llama2c case is written as llama2.c files and converted by
models/llama2c_convert.py) and <name>.json:
    {"model": "<name>.safetensors", "arch": "rnn"|"gru"|"lstm"|"gpt"|"llama"|"transformer"|"hybrid",
     "tokens": [ids], "logits": [[V floats], ...]}
logits[i] are PyTorch's float32 logits after consuming tokens[0..i] from the zero state
(transformers: row i of one causal forward pass over all the tokens),
written as repr() of the float32 values converted to Python floats (exact). For the F16 and
BF16 cases the weights are first rounded to that dtype and back to float32, and the logits
are those of the rounded model, so they are exactly what the stored file describes.
index.json lists the cases: {"cases": [...], "int8_cases": [...]} (int8_cases: files stored with
int8 weights; their logits are the dequantized model's).

Image cases (arch pixelcnn / pixelrnn):
    {"model": ..., "arch": ..., "label": int or null, "tokens": [H*W*C levels in raster order
     (row, column, channel)], "logits": [[levels floats] for each of the H*W*C positions]}
logits[p] = raster_logits(module(image, label))[0][p]: the distribution of position p given the
positions before it (logits[0] comes before any pixel).
Audio cases (arch wavenet):
    {"model": ..., "arch": "wavenet", "speaker": int or null, "tokens": [T codes],
     "logits": [[quantization floats] for t in 0..T-1]}
logits[t] = module(codes, speaker)[0][t], after consuming codes[0..t] from empty queues.

Deterministic: every case has its own seed; rerunning rewrites identical bytes.
--check regenerates into a temporary folder and compares with the committed files.
"""

import argparse
import filecmp
import json
import math
import os
import sys
import tempfile

import torch
from torch import nn

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from argen_models import RecurrentLM  # noqa: E402
from export import export, round_trip_dtype, transformer_arch  # noqa: E402
import llama2c_convert  # noqa: E402
from test_llama2c import reference_encode  # noqa: E402  (run.c's encode, in Python)
from transformers import GPT, Llama  # noqa: E402  (models/transformers.py)
from encoder_lm import CausalTransformerLM, causal_mask  # noqa: E402  (models/encoder_lm.py)
from hybrid_lm import HybridLM  # noqa: E402  (models/hybrid_lm.py)
from image_models import GatedPixelCNN, PixelRNN, raster_levels, raster_logits  # noqa: E402
from wavenet import WaveNet  # noqa: E402

# llama2c_convert.sample_vocab(): the llama2.c case's sentencepiece-like vocabulary (pieces, scores).
LLAMA2C_VOCAB = llama2c_convert.sample_vocab()

# 20 characters, one of them non-ASCII ('é'); the newline is id 0 and the bos.
CHARS = ["\n", " ", ",", ".", "a", "c", "d", "e", "é", "f", "h", "i", "l", "m", "n", "o", "r", "s",
         "t", "u"]
CHARS_TOK = {"type": "chars", "vocab": CHARS, "bos": 0}


class UserNamedLSTM(nn.Module):
    """A user's own module: other attribute names and a time-major (batch_first=False) rnn."""

    def __init__(self, ntoken, ninp, nhid, nlayers):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.lstm = nn.LSTM(ninp, nhid, nlayers)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, x):  # [B, T] ids -> [B, T, V]
        out, _ = self.lstm(self.encoder(x).transpose(0, 1))
        return self.decoder(out).transpose(0, 1)


class NestedOneHotRNN(nn.Module):
    """Nested module paths (net.core.0, net.out) and one-hot input."""

    def __init__(self, ntoken, nhid):
        super().__init__()
        self.ntoken = ntoken
        self.net = nn.ModuleDict({"core": nn.Sequential(nn.RNN(ntoken, nhid, batch_first=True)),
                                  "out": nn.Linear(nhid, ntoken)})

    def forward(self, x):
        h, _ = self.net["core"](nn.functional.one_hot(x, self.ntoken).float())
        return self.net["out"](h)


class TutorialPositionalEncoding(nn.Module):
    """The PyTorch tutorial's PositionalEncoding, time-major: pe is [max_len, 1, D]."""

    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):  # [T, B, D]
        return self.dropout(x + self.pe[:x.size(0)])


class TutorialTransformer(nn.Module):
    """A user's module as the PyTorch word-language-model tutorial writes it: its own attribute
    names (encoder is the embedding, transformer_encoder the stack, decoder the head), time-major
    ids [T, B], the causal mask passed in, embedding scaled by sqrt(d_model), post-norm."""
    time_major = True

    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, max_len, dropout=0.5):
        super().__init__()
        self.pos_encoder = TutorialPositionalEncoding(d_model, dropout, max_len)
        layers = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(layers, nlayers, enable_nested_tensor=False)
        self.encoder = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.decoder = nn.Linear(d_model, ntoken)

    def forward(self, src, src_mask):  # [T, B] -> [T, B, V]
        src = self.encoder(src) * math.sqrt(self.d_model)
        return self.decoder(self.transformer_encoder(self.pos_encoder(src), src_mask))


# name, builder, tokenizer, text for the tokens, storage dtype, seed
def _ref(cell, V, H, L, E, bias=True, head_bias=True, nonlinearity="tanh"):
    return lambda: RecurrentLM(cell, V, H, L, E, bias=bias, nonlinearity=nonlinearity,
                               head_bias=head_bias)


CASES = [
    ("rnn_tanh_emb_bytes_h37_l1", _ref("rnn", 256, 37, 1, 16), "bytes", "Héllo, wörld", "float32"),
    ("rnn_relu_onehot_chars_h13_l2", _ref("rnn", 20, 13, 2, None, nonlinearity="relu"), "chars",
     "\nthe café is", "float32"),
    ("rnn_tanh_onehot_chars_h13_l1_nobias", _ref("rnn", 20, 13, 1, None, bias=False, head_bias=False),
     "chars", "\nmon ami, él", "float32"),
    ("rnn_relu_emb_bytes_h37_l3_nobias", _ref("rnn", 256, 37, 3, 24, bias=False, nonlinearity="relu"),
     "bytes", "argen\x00\x7f\x80\xff wasm", "float32"),
    ("gru_emb_bytes_h64_l1", _ref("gru", 256, 64, 1, 32), "bytes", "The quick fox", "float32"),
    ("gru_onehot_chars_h13_l2_nobias", _ref("gru", 20, 13, 2, None, bias=False, head_bias=False),
     "chars", "\ndé, nous...", "float32"),
    ("gru_emb_chars_h37_l3", _ref("gru", 20, 37, 3, 8), "chars", "\nfrites a la", "float32"),
    ("lstm_emb_bytes_h37_l1", _ref("lstm", 256, 37, 1, 16), "bytes", "In the begin", "float32"),
    ("lstm_onehot_chars_h13_l2", _ref("lstm", 20, 13, 2, None), "chars", "\nla cité uni", "float32"),
    ("lstm_emb_bytes_h64_l2_nobias", _ref("lstm", 256, 64, 2, 32, bias=False, head_bias=False), "bytes",
     "ÿ€ zero 0", "float32"),
    ("lstm_emb_chars_h37_l2_f16", _ref("lstm", 20, 37, 2, 16), "chars", "\nle hameau é", "float16"),
    ("gru_onehot_bytes_h13_l2_bf16", _ref("gru", 256, 13, 2, None, head_bias=False), "bytes",
     "bf16 rounding", "bfloat16"),
    ("lstm_usernames_emb_chars_h13_l2", lambda: UserNamedLSTM(20, 11, 13, 2), "chars", "\nsucre, sel.",
     "float32"),
    ("rnn_nestednames_onehot_chars_h37_l1", lambda: NestedOneHotRNN(20, 37), "chars", "\ndoucement, ",
     "float32"),
    # transformers (models/transformers.py); sizes mostly not multiples of 8
    ("gpt_bias_exact_chars_d30_h3_l2",
     lambda: GPT(20, 30, 2, 3, context_length=14, hidden_dim=50), "chars", "\nla fée dans", "float32"),
    ("gpt_nobias_tanh_tied_bytes_d18_h2_l1",  # context_length == number of tokens
     lambda: GPT(256, 18, 1, 2, context_length=12, hidden_dim=44, bias=False, gelu="tanh", tied=True),
     "bytes", "Héllo, gpt!", "float32"),
    ("gpt_chars_d22_h2_l3_eps1e-3",
     lambda: GPT(20, 22, 3, 2, context_length=16, hidden_dim=37, norm_eps=1e-3), "chars",
     "\nle sel, ici.", "float32"),
    ("llama_chars_d28_h2_l2",
     lambda: Llama(20, 28, 2, 2, context_length=13, hidden_dim=44), "chars", "\nmonde resté", "float32"),
    ("llama_gqa_tied_bytes_d36_h6_kv2_l2",
     lambda: Llama(256, 36, 2, 6, context_length=15, n_kv_heads=2, hidden_dim=58, tied=True), "bytes",
     "llama\x00ÿ GQA", "float32"),
    ("llama_theta500_eps1e-3_chars_d20_h2_l2",
     lambda: Llama(20, 20, 2, 2, context_length=12, hidden_dim=30, norm_eps=1e-3, rope_theta=500.0),
     "chars", "\nsoleil, eau", "float32"),
    ("llama_mqa_chars_d24_h4_kv1_l1_f16",
     lambda: Llama(20, 24, 1, 4, context_length=13, n_kv_heads=1, hidden_dim=40), "chars",
     "\nfin du conte", "float16"),
    # a llama2.c checkpoint (written as its run.c reads it) converted by models/llama2c_convert.py,
    # with its bpe tokenizer; tokens = bos + run.c's encode of the text
    ("llama2c_stories_bpe_d24_h4_kv2_l2",
     lambda: Llama(len(LLAMA2C_VOCAB[0]), 24, 2, 4, context_length=16, n_kv_heads=2, hidden_dim=40, tied=True),
     "llama2c", "Once upon a time, Lily", "float32"),
    # arch "transformer" (models/encoder_lm.py and a tutorial-style user module)
    ("transformer_post_relu_learned_chars_d24_h3_l2",
     lambda: CausalTransformerLM(20, 24, 3, 2, 40, context_length=14), "chars", "\nle café noir", "float32"),
    ("transformer_pre_gelu_sin_scaled_final_bytes_d20_h4_l2",
     lambda: CausalTransformerLM(256, 20, 4, 2, 36, context_length=13, norm_first=True, activation="gelu",
                                 positions="sinusoidal", embed_scale=True, final_norm=True),
     "bytes", "Héllo, enc!", "float32"),
    ("transformer_post_gelu_nopos_final_nohb_chars_d18_h2_l3",
     lambda: CausalTransformerLM(20, 18, 2, 3, 30, context_length=16, activation="gelu", positions="none",
                                 final_norm=True, head_bias=False), "chars", "\nsans tour ici", "float32"),
    ("transformer_pre_relu_learned_scaled_eps1e-3_chars_d16_h4_l1",
     lambda: CausalTransformerLM(20, 16, 4, 1, 27, context_length=12, norm_first=True, layer_norm_eps=1e-3,
                                 embed_scale=True), "chars", "\nun, des...", "float32"),
    ("transformer_usernames_tutorial_chars_d20_h2_l2",
     lambda: TutorialTransformer(20, 20, 2, 34, 2, max_len=15), "chars", "\ntout le monde", "float32"),
    ("transformer_pre_gelu_sin_final_chars_d24_h2_l2_f16",
     lambda: CausalTransformerLM(20, 24, 2, 2, 44, context_length=13, norm_first=True, activation="gelu",
                                 positions="sinusoidal", final_norm=True), "chars", "\nla fin, ici", "float16"),
    # arch "hybrid" (models/hybrid_lm.py): GRU / LSTM layers under GPT-style attention blocks
    ("hybrid_gru_chars_e12_d20_h2_r1_l2",
     lambda: HybridLM(20, 12, "gru", 1, 20, 2, 2, context_length=14, hidden_dim=34), "chars",
     "\nle chat dort", "float32"),
    ("hybrid_lstm_tanh_bytes_e16_d24_h3_r2_l1",
     lambda: HybridLM(256, 16, "lstm", 2, 24, 1, 3, context_length=13, hidden_dim=40, gelu="tanh"), "bytes",
     "Hybrid: ré", "float32"),
    ("hybrid_lstm_chars_e28_d16_h4_r1_l2_eps1e-3",
     lambda: HybridLM(20, 28, "lstm", 1, 16, 2, 4, context_length=12, hidden_dim=26, norm_eps=1e-3), "chars",
     "\nsi loin, si", "float32"),
]


# image / audio cases: name, builder, label (class / speaker id or None), labels (names or
# None), storage dtype, T (audio only). Their seeds follow the text cases' (index len(CASES) + i).
# int8 storage (export dtype="int8"), listed under "int8_cases" in index.json: argen multiplies
# by int8 weights and int8 activations, so these match PyTorch (on the dequantized weights)
# within test_int8.cc's bound, not 1e-4. Written after the others so their seeds stay put.
INT8_CASES = [
    ("llama_int8_chars_d32_h4_kv2_l2",
     lambda: Llama(20, 32, 2, 4, context_length=13, n_kv_heads=2, hidden_dim=48), "chars", "\nle sel, ici.", "int8"),
    ("lstm_int8_emb_bytes_h40_l2", _ref("lstm", 256, 40, 2, 16), "bytes", "int8 rows", "int8"),
]

MEDIA_CASES = [
    ("pixelcnn_gray_l16_5x6_f6_l3",
     lambda: GatedPixelCNN(5, 6, 1, 16, filters=6, layers=3, input_kernel=7, head_hidden=10), None, None,
     "float32", None),
    ("pixelcnn_rgb_cond4_l8_4x7_f5_l2_skip5",
     lambda: GatedPixelCNN(4, 7, 3, 8, filters=5, layers=2, input_kernel=3, num_classes=4, head_hidden=9,
                           skip=5), 2, ["zero", "one", "two", "three"], "float32", None),
    ("pixelcnn_rgb_k5_l12_5x6_f4_l2_f16",
     lambda: GatedPixelCNN(5, 6, 3, 12, filters=4, layers=2, input_kernel=5, head_hidden=8), None, None,
     "float16", None),
    ("pixelrnn_gray_cond3_l16_5x6_h5_l2_k3",
     lambda: PixelRNN(5, 6, 1, 16, hidden=5, layers=2, kernel=3, num_classes=3, head_hidden=9), 1, None,
     "float32", None),
    ("pixelrnn_rgb_l8_4x7_h6_l3_k3",
     lambda: PixelRNN(4, 7, 3, 8, hidden=6, layers=3, kernel=3, head_hidden=8), None, None, "float32", None),
    ("pixelrnn_rgb_k5_l10_5x6_h4_l2_bf16",
     lambda: PixelRNN(5, 6, 3, 10, hidden=4, layers=2, kernel=5, head_hidden=7), None, None, "bfloat16", None),
    ("wavenet_onehot_k2_spk3_r8_d6_s7_l6",
     lambda: WaveNet([1, 2, 4, 8, 1, 2], residual_channels=8, dilation_channels=6, skip_channels=7,
                     head_hidden=10, input="one_hot", input_kernel=2, num_speakers=3), 2,
     ["alice", "bob", "carol"], "float32", 40),
    ("wavenet_emb9_k1_r6_d5_s6_l6",
     lambda: WaveNet([1, 2, 4, 8, 1, 2], residual_channels=6, dilation_channels=5, skip_channels=6,
                     head_hidden=9, input="embedding", embedding_dim=9, input_kernel=1), None, None,
     "float32", 36),
    ("wavenet_onehot_k3_r6_d4_s5_l5_f16",
     lambda: WaveNet([1, 2, 4, 8, 2], residual_channels=6, dilation_channels=4, skip_channels=5,
                     head_hidden=8, input="one_hot", input_kernel=3), None, None, "float16", 30),
    # int8 storage (see INT8_CASES)
    ("pixelcnn_int8_gray_cond2_l16_5x6_f6_l3",
     lambda: GatedPixelCNN(5, 6, 1, 16, filters=6, layers=3, num_classes=2, head_hidden=10), 1, None, "int8", None),
    ("wavenet_int8_emb8_k2_r8_d6_s7_l6",
     lambda: WaveNet([1, 2, 4, 8, 1, 2], residual_channels=8, dilation_channels=6, skip_channels=7,
                     head_hidden=10, input="embedding", embedding_dim=8, input_kernel=2), None, None,
     "int8", 40),
]

# Media cases added later, written after every list above so that the earlier seeds stay put.
# Dilations past argen's WaveNet block of 8 samples (models/wavenet.cc: past products made for
# blocks of b samples, b | d, at staggered samples where d >= 2b), and a 64-level quantization
# to keep the logits file small.
LATE_MEDIA_CASES = [
    ("wavenet_dil40_onehot_q64_k2_spk2_r6_d5_s7_l8",
     lambda: WaveNet([1, 16, 3, 12, 40, 2, 24, 5], residual_channels=6, dilation_channels=5, skip_channels=7,
                     head_hidden=9, quantization=64, input="one_hot", input_kernel=2, num_speakers=2), 1,
     ["low", "high"], "float32", 110),
]


# Text cases added later, written after every list above so that the earlier seeds stay put.
# lstm_emb_bytes_h136_l2: matrices of 544 x 136, past the panels' size, which wasm repacks in row
# pairs (ops::use_pairs); the head (256 x 136) stays on panels.
LATE_TEXT_CASES = [
    ("lstm_emb_bytes_h136_l2", _ref("lstm", 256, 136, 2, 16), "bytes", "row pairs, 8", "float32"),
]


def init_media_weights(module, g):
    """Weights N(0, 1.5 / sqrt(fan_in)) (image head out2: 2.5 / sqrt(fan_in)), biases N(0, 0.2), class /
    speaker biases N(0, 0.5), wavenet embedding N(0, 1), one-hot input columns N(0, 0.8),
    channel_in N(0, 0.5): gates neither saturate nor vanish and logits are O(1)."""
    one_hot = isinstance(module, WaveNet) and module.input == "one_hot"
    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "bias":
                std = 0.2
            elif name == "embed.weight":
                std = 1.0
            elif name.startswith("layers.") and ".cond" in name:
                std = 0.5
            elif name == "head.channel_in":
                std = 0.5
            elif name == "causal.weight" and one_hot:
                std = 0.8
            else:
                fan_in = p[0].numel()
                std = (2.5 if name == "head.out2.weight" else 1.5) / fan_in ** 0.5
            p.copy_(torch.randn(p.shape, generator=g) * std)


def write_media_case(outdir, index, name, build, label, labels, dtype, T):
    torch.manual_seed(1000 + index)
    module = build()
    g = torch.Generator().manual_seed(2000 + index)
    init_media_weights(module, g)
    if dtype != "float32":
        round_trip_dtype(module, dtype)  # the logits are those of the stored (rounded) weights
    module.eval()
    cond = None if label is None else torch.tensor([label])
    with torch.no_grad():
        if isinstance(module, WaveNet):
            x = torch.randint(0, module.quantization, (1, T), generator=g)
            tokens = x[0].tolist()
            logits = module(x, cond)[0].float()
            key = "speaker"
        else:
            x = torch.randint(0, module.levels, (1, module.channels, module.height, module.width), generator=g)
            tokens = raster_levels(x)[0].tolist()
            logits = raster_logits(module(x, cond))[0].float()
            key = "label"
    meta = export(module, os.path.join(outdir, name + ".safetensors"), dtype=dtype, labels=labels, name=name,
                  description=f"argen golden parity case ({dtype} storage, random weights)", license="CC0-1.0")
    rows = [", ".join(repr(float(x)) for x in row.tolist()) for row in logits]
    with open(os.path.join(outdir, name + ".json"), "w", encoding="utf-8") as f:
        f.write("{\n")
        f.write(f'  "model": {json.dumps(name + ".safetensors")},\n')
        f.write(f'  "arch": {json.dumps(meta["arch"])},\n')
        f.write(f'  "{key}": {json.dumps(label)},\n')
        f.write(f'  "tokens": {json.dumps(tokens)},\n')
        f.write('  "logits": [\n')
        f.write(",\n".join(f"    [{r}]" for r in rows))
        f.write("\n  ]\n}\n")
    return meta, tokens, logits


def encode(text, tok):
    if tok == "bytes":
        return list(text.encode("utf-8"))
    if tok == "llama2c":
        return [llama2c_convert.BOS] + reference_encode(*LLAMA2C_VOCAB, text.encode("utf-8"))
    stoi = {c: i for i, c in enumerate(CHARS)}
    return [stoi[c] for c in text]


def init_weights(module, seed):
    """Small random weights, scaled so that activations and logits are O(1)."""
    g = torch.Generator().manual_seed(seed)
    if transformer_arch(module) or any(isinstance(m, nn.TransformerEncoder) for m in module.modules()):
        return init_transformer_weights(module, g)
    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf.startswith("bias"):
                std = 0.3
            elif p.dim() == 2 and isinstance(_owner(module, name), nn.Embedding):
                std = 1.0
            elif leaf.startswith("weight_ih"):
                # one-hot input selects a single column: give it unit-ish scale
                one_hot_input = leaf == "weight_ih_l0" and _one_hot(module)
                std = 0.8 if one_hot_input else 1.0 / p.shape[1] ** 0.5
            elif leaf.startswith("weight_hh"):
                std = 0.9 / p.shape[1] ** 0.5
            else:  # head
                std = 2.5 / p.shape[1] ** 0.5
            p.copy_(torch.randn(p.shape, generator=g) * std)


def init_transformer_weights(module, g):
    """Matrices and embeddings N(0, 0.2), norm weights 1 + N(0, 0.1), biases N(0, 0.1).
    The normalised activations are O(1), so the head gives logits of std ~0.2 sqrt(dim).
    GPT's c_fc gets N(0, 0.5): exact and tanh GELU differ most (~5e-4) for inputs near +-2, and
    pre-activations of that size let the goldens tell the two apart beyond the 1e-4 tolerance."""
    with torch.no_grad():
        for name, p in module.named_parameters():  # a tied head is one Parameter, listed once
            if p.dim() == 1 and name.endswith(".weight"):  # LayerNorm / RMSNorm gain
                p.copy_(1.0 + torch.randn(p.shape, generator=g) * 0.1)
            elif p.dim() == 1:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            else:
                std = 0.5 if name.endswith("mlp.c_fc.weight") else 0.2
                p.copy_(torch.randn(p.shape, generator=g) * std)


def _owner(module, pname):
    return module.get_submodule(pname.rsplit(".", 1)[0])


def _one_hot(module):
    return not any(isinstance(m, nn.Embedding) for m in module.modules())


def golden_logits(module, tokens):
    module.eval()
    with torch.no_grad():
        if getattr(module, "time_major", False):  # TutorialTransformer: ids [T, 1], the mask passed in
            out = module(torch.tensor([tokens]).t(), causal_mask(len(tokens))).transpose(0, 1)
        else:
            out = module(torch.tensor([tokens]))
    if isinstance(out, tuple):
        out = out[0]
    return out[0].float()


def write_case(outdir, index, name, build, tok, text, dtype):
    torch.manual_seed(1000 + index)
    module = build()
    init_weights(module, seed=2000 + index)
    if dtype != "float32":
        round_trip_dtype(module, dtype)  # the logits are those of the stored (rounded) weights
    tokens = encode(text, tok)
    logits = golden_logits(module, tokens)
    if tok == "llama2c":
        meta = export_llama2c(module, os.path.join(outdir, name + ".safetensors"), name)
    else:
        tokenizer = "bytes" if tok == "bytes" else CHARS_TOK
        meta = export(module, os.path.join(outdir, name + ".safetensors"), tokenizer=tokenizer, dtype=dtype,
                      name=name, description=f"argen golden parity case ({dtype} storage, random weights)",
                      license="CC0-1.0")
    rows = [", ".join(repr(float(x)) for x in row.tolist()) for row in logits]
    with open(os.path.join(outdir, name + ".json"), "w", encoding="utf-8") as f:
        f.write("{\n")
        f.write(f'  "model": {json.dumps(name + ".safetensors")},\n')
        f.write(f'  "arch": {json.dumps(meta["arch"])},\n')
        f.write(f'  "tokens": {json.dumps(tokens)},\n')
        f.write('  "logits": [\n')
        f.write(",\n".join(f"    [{r}]" for r in rows))
        f.write("\n  ]\n}\n")
    return meta, tokens, logits


def export_llama2c(module, path, name):
    """Write the Llama module as llama2.c files (model .bin + tokenizer.bin), then convert them."""
    with tempfile.TemporaryDirectory() as tmp:
        sd = {k: v.detach().numpy() for k, v in module.state_dict().items()}
        llama2c_convert.write_llama2c_bin(os.path.join(tmp, "model.bin"), module.config(), sd)
        llama2c_convert.write_tokenizer_bin(os.path.join(tmp, "tokenizer.bin"), *LLAMA2C_VOCAB)
        return llama2c_convert.convert(
            os.path.join(tmp, "model.bin"), os.path.join(tmp, "tokenizer.bin"), path, name=name,
            description="argen golden parity case (llama2.c checkpoint converted by "
                        "models/llama2c_convert.py, random weights)", license="CC0-1.0")


def generate(outdir, verbose=True):
    os.makedirs(outdir, exist_ok=True)
    names, int8_names = [], []
    for i, (name, build, tok, text, dtype) in enumerate(CASES):
        meta, tokens, logits = write_case(outdir, i, name, build, tok, text, dtype)
        (int8_names if dtype == "int8" else names).append(name)
        if verbose:
            cfg = json.loads(meta["config"])
            if meta["arch"] == "transformer":
                sizes = f"D={cfg['d_model']:2d} H={cfg['nhead']} L={cfg['num_layers']}"
            elif meta["arch"] in ("gpt", "llama", "hybrid"):
                sizes = (f"D={cfg['dim']:2d} H={cfg['n_heads']}/{cfg.get('n_kv_heads', cfg['n_heads'])} "
                         f"L={cfg['n_layers']}")
            else:
                sizes = f"H={cfg['hidden_size']:2d} L={cfg['num_layers']}"
            print(f"{name:40s} {meta['arch']:5s} V={cfg['vocab_size']:3d} {sizes:15s} {dtype:8s} "
                  f"T={len(tokens):2d} logits std {logits.std().item():.2f} "
                  f"max|.| {logits.abs().max().item():.2f}")
    for j, (name, build, label, labels, dtype, T) in enumerate(MEDIA_CASES):
        meta, tokens, logits = write_media_case(outdir, len(CASES) + j, name, build, label, labels, dtype, T)
        (int8_names if dtype == "int8" else names).append(name)
        if verbose:
            spread = (logits - logits.mean(1, keepdim=True)).std(0).max().item()  # across positions
            print(f"{name:40s} {meta['arch']:8s} {dtype:8s} N={len(tokens):3d} logits std "
                  f"{logits.std().item():.2f} max|.| {logits.abs().max().item():.2f} "
                  f"min row-to-row spread {(logits[1:] - logits[:-1]).abs().max(1).values.min().item():.3f} "
                  f"spread {spread:.2f}")
    first = len(CASES) + len(MEDIA_CASES)
    for k, (name, build, tok, text, dtype) in enumerate(INT8_CASES):
        write_case(outdir, first + k, name, build, tok, text, dtype)
        int8_names.append(name)
    first += len(INT8_CASES)
    for j, (name, build, label, labels, dtype, T) in enumerate(LATE_MEDIA_CASES):
        write_media_case(outdir, first + j, name, build, label, labels, dtype, T)
        names.append(name)
    first += len(LATE_MEDIA_CASES)
    for k, (name, build, tok, text, dtype) in enumerate(LATE_TEXT_CASES):
        write_case(outdir, first + k, name, build, tok, text, dtype)
        names.append(name)
    with open(os.path.join(outdir, "index.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps({"cases": names, "int8_cases": int8_names}, indent=2) + "\n")
    return names + int8_names


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join(HERE, "..", "tests", "golden"))
    p.add_argument("--check", action="store_true",
                   help="regenerate into a temporary folder and compare with --out")
    a = p.parse_args()
    if a.check:
        with tempfile.TemporaryDirectory() as tmp:
            names = generate(tmp, verbose=False)
            files = ["index.json"] + [n + ext for n in names for ext in (".json", ".safetensors")]
            match, mismatch, errors = filecmp.cmpfiles(tmp, a.out, files, shallow=False)
            if mismatch or errors:
                print(f"golden files differ: {mismatch + errors}")
                sys.exit(1)
            print(f"golden files up to date ({len(names)} cases)")
        return
    names = generate(a.out)
    total = sum(os.path.getsize(os.path.join(a.out, f)) for f in os.listdir(a.out))
    print(f"{len(names)} cases, {total} bytes in {os.path.abspath(a.out)}")


if __name__ == "__main__":
    main()
