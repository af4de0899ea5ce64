"""The ``simulate`` command and the plot command, driven through ``main([...])``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.data import REPO_ROOT
from simulator.plot import main as plot_main
from simulator.plot import style_for

REQUIRED = {"scheme", "snr_db", "psnr", "psnr_ci95", "ms_ssim", "ms_ssim_ci95", "n_images", "receiver_ms", "delivered"}


def _args(dataset: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["--scheme", "test-identity", "--dataset", str(dataset), "--results-dir", str(tmp_path / "res"),
            "--no-progress", *extra]


def test_json_summary(tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(tiny_dataset, tmp_path, "--snr", "-2:4:6", "--limit", "2", "--json")) == 0
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert [s["snr_db"] for s in summary] == [-2.0, 4.0]
    for s in summary:
        assert REQUIRED <= set(s), REQUIRED - set(s)
        assert s["scheme"] == "test-identity" and s["n_images"] == 2
    assert summary[0]["psnr"] < summary[1]["psnr"]
    assert summary[1]["delivered"] == 1.0
    assert (tmp_path / "res" / "tiny" / "test-identity.jsonl").is_file()


def test_table_and_plot(tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_png = tmp_path / "fig" / "curves.png"
    argv = _args(tiny_dataset, tmp_path, "--snr", "0,8", "--limit", "1", "--plot", str(out_png))
    argv[1] = "test-identity,test-identity-b"
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "PSNR" in out and "test-identity-b" in out and len(out.splitlines()) == 5
    assert out_png.stat().st_size > 0 and out_png.with_suffix(".pdf").stat().st_size > 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scheme", "no-such-scheme"], "unknown scheme 'no-such-scheme'"),
        (["--scheme", "test-identity:bogus=1"], "unknown option"),
        (["--snr", "12:3"], "bad SNR spec"),
        (["--dataset", "no-such-dataset"], "data set 'no-such-dataset' not found"),
        (["--limit", "0"], "must be >= 1"),
        (["--frobnicate"], "unrecognized arguments"),
    ],
)
def test_bad_input_exits_2(
    tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(_args(tiny_dataset, tmp_path, *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("simulate: error:") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_paired_differences_to_a_reference(tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = _args(tiny_dataset, tmp_path, "--snr", "0,8", "--json")
    argv[1] = "test-identity,test-identity:gain=0.9"
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert all("vs_reference" not in s for s in summary if s["scheme"] == "test-identity")
    for s in (s for s in summary if s["scheme"] != "test-identity"):
        d = s["vs_reference"]
        assert d["reference"] == "test-identity" and d["n_images"] == 3 and d["psnr"] != 0
        assert 0 <= d["psnr_ci95"] < s["psnr_ci95"]  # pairing removes the spread between images
    assert main([*argv[:-1], "--reference", "test-identity:gain=0.9"]) == 0
    table = capsys.readouterr().out
    assert "ΔPSNR vs test-identity:gain=0.9" in table and "ΔMS-SSIM" in table
    assert main([*argv, "--reference", "jscc-t"]) == 2
    err = capsys.readouterr().err
    assert "reference 'jscc-t' is not one of the swept schemes" in err and len(err.strip().splitlines()) == 1


def test_missing_scheme_and_empty_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--snr", "0"]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["--scheme", "test-identity", "--dataset", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "no --scheme" in err[0] and "no images" in err[1]


def test_list_schemes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-schemes"]) == 0
    out = capsys.readouterr().out
    assert "test-identity" in out and "raw pixels over AWGN" in out and "bpg-ldpc" in out


def test_plot_command_reads_result_files(tiny_dataset: Path, tmp_path: Path) -> None:
    assert main(_args(tiny_dataset, tmp_path, "--snr", "0,5", "--limit", "1")) == 0
    result = tmp_path / "res" / "tiny" / "test-identity.jsonl"
    out = tmp_path / "p.png"
    # a separate interpreter: the plot needs the result file only, not the scheme
    proc = subprocess.run([sys.executable, "-m", "simulator.plot", str(result), "-o", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and out.with_suffix(".pdf").is_file()
    assert plot_main([str(tmp_path / "nothing.jsonl"), "-o", str(out)]) == 2


def test_styles_are_fixed_per_scheme() -> None:
    assert style_for("ours")["color"] == "tab:red" and style_for("ours")["linestyle"] == "-"
    assert style_for("bpg-ldpc-1/2") == {"color": "black", "linestyle": "--", "marker": "x"}
    assert style_for("bpg-capacity")["linestyle"] == ":"
    variant = style_for("ours:steps=2", ["ours", "ours:steps=2"])
    assert variant["color"] == "tab:red" and variant["linestyle"] != "-"
    known = ["x1", "x2"]
    assert style_for("x1", known)["color"] != style_for("x2", known)["color"]


def test_list_schemes_lists_channels(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-schemes"]) == 0
    out = capsys.readouterr().out.split("channels (--channel):\n", 1)[1].splitlines()
    assert [line.split()[0] for line in out] == ["awgn", "rayleigh-block", "rayleigh-fast"]


def test_built_in_channels_take_no_options(tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args(tiny_dataset, tmp_path, "--snr", "0", "--channel", "awgn:k=3")) == 2
    err = capsys.readouterr().err
    assert "channel 'awgn' takes no options" in err and len(err.strip().splitlines()) == 1


def test_resumed_sweep_writes_nothing_and_keeps_its_path(tiny_dataset: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    argv = _args(tiny_dataset, tmp_path, "--snr", "0,6", "--limit", "2", "--channel", "rayleigh-block",
                 "--coherence", "8", "--json")
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    path = tmp_path / "res" / "tiny" / "rayleigh-block-L8" / "test-identity.jsonl"
    stored = path.read_bytes()
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == first and path.read_bytes() == stored


def test_the_command_is_a_layer_over_the_api() -> None:
    """Every setting the command passes on is a parameter of simulator.simulate / prepare."""
    import inspect

    import simulator as sim
    from simulator.cli import _simulation_kwargs, build_parser

    args = build_parser().parse_args(["--scheme", "jscc-t"])
    for function in (sim.simulate, sim.prepare):
        assert set(_simulation_kwargs(args)) <= set(inspect.signature(function).parameters)
