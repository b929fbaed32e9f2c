#!/usr/bin/python3
"""PyTorch CPU peer: pixelcnn-gated, naive generation (the full forward once per pixel), greedy, 1 thread.

usage: torch_pixelcnn.py STEPS RUNS CHECK
Prints one JSON line: {"engine", "threads", "ms_per_image" (median), "rates" (ms/image per run),
"tokens" (the first CHECK greedy pixel values, raster order), "logprobs", "note"}.
Timed per run: STEPS pixels from a blank image, each = one GatedPixelCNN forward over the whole
[1,1,28,28] image + argmax of that pixel's 256 logits + writing the level into the image; the time is
extrapolated to a whole image: ms/image = time / STEPS * 784 (every step costs the same: the forward
does not depend on how many pixels are set). Warm-up: one run of CHECK pixels that records the values
and their log-probabilities for the cross-engine check, then more runs until BENCH_WARMUP_S seconds
(default 2) have passed.
"""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models"))
import bench_models  # noqa: E402
from torch_char_lstm import blas  # noqa: E402


def run(net, steps, record=False):
    """`steps` greedy pixels from a blank image -> (ms per 784-pixel image, values, log-probabilities)."""
    H, W = net.height, net.width
    img = torch.zeros(1, 1, H, W, dtype=torch.int64)
    values, logprobs = [], []
    t0 = time.perf_counter()
    for k in range(steps):
        i, j = divmod(k, W)
        logits = net(img)[0, 0, i, j]
        v = logits.argmax()
        img[0, 0, i, j] = v
        if record:
            values.append(int(v))
            logprobs.append(float(torch.log_softmax(logits.double(), 0)[v]))
    dt = time.perf_counter() - t0
    return dt * 1000 / steps * (H * W), values, logprobs


def main():
    steps, runs, check = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(1)
    net = bench_models.pixelcnn_gated()
    with torch.inference_mode():
        _, values, logprobs = run(net, check, record=True)  # warm-up and correctness record
        end = time.perf_counter() + float(os.environ.get("BENCH_WARMUP_S", 2))
        while time.perf_counter() < end:
            run(net, steps)
        rates = [run(net, steps)[0] for _ in range(runs)]
    print(json.dumps({"engine": "pytorch", "threads": torch.get_num_threads(),
                      "ms_per_image": statistics.median(rates), "rates": rates,
                      "tokens": values, "logprobs": logprobs,
                      "note": f"torch {torch.__version__}, BLAS {blas()}; {steps} of 784 pixels timed, "
                              "extrapolated"}))


if __name__ == "__main__":
    main()
