r"""The worked solutions of the code exercises, written as a student would write them.

Each is what ``EX.solution()`` shows, and the checkers' tests prove that each one agrees with
the real PyTorch layer (or with ``unet_lesson``'s own implementation) on every case. They use
only numpy and torch, never the package: they are the student's side of the comparison.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = [
    "conv_out",
    "conv_out_dilated",
    "max_pool",
    "pool_size",
    "conv_transpose",
    "center_crop",
    "crop_and_concat",
    "head",
    "DoubleConv",
    "MyUNet",
    "SameBlock",
    "SameUNet",
    "margin",
    "weighted_loss",
]


# ---- lesson 01 ---------------------------------------------------------------------------
def conv_out(h, k, s, p):
    """Height after a k×k convolution with stride s and padding p: floor((h + 2p - k) / s) + 1."""
    padded = h + 2 * p  # p zeros on each side
    steps = (padded - k) // s  # whole strides the kernel can still take (rounded down)
    return steps + 1  # + 1: the kernel's first position


def conv_out_dilated(h, k, s, p, d):
    """As conv_out, for a kernel with dilation d: its k taps are d pixels apart."""
    span = d * (k - 1) + 1  # the pixels one dilated kernel covers (k taps, d - 1 gaps between)
    return (h + 2 * p - span) // s + 1


# ---- lesson 02 ---------------------------------------------------------------------------
def max_pool(x, k=2, s=2):
    """Max pooling of a 2-D array: the largest value of each k×k window, windows s pixels apart."""
    h, w = x.shape
    out_h, out_w = (h - k) // s + 1, (w - k) // s + 1  # only windows that fit (PyTorch's default)
    out = np.empty((out_h, out_w), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            window = x[i * s : i * s + k, j * s : j * s + k]  # window (i, j) starts at row i*s, column j*s
            out[i, j] = window.max()
    return out


def pool_size(h, k, s, ceil_mode=False):
    """Height after a k×k max pool with stride s (k >= s): floor, or ceil with ceil_mode, of (h - k)/s, + 1."""
    steps, rest = divmod(h - k, s)  # whole strides, and the pixels left over
    if ceil_mode and rest:  # ceil_mode keeps one more, partial window for the leftover pixels
        steps += 1
    return steps + 1


# ---- lesson 03 ---------------------------------------------------------------------------
def conv_transpose(x, w, stride):
    """Transposed convolution (scatter and sum) of a 2-D map x with a kernel w, no padding."""
    h, wd = x.shape
    kh, kw = w.shape
    out = np.zeros(((h - 1) * stride + kh, (wd - 1) * stride + kw))  # (H - 1)·s + k
    for i in range(h):
        for j in range(wd):
            # input pixel (i, j) paints a copy of the kernel, scaled by its value, at (i·s, j·s);
            # where copies overlap, they add up
            out[i * stride : i * stride + kh, j * stride : j * stride + kw] += x[i, j] * w
    return out


# ---- lesson 04 ---------------------------------------------------------------------------
def center_crop(skip, target_hw):
    """The centre (target_h × target_w) of a (..., H, W) map; an odd extra row/column is cut at the bottom/right."""
    h, w = skip.shape[-2:]
    th, tw = target_hw
    top, left = (h - th) // 2, (w - tw) // 2  # rounded down: the extra row goes to the bottom
    return skip[..., top : top + th, left : left + tw]


def crop_and_concat(skip, up):
    """Copy and crop: crop the copied (N, C1, H, W) map to the up-conv's (N, C2, h, w) size, then stack
    the channels, copied map first: (N, C1 + C2, h, w)."""
    cropped = center_crop(skip, up.shape[-2:])
    return torch.cat([cropped, up], dim=1)  # dim 1: the channels (dim 0 is the batch)


# ---- lesson 05 ---------------------------------------------------------------------------
def head(features, weight, bias):
    """The 1x1 conv as a matrix product over the channels: (C_in, H, W) -> (C_out, H, W)."""
    c_in, h, w = features.shape
    pixels = features.reshape(c_in, h * w)  # one column of C_in numbers per pixel
    scores = weight @ pixels + bias[:, None]  # (C_out, C_in) @ (C_in, H·W): one linear classifier, every pixel
    return scores.reshape(-1, h, w)


# ---- lesson 06 ---------------------------------------------------------------------------
class DoubleConv(nn.Module):
    """Two valid 3×3 convolutions, each followed by a ReLU: H -> H - 2 -> H - 4."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3)  # padding 0: valid
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3)  # keeps the channels

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        return torch.relu(self.conv2(x))


class MyUNet(nn.Module):
    """The paper's U-Net (Fig. 1), built from DoubleConv; the defaults are the paper's network."""

    def __init__(self, in_channels=1, num_classes=2, base_channels=64, depth=4):
        super().__init__()
        # the channels of each level, top to bottom: 64, 128, 256, 512, and 1024 at the bottom
        chans = [base_channels * 2**level for level in range(depth + 1)]

        # contracting path: a DoubleConv at each level, top level first, each followed by a 2x2 max pool
        self.contracting = nn.ModuleList()
        c_in = in_channels
        for c in chans[:-1]:
            self.contracting.append(DoubleConv(c_in, c))
            c_in = c
        self.pool = nn.MaxPool2d(2)  # size / 2; it has no weights, so one serves every level

        # bottom of the U: one more DoubleConv, which doubles the channels (512 -> 1024)
        self.bottom = DoubleConv(chans[-2], chans[-1])

        # expanding path, deepest level first: an up-conv (size x 2, channels 2c -> c), then a DoubleConv
        # over the up-conv's c channels and the cropped copy's c channels side by side (2c -> c)
        self.up_convs = nn.ModuleList()
        self.expanding = nn.ModuleList()
        for c in reversed(chans[:-1]):
            self.up_convs.append(nn.ConvTranspose2d(2 * c, c, 2, stride=2))
            self.expanding.append(DoubleConv(2 * c, c))

        # head: a 1x1 conv, one score per class at every pixel (64 -> num_classes channels)
        self.head = nn.Conv2d(chans[0], num_classes, 1)

    def forward(self, x):
        # contracting path: each level's DoubleConv, a copy of its map kept (the "copy"), then the pool
        copies = []
        for block in self.contracting:
            x = block(x)
            copies.append(x)
            x = self.pool(x)
        # bottom
        x = self.bottom(x)
        # expanding path: the copies come back deepest first (pop() takes the last one kept)
        for up_conv, block in zip(self.up_convs, self.expanding):
            x = up_conv(x)
            copied = center_crop(copies.pop(), x.shape[-2:])  # the "crop": to the up-conv's size
            x = block(torch.cat([copied, x], dim=1))  # copy first, on the channels (dim 0 is the batch)
        # head
        return self.head(x)


# ---- lesson 07 ---------------------------------------------------------------------------
class SameBlock(nn.Module):
    """Two Conv-BN-ReLU steps with same padding: the size is kept."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.block = nn.Sequential(
            # padding 1 gives back the pixel a 3×3 kernel loses on each side; no bias: BN shifts anyway
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.block(x)


class SameUNet(nn.Module):
    """The modern U-Net, built from SameBlock: same padding keeps every size, so the crop disappears and
    output size = input size (for sizes that are multiples of 2**depth)."""

    def __init__(self, in_channels=1, num_classes=2, base_channels=64, depth=4):
        super().__init__()
        # the channels of each level, top to bottom: 64, 128, 256, 512, and 1024 at the bottom
        chans = [base_channels * 2**level for level in range(depth + 1)]
        # the channels each contracting level takes in: the image's, then the level above's
        ins = [in_channels, *chans[:-2]]

        # contracting path, top level first: a SameBlock (size kept) at each level; one 2x2 max pool (size / 2,
        # no weights) serves every level
        self.contracting = nn.ModuleList(SameBlock(c_in, c) for c_in, c in zip(ins, chans[:-1]))
        self.pool = nn.MaxPool2d(2)

        # bottom of the U: one more SameBlock, which doubles the channels (512 -> 1024)
        self.bottom = SameBlock(chans[-2], chans[-1])

        # expanding path, deepest level first: an up-conv (size x 2, channels 2c -> c), then a SameBlock over
        # the up-conv's c channels and the copy's c channels side by side (2c -> c)
        self.up_convs = nn.ModuleList(nn.ConvTranspose2d(2 * c, c, 2, stride=2) for c in reversed(chans[:-1]))
        self.expanding = nn.ModuleList(SameBlock(2 * c, c) for c in reversed(chans[:-1]))

        # head: a 1x1 conv, one score per class at every pixel (64 -> num_classes channels)
        self.head = nn.Conv2d(chans[0], num_classes, 1)

    def forward(self, x):
        copies = []
        for block in self.contracting:
            copies.append(block(x))  # the copy: each level's map, kept before its pool
            x = self.pool(copies[-1])
        x = self.bottom(x)
        # the copies come back deepest first: reversed(copies) walks the list from its end, as pop() does
        for up_conv, block, copy in zip(self.up_convs, self.expanding, reversed(copies)):
            x = block(torch.cat([copy, up_conv(x)], dim=1))  # no crop: same padding keeps the sizes equal
        return self.head(x)


# ---- lesson 09 ---------------------------------------------------------------------------
def margin(depth):
    """Pixels of context per side that the valid U-Net with `depth` max pools eats: (input - output) / 2."""
    # a valid 3x3 conv trims 1 pixel per side of the map it sees; at level l of the U that map is
    # 2**l times smaller than the input, so the trim costs 2**l input pixels per side
    down = sum(2 * 2**level for level in range(depth))  # two convs per level on the way down
    bottom = 2 * 2**depth  # two convs at the bottom, on the smallest map
    up = sum(2 * 2**level for level in range(depth))  # two per level on the way up
    return down + bottom + up  # = 6 * 2**depth - 4: 92 for depth 4


# ---- lesson 08 ---------------------------------------------------------------------------
def weighted_loss(logits, target, weights):
    """The course's weighted cross-entropy: the sum of w(x) * (-log p_true(x)) over the pixels, divided by sum(w)."""
    log_p = torch.log_softmax(logits, dim=1)  # (N, K, H, W): log of the softmax over the K classes, computed stably
    log_p_true = log_p.gather(1, target[:, None]).squeeze(1)  # (N, H, W): log p of each pixel's true class
    return (weights * -log_p_true).sum() / weights.sum()  # the weighted mean; the paper's Eq. (1) is -(the sum)
