"""One generation step of the reference `WaveNet` module (models/wavenet.py) with per-layer queues
(fast WaveNet generation, Paine et al. 2016), for the wavenet-20 benchmark: the same layer code runs in
PyTorch (torch_wavenet.py, queues as torch tensors) and, exported with torch.onnx.export, in onnxruntime
(wavenet-20.step.onnx, written by make_models.py; the queues are ring buffers kept in JS).

    WaveNetStep(wavenet)(code [1] int64, past [L, R] float32) -> logits [1, Q], cur [L, R]

code: the current input code x(t) (mu-law, 0..Q-1). past[l]: layer l's input at time t - d_l (its
dilation), zeros while t < d_l (the causal zero padding). cur[l]: layer l's input at time t, which the
caller pushes into layer l's queue (read back d_l steps later). logits: the distribution of the code at
t + 1. Only input_kernel = 1, input 'one_hot', no speakers (wavenet-20): the one-hot causal convolution is
then a column of its weight, a gather.

The weights are the module's own, rearranged (not retrained, not rounded): per layer the two taps of the
dilated convolution side by side ([W(t-d) | W(t)], 2D x 2R), and the residual and skip 1x1 convolutions
stacked (R+S rows), so that a layer is two matrix-vector products.
"""
import torch
from torch import nn
import torch.nn.functional as F


class WaveNetStep(nn.Module):
    def __init__(self, wavenet):
        super().__init__()
        w = wavenet
        if w.input != "one_hot" or w.input_kernel != 1 or w.num_speakers:
            raise ValueError("WaveNetStep: only input 'one_hot', input_kernel 1, no speakers")
        self.dilations = list(w.dilations)
        self.R, self.D, self.S = w.residual_channels, w.dilation_channels, w.skip_channels
        with torch.no_grad():
            self.register_buffer("embed", w.causal.weight[:, :, 0].t().contiguous(), persistent=False)  # [Q, R]
            self.register_buffer("embed_bias", w.causal.bias.clone(), persistent=False)
            # [L, 2D, 2R]: columns 0..R-1 multiply x(t - d), R..2R-1 multiply x(t)
            self.register_buffer("dil_w", torch.stack([torch.cat([l.dilated.weight[:, :, 0], l.dilated.weight[:, :, 1]], 1)
                                                       for l in w.layers]), persistent=False)
            self.register_buffer("dil_b", torch.stack([l.dilated.bias for l in w.layers]), persistent=False)
            # [L, R+S, D]: residual rows, then skip rows
            self.register_buffer("out_w", torch.stack([torch.cat([l.res.weight[:, :, 0], l.skip.weight[:, :, 0]], 0)
                                                       for l in w.layers]), persistent=False)
            self.register_buffer("out_b", torch.stack([torch.cat([l.res.bias, l.skip.bias]) for l in w.layers]),
                                 persistent=False)
        self.out1, self.out2 = w.out1, w.out2

    def input(self, code):
        """x_0(t) [R] from the code [1]: the one-hot causal convolution."""
        return self.embed[code[0]] + self.embed_bias

    def layer(self, l, past, x):
        """Layer l on its input x = x_l(t) [R] and past = x_l(t - d_l) [R] -> (x_{l+1}(t), skip_l(t))."""
        z = F.linear(torch.cat([past, x]), self.dil_w[l], self.dil_b[l])
        g = torch.tanh(z[: self.D]) * torch.sigmoid(z[self.D:])
        o = F.linear(g, self.out_w[l], self.out_b[l])
        return x + o[: self.R], o[self.R:]

    def head(self, skip):
        """Summed skips [S] -> logits [1, Q]."""
        h = F.relu(F.linear(F.relu(skip), self.out1.weight[:, :, 0], self.out1.bias))
        return F.linear(h, self.out2.weight[:, :, 0], self.out2.bias)[None]

    def forward(self, code, past):
        x = self.input(code)
        skip = 0
        cur = []
        for l in range(len(self.dilations)):
            cur.append(x)
            x, s = self.layer(l, past[l], x)
            skip = skip + s
        return self.head(skip), torch.stack(cur)


class Queues:
    """Generation in PyTorch with one queue per layer (a [d_l, R] ring indexed t mod d_l)."""

    def __init__(self, step):
        self.step = step
        self.reset()

    def reset(self):
        self.t = 0
        self.q = [torch.zeros(d, self.step.R) for d in self.step.dilations]

    def __call__(self, code):
        """code [1] int64 = x(t) -> logits [1, Q] for t + 1."""
        st, t = self.step, self.t
        x = st.input(code)
        skip = 0
        for l, (q, d) in enumerate(zip(self.q, st.dilations)):
            row = q[t % d]        # x_l(t - d), then overwritten with x_l(t)
            x_next, s = st.layer(l, row, x)
            row.copy_(x)
            x = x_next
            skip = skip + s
        self.t += 1
        return st.head(skip)
