"""Pieces shared by the command-line tools (``simulate``, ``semcom-figures``)."""

from __future__ import annotations

import argparse
import sys
from typing import Iterable

__all__ = ["UsageError", "Parser", "parse_or_exit_code", "positive_int", "join_negative_values", "print_error", "tqdm_progress"]


class UsageError(Exception):
    """Bad command-line arguments."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises :class:`UsageError` instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def join_negative_values(argv: list[str], options: Iterable[str]) -> list[str]:
    """``--snr -3:12`` → ``--snr=-3:12`` for the given options (argparse would take
    ``-3:12`` for an option)."""
    options = set(options)
    out: list[str] = []
    i = 0
    while i < len(argv):
        token, nxt = argv[i], argv[i + 1] if i + 1 < len(argv) else ""
        if token in options and len(nxt) > 1 and nxt[0] == "-" and (nxt[1].isdigit() or nxt[1] == "."):
            out.append(f"{token}={nxt}")
            i += 2
        else:
            out.append(token)
            i += 1
    return out


def print_error(prog: str, message: object) -> None:
    """One line on stderr: ``prog: error: message`` (whitespace collapsed)."""
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)


def tqdm_progress(unit: str, leave: bool = True):  # noqa: ANN201 (a factory of tqdm bars)
    """A progress factory ``(total, desc) -> tqdm`` writing to stderr."""
    from tqdm import tqdm

    def make(total: int, desc: str):  # noqa: ANN202
        return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=leave)

    return make


def parse_or_exit_code(parser: argparse.ArgumentParser, argv: list[str] | None, negative_options: Iterable[str],
                       prog: str) -> argparse.Namespace | int:
    """Parse ``argv`` (default ``sys.argv[1:]``); on bad arguments print one line and return 2,
    on ``--help`` return 0."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return parser.parse_args(join_negative_values(argv, negative_options))
    except UsageError as exc:
        print_error(prog, exc)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
