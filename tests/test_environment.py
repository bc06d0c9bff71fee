"""environment.yml (conda, Binder) and pyproject.toml (pip) list the same packages with the same bounds.

CI cannot run conda here, so this test is what keeps the two in step.
"""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch": "torch"}  # conda-forge names that differ from PyPI's


def split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def pip_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["test"]
    return dict(split(r) for r in reqs)


def conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            out.update(split(r) for r in dep["pip"])
        else:
            name, spec = split(dep)
            if name not in ("python", "pip"):
                out[CONDA_TO_PIP.get(name, name)] = spec
    return out


def test_environment_yml_matches_pyproject():
    pip_reqs, conda_reqs = pip_requirements(), conda_requirements()
    assert sorted(conda_reqs) == sorted(pip_reqs), (
        f"only in environment.yml: {sorted(set(conda_reqs) - set(pip_reqs))}; "
        f"only in pyproject.toml: {sorted(set(pip_reqs) - set(conda_reqs))}"
    )
    for name, spec in pip_reqs.items():
        assert conda_reqs[name] == spec, f"{name}: pyproject says {spec!r}, environment.yml {conda_reqs[name]!r}"


def test_python_bound_agrees():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert f"python{project['requires-python']}" in env["dependencies"]


def test_makefile_pins_a_torch_the_requirements_allow():
    pin = re.search(r"^TORCH_VERSION \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    lower = pip_requirements()["torch"].removeprefix(">=")
    as_tuple = lambda v: tuple(int(x) for x in v.split(".")[:2])  # noqa: E731
    assert as_tuple(pin) >= as_tuple(lower)
