"""Microscopy-like training data, generated on the spot (nothing is downloaded).

The paper trained on 30 electron-microscopy slices and on light-microscopy cell images
(PhC-U373, DIC-HeLa) where cells *touch* and the network has to draw the thin border
between them. This module makes pictures of that kind, deterministically from a seed:

* cells: blobby, slightly elongated shapes that are packed so that many touch;
* texture inside each cell, a brighter centre, a faint darker membrane where two cells meet;
* uneven illumination (a smooth light field and a background haze), so one global
  threshold cannot separate cells from background everywhere;
* blur (the optics) and noise (the camera).

Each picture comes with an *instance mask* (0 = background, 1..n = one label per cell;
touching cells are separated by a one-pixel background line, as in the paper's data) and
the *binary mask* (1 = cell, 0 = background) the network learns to predict.

>>> from unet_lesson.seg.data import sample_image, make_sample
>>> img = sample_image(size=128, seed=0)          # 2-D float32 in [0, 1]
>>> s = make_sample(size=(96, 128), seed=3)       # s.image, s.instances, s.mask
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import ndimage as ndi

from ..core.parse import size_pair, whole

__all__ = [
    "Sample",
    "Dataset",
    "make_sample",
    "lesson_sample",
    "sample_image",
    "make_dataset",
    "DEFAULTS",
    "MAX_PIXELS",
]

#: the largest picture the generator makes (it draws every cell in numpy: about a second for 2048x2048)
MAX_PIXELS = 2048 * 2048

#: The generator's default knobs (the lesson's data). Tuned together with the lesson's model:
#: a global Otsu threshold stays well below Dice 0.85 while a small U-Net passes 0.95.
DEFAULTS = dict(
    cell_radius=(7.0, 13.0),  # px, radius range of one cell
    density=0.9,  # cells placed per cell-area of image (before rejection)
    illumination=0.8,  # depth of the light field: 0 = even, 1 = corners go dark
    haze=0.25,  # additive background glow (max), uneven as well
    noise=0.04,  # std of the camera noise (image units, after illumination)
    blur=0.7,  # Gaussian blur sigma of the optics, px
    contrast=(0.3, 0.9),  # per-cell brightness range (before illumination)
)


@dataclass
class Sample:
    """One generated picture: ``image`` (H, W) float32 in [0, 1], ``instances`` (H, W) int32
    (0 = background, 1..n = cells), ``mask`` (H, W) uint8 (1 = cell)."""

    image: np.ndarray
    instances: np.ndarray
    mask: np.ndarray
    seed: object = None

    @property
    def n_cells(self) -> int:
        return int(self.instances.max())


@dataclass
class Dataset:
    """A stack of samples: ``images`` (N, H, W) float32, ``instances`` (N, H, W) int32,
    ``masks`` (N, H, W) uint8."""

    images: np.ndarray
    instances: np.ndarray
    masks: np.ndarray
    seed: int = 0
    options: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i) -> Sample:
        return Sample(self.images[i], self.instances[i], self.masks[i], seed=(self.seed, i))


def _as_hw(size) -> tuple[int, int]:
    h, w = size_pair(size, "size", unit="pixels")
    if h < 8 or w < 8 or h * w > MAX_PIXELS:
        raise ValueError(
            f"size {h}x{w} does not make a picture of cells here: use at least 8x8 pixels (cells are "
            f"about 14-26 px across, so 64 or more shows several of them) and at most "
            f"{MAX_PIXELS:,} pixels in all (e.g. 2048x2048)."
        )
    return h, w


def _smooth_field(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """A smooth random field in [0, 1]: a sum of four plane waves of wavelength about 2 * ``scale`` px."""
    yy = np.arange(h, dtype=np.float64)[:, None]
    xx = np.arange(w, dtype=np.float64)[None, :]
    f = np.zeros((h, w))
    for _ in range(4):
        angle, phase = rng.uniform(0, 2 * np.pi, 2)
        k = 2 * np.pi / (scale * rng.uniform(1.5, 3.0))
        f += rng.uniform(0.5, 1.0) * np.cos(k * (np.cos(angle) * yy + np.sin(angle) * xx) + phase)
    f -= f.min()
    return f / (f.max() + 1e-8)


def _place_cells(rng, h, w, r_lo, r_hi, density):
    """Centres and radii, dart-throwing with a *loose* minimum distance so that cells touch."""
    mean_area = np.pi * ((r_lo + r_hi) / 2) ** 2
    n_try = int(np.ceil(density * h * w / mean_area)) * 3 + 4
    target = density * h * w / mean_area
    # all candidates at once (same random stream whatever the acceptance), then a greedy pass
    rs = rng.uniform(r_lo, r_hi, n_try)
    cs = rng.uniform(0, 1, (n_try, 2)) * (np.array([h, w]) + 0.6 * rs[:, None]) - 0.3 * rs[:, None]
    centres = np.empty((0, 2))
    radii = np.empty(0)
    for c, r in zip(cs, rs):
        # 0.8 of the radii sum: neighbours overlap a little and are split between them, i.e. they touch
        if radii.size and np.any(np.hypot(*(centres - c).T) < 0.8 * (r + radii)):
            continue
        centres = np.vstack([centres, c])
        radii = np.append(radii, r)
        if radii.size >= target:
            break
    return centres, radii


def make_sample(size=128, seed=0, **options) -> Sample:
    """Generate one picture of cells and its masks.

    Args:
        size: int (square) or (H, W).
        seed: int or sequence of ints; the same seed gives the same picture.
        **options: override :data:`DEFAULTS` (``cell_radius``, ``density``, ``illumination``,
            ``haze``, ``noise``, ``blur``, ``contrast``).
    """
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}; the generator knows {sorted(DEFAULTS)}")
    o = {**DEFAULTS, **options}
    h, w = _as_hw(size)
    rng = np.random.default_rng(seed)
    r_lo, r_hi = o["cell_radius"]

    # 1. cell shapes: each pixel goes to the cell whose (deformed) normalised distance is smallest,
    #    so overlapping neighbours are split along a line: they touch.
    centres, radii = _place_cells(rng, h, w, r_lo, r_hi, o["density"])
    best = np.full((h, w), np.inf)
    label = np.zeros((h, w), np.int32)
    radial = np.zeros((h, w))  # normalised distance to the own cell's centre (0 centre .. 1 rim)
    for i, (c, r) in enumerate(zip(centres, radii), start=1):
        ext = int(np.ceil(1.4 * r)) + 1
        y0, y1 = max(0, int(c[0]) - ext), min(h, int(c[0]) + ext + 1)
        x0, x1 = max(0, int(c[1]) - ext), min(w, int(c[1]) + ext + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        dy, dx = yy - c[0], xx - c[1]
        phi = rng.uniform(0, np.pi)
        elong = rng.uniform(1.0, 1.45)  # ellipse axis ratio
        u = (dy * np.cos(phi) + dx * np.sin(phi)) / np.sqrt(elong)
        v = (-dy * np.sin(phi) + dx * np.cos(phi)) * np.sqrt(elong)
        theta = np.arctan2(v, u)
        a2, a3 = rng.uniform(0, 0.08), rng.uniform(0, 0.06)
        p2, p3 = rng.uniform(0, 2 * np.pi, 2)
        wobble = 1 + a2 * np.cos(2 * theta + p2) + a3 * np.cos(3 * theta + p3)
        nd = np.hypot(u, v) / (r * wobble)
        win = nd < best[y0:y1, x0:x1]
        inside = win & (nd < 1.0)
        best[y0:y1, x0:x1][win] = nd[win]
        sub_label = label[y0:y1, x0:x1]
        sub_label[win] = 0
        sub_label[inside] = i
        radial[y0:y1, x0:x1][win] = nd[win]

    # 2. separate touching cells by a one-pixel background line (as in the paper's masks)
    fg = label > 0
    border = np.zeros_like(fg)
    for axis in (0, 1):
        a = label
        b = np.roll(label, -1, axis=axis)
        diff = (a != b) & (a > 0) & (b > 0)
        if axis == 0:
            diff[-1, :] = False
        else:
            diff[:, -1] = False
        border |= diff
    label[border] = 0
    # relabel 1..n (cells that fell outside or vanished are dropped); drop specks < 12 px
    sizes = np.bincount(label.ravel())
    keep = np.nonzero(sizes >= 12)[0]
    keep = keep[keep > 0]
    lut = np.zeros(sizes.size, np.int32)
    lut[keep] = np.arange(1, keep.size + 1)
    instances = lut[label]
    mask = (instances > 0).astype(np.uint8)

    # 3. the picture: per-cell brightness, brighter centre, texture; dark membrane between neighbours
    lo, hi = o["contrast"]
    bright = np.concatenate([[0.0], rng.uniform(lo, hi, keep.size)])
    texture = ndi.gaussian_filter(rng.standard_normal((h, w)), 1.5)
    texture /= texture.std() + 1e-8
    cell = bright[instances] * (0.8 + 0.25 * (1 - np.clip(radial, 0, 1) ** 2)) * (1 + 0.12 * texture)
    img = np.where(instances > 0, cell, 0.0)
    img[border] = 0.35 * ndi.uniform_filter(img, 3)[border]  # the membrane: darker, not black
    img = ndi.gaussian_filter(img, o["blur"]) if o["blur"] > 0 else img

    # 4. uneven illumination: a smooth light field (multiplicative) and a background haze (additive)
    light = 1.0 - o["illumination"] * _smooth_field(rng, h, w, scale=max(h, w) / 1.5)
    haze = o["haze"] * _smooth_field(rng, h, w, scale=max(h, w) / 2.0)
    img = img * light + haze + 0.05
    img = img + o["noise"] * rng.standard_normal((h, w))
    image = np.clip(img, 0.0, 1.0).astype(np.float32)
    return Sample(image=image, instances=instances.astype(np.int32), mask=mask, seed=seed)


@lru_cache(maxsize=32)
def _cached_sample(h: int, w: int, seed: int) -> Sample:
    s = make_sample(size=(h, w), seed=seed)
    for a in (s.image, s.instances, s.mask):
        a.setflags(write=False)  # shared between callers: nobody may change it
    return s


def lesson_sample(size=128, seed: int = 0) -> Sample:
    """The course's sample picture of cells at ``size`` (int or (H, W)) and ``seed``, with its masks.

    Cached and read-only: every lesson and widget that shows "the sample image" calls this, so a
    control change redraws without generating the picture again (copy an array to change it)."""
    h, w = _as_hw(size)
    return _cached_sample(h, w, whole(seed, "seed"))


def sample_image(size=128, seed: int = 0) -> np.ndarray:
    """A microscopy-like picture of cells: 2-D float32 array in [0, 1] (``size``: int or (H, W)); read-only."""
    return lesson_sample(size, seed).image


def make_dataset(n: int, size=128, seed: int = 0, **options) -> Dataset:
    """``n`` samples; sample ``i`` uses the seed ``(seed, i)``, so sets with different ``seed``
    never share a picture (use e.g. ``seed=0`` to train and ``seed=1`` for the held-out set)."""
    n = whole(n, "n (the number of samples)", minimum=1, maximum=10_000)
    samples = [make_sample(size=size, seed=(seed, i), **options) for i in range(n)]
    return Dataset(
        images=np.stack([s.image for s in samples]),
        instances=np.stack([s.instances for s in samples]),
        masks=np.stack([s.mask for s in samples]),
        seed=seed,
        options=dict(options),
    )
