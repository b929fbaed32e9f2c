"""PyTorch reference modules for the decoder-only transformers argen runs: `GPT` and `Llama`.

State-dict names follow nanoGPT's model.py (GPT) and llama2.c's model.py (Llama), so their
checkpoints load without renaming and models/export.py writes the names src/models/transformer.cc
reads. The constructor arguments are the keys of the exported `config` (see `config()`).

Both modules compute the whole sequence at once (no cache): forward(tokens[B, T]) ->
logits[B, T, V], where logits[:, i] depend on tokens[:, :i+1] only (causal attention).

GPT (arch "gpt"), pre-LayerNorm, per block:
    x = x + c_proj(attn(ln_1(x)))          attn: softmax(q k^T / sqrt(hd) + causal mask) v per head,
                                                  q | k | v = c_attn(h) split in three along features
    x = x + mlp.c_proj(gelu(mlp.c_fc(ln_2(x))))
  input wte[token] + wpe[position], output lm_head(ln_f(x)) (lm_head.weight is wte.weight if tied).
  LayerNorm: (x - mean) / sqrt(var + eps) * w (+ b); var is the biased variance.
  bias=False drops every bias, LayerNorm's included; gelu 'exact' (erf) or 'tanh' (approximation).

Llama (arch "llama"), per block:
    x = x + wo(attn(rope(wq h), rope(wk h), wv h)),  h = attention_norm(x)
    x = x + w2(silu(w1 h) * w3 h),                   h = ffn_norm(x)
  input tok_embeddings[token] (no positions), output output(norm(x)) (tied: tok_embeddings).
  RMSNorm: x * rsqrt(mean(x^2) + eps) * w.  RoPE: within each head, the pair (x[2i], x[2i+1])
  is rotated by the angle pos * theta^(-2i/hd), i = 0 .. hd/2-1 (llama2.c's interleaved pairs,
  not the half-split of HF's rotate_half). Grouped-query attention: query head h reads key/value
  head h // (n_heads / n_kv_heads). No biases anywhere.
"""

import math

import torch
from torch import nn
import torch.nn.functional as F


def _causal_attention(q, k, v):
    """q, k, v: [B, H, T, hd] -> [B, H, T, hd]; position i attends to positions 0..i."""
    T, hd = q.shape[-2], q.shape[-1]
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


# ----------------------------------------------------------------------------- GPT

class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (torch 1.13's nn.LayerNorm cannot drop only the bias)."""

    def __init__(self, ndim, bias=True, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class CausalSelfAttention(nn.Module):
    def __init__(self, dim, n_heads, bias):
        super().__init__()
        self.n_heads = n_heads
        self.c_attn = nn.Linear(dim, 3 * dim, bias=bias)  # q | k | v stacked along the outputs
        self.c_proj = nn.Linear(dim, dim, bias=bias)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.c_attn(x).split(D, dim=2)
        heads = lambda t: t.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2)  # noqa: E731
        y = _causal_attention(heads(q), heads(k), heads(v))
        return self.c_proj(y.transpose(1, 2).reshape(B, T, D))


class MLP(nn.Module):
    def __init__(self, dim, hidden_dim, bias, gelu):
        super().__init__()
        self.approximate = "tanh" if gelu == "tanh" else "none"
        self.c_fc = nn.Linear(dim, hidden_dim, bias=bias)
        self.c_proj = nn.Linear(hidden_dim, dim, bias=bias)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate=self.approximate))


class GPTBlock(nn.Module):
    def __init__(self, dim, n_heads, hidden_dim, norm_eps, bias, gelu):
        super().__init__()
        self.ln_1 = LayerNorm(dim, bias, norm_eps)
        self.attn = CausalSelfAttention(dim, n_heads, bias)
        self.ln_2 = LayerNorm(dim, bias, norm_eps)
        self.mlp = MLP(dim, hidden_dim, bias, gelu)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """nanoGPT-style decoder (arch "gpt").

    vocab_size V, dim D, n_layers L, n_heads H (divides D), hidden_dim F of the MLP (default 4D),
    context_length T (rows of the learned position table), norm_eps of the LayerNorms,
    tied (lm_head shares wte's weight), bias (all Linear and LayerNorm biases),
    gelu 'exact' | 'tanh'.
    """

    argen_arch = "gpt"  # what models/export.py looks for

    def __init__(self, vocab_size, dim, n_layers, n_heads, context_length, hidden_dim=None,
                 norm_eps=1e-5, tied=False, bias=True, gelu="exact"):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"n_heads={n_heads} does not divide dim={dim}")
        if gelu not in ("exact", "tanh"):
            raise ValueError(f"gelu must be 'exact' or 'tanh', got {gelu!r}")
        hidden_dim = 4 * dim if hidden_dim is None else hidden_dim
        self.vocab_size, self.dim, self.n_layers, self.n_heads = vocab_size, dim, n_layers, n_heads
        self.context_length, self.hidden_dim, self.norm_eps = context_length, hidden_dim, norm_eps
        self.tied, self.bias, self.gelu = bool(tied), bool(bias), gelu
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, dim),
            wpe=nn.Embedding(context_length, dim),
            h=nn.ModuleList(GPTBlock(dim, n_heads, hidden_dim, norm_eps, bias, gelu)
                            for _ in range(n_layers)),
            ln_f=LayerNorm(dim, bias, norm_eps)))
        self.lm_head = nn.Linear(dim, vocab_size, bias=False)
        if tied:
            self.transformer.wte.weight = self.lm_head.weight  # as nanoGPT: one Parameter, two names

    def config(self):
        """The exported config (and the constructor's keyword arguments)."""
        return dict(vocab_size=self.vocab_size, dim=self.dim, n_layers=self.n_layers,
                    n_heads=self.n_heads, hidden_dim=self.hidden_dim,
                    context_length=self.context_length, norm_eps=self.norm_eps, tied=self.tied,
                    bias=self.bias, gelu=self.gelu)

    def forward(self, tokens):
        B, T = tokens.shape
        if T > self.context_length:
            raise ValueError(f"{T} tokens exceed the context length {self.context_length}")
        pos = torch.arange(T, device=tokens.device)
        x = self.transformer.wte(tokens) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


# ----------------------------------------------------------------------------- Llama

class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_cos_sin(head_dim, length, theta):
    """cos, sin [length, head_dim/2] of the angles pos * theta^(-2i/head_dim) (float64 -> float32)."""
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(length, dtype=torch.float64), inv_freq)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x, cos, sin):
    """x [B, T, heads, hd]: rotate each pair (x[..., 2i], x[..., 2i+1]) by angle[t, i]."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, dim, n_heads, n_kv_heads):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, dim // n_heads
        self.wq = nn.Linear(dim, n_heads * self.head_dim, bias=False)
        self.wk = nn.Linear(dim, n_kv_heads * self.head_dim, bias=False)
        self.wv = nn.Linear(dim, n_kv_heads * self.head_dim, bias=False)
        self.wo = nn.Linear(n_heads * self.head_dim, dim, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        hd = self.head_dim
        q = apply_rope(self.wq(x).view(B, T, self.n_heads, hd), cos, sin)
        k = apply_rope(self.wk(x).view(B, T, self.n_kv_heads, hd), cos, sin)
        v = self.wv(x).view(B, T, self.n_kv_heads, hd)
        rep = self.n_heads // self.n_kv_heads  # query head h uses kv head h // rep
        k = k.repeat_interleave(rep, dim=2)
        v = v.repeat_interleave(rep, dim=2)
        y = _causal_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.wo(y.transpose(1, 2).reshape(B, T, self.n_heads * hd))


class FeedForward(nn.Module):
    def __init__(self, dim, hidden_dim):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden_dim, bias=False)
        self.w2 = nn.Linear(hidden_dim, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden_dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class LlamaBlock(nn.Module):
    def __init__(self, dim, n_heads, n_kv_heads, hidden_dim, norm_eps):
        super().__init__()
        self.attention_norm = RMSNorm(dim, norm_eps)
        self.attention = Attention(dim, n_heads, n_kv_heads)
        self.ffn_norm = RMSNorm(dim, norm_eps)
        self.feed_forward = FeedForward(dim, hidden_dim)

    def forward(self, x, cos, sin):
        x = x + self.attention(self.attention_norm(x), cos, sin)
        return x + self.feed_forward(self.ffn_norm(x))


class Llama(nn.Module):
    """llama2.c-style decoder (arch "llama").

    vocab_size V, dim D, n_layers L, n_heads H (divides D, even head size D/H),
    n_kv_heads KV (divides H; default H), hidden_dim F of SwiGLU (default 4D, as argen's
    loader; llama2.c itself derives F from D), context_length T (longest sequence),
    norm_eps of the RMSNorms, rope_theta, tied (output shares tok_embeddings' weight).
    """

    argen_arch = "llama"  # what models/export.py looks for

    def __init__(self, vocab_size, dim, n_layers, n_heads, context_length, n_kv_heads=None,
                 hidden_dim=None, norm_eps=1e-5, rope_theta=10000.0, tied=False):
        super().__init__()
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        if dim % n_heads or (dim // n_heads) % 2:
            raise ValueError(f"dim={dim} must split into n_heads={n_heads} heads of even size")
        if n_heads % n_kv_heads:
            raise ValueError(f"n_kv_heads={n_kv_heads} does not divide n_heads={n_heads}")
        hidden_dim = 4 * dim if hidden_dim is None else hidden_dim
        self.vocab_size, self.dim, self.n_layers, self.n_heads = vocab_size, dim, n_layers, n_heads
        self.n_kv_heads, self.hidden_dim, self.context_length = n_kv_heads, hidden_dim, context_length
        self.norm_eps, self.rope_theta, self.tied = norm_eps, float(rope_theta), bool(tied)
        self.tok_embeddings = nn.Embedding(vocab_size, dim)
        self.layers = nn.ModuleList(LlamaBlock(dim, n_heads, n_kv_heads, hidden_dim, norm_eps)
                                    for _ in range(n_layers))
        self.norm = RMSNorm(dim, norm_eps)
        self.output = nn.Linear(dim, vocab_size, bias=False)
        if tied:
            self.tok_embeddings.weight = self.output.weight  # as llama2.c

    def config(self):
        """The exported config (and the constructor's keyword arguments)."""
        return dict(vocab_size=self.vocab_size, dim=self.dim, n_layers=self.n_layers,
                    n_heads=self.n_heads, n_kv_heads=self.n_kv_heads, hidden_dim=self.hidden_dim,
                    context_length=self.context_length, norm_eps=self.norm_eps,
                    rope_theta=self.rope_theta, tied=self.tied)

    def forward(self, tokens):
        B, T = tokens.shape
        if T > self.context_length:
            raise ValueError(f"{T} tokens exceed the context length {self.context_length}")
        x = self.tok_embeddings(tokens)
        cos, sin = rope_cos_sin(self.dim // self.n_heads, T, self.rope_theta)  # no buffers: a
        cos, sin = cos.to(x.device), sin.to(x.device)  # float16 round trip must not touch them
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.output(self.norm(x))
