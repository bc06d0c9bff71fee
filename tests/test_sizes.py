"""The size functions mirror PyTorch exactly: same result, and an error exactly where PyTorch fails."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from unet_lesson import LayerSizeError, center_crop_box, conv_out, pool_out, up_conv_out


@pytest.fixture(autouse=True)
def _no_grad():
    """Shapes only: no autograd graph (scoped to each test, never global: other modules need grad)."""
    with torch.no_grad():
        yield


def real_size(layer: nn.Module, size: int) -> int | None:
    """Output height of a real layer on a 1x1xsize x 3 map, or None where PyTorch refuses."""
    try:
        return layer(torch.zeros(1, 1, size, 3)).shape[-2]
    except RuntimeError:
        return None


def ours(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except LayerSizeError:
        return None


sizes = st.integers(1, 80)


@settings(max_examples=300, deadline=None)
@given(size=sizes, k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 4), d=st.integers(1, 3))
def test_conv_out_matches_conv2d(size, k, s, p, d):
    layer = nn.Conv2d(1, 1, kernel_size=(k, 1), stride=(s, 1), padding=(p, 0), dilation=(d, 1))
    assert ours(conv_out, size, k, s, p, d) == real_size(layer, size)


@settings(max_examples=300, deadline=None)
@given(
    size=sizes, k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 3), ceil=st.booleans(), d=st.integers(1, 2)
)
def test_pool_out_matches_maxpool2d(size, k, s, p, ceil, d):
    try:
        layer = nn.MaxPool2d(kernel_size=(k, 1), stride=(s, 1), padding=(p, 0), ceil_mode=ceil, dilation=(d, 1))
        expected = real_size(layer, size)
    except (RuntimeError, ValueError):
        expected = None
    assert ours(pool_out, size, k, s, p, ceil_mode=ceil, dilation=d) == expected


@settings(max_examples=300, deadline=None)
@given(
    size=sizes, k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 4), op=st.integers(0, 3), d=st.integers(1, 2)
)
def test_up_conv_out_matches_convtranspose2d(size, k, s, p, op, d):
    try:
        layer = nn.ConvTranspose2d(
            1, 1, kernel_size=(k, 1), stride=(s, 1), padding=(p, 0), output_padding=(op, 0), dilation=(d, 1)
        )
        expected = real_size(layer, size)
    except (RuntimeError, ValueError):
        expected = None
    assert ours(up_conv_out, size, k, s, p, op, d) == expected


@pytest.mark.parametrize("size", [572, 570, 573, 137, 3, 4, 5])
def test_the_papers_layers(size):
    """3x3 valid conv: H - 2; 2x2 pool: H // 2; 2x2 up-conv: 2H (odd and even sizes)."""
    assert conv_out(size) == size - 2
    assert conv_out(size, padding=1) == size
    assert pool_out(size) == size // 2
    assert pool_out(size, ceil_mode=True) == -(-size // 2)
    assert up_conv_out(size) == 2 * size


def test_explain_substitutes_the_numbers():
    assert str(conv_out.explain(572)) == "570 = (572 + 2*0 - 3)/1 + 1"
    assert conv_out.explain(572).result == 570
    assert str(pool_out.explain(568)) == "284 = (568 + 2*0 - 2)/2 + 1"
    assert str(pool_out.explain(137)) == "68 = floor((137 + 2*0 - 2)/2) + 1"
    assert str(pool_out.explain(137, ceil_mode=True)) == "69 = ceil((137 + 2*0 - 2)/2) + 1"
    assert str(up_conv_out.explain(28)) == "56 = (28 - 1)*2 - 2*0 + 2"
    assert "offset = (64 - 56)//2 = 4" in str(center_crop_box.explain(64, 56))
    for f in (conv_out.explain(10, 3, 2, 1), pool_out.explain(9), up_conv_out.explain(5, 3, 2, 1, 1)):
        assert str(f.result) in f.latex and f.general


@pytest.mark.parametrize(
    "src,dst", [(64, 56), (136, 104), (280, 200), (568, 392), (65, 56), (57, 56), (56, 56), ((70, 65), (50, 40))]
)
def test_center_crop_box_matches_slicing(src, dst):
    box = center_crop_box(src, dst)
    sh, sw = (src, src) if isinstance(src, int) else src
    th, tw = (dst, dst) if isinstance(dst, int) else dst
    x = torch.arange(sh * sw).reshape(sh, sw)
    crop = x[box.slices]
    assert crop.shape == (th, tw)
    assert box.top + box.height + box.bottom == sh and box.left + box.width + box.right == sw
    assert 0 <= box.bottom - box.top <= 1 and 0 <= box.right - box.left <= 1
    assert box.centered == ((sh - th) % 2 == 0 and (sw - tw) % 2 == 0)
    # the model's CenterCrop module cuts the same window
    from unet_lesson import CenterCrop

    assert torch.equal(CenterCrop()(x, (th, tw)), crop)


@pytest.mark.parametrize(
    "call,needle",
    [
        (lambda: conv_out(2), "smaller than the 3x3 kernel"),
        (lambda: conv_out(0), "at least 1"),
        (lambda: conv_out(-5), "at least 1"),
        (lambda: conv_out(572.5), "whole number"),
        (lambda: conv_out(572, stride=0), "stride must be at least 1"),
        (lambda: pool_out(1), "smaller than the 2x2 pooling window"),
        (lambda: pool_out(10, kernel=2, padding=2), "at most 1"),
        (lambda: up_conv_out(4, output_padding=2), "output_padding"),
        (lambda: up_conv_out(1, kernel=1, stride=1, padding=1), "empties the output.*Use padding at most 0"),
        (lambda: up_conv_out(4, stride=1, output_padding=1), "at most 0 .with stride 1 there is nothing to add"),
        (lambda: center_crop_box(56, 64), "only make a map smaller"),
    ],
)
def test_impossible_layers_explain_themselves(call, needle):
    with pytest.raises(LayerSizeError, match=needle):
        call()
    assert issubclass(LayerSizeError, ValueError)


def test_whole_floats_are_accepted():
    assert conv_out(572.0) == 570


@pytest.mark.parametrize(
    "opts",
    [
        dict(),
        dict(depth=1),
        dict(depth=2),
        dict(depth=3, up_mode="bilinear"),
        dict(depth=5),
        dict(padding="same"),
        dict(padding="same", depth=3),
        dict(padding="same", depth=2, up_mode="bilinear"),
        dict(skips=False, depth=3),
        dict(padding="same", mismatch="pad", depth=3),
        dict(mismatch="crop", depth=2),
    ],
    ids=str,
)
def test_nearest_valid_sizes_equal_a_scan_of_every_size(opts):
    """The arithmetic progression (mismatch='error') or the scan finds exactly the nearest valid sizes that
    checking every size one by one finds, at sizes below, inside and above the valid range."""
    from unet_lesson.core.shapes import is_valid_size, nearest_valid_sizes

    valid = [m for m in range(1, 1200) if is_valid_size(m, **opts)]
    for size in list(range(1, 260, 7)) + [571, 572, 573, 588, 1000]:
        below = max((m for m in valid if m < size), default=None)
        above = min((m for m in valid if m > size), default=None)
        assert nearest_valid_sizes(size, **opts) == (below, above), f"{opts}, size {size}"


@pytest.mark.parametrize(
    "opts",
    [dict(), dict(depth=1), dict(depth=5), dict(padding="same"), dict(padding="same", depth=3, up_mode="bilinear")],
    ids=str,
)
def test_valid_input_sizes_equal_a_trace_of_every_size(opts):
    from unet_lesson import valid_input_sizes
    from unet_lesson.core.shapes import is_valid_size

    for a, b in ((1, 700), (189, 203), (188, 188), (500, 1300), (573, 587)):
        assert valid_input_sizes(a, b, **opts) == [m for m in range(a, b + 1) if is_valid_size(m, **opts)], (opts, a, b)
