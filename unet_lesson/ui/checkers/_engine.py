r"""The machinery every code checker shares: run the student's code case by case, stop at the
first case that disagrees with the real layer, and say so in words.

A checker is a function ``body(run, student) -> str`` wrapped by :func:`checker`; the wrapper
turns it into ``check(student) -> CaseResult`` that never raises:

* a stub (a function whose body is only ``...``, ``pass`` or a docstring, one that raises
  ``NotImplementedError`` before any case passed, or returns ``...``; a class whose
  ``forward``/``__init__`` are such stubs) is "not attempted";
* an exception in the student's code is reported as the case that raised, with its type
  and message (its first line), never a traceback;
* the first failing case ends the check (``Failed``), so slow code is not run on many cases.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import time
import types
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

__all__ = [
    "CaseResult",
    "Failed",
    "Run",
    "checker",
    "stub_reason",
    "as_whole",
    "as_array",
    "describe",
    "shape_words",
    "compare_arrays",
    "matching_slip",
    "layers_in_call_order",
    "line_up",
    "copy_weights",
    "n_params",
    "source_of",
]


@dataclass(frozen=True)
class CaseResult:
    """What a checker found. ``status``: "correct", "wrong" or "not attempted"."""

    status: str
    message: str
    case: str = ""  # the failing case, in words
    diagnosis: str = ""  # a nudge when a known slip matches
    cases: int = 0  # how many cases agreed before the end

    @property
    def passed(self) -> bool | None:
        return None if self.status == "not attempted" else self.status == "correct"

    def __bool__(self) -> bool:
        return self.status == "correct"


class Failed(Exception):
    """Ends a check early with ``result`` (internal to the checkers)."""

    def __init__(self, result: CaseResult):
        super().__init__(result.message)
        self.result = result


def describe(value: Any, limit: int = 120) -> str:
    """A short, safe description of a value the student's code returned."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return f"an array of shape {tuple(value.shape)}"
    try:
        text = repr(value)
    except Exception:
        text = f"<a {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(exc: BaseException, limit: int = 240) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------
# stubs
# ------------------------------------------------------------------------------------------
def _stub_bodies() -> set[bytes]:
    """The bytecode of ``pass``, ``...`` and docstring-only bodies, in this Python version."""

    def a():
        pass  # noqa: E704

    def b(*args, **kwargs): ...  # noqa: E704

    def c(self, x):
        """doc"""

    def d(self, x):
        """doc"""
        ...

    def e(self, x):
        """doc"""
        pass

    return {f.__code__.co_code for f in (a, b, c, d, e)}


_STUB_BODIES = _stub_bodies()


def _is_stub_function(fn: Any) -> bool:
    code = getattr(inspect.unwrap(fn), "__code__", None) if callable(fn) else None
    return code is not None and code.co_code in _STUB_BODIES


def stub_reason(obj: Any) -> str | None:
    """Why ``obj`` is still a stub (the student has not written it yet), or None."""
    if obj is ... or obj is None:
        return "replace the ... with your code, run the cell, then run this check."
    if isinstance(obj, nn.Module):  # an instance: judge its class
        obj = type(obj)
    if isinstance(obj, type):
        name = obj.__name__
        if issubclass(obj, nn.Module):
            if obj.forward is nn.Module.forward:
                return f"{name} has no forward method yet: write it, run the cell, then run this check."
            if _is_stub_function(obj.forward):
                return f"{name}.forward is still a stub: write its body, run the cell, then run this check."
            if "__init__" in vars(obj) and _is_stub_function(vars(obj)["__init__"]):
                return f"{name}.__init__ is still a stub: build the layers there, then run this check."
            return None
        own = [v for v in vars(obj).values() if isinstance(v, types.FunctionType)]
        if own and all(_is_stub_function(f) for f in own):
            return f"the methods of {name} are still stubs: write them, run the cell, then run this check."
        return None
    if isinstance(obj, (types.FunctionType, types.MethodType, functools.partial)) and _is_stub_function(
        obj.func if isinstance(obj, functools.partial) else obj
    ):
        name = getattr(obj, "__name__", "your function")
        return f"the body of {name} is still a stub: write it, run the cell, then run this check."
    return None


# ------------------------------------------------------------------------------------------
# one run of a checker
# ------------------------------------------------------------------------------------------
class Run:
    """Calls the student's code case by case and keeps count; ``real`` names the reference layer."""

    def __init__(self, real: str, budget_s: float = 10.0, error_hint: Callable[[BaseException], str] | None = None):
        self.real, self.budget_s, self.error_hint = real, budget_s, error_hint
        self.passed = 0
        self.started = time.perf_counter()

    def result(self, status: str, message: str, case: str = "", diagnosis: str = "") -> CaseResult:
        return CaseResult(status, message, case, diagnosis, self.passed)

    def fail(self, message: str, case: str = "", diagnosis: str = "") -> Failed:
        return Failed(self.result("wrong", message, case, diagnosis))

    def call(self, case: str, fn: Callable, *args, what: str = "yours", **kwargs) -> Any:
        """``fn(*args, **kwargs)``; an exception becomes a wrong (or not attempted) result naming ``case``."""
        try:
            value = fn(*args, **kwargs)
        except NotImplementedError as exc:
            if self.passed == 0:
                raise Failed(
                    self.result(
                        "not attempted",
                        "your code still raises NotImplementedError: write it, run the cell, then run this check.",
                    )
                ) from None
            raise self.fail(
                f"for {case} {what} raised NotImplementedError {_first_line(exc)}".rstrip() + ".", case
            ) from None
        except KeyboardInterrupt:
            raise self.fail(
                f"the check was interrupted while running {case}: is there an endless loop?", case
            ) from None
        except (Exception, SystemExit) as exc:  # SystemExit: a sys.exit() in the student's code
            hint = ""
            if self.error_hint is not None:
                try:
                    hint = self.error_hint(exc) or ""
                except Exception:
                    hint = ""
            raise self.fail(f"for {case} {what} raised {type(exc).__name__}: {_first_line(exc)}", case, hint) from None
        if value is ... and self.passed == 0:
            raise Failed(
                self.result(
                    "not attempted", "your code still returns ...: write it, run the cell, then run this check."
                )
            )
        return value

    def each(self, cases: Sequence[Any]) -> Iterator[Any]:
        """Each case in turn; one that the loop's body passes (without raising) is counted by :meth:`ok`,
        which stops a too slow student's code before the next."""
        for n, case in enumerate(cases):
            yield case
            self.ok(remaining=n < len(cases) - 1)

    def agreed(self, covers: str, real: str | None = None) -> str:
        """The success message: every case counted agrees with ``real`` (default the checker's), and what
        the cases cover."""
        return f"all {self.passed} cases agree with {real or self.real}: {covers}"

    def ok(self, remaining: bool = True) -> None:
        """One more case agreed; stop if the code is too slow to run the rest."""
        self.passed += 1
        spent = time.perf_counter() - self.started
        if remaining and spent > self.budget_s:
            raise self.fail(
                f"your code took {spent:.0f} s for the first {self.passed} cases (the real layer "
                "takes milliseconds), so the check stopped there. Keep loops to the output's pixels."
            )


def checker(
    real: str,
    reference: Any,
    needs: Sequence[Any] = (),
    budget_s: float = 10.0,
    error_hint: Callable[[BaseException], str] | None = None,
):
    """Make ``body(run, student) -> success message`` a checker ``check(student) -> CaseResult``.

    The checker carries its ``reference`` (the correct implementation) and the
    ``solution_source`` a student sees (the sources of ``needs`` first, then the reference's).
    """

    def wrap(body: Callable[[Run, Any], str]) -> Callable[[Any], CaseResult]:
        @functools.wraps(body)
        def check(student: Any) -> CaseResult:
            reason = stub_reason(student)
            if reason:
                return CaseResult("not attempted", reason)
            if not callable(student):
                return CaseResult("wrong", f"{describe(student)} is not code: pass your function or class itself.")
            run = Run(real, budget_s, error_hint)
            try:
                message = body(run, student)
            except Failed as failed:
                return failed.result
            except Exception as exc:  # the student's code gave something the check could not handle
                return run.result(
                    "wrong", f"the check could not use what your code gave ({type(exc).__name__}: {_first_line(exc)})."
                )
            return run.result("correct", message or f"all {run.passed} cases agree with {real}.")

        check.reference = reference
        check.solution_source = "\n\n".join(source_of(obj) for obj in (*needs, reference))
        check.real = real
        return check

    return wrap


def source_of(obj: Any) -> str:
    try:
        return inspect.getsource(obj).rstrip() + "\n"
    except (OSError, TypeError):
        return ""


# ------------------------------------------------------------------------------------------
# values
# ------------------------------------------------------------------------------------------
def as_whole(value: Any) -> int | None:
    """An int for a whole number (int, 570.0, numpy int, 0-d tensor); None otherwise (bools too)."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        return int(v) if math.isfinite(v) and v.is_integer() else None
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        try:
            return as_whole(value.item())
        except Exception:
            return None
    return None


def as_array(value: Any) -> np.ndarray | None:
    """A float64 numpy array for an array, a tensor or nested lists of numbers; None otherwise."""
    try:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().double().numpy()
        arr = np.asarray(value, dtype=np.float64)
    except Exception:
        return None
    return arr if arr.dtype == np.float64 else None


def shape_words(shape: Iterable[int]) -> str:
    return "×".join(str(int(s)) for s in shape)


def matching_slip(yours: Any, slips: Sequence[tuple[Callable[[], Any], str]], same: Callable[[Any, Any], bool]) -> str:
    """The nudge of the first known slip whose result equals the student's (``same``), or ""."""
    for compute, nudge in slips:
        try:
            if same(yours, compute()):
                return nudge
        except Exception:
            continue
    return ""


def _close(a: np.ndarray, b: Any, atol: float = 1e-5) -> bool:
    b = as_array(b)
    return b is not None and a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-5, atol=atol))


def compare_arrays(
    run: Run,
    case: str,
    yours: Any,
    real: np.ndarray,
    *,
    slips: Sequence[tuple[Callable[[], Any], str]] = (),
    shape_hint: Callable[[tuple], str] | None = None,
    hint: str = "",
    atol: float = 1e-5,
) -> None:
    """Fail unless ``yours`` has ``real``'s shape and values; name the first difference.

    The diagnosis is the first of ``slips`` whose result equals yours, else ``hint`` (and, for a
    wrong shape, ``shape_hint(your_shape)``)."""
    arr = as_array(yours)
    if arr is None:
        what = "None (is the return missing?)" if yours is None else describe(yours)
        raise run.fail(
            f"for {case} yours gives {what}, not an array of numbers; {run.real} gives an array of "
            f"shape {tuple(real.shape)}.",
            case,
        )
    diagnosis = matching_slip(arr, slips, lambda a, b: _close(a, b, atol)) or hint
    if arr.shape != real.shape:
        if not diagnosis and shape_hint is not None:
            diagnosis = shape_hint(arr.shape)
        raise run.fail(
            f"for {case} yours has shape {tuple(arr.shape)}, {run.real} gives shape {tuple(real.shape)}.",
            case,
            diagnosis,
        )
    if not np.allclose(arr, real, rtol=1e-5, atol=atol):
        bad = np.argwhere(~np.isclose(arr, real, rtol=1e-5, atol=atol))
        where = tuple(int(i) for i in bad[0]) if len(bad) else ()
        index = "[" + ", ".join(map(str, where)) + "]"
        raise run.fail(
            f"for {case} yours gives {arr[where]:g} at {index}, {run.real} gives {real[where]:g} "
            f"({len(bad)} of {real.size} values differ).",
            case,
            diagnosis,
        )


# ------------------------------------------------------------------------------------------
# modules: layers in the order the forward pass uses them, weights copied across
# ------------------------------------------------------------------------------------------
def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _own_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    return {**dict(module.named_parameters(recurse=False)), **dict(module.named_buffers(recurse=False))}


def layers_in_call_order(
    run: Run, case: str, model: nn.Module, *inputs: torch.Tensor, what: str = "yours"
) -> tuple[list[tuple[str, nn.Module]], Any]:
    """The modules that hold weights, in the order ``model(*inputs)`` first calls them (those never
    called follow, in registration order), and the output. Exceptions fail ``run`` naming ``case``."""
    order: list[tuple[str, nn.Module]] = []
    seen: set[int] = set()
    holders = [(n, m) for n, m in model.named_modules() if _own_tensors(m)]
    names = {id(m): n for n, m in holders}

    def note(module, _args):
        if id(module) not in seen:
            seen.add(id(module))
            order.append((names[id(module)], module))

    handles = [m.register_forward_pre_hook(note) for _, m in holders]
    try:
        out = run.call(case, model, *inputs, what=what)
    finally:
        for h in handles:
            h.remove()
    order += [(n, m) for n, m in holders if id(m) not in seen]
    return order, out


def _layer_words(name: str, module: nn.Module) -> str:
    tensors = ", ".join(f"{k} {shape_words(t.shape)}" for k, t in module.named_parameters(recurse=False))
    return f"'{name}' ({type(module).__name__}{': ' + tensors if tensors else ''})"


def line_up(yours: list[tuple[str, nn.Module]], real: list[tuple[str, nn.Module]], real_name: str) -> str:
    """ "" when the layers with weights match one to one (same tensors, same shapes, in call order);
    otherwise the first difference in words."""
    for i, ((yn, ym), (rn, rm)) in enumerate(zip(yours, real), 1):
        mine, theirs = _own_tensors(ym), _own_tensors(rm)
        if {k: tuple(t.shape) for k, t in mine.items()} != {k: tuple(t.shape) for k, t in theirs.items()}:
            return (
                f"your layer {i} with weights (in the order the forward pass uses them), {_layer_words(yn, ym)}, "
                f"differs from {real_name}'s {_layer_words(rn, rm)}."
            )
    if len(yours) != len(real):
        return f"yours has {len(yours)} layers with weights, {real_name} has {len(real)}."
    return ""


def copy_weights(
    run: Run,
    case: str,
    yours: list[tuple[str, nn.Module]],
    real: list[tuple[str, nn.Module]],
    real_name: str,
    model: nn.Module | None = None,
) -> None:
    """Copy ``real``'s weights (and batch-norm statistics) into ``yours``, layer by layer in call order,
    after checking that they line up (else fail, saying where they part). When the call order does not
    line up but ``model``'s registration order does (a layer's weights used through torch.nn.functional),
    that order is used."""
    difference = line_up(yours, real, real_name)
    if difference and model is not None:
        registered = [(n, m) for n, m in model.named_modules() if _own_tensors(m)]
        if not line_up(registered, real, real_name):
            yours, difference = registered, ""
    if difference:
        raise run.fail(f"for {case} the layers cannot be given the same weights: {difference}", case)
    with torch.no_grad():
        for (_, ym), (_, rm) in zip(yours, real):
            theirs = _own_tensors(rm)
            for k, t in _own_tensors(ym).items():
                t.copy_(theirs[k])
