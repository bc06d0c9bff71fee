r"""The U-Net's shapes, layer by layer, computed by size arithmetic alone.

:func:`shape_table` walks the network's layers with the integer functions of
:mod:`unet_lesson.core.sizes` (no tensor is created, so it is instant even for the
full-size network) and returns a :class:`ShapeTable`: path, level, operation, input and
output shape (channels x height x width), parameter count and the formula behind every
size. The tests prove that each row equals the shape of the real layer's output in a
forward pass, and that for 572 with the defaults it reproduces the paper's Fig. 1.

:func:`output_size` says what a size gives, or raises :class:`InvalidInputSize` naming the
layer where it breaks, why, and the nearest valid sizes (:func:`nearest_valid_sizes`).

Why sizes are constrained: a 2x2 max pool floors an odd size (137 -> 68), and the 2x2
up-conv on the way back doubles it (68 -> 136), so the expanding path's map is one pixel
short of the copied map. The paper therefore asks for "all 2x2 max-pooling operations
applied to a layer with an even x- and y-size" (Sect. 2); for the default network that
gives the sizes 188 + 16k, output = input - 184.

Every trace is cached per (size, options): the network's forward pass, the widgets and the
size searches ask the same questions many times.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

from .options import UNetOptions, options_of
from .parse import size_pair
from .sizes import LayerSizeError, center_crop_box, conv_out, pool_out, up_conv_out

__all__ = [
    "InvalidInputSize",
    "LayerRow",
    "ShapeTable",
    "shape_table",
    "output_size",
    "count_parameters",
    "nearest_valid_sizes",
    "is_valid_size",
    "describe_nearest",
    "fmt_shape",
    "SEARCH_LIMIT",
]

#: how far above and below a size the nearest valid sizes are looked for
SEARCH_LIMIT = 4096


class InvalidInputSize(ValueError):
    """An input size this U-Net cannot take. The message names the layer, the reason, and
    the nearest valid sizes; the same facts are attributes for widgets and tests."""

    def __init__(
        self,
        message: str,
        *,
        input_size=None,
        layer: str | None = None,
        reason: str | None = None,
        below: int | None = None,
        above: int | None = None,
    ):
        super().__init__(message)
        self.input_size = input_size
        self.layer = layer
        self.reason = reason
        self.below = below
        self.above = above

    @property
    def nearest(self) -> tuple[int | None, int | None]:
        return self.below, self.above

    def with_note(self, note: str) -> "InvalidInputSize":
        """The same error with one more sentence (e.g. the size rule), keeping its attributes."""
        return InvalidInputSize(
            f"{self} {note}",
            input_size=self.input_size,
            layer=self.layer,
            reason=self.reason,
            below=self.below,
            above=self.above,
        )


# ----------------------------------------------------------------------------------
# the static structure: one spec per layer, in forward order
# ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Spec:
    path: str  # "contracting", "bottom", "expanding", "head"
    level: int  # 1 = top of the U; depth + 1 = bottom
    kind: str  # "conv", "pool", "up", "crop", "concat", "head"
    operation: str  # words shown to the student
    module: str  # the submodule of UNet whose output has this row's shape
    c_in: int
    c_out: int
    params: int


def _conv_params(c_in: int, c_out: int, k: int, bias: bool, bn: bool) -> int:
    # k*k*c_in weights per output channel; a bias each, or batch norm's scale and shift instead
    return c_in * c_out * k * k + (c_out if bias else 0) + (2 * c_out if bn else 0)


@lru_cache(maxsize=128)
def _specs(o: UNetOptions) -> tuple[_Spec, ...]:
    bn = o.batch_norm
    conv_name = "3x3 conv + BN + ReLU" if bn else "3x3 conv + ReLU"
    chans = o.channels
    specs: list[_Spec] = []

    def double(path, level, prefix, c_in, c_out):
        for i, ci in enumerate((c_in, c_out), start=1):
            specs.append(
                _Spec(
                    path,
                    level,
                    "conv",
                    conv_name,
                    f"{prefix}.conv{i}",
                    ci,
                    c_out,
                    _conv_params(ci, c_out, 3, not bn, bn),
                )
            )

    # contracting path: double conv, then 2x2 max pool, at each level
    c_in = o.in_channels
    for level in range(1, o.depth + 1):
        c = chans[level - 1]
        double("contracting", level, f"down_convs.{level - 1}", c_in, c)
        specs.append(_Spec("contracting", level, "pool", "2x2 max pool", f"down_samples.{level - 1}", c, c, 0))
        c_in = c
    # the bottom of the U
    double("bottom", o.depth + 1, "bottom", chans[-2], chans[-1])
    # expanding path: up-conv (channels 1/2), copy and crop, concatenate, double conv
    for i, level in enumerate(range(o.depth, 0, -1)):
        c = chans[level - 1]
        if o.up_mode == "upconv":
            specs.append(_Spec("expanding", level, "up", "2x2 up-conv", f"up_samples.{i}", 2 * c, c, 2 * c * c * 4 + c))
        else:
            specs.append(
                _Spec("expanding", level, "up", "bilinear x2 + 1x1 conv", f"up_samples.{i}", 2 * c, c, 2 * c * c + c)
            )
        if o.skips:
            crop_name = "copy and crop" if o.padding == "valid" else "copy"
            specs.append(_Spec("expanding", level, "crop", crop_name, f"concats.{i}.crop", c, c, 0))
            specs.append(_Spec("expanding", level, "concat", "concatenate", f"concats.{i}", c, 2 * c, 0))
        double("expanding", level, f"up_convs.{i}", 2 * c if o.skips else c, c)
    # the 1x1 conv head: one output channel per class
    specs.append(
        _Spec("head", 1, "head", "1x1 conv", "head", chans[0], o.num_classes, chans[0] * o.num_classes + o.num_classes)
    )
    return tuple(specs)


def count_parameters(options: UNetOptions | None = None, **overrides) -> int:
    """Learned parameters of ``UNet(**options)``, counted layer by layer (31,030,658 by default)."""
    return sum(s.params for s in _specs(options_of(options, **overrides)))


# ----------------------------------------------------------------------------------
# the size trace along one dimension
# ----------------------------------------------------------------------------------
class _Break(Exception):
    """Internal: where and why a size trace failed."""

    def __init__(self, spec: _Spec, size: int, reason: str):
        self.spec, self.size, self.reason = spec, size, reason


def _where(spec: _Spec) -> str:
    if spec.path == "bottom":
        return f"the bottom of the U ({spec.operation})"
    if spec.path == "head":
        return "the 1x1 conv head"
    return f"{spec.path} path, level {spec.level}, {spec.operation}"


def _odd_pool_reason(x: int, o: UNetOptions) -> str:
    if o.padding == "same":
        return (
            f"the map entering it is {x} pixels, an odd size: the pool floors it to {x // 2}, "
            f"the up-conv on the way back gives {2 * (x // 2)}, one short of the copied {x}, "
            "so the two maps cannot be concatenated"
        )
    return (
        f"the map entering it is {x} pixels, an odd size: the pool floors it to {x // 2} and "
        "drops the last row and column, so the expanding path's map can no longer sit at the "
        "centre of the copied map (the crop would be off by half a pixel) and the output stops "
        "lining up with the input; the paper asks for even sizes at every 2x2 pool"
    )


def _walk(n: int, o: UNetOptions) -> tuple[tuple[int, int, str], ...]:
    """Sizes (in, out, formula) along one dimension for every spec; raises _Break."""
    out: list[tuple[int, int, str]] = []
    copied: list[int] = []
    x = n
    for spec in _specs(o):
        if spec.kind in ("conv", "head"):
            k, p = (3, o.conv_padding) if spec.kind == "conv" else (1, 0)
            try:
                f = conv_out.explain(x, kernel=k, padding=p)
            except LayerSizeError:
                raise _Break(
                    spec,
                    x,
                    f"the map is only {x} pixels, too small for a {k}x{k} conv without "
                    "padding: the size would drop to zero or below",
                ) from None
            out.append((x, f.result, f.text))
            x = f.result
        elif spec.kind == "pool":
            if x < 2:
                raise _Break(spec, x, f"the map is only {x} pixel wide, too small for a 2x2 pool")
            if o.mismatch == "error" and x % 2:
                raise _Break(spec, x, _odd_pool_reason(x, o))
            copied.append(x)  # the "copy" of copy and crop
            f = pool_out.explain(x)
            out.append((x, f.result, f.text))
            x = f.result
        elif spec.kind == "up":
            if o.up_mode == "upconv":
                text = up_conv_out.explain(x).text
            else:
                text = f"{2 * x} = 2*{x} (bilinear x2; the 1x1 conv keeps the size)"
            out.append((x, 2 * x, text))
            x = 2 * x
        elif spec.kind == "crop":
            skip = copied.pop()
            if o.mismatch == "pad" and x < skip:  # same padding, expanding map smaller: pad it instead
                out.append((skip, skip, f"{skip}: nothing to crop; the up-conv's {x} is zero-padded to {skip}"))
                x = skip
            elif skip >= x:
                out.append((skip, x, center_crop_box(skip, x).explain().text))
            else:  # the expanding map is larger than the copied one: cannot happen for valid inputs
                raise _Break(spec, x, f"the expanding path's map ({x}) is larger than the copied map ({skip})")
        elif spec.kind == "concat":
            out.append((x, x, f"{spec.c_in} + {spec.c_in} = {spec.c_out} channels; size {x} unchanged"))
    return tuple(out)


@lru_cache(maxsize=8192)
def _trace(n: int, o: UNetOptions):
    """(rows, None) for a size that works, (None, _Break) for one that does not; cached."""
    try:
        return _walk(n, o), None
    except _Break as b:
        return None, b


def is_valid_size(n: int, options: UNetOptions | None = None, **overrides) -> bool:
    """Whether one side of ``n`` pixels goes through the network (no error at any layer)."""
    return n >= 1 and _trace(n, options_of(options, **overrides))[1] is None


def nearest_valid_sizes(size, options: UNetOptions | None = None, **overrides) -> tuple[int | None, int | None]:
    """The nearest valid input sizes strictly below and above ``size`` (``None`` if there is none
    within :data:`SEARCH_LIMIT` pixels)."""
    o = options_of(options, **overrides)
    size = _side(size, "size")
    if o.mismatch == "error":  # the valid sizes are first, first + 2**depth, ...: no scan needed
        first, step = _progression(o)
        if first is not None:
            below = None if size <= first else size - 1 - (size - 1 - first) % step
            above = first if size < first else size + step - (size - first) % step
            return (below if below is None or size - below < SEARCH_LIMIT else None), (
                above if above - size < SEARCH_LIMIT else None
            )
    below = next((m for m in range(size - 1, max(size - SEARCH_LIMIT, 0), -1) if _trace(m, o)[1] is None), None)
    above = next((m for m in range(max(size + 1, 1), size + SEARCH_LIMIT) if _trace(m, o)[1] is None), None)
    return below, above


@lru_cache(maxsize=64)
def _progression(o: UNetOptions) -> tuple[int | None, int]:
    r"""The valid input sizes of a network that refuses an odd map before a pool (``mismatch="error"``):
    ``(first, step)`` with ``step = 2**depth``, every valid size being ``first + step*k``.

    Why: each pool halves, so one residue modulo :math:`2^d` keeps every map even, and above the smallest
    valid size every member of that residue stays large enough (sizes only grow with the input). Found by
    one period of checks above :data:`SEARCH_LIMIT` and a bisection down that residue (cached), not by
    scanning every size; the tests compare it with such a scan. ``(None, step)`` when no size works."""
    step = 2**o.depth
    base = SEARCH_LIMIT + step  # large enough for every map to be positive; only the residue matters there
    m = next((m for m in range(base, base + step) if _trace(m, o)[1] is None), None)
    if m is None:
        return None, step
    lo, hi = 0, (m - 1) // step  # m - k*step is valid exactly for k <= some k0: bisect for k0
    while lo < hi:
        k = (lo + hi + 1) // 2
        lo, hi = (k, hi) if _trace(m - k * step, o)[1] is None else (lo, k - 1)
    return m - lo * step, step


def _side(value, name: str) -> int:
    from .parse import whole

    return whole(value, name, unit="pixels", error=InvalidInputSize)


def describe_nearest(below: int | None, above: int | None, o: UNetOptions) -> str:
    """The nearest valid sizes in words, each with its output: ``"572 (output 388) and 588 (output 404)"``."""

    def fmt(m):
        return f"{m} (output {_trace(m, o)[0][-1][1]})"

    if below is not None and above is not None:
        return f"{fmt(below)} and {fmt(above)}"
    if above is not None:
        return f"none smaller; the smallest is {fmt(above)}"
    if below is not None:
        return f"{fmt(below)} (none larger within {SEARCH_LIMIT} pixels)"
    return f"none within {SEARCH_LIMIT} pixels"


def _raise_for(n: int, dim: str, b: _Break, o: UNetOptions, input_size) -> None:
    below, above = nearest_valid_sizes(n, o)
    nearest = describe_nearest(below, above, o)
    what = "Input size" if dim == "size" else f"Input {dim}"
    msg = (
        f"{what} {n} does not work for this U-Net ({o.describe()}): at {_where(b.spec)}, "
        f"{b.reason}. Nearest valid sizes: {nearest}."
    )
    raise InvalidInputSize(msg, input_size=input_size, layer=_where(b.spec), reason=b.reason, below=below, above=above)


def _hw(input_size) -> tuple[int, int]:
    """572, (572, 572), [572, 572], a torch.Size; a clear message for anything else."""
    h, w = size_pair(input_size, "input size", minimum=None, error=InvalidInputSize, unit="pixels")
    for name, v in (("height", h), ("width", w)):
        if v <= 0:
            what = "input size" if h == w else f"input {name}"
            raise InvalidInputSize(
                f"The {what} must be a positive number of pixels, got {v}: "
                "an image needs at least one row and one column.",
                input_size=input_size,
                reason="not positive",
            )
    return h, w


def _traces(input_size, o: UNetOptions):
    h, w = _hw(input_size)
    traces = {}
    for dim, n in (("height", h), ("width", w)):
        rows, b = _trace(n, o)
        if b is not None:
            _raise_for(n, "size" if h == w else dim, b, o, input_size)
        traces[dim] = rows
    return (h, w), traces["height"], traces["width"]


def output_size(input_size=572, options: UNetOptions | None = None, **overrides) -> tuple[int, int]:
    """Output (height, width) of ``UNet(**options)`` for ``input_size``, or :class:`InvalidInputSize`.

    >>> output_size(572)
    (388, 388)
    """
    _, th, tw = _traces(input_size, options_of(options, **overrides))
    return th[-1][1], tw[-1][1]


# ----------------------------------------------------------------------------------
# rows and the table
# ----------------------------------------------------------------------------------
def fmt_shape(shape: tuple[int, int, int], style: str = "chw") -> str:
    """``(64, 570, 570)`` as ``"64×570×570"`` (C×H×W) or, as the notes write it, ``"570×570×64"``."""
    c, h, w = shape
    return f"{h}×{w}×{c}" if style == "notes" else f"{c}×{h}×{w}"


@dataclass(frozen=True)
class LayerRow:
    """One row of the shape table: a layer with its input and output shape (C, H, W)."""

    index: int
    path: str
    level: int
    operation: str
    module: str
    kind: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    params: int
    formula: str

    def as_dict(self) -> dict:
        return {
            "#": self.index,
            "path": self.path,
            "level": self.level,
            "operation": self.operation,
            "input": fmt_shape(self.in_shape),
            "output": fmt_shape(self.out_shape),
            "params": self.params,
            "formula": self.formula,
            "module": self.module,
        }


HEADER = ("#", "path", "level", "operation", "input", "output", "params", "formula")


@dataclass(frozen=True)
class ShapeTable:
    """The layer-by-layer shapes of a U-Net for one input size (see :func:`shape_table`)."""

    input_size: tuple[int, int]
    options: UNetOptions
    rows: tuple[LayerRow, ...]

    # ---- summary -------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.options.in_channels, *self.input_size)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return self.rows[-1].out_shape

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def n_conv_layers(self) -> int:
        """Conv layers with weights: 3x3 convs, up-convs (or their 1x1 convs) and the head."""
        return sum(r.kind in ("conv", "up", "head") for r in self.rows)

    @property
    def crops(self) -> list[tuple[int, int]]:
        """The copy-and-crop sizes from the top of the U down: e.g. [(568, 392), (280, 200), ...]."""
        return [(r.in_shape[1], r.out_shape[1]) for r in self.rows if r.kind == "crop"][::-1]

    def __iter__(self) -> Iterator[LayerRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    def where(self, **conditions) -> list[LayerRow]:
        """Rows whose attributes equal the given values, e.g. ``table.where(kind="pool")``."""
        return [r for r in self.rows if all(getattr(r, k) == v for k, v in conditions.items())]

    def summary(self) -> str:
        c, h, w = self.input_shape
        oc, oh, ow = self.output_shape
        return (
            f"{self.options.describe()}: input {h}×{w}×{c} -> output {oh}×{ow}×{oc}, "
            f"{self.n_conv_layers} conv layers, {self.total_params:,} parameters"
        )

    def param_formula(self, row: LayerRow) -> str:
        """One row's parameter count as a formula with its numbers, e.g. ``3·3·1·64 + 64 = 640``:
        weights k·k·C_in·C_out, plus a bias per output channel, or (with batch norm) BN's scale and
        shift (gamma, beta) per channel instead of the bias. The result is the row's own count."""
        c_in, c_out = row.in_shape[0], row.out_shape[0]
        if row.kind == "conv":
            text = f"3·3·{c_in}·{c_out} + {'2·' if self.options.batch_norm else ''}{c_out}"
        elif row.kind == "up":
            k = 2 if self.options.up_mode == "upconv" else 1
            text = f"{k}·{k}·{c_in}·{c_out} + {c_out}"
        elif row.kind == "head":
            text = f"1·1·{c_in}·{c_out} + {c_out}"
        else:
            return f"0 (a {row.operation} learns nothing)"
        return f"{text} = {row.params:,}"

    def size_walk(self) -> str:
        """The sizes along the U in one line: ``572 → 570 → 568 ↓ 284 → ... ↑ 56 ...``."""
        h, w = self.input_size
        parts = [str(h) if h == w else f"{h}×{w}"]
        arrows = {"conv": "→", "head": "→", "pool": "↓", "up": "↑"}
        for r in self.rows:
            size = str(r.out_shape[1]) if r.out_shape[1] == r.out_shape[2] else f"{r.out_shape[1]}×{r.out_shape[2]}"
            if r.kind in arrows:
                parts.append(f"{arrows[r.kind]} {size}")
            elif r.kind == "crop" and r.in_shape != r.out_shape:
                parts.append(f"(crop {r.in_shape[1]} → {size})")
        return " ".join(parts)

    # ---- plain-text renderings (the coloured HTML table is unet_lesson.ui.tables.shape_table_html) ----
    def cells(self, row: LayerRow, style: str = "chw") -> list[str]:
        return [
            str(row.index),
            row.path,
            str(row.level),
            row.operation,
            fmt_shape(row.in_shape, style),
            fmt_shape(row.out_shape, style),
            f"{row.params:,}",
            row.formula,
        ]

    def header(self, style: str = "chw") -> list[str]:
        unit = "H×W×C" if style == "notes" else "C×H×W"
        return [f"{h} ({unit})" if h in ("input", "output") else h for h in HEADER]

    def to_markdown(self, style: str = "chw") -> str:
        head = self.header(style)
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in self.cells(r, style)) + " |")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return f"**{self.summary()}**\n\n{self.to_markdown()}"

    def __str__(self) -> str:
        table = [self.header()] + [self.cells(r) for r in self.rows]
        widths = [max(len(row[j]) for row in table) for j in range(len(table[0]))]
        out = [self.summary()]
        for row in table:
            out.append("  ".join(c.ljust(widths[j]) for j, c in enumerate(row)).rstrip())
        return "\n".join(out)


def shape_table(input_size=572, options: UNetOptions | None = None, **overrides) -> ShapeTable:
    """The layer-by-layer shape table of ``UNet(**options)`` for an input of ``input_size``.

    Computed by size arithmetic alone (no tensor is created). Raises
    :class:`InvalidInputSize` for a size the network cannot take.
    """
    o = options_of(options, **overrides)
    (h, w), th, tw = _traces(input_size, o)
    rows = []
    for i, (spec, (hi, ho, hf), (wi, wo, wf)) in enumerate(zip(_specs(o), th, tw), start=1):
        formula = hf if h == w else f"H: {hf}; W: {wf}"
        rows.append(
            LayerRow(
                i,
                spec.path,
                spec.level,
                spec.operation,
                spec.module,
                spec.kind,
                (spec.c_in, hi, wi),
                (spec.c_out, ho, wo),
                spec.params,
                formula,
            )
        )
    return ShapeTable((h, w), o, tuple(rows))
