"""The student's environment: versions, and which device the course computes on."""

from __future__ import annotations

import platform
import sys
from contextlib import contextmanager

__all__ = ["get_device", "environment_report", "print_environment", "seeded", "cpu_threads"]


def get_device(prefer: str | None = None):
    """CUDA when present, otherwise the CPU (the same code runs on both, unchanged)."""
    import torch

    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def environment_report() -> dict:
    """Versions of Python and the course's packages, the device, and the CPU threads torch uses."""
    import importlib.metadata as md

    import torch

    report = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in (
        "unet-lesson",
        "torch",
        "numpy",
        "matplotlib",
        "ipywidgets",
        "jupyterlab",
        "torchinfo",
        "scikit-image",
        "scipy",
        "tqdm",
        "nbval",
        "voila",
    ):
        try:
            report[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            report[pkg] = "not installed"
    dev = get_device()
    report["device"] = str(dev)
    report["gpu"] = torch.cuda.get_device_name(0) if dev.type == "cuda" else "none (CPU only: fine for this course)"
    report["cpu threads"] = torch.get_num_threads()
    return report


def print_environment() -> None:
    """Print :func:`environment_report` as an aligned list (notebook 00's environment check)."""
    report = environment_report()
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:>{width}}: {value}")


@contextmanager
def seeded(seed: int):
    """Run a block with torch's RNG seeded to ``seed``, leaving the caller's global RNG as it was.

    Lessons build their demo layers inside ``with seeded(0): ...`` so the pictures are reproducible
    without resetting the seed of a student's own experiments.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextmanager
def cpu_threads(n: int | None = 1):
    """Run the block with ``n`` CPU threads for torch (``None``: unchanged), then restore the old number.

    The course's networks are small: their convolutions gain little from a second thread, and on a
    busy machine two threads spin-wait for each other and run several times slower than one."""
    import torch

    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)
