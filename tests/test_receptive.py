"""The receptive field: the plain stack (lessons 01-02) and the U-Net's reach into the padding (06-07).

The stack's field is checked against autograd on real ``nn.Conv2d``/``nn.AvgPool2d`` layers (the same windows
as max pooling, with a gradient to every pixel), over odd and even sizes, paddings, kernels, strides and every
corner, edge and the centre. The U-Net's field by arithmetic is checked against autograd in
``test_lesson_whole.py``; here its *reach* (the window before the border cuts it) is checked for what it
must be: the cut field when cut at the border, the valid network's field size everywhere.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from unet_lesson import smallest_valid_size
from unet_lesson.core import receptive as R


def _autograd_field(layers, size, position):
    """Rows and columns of the input with a non-zero gradient of output pixel ``position``."""
    mods = []
    for layer in layers:
        if layer.kind == "conv":
            m = nn.Conv2d(1, 1, layer.kernel, layer.stride, layer.padding, bias=False).double()
            with torch.no_grad():
                m.weight.fill_(1.0 / layer.kernel**2)
        else:
            m = nn.AvgPool2d(layer.kernel, layer.stride, layer.padding)
        mods.append(m)
    x = torch.ones(1, 1, *size, dtype=torch.float64, requires_grad=True)
    y = nn.Sequential(*mods)(x)
    y[0, 0, position[0], position[1]].backward()
    nz = (x.grad[0, 0] != 0).nonzero()
    (r0, c0), (r1, c1) = nz.min(0).values.tolist(), nz.max(0).values.tolist()
    return (r0, r1), (c0, c1), tuple(y.shape[-2:])


STACKS = {
    "two 3x3 (a 5x5 field)": R.stack_layers(2, 1),
    "two blocks, valid": R.stack_layers(2, 2),
    "three blocks, padding 1": R.stack_layers(2, 3, padding=1),
    "5x5 kernels, padding 2": R.stack_layers(1, 3, kernel=5, padding=2),
    "strided conv and a 3x3 pool": [R.StackLayer("conv", 3, 2, 1), R.StackLayer("pool", 3, 2), R.StackLayer("conv", 3)],
}


@pytest.mark.parametrize("name", STACKS)
@pytest.mark.parametrize("size", [(33, 33), (32, 32), (29, 40)], ids=["odd", "even", "rectangle"])
def test_stack_field_equals_autograd_at_corners_edges_and_centre(name, size):
    layers = STACKS[name]
    _, _, (oh, ow) = _autograd_field(layers, size, (0, 0))
    for pos in itertools.product(sorted({0, 1, oh // 2, oh - 1}), sorted({0, ow // 2, ow - 1})):
        rows, cols, _ = _autograd_field(layers, size, pos)
        rf = R.stack_receptive_field(layers, size, pos)
        assert (rf.rows, rf.cols) == (rows, cols), f"{name}, input {size}, output pixel {pos}"


@pytest.mark.parametrize("name", STACKS)
def test_stack_reach_is_the_full_window_and_the_border_cuts_it(name):
    layers = STACKS[name]
    full = R.stack_field_size(layers)
    for pos in [(0, 0), (2, 3), None]:
        rf = R.stack_receptive_field(layers, 33, pos)
        assert rf.reach[0] in (full, full - 1) or rf.reach == (full, full), (name, pos, rf)
        (a, b), (lo, hi) = rf.reach_rows, rf.rows
        assert (max(a, 0), min(b, 32)) == (lo, hi)


def test_stack_field_size_formula():
    assert R.stack_field_size(R.stack_layers(2, 1)) == 5  # two 3x3 convs see as far as one 5x5
    assert R.stack_field_size(R.stack_layers(3, 1)) == 7
    assert R.stack_field_size(R.stack_layers(2, 2)) == 14  # 1 + 2 + 2 + 1 (pool) + 2*2 + 2*2
    assert R.stack_field_size([R.StackLayer("conv", 7)]) == 7


def test_valid_stack_never_sees_padding_and_padded_corner_does():
    assert not R.stack_receptive_field(R.stack_layers(2, 2), 32, (0, 0)).sees_padding
    corner = R.stack_receptive_field(R.stack_layers(2, 2, padding=1), 32, (0, 0))
    assert corner.sees_padding and corner.reach_rows[0] < 0
    assert not R.stack_receptive_field(R.stack_layers(2, 2, padding=1), 32, (8, 8)).sees_padding


@pytest.mark.parametrize(
    "bad,words",
    [
        (dict(position=(30, 0)), "outside"),
        (dict(position=(-1, 0)), "at least 0"),
        (dict(input_size=4), "layer"),
        (dict(input_size="32"), "whole number"),
    ],
)
def test_stack_bad_values_explain(bad, words):
    with pytest.raises(ValueError, match=words):
        R.stack_receptive_field(R.stack_layers(2, 2), **{"input_size": 32, **bad})


@pytest.mark.parametrize("bad", [dict(convs=0), dict(blocks=10**9), dict(kernel=-1), dict(padding=1.5)])
def test_stack_layers_bad_values_explain(bad):
    with pytest.raises(ValueError):
        R.stack_layers(**bad)


# ---- the U-Net: valid never reaches past the image; same padding's reach is the valid field ------------------
@pytest.mark.parametrize("opts", [dict(), dict(depth=2), dict(up_mode="bilinear")], ids=["paper", "depth2", "bilinear"])
def test_valid_unet_reach_is_its_field(opts):
    for pos in [(0, 0), (4, 7), None]:
        rf = R.receptive_field_arithmetic(572 if not opts else 188 + 16, pos, **opts)
        assert (rf.reach_rows, rf.reach_cols) == (rf.rows, rf.cols) and not rf.sees_padding


@pytest.mark.parametrize(
    "opts,size",
    [
        (dict(padding="same"), 576),
        (dict(padding="same", depth=2), 100),
        (dict(padding="same", up_mode="bilinear"), 576),
    ],
    ids=["same", "same-depth2", "same-bilinear"],
)
def test_same_unet_reach_cut_at_the_border_is_the_field(opts, size):
    valid = {**opts, "padding": "valid"}
    step = 2 ** opts.get("depth", 4)
    valid_input = smallest_valid_size(1, depth=opts.get("depth", 4)) + 8 * step  # an output of 8 steps at least
    valid_sizes = {R.receptive_field_arithmetic(valid_input, (i, i), **valid).size[0] for i in range(6 * step)}
    n = size
    for i in [0, 1, 5, n // 2, n - 1]:
        rf = R.receptive_field_arithmetic(size, (i, i), **opts)
        (a, b), (lo, hi) = rf.reach_rows, rf.rows
        assert (max(a, 0), min(b, n - 1)) == (lo, hi), (i, rf)
        assert rf.reach[0] in valid_sizes, (i, rf.reach, valid_sizes)
    assert R.receptive_field_arithmetic(size, (0, 0), **opts).sees_padding
    assert not R.receptive_field_arithmetic(size, None, **opts).sees_padding


def test_paper_network_fields_are_188_or_204():
    sizes = {R.receptive_field_arithmetic(572, (i, 0)).size[0] for i in range(388)}
    assert sizes == {188, 204}


@pytest.mark.parametrize("pos", [(388, 0), (0, 10**9), "centre", (1.5, 0), (True, 0)])
def test_unet_bad_position_explains(pos):
    with pytest.raises(ValueError):
        R.receptive_field_arithmetic(572, pos)
