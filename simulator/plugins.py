"""Schemes and channels from other installed packages, found by Python entry points.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."semcom_sim.schemes"]
    j2k-ldpc = "my_package.scheme:J2kLdpc"          # NAME = module:Class, a Scheme subclass
    [project.entry-points."semcom_sim.channels"]
    rician-block = "my_package.channel:RicianBlock"  # a Channel subclass

and, once installed, ``NAME`` works like a built-in (``simulate --scheme j2k-ldpc``,
``--channel rician-block``, ``simulator.simulate(...)``).  :func:`discover` loads every entry of a
group; the registries (:mod:`simulator.registry`, :mod:`simulator.channels.registry`) register
them and record each one's distribution and version (:class:`Plugin`) so that rows can name them.

A plugin that cannot be loaded (import error, not a subclass of the group's base class) gives one
:class:`PluginWarning` naming it and is skipped; the built-ins are not affected.  A name claimed
twice is a :class:`PluginError` naming both packages (raised by the registries).
"""

from __future__ import annotations

import importlib.metadata
import warnings
from dataclasses import dataclass
from typing import Any

__all__ = ["SCHEME_GROUP", "CHANNEL_GROUP", "Plugin", "PluginError", "PluginWarning", "discover", "clash_error"]

#: Entry-point group of scheme plugins.
SCHEME_GROUP = "semcom_sim.schemes"
#: Entry-point group of channel plugins.
CHANNEL_GROUP = "semcom_sim.channels"


class PluginError(ValueError):
    """Two packages claim the same scheme or channel name (one line naming both)."""


class PluginWarning(UserWarning):
    """An installed plugin could not be loaded and was skipped."""


@dataclass(frozen=True)
class Plugin:
    """Where a plugin's class comes from.

    :ivar group: the entry-point group (:data:`SCHEME_GROUP` or :data:`CHANNEL_GROUP`).
    :ivar name: the registered name (the entry point's name).
    :ivar target: the entry point's ``module:Class``.
    :ivar distribution: the installed package that declares it (``"?"`` if unknown).
    :ivar version: that package's version (``"?"`` if unknown).
    :ivar cls: the loaded class.
    """

    group: str
    name: str
    target: str
    distribution: str
    version: str
    cls: type

    def describe(self) -> str:
        """``distribution version`` — how messages and ``--list-schemes`` name the package."""
        return f"{self.distribution} {self.version}"

    def versions(self) -> dict[str, str]:
        """``{distribution: version}``, what result rows record under ``versions``."""
        return {self.distribution: self.version}


def _entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for ep in importlib.metadata.entry_points(group=group):
        key = (ep.name, ep.value, str(getattr(getattr(ep, "dist", None), "name", None)))
        if key not in seen:  # one package on sys.path twice
            seen.add(key)
            out.append(ep)
    return out


def discover(group: str, base: type) -> list[Plugin]:
    """Load every entry point of ``group``; each must name a subclass of ``base``.

    :returns: the loaded plugins, in entry-point order.  One that cannot be loaded is skipped
        with a :class:`PluginWarning` naming it, its target and its package.
    """
    plugins = []
    for ep in _entry_points(group):
        dist = getattr(ep, "dist", None)
        distribution = str(getattr(dist, "name", None) or "?")
        version = str(getattr(dist, "version", None) or "?")
        where = f"plugin {ep.name!r} ({ep.value}) of {distribution} {version} [{group}]"
        try:
            cls: Any = ep.load()
        except Exception as exc:  # noqa: BLE001 - any failure of a third-party import is reported
            warnings.warn(f"{where} is skipped: {type(exc).__name__}: {' '.join(str(exc).split())}",
                          PluginWarning, stacklevel=3)
            continue
        if not (isinstance(cls, type) and issubclass(cls, base)):
            warnings.warn(f"{where} is skipped: {ep.value} is not a subclass of {base.__module__}.{base.__name__}",
                          PluginWarning, stacklevel=3)
            continue
        plugins.append(Plugin(group, ep.name, ep.value, distribution, version, cls))
    return plugins


def clash_error(kind: str, plugin: Plugin, other: Plugin | None, other_cls: type | None) -> PluginError:
    """The error for ``plugin`` claiming a ``kind`` name held by ``other`` (a plugin) or by
    ``other_cls`` (a built-in or in-process registration)."""
    if other is not None:
        held = f"plugin package {other.describe()} ({other.target})"
    elif other_cls is None:
        held = f"a {kind} alias of {_own_package()}"
    elif other_cls.__module__.split(".")[0] in ("simulator", "baselines"):
        held = f"the built-in {kind} of {_own_package()} ({other_cls.__module__}:{other_cls.__qualname__})"
    else:
        held = f"the {kind} registered in this process by {other_cls.__module__}:{other_cls.__qualname__}"
    return PluginError(f"{kind} name {plugin.name!r} is claimed by both plugin package {plugin.describe()} "
                       f"({plugin.target}) and {held}; uninstall one of them")


def _own_package() -> str:
    try:
        return f"semcom-sim {importlib.metadata.version('semcom-sim')}"
    except importlib.metadata.PackageNotFoundError:
        return "semcom-sim"
