#!/usr/bin/python3
"""PyTorch CPU peer for llama-15m: bench/llama_step.py's cached step (what the ONNX model runs), greedy
from BOS, 1 thread.

usage: torch_llama.py STEPS RUNS
Per run: one step on BOS (token 1, position 0, empty caches; not timed), then STEPS timed decode steps
(argmax of the last logits, then one LlamaStep). Warm-up and output as torch_char_lstm.py.
"""
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "models"))
import bench_models  # noqa: E402
from llama_step import LlamaStep  # noqa: E402
from torch_char_lstm import report  # noqa: E402

BOS = 1


def run(step, steps, record=False):
    k, v = step.empty_cache()
    logits, k, v = step(torch.tensor([[BOS]]), torch.tensor([0]), k, v)
    tokens, logprobs = [], []
    t0 = time.perf_counter()
    for i in range(1, steps + 1):
        tok = logits[0, -1].argmax()
        if record:
            tokens.append(int(tok))
            logprobs.append(float(torch.log_softmax(logits[0, -1].double(), 0)[tok]))
        logits, k, v = step(tok.view(1, 1), torch.tensor([i]), k, v)
    dt = time.perf_counter() - t0
    return steps / dt, tokens, logprobs


def main():
    steps, runs = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(1)
    step = LlamaStep(bench_models.llama_15m()).eval()
    with torch.inference_mode():
        _, tokens, logprobs = run(step, steps, record=True)
        report(lambda: run(step, steps)[0], runs, tokens, logprobs)


if __name__ == "__main__":
    main()
