#!/usr/bin/python3
"""Reads the engines' JSON lines from each round's DIR, prints the table and the cross-engine check, and
merges MODEL's records into RESULTS (a JSON list shared by all benchmarks: only MODEL's records are
replaced). An engine's rate (steps/s, tokens/s for llama-15m) is the median of its round medians.

usage: report.py MODEL RESULTS "INFO LINES" DIR...
Exit status 1 if an engine disagrees with PyTorch within the first CHECK_HARD greedy tokens.
"""
import json
import os
import statistics
import sys

ENGINES = ["argen-native", "argen-wasm", "argen-wasm-core", "onnxruntime-web", "onnxruntime-node", "pytorch"]
REFERENCE = "pytorch"
CHECK = 64        # tokens compared
CHECK_HARD = 8    # a disagreement before this many tokens is an error, not float drift
LOGPROB_TOL = 1e-5
MODELS = {  # model -> (metric in results.json, its column header, what was timed)
    "char-lstm": ("steps_per_s", "steps/s", "32-byte prompt, then greedy decode; steps/s = decode steps per second"),
    "llama-15m": ("tokens_per_s", "tokens/s", "BOS, then greedy decode with the KV cache; "
                  "tokens/s = decode steps (one token each) per second"),
}


def main():
    model, results_path, info, *dirs = sys.argv[1:]
    metric, unit, what = MODELS[model]
    res = {}
    for e in ENGINES:
        rounds = []
        for d in dirs:
            with open(os.path.join(d, f"{e}.json")) as f:
                rounds.append(json.load(f))
        res[e] = dict(rounds[0], steps_per_s=statistics.median(r["steps_per_s"] for r in rounds),
                      round_medians=[r["steps_per_s"] for r in rounds],
                      rates=[x for r in rounds for x in r.get("rates", [])])

    web, node = res["onnxruntime-web"]["steps_per_s"], res["onnxruntime-node"]["steps_per_s"]
    print(f"{model}: {what}, median of {len(dirs)} round(s)")
    print(info)
    print(f"{'engine':<18}{'threads':>8}  {'dtype':<8}{unit:>9}{'vs ort-web':>12}{'vs ort-node':>13}"
          f"  round medians; all runs min..max")
    for e in ENGINES:
        r = res[e]
        v = r["steps_per_s"]
        spread = " ".join(f"{x:.0f}" for x in r["round_medians"])
        if r["rates"]:
            spread += f"; {min(r['rates']):.0f}..{max(r['rates']):.0f}"
        print(f"{e:<18}{r['threads']:>8}  {'float32':<8}{v:>9.1f}{v / web:>11.2f}x{v / node:>12.2f}x  {spread}")

    # Cross-engine check: greedy tokens (and their log-probabilities) against the reference.
    ref = res[REFERENCE]
    n = min(CHECK, len(ref["tokens"]))
    bad, hard = [], False
    worst = 0.0
    for e in ENGINES:
        t, lp = res[e]["tokens"][:n], res[e]["logprobs"][:n]
        k = next((i for i in range(n) if i >= len(t) or t[i] != ref["tokens"][i]), n)
        if k < n:
            bad.append(f"{e} diverges from {REFERENCE} at generated token {k}")
            hard = hard or k < CHECK_HARD
        worst = max([worst] + [abs(a - b) for a, b in zip(lp[:k], ref["logprobs"][:k])])
    if bad:
        print("tokens: DISAGREE: " + "; ".join(bad))
    else:
        print(f"tokens: all {len(ENGINES)} engines agree on the first {n} greedy tokens")
    print(f"logprobs of those tokens: max |diff| vs {REFERENCE} = {worst:.2e}"
          + ("" if worst <= LOGPROB_TOL else f"  (above {LOGPROB_TOL:g}: check the engines)"))
    for e in ENGINES:
        if res[e].get("note"):
            print(f"note: {e}: {res[e]['note']}")

    records = []
    if os.path.exists(results_path):
        with open(results_path) as f:
            records = [r for r in json.load(f) if r.get("model") != model]
    records += [{"model": model, "engine": e, "threads": res[e]["threads"], "dtype": "float32",
                 "metric": metric, "value": round(res[e]["steps_per_s"], 1)} for e in ENGINES]
    with open(results_path, "w") as f:
        json.dump(records, f, indent=1)
        f.write("\n")
    print(f"wrote {results_path}")
    return 1 if hard else 0


if __name__ == "__main__":
    sys.exit(main())
