"""Servers, browser and page helpers for the browser tests (JupyterLab and Voila in Chromium).

Everything a test starts is its own: a JupyterLab or Voila server on a free port with token off
and HOME / Jupyter / IPython directories inside the test's tmp folder, serving a fresh copy of
the notebooks (outputs and execution counts cleared, so nothing saved can make a check pass and
nothing is written back into the repository). Servers are stopped with SIGTERM to their own PID,
then waited for. The browser is Debian's Chromium (``/usr/bin/chromium``) driven by Playwright's
sync API; every request that does not go to 127.0.0.1 is aborted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
REQUIRE_ENV = "UNET_LESSON_REQUIRE_BROWSER"
SERVER_START_TIMEOUT = 90.0


# --------------------------------------------------------------------------------------
# skip here, fail in CI
# --------------------------------------------------------------------------------------
def unavailable_reason() -> str | None:
    """Why the browser tests cannot run on this machine (None when they can)."""
    if not os.path.exists(CHROMIUM):
        return (
            f"Chromium not found at {CHROMIUM}: install Debian's package "
            "(apt-get install chromium) to run the browser tests"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install playwright)"
    return None


def require_browser() -> None:
    """Skip when Chromium or Playwright is missing; fail instead when CI demands the browser tests."""
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: browser tests are required here)", pytrace=False)
    pytest.skip(reason)


# --------------------------------------------------------------------------------------
# isolated environment and fresh notebook copies
# --------------------------------------------------------------------------------------
def isolated_env(base: Path) -> dict:
    """Environment for a server whose HOME, XDG, Jupyter and IPython dirs all live under ``base``."""
    env = os.environ.copy()
    dirs = {
        "HOME": "home",
        "XDG_CONFIG_HOME": "home/.config",
        "XDG_CACHE_HOME": "home/.cache",
        "JUPYTER_CONFIG_DIR": "jupyter/config",
        "JUPYTER_DATA_DIR": "jupyter/data",
        "JUPYTER_RUNTIME_DIR": "jupyter/runtime",
        "IPYTHONDIR": "ipython",
    }
    for var, sub in dirs.items():
        path = base / sub
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    for var in ("JUPYTER_PATH", "JUPYTER_PREFER_ENV_PATH", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        env.pop(var, None)
    # the news pop-up would cover the screenshots
    labconfig = base / "jupyter/config/labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    # the kernels import unet_lesson from this checkout
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONUNBUFFERED"] = "1"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


def fresh_copy(source: Path, dest_dir: Path) -> Path:
    """Copy ``source``'s folder into ``dest_dir`` and clear outputs/execution counts of the notebook.

    The whole folder is copied (a lesson may read files next to it); the notebook itself is
    rewritten without outputs, so only what runs in the browser can make a check pass.
    """
    import nbformat

    folder = dest_dir / source.parent.name
    if not folder.exists():
        shutil.copytree(source.parent, folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    target = folder / source.name
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, target)
    return target


# --------------------------------------------------------------------------------------
# servers
# --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


class Server:
    """A server process on its own free port; ``with Server(...) as s: s.url``.

    The command must fail rather than move to another port when its port is taken
    (``port_retries=0``), so a clash between pytest-xdist workers shows up as an exit and
    the start is retried on a new port, never as talking to someone else's server.
    """

    def __init__(self, name: str, argv_for_port, ready_path: str, env: dict, cwd: Path, log_dir: Path):
        self.name, self.argv_for_port, self.ready_path = name, argv_for_port, ready_path
        self.env, self.cwd, self.log_dir = env, cwd, log_dir
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.log_path = log_dir / f"{name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def start(self) -> "Server":
        for _attempt in range(4):
            self.port = free_port()
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                self.argv_for_port(self.port),
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            log.close()
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break  # it exited (port taken?): try another port
                if _answers(self.url + self.ready_path):
                    return self
                time.sleep(0.2)
            else:
                self.stop()
                raise RuntimeError(
                    f"{self.name} did not answer within {SERVER_START_TIMEOUT:.0f} s:\n{self.log_tail()}"
                )
            self.proc.wait()
        raise RuntimeError(f"{self.name} failed to start 4 times:\n{self.log_tail()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def api(server: Server, path: str, method: str = "GET"):
    """Call the Jupyter server's REST API (token is off); returns the parsed JSON or None.

    A DELETE needs the XSRF cookie the server sets on a page load, sent back as a header.
    """
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    headers = {}
    if method != "GET":
        opener.open(server.url + "/lab", timeout=30).read()
        xsrf = next((c.value for c in jar if c.name == "_xsrf"), None)
        if xsrf:
            headers["X-XSRFToken"] = xsrf
    req = urllib.request.Request(server.url + path, method=method, headers=headers)
    with opener.open(req, timeout=30) as r:
        body = r.read()
    return json.loads(body) if body else None


def shutdown_sessions(server: Server, timeout: float = 30.0) -> None:
    """End every session (and so its kernel) the server runs, and wait until no kernel is left."""
    for session in api(server, "/api/sessions") or []:
        try:
            api(server, f"/api/sessions/{session['id']}", "DELETE")
        except urllib.error.HTTPError:
            pass
    deadline = time.monotonic() + timeout
    while api(server, "/api/kernels") and time.monotonic() < deadline:
        time.sleep(0.2)
    for kernel in api(server, "/api/kernels") or []:
        api(server, f"/api/kernels/{kernel['id']}", "DELETE")


def lab_server(root_dir: Path, base: Path) -> Server:
    def argv(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "jupyterlab",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--no-browser",
            "--allow-root",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={root_dir}",
            "--ServerApp.port_retries=0",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]

    env = isolated_env(base)
    # only what a student's notebook needs: no language servers, terminals or Voila preview
    (Path(env["JUPYTER_CONFIG_DIR"]) / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "ServerApp": {
                    "jpserver_extensions": {
                        "jupyter_lsp": False,
                        "voila.server_extension": False,
                        "jupyter_server_terminals": False,
                        "notebook_shim": False,
                    },
                    "terminals_enabled": False,
                }
            }
        )
    )
    return Server("jupyterlab", argv, "/api/status", env, root_dir, base)


def voila_server(notebook: Path, base: Path) -> Server:
    def argv(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "voila",
            str(notebook),
            "--Voila.ip=127.0.0.1",
            f"--port={port}",
            "--no-browser",
            "--Voila.port_retries=0",
        ]

    # GET / would execute the notebook; a static file says the server is up
    return Server("voila", argv, "/voila/static/voila.js", isolated_env(base), notebook.parent, base)


# --------------------------------------------------------------------------------------
# browser
# --------------------------------------------------------------------------------------
def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def new_context(browser):
    """A fresh browser context that may only talk to 127.0.0.1."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def only_local(route):
        host = route.request.url.split("://", 1)[-1].split("/", 1)[0].split(":")[0]
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_local)
    context.set_default_timeout(30_000)
    return context


def artifact_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
