"""PyTorch reference module for argen's arch "hybrid": `HybridLM`, recurrent layers under
GPT-style causal attention blocks (no positional embedding: the recurrence carries order).

    x = rnn(embed(tokens))             nn.GRU or nn.LSTM (rnn_layers, hidden size = dim)
    x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))     per block (models/transformers.GPTBlock,
                                                     fused c_attn, biases, GELU exact or tanh)
    logits = head(ln_f(x))             nn.Linear(dim, vocab_size, bias=False)

State-dict names (what models/export.py writes and src/models/hybrid.cc reads):
    embed.weight [V, E]; rnn.weight_ih_l{k} [G*D, E or D], rnn.weight_hh_l{k} [G*D, D],
    rnn.bias_ih_l{k}, rnn.bias_hh_l{k} [G*D] (G = 3 for gru, 4 for lstm; PyTorch gate order);
    blocks.{i}.ln_1.weight/bias, blocks.{i}.attn.c_attn.weight [3D, D]/bias,
    blocks.{i}.attn.c_proj.weight [D, D]/bias, blocks.{i}.ln_2.weight/bias,
    blocks.{i}.mlp.c_fc.weight [F, D]/bias, blocks.{i}.mlp.c_proj.weight [D, F]/bias;
    ln_f.weight/bias; head.weight [V, D].
The constructor's keyword arguments are the exported config (`config()`); context_length
bounds the attention (its KV cache), not the recurrence.
"""

import torch
from torch import nn

from transformers import GPTBlock, LayerNorm


class HybridLM(nn.Module):
    argen_arch = "hybrid"  # what models/export.py looks for

    def __init__(self, vocab_size, embedding_dim, rnn, rnn_layers, dim, n_layers, n_heads,
                 context_length, hidden_dim=None, norm_eps=1e-5, gelu="exact"):
        super().__init__()
        if rnn not in ("gru", "lstm"):
            raise ValueError(f"rnn must be 'gru' or 'lstm', got {rnn!r}")
        if dim % n_heads:
            raise ValueError(f"n_heads={n_heads} does not divide dim={dim}")
        if gelu not in ("exact", "tanh"):
            raise ValueError(f"gelu must be 'exact' or 'tanh', got {gelu!r}")
        hidden_dim = 4 * dim if hidden_dim is None else hidden_dim
        self._config = dict(vocab_size=vocab_size, embedding_dim=embedding_dim, rnn=rnn,
                            rnn_layers=rnn_layers, dim=dim, n_layers=n_layers, n_heads=n_heads,
                            context_length=context_length, hidden_dim=hidden_dim,
                            norm_eps=norm_eps, gelu=gelu)
        self.vocab_size, self.context_length = vocab_size, context_length
        self.embed = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = (nn.GRU if rnn == "gru" else nn.LSTM)(embedding_dim, dim, rnn_layers, batch_first=True)
        self.blocks = nn.ModuleList(GPTBlock(dim, n_heads, hidden_dim, norm_eps, True, gelu)
                                    for _ in range(n_layers))
        self.ln_f = LayerNorm(dim, True, norm_eps)
        self.head = nn.Linear(dim, vocab_size, bias=False)

    def config(self):
        """The exported config (and the constructor's keyword arguments)."""
        return dict(self._config)

    def forward(self, tokens):  # [B, T] -> [B, T, V]
        if tokens.shape[1] > self.context_length:
            raise ValueError(f"{tokens.shape[1]} tokens exceed the context length {self.context_length}")
        x, _ = self.rnn(self.embed(tokens))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))
