"""The options of the ``%%agent`` and ``%%timer`` cell magics.

One grammar for the two places that read them: the magics themselves
(:mod:`streamkit.jupyter.magics`) and the notebook exporter
(:mod:`streamkit.export`), which must run where IPython is not installed.
The inspection and input magics (``peek``, ``send``, ``%%send``) live here
too, beside the argument types they share.
"""

from __future__ import annotations

import argparse
import math
import shlex
from typing import NoReturn


class MagicParser(argparse.ArgumentParser):
    """argparse that raises ValueError, with the usage line, instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(f"{self.prog}: {message}\n{self.format_usage().rstrip()}")

    def parse_line(self, line: str) -> argparse.Namespace:
        """Parse a magic's option line (shell-like quoting)."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise ValueError(f"{self.prog}: cannot parse {line!r}: {exc}") from None
        return self.parse_args(words)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer (1, 2, ...), got {text!r}"
        )
    return value


def _partition(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"must be a partition number (0, 1, ...), got {text!r}"
        )
    return value


def _seconds(text: str) -> str:
    # Kept as written, so an exported module says `@app.timer(5)` as the
    # cell did; the magic converts it to a float.
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds (e.g. 0.5 or 10), got {text!r}"
        )
    return text


def handler_parsers() -> dict[str, MagicParser]:
    """Parsers of ``%%agent [TOPIC] [--name N] [--concurrency C] [--app A]``
    and ``%%timer SECONDS [--name N] [--app A]``."""
    agent = MagicParser(prog="%%agent", add_help=False)
    agent.add_argument("topic", nargs="?", metavar="TOPIC")
    agent.add_argument("--name", metavar="N")
    agent.add_argument("--concurrency", type=_positive_int, default=1, metavar="C")
    agent.add_argument("--app", metavar="NAME")

    timer = MagicParser(prog="%%timer", add_help=False)
    timer.add_argument("seconds", type=_seconds, metavar="SECONDS")
    timer.add_argument("--name", metavar="N")
    timer.add_argument("--app", metavar="NAME")
    return {"agent": agent, "timer": timer}


def inspection_parsers() -> dict[str, MagicParser]:
    """Parsers of ``%streamkit peek TOPIC [-n N] [--partition P] [--app A]``,
    ``%streamkit send TOPIC VALUE [--key K] [--app A]`` and
    ``%%send TOPIC [--key K | --key-field FIELD] [--app A]``."""
    peek = MagicParser(prog="%streamkit peek", add_help=False)
    # The subcommand's own word, already in the prog: kept out of the usage.
    peek.add_argument("peek", help=argparse.SUPPRESS)
    peek.add_argument("topic", metavar="TOPIC")
    peek.add_argument("-n", type=_positive_int, default=10, metavar="N")
    peek.add_argument("--partition", type=_partition, metavar="P")
    peek.add_argument("--app", metavar="NAME")

    send = MagicParser(prog="%streamkit send", add_help=False)
    send.add_argument("send", help=argparse.SUPPRESS)
    send.add_argument("topic", metavar="TOPIC")
    send.add_argument("value", metavar="VALUE")
    send.add_argument("--key", metavar="K")
    send.add_argument("--app", metavar="NAME")

    send_cell = MagicParser(prog="%%send", add_help=False)
    send_cell.add_argument("topic", metavar="TOPIC")
    keys = send_cell.add_mutually_exclusive_group()
    keys.add_argument("--key", metavar="K")
    keys.add_argument("--key-field", metavar="FIELD")
    send_cell.add_argument("--app", metavar="NAME")
    return {"peek": peek, "send": send, "send_cell": send_cell}
