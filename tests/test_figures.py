"""``semcom-figures`` end to end on tiny untrained weights and two 192×176 images (--quick)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from simulator.figures import FIGURES, scheme_spec
from simulator.figures.fig6 import FIG6_CURVES
from simulator.figures.cli import main
from simulator.registry import available_schemes
from simulator.results import read_rows

from tests.conftest import write_images

FIGURE_FILES = ("png", "pdf", "csv", "json")


@pytest.fixture(scope="module")
def checkpoints(tiny_checkpoints: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny weights, plus an untrained tiny CDDM stand-in when the cddm scheme exists."""
    folder = tmp_path_factory.mktemp("fig-ckpt")
    for path in tiny_checkpoints.iterdir():
        shutil.copy(path, folder / path.name)
    if "cddm" in available_schemes() and not (folder / "cddm-tiny.safetensors").exists():
        try:
            from baselines.cddm.model import CDDM, CDDM_CONFIGS
            from simulator.checkpoints import save_checkpoint

            model = CDDM(CDDM_CONFIGS["tiny"])
            save_checkpoint(folder / "cddm-tiny.safetensors", dict(model.state_dict()),
                            {"kind": "cddm", "config": model.cfg.to_dict()})
        except (ImportError, KeyError, AttributeError):  # cddm's layout changed: table1 lists it as missing
            pass
    return folder


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_images(tmp_path_factory.mktemp("fig-data") / "tinyset", [(192, 176)] * 2)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("paper")


@pytest.fixture(autouse=True)
def _weights(monkeypatch: pytest.MonkeyPatch, checkpoints: Path) -> None:
    monkeypatch.setenv("SEMCOM_CHECKPOINTS", str(checkpoints))


def _run(figure: str, dataset: Path, out: Path, *extra: str) -> int:
    return main([figure, "--quick", "--config", "tiny", "--dataset", str(dataset), "--out", str(out), "--no-progress", *extra])


def _files(out: Path, stem: str, kinds: tuple[str, ...] = FIGURE_FILES) -> dict[str, Path]:
    files = {kind: out / "quick" / f"{stem}.{kind}" for kind in kinds}
    for path in files.values():
        assert path.is_file() and path.stat().st_size > 0, path
    return files


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def test_fig5_curves_and_resume(dataset: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("fig5", dataset, out) == 0
    stdout = capsys.readouterr().out
    assert "fig5:" in stdout and str(out / "quick") in stdout
    data = json.loads(_files(out, "fig5")["json"].read_text())
    assert data["figure"] == "fig5" and data["quick"] and data["n_images"] == 2 and data["snrs"] == [-3, 2, 7, 12]
    assert [c["spec"] for c in data["curves"]] == [
        "ours:config=tiny", "ours:s1=0:config=tiny", "ours:s1=0.5:config=tiny", "ours:s1=1:config=tiny",
        "ours:s1=random:config=tiny"]
    for curve in data["curves"]:
        assert [p["snr_db"] for p in curve["points"]] == [-3, 2, 7, 12]
        for p in curve["points"]:
            assert {"psnr", "psnr_ci95", "ms_ssim", "ms_ssim_ci95", "n_images", "mean_steps"} <= set(p)
            assert _finite(p["psnr"]) and _finite(p["ms_ssim"]) and _finite(p["psnr_ci95"]) and p["n_images"] == 2
    assert "decoder" in data["caption"]
    # panel (b): paired differences to the empirical s1 equal the differences of the means
    by_key = {c["key"]: {p["snr_db"]: p["psnr"] for p in c["points"]} for c in data["curves"]}
    assert data["reference"] == "ours"
    for curve in data["curves"]:
        for p in curve["vs_empirical"]:
            expected = by_key[curve["key"]][p["snr_db"]] - by_key["ours"][p["snr_db"]]
            assert p["gain"] == pytest.approx(expected, abs=1e-9) and p["n_images"] == 2
    assert all(p["gain"] == 0 for p in data["curves"][0]["vs_empirical"])
    # the rows went to the separate quick store; a second run computes nothing new
    store = out / "quick" / "results" / "tinyset" / "ours_s1=0.5_config=tiny.jsonl"
    assert len(read_rows(store)) == 8
    assert _run("fig5", dataset, out) == 0
    assert len(read_rows(store)) == 8


def test_fig6_gains_over_no_denoising(dataset: Path, out: Path) -> None:
    assert _run("fig6", dataset, out) == 0
    data = json.loads(_files(out, "fig6")["json"].read_text())
    assert data["decoder"] == "jscc" and data["baseline"]["spec"] == "ours:steps=0:decoder=jscc:config=tiny"
    assert [c["label"] for c in data["curves"]] == [label for label, _ in FIG6_CURVES]
    for curve in data["curves"]:
        assert "decoder=jscc" in curve["spec"]
        assert len(curve["points"]) == 4
        for p in curve["points"]:
            assert {"snr_db", "gain_db", "gain_ci95", "psnr", "baseline_psnr", "mean_steps", "n_images"} <= set(p)
            assert _finite(p["gain_db"]) and _finite(p["psnr"]) and p["n_images"] == 2
            assert p["gain_db"] == pytest.approx(p["psnr"] - p["baseline_psnr"], abs=1e-9)
            assert 0 <= p["mean_steps"] <= 3
    fixed = {c["label"]: c for c in data["curves"]}
    assert all(p["mean_steps"] == 2 for p in fixed["T = 2"]["points"])


def test_fig7_same_noise_as_the_sweep(dataset: Path, out: Path) -> None:
    assert _run("fig7", dataset, out, "--fig7-image", "img1") == 0
    _files(out, "fig7")
    for name in ("fig7_original.png", "fig7_alpha1.png", "fig7_alpha0.png"):
        assert (out / "quick" / name).is_file()
    data = json.loads((out / "quick" / "fig7.json").read_text())
    assert data["image_id"] == "img1.png" and data["snr_db"] == 0 and data["decoder"] == "jscc"
    crop = data["crop"]
    assert crop["auto"] and crop["x"] + crop["size"] <= 176 and crop["y"] + crop["size"] <= 192
    for key in ("alpha1", "alpha0"):
        rec = data["reconstructions"][key]
        assert "decoder=jscc" in rec["spec"]
        for field in ("psnr", "ms_ssim", "crop_psnr", "hf_energy_ratio", "crop_hf_energy_ratio"):
            assert _finite(rec[field]), (key, field)
        assert _finite(data["dataset_mean"][key]["psnr"])
        # the single-image restoration used exactly the sweep's noise: same PSNR as its row
        (row,) = [r for r in read_rows(data["dataset_mean"][key]["result_file"])
                  if r["image_id"] == "img1.png" and r["snr_db"] == 0]
        assert rec["psnr"] == pytest.approx(row["psnr"], abs=1e-6)
    assert "alpha=0" in data["reconstructions"]["alpha0"]["spec"]


def test_table1_latency(dataset: Path, out: Path) -> None:
    assert _run("table1", dataset, out) == 0
    files = _files(out, "table1", ("md", "csv", "json"))
    data = json.loads(files["json"].read_text())
    assert data["snrs"] == [-3, 2, 7, 12] and data["repeats"] == 1 and len(data["images"]) == 2
    cpu = data["devices"]["cpu"]
    assert cpu["info"]["cpu"] and cpu["info"]["torch_threads"] == 1  # --latency-threads default
    cddm_ran = "cddm" in data["specs"]
    assert cddm_ran == ("cddm-official" in data["specs"])
    if cddm_ran:
        assert data["specs"]["cddm-official"] == "cddm:start=official:config=tiny"
    assert cddm_ran or any(s.startswith("cddm") for s in data["missing"])
    for row in cpu["rows"]:
        assert _finite(row["jscc_t_ms"]) and _finite(row["ours_ms"]) and _finite(row["ours_over_jscc_t"])
        assert row["jscc_t_ms"] > 0 and row["ours_ms"] > 0
        assert 0 <= row["ours_mean_steps"] <= 3
        if cddm_ran:
            assert _finite(row["cddm_ms"]) and _finite(row["cddm_over_ours"])
            assert _finite(row["cddm_official_ms"]) and _finite(row["cddm_official_over_ours"])
            assert row["cddm_official_mean_steps"] <= row["cddm_mean_steps"] or row["snr_db"] >= 7
    for p in cpu["points"]:
        assert p["n_samples"] == 2 and p["p25_ms"] <= p["median_ms"] <= p["p75_ms"]
    md = files["md"].read_text()
    assert "| SNR (dB) | JSCC-T | Ours | CDDM | Ours/JSCC-T | CDDM/Ours |" in md and "Paper" in md
    assert files["csv"].read_text().startswith("device,snr_db,jscc_t_ms,ours_ms,cddm_ms,ours_over_jscc_t,cddm_over_ours")


FIG4_NEEDS = ("cddm", "bpg-ldpc-1/2", "bpg-ldpc-3/4", "bpg-capacity")


def test_claims_are_paired_differences_against_thresholds(dataset: Path, out: Path) -> None:
    from simulator.figures.claims import CLAIMS

    assert _run("claims", dataset, out) == 0
    data = json.loads(_files(out, "claims", ("md", "csv", "json"))["json"].read_text())
    psnr = {name: {} for name in data["result_files"]}
    for name, path in data["result_files"].items():
        for row in read_rows(path):
            psnr[name].setdefault(row["snr_db"], []).append(row["psnr"])
    mean = {name: {snr: sum(v) / len(v) for snr, v in by_snr.items()} for name, by_snr in psnr.items()}
    results = data["claims"]
    assert len(results) == sum(len(c.snrs) or 4 for c in CLAIMS)  # an empty SNR list: every swept SNR
    for r in results:
        expected = mean[r["spec"]][r["snr_db"]] - (mean[r["reference"]][r["snr_db"]] if r["reference"] else 0.0)
        assert r["measured_db"] == pytest.approx(expected, abs=1e-9)  # one realisation: paired = difference of means
        assert r["holds"] == (r["measured_db"] >= r["threshold_db"]) and r["n_images"] == 2
    table = (out / "quick" / "claims.md").read_text()
    assert table.count("\n| ") == len(results) + 2 and ("holds" in table or "fails" in table)


@pytest.mark.skipif(not set(FIG4_NEEDS) <= set(available_schemes()),
                    reason=f"fig4 needs the schemes {', '.join(FIG4_NEEDS)}, not all registered yet")
def test_fig4_all_schemes(dataset: Path, out: Path) -> None:
    assert _run("fig4", dataset, out) == 0
    data = json.loads(_files(out, "fig4")["json"].read_text())
    specs = [c["spec"] for c in data["curves"]] + list(data["missing"])
    assert specs[:2] == ["ours:config=tiny", "jscc-t:config=tiny"]
    assert {"bpg-ldpc-1/2", "bpg-ldpc-3/4", "bpg-capacity", "cddm:config=tiny"} <= set(specs)
    for curve in data["curves"]:
        assert len(curve["points"]) == 4
        for p in curve["points"]:
            assert _finite(p["psnr"]) and _finite(p["ms_ssim"]), curve["spec"]
    # panels (c, d): Ours minus each scheme, paired per image = the difference of the means
    assert data["reference"] == "ours" and "ours_minus" not in data["curves"][0]
    ours = {p["snr_db"]: p for p in data["curves"][0]["points"]}
    for curve in data["curves"][1:]:
        by_snr = {p["snr_db"]: p for p in curve["points"]}
        assert [p["snr_db"] for p in curve["ours_minus"]] == [-3, 2, 7, 12]
        for d in curve["ours_minus"]:
            for metric in ("psnr", "ms_ssim"):
                expected = ours[d["snr_db"]][metric] - by_snr[d["snr_db"]][metric]
                assert d[metric] == pytest.approx(expected, abs=1e-9) and _finite(d[f"{metric}_ci95"])
    header = _files(out, "fig4")["csv"].read_text().splitlines()[0]
    assert "ours_minus_psnr" in header and "ours_minus_ms_ssim_ci95" in header


def test_mcs_figure_envelope(dataset: Path, out: Path) -> None:
    from baselines.bpg_ldpc import mcs_of

    assert _run("mcs", dataset, out, "--snr", "0,20", "--limit", "1") == 0
    data = json.loads(_files(out, "mcs", (*FIGURE_FILES, "md"))["json"].read_text())
    assert len(data["mcs"]) == 15 and [p["snr_db"] for p in data["best"]] == [0, 20]
    for best in data["best"]:
        family = [p["psnr"] for points in data["mcs"].values() for p in points if p["snr_db"] == best["snr_db"]]
        assert best["psnr"] == pytest.approx(max(family))
        assert data["mcs"][best["chosen"]][[p["snr_db"] for p in data["mcs"][best["chosen"]]].index(best["snr_db"])][
            "psnr"] == pytest.approx(best["psnr"])
    efficiency = [float(r) * math.log2(q) for r, q in (mcs_of(p["chosen"]) for p in data["best"])]
    assert efficiency[1] > efficiency[0]  # more SNR, a denser MCS
    table = (out / "quick" / "mcs.md").read_text()
    assert "| 0 |" in table and "| 20 |" in table and "chosen MCS" in table


@pytest.mark.skipif(not set(FIG4_NEEDS) <= set(available_schemes()),
                    reason=f"fading needs the schemes {', '.join(FIG4_NEEDS)}, not all registered yet")
def test_fading_figure(dataset: Path, out: Path) -> None:
    assert _run("fading", dataset, out, "--snr", "0,10", "--realizations", "2") == 0
    data = json.loads(_files(out, "fading", (*FIGURE_FILES, "md"))["json"].read_text())
    table = (out / "quick" / "fading.md").read_text()
    assert "**rayleigh-block**" in table and "| `bpg-ldpc-1/2` |" in table and "delivered" in table
    assert set(data["curves"]) == {"rayleigh-block", "rayleigh-fast"} and data["realizations"] == 2
    results = out / "quick" / "results" / "tinyset"
    for channel, curves in data["curves"].items():
        assert [c["key"] for c in curves] == ["ours", "jscc-t", "cddm", "bpg-ldpc-1/2", "bpg-ldpc-3/4", "bpg-capacity"]
        for curve in curves:
            assert curve["result_file"].startswith(str(results / channel))
            rows = read_rows(curve["result_file"])
            assert len(rows) == 8 and all(r["channel"]["name"] == channel for r in rows)
            for p in curve["points"]:
                assert _finite(p["psnr"]) and p["n_rows"] == 4
                assert (p["delivered"] is None) == (curve["key"] in ("ours", "jscc-t", "cddm"))
    capacity = {c["key"]: c for c in data["curves"]["rayleigh-block"]}["bpg-capacity"]
    low, high = capacity["points"]  # a deep fade can leave less than the smallest BPG payload
    assert low["delivered"] <= high["delivered"] and low["psnr"] <= high["psnr"]


def test_bad_input_exits_2(dataset: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fig9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("semcom-figures: error:") and len(err.splitlines()) == 1 and "fig4" in err
    assert _run("fig7", dataset, out, "--fig7-image", "kodim99") == 2
    assert "kodim99" in capsys.readouterr().err
    assert _run("fig5", dataset, out, "--snr", "5:1") == 2
    assert _run("fig4", dataset, out, "--scheme-option", "nope:x=1") == 2
    assert main(["fig5", "--config", "huge", "--dataset", str(dataset), "--out", str(out)]) == 2
    assert set(FIGURES) == {"fig4", "fig5", "fig6", "fig7", "table1"}


def test_scheme_spec_adds_config_and_options() -> None:
    assert scheme_spec("ours", "cpu") == "ours"  # the default weights: simulate's own result file
    assert scheme_spec("ours:s1=0", "tiny") == "ours:s1=0:config=tiny"
    assert scheme_spec("bpg-capacity", "tiny") == "bpg-capacity"
    extra = {"ours": {"steps": "2", "s1": "0"}}
    # canonical: the schema's option order, whatever order the options came in
    assert scheme_spec("ours:steps=1:decoder=jscc", "paper", extra) == "ours:steps=1:s1=0:decoder=jscc:config=paper"


def test_bench_latency_smoke(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    from simulator.data import REPO_ROOT

    spec = importlib.util.spec_from_file_location("bench_latency", REPO_ROOT / "benchmarks" / "bench_latency.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    argv = ["--config", "tiny", "--dataset", str(dataset), "--images", "1", "--repeats", "1"]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "encoder" in out and "Ours/JSCC-T" in out
