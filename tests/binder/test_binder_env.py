"""Binder's environment, built as repo2docker builds it, runs every notebook.

repo2docker (what mybinder.org runs) creates a virtualenv, runs
``pip install -r binder/requirements.txt`` from the repository's root and
starts JupyterLab with that environment's kernel.  This test does the same
as far as this machine allows: a fresh virtualenv with the interpreter
``binder/runtime.txt`` names, the same pip command from the repository's
root, then every notebook under ``notebooks/`` executed by a kernel of that
virtualenv, on the embedded broker.  No Docker, and packages come through
this machine's pip configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
BINDER = REPO / "binder"
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))

# Minutes: a virtualenv, JupyterLab and streamkit's dependencies installed,
# then each notebook (the flights one replays 336,776 flights).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def binder_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh virtualenv with binder/requirements.txt."""
    runtime = (BINDER / "runtime.txt").read_text().strip()
    here = f"python-{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != here:
        pytest.skip(f"binder/runtime.txt asks for {runtime}; this is {here}")

    root = tmp_path_factory.mktemp("binder-venv")
    started = time.monotonic()
    venv.create(root / "venv", with_pip=True)
    python = root / "venv" / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-r", str(BINDER / "requirements.txt")],
        cwd=REPO,  # as repo2docker: `-e .` is the repository
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    print(f"binder environment built in {time.monotonic() - started:.0f}s")
    return python


def test_binder_environment_has_streamkit_and_the_widget_extension(binder_python):
    probe = subprocess.run(
        [
            str(binder_python),
            "-c",
            "import streamkit, ipywidgets, jupyterlab; print(streamkit.__file__)",
        ],
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).is_relative_to(REPO)  # the editable install

    jupyter = binder_python.parent / "jupyter"
    listed = subprocess.run(
        [str(jupyter), "labextension", "list"], capture_output=True, text=True
    )
    extensions = listed.stdout + listed.stderr
    assert "@jupyter-widgets/jupyterlab-manager" in extensions
    line = next(
        x for x in extensions.splitlines() if "@jupyter-widgets/jupyterlab-manager" in x
    )
    assert "enabled" in line and "OK" in line, line


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_runs_in_the_binder_environment(
    binder_python, path, tmp_path, monkeypatch
):
    # Binder has no STREAMKIT_* settings: the notebooks use memory://.
    for name in [n for n in os.environ if n.startswith("STREAMKIT_")]:
        monkeypatch.delenv(name)
    spec_dir = tmp_path / "kernels" / "binder"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [
            str(binder_python),
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
        ],
        "display_name": "binder",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    manager = KernelManager(kernel_name="binder", kernel_spec_manager=specs)

    notebook = nbformat.read(path, as_version=4)
    started = time.monotonic()
    try:
        NotebookClient(
            notebook,
            km=manager,
            timeout=900,
            resources={"metadata": {"path": str(tmp_path)}},
        ).execute()
    finally:
        # nbclient leaves a kernel it was handed running.
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
    print(f"{path.name}: {time.monotonic() - started:.0f}s in the binder kernel")

    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
