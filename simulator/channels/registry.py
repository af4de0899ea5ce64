"""The channels ``--channel`` accepts, by name: the built-ins and installed plugins.

A plugin package declares ``NAME = module:Class`` in the entry-point group
``semcom_sim.channels`` (:mod:`simulator.plugins`), ``Class`` a :class:`Channel` subclass; it is
registered under ``NAME`` (its ``name``).  A channel spec is ``NAME`` or
``NAME:key=value:key=value``: the options go to a plugin's constructor as keyword arguments
(strings; the constructor converts and checks them), e.g. ``rician-block:k=10``.  A plugin that
fails to load gives one warning and is skipped; a name that clashes with a built-in or another
plugin is a :class:`~simulator.plugins.PluginError` naming both packages.
"""

from __future__ import annotations

import inspect

from simulator.channels.models import AWGNChannel, Channel, RayleighBlockChannel, RayleighFastChannel
from simulator.plugins import CHANNEL_GROUP, Plugin, clash_error, discover

__all__ = ["CHANNELS", "available_channels", "channel_plugin_of", "make_channel", "plugin_versions"]

#: name → channel class of the built-in channels.
CHANNELS: dict[str, type[Channel]] = {c.name: c for c in (AWGNChannel, RayleighBlockChannel, RayleighFastChannel)}

#: name → where a plugin channel comes from (filled once per process).
_PLUGINS: dict[str, Plugin] = {}
_loaded = False


def _load_plugins() -> None:
    global _loaded
    if _loaded:
        return
    for plugin in discover(CHANNEL_GROUP, Channel):
        held = CHANNELS.get(plugin.name) or (_PLUGINS[plugin.name].cls if plugin.name in _PLUGINS else None)
        if held is plugin.cls:
            continue
        if held is not None:
            raise clash_error("channel", plugin, _PLUGINS.get(plugin.name), held)
        plugin.cls.name = plugin.name
        _PLUGINS[plugin.name] = plugin
    _loaded = True


def available_channels() -> dict[str, type[Channel]]:
    """Every channel ``--channel`` accepts, name → class: the built-ins, then the plugins by name.

    :raises simulator.plugins.PluginError: two packages claim one name.
    """
    _load_plugins()
    return CHANNELS | {name: _PLUGINS[name].cls for name in sorted(_PLUGINS)}


def channel_plugin_of(name: str) -> Plugin | None:
    """The plugin package a channel name comes from, ``None`` for a built-in."""
    _load_plugins()
    return _PLUGINS.get(name)


def plugin_versions(channel: Channel | None) -> dict[str, str]:
    """``{distribution: version}`` of the plugin package of ``channel`` (what rows record under
    ``versions``); ``{}`` for a built-in channel or ``None``."""
    if channel is None:
        return {}
    _load_plugins()
    plugin = _PLUGINS.get(channel.name)
    return plugin.versions() if plugin is not None and isinstance(channel, plugin.cls) else {}


def _parse(spec: str) -> tuple[str, dict[str, str]]:
    name, *opts = spec.strip().split(":")
    options = {}
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"bad channel option {opt!r} in {spec!r}; expected name:key=value[:key=value]")
        options[key.strip()] = value.strip()
    return name.strip(), options


def make_channel(spec: str, coherence: int | None = None) -> Channel:
    """The channel of ``spec`` (``NAME`` or, for a plugin, ``NAME:key=value...``); ``coherence``
    (L channel uses) only for ``rayleigh-block`` and for plugins whose constructor takes it.

    :raises ValueError: one line naming the bad value and what is accepted.
    """
    name, options = _parse(spec)
    channels = available_channels()
    if name not in channels:
        raise ValueError(f"unknown channel {name!r}; accepted: {', '.join(channels)}")
    if name in CHANNELS:
        if options:
            raise ValueError(f"channel {name!r} takes no options, got {spec!r}")
        if name == RayleighBlockChannel.name:
            return RayleighBlockChannel(coherence)
        if coherence is not None:
            raise ValueError(f"coherence={coherence} applies to rayleigh-block only, not to {name}")
        return CHANNELS[name]()
    cls = channels[name]
    accepted = [p for p in inspect.signature(cls).parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    names = [p.name for p in accepted]
    kwargs: dict[str, object] = dict(options)
    if coherence is not None:
        kwargs["coherence"] = coherence
    unknown = sorted(set(kwargs) - set(names))
    if unknown:
        raise ValueError(f"channel {name!r}: unknown option(s) {unknown}; accepted: {', '.join(names) or 'none'}")
    return cls(**kwargs)
