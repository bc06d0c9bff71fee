import numpy as np
import pytest
import torch

from unet_lesson.ui.plotting import _mosaic, feature_map_grid, to_numpy


@pytest.mark.parametrize("shape,n", [((1, 64, 10, 12), 64), ((3, 9, 9), 8), ((7, 7), 8), ((20, 5, 5), 20)])
def test_feature_map_grid_draws_the_first_n_channels(shape, n):
    fig = feature_map_grid(torch.rand(shape), n=n, title="x")
    images = [im for ax in fig.axes for im in ax.get_images()]
    c = 1 if len(shape) == 2 else shape[-3]
    k = min(n, c)
    assert len(images) == (1 if k > 16 else k)
    assert str(c) in fig.axes[0].get_title() + (fig._suptitle.get_text() if fig._suptitle else "")


def test_mosaic_scales_each_channel_and_keeps_positions():
    a = np.stack([np.full((2, 3), 5.0), np.arange(6.0).reshape(2, 3), np.zeros((2, 3))])
    m = _mosaic(a, ncols=2)
    assert m.shape == (2 * 2 + 1, 2 * 3 + 1)
    np.testing.assert_allclose(m[0:2, 4:7], np.arange(6.0).reshape(2, 3) / 5)
    assert np.isnan(m[2]).all() and np.isnan(m[3:5, 4:7]).all()
    assert to_numpy(torch.ones(2, requires_grad=True)).tolist() == [1.0, 1.0]
