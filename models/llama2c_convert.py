#!/usr/bin/python3
"""Convert a llama2.c checkpoint (`model.bin` + `tokenizer.bin`) to an argen `.safetensors` file.

    /usr/bin/python3 models/llama2c_convert.py stories15M.bin tokenizer.bin stories15M.safetensors
        [--dtype float16] [--eos ID] [--name N] [--description D] [--license L]

Checkpoint: the legacy version-0 format that llama2.c's run.c reads (`export.py --version 0`,
the format of stories15M/42M/110M.bin), little-endian:
    7 x int32   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
                (vocab_size < 0: the classifier is not shared, a separate wcls follows)
    float32     token_embedding [V, D]
                rms_att [L, D], wq [L, D, D], wk [L, KV*hd, D], wv [L, KV*hd, D], wo [L, D, D],
                rms_ffn [L, D], w1 [L, F, D], w2 [L, D, F], w3 [L, F, D], rms_final [D],
                freq_cis_real [seq_len, hd/2], freq_cis_imag [seq_len, hd/2]   (skipped; checked)
                wcls [V, D] (only if not shared)
Each weight kind is stacked over the layers (all layers' wq, then all layers' wk, ...), matrices
row-major [out, in] as PyTorch's nn.Linear; this is run.c's memory_map_weights. The argen file
has arch `llama` with the llama2.c/model.py tensor names of models/transformers.py's `Llama`,
config {vocab_size, dim, n_layers, n_heads, n_kv_heads, hidden_dim, context_length = seq_len,
norm_eps 1e-5, rope_theta 10000, tied} (run.c's constants).

tokenizer.bin (llama2.c's tokenizer.py): uint32 max_token_length, then for each of the model's
vocab_size tokens: float32 score, int32 length, that many bytes (sentencepiece's piece with '▁'
replaced by ' '; id 1 is "\\n<s>\\n", id 2 "\\n</s>\\n", ids 3..258 the byte tokens "<0x00>".."<0xFF>").
It becomes the tokenizer JSON
    {"type": "bpe", "style": "llama2.c", "vocab": [...], "scores": [...], "bos": 1, "eos": 2, "add_bos": true}
where vocab[i] is the piece as a string, or, for a piece whose bytes are not valid UTF-8 (JSON
strings cannot hold those; sentencepiece exports have none), the list of its byte values.
src/text/tokenizer.cc encodes like run.c's encode() (without the bos, which the generator feeds
before every prompt because of add_bos)
and decodes "<0xXX>" pieces to raw bytes.

llama2.c's run stops at BOS (id 1): TinyStories models end a story with it. argen stops at the
tokenizer's eos; `--eos 1` makes a converted TinyStories model stop at the end of its story.

Also here: writers of both llama2.c formats (`write_llama2c_bin`, `write_tokenizer_bin`) and
`sample_vocab()`, a small sentencepiece-like vocabulary, for tests and golden files.
"""

import argparse
import json
import os
import re
import struct
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io as st  # noqa: E402

HEADER = struct.Struct("<7i")
V1_MAGIC = 0x616B3432  # "ak42": llama2.c's versioned .bin files (export.py --version 1, 2)
NORM_EPS, ROPE_THETA = 1e-5, 10000.0  # run.c's constants
BOS, EOS = 1, 2
N_BYTE_TOKENS = 256  # "<0x00>".."<0xFF>" at ids 3..258: run.c's byte fallback is id = byte + 3


# ----------------------------------------------------------------------------- checkpoint

def _layout(c):
    """[(kind, shape)] of the float32 arrays of a version-0 file, in file order; wcls last if not tied."""
    V, D, L, F, T = c["vocab_size"], c["dim"], c["n_layers"], c["hidden_dim"], c["context_length"]
    hd = D // c["n_heads"]
    kvd = c["n_kv_heads"] * hd
    out = [("tok_embeddings", (V, D)), ("attention_norm", (L, D)), ("wq", (L, D, D)),
           ("wk", (L, kvd, D)), ("wv", (L, kvd, D)), ("wo", (L, D, D)), ("ffn_norm", (L, D)),
           ("w1", (L, F, D)), ("w2", (L, D, F)), ("w3", (L, F, D)), ("norm", (D,)),
           ("freq_cis_real", (T, hd // 2)), ("freq_cis_imag", (T, hd // 2))]
    if not c["tied"]:
        out.append(("output", (V, D)))
    return out


_PER_LAYER = {"attention_norm": "attention_norm", "wq": "attention.wq", "wk": "attention.wk",
              "wv": "attention.wv", "wo": "attention.wo", "ffn_norm": "ffn_norm",
              "w1": "feed_forward.w1", "w2": "feed_forward.w2", "w3": "feed_forward.w3"}


def _config_from_header(h, path):
    dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len = h
    if any(v <= 0 for v in (dim, hidden_dim, n_layers, n_heads, n_kv_heads, seq_len)) or vocab_size == 0:
        raise ValueError(f"{path}: not a llama2.c checkpoint: header (dim, hidden_dim, n_layers, n_heads, "
                         f"n_kv_heads, vocab_size, seq_len) = {tuple(h)}")
    if dim % n_heads or (dim // n_heads) % 2:
        raise ValueError(f"{path}: dim {dim} does not split into n_heads {n_heads} heads of even size")
    if n_heads % n_kv_heads:
        raise ValueError(f"{path}: n_kv_heads {n_kv_heads} does not divide n_heads {n_heads}")
    return {"vocab_size": abs(vocab_size), "dim": dim, "n_layers": n_layers, "n_heads": n_heads,
            "n_kv_heads": n_kv_heads, "hidden_dim": hidden_dim, "context_length": seq_len,
            "norm_eps": NORM_EPS, "rope_theta": ROPE_THETA, "tied": vocab_size > 0}


def read_llama2c_bin(path):
    """-> (config, tensors): the argen `llama` config and {tensor name: float32 array} (views of a
    memory map, in file order). ValueError for anything that is not a consistent version-0 file."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(HEADER.size)
    if len(head) < HEADER.size:
        raise ValueError(f"{path}: {size} bytes, too short for the 28-byte llama2.c header")
    if struct.unpack_from("<I", head)[0] == V1_MAGIC:
        version = struct.unpack_from("<i", head, 4)[0]
        raise ValueError(f"{path}: a llama2.c version-{version} file (magic 'ak42'); only the legacy "
                         "version-0 format that run.c reads is supported (llama2.c export.py --version 0)")
    config = _config_from_header(HEADER.unpack(head), path)
    layout = _layout(config)
    n = sum(int(np.prod(s)) for _, s in layout)
    want = HEADER.size + 4 * n
    if size != want:
        other = dict(config, tied=not config["tied"])
        alt = HEADER.size + 4 * sum(int(np.prod(s)) for _, s in _layout(other))
        hint = (f"; {alt} would fit a {'shared' if other['tied'] else 'separate'} classifier (the sign "
                "of vocab_size says which)" if size == alt else "")
        raise ValueError(f"{path}: {size} bytes, but the header {config} implies {want}{hint}")
    data = np.memmap(path, dtype="<f4", mode="r", offset=HEADER.size, shape=(n,))
    arrays, off = {}, 0
    for kind, shape in layout:
        k = int(np.prod(shape))
        arrays[kind] = data[off:off + k].reshape(shape)
        off += k
    _check_rope_table(arrays["freq_cis_real"], arrays["freq_cis_imag"], config, path)
    tensors = {"tok_embeddings.weight": arrays["tok_embeddings"]}
    for i in range(config["n_layers"]):
        for kind, name in _PER_LAYER.items():
            tensors[f"layers.{i}.{name}.weight"] = arrays[kind][i]
    tensors["norm.weight"] = arrays["norm"]
    if not config["tied"]:
        tensors["output.weight"] = arrays["output"]
    for name, a in tensors.items():
        if not np.isfinite(a).all():
            raise ValueError(f"{path}: {name} contains NaN or Inf")
    return config, tensors


def rope_table(head_dim, length, theta=ROPE_THETA):
    """llama2.c's freq_cis (cos, sin) [length, head_dim/2] of the angles pos * theta^(-2i/head_dim)."""
    inv_freq = theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    angles = np.outer(np.arange(length, dtype=np.float64), inv_freq)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def _check_rope_table(real, imag, config, path, positions=64):
    """run.c ignores the stored table and uses theta 10000, as the converted file does: warn if the
    file's table was made with another theta (the model was then trained with other angles)."""
    T = min(positions, config["context_length"])
    cos, sin = rope_table(config["dim"] // config["n_heads"], T)
    err = max(np.abs(real[:T] - cos).max(initial=0), np.abs(imag[:T] - sin).max(initial=0))
    if err > 1e-3:
        warnings.warn(f"{path}: the stored RoPE table differs from theta {ROPE_THETA:g} (max |diff| "
                      f"{err:.3g}); converting with theta {ROPE_THETA:g}, as run.c computes it", stacklevel=3)


def write_llama2c_bin(path, config, tensors):
    """Write a version-0 llama2.c checkpoint: `config` as read_llama2c_bin returns it (vocab_size,
    dim, n_layers, n_heads, n_kv_heads, hidden_dim, context_length, tied), `tensors` {argen/llama2.c
    model.py name: array} (a Llama module's state_dict works; `output.weight` is ignored if tied)."""
    c = config
    cos, sin = rope_table(c["dim"] // c["n_heads"], c["context_length"])
    stacked = {kind: np.stack([np.asarray(tensors[f"layers.{i}.{name}.weight"], dtype=np.float32)
                               for i in range(c["n_layers"])]) for kind, name in _PER_LAYER.items()}
    arrays = dict(stacked, tok_embeddings=tensors["tok_embeddings.weight"], norm=tensors["norm.weight"],
                  freq_cis_real=cos, freq_cis_imag=sin, output=tensors.get("output.weight"))
    V = c["vocab_size"] if c["tied"] else -c["vocab_size"]
    with open(path, "wb") as f:
        f.write(HEADER.pack(c["dim"], c["hidden_dim"], c["n_layers"], c["n_heads"], c["n_kv_heads"], V,
                            c["context_length"]))
        for kind, shape in _layout(c):
            a = np.asarray(arrays[kind], dtype="<f4")
            if a.shape != tuple(shape):
                raise ValueError(f"{kind}: shape {a.shape}, expected {tuple(shape)}")
            f.write(np.ascontiguousarray(a).tobytes())


# ----------------------------------------------------------------------------- tokenizer

def read_tokenizer_bin(path, vocab_size):
    """-> (pieces [bytes], scores [float]) of llama2.c's tokenizer.bin for a model of `vocab_size`."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: too short for a llama2.c tokenizer.bin")
    max_len = struct.unpack_from("<I", data)[0]
    pieces, scores, off = [], [], 4
    for i in range(vocab_size):
        if off + 8 > len(data):
            raise ValueError(f"{path}: ends after {i} tokens, the model has vocab_size {vocab_size}")
        score, n = struct.unpack_from("<fi", data, off)
        if n < 0 or n > max_len or off + 8 + n > len(data):
            raise ValueError(f"{path}: token {i} has length {n} (max_token_length {max_len}, "
                             f"{len(data) - off - 8} bytes left)")
        pieces.append(data[off + 8:off + 8 + n])
        scores.append(score)
        off += 8 + n
    if off != len(data):
        raise ValueError(f"{path}: {len(data) - off} bytes left after the model's {vocab_size} tokens "
                         "(a tokenizer.bin for another vocabulary?)")
    if vocab_size < 3 + N_BYTE_TOKENS:
        raise ValueError(f"{path}: {vocab_size} tokens; llama2.c's byte fallback needs ids 3..258")
    return pieces, scores


def write_tokenizer_bin(path, pieces, scores):
    """Write llama2.c's tokenizer.bin: pieces as bytes (or str, UTF-8 encoded), float scores."""
    pieces = [p.encode("utf-8") if isinstance(p, str) else bytes(p) for p in pieces]
    with open(path, "wb") as f:
        f.write(struct.pack("<I", max(len(p) for p in pieces)))
        for p, s in zip(pieces, scores):
            f.write(struct.pack("<fi", s, len(p)))
            f.write(p)


def tokenizer_json(pieces, scores, bos=BOS, eos=EOS):
    """argen's tokenizer JSON (a dict) for llama2.c pieces (bytes) and scores. A piece that is not
    valid UTF-8 is written as the list of its byte values."""
    vocab = []
    for p in pieces:
        try:
            vocab.append(p.decode("utf-8"))
        except UnicodeDecodeError:
            vocab.append(list(p))
    # add_bos: run.c feeds bos before every prompt, so the generator does too.
    return {"type": "bpe", "style": "llama2.c", "vocab": vocab, "scores": [float(s) for s in scores],
            "bos": bos, "eos": eos, "add_bos": True}


# A few TinyStories-like sentences from which sample_vocab() learns its merges.
SAMPLE_TEXT = (
    "Once upon a time, there was a little girl named Lily. She liked to play in the park with her "
    "dog. One day, Lily saw a big red ball under a tree. She ran to get it and said, \"Look, a ball!\" "
    "Her mom smiled and they played together until the sun went down. The little dog was happy too. "
    "Tom and Lily went to the park again the next day. They saw a bird in the tree and a cat on the "
    "grass. \"Hello, bird!\" said Tom. The bird sang a song. Lily and Tom were very happy.")


def sample_vocab(n_merges=64, text=SAMPLE_TEXT):
    """A small sentencepiece-like vocabulary as llama2.c stores it -> (pieces [bytes], scores):
    "<unk>", "\\n<s>\\n", "\\n</s>\\n", the 256 byte tokens "<0xXX>" (score 0), then the pieces of
    `n_merges` BPE merges learned from `text` (words carry their leading space, sentencepiece's '▁'
    stored as ' '; score -rank), then single characters (printable ASCII, ' ', 'ö'; lower scores).
    Deliberately: "er" and "re" share a score (run.c then takes the leftmost pair), 'é' and emoji are
    missing (byte fallback), and one piece b'\\xe2\\x82' is not valid UTF-8 (a truncated '€')."""
    pieces = [b"<unk>", b"\n<s>\n", b"\n</s>\n"] + [f"<0x{b:02X}>".encode() for b in range(256)]
    scores = [0.0] * len(pieces)
    words = {}
    for w in re.findall(r" [^ ]+", " " + " ".join(text.split())):
        words[tuple(w)] = words.get(tuple(w), 0) + 1
    merged = []
    while len(merged) < n_merges:
        pairs = {}
        for w, count in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + count
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        new_words = {}
        for w, count in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + count
        words = new_words
        if best[0] + best[1] not in merged:
            merged.append(best[0] + best[1])
    for rank, piece in enumerate(merged):
        pieces.append(piece.encode())
        scores.append(float(-rank))
    if b"er" in pieces and b"re" in pieces:  # a tie of overlapping pairs: "ere" -> "er" "e"
        scores[pieces.index(b"re")] = scores[pieces.index(b"er")]
    chars = [chr(c) for c in range(32, 127)] + ["ö"]
    for k, ch in enumerate(chars):
        if ch.encode() not in pieces:
            pieces.append(ch.encode())
            scores.append(-float(1000 + k))
    pieces.append(b"\xe2\x82")
    scores.append(-2000.0)
    return pieces, scores


# ----------------------------------------------------------------------------- convert

def convert(checkpoint, tokenizer_bin, out, dtype="float32", eos=EOS, name=None, description=None,
            license=None):
    """Convert llama2.c `checkpoint` + `tokenizer_bin` to the argen file `out`; returns its metadata."""
    from export import _write, transformer_shapes  # torch is imported only here
    config, tensors = read_llama2c_bin(checkpoint)
    pieces, scores = read_tokenizer_bin(tokenizer_bin, config["vocab_size"])
    if not 0 <= eos < config["vocab_size"]:
        raise ValueError(f"eos {eos} is not a token id in [0, {config['vocab_size']})")
    shapes = transformer_shapes("llama", config)
    assert list(shapes) == list(tensors) and all(list(tensors[k].shape) == s for k, s in shapes.items())
    if name is None:
        name = os.path.splitext(os.path.basename(checkpoint))[0]
    if description is None:
        description = f"converted from the llama2.c checkpoint {os.path.basename(checkpoint)}"
    return _write(out, "llama", config, tensors, tokenizer_json(pieces, scores, eos=eos), dtype, name,
                  description, None, license, None)


def main(argv=None):
    p = argparse.ArgumentParser(description="Convert a llama2.c checkpoint (legacy version-0 .bin, "
                                            "e.g. stories15M.bin) and its tokenizer.bin to argen .safetensors.")
    p.add_argument("checkpoint", help="llama2.c model .bin (version 0, what run.c reads)")
    p.add_argument("tokenizer", help="llama2.c tokenizer.bin (tokenizer.py's export)")
    p.add_argument("output", help="argen .safetensors to write")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--eos", type=int, default=EOS,
                   help="token id that ends generation (default 2 = </s>; 1 = <s>, where llama2.c's run "
                        "stops and where TinyStories models end a story)")
    p.add_argument("--name")
    p.add_argument("--description")
    p.add_argument("--license")
    a = p.parse_args(argv)
    meta = convert(a.checkpoint, a.tokenizer, a.output, a.dtype, a.eos, a.name, a.description, a.license)
    cfg = json.loads(meta["config"])
    print(f"wrote {a.output}: arch=llama bytes={os.path.getsize(a.output)} dtype={a.dtype}")
    print(f"config={json.dumps(cfg)}")


if __name__ == "__main__":
    try:
        main()
    except (ValueError, OSError) as e:
        sys.exit(f"llama2c_convert: error: {e}")
