"""The public surface: what ``streamkit`` exports, and the README's commands."""

from __future__ import annotations

import re
from pathlib import Path

import streamkit

ROOT = Path(__file__).resolve().parents[2]


def test_every_exported_name_exists_and_nothing_public_is_missing():
    missing = [name for name in streamkit.__all__ if not hasattr(streamkit, name)]
    assert missing == []

    public_classes = {
        name
        for name, value in vars(streamkit).items()
        if isinstance(value, type) and not name.startswith("_")
    }
    assert public_classes - set(streamkit.__all__) == set()


def test_readme_has_exactly_two_fresh_machine_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```(?:bash|sh)\n(python3 -m venv .+?)\n```", readme)
    assert len(commands) == 2, commands

    main_job, test_command = commands
    assert "streamkit.demo.flights" in main_job
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text()
