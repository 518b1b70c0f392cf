"""Tables: per-key state kept in memory and written to a changelog topic."""

from __future__ import annotations

from .manager import TableManager
from .table import Table

__all__ = ["Table", "TableManager"]
