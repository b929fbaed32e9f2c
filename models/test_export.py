#!/usr/bin/python3
"""Checks for models/export.py and models/safetensors_io.py. Plain script:

    /usr/bin/python3 models/test_export.py        # prints each check, exits non-zero on failure
"""

import atexit
import json
import os
import shutil
import struct
import sys
import tempfile
import warnings

import numpy as np
import torch
from torch import nn

torch.set_num_threads(1)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, run  # noqa: E402
import safetensors_io as st  # noqa: E402
from argen_models import RecurrentLM  # noqa: E402
from export import export, inspect_module, media_shapes, round_trip_dtype  # noqa: E402
from transformers import GPT, Llama  # noqa: E402  (models/transformers.py)
from encoder_lm import CausalTransformerLM, PositionalEncoding, causal_mask  # noqa: E402
from hybrid_lm import HybridLM  # noqa: E402
from image_models import GatedPixelCNN, PixelRNN, raster_levels, raster_logits  # noqa: E402
from wavenet import WaveNet  # noqa: E402

TMP = tempfile.mkdtemp(prefix="argen-test-export-")
atexit.register(shutil.rmtree, TMP, ignore_errors=True)


def raises(fn, *fragments):
    try:
        fn()
    except ValueError as e:
        msg = str(e)
        for frag in fragments:
            assert frag in msg, f"error {msg!r} lacks {frag!r}"
        return msg
    raise AssertionError("expected ValueError")


def path(name):
    return os.path.join(TMP, name)


def roundtrip_exact(module, p, meta_expect=None):
    """Read the file back; every exported tensor equals the state_dict one bit for bit."""
    tensors, meta = st.load(p)
    sd = module.state_dict()
    for k, v in tensors.items():
        want = sd[k].detach().float().numpy()
        assert v.dtype == np.float32 and v.shape == want.shape, k
        assert np.array_equal(v, want), f"{k} differs after round trip"
    assert meta["format"] == "argen/1"
    for k, v in (meta_expect or {}).items():
        assert meta[k] == v, (k, meta[k], v)
    return tensors, meta


def check_header_layout(p):
    with open(p, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0, "header not padded to 8"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    assert list(header)[0] == "__metadata__"
    offs = sorted(v["data_offsets"] for k, v in header.items() if k != "__metadata__")
    assert offs[0][0] == 0
    for (a, b), (c, d) in zip(offs, offs[1:]):
        assert b == c, "gap between tensors"
    assert offs[-1][1] == len(blob) - 8 - n
    assert (8 + n) % st.ALIGN == 0, "data does not start at a multiple of ALIGN"
    for a, b in offs:
        assert (b - a) % st.ALIGN or a % st.ALIGN == 0, "a tensor of whole ALIGN blocks starts unaligned"


# --- user-style modules with other attribute names ---------------------------------------

class UserLSTM(nn.Module):
    """What someone might write following a tutorial: encoder / lstm / decoder."""

    def __init__(self, ntoken=50, ninp=24, nhid=29, nlayers=2):
        super().__init__()
        self.drop = nn.Dropout(0.2)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.lstm = nn.LSTM(ninp, nhid, nlayers, dropout=0.1)  # batch_first=False
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, x, hidden=None):  # x: [B, T] -> internally time-major
        emb = self.drop(self.encoder(x)).transpose(0, 1)
        out, hidden = self.lstm(emb, hidden)
        return self.decoder(self.drop(out)).transpose(0, 1), hidden


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.ModuleDict({"tok": nn.Embedding(30, 8),
                                   "core": nn.Sequential(nn.GRU(8, 11, num_layers=3, batch_first=True))})
        self.out = nn.Sequential(nn.Linear(11, 30, bias=False))

    def forward(self, x):
        h, _ = self.body["core"](self.body["tok"](x))
        return self.out(h)


class OneHotRNN(nn.Module):
    def __init__(self, v=17, h=13):
        super().__init__()
        self.v = v
        self.cell = nn.RNN(v, h, nonlinearity="relu", bias=False, batch_first=True)
        self.proj = nn.Linear(h, v)

    def forward(self, x):  # takes ids
        return self.proj(self.cell(nn.functional.one_hot(x, self.v).float())[0])


class OneHotFloatInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(12, 9, batch_first=True)
        self.fc = nn.Linear(9, 12)

    def forward(self, x):  # takes one-hot floats [B, T, V]
        return self.fc(self.rnn(x)[0])


class HiddenExtraOp(nn.Module):
    """Standard parts, but forward scales the logits: export must notice."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 6)
        self.rnn = nn.LSTM(6, 10, batch_first=True)
        self.head = nn.Linear(10, 20)

    def forward(self, x):
        return torch.tanh(self.head(self.rnn(self.emb(x))[0])) * 3


class WithExtraParam(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 6)
        self.rnn = nn.GRU(6, 10, batch_first=True)
        self.head = nn.Linear(10, 20)
        self.scale = nn.Parameter(torch.full((20,), 2.0))

    def forward(self, x):
        return self.head(self.rnn(self.emb(x))[0]) * self.scale


class NoForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.e = nn.Embedding(256, 5)
        self.r = nn.RNN(5, 7)
        self.h = nn.Linear(7, 256)


# --- checks -------------------------------------------------------------------------------

@check
def reference_module_roundtrip():
    torch.manual_seed(0)
    for cell in ("rnn", "gru", "lstm"):
        for emb in (None, 8):
            m = RecurrentLM(cell, 256, 13, 2, emb, bias=(emb is None), head_bias=(emb is not None))
            p = path(f"ref-{cell}-{emb}.safetensors")
            meta = export(m, p, tokenizer="bytes", name="t")
            check_header_layout(p)
            tensors, meta2 = roundtrip_exact(m, p, {"arch": cell, "modality": "text", "name": "t"})
            assert set(tensors) == set(m.state_dict()), (set(tensors), set(m.state_dict()))
            cfg = json.loads(meta2["config"])
            assert cfg["input"] == ("one_hot" if emb is None else "embedding")
            assert cfg["names"] == ({"rnn": "rnn", "head": "head"} if emb is None else
                                    {"embedding": "embed", "rnn": "rnn", "head": "head"})
            assert ("embedding_dim" in cfg) == (emb is not None)
            assert ("nonlinearity" in cfg) == (cell == "rnn")
            assert cfg["bias"] == (emb is None) and cfg["head_bias"] == (emb is not None)
            assert json.loads(meta2["tokenizer"]) == {"type": "bytes"}
            assert meta == meta2


@check
def user_module_other_names():
    torch.manual_seed(1)
    m = UserLSTM()
    vocab = [chr(0x41 + i) for i in range(49)] + ["é"]
    p = path("user.safetensors")
    export(m, p, tokenizer={"type": "chars", "vocab": vocab, "bos": 3}, dtype="float32",
           description="user module", trained_on="nothing", license="MIT")
    tensors, meta = roundtrip_exact(m, p, {"arch": "lstm", "description": "user module",
                                           "trained_on": "nothing", "license": "MIT"})
    cfg = json.loads(meta["config"])
    assert cfg == {"vocab_size": 50, "hidden_size": 29, "num_layers": 2, "input": "embedding",
                   "embedding_dim": 24, "bias": True, "head_bias": True,
                   "names": {"embedding": "encoder", "rnn": "lstm", "head": "decoder"}}, cfg
    assert sorted(tensors) == sorted(m.state_dict()), sorted(tensors)
    tok = json.loads(meta["tokenizer"])
    assert tok == {"type": "chars", "vocab": vocab, "bos": 3}
    assert "é" in meta["tokenizer"], "tokenizer JSON should keep non-ASCII characters as is"


@check
def nested_paths_and_no_head_bias():
    torch.manual_seed(2)
    m = Nested()
    p = path("nested.safetensors")
    export(m, p, tokenizer=list("abcdefghijklmnopqrstuvwxyz .,\n"))
    tensors, meta = roundtrip_exact(m, p, {"arch": "gru"})
    cfg = json.loads(meta["config"])
    assert cfg["names"] == {"embedding": "body.tok", "rnn": "body.core.0", "head": "out.0"}, cfg
    assert cfg["num_layers"] == 3 and cfg["head_bias"] is False
    assert "body.core.0.weight_ih_l2" in tensors and "out.0.bias" not in tensors


@check
def one_hot_user_modules():
    torch.manual_seed(3)
    m = OneHotRNN()
    p = path("onehot.safetensors")
    export(m, p, tokenizer=[chr(0x3b1 + i) for i in range(17)])
    tensors, meta = roundtrip_exact(m, p, {"arch": "rnn"})
    cfg = json.loads(meta["config"])
    assert cfg == {"vocab_size": 17, "hidden_size": 13, "num_layers": 1, "input": "one_hot",
                   "bias": False, "nonlinearity": "relu", "head_bias": True,
                   "names": {"rnn": "cell", "head": "proj"}}, cfg
    m2 = OneHotFloatInput()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the float one-hot forward must be recognised
        export(m2, path("onehot2.safetensors"), tokenizer=list("0123456789+="))


@check
def float16_and_bfloat16():
    torch.manual_seed(4)
    m = RecurrentLM("gru", 256, 37, 1, 16)
    for dtype, tag in (("float16", "F16"), ("bfloat16", "BF16")):
        p = path(f"m-{dtype}.safetensors")
        export(m, p, dtype=dtype)
        header = st.read_header(p)
        assert all(v["dtype"] == tag for k, v in header.items() if k != "__metadata__")
        tensors, _ = st.load(p)
        r = round_trip_dtype(RecurrentLM("gru", 256, 37, 1, 16), dtype)
        r.load_state_dict(m.state_dict())
        round_trip_dtype(r, dtype)
        for k, v in r.state_dict().items():
            assert np.array_equal(tensors[k], v.numpy()), f"{dtype} {k}"
    # bf16 rounding: ties to even, against torch
    x = torch.randn(10000) * 10
    x[:4] = torch.tensor([1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, -0.0, 3.0e38])
    bits = st.float32_to_bf16_bits(x.numpy())
    want = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    assert np.array_equal(bits, want), "bf16 rounding differs from torch"


@check
def rejects_what_argen_cannot_run():
    bi = nn.Sequential(nn.Embedding(10, 4), nn.LSTM(4, 6, bidirectional=True), nn.Linear(12, 10))
    raises(lambda: inspect_module(bi), "bidirectional")
    proj = nn.Sequential(nn.Embedding(10, 4), nn.LSTM(4, 6, proj_size=3), nn.Linear(3, 10))
    raises(lambda: inspect_module(proj), "proj_size")
    two = nn.Sequential(nn.Embedding(10, 4), nn.GRU(4, 6), nn.GRU(6, 6), nn.Linear(6, 10))
    raises(lambda: inspect_module(two), "one recurrent", "2 recurrent")
    badhead = nn.Sequential(nn.Embedding(10, 4), nn.GRU(4, 6), nn.Linear(5, 10))
    raises(lambda: inspect_module(badhead), "in_features=5", "hidden_size=6")
    badvocab = nn.Sequential(nn.Embedding(10, 4), nn.GRU(4, 6), nn.Linear(6, 11))
    raises(lambda: inspect_module(badvocab), "out_features=11", "vocabulary size 10")
    onehot_mismatch = nn.Sequential(nn.RNN(7, 6), nn.Linear(6, 10))
    raises(lambda: inspect_module(onehot_mismatch), "one-hot")
    emb_mismatch = nn.Sequential(nn.Embedding(10, 4), nn.GRU(5, 6), nn.Linear(6, 10))
    raises(lambda: inspect_module(emb_mismatch), "embedding_dim")
    two_lin = nn.Sequential(nn.Embedding(10, 4), nn.GRU(4, 6), nn.Linear(6, 6), nn.Linear(6, 10))
    raises(lambda: inspect_module(two_lin), "exactly one nn.Linear")
    raises(lambda: inspect_module(nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10))), "no nn.RNN")
    raises(lambda: inspect_module(nn.Sequential(nn.Embedding(10, 4), nn.GRU(4, 6))), "no nn.Linear")
    maxn = nn.Sequential(nn.Embedding(10, 4, max_norm=1.0), nn.GRU(4, 6), nn.Linear(6, 10))
    raises(lambda: inspect_module(maxn), "max_norm")
    # forward does more than argen computes
    raises(lambda: export(HiddenExtraOp(), path("x.safetensors"), tokenizer=[chr(65 + i) for i in range(20)]),
           "differs")
    raises(lambda: export(WithExtraParam(), path("x.safetensors"), tokenizer=[chr(65 + i) for i in range(20)]),
           "scale")
    class ExtraNoForward(NoForward):
        def __init__(self):
            super().__init__()
            self.register_buffer("temperature", torch.ones(1))
    raises(lambda: export(ExtraNoForward(), path("x.safetensors")), "would ignore", "temperature")
    # tokenizer problems
    m = RecurrentLM("rnn", 20, 5, 1, None)
    raises(lambda: export(m, path("x.safetensors"), tokenizer="bytes"), "256")
    raises(lambda: export(m, path("x.safetensors"), tokenizer=list("abc")), "3 characters")
    raises(lambda: export(m, path("x.safetensors"), tokenizer=["ab"] + list("cdefghijklmnopqrstu")),
           "single Unicode")
    raises(lambda: export(m, path("x.safetensors"), tokenizer=list("aacdefghijklmnopqrst")), "duplicate")
    raises(lambda: export(m, path("x.safetensors"),
                          tokenizer={"type": "chars", "vocab": list("abcdefghijklmnopqrst"), "bos": 20}), "bos")
    raises(lambda: export(m, path("x.safetensors"), dtype="int4"), "dtype")


@check
def batch_first_does_not_matter_and_no_forward_warns():
    torch.manual_seed(5)
    m = NoForward()  # batch_first=False rnn, no forward(): exported, with a warning
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        export(m, path("nofwd.safetensors"))
    assert any("could not call" in str(x.message) for x in w), [str(x.message) for x in w]
    roundtrip_exact(m, path("nofwd.safetensors"), {"arch": "rnn"})


def _randomize(module, seed, std=0.2):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            base = 1.0 if name.endswith("norm.weight") or ".ln_" in name and name.endswith("weight") else 0.0
            p.copy_(base + torch.randn(p.shape, generator=g) * std)
    return module


TRANSFORMERS = [
    ("gpt", lambda: GPT(20, 30, 2, 3, context_length=13, hidden_dim=50)),
    ("gpt", lambda: GPT(256, 18, 1, 2, context_length=11, bias=False, gelu="tanh", tied=True)),
    ("llama", lambda: Llama(20, 28, 2, 2, context_length=13, hidden_dim=44)),
    ("llama", lambda: Llama(256, 36, 2, 6, context_length=10, n_kv_heads=2, tied=True,
                            norm_eps=1e-3, rope_theta=500.0)),
]


@check
def transformer_roundtrip_and_independent_numpy():
    tok_chars = [chr(0x61 + i) for i in range(20)]
    for i, (arch, build) in enumerate(TRANSFORMERS):
        m = _randomize(build(), 10 + i)
        p = path(f"tf-{i}.safetensors")
        tok = "bytes" if m.vocab_size == 256 else tok_chars
        meta = export(m, p, tokenizer=tok, name=f"tf{i}")
        check_header_layout(p)
        tensors, meta2 = roundtrip_exact(m, p, {"arch": arch, "modality": "text", "name": f"tf{i}"})
        assert meta == meta2
        cfg = json.loads(meta["config"])
        assert cfg == m.config(), (cfg, m.config())
        keys = {"vocab_size", "dim", "n_layers", "n_heads", "hidden_dim", "context_length",
                "norm_eps", "tied"} | ({"bias", "gelu"} if arch == "gpt" else {"n_kv_heads", "rope_theta"})
        assert set(cfg) == keys, set(cfg) ^ keys
        head = "lm_head.weight" if arch == "gpt" else "output.weight"
        want_names = set(m.state_dict()) - ({head} if m.tied else set())
        assert set(tensors) == want_names, set(tensors) ^ want_names
        # a tied module is one Parameter under two names; the file holds it once
        assert (head in tensors) == (not m.tied)
        tokens = torch.randint(0, m.vocab_size, (m.context_length,), generator=torch.Generator().manual_seed(i))
        with torch.no_grad():
            want = m.eval()(tokens[None])[0].double().numpy()
        got = numpy_step_logits(p, tokens.tolist())
        err = np.abs(got - want).max()
        assert err < 2e-5 * max(1.0, np.abs(want).max()), f"{arch} #{i}: torch vs numpy {err}"
        assert np.abs(want).max() < 30, "weights should give O(1) logits"
        # causality: logits at position j do not depend on later tokens
        t2 = tokens.clone()
        t2[5:] = (t2[5:] + 1) % m.vocab_size
        with torch.no_grad():
            w2 = m(t2[None])[0].double().numpy()
        assert np.abs(w2[:5] - want[:5]).max() < 1e-5 and np.abs(w2[5:] - want[5:]).max() > 1e-3
    # float16 storage: the file holds the rounded values of every tensor
    m = _randomize(TRANSFORMERS[3][1](), 99)
    p = path("tf-f16.safetensors")
    export(m, p, dtype="float16")
    assert all(v["dtype"] == "F16" for k, v in st.read_header(p).items() if k != "__metadata__")
    tensors, _ = st.load(p)
    round_trip_dtype(m, "float16")
    for k, v in tensors.items():
        assert np.array_equal(v.astype(np.float32), m.state_dict()[k].numpy()), k


@check
def transformer_rejects():
    class Scaled(GPT):
        def forward(self, tokens):
            return super().forward(tokens) * 2

    class Extra(Llama):
        def __init__(self):
            super().__init__(20, 8, 1, 2, context_length=4)
            self.temperature = nn.Parameter(torch.ones(1))

    m = _randomize(Scaled(20, 8, 1, 2, context_length=4), 0)
    raises(lambda: export(m, path("x.safetensors"), tokenizer=list("abcdefghijklmnopqrst")), "differs")
    export(m, path("x.safetensors"), tokenizer=list("abcdefghijklmnopqrst"), verify=False)
    raises(lambda: export(Extra(), path("x.safetensors"), tokenizer=list("abcdefghijklmnopqrst")),
           "would ignore", "temperature")
    untied = GPT(20, 8, 1, 2, context_length=4, tied=True)
    untied.lm_head.weight = nn.Parameter(untied.lm_head.weight.detach() + 1)
    raises(lambda: export(untied, path("x.safetensors"), tokenizer=list("abcdefghijklmnopqrst")),
           "tied=True", "differs")
    raises(lambda: export(GPT(20, 8, 1, 2, context_length=4), path("x.safetensors")), "256")


ENCODERS = [
    lambda: CausalTransformerLM(20, 24, 3, 2, 40, context_length=12),
    lambda: CausalTransformerLM(256, 20, 4, 2, 36, context_length=11, norm_first=True, activation="gelu",
                                positions="sinusoidal", embed_scale=True, final_norm=True),
    lambda: CausalTransformerLM(20, 18, 2, 3, 30, context_length=10, positions="none", head_bias=False,
                                layer_norm_eps=1e-3),
]


def _check_encoder_file(m, p, tokens_fn, T):
    """torch forward of the module == independent numpy stepping of the written file."""
    tokens = torch.randint(0, 20, (T,), generator=torch.Generator().manual_seed(T))
    with torch.no_grad():
        want = tokens_fn(m.eval(), tokens).double().numpy()
    got = numpy_step_logits(p, tokens.tolist())
    err = np.abs(got - want).max()
    assert err < 2e-5 * max(1.0, np.abs(want).max()), f"torch vs numpy {err}"


@check
def encoder_reference_roundtrip():
    tok_chars = [chr(0x61 + i) for i in range(20)]
    for i, build in enumerate(ENCODERS):
        m = _randomize(build(), 30 + i)
        p = path(f"enc-{i}.safetensors")
        meta = export(m, p, tokenizer="bytes" if m.head.out_features == 256 else tok_chars)
        check_header_layout(p)
        assert meta["arch"] == "transformer"
        cfg = json.loads(meta["config"])
        assert cfg["names"] == dict({"embedding": "embed", "encoder": "encoder", "head": "head"},
                                    **({} if m.pos is None else {"positions": "pos"})), cfg["names"]
        assert cfg["embed_scale"] == m.embed_scale and cfg["context_length"] == m.context_length
        tensors, _ = st.load(p)
        sd = m.state_dict()
        for k, v in tensors.items():
            want = sd[k].float().numpy()
            if k == "pos.pe":
                want = want.reshape(cfg["context_length"], cfg["d_model"])
            assert np.array_equal(v, want), k
        assert set(tensors) == set(sd), set(tensors) ^ set(sd)
        _check_encoder_file(m, p, lambda mod, t: mod(t[None])[0], cfg["context_length"])
    cfg1 = json.loads(st.load(path("enc-1.safetensors"))[1]["config"])
    assert (cfg1["positions"], cfg1["norm_first"], cfg1["activation"], cfg1["final_norm"]) == (
        "sinusoidal", True, "gelu", True)
    cfg2 = json.loads(st.load(path("enc-2.safetensors"))[1]["config"])
    assert (cfg2["positions"], cfg2["head_bias"], cfg2["layer_norm_eps"], cfg2["num_layers"]) == (
        "none", False, 1e-3, 3)


class TutorialLM(nn.Module):
    """The PyTorch tutorial's shape: time-major ids, mask passed in, embedding * sqrt(d), a
    PositionalEncoding whose pe is [max_len, 1, D], and its attribute names."""

    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, max_len=5000):
        super().__init__()
        self.pos_encoder = nn.Module()
        pe = PositionalEncoding(d_model, max_len).pe  # [1, max_len, D]
        self.pos_encoder.register_buffer("pe", pe.transpose(0, 1).contiguous())  # [max_len, 1, D]
        self.transformer_encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d_model, nhead, d_hid, 0.5), nlayers, enable_nested_tensor=False)
        self.encoder = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.decoder = nn.Linear(d_model, ntoken)

    def forward(self, src, src_mask):  # [T, B] -> [T, B, V]
        x = self.encoder(src) * self.d_model ** 0.5 + self.pos_encoder.pe[:src.size(0)]
        return self.decoder(self.transformer_encoder(x, src_mask))


class UserBatchFirstLM(nn.Module):
    """Other names, nested, nn.GELU() activation object, pre-norm, final norm, learned positions
    called `wpe`, a tied head (one Parameter under two names), the mask made inside."""

    def __init__(self, V=20, D=16, T=9):
        super().__init__()
        self.emb = nn.ModuleDict({"tok": nn.Embedding(V, D), "wpe": nn.Embedding(T, D)})
        layer = nn.TransformerEncoderLayer(D, 2, 24, 0.1, activation=nn.GELU(), batch_first=True,
                                           norm_first=True)
        self.body = nn.Sequential(nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(D)))
        self.lm_head = nn.Linear(D, V, bias=False)
        self.lm_head.weight = self.emb["tok"].weight

    def forward(self, ids):
        T = ids.shape[1]
        x = self.emb["tok"](ids) + self.emb["wpe"](torch.arange(T))
        return self.lm_head(self.body[0](x, mask=causal_mask(T)))


@check
def encoder_user_modules():
    chars = [chr(0x61 + i) for i in range(20)]
    m = _randomize(TutorialLM(20, 12, 2, 20, 2, max_len=50), 40)
    raises(lambda: export(m, path("x.safetensors"), tokenizer=chars, verify=False), "embed_scale")
    meta = export(m, path("tut.safetensors"), tokenizer=chars, context_length=14)
    cfg = json.loads(meta["config"])
    assert cfg["names"] == {"embedding": "encoder", "positions": "pos_encoder",
                            "encoder": "transformer_encoder", "head": "decoder"}, cfg["names"]
    assert (cfg["embed_scale"], cfg["positions"], cfg["context_length"], cfg["norm_first"]) == (
        True, "sinusoidal", 14, False)
    assert st.load(path("tut.safetensors"))[0]["pos_encoder.pe"].shape == (14, 12)
    _check_encoder_file(m, path("tut.safetensors"),
                        lambda mod, t: mod(t[:, None], causal_mask(len(t)))[:, 0], 14)
    # the whole 50-row table when no context_length is given
    assert json.loads(export(m, path("tut50.safetensors"), tokenizer=chars)["config"])["context_length"] == 50

    u = _randomize(UserBatchFirstLM(), 41)
    meta = export(u, path("user.safetensors"), tokenizer=chars)
    cfg = json.loads(meta["config"])
    assert cfg["names"] == {"embedding": "emb.tok", "positions": "emb.wpe", "encoder": "body.0",
                            "head": "lm_head"}, cfg["names"]
    assert (cfg["activation"], cfg["norm_first"], cfg["final_norm"], cfg["head_bias"], cfg["embed_scale"]) == (
        "gelu", True, True, False, False)
    _check_encoder_file(u, path("user.safetensors"), lambda mod, t: mod(t[None])[0], 9)


@check
def encoder_rejects():
    chars = [chr(0x61 + i) for i in range(20)]
    out = path("x.safetensors")
    nopos = CausalTransformerLM(20, 8, 2, 1, 16, context_length=6, positions="none")
    del nopos.context_length  # a user module without the attribute
    raises(lambda: export(nopos, out, tokenizer=chars), "context_length=")

    class NoMask(CausalTransformerLM):
        def forward(self, tokens):
            return self.head(self.encoder(self.embed(tokens) + self.pos(torch.arange(tokens.shape[1]))))

    raises(lambda: export(_randomize(NoMask(20, 8, 2, 1, 16, context_length=6), 1), out, tokenizer=chars),
           "differs", "causal mask")
    custom = CausalTransformerLM(20, 8, 2, 1, 16, context_length=6, activation=torch.tanh)
    raises(lambda: export(custom, out, tokenizer=chars), "activation", "not supported")
    learned = CausalTransformerLM(20, 8, 2, 1, 16, context_length=6)
    raises(lambda: export(learned, out, tokenizer=chars, context_length=7), "context_length=7", "num_embeddings=6")
    two = nn.Module()
    two.a, two.b = learned, CausalTransformerLM(20, 8, 2, 1, 16, context_length=6)
    raises(lambda: export(two, out, tokenizer=chars), "one nn.TransformerEncoder")
    extra = CausalTransformerLM(20, 8, 2, 1, 16, context_length=6)
    extra.proj = nn.Linear(8, 8)
    raises(lambda: export(extra, out, tokenizer=chars), "exactly one nn.Linear outside the encoder")
    mixed = CausalTransformerLM(20, 8, 2, 2, 16, context_length=6)
    mixed.encoder.layers[1].norm_first = True
    raises(lambda: export(mixed, out, tokenizer=chars), "layers.1 differs")
    raises(lambda: export(learned, out, tokenizer="bytes"), "256")


@check
def hybrid_roundtrip_and_rejects():
    chars = [chr(0x61 + i) for i in range(20)]
    for i, (rnn, layers, E) in enumerate((("gru", 1, 12), ("lstm", 2, 20))):
        m = _randomize(HybridLM(20, E, rnn, layers, 16, 2, 2, context_length=10, hidden_dim=30), 50 + i)
        p = path(f"hybrid-{i}.safetensors")
        meta = export(m, p, tokenizer=chars)
        check_header_layout(p)
        tensors, _ = roundtrip_exact(m, p, {"arch": "hybrid"})
        assert json.loads(meta["config"]) == m.config()
        assert set(tensors) == set(m.state_dict())
        tokens = torch.randint(0, 20, (10,), generator=torch.Generator().manual_seed(i))
        with torch.no_grad():
            want = m.eval()(tokens[None])[0].double().numpy()
        err = np.abs(numpy_step_logits(p, tokens.tolist()) - want).max()
        assert err < 2e-5 * max(1.0, np.abs(want).max()), f"hybrid {rnn}: torch vs numpy {err}"

    class Extra(HybridLM):
        def __init__(self):
            super().__init__(20, 8, "gru", 1, 8, 1, 2, context_length=6)
            self.gate = nn.Parameter(torch.ones(8))

    raises(lambda: export(Extra(), path("x.safetensors"), tokenizer=chars), "would ignore", "gate")

    class Doubled(HybridLM):
        def forward(self, tokens):
            return super().forward(tokens) * 2

    m = _randomize(Doubled(20, 8, "lstm", 1, 8, 1, 2, context_length=6), 3)
    raises(lambda: export(m, path("x.safetensors"), tokenizer=chars), "differs")
    raises(lambda: HybridLM(20, 8, "rnn", 1, 8, 1, 2, context_length=6), "'gru' or 'lstm'")


@check
def writer_aligns_tensors():
    # Odd-sized tensors first in the mapping: the writer still puts every tensor of whole 64-byte
    # blocks at a 64-byte boundary (the kernels' loads then never straddle cache lines).
    tensors = {"odd": np.arange(3, dtype=np.float32), "big": np.arange(64, dtype=np.float32).reshape(4, 16),
               "codes": np.arange(-5, 2, dtype=np.int8), "big2": np.ones((2, 32), np.float32)}
    for meta in ({"k": "v"}, {"k": "v" * 37}):
        p = path("aligned.safetensors")
        st.save(p, tensors, meta)
        check_header_layout(p)
        got, _ = st.load(p)
        assert list(got) == list(tensors) and all(np.array_equal(got[k], v) for k, v in tensors.items())


@check
def reader_validates():
    p = path("ref-lstm-8.safetensors")
    if not os.path.exists(p):
        export(RecurrentLM("lstm", 256, 13, 2, 8), p)
    with open(p, "rb") as f:
        good = f.read()
    (n,) = struct.unpack("<Q", good[:8])
    header = json.loads(good[8:8 + n])

    def rebuild(h, data=None):
        hj = json.dumps(h).encode()
        hj += b" " * (-len(hj) % 8)
        return struct.pack("<Q", len(hj)) + hj + (good[8 + n:] if data is None else data)

    def bad(blob, frag):
        try:
            st.loads(blob)
        except ValueError as e:
            assert frag in str(e), (frag, str(e))
            return
        raise AssertionError(f"accepted a file that should fail with {frag!r}")

    bad(good[:5], "too small")
    bad(struct.pack("<Q", 1 << 40) + good[8:], "out of bounds")
    bad(good[:8] + b"[" + good[9:], "start with '{'")
    bad(good[:8] + b"{\xff" + good[10:], "UTF-8")
    bad(good[:-1], "past end")
    bad(good + b"\0\0", "trailing")
    h = json.loads(json.dumps(header))
    first = [k for k in h if k != "__metadata__"][0]
    h[first]["data_offsets"][1] += 2
    bad(rebuild(h), "bytes for")
    h = json.loads(json.dumps(header))
    k1 = [k for k in h if k != "__metadata__"][1]
    h[k1]["data_offsets"] = [x + 4 for x in h[k1]["data_offsets"]]
    bad(rebuild(h), "not contiguous")
    dup = good[:8] + good[8:8 + n].replace(b'"format"', b'"formax"', 1) + good[8 + n:]
    st.loads(dup)  # a renamed key is fine
    hj = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'
    hj += b" " * (-len(hj) % 8)
    bad(struct.pack("<Q", len(hj)) + hj + b"\0" * 8, "duplicate")
    t, _ = st.loads(good)
    assert len(t) == len(header) - 1


def numpy_transformer_logits(tensors, cfg, arch, tokens):
    """Independent float64 numpy gpt/llama decoder, one token at a time with a KV cache (the
    way the C++ runs), from the file's tensors and config only. Returns logits [T, V]."""
    t = {k: v.astype(np.float64) for k, v in tensors.items()}
    D, L, H = cfg["dim"], cfg["n_layers"], cfg["n_heads"]
    KV, hd, eps = cfg.get("n_kv_heads", H), D // H, cfg.get("norm_eps", 1e-5)
    llama = arch == "llama"
    g = (lambda k: t.get(k, 0.0)) if not llama else None  # absent gpt biases read as 0

    def layer_norm(x, p):
        c = x - x.mean()
        return c / np.sqrt((c * c).mean() + eps) * t[p + ".weight"] + g(p + ".bias")

    def rms_norm(x, p):
        return x / np.sqrt((x * x).mean() + eps) * t[p + ".weight"]

    def rope(v, pos):  # v [heads, hd]: pair (2i, 2i+1) rotated by pos * theta^(-2i/hd)
        ang = pos * cfg.get("rope_theta", 10000.0) ** (-np.arange(0, hd, 2) / hd)
        a, b = v[:, 0::2].copy(), v[:, 1::2].copy()
        out = np.empty_like(v)
        out[:, 0::2] = a * np.cos(ang) - b * np.sin(ang)
        out[:, 1::2] = a * np.sin(ang) + b * np.cos(ang)
        return out

    if cfg.get("gelu", "exact") == "tanh":
        gelu = lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))  # noqa: E731
    else:
        from math import erf
        gelu = np.vectorize(lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2))))
    emb = t["tok_embeddings.weight" if llama else "transformer.wte.weight"]
    head = emb if cfg["tied"] else t["output.weight" if llama else "lm_head.weight"]
    kcache = [[] for _ in range(L)]
    vcache = [[] for _ in range(L)]
    out = []
    for pos, tok in enumerate(tokens):
        x = emb[tok].copy()
        if not llama:
            x = x + t["transformer.wpe.weight"][pos]
        for i in range(L):
            if llama:
                p = f"layers.{i}."
                h = rms_norm(x, p + "attention_norm")
                q = rope((t[p + "attention.wq.weight"] @ h).reshape(H, hd), pos)
                k = rope((t[p + "attention.wk.weight"] @ h).reshape(KV, hd), pos)
                v = (t[p + "attention.wv.weight"] @ h).reshape(KV, hd)
            else:
                p = f"transformer.h.{i}."
                h = layer_norm(x, p + "ln_1")
                qkv = t[p + "attn.c_attn.weight"] @ h + g(p + "attn.c_attn.bias")
                q, k, v = (qkv[j * D:(j + 1) * D].reshape(H, hd) for j in range(3))
            kcache[i].append(k)
            vcache[i].append(v)
            K, Vv = np.array(kcache[i]), np.array(vcache[i])  # [pos+1, KV, hd]
            y = np.empty((H, hd))
            for hh in range(H):
                kv = hh // (H // KV)
                s_ = K[:, kv] @ q[hh] / np.sqrt(hd)
                w = np.exp(s_ - s_.max())
                y[hh] = (w / w.sum()) @ Vv[:, kv]
            if llama:
                x = x + t[p + "attention.wo.weight"] @ y.reshape(D)
                h = rms_norm(x, p + "ffn_norm")
                a = t[p + "feed_forward.w1.weight"] @ h
                x = x + t[p + "feed_forward.w2.weight"] @ (a / (1 + np.exp(-a)) *
                                                          (t[p + "feed_forward.w3.weight"] @ h))
            else:
                x = x + t[p + "attn.c_proj.weight"] @ y.reshape(D) + g(p + "attn.c_proj.bias")
                h = layer_norm(x, p + "ln_2")
                f = gelu(t[p + "mlp.c_fc.weight"] @ h + g(p + "mlp.c_fc.bias"))
                x = x + t[p + "mlp.c_proj.weight"] @ f + g(p + "mlp.c_proj.bias")
        x = rms_norm(x, "norm") if llama else layer_norm(x, "transformer.ln_f")
        out.append(head @ x)
    return np.array(out)


def numpy_encoder_logits(tensors, cfg, tokens):
    """Independent float64 numpy arch "transformer" (nn.TransformerEncoder LM), one token at a
    time with a KV cache, from the file's tensors and config (names included). Logits [T, V]."""
    from math import erf
    t = {k: v.astype(np.float64) for k, v in tensors.items()}
    n, D, H, L = cfg["names"], cfg["d_model"], cfg["nhead"], cfg["num_layers"]
    hd, eps = D // H, cfg["layer_norm_eps"]
    act = ((lambda x: np.maximum(x, 0)) if cfg["activation"] == "relu"
           else np.vectorize(lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2)))))

    def ln(x, p):
        c = x - x.mean()
        return c / np.sqrt((c * c).mean() + eps) * t[p + ".weight"] + t[p + ".bias"]

    pos_table = {"learned": ".weight", "sinusoidal": ".pe"}.get(cfg["positions"])
    kc, vc, out = [[] for _ in range(L)], [[] for _ in range(L)], []
    for pos, tok in enumerate(tokens):
        x = t[n["embedding"] + ".weight"][tok] * (np.sqrt(D) if cfg["embed_scale"] else 1.0)
        if pos_table:
            x = x + t[n["positions"] + pos_table][pos]
        for i in range(L):
            p = f"{n['encoder']}.layers.{i}."

            def sa(h):
                qkv = t[p + "self_attn.in_proj_weight"] @ h + t[p + "self_attn.in_proj_bias"]
                q, k, v = (qkv[j * D:(j + 1) * D].reshape(H, hd) for j in range(3))
                kc[i].append(k)
                vc[i].append(v)
                K, V = np.array(kc[i]), np.array(vc[i])
                y = np.empty((H, hd))
                for hh in range(H):
                    s_ = K[:, hh] @ q[hh] / np.sqrt(hd)
                    w = np.exp(s_ - s_.max())
                    y[hh] = (w / w.sum()) @ V[:, hh]
                return t[p + "self_attn.out_proj.weight"] @ y.reshape(D) + t[p + "self_attn.out_proj.bias"]

            def ff(h):
                f = act(t[p + "linear1.weight"] @ h + t[p + "linear1.bias"])
                return t[p + "linear2.weight"] @ f + t[p + "linear2.bias"]

            if cfg["norm_first"]:
                x = x + sa(ln(x, p + "norm1"))
                x = x + ff(ln(x, p + "norm2"))
            else:
                x = ln(x + sa(x), p + "norm1")
                x = ln(x + ff(x), p + "norm2")
        if cfg["final_norm"]:
            x = ln(x, n["encoder"] + ".norm")
        y = t[n["head"] + ".weight"] @ x
        out.append(y + t[n["head"] + ".bias"] if cfg["head_bias"] else y)
    return np.array(out)


def numpy_hybrid_logits(tensors, cfg, tokens):
    """Independent float64 numpy arch "hybrid": GRU/LSTM layers, then GPT blocks with a KV cache."""
    from math import erf
    t = {k: v.astype(np.float64) for k, v in tensors.items()}
    D, H, L, R, eps = cfg["dim"], cfg["n_heads"], cfg["n_layers"], cfg["rnn_layers"], cfg["norm_eps"]
    hd = D // H
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    if cfg["gelu"] == "tanh":
        gelu = lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))  # noqa: E731
    else:
        gelu = np.vectorize(lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2))))

    def ln(x, p):
        c = x - x.mean()
        return c / np.sqrt((c * c).mean() + eps) * t[p + ".weight"] + t[p + ".bias"]

    h, c = [np.zeros(D) for _ in range(R)], [np.zeros(D) for _ in range(R)]
    kc, vc, out = [[] for _ in range(L)], [[] for _ in range(L)], []
    for tok in tokens:
        x = t["embed.weight"][tok]
        for k in range(R):
            gi = t[f"rnn.weight_ih_l{k}"] @ x + t[f"rnn.bias_ih_l{k}"]
            gh = t[f"rnn.weight_hh_l{k}"] @ h[k] + t[f"rnn.bias_hh_l{k}"]
            if cfg["rnn"] == "gru":
                r, z = sig(gi[:D] + gh[:D]), sig(gi[D:2 * D] + gh[D:2 * D])
                h[k] = (1 - z) * np.tanh(gi[2 * D:] + r * gh[2 * D:]) + z * h[k]
            else:
                g = gi + gh
                c[k] = sig(g[D:2 * D]) * c[k] + sig(g[:D]) * np.tanh(g[2 * D:3 * D])
                h[k] = sig(g[3 * D:]) * np.tanh(c[k])
            x = h[k]
        for i in range(L):
            p = f"blocks.{i}."
            qkv = t[p + "attn.c_attn.weight"] @ ln(x, p + "ln_1") + t[p + "attn.c_attn.bias"]
            q, k_, v = (qkv[j * D:(j + 1) * D].reshape(H, hd) for j in range(3))
            kc[i].append(k_)
            vc[i].append(v)
            K, V = np.array(kc[i]), np.array(vc[i])
            y = np.empty((H, hd))
            for hh in range(H):
                s_ = K[:, hh] @ q[hh] / np.sqrt(hd)
                w = np.exp(s_ - s_.max())
                y[hh] = (w / w.sum()) @ V[:, hh]
            x = x + t[p + "attn.c_proj.weight"] @ y.reshape(D) + t[p + "attn.c_proj.bias"]
            f = gelu(t[p + "mlp.c_fc.weight"] @ ln(x, p + "ln_2") + t[p + "mlp.c_fc.bias"])
            x = x + t[p + "mlp.c_proj.weight"] @ f + t[p + "mlp.c_proj.bias"]
        out.append(t["head.weight"] @ ln(x, "ln_f"))
    return np.array(out)


def numpy_step_logits(path, tokens):
    """Independent float64 numpy implementation that reads only the file (tensors, config,
    names): what the C++ side must compute. Returns logits [T, V]."""
    tensors, meta = st.load(path)
    cfg, arch = json.loads(meta["config"]), meta["arch"]
    if arch in ("gpt", "llama"):
        return numpy_transformer_logits(tensors, cfg, arch, tokens)
    if arch == "transformer":
        return numpy_encoder_logits(tensors, cfg, tokens)
    if arch == "hybrid":
        return numpy_hybrid_logits(tensors, cfg, tokens)
    n, H, L, V = cfg["names"], cfg["hidden_size"], cfg["num_layers"], cfg["vocab_size"]
    t = {k: v.astype(np.float64) for k, v in tensors.items()}
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    act = np.tanh if cfg.get("nonlinearity", "tanh") == "tanh" else (lambda x: np.maximum(x, 0))
    h = [np.zeros(H) for _ in range(L)]
    c = [np.zeros(H) for _ in range(L)]
    out = []
    for tok in tokens:
        x = t[n["embedding"] + ".weight"][tok] if cfg["input"] == "embedding" else np.eye(V)[tok]
        for k in range(L):
            r = n["rnn"]
            gi = t[f"{r}.weight_ih_l{k}"] @ x
            gh = t[f"{r}.weight_hh_l{k}"] @ h[k]
            if cfg["bias"]:
                gi, gh = gi + t[f"{r}.bias_ih_l{k}"], gh + t[f"{r}.bias_hh_l{k}"]
            if arch == "rnn":
                h[k] = act(gi + gh)
            elif arch == "gru":  # gates r, z, n (PyTorch order)
                rg = sig(gi[:H] + gh[:H])
                z = sig(gi[H:2 * H] + gh[H:2 * H])
                nn_ = np.tanh(gi[2 * H:] + rg * gh[2 * H:])
                h[k] = (1 - z) * nn_ + z * h[k]
            else:  # lstm gates i, f, g, o
                g = gi + gh
                i, f, gg, o = sig(g[:H]), sig(g[H:2 * H]), np.tanh(g[2 * H:3 * H]), sig(g[3 * H:])
                c[k] = f * c[k] + i * gg
                h[k] = o * np.tanh(c[k])
            x = h[k]
        y = t[n["head"] + ".weight"] @ x
        if cfg["head_bias"]:
            y = y + t[n["head"] + ".bias"]
        out.append(y)
    return np.array(out)


# --- image and audio models (pixelcnn, pixelrnn, wavenet) --------------------------------

def _media_randomize(module, seed):
    """Random weights big enough that gates neither saturate nor vanish (make_golden's init)."""
    from make_golden import init_media_weights
    init_media_weights(module, torch.Generator().manual_seed(seed))
    return module.eval()


MEDIA = [
    ("pixelcnn", "image", lambda: GatedPixelCNN(5, 6, 3, 8, filters=4, layers=2, input_kernel=5, num_classes=3,
                                                head_hidden=6, skip=3), ["cat", "dog", "owl"]),
    ("pixelcnn", "image", lambda: GatedPixelCNN(4, 5, 1, 16, filters=5, layers=1, head_hidden=7), None),
    ("pixelrnn", "image", lambda: PixelRNN(4, 6, 3, 8, hidden=5, layers=2, kernel=5, num_classes=2,
                                           head_hidden=6), ["a", "b"]),
    ("pixelrnn", "image", lambda: PixelRNN(3, 5, 1, 10, hidden=4, layers=3, head_hidden=5), None),
    ("wavenet", "audio", lambda: WaveNet([1, 2, 4], residual_channels=6, dilation_channels=5, skip_channels=4,
                                         head_hidden=7, num_speakers=2), ["ann", "ben"]),
    ("wavenet", "audio", lambda: WaveNet([1, 2], residual_channels=5, dilation_channels=4, skip_channels=3,
                                         head_hidden=6, quantization=64, input="embedding", input_kernel=1),
     None),
]


@check
def media_export_metadata_and_roundtrip():
    for i, (arch, modality, build, labels) in enumerate(MEDIA):
        torch.manual_seed(i)
        m = _media_randomize(build(), 60 + i)
        for dtype in ("float32", "bfloat16"):
            p = path(f"media-{i}-{dtype}.safetensors")
            meta = export(m, p, labels=labels, dtype=dtype, name=f"m{i}")
            check_header_layout(p)
            tensors, got = st.load(p)
            assert got["arch"] == arch and got["modality"] == modality, (got["arch"], got["modality"])
            assert "tokenizer" not in got and got == meta
            want_cfg = {k: v for k, v in m.config().items() if v is not None}
            if labels is not None:
                want_cfg["class_names" if modality == "image" else "speaker_names"] = labels
            assert json.loads(got["config"]) == want_cfg, got["config"]
            assert list(tensors) == list(m.state_dict()), "names or order differ from the state_dict"
            shapes = media_shapes(arch, json.loads(got["config"]))
            assert {k: list(v.shape) for k, v in tensors.items()} == shapes
            if dtype == "float32":
                roundtrip_exact(m, p)
            else:  # what the file stores is the bf16-rounded state_dict
                r = round_trip_dtype(build(), "float32")
                r.load_state_dict(m.state_dict())
                round_trip_dtype(r, "bfloat16")
                for k, v in tensors.items():
                    assert np.array_equal(v, r.state_dict()[k].numpy()), k
    assert "embedding_dim" not in json.loads(export(MEDIA[4][2](), path("w.safetensors"))["config"])


@check
def media_export_rejects():
    class Extra(GatedPixelCNN):
        def __init__(self):
            super().__init__(4, 5, 1, 8, filters=3, layers=1, head_hidden=4)
            self.gain = nn.Parameter(torch.ones(3))

    raises(lambda: export(Extra(), path("x.safetensors")), "would not read", "gain")

    m = PixelRNN(4, 5, 1, 8, hidden=3, layers=2, head_hidden=4)
    m.layers[1].ss.weight = nn.Parameter(torch.zeros(12, 3, 5))
    raises(lambda: export(m, path("x.safetensors")), "layers.1.ss.weight", "[12, 3, 5]", "[12, 3, 3]")

    m = WaveNet([1, 2], 4, 3, 2, 5, num_speakers=2)
    m.layers[1].cond = None  # missing tensor
    raises(lambda: export(m, path("x.safetensors"), verify=False), "lacks", "layers.1.cond.weight")

    m = WaveNet([1, 2], 4, 3, 2, 5)
    m.register_buffer("window", torch.ones(4))  # a persistent buffer is a tensor too
    raises(lambda: export(m, path("x.safetensors")), "would not read", "window")

    m = GatedPixelCNN(4, 5, 3, 8, filters=3, layers=1, head_hidden=4, num_classes=2)
    raises(lambda: export(m, path("x.safetensors"), labels=["a"]), "labels", "num_classes=2")
    raises(lambda: export(m, path("x.safetensors"), labels=["a", 2]), "strings")
    export(m, path("x.safetensors"), labels=("a", "b"))
    raises(lambda: export(PixelRNN(4, 5, hidden=3, layers=1, head_hidden=4), path("x.safetensors"),
                          labels=["a"]), "num_classes=0")
    raises(lambda: export(WaveNet([1], 4, 3, 2, 5, num_speakers=3), path("x.safetensors"), labels=["a"]),
           "speaker_names", "num_speakers=3")
    raises(lambda: export(RecurrentLM("gru", 256, 5, 1, 4), path("x.safetensors"), labels=["a"]), "labels")

    with torch.no_grad():
        m.head.out1.bias[0] = float("nan")
    raises(lambda: export(m, path("x.safetensors"), verify=False), "head.out1.bias", "NaN")

    class Doubled(WaveNet):
        def forward(self, codes, speakers=None):
            return super().forward(codes, speakers) * 2

    m = _media_randomize(Doubled([1, 2], 4, 3, 2, 5), 1)
    raises(lambda: export(m, path("x.safetensors")), "differs")
    export(m, path("x.safetensors"), verify=False)
    raises(lambda: export(WaveNet([1], 4, 3, 2, 5), path("x.safetensors"), dtype="int4"), "dtype")


@check
def int8_export_stores_codes_and_row_scales():
    from export import quantize_rows
    torch.manual_seed(3)
    m = Llama(20, 16, 1, 2, context_length=8, hidden_dim=24)
    export(m, path("q.safetensors"), tokenizer=list("abcdefghijklmnopqrst"), dtype="int8")
    tensors, _ = st.load(path("q.safetensors"))
    sd = m.state_dict()
    for k, v in sd.items():
        w = v.float().numpy()
        if w.ndim >= 2:
            q, s = tensors[k], tensors[k + ".scale"]
            assert q.dtype == np.int8 and s.dtype == np.float32 and s.shape == (w.shape[0],), k
            assert np.abs(q).max() == 127  # the largest weight of some row maps to +-127
            rows = w.reshape(w.shape[0], -1)
            deq = (q.reshape(w.shape[0], -1).astype(np.float32) * s[:, None])
            assert np.all(np.abs(deq - rows) <= s[:, None] / 2 * (1 + 1e-6)), k  # within half a step
        else:
            assert tensors[k].dtype == np.float32 and k + ".scale" not in tensors, k
    # zero rows get scale 1; ties round to even like argen's lrint
    q, s = quantize_rows(np.array([[0.0, 0.0], [127.0, 2.5]], dtype=np.float32))
    assert s.tolist() == [1.0, 1.0] and q.tolist() == [[0, 0], [127, 2]]
    # round_trip_dtype("int8") gives the weights argen sees: the dequantized codes
    rt = round_trip_dtype(Llama(20, 16, 1, 2, context_length=8, hidden_dim=24), "int8")
    w = rt.state_dict()["layers.0.attention.wq.weight"].numpy()
    q, s = quantize_rows(w)
    assert np.array_equal(q.astype(np.float32) * s[:, None], w)


@check
def media_cli():
    import export as export_mod
    kw = dict(height=4, width=5, channels=1, levels=8, hidden=3, layers=1, head_hidden=4, num_classes=2)
    m = PixelRNN(**kw)
    torch.save({"state_dict": m.state_dict()}, path("prnn.pt"))
    for spec in (os.path.join(os.path.dirname(os.path.abspath(__file__)), "image_models.py") + ":PixelRNN",
                 "image_models:PixelRNN"):
        export_mod.main([path("prnn.pt"), path("prnn.safetensors"), "--module", spec, "--kwargs", json.dumps(kw),
                         "--labels", '["a", "b"]', "--dtype", "bf16"])
        meta = st.load(path("prnn.safetensors"))[1]
        assert meta["arch"] == "pixelrnn" and json.loads(meta["config"])["class_names"] == ["a", "b"]


def _image_logits(m, img, label):
    with torch.no_grad():
        return raster_logits(m(img, label))[0]


@check
def image_models_are_causal():
    g = torch.Generator().manual_seed(7)
    for build in (lambda: GatedPixelCNN(5, 6, 3, 8, filters=4, layers=3, head_hidden=6),
                  lambda: GatedPixelCNN(4, 5, 3, 6, filters=4, layers=2, input_kernel=3, num_classes=2,
                                        head_hidden=6, skip=3),
                  lambda: GatedPixelCNN(4, 5, 1, 6, filters=3, layers=2, input_kernel=5, head_hidden=4),
                  lambda: PixelRNN(5, 6, 3, 8, hidden=4, layers=3, head_hidden=6, num_classes=2),
                  lambda: PixelRNN(4, 5, 1, 6, hidden=4, layers=2, kernel=5, head_hidden=4)):
        m = _media_randomize(build(), 3)
        C, H, W, L = m.channels, m.height, m.width, m.levels
        img = torch.randint(0, L, (1, C, H, W), generator=g)
        label = torch.tensor([1]) if m.num_classes else None
        base = _image_logits(m, img, label)
        N = H * W * C
        for q in range(N):
            i, j, c = q // (W * C), q // C % W, q % C
            other = img.clone()
            other[0, c, i, j] = (other[0, c, i, j] + L // 2) % L
            got = _image_logits(m, other, label)
            d = (got - base).abs().max(1).values
            assert d[:q + 1].max() <= 1e-6, f"{type(m).__name__}: position {q} changes logits at <= {q}"
            if q + 1 < N:  # no blind column: every position reaches something later
                assert d[q + 1:].max() > 1e-4, f"{type(m).__name__}: position {q} changes nothing later"
            if j == W - 1 and i < H - 1:  # the last column of a row reaches the next row
                assert d[(q // C + 1) * C:].max() > 1e-4, f"{type(m).__name__}: column {j} of row {i} is blind"
            if isinstance(m, GatedPixelCNN) and m.num_layers == 3:  # enough layers: the last position sees all
                if q < N - 1:
                    assert d[N - 1] > 1e-6, f"last position does not depend on position {q}"


@check
def wavenet_is_causal():
    g = torch.Generator().manual_seed(8)
    for m in (WaveNet([1, 2, 4, 1], 5, 4, 8, 6, input_kernel=3, num_speakers=2),
              WaveNet([1, 2, 4], 5, 4, 8, 6, input="embedding", embedding_dim=3, input_kernel=1)):
        _media_randomize(m, 4)
        T = 20
        codes = torch.randint(0, 256, (1, T), generator=g)
        spk = torch.tensor([1]) if m.num_speakers else None
        with torch.no_grad():
            base = m(codes, spk)[0]
            for q in range(T):
                other = codes.clone()
                other[0, q] = (other[0, q] + 128) % 256
                d = (m(other, spk)[0] - base).abs().max(1).values
                assert q == 0 or d[:q].max() <= 1e-6, f"code {q} changes logits before it"
                rf = m.receptive_field()
                # (the head's relu may zero one step's skip sum, so look at the whole window)
                assert d[q:q + rf].max() > 1e-4, f"code {q} changes no logits at or after it"
                assert q + rf >= T or d[q + rf:].max() <= 1e-6, f"code {q} reaches beyond the receptive field"


def _conv2d(x, w, b, top=0, left=0, right=0):
    """x [Cin, H, W] zero-padded `top` rows above, `left`/`right` columns -> [Cout, H', W']."""
    xp = np.pad(x, ((0, 0), (top, 0), (left, right)))
    kh, kw = w.shape[2:]
    Ho, Wo = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    out = np.zeros((w.shape[0], Ho, Wo))
    for di in range(kh):
        for dj in range(kw):
            out += np.einsum("oc,chw->ohw", w[:, :, di, dj], xp[:, di:di + Ho, dj:dj + Wo])
    return out + (0 if b is None else b[:, None, None])


def numpy_image_logits(t, cfg, arch, tokens, label):
    """Independent float64 numpy forward of a pixelcnn / pixelrnn file -> [H*W*C, levels]."""
    H, W, C, L = cfg["height"], cfg["width"], cfg["channels"], cfg["levels"]
    x = np.asarray(tokens, dtype=np.float64).reshape(H, W, C).transpose(2, 0, 1) * (2.0 / (L - 1)) - 1.0
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    if arch == "pixelcnn":
        k, n = cfg["input_kernel"] // 2, cfg["filters"]
        v = _conv2d(x, t["v_in.weight"], t["v_in.bias"], top=k, left=k, right=k)[:, :H]
        h = _conv2d(x, t["h_in.weight"], t["h_in.bias"], left=k)[:, :, :W]
        skip = 0
        for i in range(cfg["layers"]):
            p = f"layers.{i}."
            vv = _conv2d(v, t[p + "v.weight"], t[p + "v.bias"], top=1, left=1, right=1)
            hh = (_conv2d(h, t[p + "h.weight"], t[p + "h.bias"], left=1)
                  + _conv2d(vv, t[p + "v2h.weight"], t[p + "v2h.bias"]))
            if cfg["num_classes"]:
                vv = vv + t[p + "cond_v.weight"][label][:, None, None]
                hh = hh + t[p + "cond_h.weight"][label][:, None, None]
            v = np.tanh(vv[:n]) * sig(vv[n:])
            gg = np.tanh(hh[:n]) * sig(hh[n:])
            if cfg["skip"]:
                skip = skip + _conv2d(gg, t[p + "skip.weight"], t[p + "skip.bias"])
            h = h + _conv2d(gg, t[p + "res.weight"], t[p + "res.bias"])
        feat = skip if cfg["skip"] else h
    else:
        k, Hd = cfg["kernel"] // 2, cfg["hidden"]
        feat = x
        for l in range(cfg["layers"]):
            p = f"layers.{l}."
            gi = _conv2d(feat, t[p + "is_.weight"], t[p + "is_.bias"], left=k)[:, :, :W]
            if l == 0:  # the image's previous row
                gi = gi + _conv2d(feat, t[p + "is_up.weight"], None, top=1, left=k, right=k)[:, :H]
            if cfg["num_classes"]:
                gi = gi + t[p + "cond.weight"][label][:, None, None]
            ss = t[p + "ss.weight"][:, :, None, :]
            hprev, c, rows = np.zeros((Hd, W)), np.zeros((Hd, W)), []
            for i in range(H):
                gt = gi[:, i] + _conv2d(hprev[:, None, :], ss, None, left=k, right=k)[:, 0]
                ig, fg, g_, og = sig(gt[:Hd]), sig(gt[Hd:2 * Hd]), np.tanh(gt[2 * Hd:3 * Hd]), sig(gt[3 * Hd:])
                c = fg * c + ig * g_
                hprev = og * np.tanh(c)
                rows.append(hprev)
            out = np.stack(rows, 1)
            feat = out if l == 0 else feat + out
    out = np.zeros((H, W, C, L))
    o1w, o2w = t["head.out1.weight"][:, :, 0, 0], t["head.out2.weight"][:, :, 0, 0]
    for c in range(C):
        f = feat.copy()
        for c2 in range(c):  # the current pixel's earlier channels
            f = f + t["head.channel_in"][c, :, c2][:, None, None] * x[c2][None]
        hid = np.maximum(np.einsum("of,fhw->ohw", o1w, np.maximum(f, 0)) + t["head.out1.bias"][:, None, None], 0)
        lg = np.einsum("oh,hij->oij", o2w[c * L:(c + 1) * L], hid) + t["head.out2.bias"][c * L:(c + 1) * L, None, None]
        out[:, :, c, :] = lg.transpose(1, 2, 0)
    return out.reshape(H * W * C, L)


def numpy_wavenet_logits(t, cfg, codes, speaker):
    """Independent float64 numpy WaveNet, one sample at a time with per-layer histories (the
    queues argen keeps): logits[t] after consuming codes[0..t] -> [T, quantization]."""
    Q, K, dil = cfg["quantization"], cfg["input_kernel"], cfg["dilations"]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    inputs, hist, out = [], [[] for _ in dil], []
    for code in codes:
        inputs.append(t["embed.weight"][code] if cfg["input"] == "embedding" else np.eye(Q)[code])
        wc = t["causal.weight"]
        x = t["causal.bias"].copy()
        for k in range(K):  # tap k reads inputs[-K + k]
            if len(inputs) - K + k >= 0:
                x += wc[:, :, k] @ inputs[len(inputs) - K + k]
        skip = 0
        for l, d in enumerate(dil):
            p = f"layers.{l}."
            hist[l].append(x)
            past = hist[l][-1 - d] if len(hist[l]) > d else np.zeros_like(x)
            w = t[p + "dilated.weight"]
            z = w[:, :, 0] @ past + w[:, :, 1] @ x + t[p + "dilated.bias"]
            if cfg["num_speakers"]:
                z = z + t[p + "cond.weight"][speaker]
            D = z.shape[0] // 2
            g = np.tanh(z[:D]) * sig(z[D:])
            skip = skip + t[p + "skip.weight"][:, :, 0] @ g + t[p + "skip.bias"]
            x = x + t[p + "res.weight"][:, :, 0] @ g + t[p + "res.bias"]
        hid = np.maximum(t["out1.weight"][:, :, 0] @ np.maximum(skip, 0) + t["out1.bias"], 0)
        out.append(t["out2.weight"][:, :, 0] @ hid + t["out2.bias"])
    return np.array(out)


@check
def media_numpy_reference_matches_torch():
    for i, (arch, _, build, labels) in enumerate(MEDIA):
        torch.manual_seed(i)
        m = _media_randomize(build(), 70 + i)
        p = path(f"media-np-{i}.safetensors")
        export(m, p, labels=labels)
        tensors, meta = st.load(p)
        t = {k: v.astype(np.float64) for k, v in tensors.items()}
        cfg = json.loads(meta["config"])
        g = torch.Generator().manual_seed(i)
        n = cfg.get("num_speakers", cfg.get("num_classes"))
        cond = torch.tensor([n - 1]) if n else None
        with torch.no_grad():
            if arch == "wavenet":
                codes = torch.randint(0, cfg["quantization"], (1, 15), generator=g)
                want = m(codes, cond)[0].double().numpy()
                got = numpy_wavenet_logits(t, cfg, codes[0].tolist(), None if cond is None else n - 1)
            else:
                img = torch.randint(0, m.levels, (1, m.channels, m.height, m.width), generator=g)
                want = raster_logits(m(img, cond))[0].double().numpy()
                got = numpy_image_logits(t, cfg, arch, raster_levels(img)[0].tolist(),
                                         None if cond is None else n - 1)
        err = np.abs(got - want).max()
        assert err < 2e-5 * max(1.0, np.abs(want).max()), f"{arch} case {i}: torch vs numpy {err}"


@check
def golden_files_match_independent_numpy_reference():
    gdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden")
    if not os.path.exists(os.path.join(gdir, "index.json")):
        raise AssertionError("tests/golden/index.json missing: run models/make_golden.py")
    with open(os.path.join(gdir, "index.json")) as f:
        cases = json.load(f)["cases"]
    assert len(cases) >= 10
    for name in cases:
        with open(os.path.join(gdir, name + ".json"), encoding="utf-8") as f:
            g = json.load(f)
        want = np.array(g["logits"], dtype=np.float64)
        assert np.array_equal(want.astype(np.float32).astype(np.float64), want), "not float32 values"
        if g["arch"] in ("pixelcnn", "pixelrnn", "wavenet"):
            key = "speaker" if g["arch"] == "wavenet" else "label"
            assert set(g) == {"model", "arch", key, "tokens", "logits"} and g["model"] == name + ".safetensors"
            tensors, meta = st.load(os.path.join(gdir, g["model"]))
            cfg = json.loads(meta["config"])
            assert meta["arch"] == g["arch"] and "tokenizer" not in meta
            t = {k: v.astype(np.float64) for k, v in tensors.items()}
            if g["arch"] == "wavenet":
                assert meta["modality"] == "audio" and want.shape == (len(g["tokens"]), cfg["quantization"])
                assert (g[key] is None) == (cfg["num_speakers"] == 0)
                got = numpy_wavenet_logits(t, cfg, g["tokens"], g[key])
            else:
                assert meta["modality"] == "image"
                assert want.shape == (cfg["height"] * cfg["width"] * cfg["channels"], cfg["levels"])
                assert len(g["tokens"]) == len(want) and (g[key] is None) == (cfg["num_classes"] == 0)
                got = numpy_image_logits(t, cfg, g["arch"], g["tokens"], g[key])
            err = np.abs(got - want).max()
            assert err < 2e-5 * max(1.0, np.abs(want).max()), f"{name}: max |diff| {err}"
            continue
        assert set(g) == {"model", "arch", "tokens", "logits"} and g["model"] == name + ".safetensors"
        assert want.shape == (len(g["tokens"]), json.loads(
            st.load(os.path.join(gdir, g["model"]))[1]["config"])["vocab_size"])
        assert np.array_equal(want.astype(np.float32).astype(np.float64), want), "not float32 values"
        got = numpy_step_logits(os.path.join(gdir, g["model"]), g["tokens"])
        err = np.abs(got - want).max()
        assert err < 2e-5 * max(1.0, np.abs(want).max()), f"{name}: max |diff| {err}"


def main():
    run()


if __name__ == "__main__":
    main()
