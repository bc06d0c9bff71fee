r"""Overlap-tile: segment an image of any size with the valid U-Net (the paper's Fig. 2).

The paper's network takes a 572x572 tile and returns a 388x388 segmentation map: every
output pixel needs the 92 pixels of context around it that the valid 3x3 convolutions eat
away. The paper turns this into a strength (Introduction, Sect. 1): "This strategy allows the
seamless segmentation of arbitrarily large images by an overlap-tile strategy ... To predict the
pixels in the border region of the image, the missing context is extrapolated by
mirroring the input image."

So, for an image larger than any tile:

1. mirror-pad the image by the *margin* ``m = (input - output) / 2`` on every side
   (92 px for the paper's net; computed here from :func:`unet_lesson.output_size`, mirrored with
   :func:`unet_lesson.core.ops.mirror_pad`);
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
``align=False`` steps by the full output tile (the paper never states a step; Fig. 2 shows
output tiles that abut).

For comparison, :func:`predict_naive_tiles` cuts an image into plain tiles and runs the
same-padding network (the notes' modern variant) on each: at every tile border the zero
padding invents a border that is not in the image, and the stitched map shows seams.

>>> plan = plan_tiles((512, 512), tile=572)
>>> plan.margin, plan.output, plan.grid
((92, 92), (388, 388), (2, 2))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..core.ops import mirror_pad
from ..core.options import UNetOptions, options_of
from ..core.parse import size_pair, whole
from ..core.shapes import InvalidInputSize, describe_nearest, is_valid_size, output_size
from .predict import as_image

__all__ = [
    "Box",
    "TooManyTiles",
    "Tile",
    "TilePlan",
    "NaiveTilePlan",
    "plan_tiles",
    "plan_naive_tiles",
    "margin_of",
    "predict_tiled",
    "predict_naive_tiles",
    "seam_mask",
    "seam_report",
    "seam_profile",
]


class TooManyTiles(ValueError):
    """A plan with more tiles than asked for (``max_tiles``); ``grid`` and ``max_tiles`` say how many."""

    def __init__(self, message: str, *, grid: tuple[int, int] = (0, 0), max_tiles: int = 0):
        super().__init__(message)
        self.grid, self.max_tiles = grid, max_tiles

    @property
    def n_tiles(self) -> int:
        return self.grid[0] * self.grid[1]


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


def margin_of(tile=572, options: UNetOptions | None = None, /, **unet_options) -> tuple[int, int]:
    """The overlap-tile margin ``(input - output) / 2`` per side, as (rows, columns).

    Computed from :func:`unet_lesson.output_size`: 92 for the paper's 572 -> 388 tile.
    """
    th, tw = size_pair(tile, "tile size")
    oh, ow = _check_tile(th, tw, options_of(options, **unet_options))
    return (th - oh) // 2, (tw - ow) // 2


def _check_tile(th: int, tw: int, o: UNetOptions) -> tuple[int, int]:
    """Output size of a tile, or InvalidInputSize phrased for tiles, with nearest valid tile sizes."""
    try:
        return output_size((th, tw), o)
    except InvalidInputSize as e:
        bad = th if th == tw or not is_valid_size(th, o) else tw
        reason = e.reason or "it is not a valid input size"
        which = "Tile size" if th == tw else ("Tile height" if bad == th else "Tile width")
        raise InvalidInputSize(
            f"{which} {bad} cannot be used: a tile must be a valid input of the network "
            f"({o.padding} padding, depth {o.depth}), and at {e.layer} {reason}. "
            f"Nearest valid tile sizes: {describe_nearest(e.below, e.above, o)}.",
            input_size=(th, tw),
            layer=e.layer,
            reason=e.reason,
            below=e.below,
            above=e.above,
        ) from None


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
    options: UNetOptions = field(default_factory=UNetOptions)
    align: bool = True

    @property
    def n_tiles(self) -> int:
        return len(self.tiles)

    @property
    def padded_shape(self) -> tuple[int, int]:
        t, b, lft, r = self.padding
        return self.image_shape[0] + t + b, self.image_shape[1] + lft + r

    @property
    def grid_step(self) -> int:
        """The network's pooling grid, 2**depth pixels: tile shifts that keep its output exact."""
        return self.options.grid

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
        return (
            f"image {H}x{W}: input tiles {tile} -> output tiles {out}, margin {m} px mirrored at the border, "
            f"step {step}, {r} x {c} = {self.n_tiles} tiles"
        )


@dataclass
class NaiveTilePlan:
    """Plain tiles for the same-padding network (no margin, no mirroring): see :func:`plan_naive_tiles`."""

    image_shape: tuple[int, int]
    tile: tuple[int, int]
    grid: tuple[int, int]
    tiles: list[Tile]
    options: UNetOptions = field(default_factory=UNetOptions)

    @property
    def n_tiles(self) -> int:
        return len(self.tiles)

    def __iter__(self) -> Iterator[Tile]:
        return iter(self.tiles)

    def __len__(self) -> int:
        return len(self.tiles)


def _axis_starts(n: int, step: int) -> list[int]:
    return list(range(0, n, step))


def plan_tiles(
    image_shape,
    tile=572,
    *,
    align: bool = True,
    max_tiles: int = 100_000,
    options: UNetOptions | None = None,
    **unet_options,
) -> TilePlan:
    """Plan overlap-tile for an image of ``image_shape`` (H, W) with input tiles of size ``tile``.

    Args:
        image_shape: (H, W) of the image (or an int for a square image; a (C, H, W) or
            (H, W) array's ``.shape`` works too: the last two numbers are used).
        tile: input tile size, an int or (h, w); it must be a valid input of the network.
        align: step the tiles by a multiple of the pooling grid 2**depth (exact stitching);
            ``False`` steps by the whole output tile, as in the paper's figure.
        max_tiles: refuse (with a message) plans with more tiles than this.
        options, **unet_options: the network's options (``model.options``, or keywords such as
            ``depth=3``), as for :class:`UNet`.

    Returns a :class:`TilePlan`: tile and output size, margin, step, grid and the tiles.
    Raises :class:`~unet_lesson.InvalidInputSize` for a tile that is not a valid input, naming
    the nearest valid tile sizes, and ``ValueError`` for a same-padding network (no margin).
    """
    H, W = _image_hw(image_shape)
    th, tw = size_pair(tile, "tile size")
    o = options_of(options, **unet_options)
    if o.padding != "valid":
        raise ValueError(
            "Overlap-tile is for the valid-padding network: with same padding the output is as large "
            "as the tile, the margin (input - output)/2 is 0 and there is nothing to overlap. Use "
            "plan_naive_tiles / predict_naive_tiles for the same-padding network, or padding='valid'."
        )
    oh, ow = _check_tile(th, tw, o)
    mh, mw = (th - oh) // 2, (tw - ow) // 2
    g = 2**o.depth
    if align:
        sh, sw = oh - oh % g, ow - ow % g
        if sh == 0 or sw == 0:
            small = th if sh == 0 else tw
            ok = next(
                t for t in range(small + 1, small + 64 * g) if not not is_valid_size(t, o) and output_size(t, o)[0] >= g
            )
            raise InvalidInputSize(
                f"Tile size {small} gives an output tile of {min(oh, ow)} px, smaller than the network's pooling grid "
                f"of {g} px (2^{o.depth} after {o.depth} max pools): aligned tiles could not move at all. "
                f"Use a tile of at least {ok} (output {output_size(ok, o)[0]}), or align=False.",
                input_size=(th, tw),
                reason="output smaller than the pooling grid",
                below=None,
                above=ok,
            )
    else:
        sh, sw = oh, ow
    if -(-H // sh) * -(-W // sw) > max_tiles:
        n_rows, n_cols = -(-H // sh), -(-W // sw)
        raise TooManyTiles(
            f"This plan would need {n_rows} x {n_cols} = {n_rows * n_cols:,} tiles, more than "
            f"max_tiles={max_tiles:,}: choose a larger tile (a step of {sh}x{sw} is small for a "
            f"{H}x{W} image) or raise max_tiles.",
            grid=(n_rows, n_cols),
            max_tiles=max_tiles,
        )
    rows, cols = _axis_starts(H, sh), _axis_starts(W, sw)
    tiles = []
    for i, y in enumerate(rows):
        for j, x in enumerate(cols):
            keep = Box(y, x, min(sh, H - y), min(sw, W - x))
            tiles.append(Tile(i, j, input=Box(y, x, th, tw), output=Box(y, x, oh, ow), keep=keep))
    # the padded image must hold every input tile: margin on top/left, as much as needed bottom/right
    bottom = rows[-1] + th - mh - H
    right = cols[-1] + tw - mw - W
    return TilePlan(
        (H, W), (th, tw), (oh, ow), (mh, mw), (sh, sw), (len(rows), len(cols)), tiles, (mh, bottom, mw, right), o, align
    )


def plan_naive_tiles(image_shape, tile=256, *, options: UNetOptions | None = None, **unet_options) -> NaiveTilePlan:
    """Plain, non-overlapping tiles of size ``tile`` for the same-padding network.

    Tiles step by ``tile``; where the image does not divide evenly, the last tile of a row
    (column) is moved back to end at the image border and only its new part is kept. The
    image must be at least one tile large.
    """
    H, W = _image_hw(image_shape)
    th, tw = size_pair(tile, "tile size")
    o = (
        options_of(options, **unet_options)
        if options is not None
        else options_of(**{"padding": "same", **unet_options})
    )
    if o.padding != "same":
        raise ValueError(
            "Naive tiling is shown with the same-padding network (output size = tile size). "
            "A valid-padding network's output is smaller than its tile, so plain tiles would leave "
            "gaps: use plan_tiles / predict_tiled (overlap-tile) for it."
        )
    _check_tile(th, tw, o)
    if th > H or tw > W:
        raise ValueError(
            f"The tile ({th}x{tw}) is larger than the image ({H}x{W}): run the network on the whole "
            f"image instead, or choose a tile of at most {H}x{W} that the network accepts."
        )

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
            tiles.append(
                Tile(
                    i, j, input=Box(y, x, th, tw), output=Box(y, x, th, tw), keep=Box(ky, kx, y + th - ky, x + tw - kx)
                )
            )
    return NaiveTilePlan((H, W), (th, tw), (len(rows), len(cols)), tiles, o)


def _image_hw(image_shape) -> tuple[int, int]:
    if isinstance(image_shape, (tuple, list)) or type(image_shape).__name__ == "Size":
        shape = tuple(image_shape)
        if len(shape) < 2:
            return size_pair(shape[0] if shape else image_shape, "image size")
        return size_pair(shape[-2:], "image size")
    return size_pair(image_shape, "image size")


# ----------------------------------------------------------------------------------
# prediction
# ----------------------------------------------------------------------------------
class _Runner:
    """Run a model on numpy tiles in eval mode, on the model's device and dtype, without grad."""

    def __init__(self, model):
        import torch

        self.torch = torch
        self.model = model
        p = next(model.parameters(), None)
        self.device = p.device if p is not None else torch.device("cpu")
        self.dtype = p.dtype if p is not None else torch.float32

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


def _run_tiles(model, padded: np.ndarray, tiles: list[Tile], out: np.ndarray, batch_size) -> None:
    batch_size = whole(batch_size, "batch_size (tiles per forward pass)", minimum=1)
    with _Runner(model) as run:
        for start in range(0, len(tiles), batch_size):
            chunk = tiles[start : start + batch_size]
            preds = run([padded[:, t.input.slices[0], t.input.slices[1]] for t in chunk])
            for t, p in zip(chunk, preds):
                k = t.keep
                dy, dx = k.top - t.output.top, k.left - t.output.left
                out[:, k.slices[0], k.slices[1]] = p[:, dy : dy + k.height, dx : dx + k.width]


def _model_options(model) -> UNetOptions:
    o = getattr(model, "options", None)
    if not isinstance(o, UNetOptions):
        raise TypeError("predict_* expects a unet_lesson.UNet (it reads the network's options: depth, padding, ...).")
    return o


def predict_tiled(model, image, tile_size=572, *, align: bool = True, batch_size: int = 4) -> np.ndarray:
    """Overlap-tile prediction with the valid network: mirror-pad, run every tile, stitch.

    Returns the network's output for the whole image, shape (num_classes, H, W), float32
    (the scores before softmax). With ``align=True`` it equals :func:`unet_lesson.seg.predict.predict_scores`.
    """
    o = _model_options(model)
    x = as_image(image, o.in_channels)
    plan = plan_tiles(x.shape[-2:], tile_size, align=align, options=o)
    t, b, lft, r = plan.padding
    padded = mirror_pad(x, t, b, lft, r)
    out = np.zeros((o.num_classes, *plan.image_shape), np.float32)
    _run_tiles(model, padded, plan.tiles, out, batch_size)
    return out


def predict_naive_tiles(model, image, tile_size=256, *, batch_size: int = 4) -> np.ndarray:
    """Naive tiling with the same-padding network: each tile predicted on its own, its borders
    zero-padded by the network as if the image ended there; outputs put side by side.

    Returns (num_classes, H, W) float32 scores.
    """
    o = _model_options(model)
    if o.padding != "same":
        raise ValueError(
            "predict_naive_tiles is for the same-padding network (output size = tile size); "
            "for the valid network use predict_tiled (overlap-tile)."
        )
    x = as_image(image, o.in_channels)
    plan = plan_naive_tiles(x.shape[-2:], tile_size, options=o)
    out = np.zeros((o.num_classes, *plan.image_shape), np.float32)
    _run_tiles(model, x, plan.tiles, out, batch_size)
    return out


# ----------------------------------------------------------------------------------
# comparing predictions
# ----------------------------------------------------------------------------------
def seam_mask(plan, width: int = 2) -> np.ndarray:
    """Boolean (H, W) map of the pixels within ``width`` px of a border between two kept tiles."""
    H, W = plan.image_shape
    m = np.zeros((H, W), bool)
    for t in plan.tiles:
        k = t.keep
        if k.top > 0:
            m[max(0, k.top - width) : k.top + width, k.left : k.right] = True
        if k.left > 0:
            m[k.top : k.bottom, max(0, k.left - width) : k.left + width] = True
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
            rows.append(
                {"band": band, "pixels": int(sel.sum()), "max": float(d[sel].max()), "mean": float(d[sel].mean())}
            )
    return rows
