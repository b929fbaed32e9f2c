#!/usr/bin/python3
"""How close argen runs to this machine's limits: measures the roofline (read bandwidth from the L3
cache and from DRAM, peak SIMD multiply-adds; one thread; native and wasm) and sets each suite model's
measured rate (bench/results.json, argen-native and argen-wasm rows, float32 and int8, 1 thread) against
the limit that binds it.

    bench/roofline.py [results.json]      (needs build/native/argen, build/wasm/pkg, build/bench/*.safetensors)

Per generated element (token, sample, pixel), from the model files' configs:
  bytes: float32 weights read (every matrix once per step). Their bound is the read bandwidth from a
         buffer of that many bytes, measured at that size (`argen roofline BYTES`, read as four
         sequential streams like the kernels): how much of a working set stays in cache is measured,
         not assumed (on this shared host 16 MiB already reads near DRAM speed, though lscpu says
         32 MiB of L3);
  flops: 2 x multiply-adds.
int8 rows read a quarter of the bytes (one byte per weight; the row scales are negligible), and their
multiply-adds are int8 x int8 ones, whose peak (`peak_int8_gmacs`: widen int8 -> int16, pairwise
multiply-add, on registers) is the other limit: the bound of an int8 row is the slower of reading its
bytes and doing its multiply-adds, and the fraction is that time x the measured rate.
The fraction shown is achieved / limit for the binding resource: bytes x rate / bandwidth for the
decoders (matrix-vector work), flops x rate / peak for pixelcnn-gated, whose row-level work is
matrix-matrix products (its bandwidth fraction is printed too).
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


def per_element(model):
    """(bytes of weights read, flops) per generated element."""
    cfg, params = header(os.path.join(ROOT, "build/bench", model + ".safetensors"))
    total = sum(count(s) for s in params.values())
    if model == "char-lstm":  # the embedding table is read one row at a time
        emb = count(params["embed.weight"])
        w = total - emb + params["embed.weight"][1]
        return 4 * w, 2 * w
    if model == "llama-15m":  # tied: the embedding table is the classifier, read whole every step
        return 4 * total, 2 * total
    if model == "wavenet-20":  # one-hot input: one column of the input convolution
        w = total - count(params["causal.weight"]) + cfg["residual_channels"]
        return 4 * w, 2 * w
    if model == "pixelcnn-gated":
        F, L, k, Hd, lv = cfg["filters"], cfg["layers"], cfg["input_kernel"], cfg["head_hidden"], cfg["levels"]
        per_pixel = L * (2 * F * 2 * F + F * F) + F * (k // 2) + F * Hd + Hd * lv   # horizontal stack, head
        per_row_pixel = F * (k // 2) * k + L * (2 * F * 6 * F + 2 * F * 2 * F)    # vertical stack, per pixel
        return 4 * per_pixel, 2 * (per_pixel + per_row_pixel)
    raise KeyError(model)


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
            models[model] = per_element(model)
        except (FileNotFoundError, KeyError):
            pass
    sizes = sorted({b // k for b, _ in models.values() for k in (1, 4)})  # float32 and int8 bytes
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
    print("model           engine              elements/s   MB/element  bound      achieved      limit  fraction")
    for model, (f32_bytes, flops) in models.items():
        for e in [x for base in roof for x in (base, base + "-int8")]:
            if (model, e) not in rate:
                continue
            v, r = rate[(model, e)], roof[e.removesuffix("-int8")]
            nbytes = f32_bytes // 4 if e.endswith("-int8") else f32_bytes  # int8: one byte per weight
            bw = r["read_gbps"][str(nbytes)]  # at this working set
            if e.endswith("-int8"):
                t_bytes, t_macs = nbytes / (bw * 1e9), flops / 2 / (r["peak_int8_gmacs"] * 1e9)
                if t_macs >= t_bytes:
                    got, lim, unit, bound = flops / 2 * v / 1e9, r["peak_int8_gmacs"], "GMAC/s", "int8 MACs"
                else:
                    got, lim, unit, bound = nbytes * v / 1e9, bw, "GB/s", "read"
                note = f"  (bytes {100 * t_bytes * v:.0f}%, MACs {100 * t_macs * v:.0f}%)"
            elif model == "pixelcnn-gated":
                got, lim, unit = flops * v / 1e9, r["peak_gflops"], "GFLOP/s"
                note = f"  (bandwidth {100 * nbytes * v / 1e9 / bw:.0f}% of its working set's)"
                bound = "compute"
            else:
                got, lim, unit, bound, note = nbytes * v / 1e9, bw, "GB/s", "read", ""
            print(f"{model:<16}{e:<19}{v:>11.0f}{nbytes / 1e6:>13.2f}  {bound:<9}{got:>8.1f} {unit:<8}{lim:>6.1f}"
                  f"{100 * got / lim:>8.0f}%{note}")


if __name__ == "__main__":
    main()
