r"""Overlap-tile: segment an image of any size with the valid U-Net (the paper's Fig. 2).

Fig. 1's example tile is 572x572 in, 388x388 out: every output pixel needs the 92 pixels of
context around it that the valid 3x3 convolutions eat away. The paper's Introduction (Sect. 1)
makes this the point of valid convolutions: "... the segmentation map only contains the pixels,
for which the full context is available in the input image. This strategy allows the seamless
segmentation of arbitrarily large images by an overlap-tile strategy (see Figure 2). To predict
the pixels in the border region of the image, the missing context is extrapolated by mirroring
the input image." (Fig. 2's caption: "Missing input data is extrapolated by mirroring".)

So, for an image larger than any tile:

1. mirror-pad the image by the *margin* ``m = (input - output) / 2`` on every side
   (92 px for the paper's net; computed here from :func:`unet_lesson.output_size`, mirrored with
   :func:`unet_lesson.core.ops.mirror_pad`);
2. cut the padded image into input tiles of a *valid* size ``T`` (e.g. 572) that overlap
   by at least ``2m``, so that their output tiles (``O = T - 2m``, e.g. 388) abut;
3. run the network on every tile and put the output tiles side by side.

The step between tiles. The paper states none: Fig. 2 shows one output area and its input area,
and "output tiles that abut" reads as a step of the whole output tile (388). The course's own
analysis (not the paper's): after ``depth`` 2x2 max pools the network sees its input on a grid of
``2**depth`` pixels (16 for the paper's net). Shifting the input by a multiple of 16 shifts the
output by the same amount, to float rounding; shifting it by 388 (= 24*16 + 4) moves every pooling
window by 4 pixels, and the output can change clearly (:func:`shift_differences` measures it).
``plan_tiles(..., align=True)`` (the default) therefore steps the tiles by the largest multiple of
``2**depth`` that fits in the output tile (384 for 388) and keeps that part of each output tile:
the stitched map then equals the whole-image prediction. ``align=False`` steps by the full
output tile.

For comparison, :func:`predict_naive_tiles` cuts an image into plain tiles and runs the
same-padding network (the notes' modern variant) on each: at every tile border the zero
padding invents a border that is not in the image, and the stitched map shows seams
(:mod:`unet_lesson.seg.seams` measures them).

>>> plan = plan_tiles((512, 512), tile=572)
>>> plan.margin, plan.output, plan.grid
((92, 92), (388, 388), (2, 2))
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..core.env import cpu_threads
from ..core.ops import mirror_pad
from ..core.options import UNetOptions, options_of
from ..core.parse import flag, size_pair, whole
from ..core.search import input_size_for
from ..core.shapes import InvalidInputSize, describe_nearest, is_valid_size, output_size
from .predict import as_image, foreground

__all__ = [
    *("Box", "Tile", "TilePlan", "NaiveTilePlan", "TooManyTiles", "MAX_TILES", "MAX_TILE_PIXELS"),
    *("plan_tiles", "plan_naive_tiles", "margin_of", "predict_tiled", "predict_naive_tiles", "shift_differences"),
]

#: the most tiles a plan holds unless asked for more (10,000 tiles are planned in well under a second)
MAX_TILES = 10_000
#: the largest tile the prediction functions run (2048x2048; Fig. 1's example tile is 572x572)
MAX_TILE_PIXELS = 2048 * 2048


class TooManyTiles(ValueError):
    """A plan with more tiles than asked for (``max_tiles``); ``grid`` and ``max_tiles`` say how many."""

    def __init__(self, message: str, *, grid: tuple[int, int] = (0, 0), max_tiles: int = 0):
        super().__init__(message)
        self.grid, self.max_tiles = grid, max_tiles

    @property
    def n_tiles(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def in_words(self) -> str:
        """``"3 x 4 = 12"``, readable even for an absurd plan (``"1.0e+200 x 2 = 2.0e+200"``)."""
        return _grid_words(*self.grid)


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
    max_tiles: int = MAX_TILES,
    options: UNetOptions | None = None,
    **unet_options,
) -> TilePlan:
    """Plan overlap-tile for an image of ``image_shape`` (H, W) with input tiles of size ``tile``.

    Args:
        image_shape: (H, W) of the image (or an int for a square image; a (C, H, W) or
            (H, W) array's ``.shape`` works too: the last two numbers are used).
        tile: input tile size, an int or (h, w); it must be a valid input of the network.
        align: step the tiles by a multiple of the pooling grid 2**depth (exact stitching);
            ``False`` steps by the whole output tile (the paper states no step; Fig. 2's output
            tiles abut).
        max_tiles: refuse plans with more tiles than this (:class:`TooManyTiles`, a ``ValueError``
            naming the grid); the default keeps planning well under a second.
        options, **unet_options: the network's options (``model.options``, or keywords such as
            ``depth=3``), as for :class:`UNet`.

    Returns a :class:`TilePlan`: tile and output size, margin, step, grid and the tiles.
    Raises :class:`~unet_lesson.InvalidInputSize` for a tile that is not a valid input, naming
    the nearest valid tile sizes, and ``ValueError`` for a same-padding network (no margin).
    """
    H, W = _image_hw(image_shape)
    th, tw = size_pair(tile, "tile size")
    align = flag(align, "align")
    max_tiles = whole(max_tiles, "max_tiles", minimum=1)
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
            ok = input_size_for(g, o)  # the smallest tile whose output covers one grid step
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
    _refuse_too_many(-(-H // sh), -(-W // sw), max_tiles, f"the step is {sh}x{sw} px")
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


def _refuse_too_many(n_rows: int, n_cols: int, max_tiles: int, why: str) -> None:
    if n_rows * n_cols > max_tiles:
        raise TooManyTiles(
            f"This plan would need {_grid_words(n_rows, n_cols)} tiles, more "
            f"than max_tiles={max_tiles:,}: choose a larger tile ({why}) or raise max_tiles.",
            grid=(n_rows, n_cols),
            max_tiles=max_tiles,
        )


def _grid_words(n_rows: int, n_cols: int) -> str:
    """``"3 x 4 = 12"``, readable even for an absurd count (``"2.6e+20 x 2 = 5.2e+20"``)."""

    def count(n):
        return f"{n:,}" if n < 10**12 else f"{float(n):.1e}" if n < 10**300 else "more than 10^300"

    return f"{count(n_rows)} x {count(n_cols)} = {count(n_rows * n_cols)}"


def plan_naive_tiles(
    image_shape, tile=256, *, max_tiles: int = MAX_TILES, options: UNetOptions | None = None, **unet_options
) -> NaiveTilePlan:
    """Plain, non-overlapping tiles of size ``tile`` for the same-padding network.

    Tiles step by ``tile``; where the image does not divide evenly, the last tile of a row
    (column) is moved back to end at the image border and only its new part is kept. The
    image must be at least one tile large. Plans of more than ``max_tiles`` tiles are refused
    (:class:`TooManyTiles`).
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
    max_tiles = whole(max_tiles, "max_tiles", minimum=1)
    _check_tile(th, tw, o)
    if th > H or tw > W:
        raise ValueError(
            f"The tile ({th}x{tw}) is larger than the image ({H}x{W}): run the network on the whole "
            f"image instead, or choose a tile of at most {H}x{W} that the network accepts."
        )

    _refuse_too_many(-(-H // th), -(-W // tw), max_tiles, f"the tiles are {th}x{tw} px")

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
    """Run a model on numpy tiles in eval mode, on the model's device and dtype, without grad, on one
    CPU thread (:func:`unet_lesson.core.env.cpu_threads`: small networks run faster so on a busy machine)."""

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
        self.stack = contextlib.ExitStack()
        self.stack.enter_context(self.torch.no_grad())
        self.stack.enter_context(cpu_threads(1 if self.device.type == "cpu" else None))
        return self

    def __exit__(self, *exc):
        self.stack.close()
        self.model.train(self.was_training)

    def __call__(self, batch: list[np.ndarray]) -> np.ndarray:
        x = self.torch.as_tensor(np.stack(batch)).to(self.device, self.dtype)
        return self.model(x).detach().float().cpu().numpy()


def _batch_size(batch_size) -> int:
    return whole(batch_size, "batch_size (tiles per forward pass)", minimum=1)


def _run_tiles(model, padded: np.ndarray, tiles: list[Tile], out: np.ndarray, batch_size: int) -> None:
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


def _runnable_tile(tile_size) -> tuple[int, int]:
    """The tile as (h, w), refused beyond :data:`MAX_TILE_PIXELS` before anything is allocated."""
    th, tw = size_pair(tile_size, "tile size")
    if th * tw > MAX_TILE_PIXELS:
        raise ValueError(
            f"A {th}x{tw} tile is larger than this function runs (at most {MAX_TILE_PIXELS:,} pixels, e.g. "
            f"2044x2044): every tile is one forward pass. Choose a smaller valid tile (Fig. 1's example is 572)."
        )
    return th, tw


def predict_tiled(model, image, tile_size=572, *, align: bool = True, batch_size: int = 4) -> np.ndarray:
    """Overlap-tile prediction with the valid network: mirror-pad, run every tile, stitch.

    Returns the network's output for the whole image, shape (num_classes, H, W), float32
    (the scores before softmax). With ``align=True`` it equals :func:`unet_lesson.seg.predict.predict_scores`.
    """
    o, batch_size = _model_options(model), _batch_size(batch_size)
    tile_size = _runnable_tile(tile_size)
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
    o, batch_size = _model_options(model), _batch_size(batch_size)
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


def shift_differences(model, image, tile_size, shifts=(1, 2, 4, 8, 16, 32)) -> list[dict]:
    r"""Does the output move along with the input? The valid network on two windows of the
    mirror-padded image, the second ``s`` rows lower, for each shift ``s``.

    Where the two outputs overlap, the second should equal the first moved up by ``s`` rows.
    Returns one row per shift: ``{"shift": s, "remainder": s % 2**depth, "rows": overlapping
    output rows, "max": largest |difference| in foreground probability there}``. The course's
    analysis (the paper does not discuss it): the difference is float rounding exactly when ``s``
    is a multiple of ``2**depth``, the pooling grid; any other shift moves every max-pooling window.
    """
    o = _model_options(model)
    if o.padding != "valid":
        raise ValueError("shift_differences compares a valid-padding network's tiles; this one pads (same).")
    th, tw = _runnable_tile(tile_size)
    oh, ow = _check_tile(th, tw, o)
    if isinstance(shifts, (str, bytes)) or not hasattr(shifts, "__len__") or not 1 <= len(shifts) <= 64:
        raise ValueError(f"shifts must be a list of 1 to 64 whole numbers of pixels, got {shifts!r:.60}.")
    shifts = [
        whole(
            s,
            "shift",
            minimum=1,
            maximum=oh - 1,
            hint=f"(a shift must be smaller than the output tile, {oh} px, for the two outputs to overlap)",
        )
        for s in shifts
    ]
    x = as_image(image, o.in_channels)
    (H, W), (m, mw) = x.shape[-2:], ((th - oh) // 2, (tw - ow) // 2)
    padded = mirror_pad(x, m, max(0, th + max(shifts) - m - H), mw, max(0, tw - mw - W))
    with _Runner(model) as run:
        first = foreground(run([padded[:, :th, :tw]])[0])
        rows = []
        for s in shifts:
            moved = foreground(run([padded[:, s : s + th, :tw]])[0])
            d = np.abs(moved[: oh - s] - first[s:])
            rows.append({"shift": s, "remainder": s % o.grid, "rows": oh - s, "max": float(d.max())})
    return rows
