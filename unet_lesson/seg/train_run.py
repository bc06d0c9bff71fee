"""The bookkeeping of one :func:`~unet_lesson.seg.train.train` call: what it has done, the best weights, what
is saved, and how it ends.

* :class:`History`, :class:`TrainResult` - what a run records and returns;
* :class:`TrainingRun` - the run's state; :meth:`TrainingRun.finish` always ends the same way, however the
  loop stopped: the best weights back in the model, eval mode, whatever is not saved yet saved (a second
  Ctrl-C while saving is noted, the earlier file stays whole), one line saying what happened;
* :func:`ctrl_c_once` - while training, the first Ctrl-C stops the loop; later ones are only noted, and
  a Ctrl-C inside :meth:`TrainingRun.uncut` (an optimizer step and its bookkeeping) waits until it ends.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core.model import UNet
from .checkpoints import _cpu_state, save_checkpoint
from .train_checks import finite_state

__all__ = ["History", "TrainResult", "TrainingRun", "shielded", "ctrl_c_once"]


@dataclass
class History:
    """Loss per step; Dice/IoU on the held-out set at each evaluation, with training seconds."""

    loss: list = field(default_factory=list)
    eval_step: list = field(default_factory=list)
    dice: list = field(default_factory=list)
    iou: list = field(default_factory=list)
    seconds: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(**{k: list(v) for k, v in d.items()})


@dataclass
class TrainResult:
    """What :func:`train` did; ``model`` holds the best weights (by held-out Dice), in eval mode."""

    model: UNet
    history: History
    steps: int  # optimizer steps done in total (including resumed ones)
    seconds: float  # training time (without evaluation), including resumed runs
    best_dice: float | None
    best_step: int | None
    time_to_target: float | None  # training seconds when held-out Dice first reached target_dice
    interrupted: bool
    device: str
    diverged: bool = False  # stopped because the loss or the weights became NaN or infinite
    message: str = ""  # one line when the run stopped early or had nothing to do (also printed)

    def __repr__(self) -> str:
        best = "n/a" if self.best_dice is None else f"{self.best_dice:.4f} at step {self.best_step}"
        flags = "".join(f", {w}" for w, on in (("interrupted", self.interrupted), ("diverged", self.diverged)) if on)
        return (
            f"TrainResult(steps={self.steps}, {self.seconds:.1f} s on {self.device}, best held-out Dice {best}{flags})"
        )


def shielded(run: "TrainingRun", fn):
    """Call ``fn``; a Ctrl-C while it runs is noted and ``fn`` run again (it must be repeatable)."""
    for _ in range(5):
        try:
            return fn()
        except KeyboardInterrupt:
            run.interrupted = True
    return fn()


class TrainingRun:
    """The state of one call of :func:`train`: what it has done, the best weights, what is saved."""

    def __init__(self, model: UNet, save=save_checkpoint, lesson_lr: float = 5e-3):
        self.model, self.s, self.opt, self._save, self.lesson_lr = model, None, None, save, lesson_lr
        self.history, self.step, self.start, self.seconds, self.hit = History(), 0, 0, 0.0, None
        self.best_dice = self.best_step = self.best_metrics = self.best_state = None
        self.last_good, self.last_good_step = None, None
        self.saved_last_step = self.saved_best_step = None
        self.started = self.interrupted = self.mid_step = self.stopping = self.pending = False
        self.critical = 0
        self.diverged, self.why = False, ""
        self.bar = self.threads = None
        self.notes: list[str] = []

    # ---- checkpoints: every save goes through save_checkpoint ------------------------------------------
    @property
    def folder(self) -> Path | None:
        return self.s.checkpoint_dir if self.s is not None else None

    def save_best(self):
        if self.folder is not None and self.best_state is not None:
            self._save(
                self.folder / "best.pt",
                self.model,
                state_dict=self.best_state,
                step=self.best_step,
                dice=self.best_metrics["dice"],
                iou=self.best_metrics["iou"],
            )
            self.saved_best_step = self.best_step

    def save_last(self, state=None):
        s = self.s
        if self.folder is not None:
            self._save(
                self.folder / "last.pt",
                self.model,
                state_dict=state,
                optimizer=self.opt.state_dict(),
                step=self.step,
                seconds=self.seconds,
                history=self.history.as_dict(),
                best_dice=self.best_dice,
                best_step=self.best_step,
                time_to_target=self.hit,
                lr=s.lr,
                batch_size=s.batch_size,
                tile=s.tile,
                seed=s.seed,
            )
            self.saved_last_step = self.step

    def restore(self, last: dict, best: dict | None):
        """Continue from ``last.pt`` (and keep ``best.pt``'s weights as the best so far)."""
        self.start = self.step = self.saved_last_step = int(last["step"])
        self.model.load_state_dict(last["state_dict"])
        self.opt.load_state_dict(last["optimizer"])
        self.seconds = float(last["seconds"])
        self.history = History.from_dict(last["history"])
        self.best_dice, self.best_step = last.get("best_dice"), last.get("best_step")
        self.hit = last.get("time_to_target")
        if best is not None:
            self.best_state, self.saved_best_step = best["state_dict"], self.best_step
            self.best_metrics = {"dice": best.get("dice", self.best_dice), "iou": best.get("iou")}

    @contextmanager
    def uncut(self):
        """A block a Ctrl-C must not cut in half (an optimizer step, building the optimizer, which imports
        parts of torch on first use): a Ctrl-C inside is raised as KeyboardInterrupt right after it."""
        self.critical += 1
        try:
            yield
        finally:
            self.critical -= 1
        if self.pending and not self.critical and not self.stopping:
            self.pending, self.stopping = False, True
            raise KeyboardInterrupt

    def finite(self) -> bool:
        return finite_state(self.model.state_dict())

    def diverge(self, why: str):
        self.diverged, self.why = True, f"Training diverged: {why}"

    # ---- the end: the best weights in the model, eval mode, what is not saved yet, one line ------------
    def finish(self) -> TrainResult:
        self.stopping = True  # from here on a Ctrl-C is only noted (see ctrl_c_once)
        shielded(self, self._close)
        model, last_state = self.model, None
        if self.mid_step:  # the weights may be half-updated: they are neither saved nor kept
            if self.folder is not None and self.saved_last_step is not None:
                self.notes.append(
                    f"Ctrl-C came during an optimizer step, so last.pt stays at step {self.saved_last_step}"
                )
        elif (
            self.started
            and not self.diverged
            and self.folder is not None
            and self.step > self.start
            and self.step != self.saved_last_step
        ):
            last_state = shielded(self, lambda: _cpu_state(model))
        keep = self.best_state
        if keep is None and (self.diverged or self.mid_step):
            keep = self.last_good

        def put_back():
            if keep is not None:
                model.load_state_dict(keep)
            model.eval()

        shielded(self, put_back)
        if self.started and self.folder is not None:
            if self.saved_best_step != self.best_step:
                self._try_save(
                    self.save_best,
                    f"best.pt (held-out Dice {self.best_dice or 0:.3f} at step {self.best_step}) was not saved",
                )
            if last_state is not None:
                self._try_save(lambda: self.save_last(last_state), f"last.pt was not updated to step {self.step}")
        message = self._message()
        if message:
            print(message)
        s = self.s
        return TrainResult(
            model,
            self.history,
            self.step,
            self.seconds,
            self.best_dice,
            self.best_step,
            self.hit,
            self.interrupted,
            str(s.device) if s else "n/a",
            self.diverged,
            message,
        )

    def _close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.threads is not None:
            threads, self.threads = self.threads, None
            threads.__exit__(None, None, None)

    def _try_save(self, save, what: str):
        try:
            save()
        except KeyboardInterrupt:
            self.interrupted = True
            self.notes.append(f"{what} (Ctrl-C again while saving; the file there is the earlier one, intact)")

    def _holds(self) -> str:
        if self.best_state is not None:
            return f"the best weights (held-out Dice {self.best_dice:.3f} at step {self.best_step})"
        if self.diverged or self.mid_step:
            return (
                f"the weights of step {self.last_good_step}"
                if self.last_good_step
                else "the weights it had before this run"
            )
        return f"its weights after step {self.step}" if self.step else "its initial weights, unchanged"

    def _message(self) -> str:
        s = self.s
        if not self.started:
            return (
                "Training stopped by Ctrl-C before the first step: the model is unchanged (eval mode)."
                if self.interrupted
                else ""
            )
        saved = self.folder is not None and self.saved_last_step is not None
        where = f"; continue with resume=True (checkpoints in {self.folder})" if saved else ""
        if self.diverged:
            lesson_lr = self.lesson_lr
            smaller = f"lr={s.lr / 10:g}" if s.lr <= 10 * lesson_lr else f"the lesson's lr={lesson_lr:g}"
            text = (
                f"{self.why}. The learning rate lr={s.lr:g} is probably too large for this network: try a "
                f"smaller one, e.g. {smaller}. The model holds "
                f"{self._holds()}, in eval mode; nothing NaN was saved."
            )
        elif self.interrupted:
            text = (
                f"Stopped by Ctrl-C at step {self.step} of {s.steps}: the model holds {self._holds()}, in eval "
                f"mode{where}."
            )
        elif self.start >= s.steps:
            text = (
                f"Nothing to train: the run in {self.folder} is already at step {self.start} and steps={s.steps} "
                "is the total. Give a larger steps to train further."
            )
        else:
            text = ""
        return " ".join([text] + [f"Note: {n}." for n in self.notes]).strip()


@contextmanager
def ctrl_c_once(run: TrainingRun):
    """While ``train`` runs, the first Ctrl-C raises KeyboardInterrupt (the loop stops where it is); every
    later one is only noted, so the finish (best weights back, eval mode, the last saves) always completes.
    Only where Ctrl-C means KeyboardInterrupt (Python's default handler, as in Jupyter), in the main thread."""
    installed = False
    if threading.current_thread() is threading.main_thread():
        old = signal.getsignal(signal.SIGINT)
        if old is signal.default_int_handler:

            def on_ctrl_c(signum, frame):
                run.interrupted = True
                if run.critical:  # inside a step that must not be cut in half: raise right after it
                    run.pending = True
                elif not run.stopping:
                    run.stopping = True
                    raise KeyboardInterrupt

            signal.signal(signal.SIGINT, on_ctrl_c)
            installed = True
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGINT, old)
