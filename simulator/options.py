"""Typed scheme options: declared once on the scheme, parsed in one place.

A scheme declares ``options_schema = {"iters": Option("50", "maximum BP iterations",
kind="int", minimum=1), ...}``.  :func:`parse_options` turns the CLI strings of a spec
(``name:key=value:...``) into

* canonical strings (``eta=0.0`` and ``eta=0`` both become ``"0"``; ``on``/``yes``/``1``
  become ``"on"``), which go into the scheme's ``config()`` and so into the config hash and
  the result file name: one configuration has one hash and one file;
* typed values (``int``, ``float``, ``bool``, or the chosen word) for the scheme's code.

A bad value raises a one-line :class:`ValueError` naming the scheme, the option, the value
and what is accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Option", "parse_options", "canonical_number", "describe_option"]

Kind = Literal["choice", "int", "float", "bool"]
_TRUE = ("on", "true", "yes", "1")
_FALSE = ("off", "false", "no", "0")


def canonical_number(value: float) -> str:
    """Shortest text of a number: ``0.0`` → ``"0"``, ``1e-3`` → ``"0.001"``, ``2.5`` → ``"2.5"``."""
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


@dataclass(frozen=True)
class Option:
    """One scheme option.

    :ivar default: the default in canonical text form; ``None`` makes the option required.
    :ivar help: one line for ``simulate --list-schemes``.
    :ivar kind: ``choice`` (one of ``choices``), ``int``, ``float`` or ``bool`` (on/off).
    :ivar choices: accepted words: all accepted values for ``choice``; for ``int``/``float``
        words accepted besides numbers (e.g. ``auto``, ``none``).
    :ivar minimum: smallest accepted number (``int``/``float``), inclusive.
    """

    default: str | None
    help: str
    kind: Kind = "choice"
    choices: tuple[str, ...] = ()
    minimum: float | None = None

    def accepted(self) -> str:
        """What the option accepts, in words (for errors and ``--list-schemes``)."""
        if self.kind == "bool":
            return "on or off"
        if self.kind == "choice":
            return ", ".join(self.choices)
        number = "an integer" if self.kind == "int" else "a number"
        if self.minimum is not None:
            number += f" >= {canonical_number(self.minimum)}"
        return " or ".join([*self.choices, number]) if self.choices else number

    def parse(self, text: str) -> tuple[str, Any]:
        """``text`` → (canonical text, typed value).

        :raises ValueError: ``"bad value"`` (the caller adds the scheme and option names).
        """
        word = text.strip()
        if word in self.choices:
            return word, word
        if self.kind == "bool":
            low = word.lower()
            if low in _TRUE or low in _FALSE:
                return ("on", True) if low in _TRUE else ("off", False)
        elif self.kind in ("int", "float"):
            try:
                value: float = int(word) if self.kind == "int" else float(word)
            except ValueError:
                value = math.nan
            if math.isfinite(value) and (self.minimum is None or value >= self.minimum):
                return (str(value) if self.kind == "int" else canonical_number(value)), value
        raise ValueError("bad value")


def describe_option(name: str, option: Option) -> str:
    """``name=<accepted> (default D): help`` — one line of ``--list-schemes``."""
    default = "required" if option.default is None else f"default {option.default}"
    return f"{name}=<{option.accepted()}> ({default}): {option.help}"


def parse_options(scheme: str, schema: dict[str, Option], given: dict[str, str]
                  ) -> tuple[dict[str, str], dict[str, Any]]:
    """Validate a spec's options against a scheme's schema.

    :param scheme: the scheme's name (for messages).
    :param schema: the scheme's ``options_schema``.
    :param given: ``key → text`` from the spec.
    :returns: (canonical text of every option, defaults included, in schema order;
        typed values, same keys).
    :raises ValueError: one line, for an unknown option, a bad value or a missing required one.
    """
    unknown = sorted(set(given) - set(schema))
    if unknown:
        accepted = ", ".join(schema) or "none"
        raise ValueError(f"scheme {scheme!r}: unknown option(s) {unknown}; accepted: {accepted}")
    texts: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key, option in schema.items():
        text = given.get(key, option.default)
        if text is None:
            raise ValueError(f"scheme {scheme!r}: option {key} is required; accepted: {option.accepted()}")
        try:
            texts[key], values[key] = option.parse(text)
        except ValueError:
            raise ValueError(f"scheme {scheme!r}: bad {key}={text!r}; accepted: {option.accepted()}") from None
    return texts, values
