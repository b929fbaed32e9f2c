#!/usr/bin/python3
"""argen native (build/native/argen, single-threaded): speed from `argen bench`, tokens from `argen eval`.

usage: argen_native.py ARGEN MODEL PROMPT STEPS RUNS REFERENCE.json [llama-15m]

With `llama-15m` (PROMPT then ignored): the prompt is BOS alone (`--prompt-tokens 1`), and the text for
`argen eval` is BOS + the reference tokens in that model's chars tokenizer (token i = chr(0x100 + i)).

Speed: `argen bench --prompt-tokens N --tokens STEPS --runs RUNS` (N = prompt length in bytes; the CLI
feeds N pseudo-random tokens, then times STEPS greedy steps, model.step + argmax; median of the runs).
Tokens: `argen eval --dump-logits` over PROMPT + the reference engine's greedy tokens (teacher forcing).
The argmax at each position is the token argen's own greedy decode would pick there, so the first
position where it differs from the reference is exactly where the two greedy sequences diverge.
Prints one JSON line like the other engines.
"""
import json
import math
import os
import subprocess
import sys
import tempfile


def log_softmax_at(v, i):
    m = max(v)
    return v[i] - m - math.log(sum(math.exp(x - m) for x in v))


def main():
    argen, model, prompt, steps, runs, ref_path = sys.argv[1:7]
    if sys.argv[7:] == ["llama-15m"]:
        p, encode = [1], lambda ids: "".join(chr(0x100 + i) for i in ids).encode()  # BOS
    else:
        p, encode = list(prompt.encode()), bytes
    weights = os.environ.get("ARGEN_WEIGHTS", "f32")  # bench/run.sh sets it
    out = subprocess.run([argen, "bench", "--threads", "1", "--weights", weights, "--model", model,
                          "--prompt-tokens", str(len(p)), "--tokens", steps, "--runs", runs],
                         check=True, capture_output=True, text=True)
    speed = json.loads(out.stdout)

    with open(ref_path) as f:
        ref = json.load(f)["tokens"][:64]  # the tokens report.py compares
    with tempfile.TemporaryDirectory() as tmp:
        text, dump = os.path.join(tmp, "text.bin"), os.path.join(tmp, "logits.json")
        with open(text, "wb") as f:
            f.write(encode(p + ref))
        subprocess.run([argen, "eval", "--weights", weights, "--model", model, "--text-file", text,
                        "--dump-logits", dump],
                       check=True, stdout=subprocess.DEVNULL)
        with open(dump) as f:
            logits = json.load(f)[len(p) - 1:]  # logits after the prompt, then after each reference token
    tokens, logprobs = [], []
    for k, v in enumerate(logits):
        tok = max(range(len(v)), key=v.__getitem__)  # first max on ties
        tokens.append(tok)
        logprobs.append(log_softmax_at(v, tok))
        if k >= len(ref) or tok != ref[k]:
            break  # diverged: later positions would follow the reference, not argen
    print(json.dumps({"engine": "argen-native", "threads": 1, "weights": weights, "steps_per_s": speed["steps_per_s"],
                      "runs": speed["runs"], "tokens": tokens, "logprobs": logprobs,
                      "note": f"simd {speed.get('simd')}"}))


if __name__ == "__main__":
    main()
