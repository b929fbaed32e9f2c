#!/usr/bin/python3
"""How close argen runs to this machine's limits: measures the roofline (read bandwidth from the L3
cache and from DRAM, peak SIMD multiply-adds; one thread; native and wasm) and sets each suite model's
measured rate (bench/results.json, argen-native and argen-wasm rows, float32 and int8, 1 thread) against
the limit that binds it.

    bench/roofline.py [results.json]      (needs build/native/argen, build/wasm/pkg, build/bench/*.safetensors)

Per generated element (token, sample, pixel), from the model files' configs:
  bytes: float32 weights read (every matrix once per step). A weight set that fits the 32 MiB L3 is
         bound by L3 bandwidth; a larger one at best reads 32 MiB from L3 and the rest from DRAM, so
         its shortest step is 32 MiB / L3 bandwidth + the rest / DRAM bandwidth;
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
L3_BYTES = 32 << 20


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


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bench/results.json")
    native = json.loads(subprocess.run([os.path.join(ROOT, "build/native/argen"), "roofline"], check=True,
                                       capture_output=True, text=True).stdout)
    wasm = json.loads(subprocess.run(["node", os.path.join(ROOT, "bench/roofline.mjs")], check=True,
                                     capture_output=True, text=True).stdout)
    roof = {"argen-native": native, "argen-wasm": wasm}
    print("roofline (1 thread)       L3 read GB/s  DRAM read GB/s  peak GFLOP/s  int8 GMAC/s  simd")
    for e, r in roof.items():
        print(f"  {e:<22}{r['cache_gbps']:>13.1f}{r['memory_gbps']:>16.1f}{r['peak_gflops']:>14.1f}"
              f"{r['peak_int8_gmacs']:>13.1f}  {r['simd']}")
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
    for model in ("char-lstm", "llama-15m", "wavenet-20", "pixelcnn-gated"):
        try:
            f32_bytes, flops = per_element(model)
        except (FileNotFoundError, KeyError):
            continue
        for e in [x for base in roof for x in (base, base + "-int8")]:
            if (model, e) not in rate:
                continue
            v, r = rate[(model, e)], roof[e.removesuffix("-int8")]
            nbytes = f32_bytes // 4 if e.endswith("-int8") else f32_bytes  # int8: one byte per weight
            if e.endswith("-int8"):
                in_cache = nbytes <= L3_BYTES
                bw = r["cache_gbps"] if in_cache else r["memory_gbps"]
                t_bytes, t_macs = nbytes / (bw * 1e9), flops / 2 / (r["peak_int8_gmacs"] * 1e9)
                if t_macs >= t_bytes:
                    got, lim, unit, bound = flops / 2 * v / 1e9, r["peak_int8_gmacs"], "GMAC/s", "int8 MACs"
                else:
                    got, lim, unit, bound = nbytes * v / 1e9, bw, "GB/s", "L3 read" if in_cache else "DRAM"
                note = f"  (bytes {100 * t_bytes * v:.0f}%, MACs {100 * t_macs * v:.0f}%)"
            elif model == "pixelcnn-gated":
                got, lim, unit = flops * v / 1e9, r["peak_gflops"], "GFLOP/s"
                bw = nbytes * v / 1e9 / r["cache_gbps"]
                note = f"  (bandwidth {100 * bw:.0f}% of L3)"
                bound = "compute"
            else:
                in_cache = nbytes <= L3_BYTES
                if in_cache:
                    lim = r["cache_gbps"]
                else:  # the bandwidth of the best case: L3's share from L3, the rest from DRAM
                    t = L3_BYTES / (r["cache_gbps"] * 1e9) + (nbytes - L3_BYTES) / (r["memory_gbps"] * 1e9)
                    lim = nbytes / t / 1e9
                got, unit = nbytes * v / 1e9, "GB/s"
                bound, note = ("L3 read" if in_cache else "L3+DRAM"), ""
            print(f"{model:<16}{e:<19}{v:>11.0f}{nbytes / 1e6:>13.2f}  {bound:<9}{got:>8.1f} {unit:<8}{lim:>6.1f}"
                  f"{100 * got / lim:>8.0f}%{note}")


if __name__ == "__main__":
    main()
