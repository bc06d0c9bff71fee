"""Lesson 03's real layer and its examples (转置卷积 the up-conv), kept apart from the views and the
exercises: the lesson's tiny example input and kernels, what is run for real and up to where (``LIMITS``),
the parser with this lesson's words for each setting, and the real ``nn.ConvTranspose2d``'s facts
(weight shape ``(in, out, k, k)``, parameters, output shape). :mod:`.l03_up_conv` re-exports all of it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..core.crops import LARGEST, not_giant
from ..core.env import cpu_threads, seeded
from ..core.parse import whole
from ..core.sizes import up_conv_out
from ..ui.tables import key_value_table

__all__ = ["EXAMPLE_INPUT", "EXAMPLE_KERNEL", "UNET_KERNEL", "LIMITS", "real_layer", "layer_facts", "layer_facts_html"]

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


def _settings(size, kernel, stride, padding, output_padding, in_channels, out_channels) -> tuple[int, ...]:
    """The seven settings parsed, in this order (``_WHAT``'s): the paddings from 0, the others from 1."""
    values = (size, kernel, stride, padding, output_padding, in_channels, out_channels)
    return tuple(_whole(name, v, 0 if "padding" in name else 1) for name, v in zip(_WHAT, values, strict=True))


# --------------------------------------------------------------------------
# the real layer: weight shape (in, out, k, k), parameters, channels 1/2
# --------------------------------------------------------------------------
def real_layer(
    in_channels: int = 1024,
    out_channels: int = 512,
    kernel: int = 2,
    stride: int = 2,
    padding: int = 0,
    output_padding: int = 0,
    device: str = "meta",
):
    """A real ``nn.ConvTranspose2d``; on the ``meta`` device it has shapes but allocates no memory. On the
    CPU its weights are at most ``LIMITS["elements"]`` numbers."""
    from torch import nn

    _, kernel, stride, padding, output_padding, in_channels, out_channels = _settings(
        1, kernel, stride, padding, output_padding, in_channels, out_channels
    )
    weights = in_channels * out_channels * kernel * kernel
    if str(device) != "meta" and weights > LIMITS["elements"]:
        raise ValueError(
            f"this layer has {weights:,} weights, more than the {LIMITS['elements']:,} the course builds in memory; "
            "use device='meta' (shapes without memory)."
        )
    if weights >= 2**62:
        raise ValueError(f"PyTorch cannot describe a weight of {weights:,} numbers, even on the meta device.")
    with seeded(0):  # its weights are not what it shows; they must not come from the student's RNG
        return nn.ConvTranspose2d(
            in_channels,
            out_channels,
            kernel,
            stride=stride,
            padding=padding,
            output_padding=output_padding,
            device=device,
        )


def layer_facts(
    size: int = 28,
    in_channels: int = 1024,
    out_channels: int = 512,
    kernel: int = 2,
    stride: int = 2,
    padding: int = 0,
    output_padding: int = 0,
    *,
    max_work: int | None = None,
) -> dict:
    """Everything about one up-conv, read from the real layer: weight and bias shapes, parameter
    count, and the output shape of a forward pass. Defaults: the notes' bottom up-conv,
    28x28x1024 -> 56x56x512 (a real forward pass on the CPU, about half a second).

    The shapes and counts come from the layer built on PyTorch's ``meta`` device (shapes without
    memory, instant for any size PyTorch can describe). The forward pass runs on the CPU while the
    input, the output, the copies' canvas and the weights each stay within ``LIMITS["elements"]``
    and the multiply-adds within ``max_work`` (default ``LIMITS["work"]``); beyond, a 1-channel twin
    with the same kernel, stride and padding measures the output size while it is small; beyond
    that, the size comes from the formula alone. ``how`` says in words which was done."""
    import torch

    size, kernel, stride, padding, output_padding, in_channels, out_channels = _settings(
        size, kernel, stride, padding, output_padding, in_channels, out_channels
    )
    f = up_conv_out.explain(size, kernel, stride, padding, output_padding)  # a clear message for an impossible one
    out = f.result
    max_work = LIMITS["work"] if max_work is None else max_work
    weights = in_channels * out_channels * kernel * kernel
    canvas = max((size - 1) * stride + kernel, padding + out)
    limit, pixels = LIMITS["elements"], LIMITS["pixels"]
    work = in_channels * out_channels * kernel * kernel * size * size
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

        layer = real_layer(in_channels, out_channels, kernel, stride, padding, output_padding)  # meta: no memory
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
            layer = real_layer(in_channels, out_channels, kernel, stride, padding, output_padding, device="cpu")
            c, h, w = layer(torch.zeros(1, in_channels, size, size)).shape[1:]
            how = "real forward pass"
        elif twin:
            twin_layer = real_layer(1, 1, kernel, stride, padding, output_padding, device="cpu")
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
            f"nn.ConvTranspose2d({in_channels}, {out_channels}, kernel_size={kernel}, stride={stride}"
            + (f", padding={padding}" if padding else "")
            + (f", output_padding={output_padding}" if output_padding else "")
            + ")"
        ),
    }


@lru_cache(maxsize=1)
def _notes_layer() -> dict:
    """The notes' up-conv, 28x28x1024 -> 56x56x512, measured the cheap way (meta device and a 1-channel twin):
    what the exercises compare with, in milliseconds."""
    return layer_facts(max_work=0)


def layer_facts_html(params: bool = True, **kwargs) -> str:
    """:func:`layer_facts` as a table; ``params=False`` shows the shapes only (before the exercise on them)."""
    f = layer_facts(**kwargs)
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
