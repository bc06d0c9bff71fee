"""Lesson 08's figures: what they draw comes from the package (object scores, merged cells, separated targets),
and their titles say the numbers the package computes."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from unet_lesson.seg import ablations as A  # noqa: E402
from unet_lesson.seg.data import make_dataset  # noqa: E402
from unet_lesson.seg.metrics import dice, merged_labels, object_scores, objects  # noqa: E402
from unet_lesson.seg.predict import predict  # noqa: E402
from unet_lesson.seg.targets import separate_touching, touching_labels  # noqa: E402
from unet_lesson.ui.figures.ablations import plot_ablation  # noqa: E402
from unet_lesson.ui.figures.training import draw_objects, label_colours, plot_objects, plot_separation  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_label_colours_black_background_one_colour_per_label():
    labels = np.array([[0, 1, 1], [2, 2, 0]])
    rgb = label_colours(labels)
    assert rgb.shape == (2, 3, 3) and (rgb[labels == 0] == 0).all()
    assert (rgb[0, 1] == rgb[0, 2]).all() and not (rgb[0, 1] == rgb[1, 0]).all()


def test_separation_titles_count_the_blobs():
    ds = make_dataset(1, 96, seed=2)
    labels = touching_labels(ds.instances[0])
    fig = plot_separation(ds.images[0], labels)
    titles = [ax.get_title() for ax in fig.axes]
    n_cells = len(np.unique(labels)) - 1
    assert titles[1] == f"label image: {n_cells} cells, touching"
    assert titles[2] == f"labels > 0: {int(objects(labels > 0).max())} connected blobs"
    assert titles[3] == f"separated target: {int(objects(separate_touching(labels)).max())} blobs"
    assert int(objects(labels > 0).max()) < n_cells == int(objects(separate_touching(labels)).max())


def test_plot_objects_and_the_red_outlines_are_the_merged_cells():
    truth = np.zeros((10, 20), np.int32)
    truth[2:8, 1:5], truth[2:8, 6:10], truth[2:8, 13:18] = 1, 2, 3
    pred = truth > 0
    pred[2:8, 5] = True  # cells 1 and 2 merged
    fig = plot_objects(np.zeros((10, 20)), truth, pred)
    s = object_scores(pred, truth)
    assert f"F1 {s.f1:.2f}, {s.merged} cells merged" in fig.axes[2].get_title()
    assert s.merged == 2 and f"Dice {dice(pred, truth):.3f}" in fig.axes[2].get_title()
    assert len(fig.axes[2].collections) >= 1  # the red contour around the two merged cells
    fig2, ax = plt.subplots()
    draw_objects(ax, truth > 0, truth, "none merged")  # nothing merged: no outline
    assert not ax.collections and merged_labels(truth > 0, truth).size == 0


def test_plot_ablation_shows_both_arms_with_their_numbers():
    cmp = A.compare("w0")
    fig = plot_ablation(cmp, index=1, zoom=48)
    assert len(fig.axes) == 6
    image, truth = A.held_out().images[1], A.held_out().instances[1]
    for col, arm in enumerate(cmp["arms"].values(), start=1):
        pred = predict(arm["model"], image[None])[0]
        s = object_scores(pred, truth)
        assert f"Dice {dice(pred, truth):.3f}" in fig.axes[col].get_title()
        assert f"F1 {s.f1:.2f}, {s.merged} merged" in fig.axes[3 + col].get_title()
        shown = fig.axes[col].get_images()[0].get_array()
        assert shown.shape == (48, 48)
        np.testing.assert_allclose(shown, A.foreground_probability(arm["model"], image[None])[0][:48, :48])
