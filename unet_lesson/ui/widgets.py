"""The one way every lesson builds a widget.

A lesson's widget is a *plain view function* plus controls::

    def conv_view(size=572, kernel=3, stride=1, padding=0) -> View: ...   # tested without a browser
    live(conv_view, {"size": slider, "kernel": ...}, css="ul-conv")        # the widget

:func:`live` calls the view on every change and shows its HTML (tables, formulas) and
figure. A ``ValueError`` raised by the view (an impossible size, a padding that breaks
the concat, ...) is shown *in the widget* as a clear message; the controls keep what the
student typed. :func:`show` displays a static view of the default state first, so a
reader without a kernel still sees the point, then the live widget.

CSS classes for tests and browsers: the widget box has ``css`` (e.g. ``ul-conv``), each
control ``{css}-{name}``, the text output ``ul-view`` and an error ``ul-error``; the
view's numbers also appear as ``data-ul-<name>`` attributes of the output.
"""

from __future__ import annotations

import base64
import html
import inspect
import io
import threading
import traceback
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Callable, Mapping

__all__ = [
    "View",
    "Widget",
    "error_view",
    "error_data",
    "safe_view",
    "live",
    "show",
    "static_view",
    "figure_png",
    "defaults_of",
    "one_at_a_time",
    "number_box",
    "choice_buttons",
    "window_boxes",
]


@dataclass
class View:
    """What a view function returns: HTML text, an optional matplotlib figure, the numbers shown.

    ``data`` holds the values the view displays (output size, parameter count, ...), so
    tests can compare them with ``unet_lesson`` without parsing HTML.
    """

    html: str = ""
    figure: Any = None
    data: dict = field(default_factory=dict)
    error: str | None = None
    #: trim the figure's margins when rendering (draws it twice); figures that fill their canvas say False
    tight: bool = True

    @property
    def ok(self) -> bool:
        return self.error is None

    def body_html(self) -> str:
        attrs = " ".join(
            f"data-ul-{html.escape(str(k))}='{html.escape(str(v))}'"
            for k, v in self.data.items()
            if isinstance(v, (int, float, str, tuple))
        )
        if self.error is not None:
            inner = (
                f"<div class='ul-error' style='background:#fff4e5;color:#8a4b00;border-left:4px solid #e08a00;"
                f"padding:6px 10px;white-space:pre-wrap'><b>This setting cannot work.</b> "
                f"{html.escape(self.error)}</div>"
            )
            inner += self.html
        else:
            inner = self.html
        return f"<div class='ul-view-body' {attrs}>{inner}</div>"

    def _repr_html_(self) -> str:
        img = ""
        if self.figure is not None and self.error is None:
            png = figure_png(self.figure, tight=self.tight)
            img = f"<img src='data:image/png;base64,{base64.b64encode(png).decode()}'/>"
        return self.body_html() + img


def error_view(message: str, html_extra: str = "", **data) -> View:
    return View(html=html_extra, error=message, data=data)


def figure_png(fig, dpi: int = 80, tight: bool = True, close: bool = True) -> bytes:
    """Render a matplotlib figure to PNG bytes (and free it, unless ``close=False``).

    ``tight=True`` trims the margins but draws the figure twice; figures that fill their canvas
    (the explorer's) pass ``tight=False`` for a single, faster pass. Light PNG compression: the
    bytes only travel to the browser on this machine.
    """
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None, pil_kwargs={"compress_level": 1})
    if close:
        plt.close(fig)
    return buf.getvalue()


def error_data(e: Exception) -> dict:
    """What a view's data holds for a setting that cannot work: the message and, for an input size the
    network cannot take, where it breaks and the nearest valid sizes (``below``/``above``, "" for none)."""
    from ..core.shapes import InvalidInputSize

    data = {"error": str(e)}
    if isinstance(e, InvalidInputSize):
        data.update(
            layer=e.layer or "", below="" if e.below is None else e.below, above="" if e.above is None else e.above
        )
    return data


def safe_view(view_fn: Callable[..., View], **values) -> View:
    """Call a view function; turn any failure into a message instead of a traceback.

    A ``ValueError`` (the views' way of saying "this setting cannot work") becomes the error view
    with :func:`error_data`; anything else is a bug, reported in one line, never as a traceback.
    """
    try:
        result = view_fn(**values)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError) as e:
        return error_view(str(e), **error_data(e))
    except MemoryError:
        return error_view("This setting needs more memory than the machine has. Try a smaller size.")
    except Exception as e:  # noqa: BLE001 - a widget never shows a traceback
        last = traceback.extract_tb(e.__traceback__)[-1]
        return error_view(
            f"Unexpected problem ({type(e).__name__}: {e}) in {last.name}. "
            "Try another setting; if it persists, tell your instructor."
        )
    if not isinstance(result, View):
        result = View(html=str(result))
    return result


def one_at_a_time():
    """A decorator factory: the callbacks it wraps never run at the same time.

    JupyterLab may deliver widget messages on several kernel threads (comms over subshells), so
    two control changes can run their updates concurrently, and the one for the *older* change
    could finish last and leave a stale view (an error message beside the previous figure). Each
    update reads the controls' values inside the lock, so the last one to run shows the newest
    settings. Callbacks sharing one factory call share one (re-entrant) lock.
    """
    lock = threading.RLock()

    def serial(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            with lock:
                return fn(*args, **kwargs)

        return wrapper

    return serial


def number_box(value: int, description: str, width: str | None = None, *, full_label: bool = False):
    """The one way a lesson builds a number control: an ``IntText``, never a slider, so that a value a student
    may get wrong (0, negative, odd) reaches the view unclamped and is explained there. ``width`` (e.g.
    ``"150px"``) sets the box's width; ``full_label`` shows a long description in full instead of cutting it."""
    import ipywidgets as W

    extra: dict[str, Any] = {}
    if full_label:
        extra["style"] = {"description_width": "initial"}
    if width:
        extra["layout"] = W.Layout(width=width)
    return W.IntText(value=value, description=description, **extra)


def choice_buttons(options, value: str, description: str, button_width: str | None = None):
    """A choice among a few words (``padding``: valid or same) as ``ToggleButtons``; with ``button_width``
    (e.g. ``"60px"``) the buttons are that wide and the description shows in full."""
    import ipywidgets as W

    extra: dict[str, Any] = {}
    if button_width:
        extra["style"] = {"description_width": "initial", "button_width": button_width}
    return W.ToggleButtons(options=list(options), value=value, description=description, **extra)


def window_boxes(size: int, kernel: int, stride: int, padding: int) -> dict:
    """A sliding-window layer's size controls (a conv in lesson 01, a pool in lesson 02): the input size, the
    kernel k, the stride s and the padding p per side, each a :func:`number_box`."""
    return {
        "size": number_box(size, "input size"),
        "kernel": number_box(kernel, "kernel k"),
        "stride": number_box(stride, "stride s"),
        "padding": number_box(padding, "padding p (per side)"),
    }


def defaults_of(controls: Mapping[str, Any]) -> dict:
    return {name: getattr(w, "value", w) for name, w in controls.items()}


def _accepted(view_fn: Callable, values: dict) -> dict:
    """The control values a view takes (all of them if it has ``**kwargs``)."""
    try:
        params = inspect.signature(view_fn).parameters
    except (TypeError, ValueError):
        return values
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return values
    return {k: v for k, v in values.items() if k in params}


def _panes(views) -> dict[str, Callable[..., View]]:
    return dict(views) if isinstance(views, Mapping) else {"": views}


def live(views, controls: Mapping[str, Any], css: str, *, title: str = "", dpi: int = 80):
    """Build the live widget: controls on top, the view below, updated on every change.

    ``views`` is one view function, or a mapping ``{name: view function}`` of panes shown one under
    the other and updated in that order (a quick table first, then a slower picture). Each view gets
    the control values it takes. When a pane shows an error, the panes after it are hidden, so one
    message says what is wrong. The box has ``.controls`` and ``.panes`` (``{name: (html, image)}``).
    """
    import ipywidgets as W

    panes = {}
    for name in _panes(views):
        html_out, image = W.HTML(), W.Image(format="png")
        html_out.add_class("ul-view")
        image.add_class("ul-figure")
        if name:
            html_out.add_class(f"{css}-{name}-note")
            image.add_class(f"{css}-{name}")
        panes[name] = (html_out, image)
    functions = _panes(views)
    boxes = []
    for name, w in controls.items():
        if hasattr(w, "add_class"):
            w.add_class(f"{css}-{name}")
            if getattr(w, "description", None) == "":
                w.description = name
            if hasattr(getattr(w, "style", None), "description_width"):
                w.style.description_width = "initial"
        boxes.append(w)

    @one_at_a_time()
    def update(*_):
        values = defaults_of(controls)  # read the controls inside the lock
        failed = False
        for name, (html_out, image) in panes.items():
            if failed:
                html_out.value, image.layout.display = "", "none"
                continue
            fn = functions[name]
            view = safe_view(fn, **_accepted(fn, values))
            html_out.value = view.body_html() if (view.html or view.error or view.data) else ""
            if view.figure is not None and view.ok:
                image.value = figure_png(view.figure, dpi=dpi, tight=view.tight)
                image.layout.display = None
            else:
                image.layout.display = "none"
            failed = not view.ok

    for w in controls.values():
        if hasattr(w, "observe"):
            w.observe(update, names="value")
    update()
    head = [W.HTML(f"<b>{html.escape(title)}</b>")] if title else []
    outputs = [w for pair in panes.values() for w in pair]
    box = W.VBox(head + [W.HBox(boxes, layout=W.Layout(flex_flow="row wrap"))] + outputs)
    box.add_class(css)
    box.add_class("ul-widget")
    box.controls = dict(controls)
    box.panes = panes
    return box


def static_view(views, controls: Mapping[str, Any]) -> str:
    """The HTML of every pane at the controls' current values (what a reader without a kernel sees)."""
    values = defaults_of(controls)
    parts = []
    for fn in _panes(views).values():
        view = safe_view(fn, **_accepted(fn, values))
        parts.append(view._repr_html_())
        if not view.ok:
            break
    return "".join(parts)


def show(views, controls: Mapping[str, Any], css: str, *, title: str = "", static: bool = True, dpi: int = 80):
    """Display a static view of the default setting (for readers without a kernel), then the live widget."""
    from IPython.display import HTML, display

    if static:
        display(
            HTML(
                "<div class='ul-static' style='color:#666;font-size:11px'>Static view at the default "
                "setting (the live widget below starts here):</div>" + static_view(views, controls)
            )
        )
    widget = live(views, controls, css, title=title, dpi=dpi)
    display(widget)
    return widget


@dataclass(frozen=True)
class Widget:
    """A lesson's widget, declared once in its module: the view (or panes), a factory of fresh controls,
    the CSS class (``ul-<topic>``, for tests and browsers) and a title. A notebook cell is just
    ``L.WIDGETS["conv"].show()``; tests call :meth:`view_at` without a browser."""

    views: Any
    controls: Callable[[], dict]
    css: str
    title: str = ""

    def show(self, static: bool = True, **values):
        """Display the static view, then the live widget; ``values`` change the controls' start values."""
        return show(self.views, self._controls(values), self.css, title=self.title, static=static)

    def build(self, **values):
        """The live widget object (not displayed)."""
        return live(self.views, self._controls(values), self.css, title=self.title)

    def view_at(self, **values) -> list[View]:
        """Every pane's view at the controls' default values (changed by ``values``), as the widget shows it."""
        current = {**defaults_of(self.controls()), **values}
        return [safe_view(fn, **_accepted(fn, current)) for fn in _panes(self.views).values()]

    def _controls(self, values: dict) -> dict:
        controls = self.controls()
        unknown = set(values) - set(controls)
        if unknown:
            raise TypeError(f"unknown control(s) {sorted(unknown)} for {self.css}; its controls: {sorted(controls)}")
        for name, value in values.items():
            controls[name].value = value
        return controls
