"""Schemes and channels from installed packages (entry points): the example package
``examples/plugin`` installed offline and swept beside ``jscc-t``; broken and clashing plugins
with fake entry points.

Nothing leaks into other tests: the package is installed into a temporary ``--target`` folder
put on ``sys.path`` only inside the ``plugin_installed`` fixture, and the registries' state is
restored after each test (``fresh_registries``).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

import simulator as sim
from simulator import plugins, registry
from simulator.channels import registry as channel_registry
from simulator.cli import main
from simulator.data import REPO_ROOT
from tests.conftest import IdentityScheme

EXAMPLE = REPO_ROOT / "examples" / "plugin"
DIST = "semcom-sim-example-plugin"


@pytest.fixture
def fresh_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registries that look for plugins again, restored (built-ins and all) after the test."""
    registry.available_schemes()  # the built-ins register into the lasting registry, not the copy
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_PLUGINS", {})
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(channel_registry, "_PLUGINS", {})
    monkeypatch.setattr(channel_registry, "_loaded", False)


@pytest.fixture(scope="module")
def plugin_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``examples/plugin`` installed offline (``pip install --no-deps --no-build-isolation
    --no-index --target``) from a copy, so the build leaves nothing in the repository."""
    root = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(EXAMPLE, root / "src", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = root / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return target


@pytest.fixture
def plugin_installed(plugin_target: Path, fresh_registries: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The installed example package on ``sys.path`` for this test only."""
    monkeypatch.syspath_prepend(str(plugin_target))
    yield plugin_target
    for name in [m for m in sys.modules if m.split(".")[0] == "semcom_example_plugin"]:
        del sys.modules[name]


def test_installed_plugin_is_listed(plugin_installed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-schemes"]) == 0
    out = capsys.readouterr().out
    scheme_line = next(line for line in out.splitlines() if line.startswith("j2k-ldpc "))
    assert "JPEG 2000" in scheme_line and f"[plugin: {DIST} 0.1.0]" in scheme_line
    assert "rate=<1/3, 1/2, 2/3, 3/4, 5/6> (default 1/2)" in out
    channel_line = next(line for line in out.splitlines() if line.startswith("rician-block "))
    assert "K factor" in channel_line and f"[plugin: {DIST} 0.1.0]" in channel_line
    assert "options: k, coherence (rician-block:key=value)" in out
    assert "jscc-t" in sim.list_schemes() and "rayleigh-fast" in sim.list_channels()


def test_plugin_scheme_and_channel_swept_beside_jscc_t(plugin_installed: Path, tiny_dataset: Path,
                                                       tiny_checkpoints: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(tiny_checkpoints))
    argv = ["--scheme", "j2k-ldpc,jscc-t:config=tiny", "--snr", "-2,12", "--dataset", str(tiny_dataset),
            "--limit", "2", "--channel", "rician-block:k=10", "--results-dir", str(tmp_path / "res"),
            "--no-progress", "--json"]
    assert main(argv) == 0
    summary = {(s["scheme"], s["snr_db"]): s for s in json.loads(capsys.readouterr().out)}
    low, high = summary[("j2k-ldpc", -2.0)], summary[("j2k-ldpc", 12.0)]
    assert low["delivered"] == 0.0 and high["delivered"] == 1.0 and high["psnr"] > low["psnr"] + 5
    assert summary[("jscc-t:config=tiny", 12.0)]["vs_reference"]["reference"] == "j2k-ldpc"
    folder = tmp_path / "res" / "tiny" / "rician-block-K10"
    rows = [row for f in sorted(folder.glob("*.jsonl")) for row in sim.load_results(f).rows]
    assert {row["spec"] for row in rows} == {"j2k-ldpc", "jscc-t:config=tiny"} and len(rows) == 8
    for row in rows:
        assert row["versions"][DIST] == "0.1.0"  # the channel's package, in every row
        assert row["channel"] == {"name": "rician-block", "k": 10.0, "coherence": None}
    j2k = [row for row in rows if row["spec"] == "j2k-ldpc"]
    assert all("openjpeg" in row["versions"] for row in j2k)
    assert all(row["extras"]["payload_bits"] <= row["extras"]["budget_bits"] for row in j2k)
    # over AWGN: the plugin scheme's package in its rows, built-in rows untouched
    run = sim.simulate("j2k-ldpc:qam=16,jscc-t:config=tiny", snr=20, dataset=tiny_dataset, limit=1)
    by_spec = {row["spec"]: row for row in run.rows}
    assert by_spec["j2k-ldpc:qam=16"]["versions"][DIST] == "0.1.0" and by_spec["j2k-ldpc:qam=16"]["extras"]["delivered"]
    assert DIST not in by_spec["jscc-t:config=tiny"]["versions"] and "channel" not in by_spec["jscc-t:config=tiny"]


def test_plugin_channel_options_are_checked(plugin_installed: Path) -> None:
    assert sim.make_channel("rician-block", 64).tag == "rician-block-K4-L64"
    for spec, message in [("rician-block:k=-1", "bad k='-1'"), ("rician-block:q=1", "unknown option(s) ['q']"),
                          ("rician-block:coherence=1.5", "bad coherence='1.5'")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            sim.make_channel(spec)


# --------------------------------------------------------------------------- fake entry points
class FakeScheme(IdentityScheme):
    """A well-formed plugin scheme."""

    description = "test only: a fake plugin scheme"


def _ep(name: str, target: Any, group: str, dist: str = "fake-dist", version: str = "1.0") -> SimpleNamespace:
    """An entry point as :mod:`simulator.plugins` uses it: name, value, dist, load()."""

    def load() -> Any:
        if isinstance(target, Exception):
            raise target
        return target

    return SimpleNamespace(name=name, value=f"fake_module:{name}", group=group,
                           dist=SimpleNamespace(name=dist, version=version), load=load)


@pytest.fixture
def fake_entry_points(fresh_registries: None, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """``install(*entry_points)``: what ``importlib.metadata.entry_points(group=...)`` returns."""
    installed: list[SimpleNamespace] = []
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: [ep for ep in installed if ep.group == group])
    return lambda *entries: installed.extend(entries)


def test_broken_plugin_warns_once_and_the_rest_works(fake_entry_points, tiny_dataset: Path) -> None:  # noqa: ANN001
    fake_entry_points(_ep("broken", ImportError("No module named 'fake_module'"), plugins.SCHEME_GROUP),
                      _ep("not-a-scheme", dict, plugins.SCHEME_GROUP),
                      _ep("fake-good", FakeScheme, plugins.SCHEME_GROUP, dist="good-dist", version="2.3"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schemes = sim.list_schemes()
        sim.list_schemes()
    messages = [str(w.message) for w in caught if issubclass(w.category, sim.PluginWarning)]
    assert len(messages) == 2, messages
    assert "plugin 'broken' (fake_module:broken) of fake-dist 1.0" in messages[0] and "ImportError" in messages[0]
    assert "'not-a-scheme'" in messages[1] and "is not a subclass of simulator.schemes.base.Scheme" in messages[1]
    assert {"fake-good", "jscc-t", "bpg-ldpc-1/2", "test-identity"} <= set(schemes) and "broken" not in schemes
    run = sim.simulate("fake-good,test-identity", snr=5, dataset=tiny_dataset, limit=1)
    versions = {row["spec"]: row["versions"] for row in run.rows}
    assert versions["fake-good"]["good-dist"] == "2.3" and "good-dist" not in versions["test-identity"]


@pytest.mark.parametrize(("entries", "expected"), [
    ([_ep("jscc-t", FakeScheme, plugins.SCHEME_GROUP)],
     ["scheme name 'jscc-t'", "fake-dist 1.0 (fake_module:jscc-t)", "the built-in scheme of semcom-sim"]),
    ([_ep("bpg-ldpc-best", FakeScheme, plugins.SCHEME_GROUP)],
     ["scheme name 'bpg-ldpc-best'", "fake-dist 1.0", "a scheme alias of semcom-sim"]),
    ([_ep("dup", FakeScheme, plugins.SCHEME_GROUP, dist="pkg-a"), _ep("dup", IdentityScheme, plugins.SCHEME_GROUP, dist="pkg-b")],
     ["scheme name 'dup'", "pkg-b 1.0", "pkg-a 1.0"]),
])
def test_scheme_name_clash_names_both_packages(fake_entry_points, entries: list, expected: list[str],  # noqa: ANN001
                                               capsys: pytest.CaptureFixture[str]) -> None:
    fake_entry_points(*entries)
    with pytest.raises(sim.PluginError) as info:
        sim.list_schemes()
    assert all(part in str(info.value) for part in expected), str(info.value)
    assert main(["--list-schemes"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("simulate: error: scheme name") and len(err.strip().splitlines()) == 1


def test_channel_name_clash_and_broken_channel(fake_entry_points) -> None:  # noqa: ANN001
    fake_entry_points(_ep("lossy", RuntimeError("boom"), plugins.CHANNEL_GROUP))
    with pytest.warns(sim.PluginWarning, match="plugin 'lossy' .* is skipped: RuntimeError: boom"):
        assert list(sim.list_channels()) == ["awgn", "rayleigh-block", "rayleigh-fast"]
    channel_registry._loaded = False
    fake_entry_points(_ep("awgn", sim.RayleighFastChannel, plugins.CHANNEL_GROUP))
    with pytest.warns(sim.PluginWarning), pytest.raises(sim.PluginError, match="channel name 'awgn' is claimed by both plugin "
                                                        "package fake-dist 1.0 .* and the built-in channel of semcom-sim"):
        sim.make_channel("awgn")


def test_adding_a_scheme_doc_example(fake_entry_points, tmp_path: Path) -> None:  # noqa: ANN001
    """docs/adding-a-scheme.md: its plugin scheme, registered by an entry point, passes its test."""
    scheme_block, test_block = re.findall(r"^```python\n(.*?)^```", (REPO_ROOT / "docs" / "adding-a-scheme.md").read_text(),
                                          flags=re.S | re.M)
    namespace: dict[str, Any] = {"__name__": "my_scheme.raw"}
    exec(compile(scheme_block, "docs/adding-a-scheme.md", "exec"), namespace)  # noqa: S102
    fake_entry_points(_ep("raw", namespace["RawPixels"], plugins.SCHEME_GROUP, dist="my-scheme", version="0.1.0"))
    exec(compile(test_block, "docs/adding-a-scheme.md", "exec"), namespace)  # noqa: S102
    namespace["test_raw_sweep"](tmp_path)
    assert sim.create_scheme("raw:gain=0.90").options == {"gain": "0.9"}
    assert registry.plugin_of("raw").describe() == "my-scheme 0.1.0"


def test_one_class_under_two_names_is_skipped_with_a_warning(fake_entry_points) -> None:  # noqa: ANN001
    class Twice(IdentityScheme):
        description = "test only: one class, two entry points"

    fake_entry_points(_ep("first", Twice, plugins.SCHEME_GROUP), _ep("second", Twice, plugins.SCHEME_GROUP))
    with pytest.warns(sim.PluginWarning, match="plugin 'second' .* registered as 'first' already"):
        schemes = sim.list_schemes()
    assert schemes["first"] is Twice and "second" not in schemes and Twice.name == "first"


def test_cli_shows_a_broken_plugin_as_one_warning_line(fake_entry_points, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    fake_entry_points(_ep("broken", ImportError("No module named 'fake_module'"), plugins.SCHEME_GROUP))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["--list-schemes"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["simulate: warning: plugin 'broken' (fake_module:broken) of fake-dist 1.0 "
                                         "[semcom_sim.schemes] is skipped: ImportError: No module named 'fake_module'"]
    assert "jscc-t" in captured.out
