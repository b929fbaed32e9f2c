"""PyTorch reference module for argen's arch "transformer": `CausalTransformerLM`, the language
model the PyTorch tutorials build from standard parts, run with a causal mask:

    x = embed(tokens) (* sqrt(d_model) if embed_scale) (+ positions)
    x = encoder(x, mask=causal)        nn.TransformerEncoder of nn.TransformerEncoderLayer
    logits = head(x)                   nn.Linear(d_model, vocab_size)

positions: "learned" (pos = nn.Embedding(context_length, d_model), row t added at position t),
"sinusoidal" (pos = PositionalEncoding, the tutorial's fixed table in a buffer `pe`: sin on even,
cos on odd feature indices) or "none". Each layer (norm_first=False, PyTorch's default):
    x = norm1(x + self_attn(x));  x = norm2(x + linear2(act(linear1(x))))
norm_first=True:
    x = x + self_attn(norm1(x));  x = x + linear2(act(linear1(norm2(x))))
act is relu or gelu (exact); the encoder's final `norm` (a LayerNorm) is optional. Dropout is
ignored (argen runs the module in eval mode). State-dict names are PyTorch's own
(encoder.layers.{i}.self_attn.in_proj_weight, ...), so models/export.py writes them unchanged.
The constructor arguments are the exported config's keys.
"""

import math

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    """The PyTorch tutorial's sinusoidal positions (batch-first layout: pe is [1, max_len, D])."""

    def __init__(self, d_model, max_len, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(1, max_len, d_model)
        pe[0, :, 0::2] = torch.sin(position * div_term)
        pe[0, :, 1::2] = torch.cos(position * div_term)[:, : d_model // 2]
        self.register_buffer("pe", pe)

    def forward(self, x):  # [B, T, D]
        return self.dropout(x + self.pe[:, : x.size(1)])


def causal_mask(T, device=None):
    """Float mask [T, T]: 0 on and below the diagonal, -inf above (what
    nn.Transformer.generate_square_subsequent_mask gives)."""
    return torch.triu(torch.full((T, T), float("-inf"), device=device), diagonal=1)


class CausalTransformerLM(nn.Module):
    argen_config_keys = ("vocab_size", "d_model", "nhead", "num_layers", "dim_feedforward",
                         "context_length", "layer_norm_eps", "norm_first", "activation",
                         "positions", "embed_scale", "final_norm", "head_bias")

    def __init__(self, vocab_size, d_model, nhead, num_layers, dim_feedforward, context_length,
                 layer_norm_eps=1e-5, norm_first=False, activation="relu", positions="learned",
                 embed_scale=False, final_norm=False, head_bias=True, dropout=0.0):
        super().__init__()
        if positions not in ("learned", "sinusoidal", "none"):
            raise ValueError(f"positions must be 'learned', 'sinusoidal' or 'none', got {positions!r}")
        self.d_model, self.context_length, self.embed_scale = d_model, context_length, embed_scale
        self.embed = nn.Embedding(vocab_size, d_model)
        if positions == "learned":
            self.pos = nn.Embedding(context_length, d_model)
        elif positions == "sinusoidal":
            self.pos = PositionalEncoding(d_model, context_length)
        else:
            self.pos = None
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=dropout,
                                           activation=activation, layer_norm_eps=layer_norm_eps,
                                           batch_first=True, norm_first=norm_first)
        norm = nn.LayerNorm(d_model, eps=layer_norm_eps) if final_norm else None
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=norm, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab_size, bias=head_bias)

    def forward(self, tokens):  # [B, T] -> [B, T, V]
        T = tokens.shape[1]
        x = self.embed(tokens)
        if self.embed_scale:
            x = x * math.sqrt(self.d_model)
        if isinstance(self.pos, nn.Embedding):
            x = x + self.pos(torch.arange(T, device=tokens.device))
        elif self.pos is not None:
            x = self.pos(x)
        return self.head(self.encoder(x, mask=causal_mask(T, tokens.device)))
