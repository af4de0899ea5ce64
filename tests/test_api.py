"""The public API at the package top: the examples of docs/api.md and of the README run as
written (tiny images where ``kodak`` is looked up, the shipped weights), the in-memory and the
stored sweep agree with the CLI, and ``import simulator`` stays light."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import simulator as sim
from simulator import registry
from simulator.cli import main
from simulator.data import REPO_ROOT
from tests.conftest import write_images


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.S | re.M)


@pytest.fixture
def kodak_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two 64×48 images as the data set ``kodak`` ($SEMCOM_DATA), the working directory a fresh
    folder (for ``results/`` and ``fig.png``), the shipped weights."""
    write_images(tmp_path / "data" / "kodak", [(64, 48)] * 2)
    monkeypatch.setenv("SEMCOM_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("SEMCOM_CHECKPOINTS", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_docs_api_examples_run(kodak_here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = _python_blocks((REPO_ROOT / "docs" / "api.md").read_text())
    assert len(blocks) >= 4
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "docs/api.md", "exec"), namespace)  # noqa: S102 - the documented examples
    out = capsys.readouterr().out
    assert "ΔPSNR vs ours" in out and "is an alias for several schemes" in out
    run = namespace["run"]
    assert isinstance(run, sim.Run) and run.result_files == {} and run.specs == ["ours", "jscc-t", "bpg-ldpc-1/2", "bpg-ldpc-3/4"]
    assert len(run.rows) == 4 * 16 * 2 and all(row["dataset"] == "kodak" for row in run.rows)
    assert (kodak_here / "fig.png").is_file() and (kodak_here / "fig.pdf").is_file()
    assert not (kodak_here / "results" / "kodak" / "ours.jsonl").exists()  # in memory: nothing written
    df = namespace["df"]
    assert len(df) == len(run.rows) and {"spec", "image_id", "snr_db", "realization", "psnr", "delivered"} <= set(df.columns)
    assert (kodak_here / "results" / "kodak" / "jscc-t.jsonl").is_file()
    assert (kodak_here / "results" / "kodak" / "psnr_msssim.png").is_file()
    assert namespace["loaded"].specs == ["bpg-ldpc-1/2", "bpg-ldpc-3/4", "jscc-t"]


def test_readme_python_example_runs(kodak_here: Path) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = _python_blocks(section)
    assert blocks
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102


def test_api_and_cli_give_the_same_rows_and_table(tiny_dataset: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    args = dict(snr="0,8", dataset=tiny_dataset, limit=2, channel="rayleigh-block", realizations=2)
    memory = sim.simulate("test-identity,test-identity:gain=0.9", **args)
    stored = sim.simulate(["test-identity", "test-identity:gain=0.9"], **args, results_dir=tmp_path / "res")
    keys = ("spec", "image_id", "snr_db", "realization", "psnr", "ms_ssim", "config_hash")
    assert [[r[k] for k in keys] for r in memory.rows] == [[r[k] for k in keys] for r in stored.rows]
    assert stored.result_files["test-identity"] == tmp_path / "res" / "tiny" / "rayleigh-block" / "test-identity.jsonl"
    assert main(["--scheme", "test-identity,test-identity:gain=0.9", "--snr", "0,8", "--dataset", str(tiny_dataset),
                 "--limit", "2", "--channel", "rayleigh-block", "--realizations", "2",
                 "--results-dir", str(tmp_path / "res"), "--no-progress", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    api = [s.to_json() for s in memory.summary()]
    stable = ("scheme", "snr_db", "psnr", "psnr_ci95", "ms_ssim", "n_images", "vs_reference")
    assert [[s.get(k) for k in stable] for s in cli] == [[s.get(k) for k in stable] for s in api]
    assert "ΔPSNR vs test-identity" in memory.table()
    assert memory.reference == "test-identity" and memory.summary(paired=False)[-1].vs_reference is None
    assert repr(memory) == ("Run(2 specs: test-identity, test-identity:gain=0.9; 16 rows; reference='test-identity'; "
                            "in memory)")
    assert repr(stored).endswith(f"stored under {tmp_path / 'res' / 'tiny' / 'rayleigh-block'})")
    with pytest.raises(ValueError, match="reference 'nope' is not one of the swept schemes"):
        memory.summary(reference="nope")
    with pytest.raises(ValueError, match="give plot\\(\\) a path"):
        memory.plot()


def test_envelope_aliases_and_dataset_label(small_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_ALIASES", dict(registry._ALIASES))  # the alias below stays in this test
    run = sim.simulate("test-identity", snr=[10, 0, 10.0], dataset=small_dataset)
    assert [s.snr_db for s in run.summary()] == [0.0, 10.0] and run.reference is None
    assert {row["dataset"] for row in run.rows} == {"small"}  # the folder's name, not "kodak"
    sim.register_alias("test-pair", ("test-identity", "test-identity:gain=0.9"), envelope=True)
    pair = sim.simulate("test-pair", snr=5, dataset=small_dataset)
    rows = pair.summary()
    assert [r.scheme for r in rows] == ["test-identity", "test-identity:gain=0.9", "test-pair"]
    best = max(rows[:2], key=lambda r: r.psnr)
    assert rows[-1].chosen == best.scheme and rows[-1].psnr == best.psnr
    assert pair.envelopes == {"test-pair": ("test-identity", "test-identity:gain=0.9")}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"snr": "12:3"}, "bad SNR spec"),
    ({"snr": [float("nan")]}, "bad SNR point"),
    ({"channel": "no-such"}, "unknown channel 'no-such'"),
    ({"channel": "awgn:k=3"}, "takes no options"),
    ({"limit": 0}, "bad limit 0"),
    ({"reference": "test-identity-b"}, "reference 'test-identity-b' is not one of the swept schemes"),
])
def test_bad_arguments_are_one_line_value_errors(small_dataset: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        sim.simulate("test-identity", **{"snr": "0", "dataset": small_dataset, **kwargs})
    assert "\n" not in str(info.value)


def test_create_scheme_on_an_alias_and_a_named_variant() -> None:
    with pytest.raises(ValueError, match=r"^'bpg-ldpc' is an alias for several schemes \(bpg-ldpc-1/2, bpg-ldpc-3/4\)"):
        sim.create_scheme("bpg-ldpc")
    assert sim.create_scheme("bpg-ldpc:rate=3/4:qam=4").name == "bpg-ldpc-3/4"


def test_to_pandas_without_pandas_says_so(small_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = sim.simulate("test-identity", snr=0, dataset=small_dataset)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="needs pandas, an optional dependency: pip install pandas"):
        run.to_pandas()


def test_import_is_light_and_names_resolve() -> None:
    code = ("import sys, simulator as sim; assert 'torch' not in sys.modules, 'torch imported'; "
            "names = [n for n in sim.__all__ if getattr(sim, n, None) is None]; assert not names, names")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sim.nope  # noqa: B018
