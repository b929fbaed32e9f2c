#!/usr/bin/python3
"""Writes the benchmark models into OUT_DIR (default build/bench):

  usage: make_models.py [OUT_DIR [MODEL...]]   (MODEL: char-lstm, llama-15m; default both)

  char-lstm.safetensors   argen model, written by models/bench_models.py (its CLI)
  char-lstm.step.onnx     one decode step for onnxruntime, exported with torch.onnx.export from the
                          same PyTorch module: inputs token [1,1] int64, h [2,1,512], c [2,1,512];
                          outputs logits [1,1,256], h_n [2,1,512], c_n [2,1,512]

  llama-15m.safetensors   argen model, written by models/bench_models.py (its CLI)
  llama-15m.step.onnx     one cached decode step (bench/llama_step.py, LlamaStep around the same
                          Llama module), torch.onnx.export: inputs token [1,1] int64, pos [1] int64,
                          k_cache, v_cache [6,P,288] (P = pos, dynamic); outputs logits [1,1,32000],
                          k_cache_out, v_cache_out [6,P+1,288]

and checks that both files of a model hold the same weights (the .safetensors tensors equal the
module's state_dict), and that LlamaStep, step by step, gives the reference Llama forward's logits.
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
from llama_step import LlamaStep  # noqa: E402  (bench/llama_step.py)


class Step(nn.Module):
    """One decode step of the char-lstm LM with explicit state (what ONNX needs)."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, token, h, c):
        out, (h_n, c_n) = self.lm.rnn(self.lm.embed(token), (h, c))
        return self.lm.head(out), h_n, c_n


def write_argen(model_id, out_dir):
    """models/bench_models.py MODEL OUT, then checks the file against bench_models' module."""
    st_path = os.path.join(out_dir, f"{model_id}.safetensors")
    subprocess.run([sys.executable, os.path.join(ROOT, "models", "bench_models.py"), model_id, st_path],
                   check=True, stdout=subprocess.DEVNULL)
    lm = bench_models.BUILDERS[model_id][0]()
    tensors, _ = st.load(st_path)
    sd = {k: v for k, v in lm.state_dict().items() if k in tensors or not k.startswith("output.")}
    if set(tensors) != set(sd):  # (a tied output.weight is not stored)
        sys.exit(f"make_models: tensor names differ: {sorted(set(tensors) ^ set(sd))}")
    for k, v in sd.items():
        if not np.array_equal(tensors[k], v.numpy()):
            sys.exit(f"make_models: {k} differs between {st_path} and bench_models.{model_id}")
    return lm, st_path


def char_lstm(out_dir):
    lm, st_path = write_argen("char-lstm", out_dir)
    onnx_path = os.path.join(out_dir, "char-lstm.step.onnx")
    H, L = lm.rnn.hidden_size, lm.rnn.num_layers
    args = (torch.zeros(1, 1, dtype=torch.int64), torch.zeros(L, 1, H), torch.zeros(L, 1, H))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 1.13's exporter warns about LSTM shape inference
        torch.onnx.export(Step(lm), args, onnx_path, opset_version=17,
                          input_names=["token", "h", "c"], output_names=["logits", "h_n", "c_n"])
    print(f"wrote {st_path} and {onnx_path}")


def llama_15m(out_dir):
    lm, st_path = write_argen("llama-15m", out_dir)
    onnx_path = os.path.join(out_dir, "llama-15m.step.onnx")
    step = LlamaStep(lm).eval()
    # The cached step must give the full forward's logits at every position (a few steps from BOS).
    toks = [1, 7, 31999, 300, 12345, 5, 5, 42]
    with torch.no_grad():
        ref = lm(torch.tensor([toks]))[0]
        k, v = step.empty_cache()
        for i, t in enumerate(toks):
            logits, k, v = step(torch.tensor([[t]]), torch.tensor([i]), k, v)
            err = float((logits[0, 0] - ref[i]).abs().max())
            if err > 1e-5:
                sys.exit(f"make_models: LlamaStep differs from Llama.forward at position {i}: {err:.2e}")
        P = 3  # export with a non-empty cache; P is a dynamic axis
        args = (torch.tensor([[1]]), torch.tensor([P]), k[:, :P].clone(), v[:, :P].clone())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(step, args, onnx_path, opset_version=17,
                              input_names=["token", "pos", "k_cache", "v_cache"],
                              output_names=["logits", "k_cache_out", "v_cache_out"],
                              dynamic_axes={"k_cache": {1: "past"}, "v_cache": {1: "past"},
                                            "k_cache_out": {1: "present"}, "v_cache_out": {1: "present"}})
    print(f"wrote {st_path} and {onnx_path} (LlamaStep = Llama.forward over {len(toks)} positions)")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "bench")
    models = sys.argv[2:] or ["char-lstm", "llama-15m"]
    os.makedirs(out_dir, exist_ok=True)
    for m in models:
        {"char-lstm": char_lstm, "llama-15m": llama_15m}[m](out_dir)


if __name__ == "__main__":
    main()
