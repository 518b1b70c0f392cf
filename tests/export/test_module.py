"""The exported module as code: it compiles, passes ruff, runs without IPython.

Also the ``streamkit export`` command around the compiler, and the guard
that keeps the compiler's reading of ``%%agent``/``%%timer`` options equal
to the magics' own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from click.testing import CliRunner

from streamkit.cli import cli
from streamkit.export import EXPORT_TAG

from .builders import cell, export, notebook, ruff
from .flights_cells import DEFINING_CELLS, REPLAY_TASK

REPO = Path(__file__).resolve().parents[2]
FLIGHTS = REPO / "notebooks" / "flights.ipynb"

#: A notebook with one of each kind of cell, written the way the project's
#: lint wants it: the module must come out with no finding at all.
EVERYTHING = [
    "%load_ext streamkit",
    "import asyncio\nimport json\n\nimport streamkit\n\n"
    'app = streamkit.App("everything", broker="memory://")\n'
    'orders = app.topic("orders", value_type=dict)\n'
    'totals = app.Table("totals", default=float)\n'
    "app",
    "await app.start()",
    "%%agent orders --concurrency 1\n"
    "async def add_up(stream):\n"
    "    async for order in stream:\n"
    '        totals[order["account"]] += order["amount"]\n',
    "%%agent orders --name add_up\n"
    "async def add_up(stream):\n"
    "    async for order in stream:\n"
    '        totals[order["account"]] += order.get("amount", 0.0)\n',
    "%%timer 2 --name report\n"
    "async def show_totals():\n"
    "    print(json.dumps(dict(totals)))\n",
    "for i in range(3):\n"
    '    await orders.send(value={"account": "a", "amount": float(i)})\n'
    "await asyncio.sleep(0.5)\n"
    "done = True",
    "%%timer 1\nasync def heartbeat():\n    print(done)\n",
    "totals.as_dataframe()",
    cell("import pandas as pd\npd.DataFrame({'x': [1]})", EXPORT_TAG),
    "%streamkit status",
    "await app.stop()",
]


def run_python(code: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMKIT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(cwd)])
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_exported_module_compiles_and_passes_the_projects_ruff_rules(tmp_path):
    module = export(tmp_path, *EVERYTHING)
    path = tmp_path / "exported_mod.py"
    path.write_text(module.code)

    compile(module.code, str(path), "exec")
    assert ruff(path) == []
    assert module.agents == ["add_up"]
    assert module.timers == ["report", "heartbeat"]
    assert module.tasks == ["cell_7"]


def test_exported_flights_module_adds_no_ruff_finding_of_its_own(tmp_path):
    # The flights notebook's own code has style findings (a long line, an
    # unused loop variable); the export must not add any, and must have no
    # correctness finding (pyflakes, syntax, import order) at all.
    path = tmp_path / "flights_worker.py"
    code = export_flights(path)
    notebook_lines = {
        line.strip()
        for c in nbformat.read(FLIGHTS, as_version=4).cells
        for line in c.source.splitlines()
    }

    for finding in ruff(path):
        rule = finding.split(": ", 1)[1].split()[0]
        row = int(finding.split(":")[1])
        assert rule[0] not in "FI" and not rule.startswith("E9"), finding
        assert code.splitlines()[row - 1].strip() in notebook_lines, finding


def export_flights(path: Path, source: Path = FLIGHTS) -> str:
    result = CliRunner().invoke(cli, ["export", str(source), "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path.read_text()


def test_exported_module_runs_where_ipython_cannot_be_imported(tmp_path):
    export_flights(tmp_path / "flights_worker.py")
    blocked = "ipywidgets", "ipykernel", "IPython", "jupyter_client", "nbformat"
    probe = (
        "import sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None  # import raises ImportError\n"
        "import flights_worker\n"
        "app = flights_worker.app\n"
        "print(sorted(app.agents), sorted(app.scheduler.jobs))\n"
    )
    result = run_python(probe, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"['carrier_delay', 'count_origins', 'route'] ['{REPLAY_TASK}']"
    )

    # As `python flights_worker.py agents --json`, through app.main().
    as_main = (
        "import runpy, sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None\n"
        "sys.argv = ['flights_worker.py', 'agents', '--json']\n"
        "runpy.run_path('flights_worker.py', run_name='__main__')\n"
    )
    result = run_python(as_main, tmp_path)
    assert result.returncode == 0, result.stderr
    assert [a["name"] for a in json.loads(result.stdout)] == [
        "carrier_delay",
        "count_origins",
        "route",
    ]


def test_the_module_keeps_the_effects_the_worker_needs(tmp_path):
    # A cell ending with os.environ.setdefault(...) shows a value in the
    # notebook, but the worker needs what it does.
    module = export(
        tmp_path,
        'import streamkit\napp = streamkit.App("region", broker="memory://")',
        "import logging\nlogging.basicConfig(level=logging.WARNING)",
        "import os\nos.environ.setdefault('REGION', 'eu')",
        'region = os.environ["REGION"]',
        name="region_worker",
    )
    (tmp_path / "region_worker.py").write_text(module.code)
    probe = (
        "import logging\n"
        "import region_worker\n"
        "print(region_worker.region, len(logging.getLogger().handlers))\n"
    )

    result = run_python(probe, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "eu 1"


def test_importing_streamkit_and_its_cli_imports_no_notebook_package(tmp_path):
    probe = (
        "import sys\n"
        "import streamkit, streamkit.cli, streamkit.export\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}\n"
        "    & {'IPython', 'ipykernel', 'ipywidgets', 'jupyter_client'}))\n"
    )
    result = run_python(probe, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_broker_of_the_exported_module_comes_from_the_environment(tmp_path):
    export_flights(tmp_path / "flights_worker.py")
    probe = (
        "import os\n"
        "os.environ['STREAMKIT_BROKER'] = 'kafka://broker.invalid:9092'\n"
        "import flights_worker\n"
        "print(flights_worker.app.conf.broker)\n"
    )
    result = run_python(probe, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "kafka://broker.invalid:9092"


def test_export_command_writes_the_module_and_reports_each_cell(tmp_path):
    target = tmp_path / "flights_worker.py"
    result = CliRunner().invoke(
        cli, ["export", str(FLIGHTS), "-o", str(target), "--json"]
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["agents"] == ["route", "count_origins", "carrier_delay"]
    assert report["tasks"] == [REPLAY_TASK]
    exported = {c["cell"] for c in report["cells"] if c["exported"]}
    assert exported == DEFINING_CELLS
    assert target.read_text().startswith('"""A streamkit worker exported from')


def test_export_command_without_output_prints_the_module(tmp_path):
    result = CliRunner().invoke(cli, ["export", str(FLIGHTS)])

    assert result.exit_code == 0, result.output
    assert "@app.agent(flights)" in result.stdout
    assert result.stdout.rstrip().endswith("app.main()")


def test_export_command_reports_a_cell_it_cannot_export(tmp_path):
    path = tmp_path / "broken.ipynb"
    nbformat.write(
        notebook("import streamkit\napp = streamkit.App('x')", "x = ("), path
    )

    result = CliRunner().invoke(cli, ["export", str(path), "-o", "out.py"])

    assert result.exit_code == 1
    assert "cell 2: line 1" in result.output
    assert "streamkit:skip" in result.output
    assert "Traceback" not in result.output


def test_export_command_into_a_missing_folder_names_the_path(tmp_path):
    target = tmp_path / "no-such-folder" / "worker.py"

    result = CliRunner().invoke(cli, ["export", str(FLIGHTS), "-o", str(target)])

    assert result.exit_code == 1
    assert f"cannot write {target}: No such file or directory" in result.output
    assert "Traceback" not in result.output
    assert not target.parent.exists()
