"""Keeping the notebook's URL user-info and quoted secrets out of the module.

The module is a file to commit and deploy, and secrets (passwords, SASL
credentials, URL user-info) never appear in exports:

- a URL with user-info in a str or bytes literal (``"kafka://alice:pw@h:9092"``)
  is written without it, the rest as written, and the cell's outcome says
  how to give the user and password to the worker instead; a URL in a
  comment, or in a notebook-only line a cell's reason quotes, loses it too,
  and so does the value of a secret-named ``NAME=VALUE`` a reason quotes
  (``%env KAFKA_PASSWORD=***``, a quoted value masked whole);
- a URL *template* whose user-info is filled in by formatting
  (``"kafka://{}:{}@h".format(user, pw)``, ``"kafka://%s:%s@h" % ...``) is
  an error: without its user-info the template would still be given the
  password, and would no longer use it;
- a literal password is refused by :mod:`.secret_literals`.
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
from .secret_literals import SECRET_WORDS
from .source import Unit

#: A secret-named ``NAME=VALUE`` or ``NAME VALUE`` (``%env KAFKA_PASSWORD=pw``,
#: ``!export TOKEN=t``, ``%env SASL_PASS="a b"``) in a line a dropped cell's
#: reason quotes; a quoted value runs to its closing quote (or the end).
_ASSIGNED_SECRET = re.compile(
    rf"\b((?:[A-Za-z0-9]+_)*(?:{SECRET_WORDS}(?:_[A-Za-z0-9]+)*|pass))\b"
    r"""(\s*=\s*|\s+)(?:"[^"]*"?|'[^']*'?|[^\s)]+)""",
    re.IGNORECASE,
)

#: In a URL template's user-info: a ``{}`` field or a ``%`` directive, not
#: a percent-encoded character (``pa%2Fss``).
_TEMPLATE_FIELD = re.compile(r"\{|%(?![0-9A-Fa-f]{2})")

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
    kept: list[str] = []
    urls: list[str] = []
    done = 0
    for scheme, at, end in _user_info_spans(text, stop):
        kept.append(text[done : scheme.end()])
        done = at + 1
        urls.append(scheme.group() + text[done:end])
    return "".join([*kept, text[done:]]), urls


def user_info_templates(text: str) -> list[str]:
    """The URLs in ``text`` whose user-info has a ``{`` or ``%`` directive,
    written without it."""
    return [
        scheme.group() + text[at + 1 : end]
        for scheme, at, end in _user_info_spans(text, "")
        if _TEMPLATE_FIELD.search(text, scheme.end(), at)
    ]


def _user_info_spans(text: str, stop: str) -> Iterator[tuple[re.Match[str], int, int]]:
    """The scheme, the ``@`` and the end of each URL in ``text`` with user-info."""
    starts = list(_SCHEME.finditer(text))
    for index, start in enumerate(starts):
        limit = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        ends = stop if start.group().lower() == "kafka://" else stop + "/?#"
        hosts_end = _end(text, start.end(), limit, ends)
        at = text.rfind("@", start.end(), hosts_end)
        if at >= 0:
            yield start, at, _end(text, at + 1, limit, stop)


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


def without_assigned_secrets(text: str) -> str:
    """``text`` with the value of each secret-named ``NAME=VALUE`` masked."""
    return _ASSIGNED_SECRET.sub(r"\1\2***", text)


def leave_out_user_info(found: CellPlan, module_name: str | None) -> None:
    """Take the user-info out of the URLs in ``found``'s kept code and reason.

    Each URL that lost it adds a warning to the cell saying how to give it
    to the worker (:func:`user_info_note`).

    Raises:
        ExportError: a literal in the kept code is a URL template whose
            user-info is filled in by formatting (:func:`user_info_templates`);
            the message names the cell, the row and the URL without its
            user-info.
    """
    for unit in found.kept:
        for stmt in unit.stmts:
            _refuse_templates(found, stmt)

    urls: list[str] = []
    for unit in found.kept:
        urls += _clean_unit(unit)
    if found.dropped:
        found.dropped, _ = without_user_info(found.dropped)
        found.dropped = without_assigned_secrets(found.dropped)
    for url in dict.fromkeys(urls):
        found.warnings.append(user_info_note(url, module_name))


def _refuse_templates(found: CellPlan, stmt: ast.stmt) -> None:
    for node in ast.walk(stmt):
        if not (isinstance(node, ast.Constant) and _text(node.value)):
            continue
        for url in user_info_templates(_text(node.value)):
            alternative = "build the URL from os.environ in the notebook"
            if url.lower().startswith("kafka://"):
                alternative += (
                    " (f\"kafka://{os.environ['KAFKA_USER']}:"
                    "{os.environ['KAFKA_PASSWORD']}@...\") or pass "
                    'broker_credentials=SASLCredentials(os.environ["KAFKA_USER"], '
                    'os.environ["KAFKA_PASSWORD"])'
                )
            raise ExportError(
                f"cell {found.number}: line {node.lineno + found.code.offset}: "
                f"the user-info of {url} is filled in by formatting: left out, "
                "the password would still be among the format's arguments; "
                f"{alternative} instead"
            )


def _text(value: object) -> str:
    """A str constant's value, a bytes one's as Latin-1 (one char a byte)."""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value if isinstance(value, str) else ""


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
        cleaned, urls = without_user_info(_text(node.value))
        if urls:
            is_bytes = isinstance(node.value, bytes)
            node.value = cleaned.encode("latin-1") if is_bytes else cleaned
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
