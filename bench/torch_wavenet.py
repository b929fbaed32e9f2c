#!/usr/bin/python3
"""PyTorch CPU peer: wavenet-20, fast generation with per-layer queues, greedy, 1 thread.

usage: torch_wavenet.py SAMPLES RUNS CHECK
Prints one JSON line: {"engine", "threads", "samples_per_s" (median), "rates", "tokens" (the first
CHECK greedy codes), "logprobs", "note"}.
Generation starts from empty queues (zeros: the causal padding) with input code 128 (mu-law 0.0,
silence); each sample = one step of bench/wavenet_step.py's `Queues` (the WaveNet module's weights, one
[d_l, 64] ring per layer, two matrix-vector products per layer, then the head) + argmax of its 256
logits, which is the next input. Timed per run: SAMPLES samples; samples/s = SAMPLES / time (real-time
factor = samples/s / 16000). Warm-up: one run of CHECK samples that records the codes and their
log-probabilities for the cross-engine check, then more runs until BENCH_WARMUP_S seconds (default 2)
have passed.
"""
import json
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "models"))
import bench_models  # noqa: E402
from torch_char_lstm import blas  # noqa: E402
from wavenet_step import Queues, WaveNetStep  # noqa: E402

FIRST = 128  # the first input code: mu-law silence


def run(queues, n, record=False):
    """`n` greedy samples from empty queues -> (samples/s, codes, log-probabilities)."""
    queues.reset()
    code = torch.tensor([FIRST])
    codes, logprobs = [], []
    t0 = time.perf_counter()
    for _ in range(n):
        logits = queues(code)[0]
        code = logits.argmax().view(1)
        if record:
            codes.append(int(code))
            logprobs.append(float(torch.log_softmax(logits.double(), 0)[code]))
    dt = time.perf_counter() - t0
    return n / dt, codes, logprobs


def main():
    samples, runs, check = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(1)
    queues = Queues(WaveNetStep(bench_models.wavenet_20()).eval())
    with torch.inference_mode():
        _, codes, logprobs = run(queues, check, record=True)  # warm-up and correctness record
        end = time.perf_counter() + float(os.environ.get("BENCH_WARMUP_S", 2))
        while time.perf_counter() < end:
            run(queues, min(samples, 1000))
        rates = [run(queues, samples)[0] for _ in range(runs)]
    print(json.dumps({"engine": "pytorch", "threads": torch.get_num_threads(),
                      "samples_per_s": statistics.median(rates), "rates": rates,
                      "tokens": codes, "logprobs": logprobs,
                      "note": f"torch {torch.__version__}, BLAS {blas()}"}))


if __name__ == "__main__":
    main()
