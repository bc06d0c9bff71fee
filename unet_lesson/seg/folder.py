"""Load your own images and masks from a folder, in the same form as the course's generated data.

The paper trained on 30 electron-microscopy slices of 512x512 pixels with hand-drawn
membrane masks (the ISBI 2012 challenge). With :func:`load_folder` a lesson can train on
data like that instead of the generated cells of :mod:`unet_lesson.seg.data`: the result is a
:class:`FolderDataset`, a :class:`unet_lesson.seg.data.Dataset` with the same arrays

* ``images``: (N, H, W) float32 in [0, 1],
* ``masks``: (N, H, W) uint8, 1 = foreground (any non-zero mask value), 0 = background,
* ``instances``: (N, H, W) int32, 0 = background, 1..n = one label per object (the mask's labels,
  or the connected regions of a binary mask: see "Masks" below),

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
channel is ignored). Whether a TIFF is colour is read from its photometric tag (RGB or palette
vs. grey), not guessed from the number of pages. 8-bit images are divided by 255; 16-bit and
other images are stretched to [0, 1] one by one (``normalize="minmax"`` does that for 8-bit
ones as well).

Masks, as segmentation tools save them (``mask_type="auto"``):

* a **label image** (0 = background, one integer per object, 8-, 16- or 32-bit, as nucleus and
  cell data sets and CellPose or StarDist write them): ``masks`` = non-zero, ``instances`` = the
  labels renumbered 1..n in order of value (a label found in two places stays one object);
* a **binary mask** (0 and one other value, e.g. 1 or 255): ``instances`` = its 4-connected
  components (touching cells merge: draw a background line between them, or save labels);
* a mask saved lossily (JPEG) or resized with interpolation: pass ``threshold=T`` (foreground =
  ``mask > T``, instances = its components). Such a mask is recognised (its values lie in more than
  1.5 separate patches each; a label image has about one per label) and refused with that advice.

``mask_type="labels"`` reads every mask as labels (even one with a single value);
``mask_type="binary"`` refuses anything but 0 and one other value.

Limits, checked from the file headers before anything is decoded: an image may be at most
:data:`MAX_SIDE` pixels high and wide, and a folder at most :data:`MAX_PIXELS` pixels in all
(crop large images, or cut them into tiles saved as separate files).

A folder that does not fit gets a :class:`FolderError` naming the file and what would work.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.parse import choice, flag, real, size_pair
from ..core.sizes import center_crop_box
from .data import Dataset, Sample
from .image_files import (
    IMAGE_TYPES,
    MASK_TYPES,
    MAX_PIXELS,
    MAX_SIDE,
    FolderError,
    check_sizes,
    choose_reading,
    read_file,
    relative,
    to_image,
    to_mask,
)

__all__ = [
    "FolderError",
    "FolderDataset",
    "load_folder",
    "save_folder",
    "LAYOUTS",
    "IMAGE_TYPES",
    "MASK_TYPES",
    "MAX_SIDE",
    "MAX_PIXELS",
]


_MASK_FOLDERS = ("masks", "labels")
_SUFFIX = "_mask"

#: the accepted layouts, in words (used in error messages)
LAYOUTS = (
    "Accepted layouts: (1) subfolders: images/NAME.png with masks/NAME.png (or labels/, or "
    "masks/NAME_mask.png); (2) one folder: NAME.png with NAME_mask.png. PNG or TIFF (.png, .tif, .tiff); "
    "a multi-page TIFF is a stack of images whose mask is a stack with as many pages."
)


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
        return (
            f"{n} image{'s' if n != 1 else ''} of {h}x{w} from {self.path} ({self.layout} layout); "
            f"foreground {fg:.0%} of the pixels"
        )


# ----------------------------------------------------------------------------------
# finding the pairs
# ----------------------------------------------------------------------------------
def _is_image_file(p: Path, root: Path) -> bool:
    """A PNG or TIFF file that is not hidden. A symbolic link that leads nowhere is an error naming it."""
    if p.name.startswith(".") or p.suffix.lower() not in IMAGE_TYPES:
        return False
    _check_link(p, root)
    return p.is_file()


def _check_link(p: Path, root: Path) -> None:
    try:
        os.stat(p)
    except OSError as e:
        if p.is_symlink():
            why = "it points back to itself (a loop)" if e.errno == errno.ELOOP else "that does not exist"
            raise FolderError(
                f"{relative(p, root)} is a symbolic link to {os.readlink(p)}, but {why}. Copy the real "
                "file or folder in its place, fix the link, or remove it."
            ) from None


def _others(folder: Path) -> str:
    """What else is in a folder, for messages: '3 .jpg files, 1 .bmp file'."""
    counts: dict[str, int] = {}
    for p in folder.iterdir():
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() not in IMAGE_TYPES:
            ext = p.suffix.lower() or "(no extension)"
            counts[ext] = counts.get(ext, 0) + 1
    return ", ".join(f"{n} {ext} file{'s' if n > 1 else ''}" for ext, n in sorted(counts.items()))


def _find_pairs(root: Path, layout: str) -> tuple[list[tuple[Path, Path]], str]:
    if not root.exists():
        link = f" ({root} is a symbolic link to {os.readlink(root)}, which leads nowhere)" if root.is_symlink() else ""
        raise FolderError(
            f"There is no folder {root}{link}. Check the path (it is relative to the notebook's folder, "
            f"{Path.cwd()}), or give an absolute path. {LAYOUTS}"
        )
    if not root.is_dir():
        raise FolderError(f"{root} is a file, not a folder: give the folder that holds the images and masks. {LAYOUTS}")
    for sub in ("images", *_MASK_FOLDERS):
        _check_link(root / sub, root)
    image_dir = root / "images"
    if layout == "subfolders" or (layout == "auto" and image_dir.is_dir()):
        return _find_subfolder_pairs(root, image_dir), "subfolders"
    return _find_suffix_pairs(root), "suffix"


def _stems(folder: Path, root: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        if _is_image_file(p, root):
            out.setdefault(p.stem, []).append(p)
    return out


def _one(paths: list[Path], root: Path, what: str) -> Path:
    if len(paths) > 1:
        raise FolderError(
            f"Two {what} files share a name: {', '.join(relative(p, root) for p in paths)}. "
            "Keep one (which one is meant cannot be guessed)."
        )
    return paths[0]


def _no_images(folder: Path, root: Path) -> FolderError:
    other = _others(folder)
    found = f" It holds {other}; save them as PNG or TIFF." if other else ""
    return FolderError(
        f"No PNG or TIFF images in {relative(folder, root) if folder != root else root}.{found} {LAYOUTS}"
    )


def _find_subfolder_pairs(root: Path, image_dir: Path) -> list[tuple[Path, Path]]:
    if not image_dir.is_dir():
        raise FolderError(f"{root} has no images/ folder (layout 'subfolders'). {LAYOUTS}")
    mask_dir = next((root / m for m in _MASK_FOLDERS if (root / m).is_dir()), None)
    if mask_dir is None:
        raise FolderError(
            f"{root} has an images/ folder but no masks/ (or labels/) folder beside it: put the "
            f"masks in {root / 'masks'}, one per image with the image's name. {LAYOUTS}"
        )
    images, masks = _stems(image_dir, root), _stems(mask_dir, root)
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
        shown = ", ".join(relative(p, root) for p in missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        ex = missing[0]
        raise FolderError(
            f"No mask for {shown}. Each image needs a mask with its name in {relative(mask_dir, root)}/, "
            f"e.g. {relative(mask_dir / ex.name, root)} (or {ex.stem}{_SUFFIX}.png, .tif)."
        )
    orphans = [p for stem, ps in masks.items() if stem not in used for p in ps]
    if orphans:
        shown = ", ".join(relative(p, root) for p in orphans[:5])
        raise FolderError(
            f"Mask(s) without an image: {shown}. Give each mask the name of its image in images/, "
            "or move the mask away."
        )
    return pairs


def _find_suffix_pairs(root: Path) -> list[tuple[Path, Path]]:
    files = _stems(root, root)
    masks = {s: p for s, p in files.items() if s.endswith(_SUFFIX)}
    images = {s: p for s, p in files.items() if not s.endswith(_SUFFIX)}
    if not images and not masks:
        raise _no_images(root, root)
    if not images:
        raise FolderError(
            f"{root} holds only masks ({', '.join(p[0].name for p in list(masks.values())[:3])}...): "
            f"put each image beside its mask as NAME.png for NAME{_SUFFIX}.png. {LAYOUTS}"
        )
    missing = [p[0] for s, p in images.items() if s + _SUFFIX not in masks]
    if missing and not masks:
        raise FolderError(
            f"Found {len(images)} image(s) in {root} but no masks: name each mask after its image "
            f"with {_SUFFIX} added, e.g. {missing[0].stem}{_SUFFIX}.png beside {missing[0].name}, or use "
            f"the subfolder layout (images/ and masks/). {LAYOUTS}"
        )
    if missing:
        shown = ", ".join(p.name for p in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise FolderError(
            f"No mask for {shown}: expected {missing[0].stem}{_SUFFIX}.png (or .tif) beside {missing[0].name}."
        )
    orphans = [p[0].name for s, p in masks.items() if s[: -len(_SUFFIX)] not in images]
    if orphans:
        raise FolderError(
            f"Mask(s) without an image: {', '.join(orphans[:5])}. The image for NAME{_SUFFIX}.png "
            "is NAME.png (or .tif) in the same folder."
        )
    return [(_one(p, root, "image"), _one(masks[s + _SUFFIX], root, "mask")) for s, p in images.items()]


# ----------------------------------------------------------------------------------
# reading one file
# ----------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------
# the loader
# ----------------------------------------------------------------------------------
def load_folder(
    path, *, mask_type: str = "auto", threshold=None, size=None, normalize: str = "auto", layout: str = "auto"
) -> FolderDataset:
    """Read a folder of image/mask pairs (PNG or TIFF) into a :class:`FolderDataset`.

    Args:
        path: the folder (see the module's docstring for the layouts).
        mask_type: ``"auto"`` (label images give their labels, binary masks their 4-connected
            regions), ``"labels"`` (every mask is a label image) or ``"binary"`` (every mask has 0
            and one other value); see "Masks" in the module's docstring.
        threshold: if given, every mask becomes ``mask > threshold`` and its connected regions the
            instances (for masks with in-between values, e.g. saved as JPEG or resized).
        size: ``None`` (all pairs must have one size), one whole number (a square) or
            ``(height, width)``: centre-crop every pair to it.
        normalize: ``"auto"`` (8-bit / 255, anything else stretched to [0, 1] per image) or
            ``"minmax"`` (every image stretched to [0, 1]).
        layout: ``"auto"`` (``images/`` present -> "subfolders", else "suffix"), ``"subfolders"``
            or ``"suffix"``.

    Files are checked against :data:`MAX_SIDE` and :data:`MAX_PIXELS` from their headers before
    any is decoded. Raises :class:`FolderError` (a ``ValueError``) naming the file and what would work.
    """
    normalize = choice(
        normalize,
        "normalize",
        {"auto": "8-bit / 255, others stretched to [0, 1]", "minmax": "every image stretched to [0, 1]"},
        error=FolderError,
    )
    layout = choice(layout, "layout", ("auto", "subfolders", "suffix"), error=FolderError)
    mask_type = choice(mask_type, "mask_type", MASK_TYPES, error=FolderError)
    if threshold is not None:
        threshold = real(threshold, "threshold", error=FolderError, hint="mask > threshold is foreground")
    crop = None if size is None else size_pair(size, "size", error=FolderError)
    root = Path(os.fspath(path)).expanduser()
    pairs, found = _find_pairs(root, layout)
    check_sizes(pairs, root)

    images, masks, instances, names = [], [], [], []
    for img_path, mask_path in pairs:
        img_pages, mask_pages = choose_reading(read_file(img_path, root, "image"), read_file(mask_path, root, "mask"))
        ri, rm = relative(img_path, root), relative(mask_path, root)
        if len(img_pages) != len(mask_pages):
            raise FolderError(
                f"{ri} has {len(img_pages)} page(s) but its mask {rm} has {len(mask_pages)}: a stack "
                "of images needs a stack of masks with one page per image."
            )
        for k, (ia, ma) in enumerate(zip(img_pages, mask_pages)):
            name = ri if len(img_pages) == 1 else f"{ri}[{k}]"
            mname = rm if len(mask_pages) == 1 else f"{rm}[{k}]"
            if ia.shape[:2] != ma.shape[:2]:
                raise FolderError(
                    f"{name} is {ia.shape[0]}x{ia.shape[1]} (height x width) but its mask {mname} is "
                    f"{ma.shape[0]}x{ma.shape[1]}: a mask must have its image's size, one value per "
                    "pixel. Resize the mask with nearest-neighbour interpolation, or re-export it."
                )
            if crop is not None:  # crop first: the objects are then those of the cropped mask, numbered 1..n
                h, w = ia.shape[:2]
                if h < crop[0] or w < crop[1]:
                    raise FolderError(
                        f"{name} is {h}x{w}, smaller than size={crop}: choose a size of at most {h}x{w} or remove it."
                    )
                box = center_crop_box((h, w), crop)
                ia, ma = (a[box.slices] for a in (ia, ma))  # the first two axes: (H, W) or (H, W, colour)
            image = to_image(ia, name, normalize)
            m, inst = to_mask(ma, mname, mask_type, threshold)
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
        raise FolderError(
            f"The images differ in size ({listed}). Stacked training data needs one size: pass "
            f"size=({h}, {w}) (or smaller) to centre-crop every pair to it, or resize the files."
        )
    opts = dict(mask_type=mask_type, threshold=threshold, size=crop, normalize=normalize)
    return FolderDataset(
        images=np.stack(images).astype(np.float32),
        instances=np.stack(instances).astype(np.int32),
        masks=np.stack(masks).astype(np.uint8),
        seed=0,
        options=opts,
        names=names,
        path=str(root),
        layout=found,
    )


# ----------------------------------------------------------------------------------
# saving
# ----------------------------------------------------------------------------------
def _existing(root: Path, layout: str) -> list[Path]:
    """The image files in ``root`` that :func:`load_folder` would read together with newly saved ones."""
    folders = [root / "images", root / "masks", root / "labels"] if layout == "subfolders" else [root]
    return sorted(
        p
        for d in folders
        if d.is_dir()
        for p in d.iterdir()
        if not p.name.startswith(".") and p.suffix.lower() in IMAGE_TYPES and (p.is_file() or p.is_symlink())
    )


def save_folder(dataset, path, layout: str = "subfolders", ext: str = ".png", *, overwrite: bool = False) -> Path:
    """Write a dataset as a folder :func:`load_folder` reads back: 8-bit grey images, and as masks the
    label images ``dataset.instances`` (16-bit; 0 = background, as segmentation tools save them) or,
    for a dataset without instances, ``dataset.masks`` as 0/255. Handy to see the expected layout.

    A folder that already holds images or masks is refused (loading it would mix the old samples
    with the new ones) unless ``overwrite=True``: then those image and mask files (PNG/TIFF in
    ``images/``, ``masks/`` and ``labels/``, or in the folder itself for the "suffix" layout) are
    deleted first; other files are left alone."""
    from PIL import Image

    layout = choice(layout, "layout", ("subfolders", "suffix"), error=FolderError)
    ext = choice(ext.lower() if isinstance(ext, str) else ext, "ext", IMAGE_TYPES, error=FolderError)
    overwrite = flag(overwrite, "overwrite", error=FolderError)
    root = Path(os.fspath(path)).expanduser()
    if root.exists() and not root.is_dir():
        raise FolderError(f"{root} is a file, not a folder: give a folder to save the images and masks in.")
    if layout == "suffix" and (root / "images").is_dir():
        raise FolderError(
            f"{root} has an images/ folder, which load_folder would read instead of the files saved "
            "beside it: save with layout='subfolders', or into another folder."
        )
    old = _existing(root, layout)
    if old and not overwrite:
        shown = ", ".join(relative(p, root) for p in old[:4]) + (f" and {len(old) - 4} more" if len(old) > 4 else "")
        raise FolderError(
            f"{root} already holds {len(old)} image/mask file(s) ({shown}): loading it after saving "
            f"{len(dataset.images)} sample(s) would mix the old ones in. Pass overwrite=True to replace "
            "them, or save into an empty folder."
        )
    for p in old:
        p.unlink()
    labels = getattr(dataset, "instances", None)
    if labels is not None and np.max(labels, initial=0) > 65535:
        raise FolderError("dataset.instances has labels above 65535, more than a 16-bit label image holds.")
    img_dir, mask_dir = (root / "images", root / "masks") if layout == "subfolders" else (root, root)
    img_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(dataset.images):
        stem = f"sample{i:03d}"
        img8 = np.clip(np.round(np.asarray(image) * 255), 0, 255).astype(np.uint8)
        if labels is not None:
            m = np.asarray(labels[i]).astype(np.uint16)
        else:
            m = (np.asarray(dataset.masks[i]) > 0).astype(np.uint8) * 255
        mask_name = f"{stem}{ext}" if layout == "subfolders" else f"{stem}{_SUFFIX}{ext}"
        if ext == ".png":
            Image.fromarray(img8).save(img_dir / f"{stem}{ext}")
            Image.fromarray(m).save(mask_dir / mask_name)
        else:
            import tifffile

            tifffile.imwrite(img_dir / f"{stem}{ext}", img8)
            tifffile.imwrite(mask_dir / mask_name, m)
    return root
