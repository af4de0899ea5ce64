"""One registry of transmission schemes, keyed by their CLI names.

Where schemes come from:

* the built-ins, modules of this repository listed in :data:`SCHEME_MODULES` whose
  :class:`~simulator.schemes.base.Scheme` subclasses are decorated with ``@register_scheme``;
* installed plugin packages: every entry point ``NAME = module:Class`` of the group
  ``semcom_sim.schemes`` (:mod:`simulator.plugins`) is registered under ``NAME``, and its
  package's name and version go into the ``versions`` of its result rows
  (:func:`plugin_versions`).  A plugin that fails to load gives one warning and is skipped; a
  plugin name that clashes with a built-in or with another plugin is a
  :class:`~simulator.plugins.PluginError` naming both packages (see ``docs/adding-a-scheme.md``).

CLI spec syntax: ``name`` or ``name:key=value:key=value`` (e.g. ``ours:steps=2:s1=0.5``);
several specs are separated by commas.  Specs are made canonical (:func:`canonical_spec`):
options in the scheme's declared order, values in canonical form, defaults dropped, named
variants under their name — one configuration, one spec, one result file.  Aliases
(:func:`register_alias`) stand for several specs; an *envelope* alias also asks for the
summary row of the best of them at each SNR (:func:`envelopes_in`).
"""

from __future__ import annotations

import importlib
import warnings
from typing import Callable, TypeVar

from simulator.options import parse_options
from simulator.plugins import SCHEME_GROUP, Plugin, PluginWarning, clash_error, discover
from simulator.schemes.base import Scheme

__all__ = ["register_scheme", "register_alias", "available_schemes", "available_aliases", "create_scheme",
           "canonical_spec", "parse_scheme_list", "envelopes_in", "plugin_of", "plugin_versions", "SCHEME_MODULES"]

#: Modules imported (lazily) to fill the registry.
SCHEME_MODULES: tuple[str, ...] = (
    "baselines.bpg_ldpc",
    "simulator.schemes.jscc_t",
    "simulator.schemes.jscc_t_sa",
    "simulator.schemes.ours",
    "baselines.cddm.scheme",
)

_REGISTRY: dict[str, type[Scheme]] = {}
#: alias → (the specs it stands for, whether it is an envelope).
_ALIASES: dict[str, tuple[tuple[str, ...], bool]] = {}
#: name → where a plugin scheme comes from.
_PLUGINS: dict[str, Plugin] = {}
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


def register_alias(name: str, specs: tuple[str, ...], envelope: bool = False) -> None:
    """Let ``name`` (without options) stand for ``specs``.  With ``envelope``, the summary also
    gets a row ``name`` per SNR: the spec with the best mean PSNR there (:func:`envelopes_in`).
    A scheme may share its name with an alias: the bare name is the alias, the name with
    options the scheme."""
    _ALIASES[name] = (tuple(specs), envelope)


def _load_all() -> None:
    """Import the built-in modules, then register the plugins (once per process).

    :raises simulator.plugins.PluginError: a plugin's name is already taken (raised again on
        every call until one of the two packages is uninstalled).
    """
    global _loaded
    if _loaded:
        return
    for module in SCHEME_MODULES:
        importlib.import_module(module)
    for plugin in discover(SCHEME_GROUP, Scheme):
        _register_plugin(plugin)
    _loaded = True


def _register_plugin(plugin: Plugin) -> None:
    held = _REGISTRY.get(plugin.name)
    if held is plugin.cls:
        return
    if held is not None or plugin.name in _ALIASES:
        raise clash_error("scheme", plugin, _PLUGINS.get(plugin.name), held)
    if plugin.cls.name and _REGISTRY.get(plugin.cls.name) is plugin.cls:  # a class's name is in its rows
        warnings.warn(f"plugin {plugin.name!r} ({plugin.target}) of {plugin.describe()} is skipped: its class is "
                      f"registered as {plugin.cls.name!r} already (one class, one name)", PluginWarning, stacklevel=3)
        return
    plugin.cls.name = plugin.name
    _REGISTRY[plugin.name] = plugin.cls
    _PLUGINS[plugin.name] = plugin


def plugin_of(name: str) -> Plugin | None:
    """The plugin package a scheme name comes from, ``None`` for a built-in."""
    _load_all()
    return _PLUGINS.get(name)


def plugin_versions(scheme: Scheme) -> dict[str, str]:
    """``{distribution: version}`` of the plugin package ``scheme`` comes from (what its rows
    record under ``versions``); ``{}`` for a built-in scheme, so built-in rows do not change."""
    _load_all()
    plugin = _PLUGINS.get(type(scheme).name)
    return plugin.versions() if plugin is not None and isinstance(scheme, plugin.cls) else {}


def available_schemes() -> dict[str, type[Scheme]]:
    """All registered schemes, name → class, sorted by name."""
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def available_aliases() -> dict[str, tuple[str, ...]]:
    """Alias → the specs it stands for."""
    _load_all()
    return {name: specs for name, (specs, _) in sorted(_ALIASES.items())}


def _parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    name, *opts = spec.strip().split(":")
    options: dict[str, str] = {}
    for opt in opts:
        if "=" not in opt:
            raise ValueError(f"bad scheme option {opt!r} in {spec!r}; expected name:key=value[:key=value]")
        key, value = opt.split("=", 1)
        options[key.strip()] = value.strip()
    return name.strip(), options


def _accepted_names() -> str:
    """Every name ``--scheme`` accepts (schemes and aliases), for error messages."""
    return ", ".join(sorted({*available_schemes(), *_ALIASES}))


def _scheme_class(name: str) -> type[Scheme]:
    schemes = available_schemes()
    if name not in schemes:
        raise ValueError(f"unknown scheme {name!r}; accepted: {_accepted_names()}")
    return schemes[name]


def canonical_spec(spec: str) -> str:
    """The one spec of a configuration: ``cddm:eta=0.0:start=matched`` → ``cddm``,
    ``ours:decoder=jscc:steps=1`` → ``ours:steps=1:decoder=jscc``,
    ``bpg-ldpc:rate=1/2:qam=4`` → ``bpg-ldpc-1/2``.

    :raises ValueError: one line, for an unknown scheme, option or value.
    """
    name, given = _parse_spec(spec)
    cls = _scheme_class(name)
    texts, _ = parse_options(name, cls.options_schema, given)
    variant = cls.named_variant(texts)
    if variant is not None:
        name, given = variant
        cls = _scheme_class(name)
        texts, _ = parse_options(name, cls.options_schema, given)
    kept = [f"{k}={v}" for k, v in texts.items() if v != cls.options_schema[k].default]
    return ":".join([name, *kept])


def parse_scheme_list(text: str) -> list[str]:
    """Split a comma-separated ``--scheme`` value into canonical specs, expanding aliases.

    :raises ValueError: naming the unknown scheme (or bad option) and what is accepted.
    """
    _load_all()
    specs: list[str] = []
    for spec in filter(None, (s.strip() for s in text.split(","))):
        if spec in _ALIASES:
            specs.extend(_ALIASES[spec][0])
        else:
            specs.append(canonical_spec(spec))
    if not specs:
        raise ValueError(f"no scheme given in {text!r}; accepted: {_accepted_names()}")
    return list(dict.fromkeys(specs))


def envelopes_in(text: str) -> dict[str, tuple[str, ...]]:
    """The envelope aliases named in a ``--scheme`` value: name → the specs it picks from."""
    _load_all()
    names = (s.strip() for s in text.split(","))
    return {n: _ALIASES[n][0] for n in names if n in _ALIASES and _ALIASES[n][1]}


def create_scheme(spec: str, **kwargs: object) -> Scheme:
    """Instantiate the scheme of one spec such as ``ours:steps=2`` (made canonical first, see
    :func:`canonical_spec`: ``bpg-ldpc:rate=1/2:qam=4`` is the ``bpg-ldpc-1/2`` scheme).

    :param kwargs: passed to the scheme's constructor (e.g. ``device=``).
    :raises ValueError: one line, for an unknown scheme, option or value, or for an alias (a name
        that stands for several specs: create each of them, or sweep the alias with
        :func:`simulator.simulate`).
    """
    _load_all()
    text = spec.strip()
    if text in _ALIASES:
        specs, _ = _ALIASES[text]
        raise ValueError(f"{text!r} is an alias for several schemes ({', '.join(specs)}); create one of them, "
                         "or sweep the alias (simulator.simulate / simulate --scheme)")
    name, options = _parse_spec(canonical_spec(text))
    return _scheme_class(name)(options, **kwargs)
