"""Counts in messages: ``1 agent``, ``2 agents``, never ``1 agents``."""

from __future__ import annotations


def plural(count: float | int | None, singular: str, many: str | None = None) -> str:
    """``singular`` for exactly one, else ``many`` (``singular + "s"``)."""
    return singular if count == 1 else (many or singular + "s")


def counted(count: int, singular: str, many: str | None = None) -> str:
    """``count`` and the noun that agrees with it: ``"1 agent"``, ``"3 agents"``."""
    return f"{count:,} {plural(count, singular, many)}"
