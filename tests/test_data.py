"""The cell-image generator: deterministic, any size, masks consistent with each other."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from unet_lesson.seg.data import DEFAULTS, make_dataset, make_sample, sample_image


@pytest.mark.parametrize("size", [64, 65, 96, 127, (48, 80), (81, 50)])
def test_shapes_and_types(size):
    s = make_sample(size=size, seed=0)
    hw = (size, size) if isinstance(size, int) else size
    assert s.image.shape == s.instances.shape == s.mask.shape == hw
    assert s.image.dtype == np.float32 and s.instances.dtype == np.int32 and s.mask.dtype == np.uint8
    assert 0.0 <= s.image.min() and s.image.max() <= 1.0


def test_sample_image_contract():
    img = sample_image(size=128, seed=0)
    assert img.shape == (128, 128) and img.dtype == np.float32
    assert 0 <= img.min() < img.max() <= 1
    assert sample_image((40, 70), seed=1).shape == (40, 70)


def test_deterministic_and_seed_dependent():
    a, b, c = make_sample(96, seed=3), make_sample(96, seed=3), make_sample(96, seed=4)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.instances, b.instances)
    assert not np.array_equal(a.image, c.image)


def test_masks_consistent():
    s = make_sample(128, seed=5)
    np.testing.assert_array_equal(s.mask, (s.instances > 0).astype(np.uint8))
    labels = np.unique(s.instances)
    assert labels[0] == 0 and np.array_equal(labels, np.arange(labels.size))  # 0..n, no gaps
    assert s.n_cells == labels.size - 1 >= 10
    # each label is one connected piece, and no two cells share an edge (a background line separates them)
    for k in labels[1:]:
        assert ndi.label(s.instances == k)[1] == 1
    inst = s.instances
    for a, b in ((inst[:-1], inst[1:]), (inst[:, :-1], inst[:, 1:])):
        assert not np.any((a > 0) & (b > 0) & (a != b))


def test_cells_touch_and_cover_a_good_part():
    s = make_sample(128, seed=0)
    assert 0.3 < s.mask.mean() < 0.75
    # touching: some background pixels lie between two different cells
    inst = s.instances
    between = (inst[:-2] > 0) & (inst[2:] > 0) & (inst[:-2] != inst[2:]) & (inst[1:-1] == 0)
    assert between.sum() > 20


def test_dataset_stack_and_independent_seeds():
    d0, d1 = make_dataset(3, 64, seed=0), make_dataset(3, 64, seed=1)
    assert d0.images.shape == (3, 64, 64) and len(d0) == 3
    assert not np.array_equal(d0.images[0], d1.images[0])
    np.testing.assert_array_equal(d0[1].image, make_sample(64, seed=(0, 1)).image)


def test_options_change_the_picture():
    flat = make_sample(96, seed=0, illumination=0.0, haze=0.0, noise=0.0)
    dark = make_sample(96, seed=0)
    np.testing.assert_array_equal(flat.instances, dark.instances)  # same cells, different light
    assert not np.allclose(flat.image, dark.image)


@pytest.mark.parametrize("bad", [0, -5, 4, (3, 64), "big", (10,)])
def test_bad_size_is_explained(bad):
    with pytest.raises(ValueError, match="size"):
        make_sample(size=bad)


def test_unknown_option_and_bad_n():
    with pytest.raises(ValueError, match="unknown option"):
        make_sample(64, colour="red")
    with pytest.raises(ValueError, match=r"n \(the number of samples\) must be from 1"):
        make_dataset(0)
    assert set(DEFAULTS) >= {"illumination", "noise", "blur"}


def test_otsu_baseline_is_beatable_but_imperfect():
    """The lesson's claim: one global threshold does not segment these images well."""
    from unet_lesson.seg.train import otsu_baseline

    assert otsu_baseline(make_dataset(8, 128, seed=1))["dice"] <= 0.85
