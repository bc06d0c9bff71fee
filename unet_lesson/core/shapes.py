r"""The U-Net's shapes, layer by layer, computed by size arithmetic alone.

:func:`shape_table` walks the network's layers with the integer functions of
:mod:`unet_lesson.core.sizes` (no tensor is created, so it is instant even for the
full-size network) and returns a :class:`ShapeTable`: path, level, operation, input and
output shape (channels x height x width), parameter count and the formula behind every
size. The tests prove that each row equals the shape of the real layer's output in a
forward pass, and that for 572 with the defaults it reproduces the paper's Fig. 1.

:func:`check_input_size` says whether an input size works and, when it does not, raises
:class:`InvalidInputSize` naming the layer where it breaks, why, and the nearest valid
sizes; :func:`valid_input_sizes` lists the sizes that work.

Why sizes are constrained: a 2x2 max pool floors an odd size (137 -> 68), and the 2x2
up-conv on the way back doubles it (68 -> 136), so the expanding path's map is one pixel
short of the copied map. The paper therefore asks for "all 2x2 max-pooling operations
applied to a layer with an even x- and y-size" (Sect. 2); for the default network that
gives the sizes 188 + 16k, output = input - 184.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Iterator

from .sizes import LayerSizeError, center_crop_box, conv_out, pool_out, up_conv_out

__all__ = [
    "InvalidInputSize",
    "LayerRow",
    "ShapeTable",
    "shape_table",
    "check_input_size",
    "valid_input_sizes",
    "nearest_valid_sizes",
    "output_size",
    "count_parameters",
    "normalize_options",
    "describe_options",
    "DEFAULT_OPTIONS",
]

DEFAULT_OPTIONS = dict(in_channels=1, num_classes=2, base_channels=64, depth=4, padding="valid",
                       batch_norm=None, up_mode="upconv", mismatch="error")

# how far up valid_input_sizes / nearest_valid_sizes look by default
_SEARCH_LIMIT = 4096


class InvalidInputSize(ValueError):
    """An input size this U-Net cannot take. The message names the layer, the reason, and
    the nearest valid sizes; the same facts are attributes for widgets and tests."""

    def __init__(self, message: str, *, input_size=None, layer: str | None = None,
                 reason: str | None = None, below: int | None = None, above: int | None = None):
        super().__init__(message)
        self.input_size = input_size
        self.layer = layer
        self.reason = reason
        self.below = below
        self.above = above

    @property
    def nearest(self) -> tuple[int | None, int | None]:
        return self.below, self.above


# ----------------------------------------------------------------------------------
# options
# ----------------------------------------------------------------------------------
def _whole(name: str, value, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be a whole number, got {value!r}.")
    if value < minimum or (maximum is not None and value > maximum):
        rng = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ValueError(f"{name} must be {rng}, got {value}.")
    return value


def normalize_options(**options) -> dict:
    """Fill in defaults and check every U-Net option, with a clear message for a bad one."""
    unknown = set(options) - set(DEFAULT_OPTIONS)
    if unknown:
        raise TypeError(f"unknown U-Net option(s) {sorted(unknown)}; known: {sorted(DEFAULT_OPTIONS)}")
    o = {**DEFAULT_OPTIONS, **options}
    for name in ("in_channels", "num_classes", "base_channels"):
        o[name] = _whole(name, o[name], 1)
    o["depth"] = _whole("depth", o["depth"], 1, 8)
    if o["padding"] not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' (the paper: no padding, copy and crop) or 'same' "
                         f"(padding 1, output size = input size), got {o['padding']!r}.")
    if o["batch_norm"] is None:
        o["batch_norm"] = o["padding"] == "same"
    o["batch_norm"] = bool(o["batch_norm"])
    if o["up_mode"] not in ("upconv", "bilinear"):
        raise ValueError(f"up_mode must be 'upconv' (2x2 transposed conv, the paper) or 'bilinear', "
                         f"got {o['up_mode']!r}.")
    if o["mismatch"] not in ("error", "crop", "pad"):
        raise ValueError(f"mismatch must be 'error', 'crop' or 'pad', got {o['mismatch']!r}.")
    if o["mismatch"] == "pad" and o["padding"] == "valid":
        raise ValueError("mismatch='pad' is for same padding: with valid padding the copied map is always "
                         "larger, so it is cropped (use mismatch='crop' to allow odd sizes before a pool).")
    return o


def describe_options(**options) -> str:
    o = normalize_options(**options)
    return (f"{o['padding']} padding, depth {o['depth']}, base {o['base_channels']} channels"
            f"{', batch norm' if o['batch_norm'] else ''}{', bilinear upsampling' if o['up_mode'] == 'bilinear' else ''}")


# ----------------------------------------------------------------------------------
# the static structure: one spec per layer, in forward order
# ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Spec:
    path: str        # "contracting", "bottom", "expanding", "head"
    level: int       # 1 = top of the U; depth + 1 = bottom
    kind: str        # "conv", "pool", "up", "crop", "concat", "head"
    operation: str   # words shown to the student
    module: str      # the submodule of UNet whose output has this row's shape
    c_in: int
    c_out: int
    params: int


def _conv_params(c_in: int, c_out: int, k: int, bias: bool, bn: bool) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0) + (2 * c_out if bn else 0)


def _specs(o: dict) -> list[_Spec]:
    depth, base, bn = o["depth"], o["base_channels"], o["batch_norm"]
    conv_name = "3x3 conv + BN + ReLU" if bn else "3x3 conv + ReLU"
    chans = [base * 2 ** level for level in range(depth + 1)]
    specs: list[_Spec] = []

    def double(path, level, prefix, c_in, c_out):
        for i, ci in enumerate((c_in, c_out), start=1):
            specs.append(_Spec(path, level, "conv", conv_name, f"{prefix}.conv{i}", ci, c_out,
                               _conv_params(ci, c_out, 3, not bn, bn)))

    c_in = o["in_channels"]
    for level in range(1, depth + 1):
        c = chans[level - 1]
        double("contracting", level, f"down_convs.{level - 1}", c_in, c)
        specs.append(_Spec("contracting", level, "pool", "2x2 max pool", f"down_samples.{level - 1}", c, c, 0))
        c_in = c
    double("bottom", depth + 1, "bottom", chans[-2], chans[-1])
    for i, level in enumerate(range(depth, 0, -1)):
        c = chans[level - 1]
        if o["up_mode"] == "upconv":
            specs.append(_Spec("expanding", level, "up", "2x2 up-conv", f"up_samples.{i}", 2 * c, c,
                               2 * c * c * 4 + c))
        else:
            specs.append(_Spec("expanding", level, "up", "bilinear x2 + 1x1 conv", f"up_samples.{i}", 2 * c, c,
                               2 * c * c + c))
        crop_name = "copy and crop" if o["padding"] == "valid" else "copy"
        specs.append(_Spec("expanding", level, "crop", crop_name, f"concats.{i}.crop", c, c, 0))
        specs.append(_Spec("expanding", level, "concat", "concatenate", f"concats.{i}", c, 2 * c, 0))
        double("expanding", level, f"up_convs.{i}", 2 * c, c)
    specs.append(_Spec("head", 1, "head", "1x1 conv", "head", chans[0], o["num_classes"],
                       chans[0] * o["num_classes"] + o["num_classes"]))
    return specs


def count_parameters(**options) -> int:
    """Learned parameters of ``UNet(**options)``, counted layer by layer (31,030,658 by default)."""
    return sum(s.params for s in _specs(normalize_options(**options)))


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
        return {"#": self.index, "path": self.path, "level": self.level, "operation": self.operation,
                "input": fmt_shape(self.in_shape), "output": fmt_shape(self.out_shape),
                "params": self.params, "formula": self.formula, "module": self.module}


_PATH_COLOURS = {"contracting": "#e8f1fb", "bottom": "#f3e8fb", "expanding": "#eaf7ea", "head": "#fdf3e3"}


@dataclass
class ShapeTable:
    """The layer-by-layer shapes of a U-Net for one input size (see :func:`shape_table`)."""

    input_size: tuple[int, int]
    options: dict
    rows: list[LayerRow] = field(default_factory=list)

    # ---- summary -------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.options["in_channels"], *self.input_size)

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
        return (f"{describe_options(**self.options)}: input {h}×{w}×{c} -> output {oh}×{ow}×{oc}, "
                f"{self.n_conv_layers} conv layers, {self.total_params:,} parameters")

    # ---- rendering -------------------------------------------------------------
    def _cells(self, r: LayerRow, style: str) -> list[str]:
        return [str(r.index), r.path, str(r.level), r.operation, fmt_shape(r.in_shape, style),
                fmt_shape(r.out_shape, style), f"{r.params:,}", r.formula]

    def _header(self, style: str) -> list[str]:
        unit = "H×W×C" if style == "notes" else "C×H×W"
        return ["#", "path", "level", "operation", f"input ({unit})", f"output ({unit})", "params", "formula"]

    def to_html(self, style: str = "chw", highlight: int | None = None) -> str:
        head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(h)}</th>" for h in self._header(style))
        body = []
        for r in self.rows:
            bg = "#ffe9a8" if highlight == r.index else _PATH_COLOURS.get(r.path, "white")
            cells = self._cells(r, style)
            tds = "".join(
                f"<td style='padding:1px 8px;text-align:left;{'font-family:monospace' if j >= 4 else ''}'>"
                f"{html.escape(c)}</td>" for j, c in enumerate(cells))
            body.append(f"<tr style='background:{bg}' data-module='{r.module}'>{tds}</tr>")
        return (f"<div class='ul-shape-table'><p><b>{html.escape(self.summary())}</b></p>"
                f"<table style='border-collapse:collapse;font-size:12px'><thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table></div>")

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_markdown(self, style: str = "chw") -> str:
        lines = ["| " + " | ".join(self._header(style)) + " |", "|" + "---|" * len(self._header(style))]
        for r in self.rows:
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in self._cells(r, style)) + " |")
        return "\n".join(lines)

    def __str__(self) -> str:
        cells = [self._header("chw")] + [self._cells(r, "chw") for r in self.rows]
        widths = [max(len(row[j]) for row in cells) for j in range(len(cells[0]))]
        out = [self.summary()]
        for row in cells:
            out.append("  ".join(c.ljust(widths[j]) for j, c in enumerate(row)).rstrip())
        return "\n".join(out)


def _as_hw(input_size) -> tuple[int, int]:
    """Accept 572, (572, 572), [572, 572], or a torch.Size; say clearly what else is wrong."""
    if isinstance(input_size, (tuple, list)) or type(input_size).__name__ == "Size":
        vals = list(input_size)
        if len(vals) != 2:
            raise InvalidInputSize(f"An input size is one number (a square image) or (height, width); "
                                   f"got {input_size!r}.", input_size=input_size, reason="shape")
        return _one(vals[0], "height"), _one(vals[1], "width")
    v = _one(input_size, "input size")
    return v, v


def _one(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)):
        try:  # numpy integers and 0-d tensors are fine
            if not isinstance(value, (bool, str)) and int(value) == value:
                value = int(value)
        except (TypeError, ValueError, OverflowError):
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputSize(f"The {name} must be a whole number of pixels, got {value!r}.",
                               input_size=value, reason="not a number")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            lo, hi = (math.floor(value), math.ceil(value)) if math.isfinite(value) else (None, None)
            hint = f" (for example {lo} or {hi})" if lo is not None and lo > 0 else ""
            raise InvalidInputSize(f"The {name} must be a whole number of pixels, got {value!r}{hint}.",
                                   input_size=value, reason="not a whole number")
        value = int(value)
    if value <= 0:
        raise InvalidInputSize(f"The {name} must be a positive number of pixels, got {value}: "
                               "an image needs at least one row and one column.",
                               input_size=value, reason="not positive")
    return value


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


def _trace_1d(n: int, o: dict, specs: list[_Spec]) -> list[tuple[int, int, str]]:
    """Sizes (in, out, formula) along one dimension for every spec; raises _Break."""
    pad = 1 if o["padding"] == "same" else 0
    strict = o["mismatch"] == "error"
    out: list[tuple[int, int, str]] = []
    copied: list[int] = []
    x = n
    up_size = None
    for spec in specs:
        if spec.kind in ("conv", "head"):
            k, p = (3, pad) if spec.kind == "conv" else (1, 0)
            try:
                f = conv_out.explain(x, kernel=k, padding=p)
            except LayerSizeError:
                raise _Break(spec, x, f"the map is only {x} pixels, too small for a {k}x{k} conv without "
                                      "padding: the size would drop to zero or below") from None
            out.append((x, f.result, f.text))
            x = f.result
        elif spec.kind == "pool":
            if x < 2:
                raise _Break(spec, x, f"the map is only {x} pixel wide, too small for a 2x2 pool")
            if strict and x % 2:
                if o["padding"] == "same":
                    why = (f"the map entering it is {x} pixels, an odd size: the pool floors it to {x // 2}, "
                           f"the up-conv on the way back gives {2 * (x // 2)}, one short of the copied {x}, "
                           "so the two maps cannot be concatenated")
                else:
                    why = (f"the map entering it is {x} pixels, an odd size: the pool floors it to {x // 2} and "
                           "drops the last row and column, so the expanding path's map can no longer sit at the "
                           "centre of the copied map (the crop would be off by half a pixel) and the output stops "
                           "lining up with the input; the paper asks for even sizes at every 2x2 pool")
                raise _Break(spec, x, why)
            copied.append(x)
            f = pool_out.explain(x)
            out.append((x, f.result, f.text))
            x = f.result
        elif spec.kind == "up":
            f = up_conv_out.explain(x) if o["up_mode"] == "upconv" else None
            res = 2 * x
            text = f.text if f else f"{res} = 2*{x} (bilinear x2; the 1x1 conv keeps the size)"
            out.append((x, res, text))
            x = up_size = res
        elif spec.kind == "crop":
            skip = copied.pop()
            if o["mismatch"] == "pad" and x < skip:  # same padding, expanding map smaller: pad it instead
                out.append((skip, skip, f"{skip}: nothing to crop; the up-conv's {x} is zero-padded to {skip}"))
                x = skip
            elif skip >= x:
                box = center_crop_box(skip, x)
                out.append((skip, x, box.explain().text))
            else:  # the expanding map is larger than the copied one: cannot happen for valid inputs
                raise _Break(spec, x, f"the expanding path's map ({x}) is larger than the copied map ({skip})")
        elif spec.kind == "concat":
            out.append((x, x, f"{spec.c_in} + {spec.c_in} = {spec.c_out} channels; size {x} unchanged"))
    assert up_size is None or x > 0
    return out


def _first_break(n: int, o: dict, specs: list[_Spec]) -> _Break | None:
    try:
        _trace_1d(n, o, specs)
    except _Break as b:
        return b
    return None


def _is_valid(n: int, o: dict, specs: list[_Spec]) -> bool:
    return _first_break(n, o, specs) is None


def nearest_valid_sizes(size: int, **options) -> tuple[int | None, int | None]:
    """The nearest valid input sizes strictly below and above ``size`` (``None`` if there is none)."""
    o = normalize_options(**options)
    specs = _specs(o)
    below = next((m for m in range(size - 1, 0, -1) if _is_valid(m, o, specs)), None)
    above = next((m for m in range(max(size + 1, 1), max(size, 0) + _SEARCH_LIMIT) if _is_valid(m, o, specs)), None)
    return below, above


def _raise_for(n: int, dim: str, b: _Break, o: dict, input_size) -> None:
    below, above = nearest_valid_sizes(n, **o)
    specs = _specs(o)
    def fmt(m):
        return f"{m} (output {_trace_1d(m, o, specs)[-1][1]})"
    if below is not None and above is not None:
        nearest = f"{fmt(below)} and {fmt(above)}"
    elif above is not None:
        nearest = f"none smaller; the smallest is {fmt(above)}"
    elif below is not None:
        nearest = f"{fmt(below)} (none larger up to {n + _SEARCH_LIMIT})"
    else:
        nearest = f"none up to {n + _SEARCH_LIMIT}"
    what = "Input size" if dim == "size" else f"Input {dim}"
    msg = (f"{what} {n} does not work for this U-Net ({describe_options(**o)}): at {_where(b.spec)}, "
           f"{b.reason}. Nearest valid sizes: {nearest}.")
    raise InvalidInputSize(msg, input_size=input_size, layer=_where(b.spec), reason=b.reason, below=below, above=above)


def shape_table(input_size=572, **options) -> ShapeTable:
    """The layer-by-layer shape table of ``UNet(**options)`` for an input of ``input_size``.

    Computed by size arithmetic alone (no tensor is created). Raises
    :class:`InvalidInputSize` for a size the network cannot take.
    """
    o = normalize_options(**options)
    h, w = _as_hw(input_size)
    specs = _specs(o)
    traces = {}
    for dim, n in (("height", h), ("width", w)):
        if n in traces:
            continue
        try:
            traces[n] = _trace_1d(n, o, specs)
        except _Break as b:
            _raise_for(n, "size" if h == w else dim, b, o, input_size)
    th, tw = traces[h], traces[w]
    rows = []
    for i, (spec, (hi, ho, hf), (wi, wo, wf)) in enumerate(zip(specs, th, tw), start=1):
        formula = hf if h == w else f"H: {hf}; W: {wf}"
        rows.append(LayerRow(i, spec.path, spec.level, spec.operation, spec.module, spec.kind,
                             (spec.c_in, hi, wi), (spec.c_out, ho, wo), spec.params, formula))
    return ShapeTable((h, w), o, rows)


def check_input_size(input_size, **options) -> tuple[int, int]:
    """Check an input size; return the output (height, width) or raise :class:`InvalidInputSize`.

    >>> check_input_size(572)
    (388, 388)
    """
    o = normalize_options(**options)
    h, w = _as_hw(input_size)
    specs = _specs(o)
    out = []
    for dim, n in (("height", h), ("width", w)):
        b = _first_break(n, o, specs)
        if b is not None:
            _raise_for(n, "size" if h == w else dim, b, o, input_size)
        out.append(_trace_1d(n, o, specs)[-1][1])
    return out[0], out[1]


def output_size(input_size, **options) -> tuple[int, int]:
    """Output (height, width) of ``UNet(**options)`` for ``input_size`` (raises if invalid)."""
    return check_input_size(input_size, **options)


def valid_input_sizes(max_size: int = 1024, min_size: int = 1, **options) -> list[int]:
    """Every input size in ``[min_size, max_size]`` that the network takes.

    >>> valid_input_sizes(260)
    [188, 204, 220, 236, 252]
    """
    o = normalize_options(**options)
    specs = _specs(o)
    return [n for n in range(max(1, min_size), max_size + 1) if _is_valid(n, o, specs)]
