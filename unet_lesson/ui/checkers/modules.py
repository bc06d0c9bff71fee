r"""Checkers of the ``nn.Module`` classes students write (lessons 06 and 07), against the package.

* :func:`check_double_conv`: ``DoubleConv(in_channels, out_channels)`` (two valid 3×3 convs + ReLU)
  vs :class:`unet_lesson.DoubleConvolution`: shapes, parameter count, equal outputs with the same weights;
* :func:`check_my_unet`: a whole valid ``MyUNet`` with the paper's defaults: 572×572×1 -> 388×388×2 and
  31,030,658 parameters (on the ``meta`` device: no memory, no time), and, when it takes the keywords
  ``in_channels, num_classes, base_channels, depth``, equal outputs to :class:`unet_lesson.UNet` on small
  configurations; the forward's typical slips named (no crop, a corner crop, the concatenation the wrong way
  round, the copies in the wrong order or taken after the pool, no head, a softmax after it), and a network
  built from a ``DoubleConv`` that is still a stub "not attempted";
* :func:`check_same_block`: ``SameBlock(in_channels, out_channels)`` (Conv-BN-ReLU twice, padding 1) vs
  ``DoubleConvolution(..., padding=1, batch_norm=True)``, outputs compared in eval mode;
* :func:`check_same_unet`: a same-padding ``SameUNet``: output size = input size for multiples of
  ``2**depth``, the parameter count and outputs of ``UNet(padding="same")``; the forward's slips named as for
  ``MyUNet`` (a leftover centre crop is a no-op there and passes), a ``SameBlock`` still a stub "not attempted".

Weights are copied layer by layer in the order the forward pass uses them (so the student may
name and register the layers as they like), after checking the shapes line up.
"""

from __future__ import annotations

import copy
import inspect
import re
from typing import Any

import torch
from torch import nn

from ...core.env import seeded
from ...core.model import DoubleConvolution, UNet, unet_pass
from ...core.ops import center_crop
from ...core.shapes import count_parameters
from . import solutions
from ._engine import (
    Failed,
    Run,
    checker,
    compare_arrays,
    copy_weights,
    describe,
    layers_in_call_order,
    line_up,
    n_params,
    stub_reason,
)

__all__ = [
    "check_double_conv",
    "check_my_unet",
    "check_same_block",
    "check_same_unet",
    "BLOCK_CASES",
    "VALID_CONFIGS",
    "SAME_CONFIGS",
]

# (in_channels, out_channels, input shape (N, C, H, W)): even, odd and rectangular sizes, a batch of 2,
# the smallest size, as many channels in as out
BLOCK_CASES = ((1, 8, (1, 1, 12, 12)), (3, 4, (2, 3, 11, 13)), (2, 2, (1, 2, 5, 5)), (4, 6, (1, 4, 6, 9)))
# small configurations of the whole network, with a valid input shape for each
VALID_CONFIGS = (
    (dict(in_channels=1, num_classes=2, base_channels=4, depth=2), (2, 1, 44, 60)),
    (dict(in_channels=3, num_classes=3, base_channels=2, depth=3), (1, 3, 92, 92)),
    (dict(in_channels=1, num_classes=2, base_channels=4, depth=1), (1, 1, 22, 18)),
)
SAME_CONFIGS = (
    (dict(in_channels=1, num_classes=2, base_channels=4, depth=2), (2, 1, 16, 20)),
    (dict(in_channels=3, num_classes=3, base_channels=2, depth=3), (2, 3, 24, 32)),
    (dict(in_channels=1, num_classes=2, base_channels=4, depth=1), (2, 1, 6, 10)),
)
_KEYWORDS = ("in_channels", "num_classes", "base_channels", "depth")


def _randn(shape, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _randomise_batch_norm(module: nn.Module, seed: int) -> None:
    """Give every batch norm non-trivial statistics and affine weights, so that a missing one shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.5, 0.5, generator=g)
                m.running_mean.uniform_(-0.5, 0.5, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)


def _module(run: Run, case: str, obj: Any) -> nn.Module:
    if not isinstance(obj, nn.Module):
        raise run.fail(
            f"{case} gives {describe(obj)}, not an nn.Module: write a class that subclasses nn.Module "
            "(and calls super().__init__() first).",
            case,
        )
    return obj


def _tensor(run: Run, case: str, out: Any, real: torch.Tensor) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        what = "None (is the return missing in forward?)" if out is None else describe(out)
        raise run.fail(f"for {case} yours gives {what}, {run.real} a tensor of shape {tuple(real.shape)}.", case)
    return out


def _error_hint(exc: BaseException) -> str:
    text = str(exc)
    if "Sizes of tensors must match except in dimension 1" in text:
        return (
            "the two maps to concatenate differ in size: with valid convs the copied map is larger than the "
            "up-conv's output, so centre-crop it to the up-conv's size before torch.cat (copy *and crop*)."
        )
    if "channels, but got" in text or "channels instead" in text:
        return (
            "a layer got a different number of channels than it was built for. A conv makes as many channels "
            "as it has kernels; in the expanding path the up-conv halves them (ConvTranspose2d(2c, c, 2, "
            "stride=2)) and the concatenation doubles them back (c + c)."
        )
    return ""


def _unet_error_hint(exc: BaseException) -> str:
    """What an exception in a student's MyUNet most likely means (its __init__ is given: the forward's slips)."""
    text = str(exc)
    if isinstance(exc, NameError) and "DoubleConv" in text:
        return "MyUNet builds its levels from your DoubleConv: run exercise 6.5's cell first, then this check."
    if "Cannot crop" in text:
        return (
            "the copy is smaller than the up-conv's map. Keep each level's copy *before* its pool, and take the "
            "copies back deepest first (a list's pop() gives the last one kept)."
        )
    if "Sizes of tensors must match except in dimension 1" in text:
        return (
            "the two maps to concatenate differ in size. Keep each level's copy *before* its pool (the pooled map "
            "is too small), and centre-crop it to the up-conv's size before torch.cat: "
            "center_crop(copy, x.shape[-2:])."
        )
    if any(t in text for t in ("channels, but got", "channels instead", "Invalid channel dimensions")):  # meta
        return (
            "a layer got a different number of channels than it was built for. The copies come back in reverse "
            "order, the deepest first (a list's pop() gives the last one kept), and each DoubleConv of the "
            "expanding path takes the copy and the up-conv's map concatenated (c + c channels)."
        )
    return _error_hint(exc)


def _unet_pass(real: UNet, x: torch.Tensor, *, copy_first: bool = True, crop=center_crop) -> torch.Tensor:
    """The package network's own layers run the way a slip would run them (``copy_first=False``: concatenated
    the other way round; ``crop``: another crop than the centre's)."""

    def join(up, copy):
        copied = crop(copy, tuple(up.shape[-2:]))
        return torch.cat([copied, up] if copy_first else [up, copied], dim=1)

    return unet_pass(real, x, join)


def _unet_slips(real: UNet, x: torch.Tensor, *, same: bool = False):
    """A network's typical forward slips, each computed with the package's layers (the same weights as the
    student's), and the nudge for each. With same padding a crop keeps everything (a leftover one does no harm),
    so a corner crop is no slip there."""
    corner = (
        lambda: _unet_pass(real, x, crop=lambda m, hw: m[..., : hw[0], : hw[1]]),
        "yours crops the copy's top-left corner; copy and crop keeps its centre: center_crop(copy, x.shape[-2:]).",
    )
    return [
        (
            lambda: _unet_pass(real, x, copy_first=False),
            "the concatenation is the wrong way round: the copy comes first, torch.cat([copy, x], dim=1) (as in "
            "unet_lesson.UNet and lesson 04's crop_and_concat), or the weights meet the wrong channels.",
        ),
        *([] if same else [corner]),
        (
            lambda: torch.softmax(_unet_pass(real, x), dim=1),
            "a softmax after the head: the network returns the head's scores as they are (the loss applies the "
            "softmax).",
        ),
        (
            lambda: torch.sigmoid(_unet_pass(real, x)),
            "a sigmoid after the head: the network returns the head's scores as they are (the loss applies the "
            "softmax).",
        ),
    ]


def _same_unet_error_hint(exc: BaseException) -> str:
    """What an exception in a student's SameUNet most likely means (its __init__ is given: the forward's slips)."""
    text = str(exc)
    if isinstance(exc, NameError) and "SameBlock" in text:
        return "SameUNet builds its levels from your SameBlock: run exercise 7.8's cell first, then this check."
    if isinstance(exc, NameError) and "center_crop" in text:
        return (
            "no crop is needed any more: with same padding the copy already has the up-conv's size, so "
            "torch.cat([copy, up_conv(x)], dim=1) joins them as they are."
        )
    in_order = (
        "The copies come back in reverse order, the deepest first (reversed(copies), or a list's pop() takes the "
        "last one kept)"
    )
    sizes = re.search(r"Expected (\d+) in dimension \d+ but got (\d+)", text)
    if sizes:
        first, second = int(sizes.group(1)), int(sizes.group(2))
        if 2 * first == second:  # the copy (concatenated first) is half the up-conv's map: taken after the pool
            return "the copy is half the up-conv's size: keep each level's map *before* self.pool, not after it."
        if first > second and first % second == 0:
            return f"the copy is larger than the up-conv's map: it is another level's. {in_order}."
    if "Sizes of tensors must match except in dimension 1" in text:
        return (
            "the two maps to concatenate differ in size. With same padding they cannot, unless a copy was kept "
            f"*after* its pool (keep each level's map before self.pool) or a 3×3 conv lost its padding=1. {in_order}."
        )
    if any(t in text for t in ("channels, but got", "channels instead", "Invalid channel dimensions")):  # meta
        return (
            f"a layer got a different number of channels than it was built for. {in_order}, and each SameBlock of "
            "the expanding path takes the copy and the up-conv's map concatenated (c + c channels)."
        )
    return _error_hint(exc)


def _unfinished_part(run: Run, name: str, net: nn.Module) -> None:
    """Stop, as not attempted, when ``net`` is built from a student's block that is still a stub (the exercise
    before this one): its forward pass cannot be checked until the block is written."""
    for _, m in net.named_modules():
        if m is net or type(m).__module__.startswith("torch"):
            continue
        reason = stub_reason(m)
        if reason:
            block = type(m).__name__
            raise Failed(
                run.result(
                    "not attempted",
                    f"{name} is built from your {block}, which is not written yet ({reason.split(':')[0]}): write "
                    f"it in its exercise's cell (the one before this), run that cell, then run this check.",
                )
            )


def _channel_hint(out_shape: tuple, real_shape: tuple, paper: str) -> str:
    if len(out_shape) == 4 and out_shape[2:] == real_shape[2:] and out_shape[1] != real_shape[1]:
        return (
            f"yours ends with {out_shape[1]} channels, {paper} with {real_shape[1]}, one score per class: the "
            "1×1 head (a Conv2d to num_classes channels) comes last; is it missing from the forward pass?"
        )
    return ""


def _size_hint(x_hw: int, out_hw: int, real_hw: int, same: bool) -> str:
    if same and out_hw < x_hw:
        return "yours shrinks the map: same padding is padding=1 on every 3×3 conv."
    if not same and out_hw == x_hw:
        return (
            "yours keeps the size: padding=1? The paper's 3×3 convs are valid (padding=0): each takes one "
            "pixel off every border."
        )
    if not same and out_hw > real_hw:
        return (
            "yours is larger than the paper's: do the convs pad (padding=1)? The paper's 3×3 convs are valid "
            "(padding=0): each takes one pixel off every border."
        )
    return ""


def _real_order(model: nn.Module, x: torch.Tensor):
    """The package model's layers with weights in call order, and its output."""
    return layers_in_call_order(Run("unet_lesson.UNet"), "unet_lesson.UNet", model, x)


def _build_and_run(run: Run, made: str, make_yours, make_real, shape, n: int):
    """Build the student's module and the package's (initial weights drawn inside ``seeded(n)``: never from
    the student's own RNG; batch-norm statistics made non-trivial), run both on one seeded input of ``shape``.
    Returns ``(yours, real, case, x, order, out, real_order, real_out)``: the layers each forward pass used,
    in call order, and the outputs."""
    with seeded(n):
        yours = _module(run, made, make_yours()).eval()
        real = make_real().eval()
    _randomise_batch_norm(real, n)
    case = f"{made} on an input of shape {shape} (N, C, H, W)"
    x = _randn(shape, n)
    with torch.no_grad():
        real_order, real_out = _real_order(real, x.clone())
        order, out = layers_in_call_order(run, case, yours, x.clone())
        out = _tensor(run, case, out, real_out)
    return yours, real, case, x, order, out, real_order, real_out


# ---- blocks ---------------------------------------------------------------------------------
def _check_block(run: Run, student: Any, name: str, same: bool) -> str:
    """The block checks of 6.5 and 7.1: shapes, parameter counts, the same outputs; the success message."""
    for n, (c_in, c_out, shape) in enumerate(BLOCK_CASES):
        made = f"{name}({c_in}, {c_out})"
        block, real, case, x, order, out, real_order, real_out = _build_and_run(
            run,
            made,
            lambda: run.call(made, student, c_in, c_out),
            lambda: DoubleConvolution(c_in, c_out, padding=1 if same else 0, batch_norm=same),
            shape,
            n,
        )
        with torch.no_grad():
            if tuple(out.shape) != tuple(real_out.shape):
                hint = ""
                if out.ndim == 4:
                    if out.shape[-1] == shape[-1] - 2:
                        hint = "one 3×3 conv only? A double conv has two, each followed by a ReLU."
                    hint = hint or _size_hint(shape[-1], out.shape[-1], real_out.shape[-1], same)
                    if not hint and out.shape[1] != c_out:
                        hint = "the first conv makes out_channels channels, the second keeps them."
                raise run.fail(
                    f"for {case} yours gives shape {tuple(out.shape)}, {run.real} gives {tuple(real_out.shape)}.",
                    case,
                    hint,
                )
            _same_count(run, made, block, real, same)
            copy_weights(run, case, order, real_order, run.real, block)
            out = _tensor(run, case, run.call(case, block, x.clone()), real_out)
            compare_arrays(run, case, out, real_out.double().numpy(), slips=_block_slips(real, x, same), atol=1e-4)
        run.ok()
    # the parameter count, on the meta device (no memory): the paper's first level and a deeper one
    for c_in, c_out in ((1, 64), (64, 128)):
        made = f"{name}({c_in}, {c_out})"
        with torch.device("meta"):
            block = _module(run, made, run.call(made, student, c_in, c_out))
            real = DoubleConvolution(c_in, c_out, padding=1 if same else 0, batch_norm=same)
        _same_count(run, made, block, real, same)
        run.ok()
    if same:
        return (
            f"{name} agrees with unet_lesson's Conv-BN-ReLU block: the size is kept on even, odd and "
            "rectangular inputs, the parameter counts match, and in eval mode the outputs are the same."
        )
    return (
        f"{name} agrees with unet_lesson.DoubleConvolution: shapes (H -> H - 4) on even, odd and rectangular "
        "inputs, parameter counts, and the same outputs with the same weights."
    )


def _same_count(run: Run, made: str, block: Any, real: Any, same: bool) -> None:
    """The student's block has as many parameters as the real one, or the check fails saying how many."""
    yours, theirs = n_params(block), n_params(real)
    if yours != theirs:
        c_in, c_out = real.conv1.in_channels, real.conv1.out_channels
        raise run.fail(
            f"{made} has {yours:,} parameters, {run.real} {theirs:,}.",
            made,
            _count_hint(block, yours, c_in, c_out, same),
        )


def _count_hint(block: nn.Module, yours: int, c_in: int, c_out: int, same: bool) -> str:
    conv = 9 * c_in * c_out + 9 * c_out * c_out
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in block.modules())
    if same:
        if yours == conv + 2 * c_out:
            return "no batch norm? Conv → BN → ReLU: an nn.BatchNorm2d(out_channels) after each conv."
        if yours == conv + 2 * c_out + 4 * c_out:
            return "the conv before a batch norm needs no bias (BN's β shifts anyway): nn.Conv2d(..., bias=False)."
        return ""
    if has_bn:
        return "batch norm belongs to lesson 07's block; the paper's double conv is Conv → ReLU, twice."
    if yours == conv:
        return "no biases? The paper's convs have one per kernel."
    return ""


def _block_slips(real: nn.Module, x: torch.Tensor, same: bool):
    relu = torch.relu
    if not same:
        c1, c2 = real.conv1, real.conv2
        return [
            (lambda: c2(c1(x)), "yours has no ReLU: each conv is followed by one (torch.relu or nn.ReLU)."),
            (lambda: relu(c2(c1(x))), "a ReLU after the first conv too: Conv → ReLU → Conv → ReLU."),
            (lambda: c2(relu(c1(x))), "a ReLU after the second conv too: Conv → ReLU → Conv → ReLU."),
        ]
    c1, b1, c2, b2 = real.conv1, real.bn1, real.conv2, real.bn2
    return [
        (lambda: b2(relu(c2(b1(relu(c1(x)))))), "the order is Conv → BN → ReLU: batch norm before the ReLU."),
        (
            lambda: copy.deepcopy(real).train()(x.clone()),
            "in eval mode batch norm uses its running statistics: use nn.BatchNorm2d (it follows .eval()), not "
            "the batch's own mean and variance.",
        ),
        (lambda: c2(b1(relu(c1(x)))), "each conv is followed by BN and a ReLU, the second one too."),
    ]


@checker("unet_lesson.DoubleConvolution", solutions.DoubleConv, error_hint=_error_hint)
def check_double_conv(run: Run, DoubleConv) -> str:
    """Check ``DoubleConv(in_channels, out_channels)`` against ``unet_lesson.DoubleConvolution``."""
    return _check_block(run, DoubleConv, "DoubleConv", same=False)


@checker("unet_lesson.DoubleConvolution(..., padding=1, batch_norm=True)", solutions.SameBlock, error_hint=_error_hint)
def check_same_block(run: Run, SameBlock) -> str:
    """Check ``SameBlock(in_channels, out_channels)`` against ``DoubleConvolution(.., padding=1, batch_norm=True)``."""
    return _check_block(run, SameBlock, "SameBlock", same=True)


# ---- whole networks -------------------------------------------------------------------------
def _takes_keywords(cls: Any) -> bool:
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
    return all(k in params for k in _KEYWORDS) or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _check_net(run: Run, student: Any, name: str, padding: str, sizes, configs, fallback) -> str:
    """The whole-network check; the forward's known slips (:func:`_unet_slips`) named when the numbers differ."""
    same = padding == "same"
    paper = f"unet_lesson.UNet({'padding=' + repr(padding) if same else ''})"
    # 1. the defaults, on the meta device: shapes and parameter count without memory or time
    with torch.device("meta"):
        net = _module(run, f"{name}()", run.call(f"{name}()", student))
        _unfinished_part(run, name, net)
        real = UNet(padding=padding)
        for h, w in sizes:
            case = f"{name}() on a {h}×{w}×1 input (shapes computed on the meta device)"
            x = torch.empty(1, 1, h, w)
            real_order, real_out = _real_order(real, x)
            order, out = layers_in_call_order(run, case, net, x)
            out = _tensor(run, case, out, real_out)
            if tuple(out.shape) != tuple(real_out.shape):
                o = tuple(out.shape)
                got = f"{o[2]}×{o[3]}×{o[1]}" if len(o) == 4 else str(o)
                rh, rw, rc = real_out.shape[2], real_out.shape[3], real_out.shape[1]
                hint = (
                    (_size_hint(w, o[3], real_out.shape[3], same) if len(o) == 4 else "")
                    or _channel_hint(o, tuple(real_out.shape), paper)
                    or line_up(order, real_order, paper)
                )
                raise run.fail(f"for {case} yours gives {got}, {paper} gives {rh}×{rw}×{rc}.", case, hint)
            run.ok()
        yours, theirs = n_params(net), count_parameters(padding=padding)
        if yours != theirs:
            raise run.fail(
                f"{name}() has {yours:,} parameters, {paper} has {theirs:,}.",
                f"{name}()",
                line_up(order, real_order, paper),
            )
        run.ok()
    # 2. the same numbers as unet_lesson.UNet with the same weights
    if _takes_keywords(student):
        tried = [(cfg, shape) for cfg, shape in configs]
        note = f"on {len(tried)} small configurations (depth 1 to 3)"
    else:
        tried = [({}, fallback)]
        note = (
            f"on a {fallback[-2]}×{fallback[-1]} input with the default sizes (give {name} the keywords "
            f"{', '.join(_KEYWORDS)} to have it checked on small networks too)"
        )
    for n, (cfg, shape) in enumerate(tried):
        made = f"{name}({', '.join(f'{k}={v}' for k, v in cfg.items())})"
        net, real, case, x, order, out, real_order, real_out = _build_and_run(
            run, made, lambda: run.call(made, student, **cfg), lambda: UNet(padding=padding, **cfg), shape, n
        )
        with torch.no_grad():
            if tuple(out.shape) != tuple(real_out.shape):
                raise run.fail(
                    f"for {case} yours gives shape {tuple(out.shape)}, {paper} gives {tuple(real_out.shape)}.",
                    case,
                    line_up(order, real_order, paper),
                )
            if n_params(net) != n_params(real):
                raise run.fail(
                    f"{made} has {n_params(net):,} parameters, unet_lesson.UNet with the same settings "
                    f"{n_params(real):,}.",
                    made,
                    line_up(order, real_order, paper),
                )
            copy_weights(run, case, order, real_order, paper, net)
            out = _tensor(run, case, run.call(case, net, x.clone()), real_out)
            compare_arrays(run, case, out, real_out.double().numpy(), slips=_unet_slips(real, x, same=same), atol=1e-4)
        run.ok()
    return note


@checker(
    "unet_lesson.UNet",
    solutions.MyUNet,
    needs=(solutions.center_crop, solutions.DoubleConv),
    budget_s=60.0,
    error_hint=_unet_error_hint,
)
def check_my_unet(run: Run, MyUNet) -> str:
    """Check a valid ``MyUNet`` (the paper's defaults) against ``unet_lesson.UNet``."""
    note = _check_net(
        run, MyUNet, "MyUNet", "valid", sizes=((572, 572),), configs=VALID_CONFIGS, fallback=(1, 1, 188, 188)
    )
    return (
        f"MyUNet() gives 388×388×2 for 572×572×1 and has {count_parameters():,} parameters, as the paper's "
        f"network; {note} it computes the same numbers as unet_lesson.UNet with the same weights."
    )


@checker(
    "unet_lesson.UNet(padding='same')",
    solutions.SameUNet,
    needs=(solutions.SameBlock,),
    budget_s=60.0,
    error_hint=_same_unet_error_hint,
)
def check_same_unet(run: Run, SameUNet) -> str:
    """Check a same-padding ``SameUNet`` against ``unet_lesson.UNet(padding="same")``."""
    note = _check_net(
        run, SameUNet, "SameUNet", "same", sizes=((512, 512), (64, 96)), configs=SAME_CONFIGS, fallback=(2, 1, 32, 32)
    )
    return (
        f"SameUNet() keeps the size (512×512 and 64×96 inputs give maps of the same size) and has "
        f"{count_parameters(padding='same'):,} parameters; {note} it computes the same numbers as "
        "unet_lesson.UNet(padding='same') in eval mode with the same weights."
    )
