"""PyTorch reference module for argen's audio model: WaveNet (van den Oord et al., 2016).

Audio is a sequence of 8-bit mu-law codes (256 levels). The network reads codes x[0..T-1] and
predicts x[1..T]: logits[t] is the distribution of the code after x[t]. Its state_dict names are
the tensor names argen reads (models/export.py).

    input:  one-hot of the code (input='one_hot') or embed (input='embedding', E dims)
            -> causal convolution `causal` (kernel input_kernel) to R residual channels
    layer:  z = dilated(x) (kernel 2, dilation d: x[t-d], x[t]) [+ cond[speaker]]   (2D channels)
            g = tanh(z[:D]) * sigmoid(z[D:])
            skip += skip_conv(g) (S channels);  x = x + res(g) (R channels)
    head:   relu -> out1 (1x1, S -> head_hidden) -> relu -> out2 (1x1 -> 256 logits)

Every convolution is causal with zero padding on the left, which is what argen's per-layer
queues start with, so generation from an empty history equals this forward pass.
"""

import math

import torch
from torch import nn
import torch.nn.functional as F


def mu_law_encode(x, mu=255):
    """Float samples in [-1, 1] -> int64 codes in [0, mu]."""
    x = torch.as_tensor(x).clamp(-1.0, 1.0)
    y = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
    return torch.floor((y + 1) / 2 * mu + 0.5).long()


def mu_law_decode(codes, mu=255):
    """Codes in [0, mu] -> float samples in [-1, 1]."""
    y = torch.as_tensor(codes).float() * (2.0 / mu) - 1.0
    return torch.sign(y) * (torch.pow(1.0 + mu, y.abs()) - 1.0) / mu


class WaveNetLayer(nn.Module):
    def __init__(self, residual, dilation_channels, skip, dilation, num_speakers):
        super().__init__()
        self.dilation = dilation
        self.dilated = nn.Conv1d(residual, 2 * dilation_channels, 2, dilation=dilation)
        self.res = nn.Conv1d(dilation_channels, residual, 1)
        self.skip = nn.Conv1d(dilation_channels, skip, 1)
        if num_speakers:
            self.cond = nn.Embedding(num_speakers, 2 * dilation_channels)

    def forward(self, x, speakers):
        z = self.dilated(F.pad(x, (self.dilation, 0)))
        if speakers is not None:
            z = z + self.cond(speakers)[:, :, None]
        D = z.shape[1] // 2
        g = torch.tanh(z[:, :D]) * torch.sigmoid(z[:, D:])
        return x + self.res(g), self.skip(g)


class WaveNet(nn.Module):
    def __init__(self, dilations, residual_channels=64, dilation_channels=64, skip_channels=128,
                 head_hidden=256, quantization=256, input="one_hot", embedding_dim=None,
                 input_kernel=2, num_speakers=0, sample_rate=16000):
        super().__init__()
        if input not in ("one_hot", "embedding"):
            raise ValueError("input must be 'one_hot' or 'embedding'")
        self.dilations = list(dilations)
        self.residual_channels, self.dilation_channels = residual_channels, dilation_channels
        self.skip_channels, self.head_hidden, self.quantization = skip_channels, head_hidden, quantization
        self.input, self.input_kernel = input, input_kernel
        self.num_speakers, self.sample_rate = num_speakers, sample_rate
        if input == "embedding":
            self.embedding_dim = embedding_dim or residual_channels
            self.embed = nn.Embedding(quantization, self.embedding_dim)
            cin = self.embedding_dim
        else:
            self.embedding_dim = None
            cin = quantization
        self.causal = nn.Conv1d(cin, residual_channels, input_kernel)
        self.layers = nn.ModuleList(
            WaveNetLayer(residual_channels, dilation_channels, skip_channels, d, num_speakers)
            for d in self.dilations)
        self.out1 = nn.Conv1d(skip_channels, head_hidden, 1)
        self.out2 = nn.Conv1d(head_hidden, quantization, 1)

    def config(self):
        return dict(dilations=self.dilations, residual_channels=self.residual_channels,
                    dilation_channels=self.dilation_channels, skip_channels=self.skip_channels,
                    head_hidden=self.head_hidden, quantization=self.quantization,
                    input=self.input, embedding_dim=self.embedding_dim,
                    input_kernel=self.input_kernel, num_speakers=self.num_speakers,
                    sample_rate=self.sample_rate)

    def receptive_field(self):
        return sum(self.dilations) + self.input_kernel

    def forward(self, codes, speakers=None):
        """codes [B, T] int64 -> logits [B, T, quantization]."""
        if self.input == "embedding":
            x = self.embed(codes).transpose(1, 2)
        else:
            x = F.one_hot(codes, self.quantization).float().transpose(1, 2)
        x = self.causal(F.pad(x, (self.input_kernel - 1, 0)))
        skip = 0
        for layer in self.layers:
            x, s = layer(x, speakers if self.num_speakers else None)
            skip = skip + s
        out = self.out2(F.relu(self.out1(F.relu(skip))))
        return out.transpose(1, 2)
