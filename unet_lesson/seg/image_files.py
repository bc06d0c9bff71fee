"""Reading one image or mask file of a student's folder (PNG or TIFF), safely.

Used by :mod:`unet_lesson.seg.folder`. Every failure is a :class:`FolderError` naming the file and what
would work: sizes are read from the file's header before anything is decoded (a 14000x14000 picture is
refused at once, not after gigabytes), colour is decided by the file's own photometric tag (a 3-page grey
TIFF stack is a stack, not an RGB picture), NaN and inf are refused, and a mask may be a label image (one
integer per object, as nucleus and cell tools save them) or a binary mask.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from .metrics import FOUR

__all__ = [
    "FolderError",
    "MAX_SIDE",
    "MAX_PIXELS",
    "MASK_TYPES",
    "IMAGE_TYPES",
    "read_file",
    "check_sizes",
    "choose_reading",
    "to_image",
    "to_mask",
    "relative",
]


#: the largest height or width of one image (a 4096x4096 float32 image is 64 MiB; training cuts tiles anyway)
MAX_SIDE = 4096


#: the most pixels a folder may hold in all (images x height x width): 2**25, e.g. 128 images of 512x512
MAX_PIXELS = 2**25


#: how the masks are read (``mask_type``)
MASK_TYPES = {
    "auto": "label images as labels, binary masks as connected regions",
    "labels": "every mask is a label image, even one with a single value",
    "binary": "every mask has 0 and one other value; its connected regions are the objects",
}


#: file types read (lower case)
IMAGE_TYPES = (".png", ".tif", ".tiff")


class FolderError(ValueError):
    """A folder of images and masks that cannot be loaded; the message names the file and what would work."""


def relative(p: Path, root: Path) -> str:
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return str(p)


def unreadable(path: Path, root: Path, e: Exception) -> FolderError:
    return FolderError(
        f"Could not read {relative(path, root)} ({type(e).__name__}: {e}). Is it really a "
        f"{path.suffix.lower().lstrip('.').upper()} file? Open it in an image viewer and save it "
        "again as PNG or TIFF."
    )


def header(path: Path, root: Path) -> tuple[int, int, int]:
    """(pages, height, width) from the file's header, without decoding its pixels."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tf:
                shape, axes = tf.series[0].shape, tf.series[0].axes
            h, w = (shape[axes.index("Y")], shape[axes.index("X")]) if {"Y", "X"} <= set(axes) else shape[-2:]
            rest = [n for n, a in zip(shape, axes) if a not in "YX" and not (a == "S" and axes.endswith("S"))]
            return int(np.prod(rest)) if rest else 1, int(h), int(w)
        with open(path, "rb") as f:
            head = f.read(24)
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            w, h = struct.unpack(">II", head[16:24])
            return 1, int(h), int(w)
        from PIL import Image  # not a plain PNG: let PIL read the header (it decodes nothing yet)

        with Image.open(path) as im:
            return 1, im.size[1], im.size[0]
    except FolderError:
        raise
    except Exception as e:  # noqa: BLE001 - every reader failure becomes one clear message
        raise unreadable(path, root, e) from None


def check_sizes(pairs: list[tuple[Path, Path]], root: Path) -> None:
    """Refuse files larger than MAX_SIDE and folders larger than MAX_PIXELS, from the headers alone."""
    total = 0
    for img_path, mask_path in pairs:
        for path in (img_path, mask_path):
            pages, h, w = header(path, root)
            if h > MAX_SIDE or w > MAX_SIDE:
                raise FolderError(
                    f"{relative(path, root)} is {h}x{w} pixels (height x width), larger than the limit of "
                    f"{MAX_SIDE}x{MAX_SIDE} per image: reading it would take {h * w * 4 / 2**30:.1f} GiB or more. "
                    f"Crop it, or cut it into tiles of at most {MAX_SIDE}x{MAX_SIDE} (e.g. 1024x1024) saved as "
                    "separate files, each with the matching piece of its mask."
                )
            if path is img_path:
                total += pages * h * w
    if total > MAX_PIXELS:
        raise FolderError(
            f"{root} holds {total:,} image pixels in all, more than the limit of {MAX_PIXELS:,} (for "
            f"example {MAX_PIXELS // 512**2} images of 512x512) for one data set in memory. Use "
            "fewer or smaller images (crop them), or split the folder into several."
        )


def read_file(path: Path, root: Path, kind: str) -> list[tuple[list[np.ndarray], bool]]:
    """The readings of a PNG or TIFF, each (pages, colour); a page is (H, W), or (H, W, C) if colour.

    One reading, except for a TIFF whose colour samples come *first* (S, H, W): ``tifffile.imwrite``
    tags a (3|4, H, W) stack of grey pages RGB by a guess it warns about. Then a stack of grey pages,
    or one colour picture; :func:`choose_reading` takes the one whose page count fits the partner file.
    For a ``kind="mask"`` the indices of a palette are the labels; an image's palette gives colour."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tf:
                series, page = tf.series[0], tf.pages[0]
                arr, axes = np.asarray(series.asarray()), series.axes
                photometric, cmap = int(page.photometric), page.colormap
            if photometric == 3 and kind == "image" and cmap is not None:  # PALETTE: indices into a colour map
                cmap = np.asarray(cmap)
                cmap = (cmap >> 8 if cmap.max() > 255 else cmap).astype(np.uint8)
                arr, axes = np.moveaxis(cmap[:, arr], 0, -1), axes + "S"
            elif photometric == 0 and kind == "image" and arr.dtype.kind == "u":  # MINISWHITE: 0 is white
                arr = np.iinfo(arr.dtype).max - arr
            if "S" in axes:
                s = axes.index("S")
                colour = (photometric in (2, 3, 6)) and arr.shape[s] in (3, 4)  # RGB, PALETTE, YCbCr
                arr = np.moveaxis(arr, s, -1)
                if not colour:  # grey with extra samples (e.g. alpha): the first sample is the picture
                    arr = arr[..., 0]
                elif s == 0 and arr.ndim == 3:  # samples first: maybe a stack of grey pages
                    return [(list(np.moveaxis(arr, -1, 0)), False), ([arr], True)]
            else:
                colour = False
        else:
            from PIL import Image

            with Image.open(path) as im:
                im.load()
                if im.mode == "P":
                    im = im if kind == "mask" else im.convert("RGBA" if "transparency" in im.info else "RGB")
                elif im.mode in ("LA", "PA"):
                    im = im.getchannel(0)
                arr = np.asarray(im)
            colour = arr.ndim == 3
    except Exception as e:  # noqa: BLE001 - every reader failure becomes one clear message
        raise unreadable(path, root, e) from None
    dims = arr.ndim - (1 if colour else 0)
    if dims == 2:
        return [([arr], colour)]
    if dims == 3:  # a TIFF stack: one page per image
        return [(list(arr), colour)]
    raise FolderError(
        f"{relative(path, root)} holds an array of shape {arr.shape}, which is not an image (H, W), a "
        "colour image (H, W, 3) or a stack of pages (N, H, W). Save it as a 2-D grey-scale PNG or TIFF."
    )


def choose_reading(image_readings, mask_readings):
    """The first image and mask readings with as many pages as each other (else the first of each)."""
    for im in image_readings:
        for m in mask_readings:
            if len(im[0]) == len(m[0]):
                return im[0], m[0]
    return image_readings[0][0], mask_readings[0][0]


def check_finite(a: np.ndarray, what: str) -> None:
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        bad = int(np.sum(~np.isfinite(a)))
        kind = "NaN" if np.isnan(a).any() else "infinite"
        raise FolderError(
            f"{what} contains {kind} values ({bad} pixel{'s' if bad > 1 else ''}): a picture holds "
            "finite numbers. Fix the file (e.g. replace them with 0) or remove it."
        )


def to_image(a: np.ndarray, name: str, normalize: str) -> np.ndarray:
    """Grey float32 in [0, 1]: colour to grey, then 8-bit / 255 or stretched (see the module's docstring)."""
    check_finite(a, f"Image {name}")
    eight_bit = a.dtype == np.uint8
    if a.ndim == 3:  # colour: grey on the same scale (0..255 for 8-bit)
        a = a[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    if a.dtype == bool:
        return a.astype(np.float32)
    if normalize == "auto" and eight_bit:
        return (a / 255.0).astype(np.float32)
    b = a.astype(np.float64)
    lo, hi = float(b.min()), float(b.max())
    if normalize == "auto" and np.issubdtype(a.dtype, np.floating) and lo >= 0 and hi <= 1:
        return b.astype(np.float32)
    return np.zeros(a.shape, np.float32) if hi == lo else ((b - lo) / (hi - lo)).astype(np.float32)


def shown_values(values: np.ndarray) -> str:
    return ", ".join(f"{v:g}" for v in values[:6]) + (f", ... ({len(values)} values)" if len(values) > 6 else "")


def to_mask(a: np.ndarray, name: str, mask_type: str, threshold) -> tuple[np.ndarray, np.ndarray]:
    """(binary mask uint8, instances int32) from a mask array, or a FolderError saying what is wrong."""
    if a.ndim == 3:
        ch = a[..., :3]
        if not (np.array_equal(ch[..., 0], ch[..., 1]) and np.array_equal(ch[..., 0], ch[..., 2])):
            raise FolderError(
                f"Mask {name} is a colour image with different colours in its channels. A mask is "
                "grey-scale: 0 for background and one integer label per cell (or 1 or 255 for all "
                "foreground). Save it in grey-scale ('L' or 'I;16' mode)."
            )
        a = ch[..., 0]
    if a.dtype == bool:
        a = a.astype(np.uint8)
    check_finite(a, f"Mask {name}")
    if threshold is not None:
        m = (a > threshold).astype(np.uint8)
        return m, ndi.label(m, structure=FOUR)[0].astype(np.int32)
    values = np.unique(a)
    if values.min() < 0 or not np.all(np.mod(values, 1) == 0):
        odd = values[(values < 0) | (np.mod(values, 1) != 0)]
        raise FolderError(
            f"Mask {name} has values that are not labels (whole numbers >= 0), e.g. {shown_values(odd)}. "
            "A mask holds 0 for background and 1, 2, 3, ... for the cells (or one value for all "
            "foreground). If it is a probability map or was resized, pass threshold=... ."
        )
    labels = values[values != 0]
    if labels.size == 0:
        return np.zeros(a.shape, np.uint8), np.zeros(a.shape, np.int32)
    if mask_type == "auto" and values[0] != 0 and labels.size > 1:
        raise FolderError(
            f"Mask {name} has no background: its values are {shown_values(values)} and none is 0. A mask "
            "holds 0 for background and 1, 2, 3, ... (or one value such as 255) for the cells. If "
            "every pixel really belongs to an object, pass mask_type='labels'."
        )
    if mask_type == "binary" and labels.size > 1:
        raise FolderError(
            f"Mask {name} is not binary: its values are {shown_values(values)}. A binary mask has 0 for background "
            "and one other value (1 or 255) for foreground. If it was saved as JPEG or resized with interpolation, "
            f"pass threshold=... (e.g. threshold={int(values.max()) // 2} keeps values above it); if the values are "
            "labels (one per cell), pass mask_type='auto'."
        )
    if mask_type != "labels" and labels.size <= 1:  # binary: the connected regions are the objects
        m = (a != 0).astype(np.uint8)
        return m, ndi.label(m, structure=FOUR)[0].astype(np.int32)
    if labels.max() > np.iinfo(np.int32).max:
        raise FolderError(f"Mask {name} has labels larger than int32 can hold (up to {labels.max():g}).")
    if mask_type == "auto" and labels.size > 2:
        from skimage.measure import label as label_regions  # patches of one value

        patches = int(label_regions(a.astype(np.int64), background=0, connectivity=1).max())
        if 2 * patches > 3 * labels.size:  # more than 1.5 patches per value (a label image: about 1)
            raise FolderError(
                f"Mask {name} looks like a binary mask saved lossily (JPEG) or resized with interpolation: its "
                f"{labels.size} non-zero values ({shown_values(labels)}) lie in {patches} separate patches, where a "
                f"label image has one patch per label. Pass threshold=... (e.g. threshold={int(labels.max()) // 2}: "
                "foreground = mask > threshold). If these really are labels, pass mask_type='labels'."
            )
    inst = np.searchsorted(labels, a).astype(np.int32) + 1  # labels renumbered 1..n in order of value
    inst[a == 0] = 0
    return (inst > 0).astype(np.uint8), inst
