"""separate_touching: touching objects separated by background, so the mask's components are the objects;
and prepare() trains on that mask."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from unet_lesson.seg.data import Dataset, make_dataset
from unet_lesson.seg.losses import class_weights, weight_map
from unet_lesson.seg.metrics import FOUR, object_scores
from unet_lesson.seg.targets import separate_touching
from unet_lesson.seg.train import prepare


def components(mask):
    return ndi.label(mask, structure=FOUR)


def assert_pure(mask, labels):
    """Every 4-connected component of ``mask`` lies inside one object of ``labels``."""
    comp, n = components(mask)
    for c in range(1, n + 1):
        assert np.unique(labels[comp == c]).size == 1, f"component {c} mixes objects"


def voronoi(seed, n=40, size=128):
    """A label image in which every pixel belongs to the nearest of ``n`` random seeds: all objects touch."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, size, (n, 2))
    yy, xx = np.mgrid[:size, :size]
    return (((yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2).argmin(-1) + 1).astype(np.int32)


def test_two_touching_squares_become_two_components_both_sides_giving_way():
    inst = np.zeros((10, 14), np.int32)
    inst[2:8, 1:7] = 1
    inst[2:8, 7:13] = 2  # shares an edge with 1
    assert components(inst > 0)[1] == 1
    m = separate_touching(inst)
    assert m.dtype == np.uint8 and set(np.unique(m)) == {0, 1}
    assert components(m)[1] == 2
    # both sides lose the column at the contact: a gap of 2 pixels
    assert not m[2:8, 6:8].any()
    assert m[2:8, 1:6].all() and m[2:8, 8:13].all()
    # only pixels next to the other object changed
    assert np.array_equal(m, ((inst > 0) & ~np.isin(np.arange(14), [6, 7])[None]).astype(np.uint8))
    # the labels' numbers do not matter: swapping them gives the same mask
    assert np.array_equal(separate_touching(np.where(inst > 0, 3 - inst, 0)), m)


@pytest.mark.parametrize("width", [0, 1, 2, 3])
def test_width_is_the_depth_each_side_gives_up(width):
    inst = np.zeros((12, 24), np.int32)
    inst[2:10, 2:12] = 1
    inst[2:10, 12:22] = 2
    m = separate_touching(inst, width=width)
    row = m[5]
    assert row[2:22].sum() == 20 - 2 * width
    assert not row[12 - width : 12 + width].any()
    assert components(m)[1] == (1 if width == 0 else 2)


def test_a_chain_of_three():
    inst = np.zeros((8, 20), np.int32)
    inst[1:7, 1:7], inst[1:7, 7:13], inst[1:7, 13:19] = 1, 2, 3
    m = separate_touching(inst)
    assert components(m)[1] == 3
    assert_pure(m, inst)
    assert m[3, 8:12].all() and not m[3, 6:8].any() and not m[3, 12:14].any()  # the middle one loses both sides


def test_objects_touching_the_image_border_or_only_background_are_unchanged():
    inst = np.zeros((10, 10), np.int32)
    inst[:4, :4] = 1  # in the corner: touches the image border
    inst[6:, 3:] = 2  # along the bottom and right border
    assert np.array_equal(separate_touching(inst), (inst > 0).astype(np.uint8))


def test_diagonal_neighbours_do_not_touch():
    inst = np.zeros((6, 6), np.int32)
    inst[:3, :3] = 1
    inst[3:, 3:] = 2  # corner to corner only
    assert np.array_equal(separate_touching(inst), (inst > 0).astype(np.uint8))


@pytest.mark.parametrize("seed, size", [(0, 128), (1, (96, 160)), (2, 64)])
def test_the_generated_cells_are_already_separated_and_unchanged(seed, size):
    ds = make_dataset(3, size, seed=seed)
    assert np.array_equal(separate_touching(ds.instances), ds.masks)


def test_on_touching_labels_only_the_contacts_change():
    ds = make_dataset(2, 96, seed=5)
    # close the generated one-pixel lines: each line pixel joins the cell below/right of it
    inst = ds.instances.copy()
    for k in range(len(inst)):
        filled = ndi.grey_dilation(inst[k], footprint=FOUR)
        line = (inst[k] == 0) & (ndi.grey_erosion(np.where(inst[k] > 0, inst[k], 1 << 20), footprint=FOUR) < filled)
        inst[k][line] = filled[line]
    assert components(inst[0] > 0)[1] < np.unique(inst[0]).size - 1  # now cells touch: blobs merge
    m = separate_touching(inst)
    changed = (inst > 0) & (m == 0)
    # a changed pixel is next to another object (or a sliver cut off next to one)
    near = np.zeros_like(changed)
    for k in range(len(inst)):
        big = ndi.grey_dilation(inst[k], size=(5, 5))
        small = ndi.grey_erosion(np.where(inst[k] > 0, inst[k], 1 << 20), size=(5, 5))
        near[k] = (big > inst[k]) | (small < inst[k])
    assert changed.any() and not (changed & ~near).any()
    for k in range(len(inst)):
        assert_pure(m[k], inst[k])
    assert object_scores(m, inst).f1 > 0.95  # its components are the cells again


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("width", [1, 2])
def test_voronoi_partition_gives_one_component_per_object(seed, width):
    inst = voronoi(seed)
    assert components(inst > 0)[1] == 1  # one blob without separation
    m = separate_touching(inst, width=width)
    assert_pure(m, inst)
    survivors = np.unique(inst[m > 0]).size
    assert components(m)[1] == survivors
    # width 1: no object of a 40-cell partition of 128x128 is thin enough to vanish
    if width == 1:
        assert survivors == 40


def test_slivers_cut_off_a_cell_become_background():
    inst = voronoi(0)
    # the plain cut (drop every pixel 4-adjacent to another object) leaves lone pixels on staircase contacts
    big = ndi.grey_dilation(inst, footprint=FOUR)
    small = ndi.grey_erosion(inst, footprint=FOUR)
    plain = (big == inst) & (small == inst)
    assert components(plain)[1] > 40
    m = separate_touching(inst)
    assert components(m)[1] == 40
    lost = plain & (m == 0)
    assert 0 < lost.sum() <= 2 * (components(plain)[1] - 40)  # only those slivers (1-2 px each) went
    assert not (m & ~plain).any()


def test_stacks_are_separated_image_by_image():
    a = np.zeros((2, 6, 6), np.int32)
    a[0, :, :3] = 1
    a[1, :, 3:] = 2  # same place in the other image: no contact
    assert np.array_equal(separate_touching(a), (a > 0).astype(np.uint8))
    v = np.stack([voronoi(0, size=48), voronoi(1, size=48)])
    m = separate_touching(v)
    assert np.array_equal(m[1], separate_touching(v[1]))


@pytest.mark.parametrize(
    "inst, kw, words",
    [
        (np.full((4, 4), 1.5), {}, "instances holds float64"),
        (-np.ones((4, 4), int), {}, "instances has negative values"),
        (np.zeros(5, int), {}, r"\(H, W\) or a stack"),
        (np.zeros((4, 4), int), dict(width=-1), "width must be at least 0"),
        (np.zeros((4, 4), int), dict(width=1.5), "width must be a whole number"),
        (np.zeros((4, 4), int), dict(width=True), "width must be a whole number"),
    ],
)
def test_bad_input_is_explained(inst, kw, words):
    with pytest.raises(ValueError, match=words):
        separate_touching(inst, **kw)


# ----------------------------------------------------------------------------------
# training uses it
# ----------------------------------------------------------------------------------
def test_prepare_leaves_the_generated_data_exactly_as_before():
    ds = make_dataset(3, 64, seed=0)
    t = prepare(ds)
    assert np.array_equal(t.masks, ds.masks)
    np.testing.assert_array_equal(t.weights, np.stack([weight_map(i) for i in ds.instances]))


def test_prepare_separates_touching_labels_and_weights_the_border():
    inst = voronoi(3, n=12, size=64)
    ds = Dataset(np.zeros(inst.shape, np.float32)[None], inst[None], (inst > 0).astype(np.uint8)[None])
    t = prepare(ds)
    assert np.array_equal(t.masks, separate_touching(ds.instances))
    assert components(t.masks[0])[1] == 12
    # the border term works on the separating background: there the weight exceeds the class weight
    gap = (inst > 0) & (t.masks[0] == 0)
    wc = class_weights(t.masks[0])
    assert (t.weights[0][gap] > wc[gap] + 1).mean() > 0.9
    # without separation there would be no background between the cells, hence no border term
    assert np.allclose(weight_map(inst), 1.0)


def test_touching_labels_fills_the_lines_between_two_objects_only():
    from unet_lesson.seg.targets import touching_labels

    assert touching_labels(np.array([[1, 0, 2], [1, 0, 2]])).tolist() == [[1, 2, 2], [1, 2, 2]]
    lone = np.zeros((7, 7), np.int32)
    lone[2:5, 2:5] = 4
    np.testing.assert_array_equal(touching_labels(lone), lone)  # touches nothing: keeps its outline
    diag = np.zeros((6, 6), np.int32)  # a slanted line of background between two objects
    for r in range(6):
        diag[r, :r] = 1
        diag[r, r + 1 :] = 2
    filled = touching_labels(diag)
    assert (filled > 0).all()  # the slanted line is filled
    stack = np.stack([diag, np.zeros_like(diag)])
    np.testing.assert_array_equal(touching_labels(stack), np.stack([filled, np.zeros_like(diag)]))  # one by one


@pytest.mark.parametrize("seed", [0, 3])
def test_touching_labels_then_separate_touching_gives_one_component_per_cell(seed):
    from unet_lesson.seg.targets import touching_labels

    inst = make_dataset(1, 96, seed=seed).instances[0]
    touching = touching_labels(inst)
    assert set(np.unique(touching)) == set(np.unique(inst))  # no object lost or made
    assert (touching[inst > 0] == inst[inst > 0]).all()  # object pixels keep their label
    merged, n_merged = components(touching > 0)
    assert n_merged < len(np.unique(inst)) - 1  # touching cells: fewer blobs than cells
    target = separate_touching(touching)
    assert_pure(target, touching)
    assert object_scores(target, touching).merged == 0
