"""load_folder: a student's own images and masks, in the form of unet_lesson.seg.data, with clear messages."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from unet_lesson.seg.data import Dataset, Sample, make_dataset
from unet_lesson.seg.folder import LAYOUTS, FolderDataset, FolderError, load_folder, save_folder


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
    _tif(tmp_path / "labels" / "a.tif", mask)                 # labels/ and another file type
    _png(tmp_path / "images" / "b.png", img[::-1])
    _png(tmp_path / "labels" / "b_mask.png", mask[::-1])      # NAME_mask in the mask folder
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


def test_label_masks_with_binary_false(tmp_path):
    img, _ = _pair()
    labels = np.zeros((12, 16), np.uint16)
    labels[1:4, 1:4], labels[5:9, 5:9], labels[9:12, 12:16] = 1, 7, 300
    _png(tmp_path / "a.png", img)
    _tif(tmp_path / "a_mask.tif", labels)
    with pytest.raises(FolderError, match="not binary"):
        load_folder(tmp_path)
    ds = load_folder(tmp_path, binary=False)
    assert np.array_equal(ds.instances[0], labels.astype(np.int32))
    assert np.array_equal(ds.masks[0], (labels > 0).astype(np.uint8))


def test_palette_mask_keeps_its_indices_as_labels(tmp_path):
    img, _ = _pair()
    idx = np.zeros((12, 16), np.uint8)
    idx[2:5, 2:5], idx[7:10, 7:10] = 1, 2
    pal = Image.fromarray(idx, mode="P")
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 9))
    _png(tmp_path / "a.png", img)
    pal.save(tmp_path / "a_mask.png")
    ds = load_folder(tmp_path, binary=False)
    assert np.array_equal(ds.instances[0], idx)


def test_threshold_for_soft_masks(tmp_path):
    img, mask = _pair()
    soft = mask.copy()
    soft[2, 3], soft[0, 0] = 250, 3  # JPEG-like noise
    _png(tmp_path / "a.png", img)
    _png(tmp_path / "a_mask.png", soft)
    with pytest.raises(FolderError, match="threshold="):
        load_folder(tmp_path)
    ds = load_folder(tmp_path, threshold=127)
    assert np.array_equal(ds.masks[0], (mask > 0).astype(np.uint8))


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
        load_folder(tmp_path)
    msg = str(e.value)
    assert "Mask a_mask.png is not binary: its values are 0, 128, 255" in msg
    assert "threshold=" in msg and "binary=False" in msg


def test_two_values_without_background(tmp_path):
    img, mask = _pair()
    _png(tmp_path / "a.png", img)
    _png(tmp_path / "a_mask.png", np.where(mask > 0, 2, 1).astype(np.uint8))
    with pytest.raises(FolderError, match="values are 1, 2.*0 for background"):
        load_folder(tmp_path)


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
    with pytest.raises(FolderError, match="not labels \\(whole numbers >= 0\\)"):
        load_folder(tmp_path, binary=False)


def test_image_with_nan(tmp_path):
    _, mask = _pair()
    img = np.ones((12, 16), np.float32) * 3
    img[0, 0] = np.nan
    _tif(tmp_path / "a.tif", img)
    _png(tmp_path / "a_mask.png", mask)
    with pytest.raises(FolderError, match="Image a.tif: it contains NaN"):
        load_folder(tmp_path)


@pytest.mark.parametrize("kwargs, words", [(dict(normalize="zscore"), "normalize must be"),
                                           (dict(layout="flat"), "layout must be"),
                                           (dict(threshold="half"), "threshold must be a number"),
                                           (dict(size=(0, 5)), "size must be None or"),
                                           (dict(size="big"), "size must be None or")])
def test_bad_arguments(tmp_path, kwargs, words):
    with pytest.raises(FolderError, match=words):
        load_folder(tmp_path, **kwargs)


def test_explicit_layout_subfolders_without_images_folder(tmp_path):
    with pytest.raises(FolderError, match="has no images/ folder"):
        load_folder(tmp_path, layout="subfolders")


def test_folder_error_is_a_value_error():
    assert issubclass(FolderError, ValueError)
