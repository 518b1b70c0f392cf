"""The ``streamkit`` command: ``streamkit -A module[:app] COMMAND``."""

from __future__ import annotations

from .main import cli, main

__all__ = ["cli", "main"]
