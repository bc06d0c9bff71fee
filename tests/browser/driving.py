"""How a browser test drives a lesson widget and checks what it shows.

A widget is described by a :class:`WidgetDrive`: its CSS class (``ul-<topic>``), how to read
each control's shown value back into Python, the expected numbers as a function of the
controls (computed by ``unet_lesson``, never hard-coded), the visible texts (a formula, a
count) and a list of steps (press keys on a slider, type a value, pick a dropdown entry).

After every step the test reads *all* controls back from the page (what the student sees
set), calls ``expected(**settings)`` and waits until the widget's ``.ul-view-body`` carries
those numbers as ``data-ul-<name>`` attributes and its visible text contains ``texts(**settings)``.
When ``expected`` raises ``ValueError`` for the settings (an impossible size), the widget must
show ``.ul-error`` with the message (``error_texts``) and no stale numbers are checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

# --------------------------------------------------------------------------------------
# steps
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Press:
    """Press ``key`` ``times`` on a slider's handle (ArrowRight, ArrowLeft, Home, End, PageUp...), or
    in a number box (ArrowUp, ArrowDown; then Enter, which a box needs to send its value)."""

    control: str
    key: str = "ArrowRight"
    times: int = 1
    invalid: bool = False

    def perform(self, control) -> None:
        handle = control.locator(".noUi-handle")
        target = handle.first if handle.count() else control.locator("input").first
        target.focus()
        for _ in range(self.times):
            target.press(self.key)
        if not handle.count():
            target.press("Enter")

    def __str__(self) -> str:
        return f"press {self.key} x{self.times} on {self.control}"


@dataclass(frozen=True)
class Type:
    """Type ``value`` into a text box (then Enter) or into a slider's readout (Ctrl+A, value, Enter)."""

    control: str
    value: Any
    invalid: bool = False

    def perform(self, control) -> None:
        readout = control.locator(".widget-readout")
        if readout.count():
            readout.first.click()
            readout.first.press("Control+A")
            readout.first.type(str(self.value))
            readout.first.press("Enter")
            return
        box = control.locator("input, textarea").first
        box.click()
        box.fill(str(self.value))
        box.press("Enter")

    def __str__(self) -> str:
        return f"type {self.value!r} into {self.control}"


@dataclass(frozen=True)
class Select:
    """Choose the entry labelled ``label`` in a dropdown (or a toggle/radio button with that label)."""

    control: str
    label: str
    invalid: bool = False

    def perform(self, control) -> None:
        select = control.locator("select")
        if select.count():
            select.first.select_option(label=self.label)
            return
        radio = control.locator("label", has_text=re.compile(rf"^\s*{re.escape(self.label)}\s*$"))
        if radio.count():
            radio.first.click()
            return
        control.get_by_role("button", name=self.label, exact=True).first.click()

    def __str__(self) -> str:
        return f"select {self.label!r} in {self.control}"


@dataclass(frozen=True)
class Toggle:
    """Click a checkbox or a single toggle button."""

    control: str
    invalid: bool = False

    def perform(self, control) -> None:
        box = control.locator("input[type=checkbox]")
        (box.first if box.count() else control).click()

    def __str__(self) -> str:
        return f"toggle {self.control}"


Step = Press | Type | Select | Toggle

# --------------------------------------------------------------------------------------
# reading controls back
# --------------------------------------------------------------------------------------
_READ_JS = """el => {
  const sel = el.querySelector('select');
  if (sel) return sel.selectedIndex >= 0 ? sel.options[sel.selectedIndex].text : null;
  const readout = el.querySelector('.widget-readout');
  if (readout)
    return (readout.value !== undefined && readout.tagName === 'INPUT') ? readout.value
                                                                        : readout.textContent.trim();
  const cb = el.querySelector('input[type=checkbox]');
  if (cb) return cb.checked;
  if (el.classList.contains('widget-toggle-button')) return el.classList.contains('mod-active');
  const radio = el.querySelector('input[type=radio]:checked');
  if (radio) return radio.parentElement.textContent.trim();
  const active = el.querySelector('button.mod-active');
  if (active) return active.textContent.trim();
  const box = el.querySelector('input, textarea');
  if (box) return box.value;
  return null;
}"""


def expect_attribute(expect, locator, name: str, value, message: str, timeout_s: float = 30.0) -> None:
    """Wait until ``locator`` has attribute ``name`` equal to ``str(value)`` (a pattern: matching it;
    a float: within 1e-6 relative, since a slider's 10.00 may be 10.000000000000002 in the kernel)."""
    import time

    if not isinstance(value, float):
        expect(locator, message).to_have_attribute(name, value if isinstance(value, re.Pattern) else str(value))
        return
    deadline, shown = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        shown = locator.get_attribute(name, timeout=timeout_s * 1000)
        try:
            if shown is not None and abs(float(shown) - value) <= 1e-6 * max(1.0, abs(value)):
                return
        except ValueError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{message}\nExpected value: {value!r} (within 1e-6)\nActual value: {shown!r}")


def read_control(control) -> Any:
    return control.evaluate(_READ_JS)


# --------------------------------------------------------------------------------------
# the table entry
# --------------------------------------------------------------------------------------
Converter = Callable[[Any], Any] | Mapping[str, Any]


def _convert(conv: Converter, shown: Any) -> Any:
    if isinstance(conv, Mapping):
        return conv[shown]
    return conv(shown)


def message_of(fn: Callable, **settings) -> str | None:
    """The ``ValueError`` message ``fn(**settings)`` raises, or None when it does not raise."""
    try:
        fn(**settings)
    except ValueError as e:
        return str(e)
    return None


@dataclass
class WidgetDrive:
    """One widget of a notebook: how to find it, read it, drive it and what it must show.

    ``expected(**settings) -> {name: value}``: the numbers the view must carry as
    ``data-ul-<name>`` (compared as ``str(value)``, or matched when a ``re.Pattern``); raise ``ValueError`` for a
    setting that
    cannot work. ``texts(**settings) -> [str]``: strings the visible view must contain.
    ``error_texts(message, **settings) -> [str]``: what ``.ul-error`` must contain for an
    invalid setting (default: the ``ValueError``'s message itself); ``error_data(**settings)``:
    numbers the view must still carry then (e.g. the nearest valid sizes). ``more``: other
    outputs of the widget (a CSS selector inside the box) and the data they must carry.
    """

    css: str
    controls: dict[str, Converter]
    expected: Callable[..., dict]
    steps: Sequence[Step]
    texts: Callable[..., Sequence[str]] = lambda **_: ()
    error_texts: Callable[..., Sequence[str]] | None = None
    error_data: Callable[..., dict] = lambda **_: {}
    more: dict[str, Callable[..., dict]] = field(default_factory=dict)  # other outputs: selector -> expected data
    index: int = 0  # which .{css} box on the page, when a notebook shows the same widget twice
    no_invalid_reason: str = ""  # why no control can reach an invalid setting (sliders whose range is all valid)

    def box(self, page):
        return page.locator(f".{self.css}").nth(self.index)

    def read(self, page) -> dict:
        box = self.box(page)
        settings = {}
        for name, conv in self.controls.items():
            control = box.locator(f".{self.css}-{name}").first
            shown = read_control(control)
            try:
                settings[name] = _convert(conv, shown)
            except (ValueError, KeyError, TypeError) as e:
                raise AssertionError(f"{self.css}-{name} shows {shown!r}, which cannot be read back ({e})") from e
        return settings

    def check(self, page, expect, context: str) -> dict:
        """Read the controls, compute what unet_lesson says, wait until the widget shows exactly that."""
        settings = self.read(page)
        box = self.box(page)
        body = box.locator(".ul-view .ul-view-body").first
        error = box.locator(".ul-view .ul-error")
        try:
            want = self.expected(**settings)
        except ValueError as e:
            msg = str(e)
            expect(error, f"{context}: {settings} is invalid ({msg}); the widget must say so").to_be_visible()
            texts = self.error_texts(msg, **settings) if self.error_texts else [msg]
            for text in texts:
                expect(error, f"{context}: error message for {settings}").to_contain_text(_normalise(text))
            figures = box.locator(".ul-figure")
            for i in range(figures.count()):  # no stale picture next to the message
                expect(figures.nth(i), f"{context}: figure {i} must hide while the setting is invalid").to_be_hidden()
            for name, value in self.error_data(**settings).items():
                if value is not None:
                    expect_attribute(
                        expect, body, f"data-ul-{name}", value, f"{context}: data-ul-{name} for invalid {settings}"
                    )
            return {"settings": settings, "error": msg}
        for name, value in want.items():
            expect_attribute(expect, body, f"data-ul-{name}", value, f"{context}: data-ul-{name} for {settings}")
        expect(error, f"{context}: {settings} is valid; no error may show").to_have_count(0)
        for selector, fn in self.more.items():
            other = box.locator(selector).first
            for name, value in fn(**settings).items():
                expect_attribute(
                    expect, other, f"data-ul-{name}", value, f"{context}: {selector} data-ul-{name} for {settings}"
                )
        view = box.locator(".ul-view").first
        for text in self.texts(**settings):
            expect(view, f"{context}: visible text for {settings}").to_contain_text(_normalise(text))
        return {"settings": settings, "expected": want}

    def drive(self, page, expect, error_shot=None) -> list[dict]:
        """Check the start state, then perform every step and check again; returns the log.

        ``error_shot``: a path for a screenshot of the widget's first error message.
        """
        expect(self.box(page), f"widget .{self.css} must render").to_be_visible(timeout=60_000)
        self.box(page).scroll_into_view_if_needed()
        log = [self.check(page, expect, f".{self.css} at start")]
        for step in self.steps:
            before = log[-1]["settings"]
            control = self.box(page).locator(f".{self.css}-{step.control}").first
            expect(control, f"control .{self.css}-{step.control}").to_be_visible()
            step.perform(control)
            entry = self.check(page, expect, f".{self.css} after '{step}'")
            entry["step"] = str(step)
            # a step that changes nothing could not catch a wrong number: that is a bug in the drive
            assert entry["settings"] != before, f"'{step}' did not change the settings {before} (drive bug?)"
            invalid = "error" in entry
            assert invalid == step.invalid, (
                f"'{step}' gives {entry['settings']}, which unet_lesson says is "
                f"{'invalid' if invalid else 'valid'}, but the drive marks it invalid={step.invalid}"
            )
            if invalid and error_shot is not None:
                settle(self.box(page))
                self.box(page).scroll_into_view_if_needed()
                page.screenshot(path=str(error_shot))
                error_shot = None
            log.append(entry)
        assert any(s.invalid for s in self.steps) or self.no_invalid_reason, (
            f"the drive of .{self.css} must try one invalid setting (or say why none is reachable)"
        )
        return log


_SETTLED_JS = """([el, quietMs]) => {
  const now = Date.now(), html = el.innerHTML;
  if (el.__ulLast !== html) { el.__ulLast = html; el.__ulSince = now; return false; }
  return now - el.__ulSince >= quietMs;
}"""


def settle(locator, quiet_ms: int = 800, timeout_ms: int = 30_000) -> None:
    """Wait until the element's HTML has not changed for ``quiet_ms`` (a figure arrives after the text)."""
    handle = locator.element_handle(timeout=timeout_ms)
    locator.page.wait_for_function(_SETTLED_JS, arg=[handle, quiet_ms], timeout=timeout_ms, polling=100)


def _normalise(text):
    if isinstance(text, re.Pattern):
        return text
    return re.sub(r"\s+", " ", str(text)).strip()


def number(value) -> re.Pattern:
    """A visible number on its own (570 must not match inside 5700), with or without thousands separators."""
    plain = str(value)
    grouped = f"{value:,}" if isinstance(value, int) else plain
    alts = "|".join(
        v.replace(".", r"\.") for v in {plain, grouped, grouped.replace(",", " "), grouped.replace(",", "\u202f")}
    )
    return re.compile(rf"(?<![\d.,]){'(?:' + alts + ')'}(?![\d]|[.,]\d)")


@dataclass
class NotebookDrive:
    """A notebook and the widgets a test drives in it (empty: run it, check it shows no widget)."""

    path: str  # relative to the repository root
    widgets: list[WidgetDrive] = field(default_factory=list)
    run_timeout_s: float = 120.0

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1].removesuffix(".ipynb")
