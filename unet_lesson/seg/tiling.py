r"""Overlap-tile: segment an image of any size with the valid U-Net (the paper's Fig. 2).

The paper's network takes a 572x572 tile and returns a 388x388 segmentation map: every
output pixel needs the 92 pixels of context around it that the valid 3x3 convolutions eat
away. The paper turns this into a strength (Sect. 2): "This strategy allows the seamless
segmentation of arbitrarily large images by an overlap-tile strategy ... To predict the
pixels in the border region of the image, the missing context is extrapolated by
mirroring the input image."

So, for an image larger than any tile:

1. mirror-pad the image by the *margin* ``m = (input - output) / 2`` on every side
   (92 px for the paper's net; computed here from :func:`unet_lesson.output_size`);
2. cut the padded image into input tiles of a *valid* size ``T`` (e.g. 572) that overlap
   by ``2m``, so that their output tiles (``O = T - 2m``, e.g. 388) abut;
3. run the network on every tile and put the output tiles side by side.

Each output pixel then saw exactly the context it would have seen in one giant forward pass:
the stitched map equals the whole-image prediction, with no seams.

One detail the figure hides. After ``depth`` 2x2 max pools the network looks at its input on
a grid of ``2**depth`` pixels (16 for the paper's net). Shifting the input by a multiple of 16
shifts the output by the same amount, bit for bit; shifting it by 388 (= 24*16 + 4) moves the
pooling grid by 4 pixels, so the next tile's output is *almost* but not exactly what one big
pass would give. ``plan_tiles(..., align=True)`` (the default) therefore steps the tiles by
the largest multiple of ``2**depth`` that fits in the output tile (384 for 388) and keeps that
part of each output tile; the few extra rows agree with the next tile anyway.
``align=False`` steps by the full output tile, as drawn in the paper.

For comparison, :func:`predict_naive_tiles` cuts an image into plain tiles and runs the
same-padding network (the notes' modern variant) on each: at every tile border the zero
padding invents a border that is not in the image, and the stitched map shows seams.

>>> plan = plan_tiles((512, 512), tile=572)
>>> plan.margin, plan.output, plan.grid
((92, 92), (388, 388), (2, 2))
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..core.shapes import InvalidInputSize, check_input_size, nearest_valid_sizes, normalize_options

__all__ = [
    "Box",
    "TooManyTiles",
    "Tile",
    "TilePlan",
    "NaiveTilePlan",
    "plan_tiles",
    "plan_naive_tiles",
    "mirror_pad",
    "margin_of",
    "predict_tiled",
    "predict_naive_tiles",
    "predict_whole",
    "probabilities",
    "foreground",
    "seam_mask",
    "seam_report",
    "seam_profile",
    "plot_plan",
    "plot_seams",
    "plot_mirror",
]


class TooManyTiles(ValueError):
    """A plan with more tiles than asked for (``max_tiles``)."""


# ----------------------------------------------------------------------------------
# boxes and plans
# ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Box:
    """A rectangle of pixels: rows ``top .. top+height-1``, columns ``left .. left+width-1``."""

    top: int
    left: int
    height: int
    width: int

    @property
    def bottom(self) -> int:
        """One past the last row (like a Python slice end)."""
        return self.top + self.height

    @property
    def right(self) -> int:
        """One past the last column."""
        return self.left + self.width

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    @property
    def area(self) -> int:
        return self.height * self.width

    def shifted(self, dy: int, dx: int) -> "Box":
        return Box(self.top + dy, self.left + dx, self.height, self.width)


@dataclass(frozen=True)
class Tile:
    """One tile of a plan.

    ``input``: the input tile, in the coordinates of the (mirror-)padded image;
    ``output``: where the tile's whole output lands, in image coordinates (it may reach past
    the image's bottom/right edge, into the mirrored part);
    ``keep``: the part of the output that goes into the stitched map (image coordinates).
    The ``keep`` boxes of a plan partition the image exactly.
    """

    row: int
    col: int
    input: Box
    output: Box
    keep: Box


def _size_pair(value, name: str) -> tuple[int, int]:
    """A size given as one whole number or an (h, w) pair; a clear message otherwise."""
    if isinstance(value, (tuple, list)) or type(value).__name__ in ("Size", "ndarray"):
        vals = list(value)
        if len(vals) != 2:
            raise ValueError(f"The {name} is one number (a square) or (height, width); got {value!r}.")
    else:
        vals = [value, value]
    out = []
    for v in vals:
        if isinstance(v, bool) or isinstance(v, str):
            raise ValueError(f"The {name} must be a whole number of pixels, got {v!r}.")
        try:
            iv = int(v)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"The {name} must be a whole number of pixels, got {v!r}.") from None
        if iv != v:
            raise ValueError(f"The {name} must be a whole number of pixels, got {v!r} "
                             f"(for example {math.floor(v)} or {math.ceil(v)}).")
        if iv <= 0:
            raise ValueError(f"The {name} must be a positive number of pixels, got {iv}.")
        out.append(iv)
    return out[0], out[1]


def margin_of(tile=572, **unet_options) -> tuple[int, int]:
    """The overlap-tile margin ``(input - output) / 2`` per side, as (rows, columns).

    Computed from :func:`unet_lesson.output_size`: 92 for the paper's 572 -> 388 tile.
    """
    th, tw = _size_pair(tile, "tile size")
    oh, ow = _check_tile(th, tw, normalize_options(**unet_options))
    return (th - oh) // 2, (tw - ow) // 2


def _check_tile(th: int, tw: int, o: dict) -> tuple[int, int]:
    """Output size of a tile, or InvalidInputSize phrased for tiles, with nearest valid tile sizes."""
    try:
        return check_input_size((th, tw), **o)
    except InvalidInputSize as e:
        bad = th if th == tw or _invalid(th, o) else tw
        below, above = e.below, e.above
        near = _fmt_nearest(below, above, o)
        reason = e.reason or "it is not a valid input size"
        which = "Tile size" if th == tw else ("Tile height" if bad == th else "Tile width")
        raise InvalidInputSize(
            f"{which} {bad} cannot be used: a tile must be a valid input of the network "
            f"({o['padding']} padding, depth {o['depth']}), and at {e.layer} {reason}. "
            f"Nearest valid tile sizes: {near}.",
            input_size=(th, tw), layer=e.layer, reason=e.reason, below=below, above=above) from None


def _invalid(n: int, o: dict) -> bool:
    try:
        check_input_size(n, **o)
    except InvalidInputSize:
        return True
    return False


def _fmt_nearest(below, above, o) -> str:
    def f(m):
        return f"{m} (output {check_input_size(m, **o)[0]})"
    if below is not None and above is not None:
        return f"{f(below)} and {f(above)}"
    if above is not None:
        return f"none smaller; the smallest is {f(above)}"
    if below is not None:
        return f"{f(below)}"
    return "none found"


@dataclass
class TilePlan:
    """How overlap-tile covers an image: see :func:`plan_tiles`.

    Sizes are (rows, columns) pairs. ``padding`` is the mirror padding
    (top, bottom, left, right) that makes every input tile fall inside the padded image.
    """

    image_shape: tuple[int, int]
    tile: tuple[int, int]
    output: tuple[int, int]
    margin: tuple[int, int]
    stride: tuple[int, int]
    grid: tuple[int, int]
    tiles: list[Tile]
    padding: tuple[int, int, int, int]
    options: dict = field(default_factory=dict)
    align: bool = True

    @property
    def n_tiles(self) -> int:
        return len(self.tiles)

    @property
    def padded_shape(self) -> tuple[int, int]:
        t, b, l, r = self.padding
        return self.image_shape[0] + t + b, self.image_shape[1] + l + r

    @property
    def grid_step(self) -> int:
        """The network's pooling grid, 2**depth pixels: tile shifts that keep its output exact."""
        return 2 ** self.options.get("depth", 4)

    def __iter__(self) -> Iterator[Tile]:
        return iter(self.tiles)

    def __len__(self) -> int:
        return len(self.tiles)

    def summary(self) -> str:
        (H, W), (th, tw), (oh, ow) = self.image_shape, self.tile, self.output
        (mh, mw), (sh, sw), (r, c) = self.margin, self.stride, self.grid
        sq = th == tw and oh == ow and mh == mw and sh == sw
        tile = f"{th}" if sq else f"{th}x{tw}"
        out = f"{oh}" if sq else f"{oh}x{ow}"
        m = f"{mh}" if sq else f"{mh} (rows), {mw} (columns)"
        step = f"{sh}" if sq else f"{sh}x{sw}"
        return (f"image {H}x{W}: input tiles {tile} -> output tiles {out}, margin {m} px mirrored at the border, "
                f"step {step}, {r} x {c} = {self.n_tiles} tiles")

    def picture(self, image=None, highlight: int = 0):
        """The plan as a figure (see :func:`plot_plan`)."""
        return plot_plan(self, image=image, highlight=highlight)


@dataclass
class NaiveTilePlan:
    """Plain tiles for the same-padding network (no margin, no mirroring): see :func:`plan_naive_tiles`."""

    image_shape: tuple[int, int]
    tile: tuple[int, int]
    grid: tuple[int, int]
    tiles: list[Tile]
    options: dict = field(default_factory=dict)

    @property
    def n_tiles(self) -> int:
        return len(self.tiles)

    def __iter__(self) -> Iterator[Tile]:
        return iter(self.tiles)

    def __len__(self) -> int:
        return len(self.tiles)


def _axis_starts(n: int, step: int) -> list[int]:
    return list(range(0, n, step))


def plan_tiles(image_shape, tile=572, *, align: bool = True, max_tiles: int = 100_000,
               **unet_options) -> TilePlan:
    """Plan overlap-tile for an image of ``image_shape`` (H, W) with input tiles of size ``tile``.

    Args:
        image_shape: (H, W) of the image (or an int for a square image; a (C, H, W) or
            (H, W) array's ``.shape`` works too: the last two numbers are used).
        tile: input tile size, an int or (h, w); it must be a valid input of the network.
        align: step the tiles by a multiple of the pooling grid 2**depth (exact stitching);
            ``False`` steps by the whole output tile, as in the paper's figure.
        max_tiles: refuse (with a message) plans with more tiles than this.
        **unet_options: the network's options (``depth``, ``padding``, ...), as for :class:`UNet`.

    Returns a :class:`TilePlan`: tile and output size, margin, step, grid and the tiles.
    Raises :class:`~unet_lesson.InvalidInputSize` for a tile that is not a valid input, naming
    the nearest valid tile sizes, and ``ValueError`` for a same-padding network (no margin).
    """
    H, W = _image_hw(image_shape)
    th, tw = _size_pair(tile, "tile size")
    o = normalize_options(**unet_options)
    if o["padding"] != "valid":
        raise ValueError("Overlap-tile is for the valid-padding network: with same padding the output is as large "
                         "as the tile, the margin (input - output)/2 is 0 and there is nothing to overlap. Use "
                         "plan_naive_tiles / predict_naive_tiles for the same-padding network, or padding='valid'.")
    oh, ow = _check_tile(th, tw, o)
    mh, mw = (th - oh) // 2, (tw - ow) // 2
    g = 2 ** o["depth"]
    if align:
        sh, sw = oh - oh % g, ow - ow % g
        if sh == 0 or sw == 0:
            small = th if sh == 0 else tw
            ok = next(t for t in range(small + 1, small + 64 * g) if not _invalid(t, o)
                      and check_input_size(t, **o)[0] >= g)
            raise InvalidInputSize(
                f"Tile size {small} gives an output tile of {min(oh, ow)} px, smaller than the network's pooling grid "
                f"of {g} px (2^{o['depth']} after {o['depth']} max pools): aligned tiles could not move at all. "
                f"Use a tile of at least {ok} (output {check_input_size(ok, **o)[0]}), or align=False.",
                input_size=(th, tw), reason="output smaller than the pooling grid", below=None, above=ok)
    else:
        sh, sw = oh, ow
    if -(-H // sh) * -(-W // sw) > max_tiles:
        n_rows, n_cols = -(-H // sh), -(-W // sw)
        raise TooManyTiles(f"This plan would need {n_rows} x {n_cols} = {n_rows * n_cols:,} tiles, more than "
                           f"max_tiles={max_tiles:,}: choose a larger tile (a step of {sh}x{sw} is small for a "
                           f"{H}x{W} image) or raise max_tiles.")
    rows, cols = _axis_starts(H, sh), _axis_starts(W, sw)
    tiles = []
    for i, y in enumerate(rows):
        for j, x in enumerate(cols):
            keep = Box(y, x, min(sh, H - y), min(sw, W - x))
            tiles.append(Tile(i, j, input=Box(y, x, th, tw), output=Box(y, x, oh, ow), keep=keep))
    # the padded image must hold every input tile: margin on top/left, as much as needed bottom/right
    bottom = rows[-1] + th - mh - H
    right = cols[-1] + tw - mw - W
    return TilePlan((H, W), (th, tw), (oh, ow), (mh, mw), (sh, sw), (len(rows), len(cols)), tiles,
                    (mh, bottom, mw, right), o, align)


def plan_naive_tiles(image_shape, tile=256, **unet_options) -> NaiveTilePlan:
    """Plain, non-overlapping tiles of size ``tile`` for the same-padding network.

    Tiles step by ``tile``; where the image does not divide evenly, the last tile of a row
    (column) is moved back to end at the image border and only its new part is kept. The
    image must be at least one tile large.
    """
    H, W = _image_hw(image_shape)
    th, tw = _size_pair(tile, "tile size")
    o = normalize_options(**{"padding": "same", **unet_options})
    if o["padding"] != "same":
        raise ValueError("Naive tiling is shown with the same-padding network (output size = tile size). "
                         "A valid-padding network's output is smaller than its tile, so plain tiles would leave "
                         "gaps: use plan_tiles / predict_tiled (overlap-tile) for it.")
    _check_tile(th, tw, o)
    if th > H or tw > W:
        raise ValueError(f"The tile ({th}x{tw}) is larger than the image ({H}x{W}): run the network on the whole "
                         f"image instead, or choose a tile of at most {H}x{W} that the network accepts.")

    def starts(n, t):
        s = list(range(0, n - t + 1, t))
        if s[-1] + t < n:
            s.append(n - t)
        return s

    rows, cols = starts(H, th), starts(W, tw)
    tiles = []
    for i, y in enumerate(rows):
        for j, x in enumerate(cols):
            ky = rows[i - 1] + th if i > 0 else 0  # keep only what the previous tile did not cover
            kx = cols[j - 1] + tw if j > 0 else 0
            tiles.append(Tile(i, j, input=Box(y, x, th, tw), output=Box(y, x, th, tw),
                              keep=Box(ky, kx, y + th - ky, x + tw - kx)))
    return NaiveTilePlan((H, W), (th, tw), (len(rows), len(cols)), tiles, o)


def _image_hw(image_shape) -> tuple[int, int]:
    if isinstance(image_shape, (tuple, list)) or type(image_shape).__name__ == "Size":
        shape = tuple(image_shape)
        if len(shape) < 2:
            return _size_pair(shape[0] if shape else image_shape, "image size")
        return _size_pair(shape[-2:], "image size")
    return _size_pair(image_shape, "image size")


# ----------------------------------------------------------------------------------
# mirroring
# ----------------------------------------------------------------------------------
def _mirror_index(idx: np.ndarray, n: int) -> np.ndarray:
    """Index into an axis of length n for any integer position, mirroring at the edges
    (…, 2, 1, | 0, 1, 2, …, n-1, | n-2, n-3, …), repeated as often as needed."""
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * (n - 1)
    k = np.mod(idx, period)
    return np.where(k < n, k, period - k)


def mirror_pad(image, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """Mirror-pad the last two axes of ``image`` (the paper's "extrapolated by mirroring").

    The mirror does not repeat the edge pixel (numpy's ``mode="reflect"``), and a padding
    wider than the image keeps mirroring back and forth, so any margin works on any image.
    """
    a = np.asarray(image)
    if a.ndim < 2:
        raise ValueError(f"mirror_pad needs an image with at least 2 dimensions, got shape {a.shape}.")
    for name, v in (("top", top), ("bottom", bottom), ("left", left), ("right", right)):
        if int(v) != v or v < 0:
            raise ValueError(f"padding {name} must be a whole number >= 0, got {v!r}.")
    H, W = a.shape[-2:]
    rows = _mirror_index(np.arange(-top, H + bottom), H)
    cols = _mirror_index(np.arange(-left, W + right), W)
    return a[..., rows[:, None], cols[None, :]]


# ----------------------------------------------------------------------------------
# prediction
# ----------------------------------------------------------------------------------
def _as_chw(image, in_channels: int) -> np.ndarray:
    a = np.asarray(image.detach().cpu().numpy() if hasattr(image, "detach") else image, dtype=np.float32)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"An image is (H, W) or (C, H, W); got shape {a.shape}.")
    if a.shape[0] != in_channels:
        if a.shape[0] == 1:
            a = np.repeat(a, in_channels, axis=0)
        else:
            raise ValueError(f"The image has {a.shape[0]} channels but the network expects {in_channels}.")
    return a


class _Runner:
    """Run a model on numpy tiles in eval mode, on the model's device and dtype, without grad."""

    def __init__(self, model):
        import torch

        self.torch = torch
        self.model = model
        p = next(model.parameters(), None)
        self.device = p.device if p is not None else torch.device("cpu")
        self.dtype = p.dtype if p is not None else torch.float32
        self.options = getattr(model, "options", None) or normalize_options()

    def __enter__(self):
        self.was_training = self.model.training
        self.model.eval()
        self.grad = self.torch.no_grad()
        self.grad.__enter__()
        return self

    def __exit__(self, *exc):
        self.grad.__exit__(*exc)
        self.model.train(self.was_training)

    def __call__(self, batch: list[np.ndarray]) -> np.ndarray:
        x = self.torch.as_tensor(np.stack(batch)).to(self.device, self.dtype)
        return self.model(x).detach().cpu().numpy()


def _run_tiles(model, padded: np.ndarray, tiles: list[Tile], out: np.ndarray, batch_size: int,
               offset: tuple[int, int] = (0, 0)) -> None:
    with _Runner(model) as run:
        for start in range(0, len(tiles), batch_size):
            chunk = tiles[start:start + batch_size]
            preds = run([padded[:, t.input.slices[0], t.input.slices[1]] for t in chunk])
            for t, p in zip(chunk, preds):
                k = t.keep
                dy, dx = k.top - t.output.top, k.left - t.output.left
                out[:, k.slices[0], k.slices[1]] = p[:, dy:dy + k.height, dx:dx + k.width]


def _model_options(model) -> dict:
    o = getattr(model, "options", None)
    if o is None:
        raise TypeError("predict_* expects a unet_lesson.UNet (it reads the network's options: depth, padding, ...).")
    return o


def predict_tiled(model, image, tile_size=572, *, align: bool = True, batch_size: int = 4) -> np.ndarray:
    """Overlap-tile prediction with the valid network: mirror-pad, run every tile, stitch.

    Returns the network's output for the whole image, shape (num_classes, H, W), float32
    (the scores before softmax). With ``align=True`` it equals :func:`predict_whole`.
    """
    o = _model_options(model)
    x = _as_chw(image, o["in_channels"])
    plan = plan_tiles(x.shape[-2:], tile_size, align=align, **o)
    t, b, l, r = plan.padding
    padded = mirror_pad(x, t, b, l, r)
    out = np.zeros((o["num_classes"], *plan.image_shape), np.float32)
    _run_tiles(model, padded, plan.tiles, out, batch_size)
    return out


def predict_naive_tiles(model, image, tile_size=256, *, batch_size: int = 4) -> np.ndarray:
    """Naive tiling with the same-padding network: each tile predicted on its own, its borders
    zero-padded by the network as if the image ended there; outputs put side by side.

    Returns (num_classes, H, W) float32 scores.
    """
    o = _model_options(model)
    if o["padding"] != "same":
        raise ValueError("predict_naive_tiles is for the same-padding network (output size = tile size); "
                         "for the valid network use predict_tiled (overlap-tile).")
    x = _as_chw(image, o["in_channels"])
    plan = plan_naive_tiles(x.shape[-2:], tile_size, **o)
    out = np.zeros((o["num_classes"], *plan.image_shape), np.float32)
    _run_tiles(model, x, plan.tiles, out, batch_size)
    return out


def predict_whole(model, image) -> np.ndarray:
    """The whole image in one forward pass: the reference the tiled predictions are compared with.

    Valid network: mirror-pad by the margin on top/left, and on the bottom/right by the margin
    plus whatever makes the padded image a valid input; crop the output to the image.
    Same network: mirror-pad the bottom/right up to the next valid size (if needed), crop.
    Returns (num_classes, H, W) float32 scores.
    """
    o = _model_options(model)
    x = _as_chw(image, o["in_channels"])
    H, W = x.shape[-2:]
    if o["padding"] == "valid":
        m = margin_of(_smallest_valid(1, o), **o)[0]
    else:
        m = 0
    nh, nw = _smallest_valid(H + 2 * m, o), _smallest_valid(W + 2 * m, o)
    padded = mirror_pad(x, m, nh - H - m, m, nw - W - m)
    with _Runner(model) as run:
        pred = run([padded])[0]
    return np.ascontiguousarray(pred[:, :H, :W])


def _smallest_valid(n: int, o: dict) -> int:
    if not _invalid(n, o):
        return n
    return nearest_valid_sizes(n, **o)[1]


# ----------------------------------------------------------------------------------
# comparing predictions
# ----------------------------------------------------------------------------------
def probabilities(scores) -> np.ndarray:
    """Softmax over the class axis of (C, H, W) scores (a sigmoid for one class)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.shape[0] == 1:
        return (1 / (1 + np.exp(-s))).astype(np.float32)
    e = np.exp(s - s.max(axis=0, keepdims=True))
    return (e / e.sum(axis=0, keepdims=True)).astype(np.float32)


def foreground(scores) -> np.ndarray:
    """The foreground probability map (H, W): class 1 of the softmax (the only class for one)."""
    p = probabilities(scores)
    return p[min(1, p.shape[0] - 1)]


def seam_mask(plan, width: int = 2) -> np.ndarray:
    """Boolean (H, W) map of the pixels within ``width`` px of a border between two kept tiles."""
    H, W = plan.image_shape
    m = np.zeros((H, W), bool)
    for t in plan.tiles:
        k = t.keep
        if k.top > 0:
            m[max(0, k.top - width):k.top + width, k.left:k.right] = True
        if k.left > 0:
            m[k.top:k.bottom, max(0, k.left - width):k.left + width] = True
    return m


def seam_report(prediction, reference, plan, width: int = 2) -> dict:
    """Largest disagreement between two probability maps along tile borders and elsewhere.

    ``prediction`` and ``reference`` are (H, W) maps (e.g. :func:`foreground` of two
    predictions); returns ``{"seams": max |p - r| within width px of a tile border,
    "elsewhere": max |p - r| elsewhere, "mean_seams", "mean_elsewhere", "seam_pixels"}``.
    """
    p, r = np.asarray(prediction, np.float64), np.asarray(reference, np.float64)
    if p.shape != r.shape:
        raise ValueError(f"The two maps differ in shape: {p.shape} vs {r.shape}.")
    d = np.abs(p - r)
    s = seam_mask(plan, width)
    return {
        "seams": float(d[s].max()) if s.any() else 0.0,
        "elsewhere": float(d[~s].max()) if (~s).any() else 0.0,
        "mean_seams": float(d[s].mean()) if s.any() else 0.0,
        "mean_elsewhere": float(d[~s].mean()) if (~s).any() else 0.0,
        "seam_pixels": int(s.sum()),
    }


def seam_profile(prediction, reference, plan, edges=(0, 2, 4, 8, 16, 32)) -> list[dict]:
    """Largest and mean disagreement between two (H, W) maps by distance to the nearest tile border.

    Returns one row per band ``edges[i] <= distance < edges[i+1]`` (the last band is open):
    ``{"band": "0-2 px", "pixels": n, "max": ..., "mean": ...}``. Pixels on either side of a
    border have distance 0. Bands without pixels are left out.
    """
    from scipy import ndimage as ndi

    p, r = np.asarray(prediction, np.float64), np.asarray(reference, np.float64)
    if p.shape != r.shape:
        raise ValueError(f"The two maps differ in shape: {p.shape} vs {r.shape}.")
    border = seam_mask(plan, width=1)
    dist = ndi.distance_transform_edt(~border) if border.any() else np.full(p.shape, np.inf)
    d = np.abs(p - r)
    rows = []
    bounds = list(edges) + [np.inf]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        sel = (dist >= lo) & (dist < hi)
        if sel.any():
            band = f"{lo}-{hi} px" if np.isfinite(hi) else f">= {lo} px"
            rows.append({"band": band, "pixels": int(sel.sum()), "max": float(d[sel].max()),
                         "mean": float(d[sel].mean())})
    return rows


# ----------------------------------------------------------------------------------
# pictures
# ----------------------------------------------------------------------------------
_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def plot_plan(plan: TilePlan, image=None, highlight: int = 0, size: float = 3.4):
    """Two panels. Left, as in the paper's Fig. 2: the mirror-padded image (hatched: mirrored),
    one input tile (blue) with the output block it predicts (yellow), and its neighbour (green)
    whose input overlaps it while the outputs abut; every other input tile in faint dashes.
    Right: the output blocks of all tiles abutting, partitioning the image exactly."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    H, W = plan.image_shape
    t, b, l, r = plan.padding
    PH, PW = plan.padded_shape
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(2 * size + 0.4, size * PH / PW + 0.9))
    img = None
    if image is not None:
        img = np.asarray(image, np.float32)
        img = img if img.ndim == 2 else img[0]
        ax1.imshow(mirror_pad(img, t, b, l, r), cmap="gray", extent=(-l, W + r, H + b, -t), alpha=0.6)
        ax2.imshow(img, cmap="gray", extent=(0, W, H, 0), alpha=0.6)
    # left: the padded canvas (hatched where mirrored), the image outline, input tiles
    ax1.add_patch(Rectangle((-l, -t), PW, PH, fill=False, edgecolor="#9e9e9e", lw=0.5))
    for x, y, w, h in ((-l, -t, PW, t), (-l, H, PW, b), (-l, 0, l, H), (W, 0, r, H)):  # the mirrored border
        if w > 0 and h > 0:
            ax1.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor="#9e9e9e", hatch="////", lw=0))
    ax1.add_patch(Rectangle((0, 0), W, H, facecolor="white" if img is None else "none", edgecolor="black",
                            lw=1.5, zorder=2))
    for tile in plan.tiles:
        box = tile.input.shifted(-t, -l)
        ax1.add_patch(Rectangle((box.left, box.top), box.width, box.height, fill=False, edgecolor="#757575",
                                lw=0.6, ls=(0, (3, 3)), alpha=0.6, zorder=3))
    k = highlight % plan.n_tiles
    first = plan.tiles[k]
    neighbour = next((u for u in plan.tiles if u.row == first.row and u.col == first.col + 1), None) or \
        next((u for u in plan.tiles if u.col == first.col and u.row == first.row + 1), None)
    pairs = [(first, "#1565c0", "#ffd54f")] + ([(neighbour, "#2e7d32", "#a5d6a7")] if neighbour else [])
    for tile, edge, fill in pairs:
        ib, kb = tile.input.shifted(-t, -l), tile.keep
        ax1.add_patch(Rectangle((kb.left, kb.top), kb.width, kb.height, facecolor=fill, alpha=0.75,
                                edgecolor=edge, lw=0.8, zorder=4))
        ax1.add_patch(Rectangle((ib.left, ib.top), ib.width, ib.height, fill=False, edgecolor=edge, lw=2.0,
                                zorder=5))
    mh, mw = plan.margin
    ib, ob = first.input.shifted(-t, -l), first.output
    y = ob.top + min(ob.height, H) / 2
    ax1.annotate("", xy=(ob.left, y), xytext=(ib.left, y), arrowprops=dict(arrowstyle="<->", color="#0d47a1", lw=1.3),
                 zorder=6)
    ax1.text(ib.left + mw / 2, y - 0.02 * PH, f"margin {mw}", color="#0d47a1", fontsize=7, ha="left",
             va="bottom", fontweight="bold", zorder=6)
    title = (f"input tiles {plan.tile[0]}x{plan.tile[1]} overlap (mirrored border hatched);\n"
             f"blue/green: two input tiles, filled: the output blocks they predict")
    ax1.set_title(title, fontsize=8)
    # right: kept output blocks abutting
    for k2, tile in enumerate(plan.tiles):
        kb = tile.keep
        c = _COLOURS[k2 % len(_COLOURS)]
        ax2.add_patch(Rectangle((kb.left, kb.top), kb.width, kb.height, facecolor=c,
                                alpha=0.35 if img is None else 0.25, edgecolor=c, lw=1.2))
        if plan.n_tiles <= 48:
            ax2.text(kb.left + kb.width / 2, kb.top + kb.height / 2, str(k2 + 1), ha="center", va="center",
                     fontsize=7, color="black")
    ax2.add_patch(Rectangle((0, 0), W, H, fill=False, edgecolor="black", lw=1.5))
    step = plan.stride[0] if plan.stride[0] == plan.stride[1] else f"{plan.stride[0]}x{plan.stride[1]}"
    ax2.set_title(f"output blocks abut: {plan.grid[0]} x {plan.grid[1]} = {plan.n_tiles} tiles,\n"
                  f"step {step}, image {H}x{W}", fontsize=8)
    pad_y, pad_x = 0.03 * PH, 0.03 * PW
    for ax in (ax1, ax2):
        ax.set_xlim(-l - pad_x, W + r + pad_x)
        ax.set_ylim(H + b + pad_y, -t - pad_y)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def plot_seams(image, whole, naive, tiled, naive_plan, tiled_plan=None, size: float = 2.4):
    """Four panels: the image; naive tiles of the same network; where they disagree with the
    whole-image prediction (tile borders drawn); and the same for overlap-tile (valid network).

    ``whole``, ``naive``, ``tiled`` are foreground maps (H, W); ``whole`` may be a pair
    (whole-image map of the same net, whole-image map of the valid net).
    """
    import matplotlib.pyplot as plt

    whole_same, whole_valid = whole if isinstance(whole, (tuple, list)) else (whole, whole)
    d_naive = np.abs(np.asarray(naive) - whole_same)
    d_tiled = np.abs(np.asarray(tiled) - whole_valid)
    vmax = max(float(d_naive.max()), 1e-6)
    H, W = np.asarray(naive).shape
    fig, axes = plt.subplots(1, 4, figsize=(4 * size, size * H / W + 0.7))
    axes[0].imshow(np.asarray(image).reshape(H, W) if np.asarray(image).ndim == 2 else np.asarray(image)[0],
                   cmap="gray")
    axes[0].set_title("image", fontsize=8)
    lo, hi = float(np.min(naive)), float(np.max(naive))
    axes[1].imshow(naive, cmap="magma", vmin=lo, vmax=max(hi, lo + 1e-6))
    axes[1].set_title(f"naive tiles (same net): foreground\nprobability, {lo:.2f} (dark) to {hi:.2f}", fontsize=8)
    axes[2].imshow(d_naive, cmap="Reds", vmin=0, vmax=vmax)
    axes[2].set_title(f"|naive - whole image|\nmax {d_naive.max():.3g}", fontsize=8)
    axes[3].imshow(d_tiled, cmap="Reds", vmin=0, vmax=vmax)
    axes[3].set_title(f"|overlap-tile - whole image|\nmax {d_tiled.max():.3g} (valid net)", fontsize=8)
    for ax, plan in ((axes[1], naive_plan), (axes[2], naive_plan), (axes[3], tiled_plan)):
        if plan is None:
            continue
        for t in plan.tiles:
            k = t.keep
            ax.add_patch(plt.Rectangle((k.left - 0.5, k.top - 0.5), k.width, k.height, fill=False,
                                       edgecolor="#1e88e5", lw=0.6, ls=":"))
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_mirror(image, margin: int, size: float = 3.0):
    """The image with its mirrored border of ``margin`` px (the paper: "missing input data is
    extrapolated by mirroring"); the original image is outlined."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    img = np.asarray(image, np.float32)
    img = img if img.ndim == 2 else img[0]
    H, W = img.shape
    padded = mirror_pad(img, margin, margin, margin, margin)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(2 * size, size * (H + 2 * margin) / (W + 2 * margin) + 0.5),
                                 gridspec_kw=dict(width_ratios=[W, W + 2 * margin]))
    a1.imshow(img, cmap="gray", vmin=0, vmax=1)
    a1.set_title(f"image {H}x{W}", fontsize=8)
    a2.imshow(padded, cmap="gray", vmin=0, vmax=1, extent=(-margin - 0.5, W + margin - 0.5, H + margin - 0.5,
                                                           -margin - 0.5))
    a2.add_patch(Rectangle((-0.5, -0.5), W, H, fill=False, edgecolor="#ffd54f", lw=1.5))
    a2.set_title(f"mirrored by the margin, {margin} px per side: {H + 2 * margin}x{W + 2 * margin}", fontsize=8)
    for a in (a1, a2):
        a.axis("off")
    fig.tight_layout()
    return fig
