"""Keeping the notebook's secrets out of the exported module.

The module is a file to commit and deploy, and secrets (passwords, SASL
credentials, URL user-info) never appear in exports:

- a URL with user-info in a string literal (``"kafka://alice:pw@h:9092"``)
  is written without it, the rest as written, and the cell's outcome says
  how to give the user and password to the worker instead; a URL in a
  comment, or in a notebook-only line a cell's reason quotes, loses it too,
  and so does the value of a secret-named ``NAME=VALUE`` a reason quotes
  (``%env KAFKA_PASSWORD=***``);
- a non-empty string literal passed as a keyword whose name says it is a
  secret (``password=``, ``sasl_plain_password=``, ``api_key=``...), or
  assigned to a secret-named item (``os.environ["KAFKA_PASSWORD"] = "pw"``),
  is an error: nothing written in its place would work, while a value the
  notebook reads from ``os.environ`` is read by the module the same way.
"""

from __future__ import annotations

import ast
import io
import re
import shlex
import tokenize
from collections.abc import Iterator

from ..exceptions import ExportError
from .plan import CellPlan
from .source import Unit

#: A name one of whose underscore-separated words is one of these holds a
#: secret: ``password``, ``sasl_plain_password``, ``access_token``,
#: ``KAFKA_PASSWORD``, but not ``tokenizer``.
SECRET_NAME = re.compile(
    r"(?:^|_)(?:password|passwd|secret|token|api_?key)(?:_|$)", re.IGNORECASE
)

#: A secret-named ``NAME=VALUE`` or ``NAME VALUE`` (``%env KAFKA_PASSWORD=pw``,
#: ``!export TOKEN=t``) in a line a dropped cell's reason quotes.
_ASSIGNED_SECRET = re.compile(
    r"\b((?:[A-Za-z0-9]+_)*(?:password|passwd|secret|token|api_?key)"
    r"(?:_[A-Za-z0-9]+)*)\b(\s*=\s*|\s+)[^\s)]+",
    re.IGNORECASE,
)

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


def without_user_info(text: str, *, stop: str = "") -> tuple[str, list[str]]:
    """``text`` with the user-info of each URL in it left out, and those URLs.

    The user-info is what comes before the last ``@`` of the URL's hosts.
    The hosts end at whitespace, at the next ``scheme://`` or at a character
    of ``stop``; in a URL that is not ``kafka://`` also at ``/``, ``?`` and
    ``#`` (``https://host/@name`` has no user-info).  Not so in a broker
    URL: the App refuses a ``/``, ``?`` or ``#`` in its user-info, but a
    password that holds one must not be written either.
    """
    starts = list(_SCHEME.finditer(text))
    kept: list[str] = []
    urls: list[str] = []
    done = 0
    for index, start in enumerate(starts):
        limit = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        ends = stop if start.group().lower() == "kafka://" else stop + "/?#"
        hosts_end = _end(text, start.end(), limit, ends)
        at = text.rfind("@", start.end(), hosts_end)
        if at < 0:
            continue
        kept.append(text[done : start.end()])
        done = at + 1
        urls.append(start.group() + text[done : _end(text, done, limit, stop)])
    return "".join([*kept, text[done:]]), urls


def _end(text: str, start: int, limit: int, ends: str) -> int:
    for index in range(start, limit):
        if text[index].isspace() or text[index] in ends:
            return index
    return limit


def user_info_note(url: str, module_name: str | None) -> str:
    """What a cell's outcome says about a URL that lost its user-info."""
    said = f"the user-info of {url} was left out of the module"
    scheme, _, hosts = url.partition("://")
    if scheme.lower() != "kafka":
        return (
            f"{said}; read it from the environment in the notebook "
            '(os.environ["NAME"]) so the module reads it too'
        )
    broker = f"{scheme}://USER:PASSWORD@{hosts or 'HOST:9092'}"
    return (
        f"{said}; give it to the worker in the environment: "
        f"STREAMKIT_BROKER={shlex.quote(broker)} "
        f"streamkit -A {module_name or 'MODULE'} worker"
    )


# -- the cells -------------------------------------------------------------------


def refuse_secret_keywords(found: CellPlan) -> None:
    """Refuse a secret passed as a literal in ``found``'s kept code.

    Raises:
        ExportError: a call passes a non-empty string literal as a keyword
            argument whose name says it is a secret (:data:`SECRET_NAME`),
            or assigns one to a secret-named item (``os.environ["TOKEN"] =
            "t"``); the message names the cell, the row and the name, never
            the value.
    """
    for unit in found.kept:
        for stmt in unit.stmts:
            for keyword in _keywords(stmt):
                if not _literal(keyword.value):
                    continue
                name = str(keyword.arg)  # _keywords yields named ones only
                var = "KAFKA_PASSWORD" if name.lower() == "password" else name.upper()
                raise ExportError(
                    f"{_where(found, keyword.value)}: {name}= is given as a string "
                    "literal, which the module would hold; read the value from "
                    f'the environment in the notebook ({name}=os.environ["{var}"]) '
                    "so the module reads it too"
                )
            for key, value in _secret_items(stmt):
                if not _literal(value):
                    continue
                raise ExportError(
                    f"{_where(found, value)}: [{key!r}] is assigned a string "
                    "literal, which the module would hold; set it outside the "
                    f"notebook (export {key}=... before starting Jupyter, and "
                    "in the worker's environment) instead"
                )


def _where(found: CellPlan, node: ast.expr) -> str:
    return f"cell {found.number}: line {node.lineno + found.code.offset}"


def _keywords(stmt: ast.stmt) -> Iterator[ast.keyword]:
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg and SECRET_NAME.search(keyword.arg):
                    yield keyword


def _secret_items(stmt: ast.stmt) -> Iterator[tuple[str, ast.expr]]:
    """``os.environ["KAFKA_PASSWORD"] = "pw"``: the key and the value assigned."""
    for node in ast.walk(stmt):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            key = target.slice if isinstance(target, ast.Subscript) else None
            if (
                isinstance(key, ast.Constant)
                and isinstance(key.value, str)
                and SECRET_NAME.search(key.value)
            ):
                yield key.value, node.value


def _literal(value: ast.expr) -> bool:
    return (
        isinstance(value, ast.Constant)
        and isinstance(value.value, (str, bytes))
        and bool(value.value)
    )


def without_assigned_secrets(text: str) -> str:
    """``text`` with the value of each secret-named ``NAME=VALUE`` masked."""

    return _ASSIGNED_SECRET.sub(r"\1\2***", text)


def leave_out_user_info(found: CellPlan, module_name: str | None) -> None:
    """Take the user-info out of the URLs in ``found``'s kept code and reason.

    Each URL that lost it adds a warning to the cell saying how to give it
    to the worker (:func:`user_info_note`).
    """
    urls: list[str] = []
    for unit in found.kept:
        urls += _clean_unit(unit)
    if found.dropped:
        found.dropped, _ = without_user_info(found.dropped)
        found.dropped = without_assigned_secrets(found.dropped)
    for url in dict.fromkeys(urls):
        found.warnings.append(user_info_note(url, module_name))


def _clean_unit(unit: Unit) -> list[str]:
    """Edit ``unit``'s text in place; the URLs that lost their user-info."""
    source = "\n".join(unit.lines)
    try:
        tree = ast.parse(source)
    except SyntaxError:  # not expected: the unit's code parsed in the cell
        return _clean_statements(unit)

    edits, urls = _literal_edits(source, tree)
    for start, end, text in _comments(source):
        cleaned, found = without_user_info(text)
        if found:  # silently: the code does not read it
            edits.append((start, end, cleaned))
    if not edits:
        return []

    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    unit.edit(source.split("\n"))
    for stmt in unit.stmts:  # the statements must not hold it either
        _Cleaner().visit(stmt)
    return urls


def _clean_statements(unit: Unit) -> list[str]:
    cleaner = _Cleaner()
    stmts = [cleaner.visit(s) for s in unit.stmts]
    if cleaner.urls:
        unit.replace(stmts)
    return cleaner.urls


def _literal_edits(
    source: str, tree: ast.Module
) -> tuple[list[tuple[int, int, str]], list[str]]:
    """``(start, end, text)`` replacing each literal that holds user-info."""
    offsets = _Offsets(source)
    edits: list[tuple[int, int, str]] = []
    urls: list[str] = []
    inside: set[int] = set()  # nodes within an f-string already rewritten
    for node in ast.walk(tree):
        if id(node) in inside or not _holds_at(node):
            continue
        cleaner = _Cleaner()
        expected = cleaner.visit(_copy(node))
        if not cleaner.urls:
            continue
        if isinstance(node, ast.JoinedStr):
            inside.update(id(n) for n in ast.walk(node))
        start, end = offsets.span(node)
        written = source[start:end]
        # The literal as written, less the user-info, when that reads back
        # as the same value (it may not: escapes, implicit concatenation).
        stop = "{}" if isinstance(node, ast.JoinedStr) else ""
        text, _ = without_user_info(written, stop=stop)
        if not _same(text, expected):
            text = ast.unparse(expected)
        edits.append((start, end, text))
        urls += cleaner.urls
    return edits, urls


def _holds_at(node: ast.AST) -> bool:
    """True for a string literal (or f-string) with an ``@`` in its text."""
    if isinstance(node, ast.JoinedStr):
        return any(_holds_at(part) for part in ast.walk(node) if part is not node)
    return isinstance(node, ast.Constant) and "@" in str(node.value)


def _copy(node: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body


def _same(text: str, expected: ast.expr) -> bool:
    try:
        written = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return False
    return ast.dump(written) == ast.dump(expected) or (
        isinstance(written, ast.Constant)
        and isinstance(expected, ast.Constant)
        and written.value == expected.value
    )


class _Cleaner(ast.NodeTransformer):
    """Take the user-info out of every string constant it visits."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        if isinstance(node.value, str):
            cleaned, urls = without_user_info(node.value)
            if urls:
                node.value = cleaned
                self.urls += urls
        return node


def _comments(source: str) -> list[tuple[int, int, str]]:
    offsets = _Offsets(source)
    found: list[tuple[int, int, str]] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                start = offsets.starts[token.start[0] - 1] + token.start[1]
                found.append((start, start + len(token.string), token.string))
    except (tokenize.TokenError, SyntaxError):  # parsed by ast already: rare
        pass
    return found


class _Offsets:
    """Character offsets in ``source`` of the rows and columns ast reports."""

    def __init__(self, source: str) -> None:
        self.lines = source.split("\n")
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line) + 1)

    def span(self, node: ast.expr) -> tuple[int, int]:
        end_row = node.end_lineno or node.lineno
        end_col = node.end_col_offset or node.col_offset
        return self._at(node.lineno, node.col_offset), self._at(end_row, end_col)

    def _at(self, row: int, byte_col: int) -> int:
        # ast counts columns in UTF-8 bytes.
        line = self.lines[row - 1]
        return self.starts[row - 1] + len(line.encode()[:byte_col].decode())
