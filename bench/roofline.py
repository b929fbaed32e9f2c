#!/usr/bin/python3
"""How close argen runs to this machine's limits: measures the roofline (read bandwidth from the L3
cache and from DRAM, peak SIMD multiply-adds; one thread; native and wasm) and sets each suite model's
measured rate (bench/results.json, argen-native and argen-wasm rows, float32 and int8, 1 thread) against
the limit that binds it.

    bench/roofline.py [results.json]      (needs build/native/argen, build/wasm/pkg, build/bench/*.safetensors)

Each generated element (token, sample, pixel) is a few phases of work, from the model files'
configs, each with the bytes it reads and the multiply-adds it does:
  products: every weight matrix read once (char-lstm, llama-15m, wavenet-20; pixelcnn-gated's
            per-pixel products: its horizontal stack and head);
  rows:     pixelcnn-gated's vertical stack, matrix-matrix products once per image row: its weights
            are read once per row (a 28th per pixel), each used for 28 pixels;
  attention: llama-15m's KV cache, float32 in every weight type: keys and values of the cached
            positions (on average 128.5 over the 256 decoded tokens), one multiply-add per float.
A phase's shortest time is the slower of reading its bytes (at the read bandwidth measured for a
buffer of its working set, `argen roofline BYTES` read as four sequential streams like the kernels:
how much stays in cache is measured, not assumed; on this shared host 16 MiB already reads near
DRAM speed though lscpu says 32 MiB of L3) and doing its multiply-adds at the peak (float32:
independent multiply-adds on registers, FMAs natively, multiplies and adds in wasm, which has no
fused one; int8: the q8 x q8 kernel itself on an L1 matrix, not the instruction set's limit). int8 rows
read one byte per weight and do int8 multiply-adds in the weight phases; attention stays float32.
The element's bound is the sum over its phases, and the fraction shown is bound time x measured
rate: 100% would be every phase at its own limit.
"""
import json
import os
import struct
import subprocess
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
    if model == "wavenet-20":  # one-hot input: one column of the input convolution
        return [products(total - count(params["causal.weight"]) + cfg["residual_channels"])]
    if model == "pixelcnn-gated":
        F, L, k, Hd, lv = cfg["filters"], cfg["layers"], cfg["input_kernel"], cfg["head_hidden"], cfg["levels"]
        pixel = L * (2 * F * 2 * F + F * F) + F * (k // 2) + F * Hd + Hd * lv   # horizontal stack, head
        row = F * (k // 2) * k + L * (2 * F * 6 * F + 2 * F * 2 * F)           # vertical stack (per row)
        return [products(pixel),
                dict(name="rows", weights=4 * row / cfg["width"], other=0, macs=row, ws_weights=4 * row, ws_other=0)]
    raise KeyError(model)


def working_set(phase, int8):
    return int((phase["ws_weights"] / 4 if int8 else phase["ws_weights"]) + phase["ws_other"])


# This host's speed moves a lot within minutes (the same probe reads up to 1.8x apart): each limit is
# the median of a few rounds of its probe, as each rate is a median of rounds.
PROBE_ROUNDS = 3


def median_of(cmd, rounds):
    runs = [json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout) for _ in range(rounds)]
    mid = lambda xs: sorted(xs)[len(xs) // 2]
    out = dict(runs[0])
    for k, v in out.items():
        if isinstance(v, float):
            out[k] = mid([r[k] for r in runs])
    out["read_gbps"] = {b: mid([r["read_gbps"][b] for r in runs]) for b in out["read_gbps"]}
    return out


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bench/results.json")
    models = {}
    for model in ("char-lstm", "llama-15m", "wavenet-20", "pixelcnn-gated"):
        try:
            models[model] = phases(model)
        except (FileNotFoundError, KeyError):
            pass
    sizes = sorted({working_set(p, int8) for ps in models.values() for p in ps for int8 in (False, True)})
    args = [str(b) for b in sizes]
    probes = {"argen-native": [os.path.join(ROOT, "build/native/argen"), "roofline", *args],
              "argen-wasm": ["node", os.path.join(ROOT, "bench/roofline.mjs"), *args]}
    roof = {e: median_of(cmd, PROBE_ROUNDS) for e, cmd in probes.items()}
    print("roofline (1 thread)       8 MiB read GB/s  256 MiB read GB/s  peak GFLOP/s  int8 GMAC/s  simd")
    for e, r in roof.items():
        print(f"  {e:<22}{r['cache_gbps']:>16.1f}{r['memory_gbps']:>19.1f}{r['peak_gflops']:>14.1f}"
              f"{r['peak_int8_gmacs']:>13.1f}  {r['simd']}")
    print("read GB/s at each working set (MB):", "  ".join(f"{b / 1e6:.2f}" for b in sizes))
    for e, r in roof.items():
        print(f"  {e:<22}" + "  ".join(f"{r['read_gbps'][str(b)]:.1f}" for b in sizes))
    with open(results) as f:
        records = json.load(f)
    rate = {}
    for r in records:
        if r["engine"].removesuffix("-int8") in roof and r.get("threads", 1) == 1:
            if r["metric"] in ("steps_per_s", "tokens_per_s", "samples_per_s"):
                rate[(r["model"], r["engine"])] = r["value"]
            elif r["metric"] == "ms_per_image":
                rate[(r["model"], r["engine"])] = 784 / (r["value"] / 1000)  # pixels/s
    print()
    print("model           engine              elements/s   bound/s  fraction  phases: what binds each, its share of the bound")
    for model, ps in models.items():
        for e in [x for base in roof for x in (base, base + "-int8")]:
            if (model, e) not in rate:
                continue
            v, r, int8 = rate[(model, e)], roof[e.removesuffix("-int8")], e.endswith("-int8")
            times = []
            for p in ps:
                nbytes = (p["weights"] / 4 if int8 else p["weights"]) + p["other"]
                t_read = nbytes / (r["read_gbps"][str(working_set(p, int8))] * 1e9)
                if int8 and p["weights"]:
                    t_ops, ops = p["macs"] / (r["peak_int8_gmacs"] * 1e9), "int8 MACs"
                else:
                    t_ops, ops = 2 * p["macs"] / (r["peak_gflops"] * 1e9), "float32 peak"
                times.append((p["name"], max(t_read, t_ops), "read" if t_read >= t_ops else ops))
            bound = sum(t for _, t, _ in times)
            detail = ", ".join(f"{n}: {what} {100 * t / bound:.0f}%" for n, t, what in times)
            print(f"{model:<16}{e:<19}{v:>11.0f}{1 / bound:>10.0f}{100 * bound * v:>9.0f}%  {detail}")


if __name__ == "__main__":
    main()
