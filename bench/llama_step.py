"""One cached decode step of the reference `Llama` module (models/transformers.py), for the llama-15m
benchmark: the same code runs in PyTorch (torch_llama.py) and, exported with torch.onnx.export, in
onnxruntime (llama-15m.step.onnx, written by make_models.py).

    LlamaStep(llama)(token [1,1] int64, pos [1] int64, k_cache [L,P,KV*hd], v_cache [L,P,KV*hd])
        -> logits [1,1,V], k_cache' [L,P+1,KV*hd], v_cache' [L,P+1,KV*hd]

The caches hold the keys (after RoPE) and values of the P = pos earlier positions of every layer; the
step appends this position's and attends over all P+1 (no mask needed, nothing wasted: the cache
grows by one row per step, like the past/present key-values of onnxruntime's LLM exports). P is a
dynamic axis of the ONNX graph; the first step (the BOS token) gets empty [L,0,KV*hd] caches. The
weights, RMSNorm, RoPE (`apply_rope`, llama2.c's interleaved pairs), SwiGLU and the tied classifier
are the module's own; only the attention is rewritten for one query position.
"""
import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models"))
from transformers import apply_rope, rope_cos_sin  # noqa: E402


class LlamaStep(nn.Module):
    def __init__(self, llama):
        super().__init__()
        self.llama = llama
        self.hd = llama.dim // llama.n_heads
        cos, sin = rope_cos_sin(self.hd, llama.context_length, llama.rope_theta)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, token, pos, k_cache, v_cache):
        m, hd = self.llama, self.hd
        H, KV = m.n_heads, m.n_kv_heads
        rep = H // KV
        cos, sin = self.cos.index_select(0, pos), self.sin.index_select(0, pos)  # [1, hd/2]
        x = m.tok_embeddings(token)  # [1, 1, D]
        ks, vs = [], []
        for i, layer in enumerate(m.layers):
            a = layer.attention
            h = layer.attention_norm(x)
            q = apply_rope(a.wq(h).view(1, 1, H, hd), cos, sin).view(H, 1, hd)
            k = apply_rope(a.wk(h).view(1, 1, KV, hd), cos, sin).view(1, KV * hd)
            v = a.wv(h).view(1, KV * hd)
            kc = torch.cat([k_cache[i], k], 0)  # [P+1, KV*hd]
            vc = torch.cat([v_cache[i], v], 0)
            ks.append(kc)
            vs.append(vc)
            K = kc.view(-1, KV, hd).transpose(0, 1)  # [KV, P+1, hd]
            V = vc.view(-1, KV, hd).transpose(0, 1)
            if rep > 1:
                K, V = K.repeat_interleave(rep, 0), V.repeat_interleave(rep, 0)
            att = torch.softmax((q @ K.transpose(1, 2)) * (1.0 / math.sqrt(hd)), -1)  # [H, 1, P+1]
            y = (att @ V).transpose(0, 1).reshape(1, 1, H * hd)
            x = x + a.wo(y)
            x = x + layer.feed_forward(layer.ffn_norm(x))
        return m.output(m.norm(x)), torch.stack(ks), torch.stack(vs)

    def empty_cache(self):
        m = self.llama
        return torch.zeros(m.n_layers, 0, m.n_kv_heads * self.hd), torch.zeros(m.n_layers, 0, m.n_kv_heads * self.hd)
