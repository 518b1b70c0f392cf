"""The ``streamkit`` command: ``streamkit -A module[:app] COMMAND``.

``option`` and ``argument`` are click's, for ``@app.command()``::

    from streamkit.cli import argument, option

    @app.command(argument("name"), option("--count", type=int, default=1))
    async def greet(name, count):
        \"\"\"Greet NAME, COUNT times.\"\"\"
"""

from __future__ import annotations

from click import argument, option

from .main import cli, main

__all__ = ["argument", "cli", "main", "option"]
