"""Table views: ``GET /table/{name}/`` and ``GET /table/{name}/{key}/``.

A table is answered as one JSON object.  JSON object keys are strings, so a
string key is shown as is and any other key as its JSON text (``1``,
``true``, ``null``); a key in a URL is looked up first as the string and
then decoded the way the table's changelog decodes keys, so
``/table/counts/1/`` finds the int key ``1``.  A missing key is a 404 even
when the table has a default: the view shows what the table holds.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import DecodeError
from ..models import dumps_json, loads_json
from .views import NotFound, Request, View


def key_text(key: Any) -> str:
    """How a table key is written as a JSON object key."""
    if isinstance(key, str):
        return key
    return dumps_json(key).decode()


class _TableViewBase(View):
    def _table(self, name: str) -> Any:
        tables = self.app.tables
        if name not in tables:
            raise NotFound(
                f"no table {name!r}; the tables are: "
                f"{', '.join(sorted(t.name for t in tables)) or 'none'}",
                tables=sorted(t.name for t in tables),
            )
        return tables[name]


class TableView(_TableViewBase):
    """The whole table as a JSON object."""

    async def get(self, request: Request, name: str) -> Any:
        table = self._table(name)
        return self.json({key_text(k): v for k, v in table.items()})


class TableKeyView(_TableViewBase):
    """One key's value, or 404."""

    async def get(self, request: Request, name: str, key: str) -> Any:
        table = self._table(name)
        for candidate in _candidates(table, key):
            try:
                found = candidate in table
            except TypeError:  # an unhashable decoded key cannot be in it
                continue
            if found:
                return self.json(table[candidate])
        raise NotFound(f"key {key!r} is not in table {name!r}", table=name, key=key)


def _candidates(table: Any, text: str) -> list[Any]:
    found: list[Any] = [text]
    raw = text.encode()
    for decode in (table.changelog.codec.loads_key, loads_json):
        try:
            found.append(decode(raw))
        except (DecodeError, ValueError, TypeError):
            pass
    return found
