#!/usr/bin/python3
"""Reads the engines' JSON lines from each round's DIR, prints the table and the cross-engine check, and
merges MODEL's records into RESULTS (a JSON list shared by all benchmarks: only MODEL's records are
replaced). An engine's rate (steps/s; tokens/s for llama-15m; ms/image, lower is better, for
pixelcnn-gated; samples/s and the real-time factor samples/s / 16000 for wavenet-20) is the median of its
round medians. An engine whose JSON line says {"skipped": WHY} (run.sh's argen rows for a model the
argen build cannot run yet) is listed as skipped and gets no record.

usage: report.py MODEL RESULTS "INFO LINES" DIR...
Exit status 1 if an engine disagrees with PyTorch within the first CHECK_HARD greedy tokens ("tokens":
pixel values for pixelcnn-gated, codes for wavenet-20).
"""
import json
import os
import statistics
import sys

ENGINES = ["argen-native", "argen-native-int8", "argen-wasm", "argen-wasm-int8", "argen-wasm-2t", "argen-wasm-2t-int8",
           "argen-wasm-core", "onnxruntime-web", "onnxruntime-web-2t", "onnxruntime-node", "pytorch"]
INT8_REFERENCE = "argen-native-int8"  # int8 rows are checked against it (PyTorch runs float32)
REFERENCE = "pytorch"
CHECK = 64        # tokens compared
CHECK_HARD = 8    # a disagreement before this many tokens is an error, not float drift
LOGPROB_TOL = 1e-5
MODELS = {  # model -> (metric in results.json, its column header, what was timed, the engines' JSON key,
            #           higher is better)
    "char-lstm": ("steps_per_s", "steps/s", "32-byte prompt, then greedy decode; steps/s = decode steps per second",
                  "steps_per_s", True),
    "llama-15m": ("tokens_per_s", "tokens/s", "BOS, then greedy decode with the KV cache; "
                  "tokens/s = decode steps (one token each) per second", "steps_per_s", True),
    "pixelcnn-gated": ("ms_per_image", "ms/image", "greedy generation of one 28x28 image (784 pixels); "
                       "lower is better; 'vs' columns: how many times faster", "ms_per_image", False),
    "wavenet-20": ("samples_per_s", "samples/s", "greedy generation from silence (code 128) with per-layer "
                   "queues; real-time factor = samples/s / 16000", "samples_per_s", True),
}
SAMPLE_RATE = 16000  # wavenet-20: real-time factor = samples/s / SAMPLE_RATE


def dtype(engine):
    return "int8" if engine.endswith("-int8") else "float32"


def main():
    model, results_path, info, *dirs = sys.argv[1:]
    metric, unit, what, key, higher = MODELS[model]
    res, skipped = {}, {}
    for e in ENGINES:
        rounds = []
        if not all(os.path.exists(os.path.join(d, f"{e}.json")) for d in dirs):
            continue  # an engine this model has no row for (argen-wasm-core: text models only)
        for d in dirs:
            with open(os.path.join(d, f"{e}.json")) as f:
                rounds.append(json.load(f))
        if any("skipped" in r for r in rounds):  # e.g. argen rows for an arch the CLI cannot run yet
            skipped[e] = next(r["skipped"] for r in rounds if "skipped" in r)
            continue
        res[e] = dict(rounds[0], value=statistics.median(r[key] for r in rounds),
                      round_medians=[r[key] for r in rounds],
                      rates=[x for r in rounds for x in r.get("rates", [])])
    engines = [e for e in ENGINES if e in res]

    def faster(v, than):  # how many times faster than `than` (>1: faster)
        return v / than if higher else than / v

    web, node = res["onnxruntime-web"]["value"], res["onnxruntime-node"]["value"]
    rtf = model == "wavenet-20"
    print(f"{model}: {what}, median of {len(dirs)} round(s)")
    print(info)
    web2 = res.get("onnxruntime-web-2t", res["onnxruntime-web"])["value"]
    print(f"{'engine':<20}{'threads':>8}  {'dtype':<8}{unit:>10}" + (f"{'realtime':>10}" if rtf else "")
          + f"{'vs ort-web':>12}{'vs ort-node':>13}  round medians; all runs min..max")
    for e in engines:
        r = res[e]
        v = r["value"]
        spread = " ".join(f"{x:.0f}" for x in r["round_medians"])
        if r["rates"]:
            spread += f"; {min(r['rates']):.0f}..{max(r['rates']):.0f}"
        peer = web2 if r["threads"] > 1 else web  # ort-web with the same thread count
        print(f"{e:<20}{r['threads']:>8}  {dtype(e):<8}{v:>10.1f}" + (f"{v / SAMPLE_RATE:>9.3f}x" if rtf else "")
              + f"{faster(v, peer):>11.2f}x{faster(v, node):>12.2f}x  {spread}")
    print("vs ort-web: against onnxruntime-web with the same number of threads")
    for why in dict.fromkeys(skipped.values()):
        print(f"skipped: {', '.join(e for e in skipped if skipped[e] == why)}: {why}")

    # Cross-engine check: greedy tokens (and their log-probabilities): float32 engines against
    # PyTorch, int8 ones against argen native int8 (same integer products: must agree exactly).
    hard = False
    for group, reference in (("float32", REFERENCE), ("int8", INT8_REFERENCE)):
        members = [e for e in engines if dtype(e) == group]
        if reference not in res or not members:
            continue
        ref = res[reference]
        n = min(CHECK, len(ref["tokens"]))
        if group == "int8":  # argen native's list runs one past the PyTorch tokens it was fed
            n = min([n] + [len(res[e]["tokens"]) for e in members if e != reference])
        bad, worst = [], 0.0
        for e in members:
            t, lp = res[e]["tokens"][:n], res[e]["logprobs"][:n]
            k = next((i for i in range(n) if i >= len(t) or t[i] != ref["tokens"][i]), n)
            if k < n:
                bad.append(f"{e} diverges from {reference} at generated token {k}")
                hard = hard or k < CHECK_HARD
            worst = max([worst] + [abs(a - b) for a, b in zip(lp[:k], ref["logprobs"][:k])])
        if bad:
            print(f"{group} tokens: DISAGREE: " + "; ".join(bad))
        else:
            print(f"{group} tokens: all {len(members)} engines agree on the first {n} greedy tokens")
        print(f"  logprobs of those tokens: max |diff| vs {reference} = {worst:.2e}"
              + ("" if worst <= LOGPROB_TOL else f"  (above {LOGPROB_TOL:g}: check the engines)"))
    if "argen-native-int8" in res:  # how far int8 drifts from float32 (not an error)
        t8, t32 = res["argen-native-int8"]["tokens"], res[REFERENCE]["tokens"]
        k = next((i for i in range(min(len(t8), len(t32))) if t8[i] != t32[i]), min(len(t8), len(t32)))
        print(f"int8 vs float32 (PyTorch): same greedy tokens for the first {k} of {min(len(t8), len(t32))}")
    for e in engines:
        if res[e].get("note"):
            print(f"note: {e}: {res[e]['note']}")

    records = []
    if os.path.exists(results_path):
        with open(results_path) as f:
            records = [r for r in json.load(f) if r.get("model") != model]
    records += [{"model": model, "engine": e, "threads": res[e]["threads"], "dtype": dtype(e),
                 "metric": metric, "value": round(res[e]["value"], 1)} for e in engines]
    if rtf:
        records += [{"model": model, "engine": e, "threads": res[e]["threads"], "dtype": dtype(e),
                     "metric": "realtime_factor", "value": round(res[e]["value"] / SAMPLE_RATE, 4)}
                    for e in engines]
    with open(results_path, "w") as f:
        json.dump(records, f, indent=1)
        f.write("\n")
    print(f"wrote {results_path}")
    return 1 if hard else 0


if __name__ == "__main__":
    sys.exit(main())
