r"""U-Net (Ronneberger, Fischer & Brox, 2015), named in the paper's own words.

The network is a *contracting path* (encoder) and an *expanding path* (decoder)::

    input ─► [DoubleConvolution ─► DownSample] x depth ─► DoubleConvolution (bottom)
          ─► [UpSample (up-conv) ─► CropAndConcat (copy and crop) ─► DoubleConvolution] x depth
          ─► 1x1 conv head ─► segmentation map

``UNet()`` with no arguments has the paper's architecture (Fig. 1): valid 3x3 convolutions with
ReLU and no batch normalisation, 2x2 max pooling, 2x2 up-convs that halve the channels, a centre
crop of the copied map before concatenation, and a 1x1 conv to two classes: 23 conv layers,
31,030,658 parameters, 572x572x1 -> 388x388x2. Two things the paper also describes are off by
default, and said so wherever the course trains a network:

* **dropout**: "Drop-out layers at the end of the contracting path perform further implicit data
  augmentation" (Sect. 3.1). ``UNet(dropout=0.5)`` adds them (on the outputs of the deepest
  contracting level and of the bottom); they hold no parameters.
* **initialisation**: the paper draws every weight "from a Gaussian distribution with a standard
  deviation of :math:`\sqrt{2/N}`, where N denotes the number of incoming nodes of one neuron"
  (Sect. 3), e.g. :math:`N = 9 \cdot 64 = 576` for a 3x3 conv over 64 channels. ``UNet(init="he")``
  does that; the default keeps PyTorch's own initialisation.

``UNet(padding="same")`` is the modern variant of the notes ("现在我们的修改"): 3x3
convs with padding 1 and Conv-BN-ReLU blocks, so the up-conv's output already matches
the copied map, the crop disappears, and the output size equals the input size.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Literal

import torch
from torch import nn

from .ops import center_crop
from .options import FIELDS, UNetOptions
from .shapes import output_size

__all__ = [
    "UNet",
    "unet_pass",
    "DoubleConvolution",
    "DownSample",
    "UpSample",
    "CenterCrop",
    "CropAndConcat",
    "he_init_",
    "incoming",
]


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
        else:  # UNetOptions has already rejected anything else
            raise ValueError(f"unknown up_mode {mode!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(x)


class CenterCrop(nn.Module):
    """Centre-crop (中心裁剪) a map to a target height and width (the "crop" of copy and crop)."""

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return center_crop(x, size)


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
    r"""U-Net. The defaults give the 2015 paper's architecture (see the module docstring for the two
    training details, dropout and initialisation, that are off by default).

    Args (the fields of :class:`~unet_lesson.core.options.UNetOptions`, checked there):
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
        dropout: probability of the paper's dropout at the end of the contracting path (0: none).
        init: ``"pytorch"`` (default) or ``"he"``: the paper's Gaussian, std :math:`\sqrt{2/N}`.
        skips: ``False`` removes copy and crop (the expanding path sees only what comes from below), for
            the experiment that shows what the skip connections bring back.

    ``forward`` checks each new input shape once (then remembers it), so a bad size gives a clear
    message rather than a bare concatenation failure deep inside the network.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        base_channels: int = 64,
        depth: int = 4,
        padding: Literal["valid", "same"] = "valid",
        batch_norm: bool | None = None,
        up_mode: Literal["upconv", "bilinear"] = "upconv",
        mismatch: Literal["error", "crop", "pad"] = "error",
        dropout: float = 0.0,
        init: Literal["pytorch", "he"] = "pytorch",
        skips: bool = True,
    ):
        knobs = locals()  # the arguments by name: UNetOptions's fields, each checked there
        super().__init__()
        o = UNetOptions(**{name: knobs[name] for name in FIELDS})
        self.options = o
        self._checked: dict[tuple[int, int], tuple[int, int]] = {}
        _check_size_to_build(o)
        pad, bn, chans = o.conv_padding, o.batch_norm, o.channels  # chans: 64, 128, 256, 512, 1024

        # contracting path (收缩路径): double conv, then 2x2 max pool, at each level
        self.down_convs = nn.ModuleList()
        c_in = o.in_channels
        for c in chans[:-1]:
            self.down_convs.append(DoubleConvolution(c_in, c, pad, bn))
            c_in = c
        self.down_samples = nn.ModuleList(DownSample() for _ in range(o.depth))

        # the bottom of the U: a double conv that doubles the channels once more
        self.bottom = DoubleConvolution(chans[-2], chans[-1], pad, bn)
        # the paper's dropout at the end of the contracting path (no parameters; identity when 0)
        self.dropout = nn.Dropout(o.dropout) if o.dropout else nn.Identity()

        # expanding path (扩展路径): up-conv (channels 1/2), copy and crop, double conv
        self.up_samples = nn.ModuleList()
        self.concats = nn.ModuleList()
        self.up_convs = nn.ModuleList()
        for c in reversed(chans[:-1]):
            self.up_samples.append(UpSample(2 * c, c, o.up_mode))
            if o.skips:  # skips=False: the experiment without copy and crop
                self.concats.append(CropAndConcat("pad" if o.mismatch == "pad" else "crop"))
            self.up_convs.append(DoubleConvolution(2 * c if o.skips else c, c, pad, bn))

        # 1x1 conv head: a per-pixel linear classifier, channels -> num_classes
        self.head = nn.Conv2d(chans[0], o.num_classes, kernel_size=1)
        if o.init == "he":
            he_init_(self)

    def _check(self, x: torch.Tensor) -> None:
        """A clear message for an input this network cannot take, once per input shape."""
        if x.ndim != 4:
            raise ValueError(
                f"UNet expects a batch (N, C, H, W), got a tensor of shape {tuple(x.shape)}: "
                + (
                    "add the batch axis with x[None] (or x.unsqueeze(0))."
                    if x.ndim == 3
                    else "a single image (H, W) becomes x[None, None]."
                )
            )
        if x.shape[1] != self.options.in_channels:
            raise ValueError(
                f"this UNet takes {self.options.in_channels} input channel(s) (in_channels), got "
                f"{x.shape[1]} in a tensor of shape {tuple(x.shape)}."
            )
        hw = (int(x.shape[-2]), int(x.shape[-1]))
        if hw not in self._checked:
            self._checked[hw] = output_size(hw, self.options)  # raises InvalidInputSize, saying why
        if self.training and self.options.batch_norm and x.shape[0] == 1:
            g = self.options.grid
            if (hw[0] // g) * (hw[1] // g) == 1:
                raise ValueError(
                    f"Batch norm cannot train on this: a single {hw[0]}x{hw[1]} image leaves a 1x1 map at the "
                    "bottom of the U, one value per channel, and batch norm needs more than one to compute "
                    f"a mean and variance. Use a batch of 2 or more images, an input of at least {2 * g}, "
                    "or model.eval() for inference."
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        last = len(self.down_convs) - 1
        copied = []
        for level, (conv, pool) in enumerate(zip(self.down_convs, self.down_samples)):
            x = conv(x)
            if level == last:
                x = self.dropout(x)  # the end of the contracting path
            copied.append(x)  # the "copy" of copy and crop
            x = pool(x)
        x = self.dropout(self.bottom(x))
        for i, (up, conv) in enumerate(zip(self.up_samples, self.up_convs)):
            x = up(x)
            skip = copied.pop()
            if self.options.skips:  # the copy and crop, concatenated onto the up-conv's map
                x = self.concats[i](x, skip)
            x = conv(x)
        return self.head(x)

    def extra_repr(self) -> str:
        return f"{self.options.describe()}"


def unet_pass(model: UNet, x: torch.Tensor, join) -> torch.Tensor:
    """``model``'s own layers, in the order of :meth:`UNet.forward`, with ``join(up, copy)`` at every skip
    connection instead of the model's copy and crop (no dropout, no size check): what a lesson runs to show
    a plain ``torch.cat`` failing, and what a checker runs to compute a student's typical slip with the
    real weights."""
    copied = []
    for conv, pool in zip(model.down_convs, model.down_samples):
        x = conv(x)
        copied.append(x)  # the "copy"
        x = pool(x)
    x = model.bottom(x)
    for up, conv in zip(model.up_samples, model.up_convs):
        x = conv(join(up(x), copied.pop()))  # the copies come back deepest first
    return model.head(x)


#: the largest network built for real (4 bytes a parameter: about 2 GB); larger ones on the meta device only
MAX_PARAMETERS = 500_000_000


def _check_size_to_build(o: UNetOptions) -> None:
    """Refuse, with the numbers, to allocate a network too large for a laptop (its shapes still work)."""
    from .shapes import count_parameters

    n = count_parameters(o)
    if n > MAX_PARAMETERS and torch.empty(0).device.type != "meta":
        raise ValueError(
            f"UNet({o.describe()}) has {n:,} parameters ({4 * n / 2**30:.1f} GB of weights): more than the "
            f"{MAX_PARAMETERS:,} this course builds for real. Its shapes need no weights: use "
            "unet_lesson.shape_table(size, ...) or count_parameters(...), or build it on PyTorch's meta device "
            "(with torch.device('meta'): UNet(...)), which allocates nothing. A smaller depth or base_channels "
            "also works: every level doubles the channels."
        )


def incoming(module: nn.Module) -> int:
    r"""N of the paper's :math:`\sqrt{2/N}`: how many inputs feed one output unit of a conv layer.

    A k x k conv over C_in channels: :math:`N = k^2 C_{in}` (9 * 64 = 576 in the paper's example).
    A transposed conv with stride s paints each output pixel with :math:`(k/s)^2` taps per input
    channel: :math:`N = C_{in} (k/s)^2` (for the 2x2, stride-2 up-conv: :math:`N = C_{in}`).
    """
    kh, kw = module.kernel_size
    if isinstance(module, nn.ConvTranspose2d):
        sh, sw = module.stride
        return max(1, round(module.in_channels * (kh / sh) * (kw / sw)))
    return module.in_channels * kh * kw // module.groups


@torch.no_grad()
def he_init_(model: nn.Module) -> nn.Module:
    r"""The paper's initialisation: every conv weight from :math:`\mathcal{N}(0, 2/N)`, biases 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            m.weight.normal_(0.0, math.sqrt(2.0 / incoming(m)))
            if m.bias is not None:
                m.bias.zero_()
    return model
