"""Elastic deformation and the other augmentations keep image and mask aligned."""

import numpy as np
import pytest

from unet_lesson.seg.augment import Augment, displacement_field, elastic_deform, flip_rotate, intensity
from unet_lesson.seg.data import make_sample


@pytest.mark.parametrize("shape", [(64, 64), (63, 80), (33, 17)])
def test_field_shape_and_smoothness(shape):
    f = displacement_field(shape, grid=3, std=10, seed=0)
    assert f.shape == (2,) + shape
    # smooth: neighbouring pixels move almost alike (a 3x3 grid spans the whole picture)
    big = np.abs(f).max()
    assert np.abs(np.diff(f, axis=1)).max() < 0.25 * big and np.abs(np.diff(f, axis=2)).max() < 0.25 * big
    # ... unlike white noise of the same size
    noise = np.random.default_rng(0).normal(0, 10, f.shape)
    assert np.abs(np.diff(noise, axis=1)).max() > 0.5 * np.abs(noise).max()


def test_field_std_scales():
    a = displacement_field((64, 64), std=10, seed=1)
    b = displacement_field((64, 64), std=20, seed=1)
    np.testing.assert_allclose(b, 2 * a, rtol=1e-9, atol=1e-9)
    # the grid values are drawn with std 10: over many seeds the corner displacement has std ~10
    corners = np.array([displacement_field((32, 32), std=10, seed=s)[:, 0, 0] for s in range(400)])
    assert 8.5 < corners.std() < 11.5


def test_zero_std_is_identity():
    s = make_sample(64, seed=0)
    img, inst = elastic_deform(s.image, s.instances, std=0, seed=3)
    np.testing.assert_allclose(img, s.image, atol=1e-6)
    np.testing.assert_array_equal(inst, s.instances)


def test_deterministic_with_seed():
    s = make_sample(64, seed=1)
    a = elastic_deform(s.image, s.mask, seed=7)
    b = elastic_deform(s.image, s.mask, seed=7)
    c = elastic_deform(s.image, s.mask, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("size", [64, 65, 96])
def test_image_and_mask_stay_aligned(size):
    """Deform a picture that *is* its mask (cells = 1, background = 0): the deformed picture,
    thresholded, must equal the deformed mask almost everywhere (only rim pixels may differ)."""
    s = make_sample(size, seed=2)
    picture = s.mask.astype(np.float32)
    img, mask, inst = elastic_deform(picture, s.mask, s.instances, std=10, seed=5)
    assert not np.array_equal(mask, s.mask)  # it really moved
    agree = ((img > 0.5) == (mask > 0)).mean()
    assert agree > 0.97
    # nearest neighbour: labels stay labels (no new values), and the binary mask follows the instances
    assert set(np.unique(mask)) <= {0, 1}
    assert set(np.unique(inst)) <= set(np.unique(s.instances))
    np.testing.assert_array_equal(mask > 0, inst > 0)


def test_image_range_kept():
    img = make_sample(64, seed=3).image
    out = elastic_deform(img, std=15, seed=0)
    assert out.dtype == img.dtype and img.min() <= out.min() and out.max() <= img.max()


def test_flip_rotate_aligned_and_exact():
    s = make_sample(48, seed=4)
    for seed in range(8):
        img, mask = flip_rotate(s.image, s.mask, seed=seed)
        assert sorted(img.ravel()) == sorted(s.image.ravel())
        # the same transform: where the mask says cell, the image value is the one that was at that cell
        img2, img_as_mask = flip_rotate(s.image, s.image, seed=seed)
        np.testing.assert_array_equal(img2, img_as_mask)


def test_intensity_keeps_range_and_shape():
    img = make_sample(48, seed=5).image
    out = intensity(img, seed=0)
    assert out.shape == img.shape and 0 <= out.min() and out.max() <= 1


def test_augment_pipeline_aligned():
    s = make_sample(64, seed=6)
    w = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    aug = Augment(p_elastic=1.0, intensity=False)
    img, mask, wts = aug(s.mask.astype(np.float32), s.mask, w, seed=11)
    assert ((img > 0.5) == (mask > 0)).mean() > 0.97
    assert wts.shape == (64, 64) and wts.min() >= w.min() - 1e-6 and wts.max() <= w.max() + 1e-6
    a = aug(s.image, s.mask, w, seed=3)
    b = aug(s.image, s.mask, w, seed=3)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kw,msg", [({"std": -1}, "std"), ({"grid": 1}, "grid"), ({"grid": 2.5}, "grid")])
def test_bad_parameters_explained(kw, msg):
    with pytest.raises(ValueError, match=msg):
        displacement_field((32, 32), **kw)


def test_mask_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        elastic_deform(np.zeros((8, 8)), np.zeros((9, 8)))
