#!/usr/bin/python3
"""Writes the hostile model-file corpus: tests/hostile/files/*.safetensors and expected.json.

Each file is crafted to break one rule (safetensors structure, argen metadata, an architecture's
config, the weights themselves). expected.json maps each file to the substring its load error must
contain. tests/native/test_hostile.cc (native and wasm) and tests/js/hardening.test.mjs load every
file and check that loading fails with that error, quickly and without allocating more than the
file can justify. The corpus is committed; rerun this script after editing it:

    /usr/bin/python3 tests/hostile/make_hostile.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "golden")
OUT = os.path.join(HERE, "files")

corpus = {}  # name -> (bytes, expected substring, what it tests)


def add(name, data, expect, why):
    assert name not in corpus, name
    corpus[name] = (bytes(data), expect, why)


def raw(header, data=b"", claimed=None):
    h = header if isinstance(header, bytes) else header.encode()
    n = len(h) if claimed is None else claimed
    return struct.pack("<Q", n) + h + data


# A tiny valid rnn (one-hot, no biases): the base of the structural cases.
META = {
    "format": "argen/1", "arch": "rnn", "modality": "text",
    "config": json.dumps({"vocab_size": 3, "hidden_size": 2, "num_layers": 1, "input": "one_hot", "bias": False,
                          "head_bias": False}),
    "tokenizer": json.dumps({"type": "chars", "vocab": ["a", "b", "c"]}),
}
W = struct.pack("<16f", 0.1, 0.2, 0.3, -0.1, -0.2, -0.3, 0.5, 0, 0, 0.5, 1, 0, 0, 1, 1, 1)


def tiny(entries=None, meta=META, data=W):
    if entries is None:
        entries = [("rnn.weight_ih_l0", "F32", [2, 3], [0, 24]), ("rnn.weight_hh_l0", "F32", [2, 2], [24, 40]),
                   ("head.weight", "F32", [3, 2], [40, 64])]
    parts = ['"__metadata__":' + json.dumps(meta)] if meta is not None else []
    for name, dt, shape, off in entries:
        parts.append(json.dumps(name) + ":" + json.dumps({"dtype": dt, "shape": shape, "data_offsets": off}))
    return raw("{" + ",".join(parts) + "}", data)


def read_golden(name):
    b = open(os.path.join(GOLDEN, name + ".safetensors"), "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]


def golden(name, config=None, header=None, data=None, tokenizer=None):
    """A golden file with its config (and/or header, data, tokenizer) edited; data kept 8-aligned."""
    h, d = read_golden(name)
    meta = h["__metadata__"]
    if config is not None:
        cfg = json.loads(meta["config"])
        r = config(cfg)
        meta["config"] = r if isinstance(r, str) else json.dumps(cfg)
    if tokenizer is not None:
        meta["tokenizer"] = tokenizer
    if data is not None:
        d = data(h, bytearray(d))
    if header is not None:
        header(h)
    s = json.dumps(h)
    s += " " * ((8 - len(s) % 8) % 8)
    return raw(s, bytes(d))


def setc(**kv):
    def f(cfg):
        cfg.update(kv)
    return f


def poke(tensor, index, value_bytes):
    """Overwrites element `index` of `tensor` (its dtype's width) with value_bytes."""
    def f(h, d):
        t = h[tensor]
        width = {"F32": 4, "F16": 2, "BF16": 2}[t["dtype"]]
        at = t["data_offsets"][0] + index * width
        d[at:at + width] = value_bytes
        return d
    return f


# --- safetensors structure -------------------------------------------------------------------
add("too_small", b"\x05\x00\x00", "file too small", "shorter than the 8-byte header length")
add("header_len_2p64", raw("{}", claimed=2**64 - 1), "exceeds the limit", "header length 2^64-1")
add("header_len_2p64_minus_8", raw("{}", claimed=2**64 - 8), "exceeds the limit", "header length near 2^64 (8 + n wraps)")
add("header_len_2p63", raw("{}", claimed=2**63), "exceeds the limit", "header length 2^63")
add("header_over_limit", raw("{}", claimed=100_000_001), "exceeds the limit of 100000000", "just over the header size limit")
add("header_past_end", raw("{}", claimed=1000), "runs past the end of the file", "header length past the end of a small file")
add("header_not_utf8", raw(b'{"\xff\xfe":1}'), "not valid UTF-8", "invalid UTF-8 byte in the header")
add("header_overlong_utf8", raw(b'{"\xc0\xaf":1}'), "not valid UTF-8", "overlong UTF-8 encoding of '/'")
add("header_surrogate_utf8", raw(b'{"\xed\xa0\x80":1}'), "not valid UTF-8", "UTF-8-encoded surrogate")
add("header_array", raw("[1,2,3]"), "does not start with '{'", "header is a JSON array")
add("header_empty", raw(""), "does not start with '{'", "zero-length header")
add("header_not_json", raw("{not json"), "not valid JSON", "header is not JSON")
add("header_trailing_garbage", raw('{} {}'), "not valid JSON", "a second JSON value after the object")
add("header_deep_nesting", raw('{"a":' + "[" * 100000 + "]" * 100000 + "}"), "header nests deeper than 32 levels",
    "100,000 nested arrays (parsers must not recurse)")
add("entry_not_object", raw('{"w":1}'), "entry is not an object", "tensor entry is a number")
add("unknown_dtype", tiny([("rnn.weight_ih_l0", "F128", [2, 3], [0, 24])], data=W[:24]), "unknown dtype 'F128'", "dtype not in the format")
add("missing_offsets", raw('{"w":{"dtype":"F32","shape":[1]}}', b"\0" * 4), "data_offsets must be [begin, end]", "no data_offsets")
add("negative_shape", tiny([("w", "F32", [-1, 3], [0, 0])], data=b""), "non-negative integers", "a negative dimension")
add("float_offsets", raw('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0.0,4.5]}}', b"\0" * 4), "data_offsets must be non-negative integers", "fractional offsets")
add("shape_count_overflow", tiny([("w", "F32", [2**32, 2**32, 16], [0, 0])], data=b""), "overflows", "element count 2^68")
add("shape_dim_2p63", tiny([("w", "F32", [2**63], [0, 0])], data=b""), "overflows", "one dimension of 2^63")
add("shape_bytes_overflow", tiny([("w", "F32", [2**62], [0, 0])], data=b""), "byte size of shape", "2^62 F32 elements: 2^64 bytes")
add("shape_huge_fits_offsets", tiny([("w", "F32", [2**30, 2**30], [0, 2**62])], data=b""), "past the end of the data",
    "offsets that agree with a 4 EiB shape but not with the file")
add("offsets_past_end", tiny([("rnn.weight_ih_l0", "F32", [2, 3], [0, 24]), ("rnn.weight_hh_l0", "F32", [2, 2], [24, 40]),
                              ("head.weight", "F32", [3, 2], [1000, 1024])]), "past the end of the data", "last tensor beyond the file")
add("offsets_reversed", tiny([("w", "F32", [0], [24, 0])], data=W[:24]), "is before begin", "end before begin")
add("offsets_size_mismatch", tiny([("w", "F32", [2, 3], [0, 20])], data=W[:20]), "needs 24", "span disagrees with dtype x shape")
add("offsets_overlap", tiny([("rnn.weight_ih_l0", "F32", [2, 3], [0, 24]), ("rnn.weight_hh_l0", "F32", [2, 2], [16, 32]),
                             ("head.weight", "F32", [3, 2], [40, 64])]), "overlaps the previous tensor", "two tensors share bytes")
add("offsets_gap", tiny([("rnn.weight_ih_l0", "F32", [2, 3], [0, 24]), ("rnn.weight_hh_l0", "F32", [2, 2], [28, 44]),
                         ("head.weight", "F32", [3, 2], [44, 68])], data=W + b"\0" * 4), "gap after the previous tensor", "unused bytes between tensors")
add("offsets_all_alias", tiny([("a", "F32", [2], [0, 8]), ("b", "F32", [2], [0, 8]), ("c", "F32", [2], [0, 8])], data=W[:8]),
    "overlaps the previous tensor", "three tensors on the same bytes")
add("duplicate_name", raw('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8),
    "duplicate tensor name 'w'", "the same tensor twice")
add("trailing_bytes", tiny(data=W + b"\0" * 16), "trailing bytes", "16 bytes after the last tensor")
add("metadata_not_object", raw('{"__metadata__":[1]}'), "__metadata__ is not an object", "metadata is an array")
add("metadata_value_not_string", raw('{"__metadata__":{"format":1}}'), "is not a string", "metadata value is a number")

# --- argen metadata --------------------------------------------------------------------------
add("no_metadata", tiny(meta=None), "metadata key 'format' is missing", "plain safetensors, no argen metadata")
add("wrong_format", tiny(meta=dict(META, format="argen/99")), "expected 'argen/1'", "future format version")
add("unknown_arch", tiny(meta=dict(META, arch="mamba")), "unknown arch 'mamba'", "arch not in this build")
add("config_not_json", tiny(meta=dict(META, config="{vocab_size:3")), "metadata 'config' is not valid JSON", "config is not JSON")
add("config_not_object", tiny(meta=dict(META, config="[3]")), "metadata 'config' is not a JSON object", "config is an array")
add("config_deep_nesting", tiny(meta=dict(META, config='{"vocab_size":' + "[" * 100000 + "]" * 100000 + "}")),
    "metadata 'config' nests deeper than 32 levels", "a config value nested 100,000 deep")
add("config_nested_30", tiny(meta=dict(META, config='{"vocab_size":' + "[" * 30 + "]" * 30 + "}")),
    "config key 'vocab_size' must be an integer, found an array of 1", "a config value nested 30 deep (messages describe, never dump, containers)")
add("tokenizer_not_json", tiny(meta=dict(META, tokenizer="{")), "metadata 'tokenizer' is not valid JSON", "tokenizer is not JSON")
add("tokenizer_vocab_mismatch", tiny(meta=dict(META, tokenizer=json.dumps({"type": "chars", "vocab": ["a", "b"]}))),
    "the model's vocab_size is 3", "tokenizer vocabulary smaller than the model's")
add("tokenizer_bos_out_of_range", tiny(meta=dict(META, tokenizer=json.dumps({"type": "chars", "vocab": ["a", "b", "c"], "bos": 2**40}))),
    "'bos' must be a token id in 0..2", "bos id 2^40")
add("tokenizer_deep_vocab", tiny(meta=dict(META, tokenizer='{"type":"chars","vocab":["a","b",' + "[" * 100000 + "]" * 100000 + "]}")),
    "metadata 'tokenizer' nests deeper than 32 levels", "a tokenizer vocab entry nested 100,000 deep")

# --- weights ---------------------------------------------------------------------------------
add("wrong_dtype_i32", tiny([("rnn.weight_ih_l0", "I32", [2, 3], [0, 24]), ("rnn.weight_hh_l0", "F32", [2, 2], [24, 40]),
                             ("head.weight", "F32", [3, 2], [40, 64])]), "has dtype I32, expected F32, F16, BF16 or I8", "integer weights")
# int8 tensors come with <name>.scale, one float scale per row (models/export.py, int8=True).
I8 = struct.pack("<6b", 1, -2, 3, 127, -127, 0)
HH_HEAD = W[24:64]


def tiny_i8(scale_shape, scale):
    data = I8 + struct.pack(f"<{len(scale)}f", *scale) + HH_HEAD
    n = 6 + 4 * len(scale)
    entries = [("rnn.weight_ih_l0", "I8", [2, 3], [0, 6])]
    if scale_shape is not None:
        entries.append(("rnn.weight_ih_l0.scale", "F32", scale_shape, [6, n]))
    else:
        data, n = I8 + HH_HEAD, 6
    return tiny(entries + [("rnn.weight_hh_l0", "F32", [2, 2], [n, n + 16]), ("head.weight", "F32", [3, 2], [n + 16, n + 40])],
                data=data)


add("int8_no_scale", tiny_i8(None, []), "tensor 'rnn.weight_ih_l0.scale' is missing (expected shape [2])", "int8 weights without their scales")
add("int8_scale_shape", tiny_i8([3], [0.1, 0.1, 0.1]), "tensor 'rnn.weight_ih_l0.scale' has shape [3], expected [2]", "a scale per column, not per row")
add("int8_scale_zero", tiny_i8([2], [0.1, 0.0]), "'rnn.weight_ih_l0.scale' holds 0.000000 at row 1, expected a positive scale", "a zero scale")
add("int8_scale_negative", tiny_i8([2], [-0.5, 0.1]), "holds -0.500000 at row 0, expected a positive scale", "a negative scale")
add("wrong_dtype_f64", tiny([("rnn.weight_ih_l0", "F64", [2, 3], [0, 48]), ("rnn.weight_hh_l0", "F32", [2, 2], [48, 64]),
                             ("head.weight", "F32", [3, 2], [64, 88])], data=W + b"\0" * 24), "has dtype F64", "double weights")
add("wrong_shape", tiny([("rnn.weight_ih_l0", "F32", [3, 2], [0, 24]), ("rnn.weight_hh_l0", "F32", [2, 2], [24, 40]),
                         ("head.weight", "F32", [3, 2], [40, 64])]), "has shape [3, 2], expected [2, 3]", "transposed weight")
add("missing_tensor", tiny([("rnn.weight_ih_l0", "F32", [2, 3], [0, 24]), ("rnn.weight_hh_l0", "F32", [2, 2], [24, 40])], data=W[:40]),
    "tensor 'head.weight' is missing", "no head")
NAN32, INF32, NINF32 = struct.pack("<f", float("nan")), struct.pack("<f", float("inf")), struct.pack("<f", float("-inf"))
add("nan_weight_f32", golden("lstm_emb_bytes_h37_l1", data=poke("rnn.weight_hh_l0", 5, NAN32)),
    "tensor 'rnn.weight_hh_l0' holds a non-finite value (nan) at element 5", "NaN in an F32 weight")
add("inf_weight_f32", golden("gpt_chars_d22_h2_l3_eps1e-3", data=poke("lm_head.weight", 0, NINF32)),
    "tensor 'lm_head.weight' holds a non-finite value (-inf) at element 0", "-Inf in an F32 weight")
add("inf_weight_f16", golden("lstm_emb_chars_h37_l2_f16", data=poke("embed.weight", 3, b"\x00\x7c")),
    "tensor 'embed.weight' holds a non-finite value (inf) at element 3", "+Inf in an F16 weight")
add("nan_weight_bf16", golden("gru_onehot_bytes_h13_l2_bf16", data=poke("head.weight", 7, b"\xc0\x7f")),
    "tensor 'head.weight' holds a non-finite value (nan) at element 7", "NaN in a BF16 weight")

# --- absurd configs, every architecture family -----------------------------------------------
B = 1_000_000_000
add("lstm_zero_layers", golden("lstm_emb_chars_h37_l2_f16", config=setc(num_layers=0)), "config key 'num_layers' is 0", "zero layers")
add("lstm_billion_layers", golden("lstm_emb_chars_h37_l2_f16", config=setc(num_layers=B)), "config key 'num_layers' is 1000000000", "a billion layers")
add("rnn_vocab_zero", golden("rnn_tanh_onehot_chars_h13_l1_nobias", config=setc(vocab_size=0)), "config key 'vocab_size' is 0", "empty vocabulary")
add("rnn_hidden_huge", golden("rnn_tanh_onehot_chars_h13_l1_nobias", config=setc(hidden_size=2**31)), "config key 'hidden_size'", "hidden size 2^31")
add("gru_layers_string", golden("gru_emb_chars_h37_l3", config=setc(num_layers="3")), "config key 'num_layers' must be an integer", "a number as a string")
add("gru_layers_float", golden("gru_emb_chars_h37_l3", config=setc(num_layers=3.5)), "config key 'num_layers' must be an integer", "fractional layer count")
add("gpt_heads_not_dividing", golden("gpt_chars_d22_h2_l3_eps1e-3", config=setc(n_heads=3)), "n_heads 3 does not divide dim 22", "heads do not divide the width")
add("gpt_billion_layers", golden("gpt_chars_d22_h2_l3_eps1e-3", config=setc(n_layers=B)), "config key 'n_layers'", "a billion layers")
add("gpt_vocab_zero", golden("gpt_chars_d22_h2_l3_eps1e-3", config=setc(vocab_size=0)), "config key 'vocab_size' is 0", "empty vocabulary")
add("gpt_eps_negative", golden("gpt_chars_d22_h2_l3_eps1e-3", config=setc(norm_eps=-1)), "'norm_eps' must be a positive number", "negative epsilon")
add("llama_context_2p40", golden("llama_chars_d28_h2_l2", config=setc(context_length=2**40)), "config key 'context_length' is 1099511627776", "context 2^40")
add("llama_context_cache_too_big", golden("llama_chars_d28_h2_l2", config=setc(context_length=2**20, n_layers=1024)), "KV cache",
    "a per-stream cache of gigabytes from a 60 KB file")
add("llama_attention_buffer_too_big", golden("llama_chars_d28_h2_l2", config=setc(context_length=2**20, dim=2048, n_heads=1024, n_kv_heads=1, n_layers=1)),
    "over the limit", "attention weights of 1024 heads x 2^20 positions (4 GiB) with a small KV cache")
add("llama_kv_not_dividing", golden("llama_chars_d28_h2_l2", config=setc(n_kv_heads=3)), "n_kv_heads 3 does not divide n_heads 2", "GQA groups do not divide")
add("llama_zero_heads", golden("llama_chars_d28_h2_l2", config=setc(n_heads=0)), "config key 'n_heads' is 0", "zero heads")
add("transformer_heads_not_dividing", golden("transformer_post_relu_learned_chars_d24_h3_l2", config=setc(nhead=5)), "nhead 5 does not divide d_model 24", "heads do not divide the width")
add("transformer_zero_layers", golden("transformer_post_relu_learned_chars_d24_h3_l2", config=setc(num_layers=0)), "config key 'num_layers' is 0", "zero layers")
add("transformer_context_2p40", golden("transformer_post_relu_learned_chars_d24_h3_l2", config=setc(context_length=2**40)), "config key 'context_length'", "context 2^40")
add("hybrid_unknown_rnn", golden("hybrid_gru_chars_e12_d20_h2_r1_l2", config=setc(rnn="mamba")), "config key 'rnn' is 'mamba'", "unknown recurrent cell")
add("hybrid_billion_rnn_layers", golden("hybrid_gru_chars_e12_d20_h2_r1_l2", config=setc(rnn_layers=B)), "config key 'rnn_layers'", "a billion recurrent layers")
add("pixelcnn_image_100000", golden("pixelcnn_gray_l16_5x6_f6_l3", config=setc(height=100000, width=100000)), "config key 'height' is 100000", "a 100000x100000 image")
add("pixelcnn_image_too_many_pixels", golden("pixelcnn_gray_l16_5x6_f6_l3", config=setc(height=4096, width=4096, channels=4)), "the image is too large", "4096x4096x4 levels")
add("pixelcnn_cache_too_big", golden("pixelcnn_gray_l16_5x6_f6_l3", config=setc(height=2048, width=2048, layers=1024, filters=65536, skip=6)), "the generation cache would need", "cache of 2048 columns x 1024 layers x 65536 filters")
add("pixelcnn_zero_layers", golden("pixelcnn_gray_l16_5x6_f6_l3", config=setc(layers=0)), "config key 'layers' is 0", "zero layers")
add("pixelcnn_even_kernel", golden("pixelcnn_gray_l16_5x6_f6_l3", config=setc(input_kernel=4)), "'input_kernel' must be odd", "even kernel")
add("pixelrnn_levels_one", golden("pixelrnn_rgb_l8_4x7_h6_l3_k3", config=setc(levels=1)), "config key 'levels' is 1", "one level per channel")
add("pixelrnn_cache_too_big", golden("pixelrnn_rgb_l8_4x7_h6_l3_k3", config=setc(height=2048, width=2048, layers=1024)), "the generation cache would need", "cache of 2048x2048 x 1024 layers")
add("wavenet_dilations_empty", golden("wavenet_onehot_k3_r6_d4_s5_l5_f16", config=setc(dilations=[])), "'dilations' must be a list", "no layers")
add("wavenet_dilations_huge", golden("wavenet_onehot_k3_r6_d4_s5_l5_f16", config=setc(dilations=[2**40])), "'dilations' holds 1099511627776", "dilation 2^40")
add("wavenet_dilations_queues_too_big", golden("wavenet_onehot_k3_r6_d4_s5_l5_f16", config=setc(dilations=[2**20] * 4096, residual_channels=16384)),
    "the dilation queues would need", "queues of 4096 x 2^20 x 16384 floats")
add("wavenet_dilations_too_many", golden("wavenet_onehot_k3_r6_d4_s5_l5_f16", config=setc(dilations=[1] * 5000)), "'dilations' must be a list", "5000 layers")
add("wavenet_dilations_nested", golden("wavenet_onehot_k3_r6_d4_s5_l5_f16",
                                       config=lambda c: json.dumps(c).replace('"dilations": [1, 2, 4, 8, 2]', '"dilations": [' + "[" * 100000 + "]" * 100000 + "]")),
    "metadata 'config' nests deeper than 32 levels", "a dilation nested 100,000 deep")
add("wavenet_dilations_nested_20", golden("wavenet_onehot_k3_r6_d4_s5_l5_f16",
                                          config=lambda c: json.dumps(c).replace('"dilations": [1, 2, 4, 8, 2]', '"dilations": [' + "[" * 20 + "]" * 20 + "]")),
    "config key 'dilations' holds an array of 1", "a dilation nested 20 deep")
add("wavenet_quantization_zero", golden("wavenet_onehot_k3_r6_d4_s5_l5_f16", config=setc(quantization=0)), "config key 'quantization' is 0", "no output levels")

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".safetensors"):
            os.remove(os.path.join(OUT, f))
    expected = {}
    for name, (data, expect, why) in sorted(corpus.items()):
        with open(os.path.join(OUT, name + ".safetensors"), "wb") as f:
            f.write(data)
        expected[name + ".safetensors"] = {"error": expect, "what": why}
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump({"files": expected}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{len(expected)} hostile files, {sum(len(d) for d, _, _ in corpus.values())} bytes")
