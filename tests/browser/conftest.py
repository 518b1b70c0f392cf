"""Fixtures of the browser suite: JupyterLab on 127.0.0.1 and headless Chromium.

The browser is Debian's ``chromium`` package, driven by playwright's Python
client; playwright's own browser downloads are never used.  Without Chromium
the tests skip, unless ``STREAMKIT_TEST_REQUIRE_BROWSER=1`` (set by ``.ci/run``)
turns the skip into a failure.

JupyterLab runs as a subprocess of this interpreter with its own config,
data, runtime, settings and IPython directories under the test's
``tmp_path``, so nothing from the user's setup leaks in.  Screenshots are
written to ``tmp_path/screenshots`` and copied to ``test-output/browser/``
in the repository; a failing test leaves one more, named ``failure``.
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT_COPIES = REPO / "test-output" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach
# Google's services, which on a closed network stalls it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAB_START_TIMEOUT = 60.0
# Tall enough that the whole dashboard fits in one element screenshot.
VIEWPORT = {"width": 1400, "height": 1500}

# Lab settings that keep a fresh JupyterLab quiet: no news or update checks
# (requests to the internet, and a toast over the notebook).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def _unavailable(reason: str) -> None:
    """Skip, or fail when the browser tests are required (CI)."""
    if os.environ.get("STREAMKIT_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(
            f"{reason}. STREAMKIT_TEST_REQUIRE_BROWSER=1 requires the browser tests: "
            "install Debian's Chromium with `apt-get install chromium "
            "chromium-driver` and the test extra with `pip install -e '.[test]'`",
            pytrace=False,
        )
    pytest.skip(
        f"{reason} (apt-get install chromium chromium-driver; pip install -e '.[test]')"
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep each phase's report on the item, so fixtures know a test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# -- JupyterLab ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class JupyterLab:
    """A running JupyterLab server: its URL, notebook folder and log."""

    url: str
    root: Path
    log: Path
    process: subprocess.Popen[bytes]

    def api(self, method: str, path: str) -> Any:
        """Call the Jupyter REST API; returns the decoded JSON body or None."""
        request = urllib.request.Request(f"{self.url}{path}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def shutdown_kernels(self) -> list[str]:
        """Shut every kernel down through the REST API; returns their ids."""
        ids = [kernel["id"] for kernel in self.api("GET", "/api/kernels")]
        for kernel_id in ids:
            self.api("DELETE", f"/api/kernels/{kernel_id}")
        return ids

    def stop(self) -> None:
        """Stop the server's process group (the server and its kernels)."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def _lab_environment(home: Path) -> dict[str, str]:
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "lab-workspaces",
        "IPYTHONDIR": home / "ipython",
    }
    for directory in dirs.values():
        directory.mkdir(parents=True)
    for name, settings in LAB_SETTINGS.items():
        path = dirs["JUPYTERLAB_SETTINGS_DIR"] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"JUPYTER_PATH", "JUPYTER_CONFIG_PATH"}
    }
    env.update({key: str(path) for key, path in dirs.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def jupyter_lab(tmp_path: Path, screenshots: Screenshots) -> Iterator[JupyterLab]:
    """JupyterLab on a free port of 127.0.0.1, serving a copy of
    ``notebooks/flights.ipynb``; without token or password."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        _unavailable("JupyterLab is not installed in this environment")

    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(REPO / "notebooks" / "flights.ipynb", root)
    port = _free_port()
    log = tmp_path / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={root}",
        # window.jupyterapp: the test drives Lab's commands through it.
        "--LabApp.expose_app_in_browser=True",
        # The REST calls of the teardown carry no XSRF cookie; the server is
        # local and tokenless anyway.
        "--ServerApp.disable_check_xsrf=True",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=_lab_environment(tmp_path / "jupyter-home"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, kernels included
        )
    lab = JupyterLab(f"http://127.0.0.1:{port}", root, log, process)
    try:
        _wait_until_serving(lab)
        yield lab
    finally:
        try:
            if lab.process.poll() is None:
                lab.shutdown_kernels()
        finally:
            lab.stop()
            screenshots.keep(log)


def _wait_until_serving(lab: JupyterLab) -> None:
    deadline = time.monotonic() + LAB_START_TIMEOUT
    while True:
        if lab.process.poll() is not None:
            pytest.fail(
                f"JupyterLab exited with code {lab.process.returncode} before "
                f"serving; its log ({lab.log}) ends with:\n{lab.log_tail()}"
            )
        try:
            lab.api("GET", "/api/status")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"JupyterLab did not answer /api/status within "
                f"{LAB_START_TIMEOUT:.0f}s; its log ({lab.log}) ends with:\n"
                f"{lab.log_tail()}"
            )
        time.sleep(0.2)


# -- Chromium -------------------------------------------------------------------


@dataclass
class Screenshots:
    """Numbered screenshots in ``folder``, each copied to ``copies``."""

    folder: Path
    copies: Path
    taken: list[Path] = field(default_factory=list)

    def take(self, page: Any, label: str, *, element: Any = None) -> Path:
        """Screenshot the page, or only ``element`` (a playwright Locator)."""
        path = self.folder / f"{len(self.taken) + 1:02d}-{label}.png"
        if element is None:
            page.screenshot(path=path, full_page=True)
        else:
            element.screenshot(path=path)
        self.taken.append(path)
        self.keep(path)
        return path

    def keep(self, path: Path) -> None:
        """Copy ``path`` (a log) beside the screenshot copies."""
        shutil.copy(path, self.copies / path.name)


@pytest.fixture
def screenshots(request: pytest.FixtureRequest, tmp_path: Path) -> Screenshots:
    """Where this test's screenshots go (see the module docstring)."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    copies = SCREENSHOT_COPIES / request.node.name
    shutil.rmtree(copies, ignore_errors=True)
    copies.mkdir(parents=True)
    return Screenshots(folder, copies)


@pytest.fixture
def chromium() -> str:
    """The path of Debian's Chromium; skips (or fails, see the module
    docstring) when it or playwright is missing."""
    if not CHROMIUM.exists():
        _unavailable(f"Chromium is not installed ({CHROMIUM} is missing)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("playwright (the Python client) is not installed")
    return str(CHROMIUM)


@pytest.fixture
def chromium_page(
    chromium: str,
    request: pytest.FixtureRequest,
    screenshots: Screenshots,
    tmp_path: Path,
) -> Iterator[Any]:
    """A playwright Page in headless Debian Chromium; on failure the page is
    screenshotted.  The browser console is kept in ``console.log``."""
    from playwright.sync_api import sync_playwright

    console: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
            page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
            yield page
            report = getattr(request.node, "report_call", None)
            if report is not None and report.failed:
                screenshots.take(page, "failure")
        finally:
            log = tmp_path / "console.log"
            log.write_text("\n".join(console))
            screenshots.keep(log)
            browser.close()
