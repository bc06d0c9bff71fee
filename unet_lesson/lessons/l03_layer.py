"""Lesson 03's real layer and its examples (转置卷积 the up-conv), kept apart from the views and the
exercises: the lesson's tiny example input and kernels, what is run for real and up to where (``LIMITS``),
the parser with this lesson's words for each setting, and the real ``nn.ConvTranspose2d``'s facts
(weight shape ``(in, out, k, k)``, parameters, output shape). :mod:`.l03_up_conv` re-exports all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from ..core.crops import LARGEST, not_giant
from ..core.env import cpu_threads, seeded
from ..core.parse import whole
from ..core.sizes import up_conv_out
from ..ui.tables import key_value_table

__all__ = ["EXAMPLE_INPUT", "EXAMPLE_KERNEL", "UNET_KERNEL", "LIMITS", "UpConv", "layer_facts", "layer_facts_html"]

# The lesson's tiny example: a 2x2 input and a 3x3 "tent" kernel (the outer product of [1, 2, 1]).
EXAMPLE_INPUT = np.array([[1.0, 2.0], [3.0, 4.0]])
EXAMPLE_KERNEL = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0])
# U-Net's up-conv is 2x2 with stride 2; four different numbers make each copy recognisable.
UNET_KERNEL = np.array([[1.0, 2.0], [3.0, 4.0]])

#: What is run for real, and up to where (beyond, the arithmetic answers and the view says what it did not run).
LIMITS = {
    "largest value": LARGEST,  # any setting: beyond 10**100, a message (no map has a googol pixels)
    "elements": 2**21,  # channels x pixels of the input and the output, and weights, of a layer run on the CPU
    "pixels": 2**18,  # pixels (H x W) of a map, and of the copies' canvas, run for real (512 x 512)
    "work": 2 * 10**9,  # multiply-adds of the full layer's forward pass (about half a second)
    "view work": 5 * 10**8,  # the same, in the widget (it reruns on every change)
    "twin work": 2 * 10**8,  # multiply-adds of the 1-channel twin that measures the output size
    "numeric work": 2 * 10**6,  # the widget's number-by-number check of scatter-and-sum
    "numeric canvas": 1024,  # ... and the largest canvas it paints
    "draw": 96,  # largest output drawn (the copies may cover up to twice that)
}


# --------------------------------------------------------------------------
# checking what a student typed
# --------------------------------------------------------------------------
_WHAT = {
    "size": "It is the input map's height and width: a feature map needs at least one row and one column.",
    "kernel": "It is the kernel's height and width: a kernel has at least one weight.",
    "stride": "It is how far apart neighbouring input pixels paint their kernel copies; a stride of 0 would "
    "paint every copy on the same spot, so stride 1 is the smallest.",
    "padding": "It is how many rows and columns are trimmed from each border of the output; use 0 for no trimming.",
    "output_padding": "It is the extra rows and columns added at the bottom and right of the output; use 0 for none.",
    "in_channels": "It is the number of channels of the input map.",
    "out_channels": "It is the number of channels of the output map (kernels of the layer).",
}


def _whole(name: str, value, minimum: int) -> int:
    """The one parser (unet_lesson.core.parse.whole), with this lesson's words for what each setting means,
    after the course's largest value (so that every number it prints can be printed)."""
    return whole(not_giant(value, name, _WHAT.get(name, "")), name, minimum=minimum, hint=_WHAT.get(name, ""))


@dataclass(frozen=True)
class UpConv:
    r"""One up-conv's seven settings, each checked with this lesson's words (the paddings from 0, the others
    from 1). The defaults are the notes' bottom up-conv, ``nn.ConvTranspose2d(1024, 512, 2, stride=2)`` on a
    28x28x1024 map: :math:`H_{out} = (H - 1)\,s - 2p + k + \text{output\_padding}`."""

    size: int = 28
    kernel: int = 2
    stride: int = 2
    padding: int = 0
    output_padding: int = 0
    in_channels: int = 1024
    out_channels: int = 512

    def __post_init__(self):
        for name in _WHAT:
            object.__setattr__(self, name, _whole(name, getattr(self, name), 0 if "padding" in name else 1))

    @property
    def formula(self):
        """The size rule with the numbers in it (a clear ``ValueError`` for an impossible setting)."""
        return up_conv_out.explain(self.size, self.kernel, self.stride, self.padding, self.output_padding)

    @property
    def weights(self) -> int:
        """One k x k kernel per (input channel, output channel) pair."""
        return self.in_channels * self.out_channels * self.kernel * self.kernel

    @property
    def work(self) -> int:
        """Multiply-adds of a forward pass: every input number paints a k x k copy in every output channel."""
        return self.weights * self.size * self.size

    @property
    def canvas(self) -> int:
        """Side of the canvas the copies are painted on (before the padding is trimmed off)."""
        return max((self.size - 1) * self.stride + self.kernel, self.padding + self.formula.result)

    def real_layer(self, device: str = "meta"):
        """A real ``nn.ConvTranspose2d``; on the ``meta`` device it has shapes but allocates no memory. On the
        CPU its weights are at most ``LIMITS["elements"]`` numbers."""
        from torch import nn

        if str(device) != "meta" and self.weights > LIMITS["elements"]:
            raise ValueError(
                f"this layer has {self.weights:,} weights, more than the {LIMITS['elements']:,} the course builds in "
                "memory; use device='meta' (shapes without memory)."
            )
        if self.weights >= 2**62:
            raise ValueError(f"PyTorch cannot describe a weight of {self.weights:,} numbers, even on the meta device.")
        with seeded(0):  # its weights are not what it shows; they must not come from the student's RNG
            return nn.ConvTranspose2d(
                self.in_channels,
                self.out_channels,
                self.kernel,
                stride=self.stride,
                padding=self.padding,
                output_padding=self.output_padding,
                device=device,
            )


# --------------------------------------------------------------------------
# the real layer: weight shape (in, out, k, k), parameters, channels 1/2
# --------------------------------------------------------------------------
def layer_facts(up: UpConv | None = None, *, max_work: int | None = None) -> dict:
    """Everything about one up-conv (default: the notes' bottom up-conv, 28x28x1024 -> 56x56x512, a real
    forward pass on the CPU, about half a second), read from the real layer: weight and bias shapes,
    parameter count, and the output shape of a forward pass.

    The shapes and counts come from the layer built on PyTorch's ``meta`` device (shapes without
    memory, instant for any size PyTorch can describe). The forward pass runs on the CPU while the
    input, the output, the copies' canvas and the weights each stay within ``LIMITS["elements"]``
    and the multiply-adds within ``max_work`` (default ``LIMITS["work"]``); beyond, a 1-channel twin
    with the same kernel, stride and padding measures the output size while it is small; beyond
    that, the size comes from the formula alone. ``how`` says in words which was done."""
    import torch

    up = UpConv() if up is None else up
    size, kernel, in_channels, out_channels = up.size, up.kernel, up.in_channels, up.out_channels
    f = up.formula  # a clear message for an impossible setting
    out, canvas, weights, work = f.result, up.canvas, up.weights, up.work
    max_work = LIMITS["work"] if max_work is None else max_work
    limit, pixels = LIMITS["elements"], LIMITS["pixels"]
    twin = size * size <= pixels and canvas * canvas <= pixels and kernel * kernel * size * size <= LIMITS["twin work"]
    full = (
        twin
        and weights <= limit
        and in_channels * size * size <= limit
        and out_channels * canvas * canvas <= limit
        and work <= max_work
    )
    describable = weights < 2**62
    conv_shape = None
    if describable:
        from torch import nn

        layer = up.real_layer()  # meta: no memory
        weight_shape, bias_shape = tuple(layer.weight.shape), tuple(layer.bias.shape)
        params = sum(p.numel() for p in layer.parameters())
        conv_shape = tuple(nn.Conv2d(in_channels, out_channels, kernel, device="meta").weight.shape)
    else:
        weight_shape, bias_shape, params = (
            (in_channels, out_channels, kernel, kernel),
            (out_channels,),
            weights + out_channels,
        )
    with torch.no_grad(), cpu_threads(1):  # one thread: on a busy machine a second one only spin-waits
        if full:
            c, h, w = up.real_layer(device="cpu")(torch.zeros(1, in_channels, size, size)).shape[1:]
            how = "real forward pass"
        elif twin:
            twin_layer = replace(up, in_channels=1, out_channels=1).real_layer(device="cpu")
            h, w = twin_layer(torch.zeros(1, 1, size, size)).shape[-2:]
            c = out_channels
            how = (
                f"the full layer is not run here: {work:,} multiply-adds, {weights:,} weights and maps of up to "
                f"{max(in_channels * size * size, out_channels * canvas * canvas):,} numbers, beyond this view's "
                f"limits ({max_work:,} multiply-adds, {limit:,} numbers); the size comes from a real forward pass of a "
                "1-channel twin with the same kernel, stride and padding"
            )
        else:
            c, h, w = out_channels, out, out
            how = (
                f"not run: a {size:,}×{size:,} map painted onto a {canvas:,}×{canvas:,} canvas is more than the "
                f"{pixels:,} pixels (or {LIMITS['twin work']:,} multiply-adds) this view runs; the size comes from the "
                "formula, which the tests check against nn.ConvTranspose2d"
            )
    if not describable:
        how += "; the weight is too large even for PyTorch's meta device, so its shape and count are arithmetic"
    return {
        "in_shape_notes": (size, size, in_channels),  # H x W x C, as the notes write it
        "out_shape_notes": (int(h), int(w), int(c)),
        "in_shape": (in_channels, size, size),  # C x H x W, as PyTorch stores it
        "out_shape": (int(c), int(h), int(w)),
        "weight_shape": weight_shape,  # (in, out, k, k)
        "conv_weight_shape": conv_shape,  # nn.Conv2d's (out, in, k, k), for comparison
        "bias_shape": bias_shape,
        "weights": weights,
        "params": params,
        "formula": f.text,
        "output": out,
        "how": how,
        "ran": "full" if full else ("twin" if twin else "formula"),
        "layer": (
            f"nn.ConvTranspose2d({in_channels}, {out_channels}, kernel_size={kernel}, stride={up.stride}"
            + (f", padding={up.padding}" if up.padding else "")
            + (f", output_padding={up.output_padding}" if up.output_padding else "")
            + ")"
        ),
    }


@lru_cache(maxsize=1)
def _notes_layer() -> dict:
    """The notes' up-conv, 28x28x1024 -> 56x56x512, measured the cheap way (meta device and a 1-channel twin):
    what the exercises compare with, in milliseconds."""
    return layer_facts(max_work=0)


def layer_facts_html(up: UpConv | None = None, params: bool = True) -> str:
    """:func:`layer_facts` as a table; ``params=False`` shows the shapes only (before the exercise on them)."""
    f = layer_facts(up)
    (hi, wi, ci), (ho, wo, co) = f["in_shape_notes"], f["out_shape_notes"]
    rows = [
        ("layer", f["layer"]),
        ("input (H×W×C)", f"{hi}×{wi}×{ci}"),
        ("output (H×W×C)", f"{ho}×{wo}×{co}   ({f['how']})"),
        ("size rule", f["formula"]),
    ]
    if params:
        rows += [
            ("weight shape (in, out, k, k)", "×".join(map(str, f["weight_shape"]))),
            ("parameters", f"{f['weights']:,} weights + {f['bias_shape'][0]:,} biases = {f['params']:,}"),
        ]
        if f["conv_weight_shape"]:
            rows.append(("nn.Conv2d with the same numbers stores", f"(out, in, k, k) = {f['conv_weight_shape']}"))
    return key_value_table(rows, css="ul-upconv-facts")
