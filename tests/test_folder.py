"""load_folder: a student's own images and masks, in the form of unet_lesson.seg.data, with clear messages."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from unet_lesson.seg.data import Dataset, Sample, make_dataset
from unet_lesson.seg.folder import LAYOUTS, MAX_PIXELS, MAX_SIDE, FolderDataset, FolderError, load_folder, save_folder


def _png(path: Path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array), mode=mode).save(path)


def _tif(path: Path, array, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, np.asarray(array), **kw)


def _pair(h=12, w=16, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[2:6, 3:9] = 255
    mask[8:11, 10:14] = 255
    return img, mask


@pytest.fixture(scope="module")
def generated():
    return make_dataset(3, size=(40, 48), seed=0)


def _check_form(ds, n, h, w):
    assert isinstance(ds, FolderDataset) and isinstance(ds, Dataset)
    assert ds.images.shape == ds.masks.shape == ds.instances.shape == (n, h, w)
    assert ds.images.dtype == np.float32 and ds.masks.dtype == np.uint8 and ds.instances.dtype == np.int32
    assert ds.images.min() >= 0 and ds.images.max() <= 1
    assert set(np.unique(ds.masks)) <= {0, 1}
    assert len(ds) == n == len(ds.names)
    assert isinstance(ds[0], Sample) and ds[0].image.shape == (h, w)


# ----------------------------------------------------------------------------------
# good folders
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["subfolders", "suffix"])
@pytest.mark.parametrize("ext", [".png", ".tif", ".tiff"])
def test_round_trip_of_generated_data(tmp_path, generated, layout, ext):
    save_folder(generated, tmp_path, layout=layout, ext=ext)
    ds = load_folder(tmp_path)
    _check_form(ds, 3, 40, 48)
    assert ds.layout == layout
    np.testing.assert_allclose(ds.images, generated.images, atol=0.5 / 255 + 1e-6)  # 8-bit files
    assert np.array_equal(ds.masks, generated.masks)
    assert (ds.instances > 0).sum() == generated.masks.sum()
    assert "3 images of 40x48" in ds.summary()


def test_subfolders_with_mixed_types_labels_folder_and_mask_suffix(tmp_path):
    img, mask = _pair()
    _png(tmp_path / "images" / "a.PNG", img)
    _tif(tmp_path / "labels" / "a.tif", mask)  # labels/ and another file type
    _png(tmp_path / "images" / "b.png", img[::-1])
    _png(tmp_path / "labels" / "b_mask.png", mask[::-1])  # NAME_mask in the mask folder
    (tmp_path / "images" / ".DS_Store").write_bytes(b"junk")  # hidden files are ignored
    ds = load_folder(tmp_path)
    _check_form(ds, 2, 12, 16)
    assert ds.names == ["images/a.PNG", "images/b.png"]
    np.testing.assert_allclose(ds.images[0], img / 255, atol=1e-6)
    assert np.array_equal(ds.masks[1], (mask[::-1] > 0).astype(np.uint8))
    assert ds.instances[0].max() == 2  # two separate foreground regions


def test_tiff_stacks_like_the_isbi_data(tmp_path):
    rng = np.random.default_rng(0)
    vol = rng.integers(0, 256, (4, 20, 24), dtype=np.uint8)
    lab = (rng.random((4, 20, 24)) > 0.5).astype(np.uint8) * 255
    _tif(tmp_path / "images" / "train.tif", vol, photometric="minisblack")
    _tif(tmp_path / "masks" / "train.tif", lab, photometric="minisblack")
    ds = load_folder(tmp_path)
    _check_form(ds, 4, 20, 24)
    assert ds.names == [f"images/train.tif[{k}]" for k in range(4)]
    np.testing.assert_allclose(ds.images, vol / 255, atol=1e-6)
    assert np.array_equal(ds.masks, lab // 255)


def test_sixteen_bit_and_float_images_are_stretched(tmp_path):
    img = np.linspace(1000, 5000, 12 * 16).reshape(12, 16).astype(np.uint16)
    _, mask = _pair()
    _png(tmp_path / "a.png", img)
    _png(tmp_path / "a_mask.png", mask)
    _tif(tmp_path / "b.tif", img.astype(np.float32) * 3.5)
    _tif(tmp_path / "b_mask.tif", mask > 0)
    ds = load_folder(tmp_path)
    _check_form(ds, 2, 12, 16)
    for k in range(2):
        assert ds.images[k].min() == 0 and ds.images[k].max() == pytest.approx(1)
    np.testing.assert_allclose(ds.images[0], (img - 1000) / 4000, atol=1e-5)


@pytest.mark.parametrize("planar", [False, True])
def test_colour_tiff_contiguous_or_planar_becomes_grey(tmp_path, planar):
    rgb = np.zeros((12, 16, 3), np.uint8)
    rgb[..., 1] = 200
    _, mask = _pair()
    if planar:
        _tif(tmp_path / "a.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    else:
        _tif(tmp_path / "a.tif", rgb, photometric="rgb")
    _png(tmp_path / "a_mask.png", mask)
    ds = load_folder(tmp_path)
    _check_form(ds, 1, 12, 16)
    np.testing.assert_allclose(ds.images[0], 0.587 * 200 / 255, atol=1 / 255)


def test_colour_image_becomes_grey_and_minmax_option(tmp_path):
    rgb = np.zeros((12, 16, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[:6, :, 1] = 100
    _, mask = _pair()
    _png(tmp_path / "a.png", rgb)
    _png(tmp_path / "a_mask.png", np.stack([mask] * 3, -1))  # a grey mask saved as RGB is fine
    ds = load_folder(tmp_path)
    np.testing.assert_allclose(ds.images[0, 8, 0], 0.299 * 200 / 255, atol=1 / 255)
    np.testing.assert_allclose(ds.images[0, 0, 0], (0.299 * 200 + 0.587 * 100) / 255, atol=1 / 255)
    mm = load_folder(tmp_path, normalize="minmax")
    assert mm.images.min() == 0 and mm.images.max() == pytest.approx(1)


@pytest.mark.parametrize("fg", [1, 255, True])
def test_binary_masks_in_their_usual_forms(tmp_path, fg):
    img, mask = _pair()
    m = (mask > 0) if fg is True else (mask > 0).astype(np.uint8) * fg
    _png(tmp_path / "a.png", img)
    if fg is True:
        _png(tmp_path / "a_mask.png", m, mode=None)  # a 1-bit PNG
    else:
        _png(tmp_path / "a_mask.png", m)
    ds = load_folder(tmp_path)
    assert np.array_equal(ds.masks[0], (mask > 0).astype(np.uint8))


def test_all_background_mask_is_fine(tmp_path):
    img, _ = _pair()
    _png(tmp_path / "a.png", img)
    _png(tmp_path / "a_mask.png", np.zeros_like(img))
    ds = load_folder(tmp_path)
    assert ds.masks.sum() == 0 and ds.instances.max() == 0


@pytest.mark.parametrize(
    "ext, dtype",
    [(".tif", np.uint16), (".png", np.uint16), (".tif", np.int32), (".png", np.uint8), (".tif", np.float32)],
)
def test_label_images_load_by_default_renumbered_in_order(tmp_path, ext, dtype):
    """Label images as CellPose/StarDist and the nucleus data sets save them: 0 = background, one integer per cell."""
    img, _ = _pair()
    labels = np.zeros((12, 16), np.int64)
    labels[1:4, 1:4], labels[5:9, 5:9], labels[9:12, 12:16] = 2, 7, 300 if dtype != np.uint8 else 200
    labels[5:9, 9:11] = 2  # touching label 7, and label 2 in two places: one object
    _png(tmp_path / "a.png", img)
    if ext == ".png":
        _png(tmp_path / "a_mask.png", labels.astype(dtype))
    else:
        _tif(tmp_path / "a_mask.tif", labels.astype(dtype))
    ds = load_folder(tmp_path)
    expected = np.searchsorted([0, 2, 7, labels.max()], labels)
    assert np.array_equal(ds.instances[0], expected.astype(np.int32))
    assert set(np.unique(ds.instances)) == {0, 1, 2, 3}
    assert np.array_equal(ds.masks[0], (labels > 0).astype(np.uint8))
    with pytest.raises(FolderError, match="is not binary: its values are 0, 2, 7"):
        load_folder(tmp_path, mask_type="binary")


def test_binary_mask_objects_are_its_connected_regions_unless_read_as_labels(tmp_path):
    img, mask = _pair()  # two separate rectangles of 255
    _png(tmp_path / "a.png", img)
    _png(tmp_path / "a_mask.png", mask)
    assert load_folder(tmp_path).instances.max() == 2
    assert load_folder(tmp_path, mask_type="binary").instances.max() == 2
    assert load_folder(tmp_path, mask_type="labels").instances.max() == 1  # one label, in two places


def test_label_image_round_trip_keeps_the_instances(tmp_path, generated):
    save_folder(generated, tmp_path)
    ds = load_folder(tmp_path)
    assert np.array_equal(ds.instances, generated.instances)
    with Image.open(tmp_path / "masks" / "sample000.png") as im:
        assert np.array_equal(np.asarray(im), generated.instances[0])  # a 16-bit label image on disk


@pytest.mark.parametrize("how", ["jpeg", "bilinear"])
def test_lossy_binary_mask_is_recognised_and_threshold_reads_it(tmp_path, generated, how):
    img8 = (generated.images[0] * 255).astype(np.uint8)
    m = Image.fromarray(generated.masks[0] * 255)
    if how == "jpeg":
        m.save(tmp_path / "a_mask.png.jpg", "JPEG", quality=90)
        soft = np.asarray(Image.open(tmp_path / "a_mask.png.jpg"))
        size = img8.shape
    else:
        soft = np.asarray(m.resize((40, 36), Image.BILINEAR))
        img8 = np.asarray(Image.fromarray(img8).resize((40, 36), Image.BILINEAR))
        size = soft.shape
    _png(tmp_path / "a.png", img8)
    _png(tmp_path / "a_mask.png", soft)
    with pytest.raises(FolderError, match=r"a_mask.png looks like a binary mask saved lossily.*threshold="):
        load_folder(tmp_path)
    ds = load_folder(tmp_path, threshold=127)
    assert ds.masks.shape == (1, *size)
    if how == "jpeg":
        assert (ds.masks[0] != generated.masks[0]).mean() < 0.02
    assert load_folder(tmp_path, mask_type="labels").instances.max() > 10  # forced: each value a label


def test_palette_mask_keeps_its_indices_as_labels(tmp_path):
    img, _ = _pair()
    idx = np.zeros((12, 16), np.uint8)
    idx[2:5, 2:5], idx[7:10, 7:10] = 1, 2
    pal = Image.fromarray(idx, mode="P")
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 9))
    _png(tmp_path / "a.png", img)
    pal.save(tmp_path / "a_mask.png")
    ds = load_folder(tmp_path)
    assert np.array_equal(ds.instances[0], idx)


def test_threshold_for_soft_masks(tmp_path):
    img, mask = _pair()
    soft = mask.copy()
    soft[2, 3], soft[0, 0] = 250, 3  # JPEG-like noise
    _png(tmp_path / "a.png", img)
    _png(tmp_path / "a_mask.png", soft)
    with pytest.raises(FolderError, match="threshold="):
        load_folder(tmp_path, mask_type="binary")
    ds = load_folder(tmp_path, threshold=127)
    assert np.array_equal(ds.masks[0], (mask > 0).astype(np.uint8))
    assert ds.instances.max() == 2


def test_size_centre_crops_pairs_of_different_sizes(tmp_path):
    img, mask = _pair(12, 16)
    img2, mask2 = _pair(20, 18, seed=1)
    _png(tmp_path / "images" / "a.png", img)
    _png(tmp_path / "masks" / "a.png", mask)
    _png(tmp_path / "images" / "b.png", img2)
    _png(tmp_path / "masks" / "b.png", mask2)
    with pytest.raises(FolderError) as e:
        load_folder(tmp_path)
    assert "differ in size" in str(e.value) and "size=(12, 16)" in str(e.value)
    ds = load_folder(tmp_path, size=(10, 14))
    _check_form(ds, 2, 10, 14)
    np.testing.assert_allclose(ds.images[1], img2[5:15, 2:16] / 255, atol=1e-6)
    with pytest.raises(FolderError, match=r"images/a.png is 12x16, smaller than size=\(13, 16\)"):
        load_folder(tmp_path, size=(13, 16))
    square = load_folder(tmp_path, size=np.int64(11))
    _check_form(square, 2, 11, 11)
    np.testing.assert_allclose(square.images[0], img[0:11, 2:13] / 255, atol=1e-6)


def test_crop_comes_before_the_objects_are_counted(tmp_path):
    img, _ = _pair(12, 16)
    labels = np.zeros((12, 16), np.uint16)
    labels[:, 0:3], labels[4:8, 6:10], labels[:, 13:16] = 5, 9, 11  # 5 and 11 are cut away by the crop
    _png(tmp_path / "a.png", img)
    _png(tmp_path / "a_mask.png", labels)
    ds = load_folder(tmp_path, size=(12, 8))
    assert set(np.unique(ds.instances)) == {0, 1}


# ----------------------------------------------------------------------------------
# malformed folders: each message names the file and what would work
# ----------------------------------------------------------------------------------
def test_missing_folder(tmp_path):
    with pytest.raises(FolderError, match="There is no folder .*nowhere.*absolute path") as e:
        load_folder(tmp_path / "nowhere")
    assert "Accepted layouts" in str(e.value)


def test_path_is_a_file(tmp_path):
    f = tmp_path / "x.png"
    f.write_bytes(b"")
    with pytest.raises(FolderError, match="is a file, not a folder"):
        load_folder(f)


def test_empty_folder_lists_the_layouts(tmp_path):
    with pytest.raises(FolderError, match="No PNG or TIFF images") as e:
        load_folder(tmp_path)
    assert LAYOUTS in str(e.value)


def test_folder_of_jpegs_says_what_it_found(tmp_path):
    img, _ = _pair()
    Image.fromarray(img).save(tmp_path / "a.jpg")
    Image.fromarray(img).save(tmp_path / "b.jpg")
    with pytest.raises(FolderError, match=r"It holds 2 \.jpg files; save them as PNG or TIFF"):
        load_folder(tmp_path)


def test_images_folder_without_masks_folder(tmp_path):
    img, _ = _pair()
    _png(tmp_path / "images" / "a.png", img)
    with pytest.raises(FolderError, match="no masks/ \\(or labels/\\) folder"):
        load_folder(tmp_path)


def test_empty_images_folder(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(FolderError, match="No PNG or TIFF images in images"):
        load_folder(tmp_path)


def test_image_without_its_mask_is_named(tmp_path):
    img, mask = _pair()
    _png(tmp_path / "images" / "a.png", img)
    _png(tmp_path / "masks" / "a.png", mask)
    _png(tmp_path / "images" / "b.png", img)
    with pytest.raises(FolderError, match=r"No mask for images/b.png.*masks/b.png"):
        load_folder(tmp_path)


def test_suffix_layout_missing_masks(tmp_path):
    img, mask = _pair()
    _png(tmp_path / "a.png", img)
    _png(tmp_path / "b.png", img)
    with pytest.raises(FolderError, match=r"no masks: name each mask after its image.*a_mask.png"):
        load_folder(tmp_path)
    _png(tmp_path / "a_mask.png", mask)
    with pytest.raises(FolderError, match=r"No mask for b.png: expected b_mask.png"):
        load_folder(tmp_path)


def test_masks_without_images(tmp_path):
    img, mask = _pair()
    _png(tmp_path / "a.png", img)
    _png(tmp_path / "a_mask.png", mask)
    _png(tmp_path / "c_mask.png", mask)
    with pytest.raises(FolderError, match="Mask\\(s\\) without an image: c_mask.png"):
        load_folder(tmp_path)
    _png(tmp_path / "sub" / "x_mask.png", mask)
    with pytest.raises(FolderError, match="only masks"):
        load_folder(tmp_path / "sub")


def test_orphan_mask_in_subfolders(tmp_path):
    img, mask = _pair()
    _png(tmp_path / "images" / "a.png", img)
    _png(tmp_path / "masks" / "a.png", mask)
    _png(tmp_path / "masks" / "z.png", mask)
    with pytest.raises(FolderError, match="without an image: masks/z.png"):
        load_folder(tmp_path)


def test_two_images_with_one_name(tmp_path):
    img, mask = _pair()
    _png(tmp_path / "images" / "a.png", img)
    _tif(tmp_path / "images" / "a.tif", img)
    _png(tmp_path / "masks" / "a.png", mask)
    with pytest.raises(FolderError, match="share a name: images/a.png, images/a.tif"):
        load_folder(tmp_path)


def test_mask_of_another_size(tmp_path):
    img, mask = _pair(12, 16)
    _png(tmp_path / "a.png", img)
    _png(tmp_path / "a_mask.png", mask[:10])
    with pytest.raises(FolderError, match=r"a.png is 12x16 \(height x width\) but its mask a_mask.png is 10x16"):
        load_folder(tmp_path)


def test_unreadable_file(tmp_path):
    _, mask = _pair()
    (tmp_path / "a.png").write_bytes(b"this is not a png")
    _png(tmp_path / "a_mask.png", mask)
    with pytest.raises(FolderError, match=r"Could not read a.png .*Is it really a PNG file"):
        load_folder(tmp_path)
    img, _ = _pair()
    _png(tmp_path / "a.png", img)
    (tmp_path / "a_mask.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(FolderError, match="Could not read a_mask.png"):
        load_folder(tmp_path)


def test_truncated_tiff(tmp_path):
    img, mask = _pair()
    _tif(tmp_path / "a.tif", img)
    _png(tmp_path / "a_mask.png", mask)
    data = (tmp_path / "a.tif").read_bytes()
    (tmp_path / "a.tif").write_bytes(data[:20])
    with pytest.raises(FolderError, match="Could not read a.tif .*TIF"):
        load_folder(tmp_path)


def test_non_binary_mask_names_values_and_remedies(tmp_path):
    img, mask = _pair()
    m = mask.copy()
    m[0, 0] = 128
    _png(tmp_path / "a.png", img)
    _png(tmp_path / "a_mask.png", m)
    with pytest.raises(FolderError) as e:
        load_folder(tmp_path, mask_type="binary")
    msg = str(e.value)
    assert "Mask a_mask.png is not binary: its values are 0, 128, 255" in msg
    assert "threshold=" in msg and "mask_type='auto'" in msg


def test_two_values_without_background(tmp_path):
    img, mask = _pair()
    _png(tmp_path / "a.png", img)
    _png(tmp_path / "a_mask.png", np.where(mask > 0, 2, 1).astype(np.uint8))
    with pytest.raises(FolderError, match="values are 1, 2.*0 for background.*mask_type='labels'"):
        load_folder(tmp_path)
    assert load_folder(tmp_path, mask_type="labels").masks.all()  # every pixel an object: on request


def test_colour_mask_with_colours(tmp_path):
    img, mask = _pair()
    rgb = np.zeros((12, 16, 3), np.uint8)
    rgb[mask > 0] = (255, 0, 0)
    _png(tmp_path / "a.png", img)
    _png(tmp_path / "a_mask.png", rgb)
    with pytest.raises(FolderError, match="Mask a_mask.png is a colour image.*grey-scale"):
        load_folder(tmp_path)


def test_stack_with_a_different_number_of_mask_pages(tmp_path):
    _tif(tmp_path / "images" / "v.tif", np.zeros((3, 8, 8), np.uint8), photometric="minisblack")
    _tif(tmp_path / "masks" / "v.tif", np.zeros((2, 8, 8), np.uint8), photometric="minisblack")
    with pytest.raises(FolderError, match="images/v.tif has 3 page\\(s\\) but its mask masks/v.tif has 2"):
        load_folder(tmp_path)


def test_label_mask_with_fractions(tmp_path):
    img, _ = _pair()
    _png(tmp_path / "a.png", img)
    _tif(tmp_path / "a_mask.tif", np.full((12, 16), 0.5, np.float32))
    with pytest.raises(FolderError, match="not labels \\(whole numbers >= 0\\), e.g. 0.5.*threshold="):
        load_folder(tmp_path)
    _tif(tmp_path / "a_mask.tif", -np.ones((12, 16), np.int16))
    with pytest.raises(FolderError, match="not labels .* e.g. -1"):
        load_folder(tmp_path)


def test_image_with_nan(tmp_path):
    _, mask = _pair()
    img = np.ones((12, 16), np.float32) * 3
    img[0, 0] = np.nan
    _tif(tmp_path / "a.tif", img)
    _png(tmp_path / "a_mask.png", mask)
    with pytest.raises(FolderError, match="Image a.tif contains NaN values"):
        load_folder(tmp_path)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(normalize="zscore"), "normalize must be one of 'auto'"),
        (dict(layout="flat"), "layout must be one of 'auto', 'subfolders'"),
        (dict(mask_type="rgb"), "mask_type must be one of 'auto'"),
        (dict(threshold="half"), "threshold must be a finite number"),
        (dict(threshold=True), "threshold must be a finite number"),
        (dict(threshold=float("nan")), "threshold must be a finite number"),
        (dict(size=(0, 5)), "size height must be at least 1, got 0"),
        (dict(size=True), "size must be a whole number, got True"),
        (dict(size=64.7), r"size must be a whole number, got 64.7 \(for example 64"),
        (dict(size=(64, 64.5)), "size width must be a whole number"),
        (dict(size=(1, 2, 3)), r"size must be one whole number \(a square\) or"),
        (dict(size="big"), r"size must be one whole number \(a square\) or"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, words):
    with pytest.raises(FolderError, match=words):
        load_folder(tmp_path, **kwargs)


def test_explicit_layout_subfolders_without_images_folder(tmp_path):
    with pytest.raises(FolderError, match="has no images/ folder"):
        load_folder(tmp_path, layout="subfolders")


def test_folder_error_is_a_value_error():
    assert issubclass(FolderError, ValueError)


# ----------------------------------------------------------------------------------
# found bugs, one test each
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_grey_tiff_stacks_of_three_or_four_pages_are_stacks_not_colour(tmp_path, n):
    """tifffile.imwrite(np.stack([...])) tags a (3|4, H, W) array RGB(A), samples first: the pages are a stack."""
    rng = np.random.default_rng(n)
    vol = rng.integers(0, 256, (n, 20, 24), dtype=np.uint8)
    lab = np.zeros((n, 20, 24), np.uint8)
    lab[:, 4:9, 5:12] = 255
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tifffile's own warning about its RGB guess
        _tif(tmp_path / "images" / "v.tif", vol)
        _tif(tmp_path / "masks" / "v.tif", lab)
    ds = load_folder(tmp_path)
    _check_form(ds, n, 20, 24)
    np.testing.assert_allclose(ds.images, vol / 255, atol=1e-6)
    # the mask stack saved as MINISBLACK pages pairs with it just as well
    _tif(tmp_path / "masks" / "v.tif", lab, photometric="minisblack")
    _check_form(load_folder(tmp_path), n, 20, 24)


def test_colour_is_read_from_the_photometric_tag(tmp_path):
    _, mask = _pair()
    grey3 = np.zeros((12, 16, 3), np.uint8)
    grey3[..., 0], grey3[..., 1], grey3[..., 2] = 100, 7, 250
    # MINISBLACK with two extra samples: grey (the first sample), not a colour picture
    _tif(tmp_path / "a.tif", grey3, photometric="minisblack", planarconfig="contig", extrasamples=[0, 0])
    _png(tmp_path / "a_mask.png", mask)
    np.testing.assert_allclose(load_folder(tmp_path).images[0], 100 / 255, atol=1e-6)
    # PALETTE: the indices go through the colour map
    cmap = np.zeros((3, 256), np.uint16)
    cmap[:, 1] = (65535, 0, 0)  # index 1 is pure red
    idx = (mask > 0).astype(np.uint8)
    _tif(tmp_path / "a.tif", idx, photometric="palette", colormap=cmap)
    np.testing.assert_allclose(load_folder(tmp_path).images[0], idx * 0.299, atol=1 / 255)


def test_colour_planes_first_with_a_one_page_mask_is_one_colour_picture(tmp_path):
    rgb = np.zeros((3, 12, 16), np.uint8)
    rgb[1] = 200
    _, mask = _pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _tif(tmp_path / "a.tif", rgb)
    _png(tmp_path / "a_mask.png", mask)
    ds = load_folder(tmp_path)
    _check_form(ds, 1, 12, 16)
    np.testing.assert_allclose(ds.images[0], 0.587 * 200 / 255, atol=1 / 255)


def _big_png(path: Path, h: int, w: int):
    """A real h x w grey PNG of zeros, compressed row by row (a few MB of memory at most)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    z, row, parts = zlib.compressobj(1), b"\x00" * (w + 1), []
    for _ in range(h // 100):
        parts.append(z.compress(row * 100))
    parts.append(z.compress(row * (h % 100)) + z.flush())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def no_decoding(monkeypatch):
    """Call it once the files are written: from then on, decoding any pixel data fails the test."""

    def refuse(*a, **k):
        raise AssertionError("decoded pixels before checking the size")

    def arm():
        monkeypatch.setattr(Image.Image, "load", refuse)
        monkeypatch.setattr(tifffile.TiffPage, "asarray", refuse)
        monkeypatch.setattr(tifffile.TiffPageSeries, "asarray", refuse)

    return arm


def test_huge_png_is_refused_from_its_header(tmp_path, no_decoding):
    _big_png(tmp_path / "images" / "big.png", 14000, 14000)
    _big_png(tmp_path / "masks" / "big.png", 14000, 14000)
    no_decoding()
    with pytest.raises(FolderError) as e:
        load_folder(tmp_path)
    msg = str(e.value)
    assert "images/big.png is 14000x14000 pixels" in msg and f"limit of {MAX_SIDE}x{MAX_SIDE}" in msg
    assert "Crop it, or cut it into tiles" in msg


def test_huge_tiff_is_refused_from_its_header(tmp_path, no_decoding):
    img, _ = _pair()
    _png(tmp_path / "a.png", img)
    tifffile.imwrite(tmp_path / "a_mask.tif", shape=(12000, 12000), dtype=np.uint8)  # header only, sparse file
    no_decoding()
    with pytest.raises(FolderError, match=r"a_mask.tif is 12000x12000 pixels .* limit of 4096x4096"):
        load_folder(tmp_path)


def test_folder_over_the_pixel_budget_is_refused_before_decoding(tmp_path, no_decoding):
    for name in "abc":
        _big_png(tmp_path / "images" / f"{name}.png", 4000, 3000)
        _big_png(tmp_path / "masks" / f"{name}.png", 4000, 3000)
    assert 3 * 4000 * 3000 > MAX_PIXELS >= 2 * 4000 * 3000
    no_decoding()
    with pytest.raises(FolderError, match=r"holds 36,000,000 image pixels in all, more than the limit of 33,554,432"):
        load_folder(tmp_path)


def test_dangling_symlink_and_symlink_loop_are_named(tmp_path):
    img, mask = _pair()
    _png(tmp_path / "images" / "a.png", img)
    _png(tmp_path / "masks" / "a.png", mask)
    (tmp_path / "images" / "b.png").symlink_to(tmp_path / "gone" / "b.png")
    with pytest.raises(FolderError, match=r"images/b.png is a symbolic link to .*gone/b.png, but that does not exist"):
        load_folder(tmp_path)
    (tmp_path / "images" / "b.png").unlink()
    (tmp_path / "masks" / "loop.png").symlink_to(tmp_path / "masks" / "loop.png")
    with pytest.raises(FolderError, match=r"masks/loop.png is a symbolic link .* points back to itself"):
        load_folder(tmp_path)
    # a folder of nothing but a dangling link names it too (it used to say "No PNG or TIFF images")
    (tmp_path / "solo").mkdir()
    (tmp_path / "solo" / "x.tif").symlink_to(tmp_path / "nowhere.tif")
    with pytest.raises(FolderError, match="x.tif is a symbolic link"):
        load_folder(tmp_path / "solo")
    (tmp_path / "solo" / "x.tif").unlink()
    (tmp_path / "solo" / "masks").symlink_to(tmp_path / "old_masks")
    with pytest.raises(FolderError, match="masks is a symbolic link to .*old_masks, but that does not exist"):
        load_folder(tmp_path / "solo")
    (tmp_path / "link").symlink_to(tmp_path / "missing_folder")
    with pytest.raises(FolderError, match="is a symbolic link to .*missing_folder, which leads nowhere"):
        load_folder(tmp_path / "link")


@pytest.mark.parametrize("layout", ["subfolders", "suffix"])
def test_saving_into_a_used_folder_refuses_or_replaces(tmp_path, layout):
    five, two = make_dataset(5, 24, seed=0), make_dataset(2, 24, seed=1)
    save_folder(five, tmp_path, layout=layout)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FolderError, match=r"already holds 10 image/mask file\(s\).*overwrite=True"):
        save_folder(two, tmp_path, layout=layout)
    assert len(load_folder(tmp_path)) == 5  # nothing was written
    save_folder(two, tmp_path, layout=layout, overwrite=True)
    ds = load_folder(tmp_path)
    assert len(ds) == 2 and np.array_equal(ds.instances, two.instances)
    assert (tmp_path / "notes.txt").read_text() == "mine"  # other files are left alone


def test_save_folder_arguments_and_suffix_beside_an_images_folder(tmp_path):
    one = make_dataset(1, 24, seed=0)
    save_folder(one, tmp_path)
    with pytest.raises(FolderError, match="has an images/ folder, which load_folder would read instead"):
        save_folder(one, tmp_path, layout="suffix", overwrite=True)
    with pytest.raises(FolderError, match="ext must be one of '.png', '.tif', '.tiff'"):
        save_folder(one, tmp_path / "x", ext=".jpg")
    with pytest.raises(FolderError, match="overwrite must be True or False"):
        save_folder(one, tmp_path / "x", overwrite="yes")


def test_binary_masks_are_saved_when_there_are_no_instances(tmp_path, generated):
    import types

    save_folder(types.SimpleNamespace(images=generated.images, masks=generated.masks), tmp_path)
    with Image.open(tmp_path / "masks" / "sample000.png") as im:
        assert set(np.unique(np.asarray(im))) == {0, 255}
    assert np.array_equal(load_folder(tmp_path).masks, generated.masks)


@pytest.mark.parametrize("where, bad", [("image", np.nan), ("image", np.inf), ("mask", np.nan), ("mask", -np.inf)])
@pytest.mark.parametrize("kwargs", [{}, dict(threshold=0.5), dict(normalize="minmax")])
def test_nan_and_inf_are_refused_naming_the_file(tmp_path, where, bad, kwargs):
    img = np.full((12, 16), 0.25, np.float32)  # inside [0, 1]: the "auto" path that keeps floats as they are
    mask = np.zeros((12, 16), np.float32)
    mask[2:6, 3:9] = 1
    (img if where == "image" else mask)[3, 4] = bad
    _tif(tmp_path / "a.tif", img)
    _tif(tmp_path / "a_mask.tif", mask)
    kind = "NaN" if np.isnan(bad) else "infinite"
    name = "Image a.tif" if where == "image" else "Mask a_mask.tif"
    with pytest.raises(FolderError, match=f"{name} contains {kind} values \\(1 pixel\\)"):
        load_folder(tmp_path, **kwargs)
