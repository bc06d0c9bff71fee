r"""U-Net (Ronneberger, Fischer & Brox, 2015), named in the paper's own words.

The network is a *contracting path* (encoder) and an *expanding path* (decoder)::

    input ─► [DoubleConvolution ─► DownSample] x depth ─► DoubleConvolution (bottom)
          ─► [UpSample (up-conv) ─► CropAndConcat (copy and crop) ─► DoubleConvolution] x depth
          ─► 1x1 conv head ─► segmentation map

``UNet()`` with no arguments is exactly the paper's network (Fig. 1): valid 3x3
convolutions with ReLU and no batch normalisation, 2x2 max pooling, 2x2 up-convs that
halve the channels, a centre crop of the copied map before concatenation, and a 1x1
conv to two classes: 23 conv layers, 31,030,658 parameters, 572x572x1 -> 388x388x2.

``UNet(padding="same")`` is the modern variant of the notes ("现在我们的修改"): 3x3
convs with padding 1 and Conv-BN-ReLU blocks, so the up-conv's output already matches
the copied map, the crop disappears, and the output size equals the input size.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Literal

import torch
from torch import nn

from .shapes import check_input_size, normalize_options

__all__ = ["UNet", "DoubleConvolution", "DownSample", "UpSample", "CenterCrop", "CropAndConcat"]


class DoubleConvolution(nn.Sequential):
    r"""Two 3x3 convolutions, each followed by a ReLU (and batch norm in the modern variant).

    With valid padding each conv trims one pixel from every border:
    :math:`H \to H - 2 \to H - 4`. With same padding (``padding=1``) the size is kept.
    The first conv sets the channel count (``in_channels -> out_channels``), the second keeps it.
    """

    def __init__(self, in_channels: int, out_channels: int, padding: int = 0, batch_norm: bool = False):
        layers: dict[str, nn.Module] = {}
        for i, c_in in enumerate((in_channels, out_channels), start=1):
            # 3x3 conv; its bias is redundant when batch norm follows (BN has its own shift)
            layers[f"conv{i}"] = nn.Conv2d(c_in, out_channels, kernel_size=3, padding=padding, bias=not batch_norm)
            if batch_norm:
                layers[f"bn{i}"] = nn.BatchNorm2d(out_channels)
            layers[f"relu{i}"] = nn.ReLU(inplace=True)
        super().__init__(OrderedDict(layers))


class DownSample(nn.MaxPool2d):
    r"""2x2 max pooling with stride 2: size :math:`H \to \lfloor H/2 \rfloor`, channels unchanged,
    no learned parameters (下采样, downsampling)."""

    def __init__(self):
        super().__init__(kernel_size=2, stride=2)


class UpSample(nn.Module):
    r"""The up-conv (上采样, upsampling): size x2, channels 1/2.

    ``mode="upconv"`` (the paper): a 2x2 transposed convolution with stride 2,
    :math:`H_{out} = (H - 1)\cdot 2 + 2 = 2H`. Every input pixel paints its own 2x2
    patch of the output, so the patches never overlap (no checkerboard).

    ``mode="bilinear"``: bilinear interpolation to 2H followed by a 1x1 conv that halves
    the channels; no transposed convolution, same output shape.
    """

    def __init__(self, in_channels: int, out_channels: int, mode: str = "upconv"):
        super().__init__()
        self.mode = mode
        if mode == "upconv":
            self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
        elif mode == "bilinear":
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(in_channels, out_channels, kernel_size=1),
            )
        else:  # normalize_options has already rejected anything else
            raise ValueError(f"unknown up_mode {mode!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(x)


class CenterCrop(nn.Module):
    """Centre-crop (中心裁剪) a map to a target height and width (the "crop" of copy and crop)."""

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        h, w = x.shape[-2:]
        th, tw = size
        top, left = (h - th) // 2, (w - tw) // 2
        return x[..., top:top + th, left:left + tw]


class CropAndConcat(nn.Module):
    r"""Copy and crop: centre-crop the copied contracting-path map to the expanding path's
    size, then concatenate (拼接) along channels: :math:`C_{skip} + C_{up}` channels.

    With same padding both maps already match and the crop keeps everything.
    ``mismatch="pad"`` instead zero-pads the expanding map up to the copied map's size
    (for same-padding inputs that are not a multiple of :math:`2^{depth}`).
    """

    def __init__(self, mismatch: str = "crop"):
        super().__init__()
        self.mismatch = mismatch
        self.crop = CenterCrop()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        if self.mismatch == "pad" and skip.shape[-2:] != x.shape[-2:]:
            dh, dw = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
            x = nn.functional.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
        # crop the copied map to the expanding path's size (a no-op when they already match)
        skip = self.crop(skip, tuple(x.shape[-2:]))
        return torch.cat([skip, x], dim=1)


class UNet(nn.Module):
    r"""U-Net. The defaults give exactly the 2015 paper's network.

    Args:
        in_channels: channels of the input image (1 for the paper's grey-scale EM images).
        num_classes: channels of the output map, one score per class (2: foreground, background).
        base_channels: channels after the first double conv (64); level :math:`l` has
            :math:`64 \cdot 2^{l-1}` channels, the bottom :math:`64 \cdot 2^{depth}`.
        depth: number of 2x2 max pools (4 in the paper).
        padding: ``"valid"`` (paper: no padding, copy *and crop*) or ``"same"`` (padding 1,
            output size = input size).
        batch_norm: Conv-BN-ReLU instead of Conv-ReLU. Default: ``False`` for valid (as in
            the paper), ``True`` for same (the modern variant of the notes).
        up_mode: ``"upconv"`` (2x2 transposed conv, the paper) or ``"bilinear"``.
        mismatch: what the expanding path does when its map and the copied map disagree
            because a map entering a 2x2 pool had an odd size: ``"error"`` (default) raises
            :class:`~unet_lesson.InvalidInputSize` naming the layer and the nearest valid sizes;
            ``"crop"`` centre-crops the copied map; ``"pad"`` zero-pads the expanding map
            (same padding only).

    ``forward`` checks the input size first, so a bad size gives a clear message rather
    than a bare concatenation failure deep inside the network.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, base_channels: int = 64, depth: int = 4,
                 padding: Literal["valid", "same"] = "valid", batch_norm: bool | None = None,
                 up_mode: Literal["upconv", "bilinear"] = "upconv",
                 mismatch: Literal["error", "crop", "pad"] = "error"):
        super().__init__()
        opts = normalize_options(in_channels=in_channels, num_classes=num_classes, base_channels=base_channels,
                                 depth=depth, padding=padding, batch_norm=batch_norm, up_mode=up_mode,
                                 mismatch=mismatch)
        self.options = opts
        pad = 1 if opts["padding"] == "same" else 0
        bn = opts["batch_norm"]
        chans = [base_channels * 2 ** level for level in range(depth + 1)]  # 64, 128, 256, 512, 1024

        # contracting path (收缩路径): double conv, then 2x2 max pool, at each level
        self.down_convs = nn.ModuleList()
        c_in = in_channels
        for c in chans[:-1]:
            self.down_convs.append(DoubleConvolution(c_in, c, pad, bn))
            c_in = c
        self.down_samples = nn.ModuleList(DownSample() for _ in range(depth))

        # the bottom of the U: a double conv that doubles the channels once more
        self.bottom = DoubleConvolution(chans[-2], chans[-1], pad, bn)

        # expanding path (扩展路径): up-conv (channels 1/2), copy and crop, double conv
        self.up_samples = nn.ModuleList()
        self.concats = nn.ModuleList()
        self.up_convs = nn.ModuleList()
        for c in reversed(chans[:-1]):
            self.up_samples.append(UpSample(2 * c, c, opts["up_mode"]))
            self.concats.append(CropAndConcat("pad" if opts["mismatch"] == "pad" else "crop"))
            self.up_convs.append(DoubleConvolution(2 * c, c, pad, bn))

        # 1x1 conv head: a per-pixel linear classifier, channels -> num_classes
        self.head = nn.Conv2d(chans[0], num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # a clear message for a size that cannot work, instead of a failure deep inside
        out_h, out_w = check_input_size(tuple(x.shape[-2:]), **self.options)
        if self.training and self.options["batch_norm"] and x.shape[0] == 1:
            bottom = [s // 2 ** self.options["depth"] for s in x.shape[-2:]]
            if bottom[0] * bottom[1] == 1:
                raise ValueError(
                    f"Batch norm cannot train on this: a single {x.shape[-2]}x{x.shape[-1]} image leaves a 1x1 map "
                    "at the bottom of the U, one value per channel, and batch norm needs more than one to compute "
                    f"a mean and variance. Use a batch of 2 or more images, an input of at least "
                    f"{2 * 2 ** self.options['depth']}, or model.eval() for inference.")
        copied = []
        for conv, pool in zip(self.down_convs, self.down_samples):
            x = conv(x)
            copied.append(x)  # the "copy" of copy and crop
            x = pool(x)
        x = self.bottom(x)
        for up, concat, conv in zip(self.up_samples, self.concats, self.up_convs):
            x = up(x)
            x = concat(x, copied.pop())
            x = conv(x)
        return self.head(x)

    def extra_repr(self) -> str:
        o = self.options
        return (f"padding={o['padding']!r}, depth={o['depth']}, base_channels={o['base_channels']}, "
                f"batch_norm={o['batch_norm']}, up_mode={o['up_mode']!r}")
