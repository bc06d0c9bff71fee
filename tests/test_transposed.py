"""Why "transposed": the convolution as a matrix C, the up-conv as C^T, the zero-insertion view, and the exact
copies-per-pixel counts for any size, each against the real PyTorch layers (unet_lesson.core.transposed)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from unet_lesson import conv_out, up_conv_out
from unet_lesson.core import transposed as TR


def _conv(x, kernel, stride, padding):
    layer = nn.Conv2d(1, 1, kernel.shape, stride=stride, padding=padding, bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(kernel)[None, None])
        return layer(torch.from_numpy(x)[None, None])[0, 0].numpy()


def _up(y, kernel, stride, padding, output_padding):
    layer = nn.ConvTranspose2d(
        1,
        1,
        kernel.shape,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        bias=False,
        dtype=torch.float64,
    )
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(kernel)[None, None])
        return layer(torch.from_numpy(y)[None, None])[0, 0].numpy()


# (H, W, kh, kw, stride, padding): squares and rectangles, strides 1-3, paddings 0-2, kernels 1-4
CASES = [
    (h, w, kh, kw, s, p)
    for h, w, kh, kw, s, p in itertools.product((1, 2, 4, 5), (3, 6), (1, 2, 3), (2, 4), (1, 2, 3), (0, 1, 2))
    if h + 2 * p >= kh and w + 2 * p >= kw
]


@pytest.mark.parametrize("h,w,kh,kw,s,p", CASES)
def test_the_matrix_c_is_nn_conv2d_and_its_transpose_is_nn_convtranspose2d(h, w, kh, kw, s, p):
    rng = np.random.default_rng(h * 1000 + w * 100 + kh * 10 + kw + s + p)
    kernel = rng.standard_normal((kh, kw))
    c = TR.conv_matrix(kernel, (h, w), s, p)
    h_out, w_out = conv_out(h, kh, s, p), conv_out(w, kw, s, p)
    assert c.shape == (h_out * w_out, h * w)  # one row per output pixel, one column per input pixel
    for _ in range(3):  # random inputs
        x = rng.standard_normal((h, w))
        np.testing.assert_allclose((c @ x.ravel()).reshape(h_out, w_out), _conv(x, kernel, s, p), atol=1e-12)
        np.testing.assert_allclose(TR.conv_by_matrix(x, kernel, s, p), _conv(x, kernel, s, p), atol=1e-12)
        y = rng.standard_normal((h_out, w_out))
        op = TR.matching_output_padding((h, w), (kh, kw), s, p)
        real = _up(y, kernel, s, p, op)
        ours = TR.conv_transpose_by_matrix(y, kernel, (h, w), s, p)
        assert real.shape == ours.shape == (h, w)  # C^T gives back the size the convolution started from
        np.testing.assert_allclose(ours, real, atol=1e-12)


def test_each_row_of_c_is_the_kernel_over_its_window():
    kernel = np.array([[1.0, 2.0], [3.0, 4.0]])
    c = TR.conv_matrix(kernel, 4, stride=2)
    assert c.shape == (4, 16)
    assert c[0].reshape(4, 4).tolist() == [[1, 2, 0, 0], [3, 4, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert c[3].reshape(4, 4)[2:, 2:].tolist() == kernel.tolist()
    # 2x2 with stride 2: every up-conv output pixel (a row of C^T) is painted by exactly one copy
    assert (np.count_nonzero(c.T, axis=1) == 1).all()
    # 3x3 with stride 2 (padding 1) paints 1, 2 or 4 copies: the checkerboard, read off C^T
    c3 = TR.conv_matrix(np.ones((3, 3)), 5, stride=2, padding=1)
    assert set(np.count_nonzero(c3.T, axis=1).tolist()) == {1, 2, 4}
    # the transpose is not the inverse: C^T C is not the identity
    assert not np.allclose(c.T @ c, np.eye(16))


@settings(max_examples=120, deadline=None)
@given(
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    k=st.integers(1, 5),
    s=st.integers(1, 4),
    p=st.integers(0, 5),
    op=st.integers(0, 3),
    seed=st.integers(0, 10**6),
)
def test_zero_insertion_padding_and_a_flipped_kernel_is_nn_convtranspose2d(h, w, k, s, p, op, seed):
    rng = np.random.default_rng(seed)
    x, kernel = rng.standard_normal((h, w)), rng.standard_normal((k, k))
    if op >= s or (h - 1) * s - 2 * p + k + op <= 0 or (w - 1) * s - 2 * p + k + op <= 0:
        with pytest.raises(ValueError):
            TR.zero_insertion(x, kernel, s, p, op)
        return
    z = TR.zero_insertion(x, kernel, s, p, op)
    real = _up(x, kernel, s, p, op)
    assert z.output.shape == real.shape == (up_conv_out(h, k, s, p, op), up_conv_out(w, k, s, p, op))
    np.testing.assert_allclose(z.output, real, atol=1e-10)
    # the steps are what they say: s - 1 zeros between pixels, k - 1 - p of padding, the kernel turned by 180 degrees
    assert z.inserted.shape == ((h - 1) * s + 1, (w - 1) * s + 1)
    np.testing.assert_array_equal(z.inserted[::s, ::s], x)
    assert np.count_nonzero(z.inserted) == np.count_nonzero(x)
    assert z.pad == (k - 1 - p, k - 1 - p)
    np.testing.assert_array_equal(z.flipped, kernel[::-1, ::-1])


def test_without_the_flip_zero_insertion_is_wrong():
    x, kernel = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 4.0]])
    z = TR.zero_insertion(x, kernel, stride=2)
    unflipped = sum(kernel[a, b] * z.padded[a : a + 4, b : b + 4] for a in range(2) for b in range(2))
    assert not np.allclose(unflipped, TR.conv_transpose_torch(x, kernel, stride=2))
    np.testing.assert_allclose(z.output, TR.conv_transpose_torch(x, kernel, stride=2))


@pytest.mark.parametrize(
    "call, phrase",
    [
        (lambda: TR.conv_matrix(np.ones((3, 3)), 2), "smaller than the 3x3 kernel"),
        (lambda: TR.conv_matrix(np.ones(3), 4), "2-D array"),
        (lambda: TR.conv_matrix(np.ones((2, 2)), 4, stride=0), "stride"),
        (lambda: TR.conv_matrix(np.ones((2, 2)), 10**6), "tiny maps"),
        (lambda: TR.conv_by_matrix(np.ones((2, 3, 4)), np.ones((2, 2))), "2-D map"),
        (lambda: TR.conv_transpose_by_matrix(np.ones((3, 3)), np.ones((2, 2)), 4, 2), "output map"),
        (lambda: TR.zero_insert(np.ones((2000, 2000)), 4), "too large"),
        (lambda: TR.zero_insertion(np.ones((2, 2)), np.ones((2, 2)), 2, 0, 2), "output_padding"),
        (lambda: TR.zero_insertion(np.ones((2, 2)), np.ones((2, 2)), 2, 5), "empties"),
    ],
)
def test_bad_input_gets_a_clear_message_fast(call, phrase):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=phrase):
        call()
    assert time.perf_counter() - start < 10


# ---------------------------------------------------------------------------------------------
# copies per pixel, exactly, for any size (no array as long as the map)
# ---------------------------------------------------------------------------------------------
def test_count_range_equals_the_brute_force_count_on_every_window():
    for n, k, s in itertools.product(range(1, 6), range(1, 8), range(1, 5)):
        end = (n - 1) * s + k
        counts = TR._count_at(np.arange(end + 3), n, k, s)
        for a in range(end + 2):
            for b in range(a + 1, end + 3):
                assert TR._count_range(a, b, n, k, s) == (counts[a:b].min(), counts[a:b].max()), (n, k, s, a, b)


@pytest.mark.parametrize(
    "n,k,s,expected",
    [(10**20, 10**8, 3, (1, 33_333_334)), (1, 10**8, 2, (1, 1)), (10**30, 2, 2, (1, 1)), (10**12, 3, 2, (1, 2))],
)
def test_count_range_for_huge_maps_is_instant(n, k, s, expected):
    start = time.perf_counter()
    lo, hi = TR._count_range(0, (n - 1) * s + k, n, k, s)  # the whole canvas
    assert time.perf_counter() - start < 1
    assert (lo, hi) == expected


def test_checkerboard_facts_of_a_huge_kernel_are_arithmetic():
    start = time.perf_counter()
    f = TR.checkerboard_facts(1, 10**8, 2)
    assert f["output"] == 10**8 and (f["min"], f["max"]) == (1, 1) and not f["uneven"]
    f = TR.checkerboard_facts(10**9, 10**6 + 1, 2)
    assert f["uneven"] and (f["interior_min"], f["interior_max"]) == (500_000**2, 500_001**2)
    assert time.perf_counter() - start < 1
