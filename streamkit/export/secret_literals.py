"""Refusing a secret the notebook writes as a literal.

A password written in a cell (``password="pw"``, ``{"password": "pw"}``,
``KAFKA_PASSWORD = "pw"``, ``SASLCredentials("alice", "pw")``) would be
written into the module as well, and nothing written in its place would
work; a value the notebook reads from ``os.environ`` is read by the module
the same way.  So the export refuses such a literal, naming the cell, the
row and the name, never the value.

A secret is what a secret-named (:data:`SECRET_NAME`) keyword, dict key,
variable, attribute, item or parameter holds, a password parameter of the
APIs in :data:`SECRET_ARGUMENTS`, and the value an environment call
(``os.environ.setdefault``, ``os.getenv``...) gives a secret-named variable.
A literal is any value holding text written in the cell (:func:`literal`).
Not caught: a literal in a variable whose name says nothing (``pw = "pw"``)
passed on later, and comments (the module keeps them as written).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..exceptions import ExportError
from .plan import CellPlan

#: The words that make a name secret: ``password``, ``KAFKA_PASSWORD``,
#: ``sasl.password``, ``X-Api-Key``, ``Authorization``.
SECRET_WORDS = (
    r"(?:password|passwd|passphrase|pwd|secret|token|api[_.-]?key|authorization)"
)

#: A name one of whose words (split at ``_``, ``.`` and ``-``) is a secret
#: word holds a secret, and so does one whose last word is ``pass``
#: (``KAFKA_PASS``); ``tokenizer``, ``passwords_seen`` and ``pass_through``
#: do not.
SECRET_NAME = re.compile(
    rf"(?:^|[_.-])(?:{SECRET_WORDS}(?:[_.-]|$)|pass$)", re.IGNORECASE
)


@dataclass(frozen=True)
class SecretArgument:
    """A password parameter that callers also pass by position."""

    position: int  # 0-based, among the positional arguments
    variable: str  # what the error suggests reading from os.environ


#: Calls matched by the called name's last attribute (``SASLCredentials``,
#: ``streamkit.SASLCredentials``, ``ctx.load_cert_chain``).
SECRET_ARGUMENTS = {
    "SASLCredentials": SecretArgument(1, "KAFKA_PASSWORD"),
    "load_cert_chain": SecretArgument(2, "SSL_KEY_PASSWORD"),
}

#: Calls whose first argument names a variable and whose second is its value
#: (``os.environ.setdefault("KAFKA_PASSWORD", "pw")``) or its default
#: (``os.getenv("KAFKA_PASSWORD", "pw")``).
_ENVIRONMENT_CALLS = ("setdefault", "putenv", "get", "getenv")


def refuse_literal_secrets(found: CellPlan) -> None:
    """Refuse a secret written as a literal in ``found``'s kept code.

    Raises:
        ExportError: the first such literal of the cell (see the module
            docstring); the message names the cell, the row and the name,
            and says how to read the value from the environment instead,
            never the value.
    """
    findings = [
        finding
        for unit in found.kept
        for stmt in unit.stmts
        for finding in _findings(stmt)
        if literal(finding.value)
    ]
    if not findings:
        return

    first = min(findings, key=lambda f: (f.value.lineno, f.value.col_offset))
    kind = "a string literal"
    if not _constant(first.value):
        kind = "a value built from a string literal"
    raise ExportError(
        f"cell {found.number}: line {first.value.lineno + found.code.offset}: "
        f"{first.subject} {first.verb} {kind}, which the module would hold; "
        f"{first.fix}"
    )


def literal(value: ast.expr | None) -> bool:
    """True when ``value`` holds text written in the code.

    That is a non-empty str or bytes constant, an f-string with a non-empty
    literal part, or an operation (``"" + "pw"``, ``"%s" % x``), ``or``,
    ``and`` or conditional expression with such a value among its operands.
    """
    if isinstance(value, ast.JoinedStr):
        return any(_constant(part) for part in value.values)
    if isinstance(value, ast.BinOp):
        return literal(value.left) or literal(value.right)
    if isinstance(value, ast.BoolOp):
        return any(literal(operand) for operand in value.values)
    if isinstance(value, ast.IfExp):
        return literal(value.body) or literal(value.orelse)
    return _constant(value)


def _constant(value: ast.expr | None) -> bool:
    return (
        isinstance(value, ast.Constant)
        and isinstance(value.value, (str, bytes))
        and bool(value.value)
    )


# -- where secrets go ---------------------------------------------------------------


@dataclass(frozen=True)
class _Finding:
    """A value that must not be a literal, and how to say so."""

    value: ast.expr
    subject: str  # "password=", "['KAFKA_PASSWORD']"
    verb: str  # "is given as", "is assigned"
    fix: str


def _findings(stmt: ast.stmt) -> Iterator[_Finding]:
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call):
            yield from _call_findings(node)
        elif isinstance(node, ast.Dict):
            yield from _dict_findings(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _default_findings(node)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                yield from _assigned(target, node.value)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
            yield from _assigned(node.target, node.value)


def _read_instead(shown: str, what: str = "it") -> str:
    return (
        f"read {what} from the environment in the notebook ({shown}) so the "
        "module reads it too"
    )


def _set_outside(variable: str, what: str = "it") -> str:
    return (
        f"set {what} outside the notebook (export {variable}=... before "
        "starting Jupyter, and in the worker's environment) instead"
    )


def _variable(name: str) -> str:
    """The environment variable the error suggests for a secret ``name``."""
    if name.lower() in ("password", "passwd", "pwd", "pass"):
        return "KAFKA_PASSWORD"  # not PWD: the shell's working directory
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def _secret_key(node: ast.expr | None) -> str | None:
    """``node``'s text when it is a secret-named str constant."""
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and SECRET_NAME.search(node.value)
    ):
        return node.value
    return None


def _call_findings(call: ast.Call) -> Iterator[_Finding]:
    for keyword in call.keywords:
        if keyword.arg and SECRET_NAME.search(keyword.arg):
            name, env = keyword.arg, f'os.environ["{_variable(keyword.arg)}"]'
            fix = _read_instead(f"{name}={env}", "the value")
            yield _Finding(keyword.value, f"{name}=", "is given as", fix)

    func = call.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    args = _positional(call)
    secret = SECRET_ARGUMENTS.get(called)
    if secret is not None and secret.position < len(args):
        env = f'os.environ["{secret.variable}"]'
        yield _Finding(
            args[secret.position],
            f"the password (argument {secret.position + 1} of {called})",
            "is given as",
            _read_instead(f"{called}(..., {env})"),
        )

    key = _secret_key(args[0]) if called in _ENVIRONMENT_CALLS and args else None
    if key is not None and len(args) >= 2:
        shown = ast.unparse(func)
        if called in ("setdefault", "putenv"):
            subject, fix = f"the value for {key!r} in {shown}()", _set_outside(key)
        else:
            subject = f"the default for {key!r} in {shown}()"
            fix = f"give it no default ({shown}({key!r})) and " + _set_outside(
                key, "the variable"
            )
        yield _Finding(args[1], subject, "is given as", fix)


def _positional(call: ast.Call) -> list[ast.expr]:
    """The positional arguments up to a ``*args``, past which positions are unknown."""
    for index, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            return call.args[:index]
    return call.args


def _dict_findings(node: ast.Dict) -> Iterator[_Finding]:
    for key_node, value in zip(node.keys, node.values, strict=True):
        key = _secret_key(key_node)
        if key is not None:
            env = f'os.environ["{_variable(key)}"]'
            fix = _read_instead(f"{{{key!r}: {env}}}", "the value")
            yield _Finding(value, f"the key {key!r}", "is given as", fix)


def _default_findings(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
) -> Iterator[_Finding]:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    with_defaults = list(
        zip(
            positional[len(positional) - len(args.defaults) :],
            args.defaults,
            strict=True,
        )
    )
    with_defaults += [
        (arg, default)
        for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
        if default is not None
    ]
    owner = "the lambda" if isinstance(node, ast.Lambda) else f"{node.name}()"
    for arg, default in with_defaults:
        if SECRET_NAME.search(arg.arg):
            env = f'os.environ["{_variable(arg.arg)}"]'
            yield _Finding(
                default,
                f"parameter {arg.arg} of {owner}",
                "defaults to",
                f"give it no default, or default it to {env}, so the module "
                "reads it from the environment too",
            )


def _assigned(target: ast.expr, value: ast.expr | None) -> Iterator[_Finding]:
    """A secret-named target and its value; tuples are paired item by item."""
    if isinstance(target, (ast.Tuple, ast.List)):
        if (
            isinstance(value, (ast.Tuple, ast.List))
            and len(value.elts) == len(target.elts)
            and not any(isinstance(e, ast.Starred) for e in [*target.elts, *value.elts])
        ):
            for item, item_value in zip(target.elts, value.elts, strict=True):
                yield from _assigned(item, item_value)
        return
    if value is None:
        return

    if isinstance(target, ast.Subscript):
        key = _secret_key(target.slice)
        if key is not None:
            yield _Finding(value, f"[{key!r}]", "is assigned", _set_outside(key))
        return

    if isinstance(target, ast.Name):
        name = target.id
    elif isinstance(target, ast.Attribute):
        name = target.attr
    else:
        return
    if SECRET_NAME.search(name):
        shown = ast.unparse(target)
        env = f'os.environ["{_variable(name)}"]'
        yield _Finding(value, shown, "is assigned", _read_instead(f"{shown} = {env}"))
