"""PyTorch reference modules for the models argen runs.

A model trained with these modules exports to argen without renaming: the state_dict
names (`embed.weight`, `rnn.weight_ih_l0`, ..., `head.weight`) are the tensor names in
the .safetensors file (see models/export.py and models/README.md).
"""

import torch
from torch import nn
import torch.nn.functional as F

_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RecurrentLM(nn.Module):
    """Token -> [embedding | one-hot] -> RNN/GRU/LSTM stack -> linear head -> logits.

    cell:          'lstm' | 'gru' | 'rnn'
    vocab_size:    V (number of token ids)
    hidden_size:   H
    num_layers:    L
    embedding_dim: E, or None for one-hot input (the rnn's input_size is then V)
    bias:          biases of the recurrent layers (bias_ih_l*, bias_hh_l*)
    nonlinearity:  'tanh' | 'relu' (cell='rnn' only)
    head_bias:     bias of the output projection

    forward(tokens[B, T] int64, state=None) -> (logits[B, T, V], state), where state is
    h[L, B, H] for rnn/gru and (h, c) for lstm, exactly as torch.nn returns it.
    """

    def __init__(self, cell, vocab_size, hidden_size, num_layers=1, embedding_dim=None,
                 bias=True, nonlinearity="tanh", head_bias=True):
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
        self.cell = cell
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.embedding_dim = embedding_dim
        if embedding_dim is not None:
            self.embed = nn.Embedding(vocab_size, embedding_dim)
            input_size = embedding_dim
        else:
            input_size = vocab_size
        kwargs = dict(num_layers=num_layers, bias=bias, batch_first=True)
        if cell == "rnn":
            kwargs["nonlinearity"] = nonlinearity
        elif nonlinearity != "tanh":
            raise ValueError("nonlinearity applies to cell='rnn' only")
        self.rnn = _CELLS[cell](input_size, hidden_size, **kwargs)
        self.head = nn.Linear(hidden_size, vocab_size, bias=head_bias)

    def config(self):
        """The constructor arguments (what a checkpoint needs to rebuild the module)."""
        return dict(cell=self.cell, vocab_size=self.vocab_size, hidden_size=self.hidden_size,
                    num_layers=self.num_layers, embedding_dim=self.embedding_dim,
                    bias=self.rnn.bias,
                    nonlinearity=getattr(self.rnn, "nonlinearity", "tanh"),
                    head_bias=self.head.bias is not None)

    def inputs(self, tokens):
        if self.embedding_dim is not None:
            return self.embed(tokens)
        return F.one_hot(tokens, self.vocab_size).to(self.head.weight.dtype)

    def forward(self, tokens, state=None):
        out, state = self.rnn(self.inputs(tokens), state)
        return self.head(out), state
