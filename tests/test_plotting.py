import numpy as np
import pytest
import torch

from unet_lesson.ui.plotting import feature_map_grid, mosaic, resize, to_numpy


@pytest.mark.parametrize("shape,n", [((1, 64, 10, 12), 64), ((3, 9, 9), 8), ((7, 7), 8), ((20, 5, 5), 20)])
def test_feature_map_grid_draws_the_first_n_channels(shape, n):
    fig = feature_map_grid(torch.rand(shape), n=n, title="x")
    images = [im for ax in fig.axes for im in ax.get_images()]
    c = 1 if len(shape) == 2 else shape[-3]
    k = min(n, c)
    assert len(images) == (1 if k > 16 else k)
    assert str(c) in fig.axes[0].get_title() + (fig._suptitle.get_text() if fig._suptitle else "")


def test_mosaic_scales_each_map_and_keeps_positions():
    from matplotlib import colormaps

    a = [np.full((2, 3), 5.0), np.arange(6.0).reshape(2, 3), np.zeros((2, 3))]
    canvas, corners = mosaic({divmod(i, 2): (m, "gray") for i, m in enumerate(a)}, 2, 2)
    assert canvas.shape == (2 * 2 + 1, 2 * 3 + 1, 4)
    assert corners == {(0, 0): (0, 0), (0, 1): (0, 4), (1, 0): (3, 0)}
    np.testing.assert_allclose(canvas[0:2, 4:7], colormaps["gray"](np.arange(6.0).reshape(2, 3) / 5), atol=1e-6)
    assert (canvas[2] == 1).all() and (canvas[3:5, 4:7] == 1).all()  # white gap, empty slot
    np.testing.assert_allclose(canvas[0:2, 0:3], colormaps["gray"](np.zeros((2, 3))))  # flat map: 0, not NaN


def test_mosaic_resizes_maps_of_different_sizes_to_one_tile():
    canvas, corners = mosaic(
        {(0, 0): (np.ones((40, 40)), "gray"), (0, 1): (np.eye(5), "viridis")}, 1, 2, tile=8, gap=2, band=3, top=1
    )
    assert corners == {(0, 0): (4, 2), (0, 1): (4, 12)}
    assert canvas.shape == (1 + 3 + 8 + 4, 2 * (8 + 2) + 2, 4)
    assert resize(np.arange(16.0).reshape(4, 4), 2).tolist() == [[2.5, 4.5], [10.5, 12.5]]


def test_to_numpy():
    assert to_numpy(torch.ones(2, requires_grad=True)).tolist() == [1.0, 1.0]
