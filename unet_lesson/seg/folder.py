"""Load your own images and masks from a folder, in the same form as the course's generated data.

The paper trained on 30 electron-microscopy slices of 512x512 pixels with hand-drawn
membrane masks (the ISBI 2012 challenge). With :func:`load_folder` a lesson can train on
data like that instead of the generated cells of :mod:`unet_lesson.seg.data`: the result is a
:class:`FolderDataset`, a :class:`unet_lesson.seg.data.Dataset` with the same arrays

* ``images``: (N, H, W) float32 in [0, 1],
* ``masks``: (N, H, W) uint8, 1 = foreground (any non-zero mask value), 0 = background,
* ``instances``: (N, H, W) int32, 0 = background, 1..n = one label per connected
  foreground region (or the labels of the mask files themselves with ``binary=False``),

plus ``names`` (where each sample came from).

Folder layouts accepted (file types: ``.png``, ``.tif``, ``.tiff``, any letter case)::

    my_data/                      my_data/
      images/                       cell01.png
        cell01.png                  cell01_mask.png
        cell02.tif                  cell02.tif
      masks/        (or labels/)    cell02_mask.tif
        cell01.png
        cell02.png  (or cell02_mask.png)

Left, "subfolders": an image ``images/NAME.ext`` pairs with ``masks/NAME.ext`` (or
``masks/NAME_mask.ext``; the mask's file type may differ from the image's). Right,
"suffix": ``NAME.ext`` pairs with ``NAME_mask.ext`` in one folder.

A multi-page TIFF is a stack: each page is one sample (``NAME[0]``, ``NAME[1]``, ...), and its
mask must be a stack with as many pages. The ISBI 2012 data, for instance, is two stacks:
save ``train-volume.tif`` as ``images/train.tif`` and ``train-labels.tif`` as ``masks/train.tif``.

Images: grey-scale, or colour (converted to grey, ``0.299 R + 0.587 G + 0.114 B``; an alpha
channel is ignored). 8-bit images are divided by 255; 16-bit and other images are stretched
to [0, 1] one by one (``normalize="minmax"`` does that for 8-bit ones as well).
Masks: grey-scale with two values, 0 for background and one other value (1 or 255) for
foreground. ``threshold=T`` turns a mask with more values (saved as JPEG, resized with
interpolation) into ``mask > T``; ``binary=False`` keeps integer labels (one per cell).

A folder that does not fit gets a :class:`FolderError` naming the file and what would work.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from .data import Dataset, Sample

__all__ = ["FolderError", "FolderDataset", "load_folder", "save_folder", "LAYOUTS", "IMAGE_TYPES"]

#: file types read (lower case)
IMAGE_TYPES = (".png", ".tif", ".tiff")
_MASK_FOLDERS = ("masks", "labels")
_SUFFIX = "_mask"

#: the accepted layouts, in words (used in error messages)
LAYOUTS = ("Accepted layouts: (1) subfolders: images/NAME.png with masks/NAME.png (or labels/, or "
           "masks/NAME_mask.png); (2) one folder: NAME.png with NAME_mask.png. PNG or TIFF (.png, .tif, .tiff); "
           "a multi-page TIFF is a stack of images whose mask is a stack with as many pages.")


class FolderError(ValueError):
    """A folder of images and masks that cannot be loaded; the message names the file and what would work."""


@dataclass
class FolderDataset(Dataset):
    """Images and masks read from a folder: the arrays of :class:`unet_lesson.seg.data.Dataset`
    (``images`` float32 in [0, 1], ``instances`` int32, ``masks`` uint8) plus ``names``
    (file, or file[page] for a TIFF stack), ``path`` and the ``layout`` found."""

    names: list = field(default_factory=list)
    path: str = ""
    layout: str = ""

    def __getitem__(self, i) -> Sample:
        return Sample(self.images[i], self.instances[i], self.masks[i], seed=self.names[i])

    def summary(self) -> str:
        n, h, w = self.images.shape
        fg = float(self.masks.mean()) if self.masks.size else 0.0
        return (f"{n} image{'s' if n != 1 else ''} of {h}x{w} from {self.path} ({self.layout} layout); "
                f"foreground {fg:.0%} of the pixels")


# ----------------------------------------------------------------------------------
# finding the pairs
# ----------------------------------------------------------------------------------
def _is_image_file(p: Path) -> bool:
    return p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_TYPES


def _rel(p: Path, root: Path) -> str:
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return str(p)


def _others(folder: Path) -> str:
    """What else is in a folder, for messages: '3 .jpg files, 1 .bmp file'."""
    counts: dict[str, int] = {}
    for p in folder.iterdir():
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() not in IMAGE_TYPES:
            counts[p.suffix.lower() or "(no extension)"] = counts.get(p.suffix.lower() or "(no extension)", 0) + 1
    if not counts:
        return ""
    return ", ".join(f"{n} {ext} file{'s' if n > 1 else ''}" for ext, n in sorted(counts.items()))


def _find_pairs(root: Path, layout: str) -> tuple[list[tuple[Path, Path]], str]:
    if not root.exists():
        raise FolderError(f"There is no folder {root}. Check the path (it is relative to the notebook's folder, "
                          f"{Path.cwd()}), or give an absolute path. {LAYOUTS}")
    if not root.is_dir():
        raise FolderError(f"{root} is a file, not a folder: give the folder that holds the images and masks. "
                          f"{LAYOUTS}")
    if layout not in ("auto", "subfolders", "suffix"):
        raise FolderError(f"layout must be 'auto', 'subfolders' or 'suffix', got {layout!r}.")
    image_dir = root / "images"
    if layout == "subfolders" or (layout == "auto" and image_dir.is_dir()):
        return _find_subfolder_pairs(root, image_dir), "subfolders"
    return _find_suffix_pairs(root), "suffix"


def _stems(folder: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        if _is_image_file(p):
            out.setdefault(p.stem, []).append(p)
    return out


def _one(paths: list[Path], root: Path, what: str) -> Path:
    if len(paths) > 1:
        raise FolderError(f"Two {what} files share a name: {', '.join(_rel(p, root) for p in paths)}. "
                          "Keep one (which one is meant cannot be guessed).")
    return paths[0]


def _no_images(folder: Path, root: Path) -> FolderError:
    other = _others(folder)
    found = f" It holds {other}; save them as PNG or TIFF." if other else ""
    return FolderError(f"No PNG or TIFF images in {_rel(folder, root) if folder != root else root}.{found} "
                       f"{LAYOUTS}")


def _find_subfolder_pairs(root: Path, image_dir: Path) -> list[tuple[Path, Path]]:
    if not image_dir.is_dir():
        raise FolderError(f"{root} has no images/ folder (layout 'subfolders'). {LAYOUTS}")
    mask_dir = next((root / m for m in _MASK_FOLDERS if (root / m).is_dir()), None)
    if mask_dir is None:
        raise FolderError(f"{root} has an images/ folder but no masks/ (or labels/) folder beside it: put the "
                          f"masks in {root / 'masks'}, one per image with the image's name. {LAYOUTS}")
    images, masks = _stems(image_dir), _stems(mask_dir)
    if not images:
        raise _no_images(image_dir, root)
    pairs, missing = [], []
    used = set()
    for stem, paths in images.items():
        img = _one(paths, root, "image")
        key = stem if stem in masks else (stem + _SUFFIX if stem + _SUFFIX in masks else None)
        if key is None:
            missing.append(img)
            continue
        used.add(key)
        pairs.append((img, _one(masks[key], root, "mask")))
    if missing:
        shown = ", ".join(_rel(p, root) for p in missing[:5]) + (f" and {len(missing) - 5} more"
                                                                 if len(missing) > 5 else "")
        ex = missing[0]
        raise FolderError(f"No mask for {shown}. Each image needs a mask with its name in {_rel(mask_dir, root)}/, "
                          f"e.g. {_rel(mask_dir / ex.name, root)} (or {ex.stem}{_SUFFIX}.png, .tif).")
    orphans = [p for stem, ps in masks.items() if stem not in used for p in ps]
    if orphans:
        shown = ", ".join(_rel(p, root) for p in orphans[:5])
        raise FolderError(f"Mask(s) without an image: {shown}. Give each mask the name of its image in images/, "
                          "or move the mask away.")
    return pairs


def _find_suffix_pairs(root: Path) -> list[tuple[Path, Path]]:
    files = _stems(root)
    masks = {s: p for s, p in files.items() if s.endswith(_SUFFIX)}
    images = {s: p for s, p in files.items() if not s.endswith(_SUFFIX)}
    if not images and not masks:
        raise _no_images(root, root)
    if not images:
        raise FolderError(f"{root} holds only masks ({', '.join(p[0].name for p in list(masks.values())[:3])}...): "
                          f"put each image beside its mask as NAME.png for NAME{_SUFFIX}.png. {LAYOUTS}")
    missing = [p[0] for s, p in images.items() if s + _SUFFIX not in masks]
    if missing and not masks:
        raise FolderError(f"Found {len(images)} image(s) in {root} but no masks: name each mask after its image "
                          f"with {_SUFFIX} added, e.g. {missing[0].stem}{_SUFFIX}.png beside {missing[0].name}, or use "
                          f"the subfolder layout (images/ and masks/). {LAYOUTS}")
    if missing:
        shown = ", ".join(p.name for p in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise FolderError(f"No mask for {shown}: expected {missing[0].stem}{_SUFFIX}.png (or .tif) beside "
                          f"{missing[0].name}.")
    orphans = [p[0].name for s, p in masks.items() if s[: -len(_SUFFIX)] not in images]
    if orphans:
        raise FolderError(f"Mask(s) without an image: {', '.join(orphans[:5])}. The image for NAME{_SUFFIX}.png "
                          "is NAME.png (or .tif) in the same folder.")
    return [(_one(p, root, "image"), _one(masks[s + _SUFFIX], root, "mask")) for s, p in images.items()]


# ----------------------------------------------------------------------------------
# reading one file
# ----------------------------------------------------------------------------------
def _read(path: Path, root: Path, kind: str) -> tuple[list[np.ndarray], bool]:
    """Read a PNG or TIFF: a list of pages (one for a PNG) and whether they are colour (H, W, C).

    ``kind`` is "image" or "mask": a palette PNG is converted to colour for an image, while for
    a mask its palette indices are the labels.
    """
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tf:
                series = tf.series[0]
                arr, axes = np.asarray(series.asarray()), series.axes
            colour = False
            if "S" in axes:  # samples per pixel (colour), stored contiguously (..S) or as planes (S..)
                arr = np.moveaxis(arr, axes.index("S"), -1)
                colour = arr.shape[-1] in (3, 4)
                if not colour:  # e.g. 2 samples: grey + alpha
                    arr = arr[..., 0]
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
        raise FolderError(f"Could not read {_rel(path, root)} ({type(e).__name__}: {e}). Is it really a "
                          f"{path.suffix.lower().lstrip('.').upper()} file? Open it in an image viewer and save it "
                          "again as PNG or TIFF.") from None
    dims = arr.ndim - (1 if colour else 0)
    if dims == 2:
        return [arr], colour
    if dims == 3:  # a TIFF stack: one page per image
        return list(arr), colour
    raise FolderError(f"{_rel(path, root)} holds an array of shape {arr.shape}, which is not an image (H, W), a "
                      "colour image (H, W, 3) or a stack of pages (N, H, W). Save it as a 2-D grey-scale PNG or TIFF.")


def _to_gray(a: np.ndarray) -> np.ndarray:
    if a.ndim == 3:
        rgb = a[..., :3].astype(np.float64)
        return rgb @ np.array([0.299, 0.587, 0.114])
    return a


def _to_unit(a: np.ndarray, normalize: str) -> np.ndarray:
    if a.dtype == bool:
        return a.astype(np.float32)
    if normalize == "auto" and a.dtype == np.uint8:
        return (a / 255.0).astype(np.float32)
    b = a.astype(np.float64)
    if normalize == "auto" and np.issubdtype(a.dtype, np.floating) and b.min() >= 0 and b.max() <= 1:
        return b.astype(np.float32)
    lo, hi = float(b.min()), float(b.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("it contains NaN or infinite values")
    if hi == lo:
        return np.zeros(a.shape, np.float32)
    return ((b - lo) / (hi - lo)).astype(np.float32)


def _image(a: np.ndarray, name: str, normalize: str) -> np.ndarray:
    if a.ndim == 3:
        a8 = a.dtype == np.uint8
        a = _to_gray(a)
        if a8 and normalize == "auto":  # 8-bit colour: grey on the same 0..255 scale, then / 255
            return (a / 255.0).astype(np.float32)
    try:
        return _to_unit(a, normalize)
    except ValueError as e:
        raise FolderError(f"Image {name}: {e}; fix or remove the file.") from None


def _mask(a: np.ndarray, name: str, binary: bool, threshold) -> tuple[np.ndarray, np.ndarray]:
    """(binary mask uint8, instances int32) from a mask array, or a FolderError saying what is wrong."""
    if a.ndim == 3:
        ch = a[..., :3]
        if not (np.array_equal(ch[..., 0], ch[..., 1]) and np.array_equal(ch[..., 0], ch[..., 2])):
            raise FolderError(f"Mask {name} is a colour image with different colours in its channels. A mask is "
                              "grey-scale: 0 for background and 1 or 255 for foreground (or one integer label per "
                              "cell with binary=False). Save it in grey-scale ('L' mode).")
        a = ch[..., 0]
    if a.dtype == bool:
        a = a.astype(np.uint8)
    if not np.all(np.isfinite(a)):
        raise FolderError(f"Mask {name} contains NaN or infinite values; a mask holds 0 and 1 (or 255).")
    if threshold is not None:
        m = (a > threshold).astype(np.uint8)
        return m, ndi.label(m)[0].astype(np.int32)
    values = np.unique(a)
    if binary:
        if len(values) > 2 or (len(values) == 2 and values[0] != 0) or values.min() < 0:
            shown = ", ".join(f"{v:g}" for v in values[:6]) + (f", ... ({len(values)} values)" if len(values) > 6
                                                              else "")
            raise FolderError(
                f"Mask {name} is not binary: its values are {shown}. A binary mask has 0 for background and one "
                "other value (1 or 255) for foreground. If it was saved as JPEG or resized with interpolation, pass "
                f"threshold=... (e.g. threshold={int(values.max()) // 2} keeps values above it); if the values are "
                "labels (one per cell), pass binary=False.")
        m = (a > 0).astype(np.uint8)
        return m, ndi.label(m)[0].astype(np.int32)
    if values.min() < 0 or not np.all(np.equal(np.mod(a, 1), 0)):
        raise FolderError(f"Mask {name} has values that are not labels (whole numbers >= 0): "
                          f"min {values.min():g}, e.g. {values[np.mod(values, 1) != 0][:3] if np.any(np.mod(values, 1)) else values[:3]}. "
                          "With binary=False a mask holds 0 for background and 1, 2, 3, ... for the cells.")
    inst = a.astype(np.int64)
    if inst.max() > np.iinfo(np.int32).max:
        raise FolderError(f"Mask {name} has labels larger than int32 can hold.")
    inst = inst.astype(np.int32)
    return (inst > 0).astype(np.uint8), inst


def _center_crop(a: np.ndarray, h: int, w: int) -> np.ndarray:
    top, left = (a.shape[0] - h) // 2, (a.shape[1] - w) // 2
    return a[top:top + h, left:left + w]


# ----------------------------------------------------------------------------------
# the loader
# ----------------------------------------------------------------------------------
def load_folder(path, *, binary: bool = True, threshold=None, size=None, normalize: str = "auto",
                layout: str = "auto") -> FolderDataset:
    """Read a folder of image/mask pairs (PNG or TIFF) into a :class:`FolderDataset`.

    Args:
        path: the folder (see the module's docstring for the layouts).
        binary: masks are binary (0 = background, one other value = foreground). ``False`` keeps
            integer labels (0 = background, 1..n = cells) as ``instances``; ``masks`` is then
            ``instances > 0``.
        threshold: if given, every mask becomes ``mask > threshold`` (for masks with in-between
            values, e.g. saved as JPEG or resized).
        size: ``None`` (all pairs must have one size) or ``(H, W)``: centre-crop every pair to it.
        normalize: ``"auto"`` (8-bit / 255, anything else stretched to [0, 1] per image) or
            ``"minmax"`` (every image stretched to [0, 1]).
        layout: ``"auto"`` (``images/`` present -> "subfolders", else "suffix"), ``"subfolders"``
            or ``"suffix"``.

    Raises :class:`FolderError` (a ``ValueError``) naming the file and what would work.
    """
    if normalize not in ("auto", "minmax"):
        raise FolderError(f"normalize must be 'auto' or 'minmax', got {normalize!r}.")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        raise FolderError(f"threshold must be a number (mask > threshold is foreground), got {threshold!r}.")
    crop = None
    if size is not None:
        try:
            crop = (int(size), int(size)) if np.isscalar(size) else tuple(int(s) for s in size)
        except (TypeError, ValueError):
            crop = None
        if crop is None or len(crop) != 2 or min(crop) < 1:
            raise FolderError(f"size must be None or (height, width) in pixels, got {size!r}.")
    root = Path(os.fspath(path)).expanduser()
    pairs, found = _find_pairs(root, layout)

    images, masks, instances, names = [], [], [], []
    for img_path, mask_path in pairs:
        img_pages, _ = _read(img_path, root, "image")
        mask_pages, _ = _read(mask_path, root, "mask")
        ri, rm = _rel(img_path, root), _rel(mask_path, root)
        if len(img_pages) != len(mask_pages):
            raise FolderError(f"{ri} has {len(img_pages)} page(s) but its mask {rm} has {len(mask_pages)}: a stack "
                              "of images needs a stack of masks with one page per image.")
        for k, (ia, ma) in enumerate(zip(img_pages, mask_pages)):
            name = ri if len(img_pages) == 1 else f"{ri}[{k}]"
            mname = rm if len(mask_pages) == 1 else f"{rm}[{k}]"
            if ia.shape[:2] != ma.shape[:2]:
                raise FolderError(f"{name} is {ia.shape[0]}x{ia.shape[1]} (height x width) but its mask {mname} is "
                                  f"{ma.shape[0]}x{ma.shape[1]}: a mask must have its image's size, one value per "
                                  "pixel. Resize the mask with nearest-neighbour interpolation, or re-export it.")
            image = _image(ia, name, normalize)
            m, inst = _mask(ma, mname, binary, threshold)
            if crop is not None:
                if image.shape[0] < crop[0] or image.shape[1] < crop[1]:
                    raise FolderError(f"{name} is {image.shape[0]}x{image.shape[1]}, smaller than size={crop}: "
                                      f"choose a size of at most {image.shape[0]}x{image.shape[1]} or remove it.")
                image, m, inst = (_center_crop(x, *crop) for x in (image, m, inst))
            images.append(image)
            masks.append(m)
            instances.append(inst)
            names.append(name)
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        by = {}
        for n, im in zip(names, images):
            by.setdefault(im.shape, n)
        listed = ", ".join(f"{n} is {s[0]}x{s[1]}" for s, n in list(by.items())[:4])
        h = min(s[0] for s in shapes)
        w = min(s[1] for s in shapes)
        raise FolderError(f"The images differ in size ({listed}). Stacked training data needs one size: pass "
                          f"size=({h}, {w}) (or smaller) to centre-crop every pair to it, or resize the files.")
    opts = dict(binary=binary, threshold=threshold, size=crop, normalize=normalize)
    return FolderDataset(images=np.stack(images).astype(np.float32), instances=np.stack(instances).astype(np.int32),
                         masks=np.stack(masks).astype(np.uint8), seed=0, options=opts, names=names, path=str(root),
                         layout=found)


def save_folder(dataset, path, layout: str = "subfolders", ext: str = ".png") -> Path:
    """Write ``dataset.images`` / ``dataset.masks`` as a folder :func:`load_folder` reads back
    (8-bit grey images, masks 0/255). Handy to see the expected layout, and in tests."""
    from PIL import Image

    if layout not in ("subfolders", "suffix"):
        raise FolderError(f"layout must be 'subfolders' or 'suffix', got {layout!r}.")
    if ext.lower() not in IMAGE_TYPES:
        raise FolderError(f"ext must be one of {IMAGE_TYPES}, got {ext!r}.")
    root = Path(path)
    img_dir, mask_dir = (root / "images", root / "masks") if layout == "subfolders" else (root, root)
    img_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(parents=True, exist_ok=True)
    for i, (image, mask) in enumerate(zip(dataset.images, dataset.masks)):
        stem = f"sample{i:03d}"
        img8 = np.clip(np.round(np.asarray(image) * 255), 0, 255).astype(np.uint8)
        m8 = (np.asarray(mask) > 0).astype(np.uint8) * 255
        mask_name = f"{stem}{ext}" if layout == "subfolders" else f"{stem}{_SUFFIX}{ext}"
        if ext.lower() == ".png":
            Image.fromarray(img8).save(img_dir / f"{stem}{ext}")
            Image.fromarray(m8).save(mask_dir / mask_name)
        else:
            import tifffile

            tifffile.imwrite(img_dir / f"{stem}{ext}", img8)
            tifffile.imwrite(mask_dir / mask_name, m8)
    return root
