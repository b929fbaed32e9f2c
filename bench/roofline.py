#!/usr/bin/python3
"""How close argen runs to this machine's limits: sets each suite model's measured rate (argen native
and wasm, float32 and int8, 1 thread) against the limit that binds it, each rate paired with limits
probed right before it in the same round (bench/run.sh runs `argen roofline BYTES...` before each
native row and `bench/roofline.mjs BYTES...` before each wasm row: read bandwidth from buffers of the
model's working sets, read as four sequential streams like the kernels, and peak SIMD multiply-adds).
This host's speed moves up to 2x within minutes, so a rate and a limit measured minutes apart say
little about each other; a round's fraction uses its own probe, and the table shows their median.

    bench/roofline.py [BENCH_DIR]        reads BENCH_DIR/MODEL/round*/ (default build/bench)
    bench/roofline.py --sizes MODEL      the working sets (bytes) run.sh probes for MODEL

Each generated element (token, sample, pixel) is a few phases of work, from the model files'
configs, each with the bytes it reads and the multiply-adds it does:
  products: every weight matrix read once (char-lstm, llama-15m, wavenet-20 but its past taps;
            pixelcnn-gated's per-pixel products: its horizontal stack and head);
  blocks:   wavenet-20's past taps (W_past x(t-d)), made for blocks of 1-8 samples: read once per
            block;
  rows:     pixelcnn-gated's vertical stack, matrix-matrix products once per image row: its weights
            are read once per row (a 28th per pixel), each used for 28 pixels;
  attention: llama-15m's KV cache, float32 in every weight type: keys and values of the cached
            positions (on average 128.5 over the 256 decoded tokens), one multiply-add per float.
A phase's shortest time is the slower of reading its bytes (at the read bandwidth measured for a
buffer of its working set, `argen roofline BYTES` read as four sequential streams like the kernels:
how much stays in cache is measured, not assumed; on this shared host 16 MiB already reads near
DRAM speed though lscpu says 32 MiB of L3) and doing its multiply-adds at the peak (float32:
independent multiply-adds on registers, FMAs natively, multiplies and adds in wasm, which has no
fused one; int8: the fastest q8 x q8 kernel itself on L1 data, not the instruction set's limit). int8 rows
read one byte per weight and do int8 multiply-adds in the weight phases; attention stays float32.
The element's bound is the sum over its phases, and the fraction shown is bound time x measured
rate: 100% would be every phase at its own limit.
"""
import glob
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
    meta = h.pop("__metadata__", {})
    params = {k: v["shape"] for k, v in h.items()}
    return json.loads(meta.get("config", "{}")), params


def count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def phases(model):
    """A list of dicts per generated element: name, weights (float32 bytes of weight matrices read),
    other (float32 bytes read that int8 weights do not shrink), macs (multiply-adds), and the working
    set the reads come from: ws_weights (float32 bytes) + ws_other."""
    cfg, params = header(os.path.join(ROOT, "build/bench", model + ".safetensors"))
    total = sum(count(s) for s in params.values())

    def products(w, ws_other=0):
        return dict(name="products", weights=4 * w, other=0, macs=w, ws_weights=4 * w, ws_other=ws_other)

    if model == "char-lstm":  # layer 0's input product W_ih embed[token] + bias is a row of a table
        # made at load (src/models/recurrent.cc): G*H floats read instead of W_ih and the embedding
        w_ih = params["rnn.weight_ih_l0"]
        p = products(total - count(params["embed.weight"]) - count(w_ih))
        p["other"] = 4 * w_ih[0]
        return [p]
    if model == "llama-15m":  # tied: the embedding table is the classifier, read whole every step
        kv_dim = cfg["dim"] * cfg["n_kv_heads"] // cfg["n_heads"]
        positions = (1 + 256) / 2  # cached positions, averaged over decoding 256 tokens
        kv = 4 * cfg["n_layers"] * 2 * kv_dim * positions  # bytes; weights and cache share the cache
        return [products(total, kv),
                dict(name="attention", weights=0, other=kv, macs=cfg["n_layers"] * 2 * cfg["dim"] * positions,
                     ws_weights=4 * total, ws_other=kv)]
    if model == "wavenet-20":
        # One-hot input: one column of the input convolution. The past taps (W_past, half of each
        # dilated convolution) are read once per block of b samples and used for each of them
        # (src/models/wavenet.cc: b the largest divisor of the dilation d up to kPastBatch = 8 and d / 2).
        ws = total - count(params["causal.weight"]) + cfg["residual_channels"]
        past = 2 * cfg["dilation_channels"] * cfg["residual_channels"]
        blocks = [max(b for b in range(1, min(max(d // 2, 1), 8) + 1) if d % b == 0) for d in cfg["dilations"]]
        every = products(ws - past * len(blocks))
        every["ws_weights"] = 4 * ws
        return [every, dict(name="blocks", weights=sum(4 * past / b for b in blocks), other=0,
                            macs=past * len(blocks), ws_weights=4 * ws, ws_other=0)]
    if model == "pixelcnn-gated":
        F, L, k, Hd, lv = cfg["filters"], cfg["layers"], cfg["input_kernel"], cfg["head_hidden"], cfg["levels"]
        pixel = L * (2 * F * 2 * F + F * F) + F * (k // 2) + F * Hd + Hd * lv   # horizontal stack, head
        row = F * (k // 2) * k + L * (2 * F * 6 * F + 2 * F * 2 * F)           # vertical stack (per row)
        return [products(pixel),
                dict(name="rows", weights=4 * row / cfg["width"], other=0, macs=row, ws_weights=4 * row, ws_other=0)]
    raise KeyError(model)


def working_set(phase, int8):
    return int((phase["ws_weights"] / 4 if int8 else phase["ws_weights"]) + phase["ws_other"])


MODELS = ("char-lstm", "llama-15m", "wavenet-20", "pixelcnn-gated")
ENGINES = ("argen-native", "argen-native-int8", "argen-wasm", "argen-wasm-int8")
RATE_KEYS = ("steps_per_s", "samples_per_s", "ms_per_image")  # the engines' JSON lines


def sizes(model):
    return sorted({working_set(p, int8) for p in phases(model) for int8 in (False, True)})


def elements_per_s(record):
    for k in RATE_KEYS:
        if k in record:
            return 784 / (record[k] / 1000) if k == "ms_per_image" else record[k]  # pixels/s
    raise KeyError("no rate in " + json.dumps(record)[:80])


def bound(ps, probe, int8):
    """Seconds per element at the limits of `probe`, and what binds each phase."""
    times = []
    for p in ps:
        nbytes = (p["weights"] / 4 if int8 else p["weights"]) + p["other"]
        t_read = nbytes / (probe["read_gbps"][str(working_set(p, int8))] * 1e9)
        if int8 and p["weights"]:
            t_ops, ops = p["macs"] / (probe["peak_int8_gmacs"] * 1e9), "int8 MACs"
        else:
            t_ops, ops = 2 * p["macs"] / (probe["peak_gflops"] * 1e9), "float32 peak"
        times.append((p["name"], max(t_read, t_ops), "read" if t_read >= t_ops else ops))
    return sum(t for _, t, _ in times), times


def median(xs):
    return sorted(xs)[len(xs) // 2]


def load_rounds(bench_dir, model):
    """Per engine, [(rate record, probe)] of each round that has both."""
    out = {}
    rounds = sorted(glob.glob(os.path.join(bench_dir, model, "round*")))
    for e in ENGINES:
        probe_name = e.replace("argen-", "roofline-")
        pairs = []
        for d in rounds:
            try:
                with open(os.path.join(d, e + ".json")) as f:
                    rec = json.load(f)
                with open(os.path.join(d, probe_name + ".json")) as f:
                    probe = json.load(f)
            except FileNotFoundError:
                continue
            if "skipped" not in rec:
                pairs.append((rec, probe))
        if pairs:
            out[e] = pairs
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--sizes":
        print(" ".join(str(b) for b in sizes(sys.argv[2])))
        return
    bench_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/bench")
    data = {m: load_rounds(bench_dir, m) for m in MODELS}
    data = {m: d for m, d in data.items() if d}
    if not data:
        sys.exit(f"roofline: no rounds with probes under {bench_dir} (run bench/run.sh first)")
    probes = {"native": [], "wasm": []}
    for d in data.values():
        for e, pairs in d.items():
            probes["wasm" if "wasm" in e else "native"] += [p for _, p in pairs]
    print("limits (1 thread; median of the probes, their range)   8 MiB read GB/s   256 MiB read GB/s   "
          "float32 GFLOP/s   int8 GMAC/s")
    for eng, ps in probes.items():
        if not ps:
            continue
        cells = []
        for k in ("cache_gbps", "memory_gbps", "peak_gflops", "peak_int8_gmacs"):
            xs = [p[k] for p in ps]
            cells.append(f"{median(xs):.1f} ({min(xs):.1f}-{max(xs):.1f})")
        print(f"  {eng:<8}{len(ps):>3} probes, {ps[0]['simd']:<8}" + "  ".join(f"{c:>19}" for c in cells))
    print()
    print("model           engine              elements/s   bound/s  fraction  (each round's)   "
          "phases: what binds each, its share of the bound")
    for model, d in data.items():
        ps = phases(model)
        reads = []
        for eng in ("native", "wasm"):
            ps_eng = [p for e, pairs in d.items() if ("wasm" in e) == (eng == "wasm") for _, p in pairs]
            if ps_eng:
                reads.append(f"{eng} " + ", ".join(f"{median([p['read_gbps'][str(b)] for p in ps_eng]):.1f}"
                                                   for b in sizes(model)))
        print(f"  read GB/s from {model}'s working sets ({', '.join(f'{b / 1e6:.2f}' for b in sizes(model))} MB): "
              + "; ".join(reads))
        for e, pairs in d.items():
            int8 = e.endswith("-int8")
            rates = [elements_per_s(r) for r, _ in pairs]
            bounds = [bound(ps, p, int8)[0] for _, p in pairs]
            fractions = [r * b for r, b in zip(rates, bounds)]
            mid = sorted(range(len(pairs)), key=lambda i: fractions[i])[len(pairs) // 2]  # the median round
            total, times = bound(ps, pairs[mid][1], int8)
            detail = ", ".join(f"{n}: {what} {100 * t / total:.0f}%" for n, t, what in times)
            each = " ".join(f"{100 * f:.0f}" for f in fractions)
            print(f"{model:<16}{e:<19}{median(rates):>11.0f}{1 / median(bounds):>10.0f}{100 * fractions[mid]:>9.0f}%"
                  f"  ({each}){'':<{max(0, 14 - len(each))}} {detail}")


if __name__ == "__main__":
    main()
