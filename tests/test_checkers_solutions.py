"""What students see of the code exercises: the reference solutions (EX.solution()) agree with the real
layers on whole grids of sizes and every mode, beyond the checkers' own cases; the stubs suggested for the
notebooks are "not attempted"."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from unet_lesson.core.env import seeded
from unet_lesson.ui import checkers as C
from unet_lesson.ui.checkers import solutions as S


# ---- the reference solutions agree with the real layers on whole grids, every mode -------------------
class TestReferenceSolutionsMatchTheRealLayersOnEveryMode:
    @pytest.mark.parametrize("s", (1, 2, 3))
    @pytest.mark.parametrize("h", range(3, 14))  # odd and even
    def test_conv_sizes(self, h, s):
        for k in (1, 2, 3, 5):
            for p in (0, 1, 2):
                for d in (1, 2, 3):
                    if h + 2 * p < d * (k - 1) + 1:
                        continue
                    real = F.conv2d(
                        torch.zeros(1, 1, h, h), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d
                    ).shape[-1]
                    assert S.conv_out_dilated(h, k, s, p, d) == real
                    if d == 1:
                        assert S.conv_out(h, k, s, p) == real

    @pytest.mark.parametrize("ceil_mode", (False, True))
    @pytest.mark.parametrize("h", range(2, 16))
    def test_pool_sizes(self, h, ceil_mode):
        for k, s in ((2, 2), (3, 2), (3, 3), (2, 1), (3, 1), (4, 3), (5, 2)):
            if k <= h:
                real = nn.MaxPool2d(k, s, ceil_mode=ceil_mode)(torch.zeros(1, 1, h, h)).shape[-1]
                assert S.pool_size(h, k, s, ceil_mode) == real

    @pytest.mark.parametrize("k, s", [(2, 2), (3, 2), (3, 1), (2, 1), (3, 3)])
    @pytest.mark.parametrize("h, w", [(4, 4), (5, 5), (4, 7), (7, 4), (6, 9)])
    def test_max_pool(self, h, w, k, s):
        x = np.random.default_rng(h * w).normal(size=(h, w))
        np.testing.assert_allclose(S.max_pool(x, k, s), nn.MaxPool2d(k, s)(torch.from_numpy(x)[None])[0].numpy())

    @pytest.mark.parametrize("k, stride", [(2, 2), (3, 2), (3, 1), (1, 2), (4, 2), (2, 3)])
    @pytest.mark.parametrize("h, w", [(1, 1), (2, 2), (3, 3), (2, 5), (4, 3)])
    def test_conv_transpose(self, h, w, k, stride):
        rng = np.random.default_rng(k * 10 + stride)
        x, kernel = rng.normal(size=(h, w)), rng.normal(size=(k, k))
        real = F.conv_transpose2d(torch.from_numpy(x)[None, None], torch.from_numpy(kernel)[None, None], stride=stride)
        np.testing.assert_allclose(S.conv_transpose(x, kernel, stride), real[0, 0].numpy(), atol=1e-12)

    @pytest.mark.parametrize("target", [(1, 1), (2, 3), (4, 4), (5, 2), (6, 7)])
    @pytest.mark.parametrize("h, w", [(6, 7), (7, 7), (8, 9), (9, 12)])
    def test_center_crop_and_concat(self, h, w, target):
        from unet_lesson import CenterCrop, CropAndConcat

        g = torch.Generator().manual_seed(h * w)
        skip, up = torch.randn(2, 3, h, w, generator=g), torch.randn(2, 4, *target, generator=g)
        assert torch.equal(S.center_crop(skip, target), CenterCrop()(skip, target))
        assert torch.equal(S.crop_and_concat(skip, up), CropAndConcat()(up, skip))

    @pytest.mark.parametrize("c_in, c_out", [(1, 1), (1, 3), (3, 1), (4, 4), (64, 2)])
    @pytest.mark.parametrize("h, w", [(1, 1), (3, 4), (5, 5)])
    def test_head(self, c_in, c_out, h, w):
        with seeded(c_in + c_out):
            layer = nn.Conv2d(c_in, c_out, 1).double()
            features = torch.randn(c_in, h, w, dtype=torch.float64)
        with torch.no_grad():
            real = layer(features[None])[0].numpy()
        got = S.head(features.numpy(), layer.weight[:, :, 0, 0].detach().numpy(), layer.bias.detach().numpy())
        np.testing.assert_allclose(got, real, atol=1e-12)


# ---- the stubs suggested for the notebooks are "not attempted" ---------------------------------
SUGGESTED_STUBS = {
    "conv_out": '''
def conv_out(h, k, s, p):
    """Height after a k×k conv with stride s and padding p (per side), as nn.Conv2d computes it."""
    ...
''',
    "conv_out_dilated": '''
def conv_out_dilated(h, k, s, p, d):
    """As conv_out, for a kernel with dilation d (its k taps d pixels apart)."""
    ...
''',
    "max_pool": '''
def max_pool(x, k=2, s=2):
    """Max pooling of a 2-D numpy array x (H, W): the largest value of each k×k window, windows s apart."""
    ...
''',
    "pool_size": '''
def pool_size(h, k, s, ceil_mode=False):
    """Height after nn.MaxPool2d(k, s, ceil_mode=ceil_mode) on an h-pixel map (k >= s)."""
    ...
''',
    "conv_transpose": '''
def conv_transpose(x, w, stride):
    """Scatter and sum: input pixel (i, j) of x (H, W) paints x[i, j] * w (k×k) at row i*stride, column
    j*stride of the output; where copies overlap they add up. No padding."""
    ...
''',
    "center_crop": '''
def center_crop(skip, target_hw):
    """The centre target_hw = (h, w) window of a (C, H, W) map skip."""
    ...
''',
    "crop_and_concat": '''
def crop_and_concat(skip, up):
    """Copy and crop: crop skip (N, C1, H, W) to up's (N, C2, h, w) size, then concatenate the channels."""
    ...
''',
    "head": '''
def head(features, weight, bias):
    """The 1x1 conv as a matrix product: features (C_in, H, W), weight (C_out, C_in), bias (C_out,)."""
    ...
''',
    "DoubleConv": '''
class DoubleConv(nn.Module):
    """Two valid 3×3 convolutions, each followed by a ReLU."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        ...  # your two convs here

    def forward(self, x):
        ...
''',
    "MyUNet": '''
class MyUNet(nn.Module):
    """The paper's U-Net; the defaults are the paper's network."""

    def __init__(self, in_channels=1, num_classes=2, base_channels=64, depth=4):
        super().__init__()
        ...  # contracting path, bottom, expanding path, head

    def forward(self, x):
        ...
''',
    "SameBlock": '''
class SameBlock(nn.Module):
    """Conv-BN-ReLU, twice, with same padding: the size is kept."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        ...

    def forward(self, x):
        ...
''',
    "SameUNet": '''
class SameUNet(nn.Module):
    """The modern U-Net: SameBlocks, no crop, output size = input size."""

    def __init__(self, in_channels=1, num_classes=2, base_channels=64, depth=4):
        super().__init__()
        ...

    def forward(self, x):
        ...
''',
    "margin": '''
def margin(depth):
    """The overlap-tile margin per side of the valid U-Net with `depth` max pools."""
    ...
''',
    "weighted_loss": '''
def weighted_loss(logits, target, weights):
    """The weighted mean of -log p(true class): sum of w * loss over the pixels, divided by the sum of w."""
    ...
''',
}


@pytest.mark.parametrize("name", sorted(SUGGESTED_STUBS))
def test_the_suggested_stub_is_not_attempted(name):
    namespace = {"nn": nn, "torch": torch, "np": np}
    exec(SUGGESTED_STUBS[name], namespace)
    assert C.CHECKERS[name](namespace[name]).status == "not attempted"
    assert set(SUGGESTED_STUBS) == set(C.CHECKERS)
