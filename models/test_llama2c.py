#!/usr/bin/python3
"""Checks of models/llama2c_convert.py and of the llama2.c tokenizer golden file. Plain script:

    /usr/bin/python3 models/test_llama2c.py                  # prints each check, non-zero exit on failure
    /usr/bin/python3 models/test_llama2c.py --write-golden   # rewrite tests/golden/bpe_llama2c.json

- The checkpoint writer gives the bytes of llama2.c's export.py `legacy_export` (rewritten below
  from its source, independently of the converter), tied and untied.
- A random-weight models/transformers.py `Llama` written by that independent exporter, then
  converted, gives exactly the module's logits (the converted tensors loaded into a fresh module).
- tokenizer.bin round trip, the JSON carrying of a piece that is not UTF-8, and the converter's
  errors for inconsistent files.
- tests/golden/bpe_llama2c.json: the token ids that `reference_encode` (run.c's encode(),
  rewritten below in Python from the algorithm) gives for a set of prompts, with the tokenizer
  JSON they were made with. tests/native/test_bpe.cc checks the C++ tokenizer against them.
"""

import atexit
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import torch

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama2c_convert as lc  # noqa: E402
from checks import check, run  # noqa: E402
import safetensors_io as st  # noqa: E402
from transformers import Llama  # noqa: E402  (models/transformers.py)

GOLDEN = os.path.join(HERE, "..", "tests", "golden", "bpe_llama2c.json")
TMP = []  # made on first use: models/make_golden.py imports reference_encode from here


def path(name):
    if not TMP:
        TMP.append(tempfile.mkdtemp(prefix="argen-test-llama2c-"))
        atexit.register(shutil.rmtree, TMP[0], ignore_errors=True)
    return os.path.join(TMP[0], name)


def raises(fn, *fragments):
    try:
        fn()
    except ValueError as e:
        for frag in fragments:
            assert frag in str(e), f"error {str(e)!r} lacks {frag!r}"
        return str(e)
    raise AssertionError("expected ValueError")


# ----------------------------------------------------------------------------- references

def legacy_export(model, filepath):
    """llama2.c export.py's legacy_export (version 0) for a models/transformers.py Llama, rewritten
    from llama2.c's source: header, embedding, then each weight kind for all layers, final norm,
    the RoPE table (precompute_freqs_cis in float32), the classifier if not shared."""
    p = model
    shared = torch.equal(model.tok_embeddings.weight, model.output.weight)
    vocab = p.vocab_size if shared else -p.vocab_size
    with open(filepath, "wb") as f:
        f.write(struct.pack("iiiiiii", p.dim, model.layers[0].feed_forward.w1.weight.shape[0], p.n_layers,
                            p.n_heads, p.n_kv_heads, vocab, p.context_length))

        def serialize_fp32(t):
            d = t.detach().cpu().view(-1).to(torch.float32).numpy()
            f.write(struct.pack(f"{len(d)}f", *d))

        serialize_fp32(model.tok_embeddings.weight)
        for get in (lambda l: l.attention_norm.weight, lambda l: l.attention.wq.weight,
                    lambda l: l.attention.wk.weight, lambda l: l.attention.wv.weight,
                    lambda l: l.attention.wo.weight, lambda l: l.ffn_norm.weight,
                    lambda l: l.feed_forward.w1.weight, lambda l: l.feed_forward.w2.weight,
                    lambda l: l.feed_forward.w3.weight):
            for layer in model.layers:
                serialize_fp32(get(layer))
        serialize_fp32(model.norm.weight)
        hd = p.dim // p.n_heads
        freqs = 1.0 / (10000.0 ** (torch.arange(0, hd, 2)[: (hd // 2)].float() / hd))
        freqs = torch.outer(torch.arange(p.context_length), freqs).float()
        serialize_fp32(torch.cos(freqs))
        serialize_fp32(torch.sin(freqs))
        if not shared:
            serialize_fp32(model.output.weight)


def reference_encode(pieces, scores, text):
    """run.c's encode(tokenizer, text, bos=0, eos=0) on bytes `text`, pieces as bytes:
    - a non-empty text starts with the dummy prefix: the id of the piece " ";
    - the text is cut into UTF-8 characters: a byte plus the continuation bytes (10xxxxxx) that
      follow it, at most 4 bytes in all; a character that is a piece is its id, otherwise each of
      its bytes is the byte token byte + 3;
    - then, while some adjacent pair's concatenation is a piece, the pair whose piece has the
      highest score (the leftmost such pair on a tie; scores must beat -1e10) is replaced by it.
    A piece that appears twice is looked up as its lowest id."""
    index = {}
    for i, piece in enumerate(pieces):
        index.setdefault(piece, i)
    if not text:
        return []
    ids = [index.get(b" ", ord(" ") + 3)]
    i = 0
    while i < len(text):
        j = i + 1
        while j < len(text) and j - i < 4 and text[j] & 0xC0 == 0x80:
            j += 1
        char = text[i:j]
        ids += [index[char]] if char in index else [b + 3 for b in char]
        i = j
    while True:
        best = None  # (score, position, id)
        for k in range(len(ids) - 1):
            merged = index.get(pieces[ids[k]] + pieces[ids[k + 1]])
            if merged is not None and scores[merged] > (-1e10 if best is None else best[0]):
                best = (scores[merged], k, merged)
        if best is None:
            return ids
        _, k, merged = best
        ids[k:k + 2] = [merged]


def decode_bytes(pieces, ids):
    """run.c's decode() without the bos rule: "<0xXX>" pieces are raw bytes."""
    out = b""
    for i in ids:
        p = pieces[i]
        out += bytes([int(p[3:5], 16)]) if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">") else p
    return out


def random_llama(seed, **kw):
    torch.manual_seed(seed)
    m = Llama(**kw)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() == 1:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
    return m.eval()


# ----------------------------------------------------------------------------- checks

CONFIGS = [  # (seed, kwargs): untied with grouped-query attention; tied; one kv head
    (1, dict(vocab_size=None, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=56,
             context_length=24, tied=False)),
    (2, dict(vocab_size=None, dim=24, n_layers=1, n_heads=2, hidden_dim=40, context_length=16, tied=True)),
    (3, dict(vocab_size=None, dim=16, n_layers=3, n_heads=4, n_kv_heads=1, hidden_dim=20,
             context_length=10, tied=False)),
]


def _model(i):
    seed, kw = CONFIGS[i]
    return random_llama(seed, **dict(kw, vocab_size=len(lc.sample_vocab()[0])))


@check
def writer_gives_llama2c_export_bytes():
    for i in range(len(CONFIGS)):
        m = _model(i)
        legacy_export(m, path(f"ref{i}.bin"))
        lc.write_llama2c_bin(path(f"ours{i}.bin"), m.config(), m.state_dict())
        with open(path(f"ref{i}.bin"), "rb") as f:
            ref = f.read()
        with open(path(f"ours{i}.bin"), "rb") as f:
            ours = f.read()
        assert len(ref) == len(ours), (len(ref), len(ours))
        # the same bytes, except the RoPE table (float64 angles here, float32 in llama2.c)
        c = m.config()
        hd = c["dim"] // c["n_heads"]
        table = 4 * c["context_length"] * hd  # cos and sin, hd/2 each
        end = len(ref) - (0 if c["tied"] else 4 * c["vocab_size"] * c["dim"])
        assert ref[:end - table] == ours[:end - table] and ref[end:] == ours[end:]
        a = np.frombuffer(ref[end - table:end], "<f4")
        b = np.frombuffer(ours[end - table:end], "<f4")
        assert np.abs(a - b).max() < 1e-5


@check
def converted_checkpoints_give_the_module_logits():
    pieces, scores = lc.sample_vocab()
    lc.write_tokenizer_bin(path("tokenizer.bin"), pieces, scores)
    for i in range(len(CONFIGS)):
        m = _model(i)
        legacy_export(m, path(f"m{i}.bin"))
        meta = lc.convert(path(f"m{i}.bin"), path("tokenizer.bin"), path(f"m{i}.safetensors"))
        tensors, meta2 = st.load(path(f"m{i}.safetensors"))
        assert meta2 == meta and meta["arch"] == "llama" and meta["format"] == "argen/1"
        cfg = json.loads(meta["config"])
        assert cfg == dict(m.config(), norm_eps=1e-5, rope_theta=10000.0), cfg
        assert ("output.weight" in tensors) == (not cfg["tied"])
        assert meta["name"] == f"m{i}"
        ref = Llama(**cfg)
        sd = {k: torch.from_numpy(v) for k, v in tensors.items()}
        if cfg["tied"]:
            sd["output.weight"] = sd["tok_embeddings.weight"]
        ref.load_state_dict(sd)
        tokens = torch.tensor([[1] + reference_encode(pieces, scores, b"Once upon a time, Lily")])
        tokens = tokens[:, :cfg["context_length"]]
        with torch.no_grad():
            want, got = m(tokens), ref.eval()(tokens)
        assert torch.equal(want, got), f"config {i}: max |diff| {(want - got).abs().max().item()}"
        assert want.std().item() > 0.3  # the weights matter
        tok = json.loads(meta["tokenizer"])
        assert tok == lc.tokenizer_json(pieces, scores), "tokenizer JSON"


@check
def tokenizer_json_carries_every_piece():
    pieces, scores = lc.sample_vocab()
    lc.write_tokenizer_bin(path("tokenizer.bin"), pieces, scores)
    p2, s2 = lc.read_tokenizer_bin(path("tokenizer.bin"), len(pieces))
    assert p2 == pieces and s2 == [float(np.float32(s)) for s in scores]
    tok = json.loads(json.dumps(lc.tokenizer_json(p2, s2), ensure_ascii=False))
    back = [bytes(v) if isinstance(v, list) else v.encode("utf-8") for v in tok["vocab"]]
    assert back == pieces
    bad = [v for v in tok["vocab"] if isinstance(v, list)]
    assert bad == [[0xE2, 0x82]], bad  # the one piece that is not UTF-8
    assert tok["vocab"][1] == "\n<s>\n" and tok["vocab"][3 + 0x41] == "<0x41>" and " " in tok["vocab"]
    assert (tok["bos"], tok["eos"], tok["type"], tok["style"]) == (1, 2, "bpe", "llama2.c")


@check
def cli_converts_and_sets_eos():
    m = _model(1)
    lc.write_llama2c_bin(path("cli.bin"), m.config(), m.state_dict())
    pieces, scores = lc.sample_vocab()
    lc.write_tokenizer_bin(path("tokenizer.bin"), pieces, scores)
    r = subprocess.run([sys.executable, os.path.join(HERE, "llama2c_convert.py"), path("cli.bin"),
                        path("tokenizer.bin"), path("cli.safetensors"), "--eos", "1", "--dtype", "float16",
                        "--name", "tiny"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "arch=llama" in r.stdout
    tensors, meta = st.load(path("cli.safetensors"))
    assert json.loads(meta["tokenizer"])["eos"] == 1 and meta["name"] == "tiny"
    assert st.read_header(path("cli.safetensors"))["tok_embeddings.weight"]["dtype"] == "F16"
    r = subprocess.run([sys.executable, os.path.join(HERE, "llama2c_convert.py"), path("cli.bin"),
                        path("missing.bin"), path("x.safetensors")], capture_output=True, text=True)
    assert r.returncode != 0 and "llama2c_convert: error:" in r.stderr and "Traceback" not in r.stderr


@check
def converter_rejects_inconsistent_files():
    m = _model(0)
    c = m.config()
    lc.write_llama2c_bin(path("good.bin"), c, m.state_dict())
    with open(path("good.bin"), "rb") as f:
        good = f.read()
    pieces, scores = lc.sample_vocab()
    lc.write_tokenizer_bin(path("tokenizer.bin"), pieces, scores)

    def bad(blob, *frags, tokenizer=path("tokenizer.bin")):
        with open(path("bad.bin"), "wb") as f:
            f.write(blob)
        return raises(lambda: lc.convert(path("bad.bin"), tokenizer, path("bad.safetensors")), *frags)

    bad(good[:20], "too short")
    bad(good[:-4], "bytes, but the header")
    bad(good + b"\0\0\0\0", "bytes, but the header")
    # the untied file read as tied: the size fits the other reading, and the error says so
    flipped = struct.pack("<i", -struct.unpack_from("<i", good, 20)[0])
    bad(good[:20] + flipped + good[24:], "separate classifier")
    bad(struct.pack("<Ii", lc.V1_MAGIC, 1) + good[8:], "version-1", "version 0")
    bad(struct.pack("<7i", 32, 56, 2, 5, 5, 10, 8) + good[28:], "heads of even size")
    bad(struct.pack("<7i", 32, 56, 2, 4, 3, 10, 8) + good[28:], "n_kv_heads 3")
    bad(struct.pack("<7i", 0, 56, 2, 4, 2, 10, 8) + good[28:], "not a llama2.c checkpoint")
    nan = bytearray(good)
    nan[28:32] = struct.pack("<f", float("nan"))
    bad(bytes(nan), "tok_embeddings.weight", "NaN")
    with open(path("tokenizer.bin"), "rb") as f:
        tb = f.read()
    for blob, frag in ((tb[:-1], "has length 2"), (tb[:-3], "ends after 419 tokens"), (tb + b"\0" * 8, "bytes left after"), (tb[:2], "too short")):
        with open(path("badtok.bin"), "wb") as f:
            f.write(blob)
        bad(good, frag, tokenizer=path("badtok.bin"))
    raises(lambda: lc.convert(path("good.bin"), path("tokenizer.bin"), path("x.safetensors"), eos=10**6),
           "eos")
    # a RoPE table made with another theta: a warning (run.c ignores the table)
    blob = bytearray(good)
    hd = c["dim"] // c["n_heads"]
    table = 4 * c["context_length"] * hd
    end = len(good) - 4 * c["vocab_size"] * c["dim"]
    cos, sin = lc.rope_table(hd, c["context_length"], theta=500.0)
    blob[end - table:end] = cos.astype("<f4").tobytes() + sin.astype("<f4").tobytes()
    with open(path("theta.bin"), "wb") as f:
        f.write(bytes(blob))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        lc.read_llama2c_bin(path("theta.bin"))
    assert any("RoPE table" in str(x.message) for x in w), [str(x.message) for x in w]


# Prompts of the golden file: text (UTF-8) or hex (any bytes, for run.c's handling of invalid UTF-8).
GOLDEN_CASES = [
    {"text": "Once upon a time"},
    {"text": "Once upon a time, there was a little girl named Lily."},
    {"text": "  hello world  "},
    {"text": " leading space"},
    {"text": "trailing space "},
    {"text": "a"},
    {"text": " "},
    {"text": ""},
    {"text": "café"},             # é is not a piece: two byte tokens
    {"text": "Tom said 🙂!"},      # emoji: four byte tokens
    {"text": "schön größer"},     # ö is a piece, ß is not
    {"text": "line one\nline two\ttab"},
    {"text": "The bird sang a song. Lily and Tom were very happy. The end."},
    {"text": "the the the the the theee"},  # repeated pairs: merge order
    {"text": "here there were ere rere"},   # "er" and "re" tie: the leftmost pair merges first
    {"text": "$100 = 2 * 50; {x} [y] (z) ~^_|`"},
    {"text": ("Lily saw a cat and a dog in the park. \"Hello!\" said the cat. The dog "
                        "ran to the tree, and the bird sang. Once upon a time there was a happy "
                        "girl, Lily, and a little boy, Tom. They played with a big red ball.")},
    {"hex": "e282"},              # a truncated '€': its bytes are the non-UTF-8 piece
    {"hex": "e28278"},            # ... followed by 'x'
    {"hex": "e282ac"},            # the whole '€': not a piece, three byte tokens
    {"hex": "80806162"},          # stray continuation bytes, then "ab"
    {"hex": "f09f998282828261"},  # a 4-byte character followed by more continuation bytes
    {"hex": "61ff62c3"},          # bytes that never start UTF-8, a lead byte at the end
]


def golden_data():
    pieces, scores = lc.sample_vocab()
    lc.write_tokenizer_bin(path("golden_tokenizer.bin"), pieces, scores)  # through the file format
    pieces, scores = lc.read_tokenizer_bin(path("golden_tokenizer.bin"), len(pieces))
    cases = []
    for c in GOLDEN_CASES:
        text = c["text"].encode("utf-8") if "text" in c else bytes.fromhex(c["hex"])
        ids = reference_encode(pieces, scores, text)
        assert decode_bytes(pieces, ids) == (b" " + text if text else b"")
        cases.append(dict(c, ids=ids))
    return {"about": "token ids of llama2.c's run.c encode() without bos (models/test_llama2c.py "
                     "reference_encode) for each text (UTF-8) or hex (bytes); the tokenizer is "
                     "llama2c_convert.sample_vocab() through tokenizer.bin",
            "tokenizer": lc.tokenizer_json(pieces, scores), "cases": cases}


def golden_text(data):
    """The golden file's text: one case per line, the vocabulary 8 pieces per line."""
    tok = data["tokenizer"]
    d = lambda x: json.dumps(x, ensure_ascii=False)  # noqa: E731
    vocab = ",\n".join("    " + ", ".join(d(v) for v in tok["vocab"][i:i + 8]) for i in range(0, len(tok["vocab"]), 8))
    scores = ",\n".join("    " + ", ".join(repr(s) for s in tok["scores"][i:i + 16])
                        for i in range(0, len(tok["scores"]), 16))
    lines = ["{", f'  "about": {d(data["about"])},', '  "tokenizer": {',
             f'   "type": {d(tok["type"])}, "style": {d(tok["style"])}, "bos": {tok["bos"]}, "eos": {tok["eos"]},',
             '   "vocab": [', vocab, "   ],", '   "scores": [', scores, "   ]", "  },", '  "cases": [',
             ",\n".join("    " + d(c) for c in data["cases"]), "  ]", "}", ""]
    return "\n".join(lines)


@check
def reference_encoder_on_hand_checked_cases():
    pieces, scores = lc.sample_vocab()
    index = {p: i for i, p in reversed(list(enumerate(pieces)))}
    enc = lambda s: [pieces[i] for i in reference_encode(pieces, scores, s)]  # noqa: E731
    assert enc(b"") == []
    assert enc(b"a") == ([b" a"] if b" a" in index else [b" ", b"a"])
    assert enc("é".encode()) == [b" ", b"<0xC3>", b"<0xA9>"]
    assert enc("ö".encode()) == [b" ", "ö".encode()]
    assert enc(b"\xe2\x82") == [b" ", b"\xe2\x82"]
    assert enc(b"\x80\x80") == [b" ", b"<0x80>", b"<0x80>"]  # one 2-byte "character", not a piece
    # "er" and "re" share a score: on "ere" the leftmost pair wins
    assert scores[index[b"er"]] == scores[index[b"re"]]
    assert enc(b"ere") == [b" ", b"er", b"e"] and enc(b"rere") == [b" ", b"re", b"re"]


@check
def golden_file_is_up_to_date():
    want = golden_text(golden_data())
    if "--write-golden" in sys.argv:
        with open(GOLDEN, "w", encoding="utf-8") as f:
            f.write(want)
        print(f"wrote {os.path.abspath(GOLDEN)}")
    with open(GOLDEN, encoding="utf-8") as f:
        have = f.read()
    assert have == want, "tests/golden/bpe_llama2c.json is stale: run models/test_llama2c.py --write-golden"
    data = json.loads(have)
    assert len(data["tokenizer"]["vocab"]) == len(data["tokenizer"]["scores"])
    assert any(len(c["ids"]) > 20 for c in data["cases"])


def main():
    run()


if __name__ == "__main__":
    main()
