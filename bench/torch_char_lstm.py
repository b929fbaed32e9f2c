#!/usr/bin/python3
"""PyTorch CPU peer: char-lstm step by step with explicit (h, c), greedy, 1 thread.

usage: torch_char_lstm.py PROMPT STEPS RUNS
Prints one JSON line: {"engine", "threads", "steps_per_s" (median), "rates", "tokens", "logprobs"}.
Timed per run: STEPS decode steps (argmax of the last logits, then one model step) after the prompt.
Warm-up: one run that records the tokens and their log-probabilities for the cross-engine check, then
more runs until BENCH_WARMUP_S seconds (default 2) have passed.
"""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models"))
import bench_models  # noqa: E402


def run(lm, prompt_ids, steps, record=False):
    """Prompt, then `steps` greedy steps -> (steps/s, tokens, log-probabilities); records if asked."""
    state = None
    for t in prompt_ids:  # the prompt, one step at a time like every other engine
        logits, state = lm(torch.tensor([[t]]), state)
    tokens, logprobs = [], []
    t0 = time.perf_counter()
    for _ in range(steps):
        tok = logits[0, -1].argmax()
        if record:
            tokens.append(int(tok))
            logprobs.append(float(torch.log_softmax(logits[0, -1].double(), 0)[tok]))
        logits, state = lm(tok.view(1, 1), state)
    dt = time.perf_counter() - t0
    return steps / dt, tokens, logprobs


def blas():
    """The BLAS library torch is using (from this process's memory map), e.g. openblas-serial."""
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "blas" in line}
    return ", ".join(sorted({os.path.basename(os.path.dirname(p)) for p in libs})) or "unknown"


def report(timed_run, runs, tokens, logprobs):
    """After the recording run: BENCH_WARMUP_S more seconds of warm-up (like the other engines),
    then `runs` timed runs; prints the engine's JSON line."""
    end = time.perf_counter() + float(os.environ.get("BENCH_WARMUP_S", 2))
    while time.perf_counter() < end:
        timed_run()
    rates = [timed_run() for _ in range(runs)]
    print(json.dumps({"engine": "pytorch", "threads": torch.get_num_threads(),
                      "steps_per_s": statistics.median(rates), "rates": rates,
                      "tokens": tokens, "logprobs": logprobs,
                      "note": f"torch {torch.__version__}, BLAS {blas()}"}))


def main():
    prompt, steps, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(1)
    lm = bench_models.char_lstm().eval()
    ids = list(prompt.encode("utf-8"))
    with torch.inference_mode():
        _, tokens, logprobs = run(lm, ids, steps, record=True)  # warm-up and correctness record
        report(lambda: run(lm, ids, steps)[0], runs, tokens, logprobs)


if __name__ == "__main__":
    main()
