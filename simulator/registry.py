"""One registry of transmission schemes, keyed by their CLI names.

Adding a scheme: write a module with a :class:`~simulator.schemes.base.Scheme` subclass
decorated with ``@register_scheme``, add the module path to :data:`SCHEME_MODULES`, and
add a test (see ``docs/adding-a-scheme.md``).

CLI spec syntax: ``name`` or ``name:key=value:key=value`` (e.g. ``ours:steps=2:s1=0.5``);
several specs are separated by commas.  Aliases expand to several schemes.
"""

from __future__ import annotations

import importlib
from typing import Callable, TypeVar

from simulator.schemes.base import Scheme

__all__ = ["register_scheme", "available_schemes", "create_scheme", "parse_scheme_list", "SCHEME_MODULES"]

#: Modules imported (lazily) to fill the registry.
SCHEME_MODULES: tuple[str, ...] = (
    "baselines.bpg_ldpc",
    "simulator.schemes.jscc_t",
    "simulator.schemes.ours",
    "baselines.cddm.scheme",
)

#: alias → the schemes it stands for.
ALIASES: dict[str, tuple[str, ...]] = {"bpg-ldpc": ("bpg-ldpc-1/2", "bpg-ldpc-3/4")}

_REGISTRY: dict[str, type[Scheme]] = {}
_loaded = False

S = TypeVar("S", bound=type[Scheme])


def register_scheme(name: str) -> Callable[[S], S]:
    """Class decorator: register a scheme under its CLI ``name``."""

    def decorate(cls: S) -> S:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"scheme name {name!r} is registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for module in SCHEME_MODULES:
        importlib.import_module(module)
    _loaded = True


def available_schemes() -> dict[str, type[Scheme]]:
    """All registered schemes, name → class, sorted by name."""
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def _parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    name, *opts = spec.strip().split(":")
    options: dict[str, str] = {}
    for opt in opts:
        if "=" not in opt:
            raise ValueError(f"bad scheme option {opt!r} in {spec!r}; expected name:key=value[:key=value]")
        key, value = opt.split("=", 1)
        options[key.strip()] = value.strip()
    return name.strip(), options


def parse_scheme_list(text: str) -> list[str]:
    """Split a comma-separated ``--scheme`` value into single specs, expanding aliases.

    :raises ValueError: naming the unknown scheme and the accepted names.
    """
    schemes = available_schemes()
    specs: list[str] = []
    for spec in filter(None, (s.strip() for s in text.split(","))):
        name, _ = _parse_spec(spec)
        if name in ALIASES:
            specs.extend(ALIASES[name])
        elif name in schemes:
            specs.append(spec)
        else:
            accepted = ", ".join([*schemes, *ALIASES])
            raise ValueError(f"unknown scheme {name!r}; accepted: {accepted}")
    if not specs:
        raise ValueError(f"no scheme given in {text!r}; accepted: {', '.join(schemes)}")
    return list(dict.fromkeys(specs))


def create_scheme(spec: str, **kwargs: object) -> Scheme:
    """Instantiate a scheme from a CLI spec such as ``ours:steps=2``."""
    name, options = _parse_spec(spec)
    schemes = available_schemes()
    if name not in schemes:
        raise ValueError(f"unknown scheme {name!r}; accepted: {', '.join(schemes)}")
    return schemes[name](options, **kwargs)
