"""PyTorch reference modules for argen's image models: Gated PixelCNN and PixelRNN (Row LSTM).

An image is a sequence of intensity levels in raster order: row by row, pixel by pixel, and
within a pixel channel by channel (R -> G -> B). Both models predict each level from all the
earlier ones. Their state_dict names are the tensor names argen reads (models/export.py).

Input levels v in [0, levels) enter the network as x = 2 v / (levels - 1) - 1; padding is 0.

Masks are written as shapes, not as zeroed weights: a causal convolution here is an ordinary
nn.Conv2d whose kernel covers only the allowed neighbourhood, with the input padded so that
output (i, j) lines up. So every stored weight is used, and argen reads them as they are.

Channels within a pixel (RGB): the stacks see whole earlier pixels only; the head adds, for
channel c, channel_in[c] @ x(i, j, :c) (a learned projection of the current pixel's earlier
channels) and reads channel c's slice of the last 1x1 convolution (C * levels outputs).

Class conditioning: every layer adds a learned per-class bias (an nn.Embedding) to its gate
pre-activations.

forward(images[B, C, H, W] int64 levels, labels[B] int64 or None) -> logits[B, C, H, W, levels]
"""

import torch
from torch import nn
import torch.nn.functional as F


def normalize(levels_tensor, levels):
    return levels_tensor.float() * (2.0 / (levels - 1)) - 1.0


def strictly_left(conv, x, n):
    """conv (kernel width n) at column j over columns j-n .. j-1: pad n on the left, drop the last."""
    return conv(F.pad(x, (n, 0)))[..., : x.shape[-1]]


class Head(nn.Module):
    """relu -> 1x1 -> relu -> 1x1 to C * levels, plus the current pixel's earlier channels."""

    def __init__(self, features, hidden, channels, levels):
        super().__init__()
        self.channels, self.levels = channels, levels
        self.out1 = nn.Conv2d(features, hidden, 1)
        self.out2 = nn.Conv2d(hidden, channels * levels, 1)
        if channels > 1:
            self.channel_in = nn.Parameter(torch.randn(channels, features, channels) * 0.02)
            mask = torch.tril(torch.ones(channels, channels), diagonal=-1)  # c sees c' < c
            self.register_buffer("mask", mask, persistent=False)

    def forward(self, feat, x):
        B, _, H, W = feat.shape
        C, L = self.channels, self.levels
        if C == 1:
            out = self.out2(F.relu(self.out1(F.relu(feat))))
            return out.view(B, 1, L, H, W).permute(0, 1, 3, 4, 2)
        logits = []
        for c in range(C):
            w = self.channel_in[c] * self.mask[c]  # [features, C]
            f = feat + torch.einsum("fc,bchw->bfhw", w, x)
            h = F.relu(self.out1(F.relu(f)))
            wc = self.out2.weight[c * L:(c + 1) * L]
            bc = self.out2.bias[c * L:(c + 1) * L]
            logits.append(F.conv2d(h, wc, bc))
        return torch.stack(logits, 1).permute(0, 1, 3, 4, 2)


class GatedLayer(nn.Module):
    def __init__(self, filters, num_classes, skip):
        super().__init__()
        F2 = 2 * filters
        self.v = nn.Conv2d(filters, F2, (2, 3))      # rows i-1, i; columns j-1 .. j+1
        self.h = nn.Conv2d(filters, F2, (1, 2))      # columns j-1, j
        self.v2h = nn.Conv2d(F2, F2, 1)
        self.res = nn.Conv2d(filters, filters, 1)
        if skip:
            self.skip = nn.Conv2d(filters, skip, 1)
        if num_classes:
            self.cond_v = nn.Embedding(num_classes, F2)
            self.cond_h = nn.Embedding(num_classes, F2)

    def forward(self, v_in, h_in, labels):
        n = v_in.shape[1]
        v = self.v(F.pad(v_in, (1, 1, 1, 0)))
        h = self.h(F.pad(h_in, (1, 0))) + self.v2h(v)
        if labels is not None:
            v = v + self.cond_v(labels)[:, :, None, None]
            h = h + self.cond_h(labels)[:, :, None, None]
        v_out = torch.tanh(v[:, :n]) * torch.sigmoid(v[:, n:])
        g = torch.tanh(h[:, :n]) * torch.sigmoid(h[:, n:])
        skip = self.skip(g) if hasattr(self, "skip") else None
        return v_out, h_in + self.res(g), skip


class GatedPixelCNN(nn.Module):
    """Gated PixelCNN (van den Oord et al., 2016), no blind spot.

    The vertical stack at row i sees rows < i (its input convolution covers the k // 2 rows
    above; later 2x3 convolutions keep that), the horizontal stack at (i, j) sees columns < j of
    row i (input 1 x k//2 convolution, then 1x2) plus the vertical stack of its own row.
    skip = 0: the head reads the last horizontal stack; skip = S: it reads the sum of every
    layer's 1x1 skip convolution (S channels).
    """

    def __init__(self, height, width, channels=1, levels=256, filters=64, layers=10,
                 input_kernel=7, num_classes=0, head_hidden=256, skip=0):
        super().__init__()
        self.height, self.width, self.channels, self.levels = height, width, channels, levels
        self.filters, self.num_layers, self.input_kernel = filters, layers, input_kernel
        self.num_classes, self.head_hidden, self.skip = num_classes, head_hidden, skip
        k = input_kernel
        if k < 3 or k % 2 == 0:
            raise ValueError("input_kernel must be odd and >= 3")
        self.v_in = nn.Conv2d(channels, filters, (k // 2, k))
        self.h_in = nn.Conv2d(channels, filters, (1, k // 2))
        self.layers = nn.ModuleList(GatedLayer(filters, num_classes, skip) for _ in range(layers))
        self.head = Head(skip or filters, head_hidden, channels, levels)

    def config(self):
        return dict(height=self.height, width=self.width, channels=self.channels,
                    levels=self.levels, filters=self.filters, layers=self.num_layers,
                    input_kernel=self.input_kernel, num_classes=self.num_classes,
                    head_hidden=self.head_hidden, skip=self.skip)

    def forward(self, images, labels=None):
        x = normalize(images, self.levels)
        k = self.input_kernel // 2
        # Rows i-k .. i-1: pad k rows on top, convolve, drop the last row.
        v = self.v_in(F.pad(x, (k, k, k, 0)))[:, :, : self.height]
        h = strictly_left(self.h_in, x, k)
        skip = 0
        for layer in self.layers:
            v, h, s = layer(v, h, labels if self.num_classes else None)
            if s is not None:
                skip = skip + s
        return self.head(skip if self.skip else h, x)


class RowLSTMLayer(nn.Module):
    """One Row LSTM layer: gates(i) = is(input row i) + ss(h row i-1), PyTorch gate order i, f, g, o.

    is: 1 x k//2 convolution over columns j-k//2 .. j-1 (first layer, mask A) or 1 x (k//2 + 1)
    over columns j-k//2 .. j (later layers, mask B); ss: 1 x k over the previous row's hidden
    state, columns j-k//2 .. j+k//2, no bias. The first layer also reads the image's previous row
    (is_up: 1 x k over columns j-k//2 .. j+k//2, no bias), the part of PixelRNN's 7x7 mask-A input
    convolution above the pixel; without it the last column of a row would reach no hidden state.
    """

    def __init__(self, in_channels, hidden, kernel, first, num_classes):
        super().__init__()
        self.first, self.kernel = first, kernel
        self.is_ = nn.Conv2d(in_channels, 4 * hidden, (1, kernel // 2 if first else kernel // 2 + 1))
        self.ss = nn.Conv1d(hidden, 4 * hidden, kernel, padding=kernel // 2, bias=False)
        if first:
            self.is_up = nn.Conv2d(in_channels, 4 * hidden, (1, kernel), bias=False)
        if num_classes:
            self.cond = nn.Embedding(num_classes, 4 * hidden)

    def forward(self, x, labels):
        B, _, H, W = x.shape
        k = self.kernel // 2
        if self.first:
            gi = strictly_left(self.is_, x, k)
            gi = gi + self.is_up(F.pad(x, (k, k, 1, 0)))[:, :, :H]  # row i-1
        else:
            gi = self.is_(F.pad(x, (k, 0)))
        if labels is not None:
            gi = gi + self.cond(labels)[:, :, None, None]
        hid = self.ss.in_channels
        h = x.new_zeros(B, hid, W)
        c = x.new_zeros(B, hid, W)
        rows = []
        for i in range(H):
            g = gi[:, :, i] + self.ss(h)
            ig, fg, gg, og = g.chunk(4, 1)
            c = torch.sigmoid(fg) * c + torch.sigmoid(ig) * torch.tanh(gg)
            h = torch.sigmoid(og) * torch.tanh(c)
            rows.append(h)
        return torch.stack(rows, 2)


class PixelRNN(nn.Module):
    """PixelRNN with Row LSTM layers (van den Oord et al., 2016); layers after the first add a
    residual connection. Same head as GatedPixelCNN."""

    def __init__(self, height, width, channels=1, levels=256, hidden=64, layers=4, kernel=3,
                 num_classes=0, head_hidden=256):
        super().__init__()
        self.height, self.width, self.channels, self.levels = height, width, channels, levels
        self.hidden, self.num_layers, self.kernel = hidden, layers, kernel
        self.num_classes, self.head_hidden = num_classes, head_hidden
        if kernel < 3 or kernel % 2 == 0:
            raise ValueError("kernel must be odd and >= 3")
        self.layers = nn.ModuleList(
            RowLSTMLayer(channels if l == 0 else hidden, hidden, kernel, l == 0, num_classes)
            for l in range(layers))
        self.head = Head(hidden, head_hidden, channels, levels)

    def config(self):
        return dict(height=self.height, width=self.width, channels=self.channels,
                    levels=self.levels, hidden=self.hidden, layers=self.num_layers,
                    kernel=self.kernel, num_classes=self.num_classes, head_hidden=self.head_hidden)

    def forward(self, images, labels=None):
        x = normalize(images, self.levels)
        h = x
        for l, layer in enumerate(self.layers):
            out = layer(h, labels if self.num_classes else None)
            h = out if l == 0 else h + out
        return self.head(h, x)


def raster_logits(logits):
    """[B, C, H, W, L] -> [B, H*W*C, L] in argen's raster order (row, column, channel)."""
    B, C, H, W, L = logits.shape
    return logits.permute(0, 2, 3, 1, 4).reshape(B, H * W * C, L)


def raster_levels(images):
    """[B, C, H, W] -> [B, H*W*C] in raster order."""
    B, C, H, W = images.shape
    return images.permute(0, 2, 3, 1).reshape(B, H * W * C)
