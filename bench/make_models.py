#!/usr/bin/python3
"""Writes the char-lstm benchmark models into OUT_DIR (default build/bench):

  char-lstm.safetensors   argen model, written by models/bench_models.py (its CLI)
  char-lstm.step.onnx     one decode step for onnxruntime, exported with torch.onnx.export from the
                          same PyTorch module: inputs token [1,1] int64, h [2,1,512], c [2,1,512];
                          outputs logits [1,1,256], h_n [2,1,512], c_n [2,1,512]

and checks that both hold the same weights (the .safetensors tensors equal the module's state_dict).
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "models"))
import bench_models  # noqa: E402  (models/bench_models.py)
import safetensors_io as st  # noqa: E402


class Step(nn.Module):
    """One decode step of the char-lstm LM with explicit state (what ONNX needs)."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, token, h, c):
        out, (h_n, c_n) = self.lm.rnn(self.lm.embed(token), (h, c))
        return self.lm.head(out), h_n, c_n


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "bench")
    os.makedirs(out_dir, exist_ok=True)
    st_path = os.path.join(out_dir, "char-lstm.safetensors")
    onnx_path = os.path.join(out_dir, "char-lstm.step.onnx")

    subprocess.run([sys.executable, os.path.join(ROOT, "models", "bench_models.py"), "char-lstm", st_path],
                   check=True, stdout=subprocess.DEVNULL)
    lm = bench_models.char_lstm().eval()

    # Same weights in both files, bit for bit.
    tensors, _ = st.load(st_path)
    sd = lm.state_dict()
    if set(tensors) != set(sd):
        sys.exit(f"make_models: tensor names differ: {sorted(set(tensors) ^ set(sd))}")
    for k, v in sd.items():
        if not np.array_equal(tensors[k], v.numpy()):
            sys.exit(f"make_models: {k} differs between {st_path} and bench_models.char_lstm()")

    H, L = lm.rnn.hidden_size, lm.rnn.num_layers
    args = (torch.zeros(1, 1, dtype=torch.int64), torch.zeros(L, 1, H), torch.zeros(L, 1, H))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 1.13's exporter warns about LSTM shape inference
        torch.onnx.export(Step(lm), args, onnx_path, opset_version=17,
                          input_names=["token", "h", "c"], output_names=["logits", "h_n", "c_n"])
    print(f"wrote {st_path} and {onnx_path}")


if __name__ == "__main__":
    main()
