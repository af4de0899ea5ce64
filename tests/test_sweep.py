"""The sweep engine: SNR specs, result rows, resume after a kill, force, common random
numbers, summaries.  Uses the ``test-identity`` scheme of ``conftest.py``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from simulator.channels import noise_generator, unit_noise
from simulator.data import list_images
from simulator.registry import create_scheme
from simulator.results import (
    ResultsError,
    ResultStore,
    latest_config_rows,
    read_rows,
    result_path,
    row_key,
    scheme_slug,
    summarize,
)
from simulator.sweep import SweepConfig, parse_snr_spec, run_sweep

SPEC = "test-identity"


def _config(tmp_path: Path, **overrides) -> SweepConfig:
    return SweepConfig(**({"snrs": [-2.0, 4.0], "dataset": "tiny", "results_dir": tmp_path / "results"} | overrides))


def _file(config: SweepConfig, spec: str = SPEC) -> Path:
    return result_path(config.results_dir, config.dataset, spec)


# --- SNR specs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-3:12", [float(v) for v in range(-3, 13)]),
        ("0:2:0.5", [0.0, 0.5, 1.0, 1.5, 2.0]),
        ("0:1:0.1", [round(0.1 * i, 6) for i in range(11)]),
        ("0,5,10", [0.0, 5.0, 10.0]),
        (" 7 ", [7.0]),
        ("-1.5", [-1.5]),
        ("2,2.0,3", [2.0, 3.0]),
        ("4:4", [4.0]),
    ],
)
def test_parse_snr_spec(text: str, expected: list[float]) -> None:
    assert parse_snr_spec(text) == expected


def test_parse_snr_spec_range_lengths() -> None:
    values = parse_snr_spec("-3:12:0.5")
    assert len(values) == 31 and values[0] == -3.0 and values[-1] == 12.0


@pytest.mark.parametrize("text", ["", "abc", "3:1", "0:5:0", "0:5:-1", "1:2:3:4", "1,,2", "nan", "0:inf", "1:x"])
def test_parse_snr_spec_errors(text: str) -> None:
    with pytest.raises(ValueError, match="accepted:") as info:
        parse_snr_spec(text)
    assert "\n" not in str(info.value) and "START:STOP" in str(info.value)


# --- rows and the store ---------------------------------------------------------------


def test_scheme_slug() -> None:
    assert scheme_slug("bpg-ldpc-1/2") == "bpg-ldpc-1_2"
    assert scheme_slug("ours:steps=2") == "ours_steps=2"


def test_sweep_rows_and_encode_cache(tiny_dataset: Path, tmp_path: Path) -> None:
    scheme = create_scheme(SPEC)
    images = list_images(tiny_dataset)
    config = _config(tmp_path, realizations=2)
    bars = []

    class Bar:
        def __init__(self, total: int, desc: str) -> None:
            self.total, self.desc, self.done = total, desc, 0
            bars.append(self)

        def update(self, n: int) -> None:
            self.done += n

        def close(self) -> None:
            pass

    rows = run_sweep(scheme, SPEC, images, config, progress=Bar)
    assert len(rows) == 3 * 2 * 2
    assert scheme.encode_calls == 3  # once per image, reused across SNRs and realisations
    assert bars[0].total == bars[0].done == 12 and bars[0].desc == SPEC
    assert read_rows(_file(config)) == rows
    row = rows[0]
    for key in ("scheme", "spec", "dataset", "image_id", "snr_db", "realization", "psnr", "ms_ssim",
                "receiver_ms", "wall_ms", "extras", "seed", "git", "versions", "config", "config_hash",
                "checkpoint_hash", "device", "torch_threads", "timestamp", "channel_uses", "bandwidth_ratio"):
        assert key in row, key
    assert row["versions"]["torch"] == torch.__version__ and "sionna" in row["versions"]
    assert {"sha", "dirty"} <= set(row["git"])
    assert row["channel_uses"] == 192 * 176 * 3 // 2 and row["bandwidth_ratio"] == 0.5
    assert 0 < row["ms_ssim"] <= 1
    summary = summarize(rows)
    assert [s.snr_db for s in summary] == [-2.0, 4.0]
    assert summary[0].psnr < summary[1].psnr  # more SNR, better pixels
    assert all(s.n_images == 3 and s.n_rows == 6 for s in summary)
    assert summary[0].delivered == 0.0 and summary[1].delivered == 1.0
    assert summary[0].extras == {"steps": 2.0} and summary[1].extras == {"steps": 1.0}
    assert summary[0].psnr_ci95 > 0


def test_rerun_reuses_everything(tiny_dataset: Path, tmp_path: Path) -> None:
    images, config = list_images(tiny_dataset), _config(tmp_path)
    first = run_sweep(create_scheme(SPEC), SPEC, images, config)
    scheme = create_scheme(SPEC)
    scheme.fail_after = 0  # any transmission would raise
    assert run_sweep(scheme, SPEC, images, config) == first
    assert scheme.encode_calls == 0


def test_resume_after_crash(tiny_dataset: Path, tmp_path: Path) -> None:
    images, config = list_images(tiny_dataset), _config(tmp_path, batch_size=1, realizations=2)
    crashing = create_scheme(SPEC)
    crashing.fail_after = 5
    with pytest.raises(RuntimeError, match="injected"):
        run_sweep(crashing, SPEC, images, config)
    partial = read_rows(_file(config))
    assert len(partial) == 5

    scheme = create_scheme(SPEC)
    rows = run_sweep(scheme, SPEC, images, config)
    assert scheme.sent == 12 - 5
    on_disk = read_rows(_file(config))
    assert len(on_disk) == 12 and len({row_key(r) for r in on_disk}) == 12
    assert on_disk[:5] == partial  # nothing lost or rewritten
    assert sorted(map(row_key, rows)) == sorted(map(row_key, on_disk))


def test_resume_after_truncated_line(tiny_dataset: Path, tmp_path: Path) -> None:
    images, config = list_images(tiny_dataset), _config(tmp_path)
    run_sweep(create_scheme(SPEC), SPEC, images, config)
    path = _file(config)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # killed in the middle of the last line
    assert len(read_rows(path)) == 5

    scheme = create_scheme(SPEC)
    run_sweep(scheme, SPEC, images, config)
    assert scheme.sent == 1
    assert path.read_bytes().endswith(b"\n")
    rows = [json.loads(line) for line in path.read_text().splitlines()]  # every line whole again
    assert len(rows) == 6 and len({row_key(r) for r in rows}) == 6


def test_force_recomputes(tiny_dataset: Path, tmp_path: Path) -> None:
    images, config = list_images(tiny_dataset), _config(tmp_path)
    run_sweep(create_scheme(SPEC), SPEC, images, config)
    other = _config(tmp_path, snrs=[10.0])
    run_sweep(create_scheme(SPEC), SPEC, images, other)  # points outside the forced request
    scheme = create_scheme(SPEC)
    rows = run_sweep(scheme, SPEC, images, _config(tmp_path, force=True))
    assert scheme.sent == 6 and len(rows) == 6
    on_disk = read_rows(_file(config))
    assert len(on_disk) == 9 and len({row_key(r) for r in on_disk}) == 9
    assert sum(r["snr_db"] == 10.0 for r in on_disk) == 3


def test_new_config_is_not_reused(tiny_dataset: Path, tmp_path: Path) -> None:
    images, config = list_images(tiny_dataset), _config(tmp_path)
    old = run_sweep(create_scheme(SPEC), SPEC, images, config)
    scheme = create_scheme(SPEC)
    scheme.ckpt = "new-weights"
    new = run_sweep(scheme, SPEC, images, config)
    assert scheme.sent == 6
    assert {r["config_hash"] for r in old}.isdisjoint(r["config_hash"] for r in new)
    on_disk = read_rows(_file(config))
    assert len(on_disk) == 12
    assert latest_config_rows(on_disk) == new


def test_common_random_numbers(tiny_dataset: Path, tmp_path: Path) -> None:
    images, config = list_images(tiny_dataset), _config(tmp_path, realizations=2, seed=7)
    a, b = create_scheme("test-identity"), create_scheme("test-identity-b")
    run_sweep(a, "test-identity", images, config)
    run_sweep(b, "test-identity-b", images, config)
    assert len(a.noises) == len(b.noises) == 12
    assert all(torch.equal(x, y) for x, y in zip(a.noises, b.noises))
    n = 192 * 176 * 3 // 2
    first = unit_noise(n, noise_generator(7, images[0].image_id, -2.0, 0))
    assert torch.equal(a.noises[0], first)
    assert not torch.equal(a.noises[0], a.noises[1])  # another realisation
    other_seed = create_scheme(SPEC)
    run_sweep(other_seed, SPEC, images, _config(tmp_path, seed=8, snrs=[-2.0], results_dir=tmp_path / "r2"))
    assert not torch.equal(other_seed.noises[0], first)


def test_small_images_have_no_ms_ssim(small_dataset: Path, tmp_path: Path) -> None:
    rows = run_sweep(create_scheme(SPEC), SPEC, list_images(small_dataset), _config(tmp_path, dataset="small"))
    assert all(r["ms_ssim"] is None and math.isfinite(r["psnr"]) for r in rows)
    summary = summarize(rows)
    assert all(s.ms_ssim is None and s.ms_ssim_ci95 is None for s in summary)
    assert "ms_ssim" in summary[0].to_json() and summary[0].to_json()["ms_ssim"] is None


def test_store_repairs_partial_line_and_rejects_corruption(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "x.jsonl")
    row = {"image_id": "a", "snr_db": 1.0, "realization": 0, "seed": 0, "config_hash": "h"}
    store.append([row])
    with open(store.path, "ab") as f:
        f.write(b'{"image_id": "b", "snr')
    assert store.load() == [row]
    store.append([row | {"image_id": "c"}])
    assert [r["image_id"] for r in store.load()] == ["a", "c"]
    store.rewrite([row])
    assert store.load() == [row]
    store.path.write_text('{"image_id": "a"}\nnot json\n{"image_id": "c"}\n')
    with pytest.raises(ResultsError, match=r"x\.jsonl:2"):
        store.load()


def test_sweep_config_validation() -> None:
    with pytest.raises(ValueError, match="realizations"):
        SweepConfig(snrs=[0.0], realizations=0)
    with pytest.raises(ValueError, match="SNR"):
        SweepConfig(snrs=[])


# --- implementation versions and channel uses of stored rows -------------------------------


def test_rows_record_the_implementation_version_and_version_1_keeps_old_hashes(tiny_dataset: Path, tmp_path: Path) -> None:
    from simulator.results import config_hash

    rows = run_sweep(create_scheme(SPEC), SPEC, list_images(tiny_dataset), _config(tmp_path))
    assert all(r["implementation_version"] == 1 for r in rows)
    cfg = rows[0]["config"]
    assert config_hash(cfg, None, 1) == config_hash(cfg, None) == rows[0]["config_hash"]
    assert config_hash(cfg, None, 2) != config_hash(cfg, None)


def test_rows_without_the_version_field_are_reused(tiny_dataset: Path, tmp_path: Path) -> None:
    images, config = list_images(tiny_dataset), _config(tmp_path)
    run_sweep(create_scheme(SPEC), SPEC, images, config)
    store = ResultStore(_file(config))
    store.rewrite([{k: v for k, v in r.items() if k != "implementation_version"} for r in store.load()])
    scheme = create_scheme(SPEC)
    scheme.fail_after = 0  # any transmission would raise
    assert len(run_sweep(scheme, SPEC, images, config)) == 6


def test_bumped_implementation_version_recomputes(tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images, config = list_images(tiny_dataset), _config(tmp_path)
    old = run_sweep(create_scheme(SPEC), SPEC, images, config)
    scheme = create_scheme(SPEC)
    monkeypatch.setattr(type(scheme), "implementation_version", 2)
    new = run_sweep(scheme, SPEC, images, config)
    assert scheme.sent == 6 and all(r["implementation_version"] == 2 for r in new)
    assert {r["config_hash"] for r in old}.isdisjoint(r["config_hash"] for r in new)
    on_disk = read_rows(_file(config))
    assert len(on_disk) == 12 and latest_config_rows(on_disk) == new  # old rows kept, never drawn


def test_rows_with_other_channel_uses_are_recomputed(tiny_dataset: Path, tmp_path: Path) -> None:
    """E.g. rows of a learned scheme that sent the padded latent (more than round(ρ·3·H·W) symbols)."""
    images, config = list_images(tiny_dataset), _config(tmp_path)
    run_sweep(create_scheme(SPEC), SPEC, images, config)
    store = ResultStore(_file(config))
    rows = store.load()
    store.rewrite([r | {"channel_uses": r["channel_uses"] + 16} if r["image_id"] == "img0.png" else r for r in rows])
    scheme = create_scheme(SPEC)
    fresh = run_sweep(scheme, SPEC, images, config)
    assert scheme.sent == 2 and all(r["channel_uses"] == 192 * 176 * 3 // 2 for r in fresh)


# --- paired differences ----------------------------------------------------------------------


def _row(spec: str, image: str, snr: float, psnr: float, ms_ssim: float | None, r: int = 0) -> dict:
    return {"spec": spec, "scheme": spec, "dataset": "d", "image_id": image, "snr_db": snr, "realization": r,
            "seed": 0, "psnr": psnr, "ms_ssim": ms_ssim, "receiver_ms": 1.0, "config_hash": "h"}


def test_paired_difference_is_over_images_of_per_point_differences() -> None:
    from simulator.metrics import mean_and_ci95
    from simulator.results import paired_difference

    base = [_row("b", f"i{i}", 0.0, 20.0 + 3 * i, 0.5) for i in range(4)]
    base += [_row("b", "i0", 0.0, 21.0, 0.5, r=1)]
    rows = [_row("a", f"i{i}", 0.0, 20.0 + 3 * i + d, 0.6) for i, d in enumerate((0.1, 0.2, 0.3, 0.2))]
    rows += [_row("a", "i0", 0.0, 21.3, 0.6, r=1), _row("a", "i9", 0.0, 99.0, 0.9)]  # i9 has no pair
    (snr, diff), = paired_difference(rows, base, "b").items()
    mean, ci = mean_and_ci95([0.2, 0.2, 0.3, 0.2])  # i0: mean of its realisations' differences 0.1 and 0.3
    assert snr == 0.0 and diff.reference == "b" and diff.n_images == 4
    assert diff.psnr == pytest.approx(mean) and diff.psnr_ci95 == pytest.approx(ci)
    assert diff.ms_ssim == pytest.approx(0.1) and diff.ms_ssim_ci95 == pytest.approx(0.0, abs=1e-12)
    # far narrower than the interval of either mean over images
    assert diff.psnr_ci95 < 0.1 * summarize(base)[0].psnr_ci95


def test_summarize_with_a_reference() -> None:
    rows = [_row("a", f"i{i}", s, 20.0 + i + s, None) for i in range(3) for s in (0.0, 5.0)]
    rows += [_row("b", f"i{i}", s, 19.0 + i + s + 0.1 * i, None) for i in range(3) for s in (0.0, 5.0)]
    summary = summarize(rows, reference="a")
    assert all(s.vs_reference is None for s in summary if s.scheme == "a")
    for s in (s for s in summary if s.scheme == "b"):
        assert s.vs_reference.psnr == pytest.approx(-0.9) and s.vs_reference.ms_ssim is None
        assert s.to_json()["vs_reference"]["reference"] == "a"
    assert "vs_reference" not in summarize(rows)[0].to_json()
    with pytest.raises(ValueError, match="'c' is not among the swept schemes; accepted: a, b"):
        summarize(rows, reference="c")


def test_quality_is_computed_once_per_distinct_8bit_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.sweep.execute as sweep_module
    from simulator.data import ImageItem
    from simulator.metrics import ms_ssim, psnr

    calls = []
    monkeypatch.setattr(sweep_module, "ms_ssim", lambda a, b: calls.append(1) or ms_ssim(a, b))
    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, 176, 176, generator=g)
    enc = sweep_module._Encoded(ImageItem("x", Path("x.png")), image, None, 0.0)
    rec = torch.randint(0, 256, (3, 176, 176), generator=g).float() / 255  # on the 8-bit grid
    first = sweep_module._quality(enc, rec)
    again = sweep_module._quality(enc, rec + 1e-4)  # the same 8-bit picture
    other = sweep_module._quality(enc, torch.full_like(rec, 0.5))
    assert first == again and len(calls) == 2
    assert first == pytest.approx((float(psnr(image, rec)[0]), float(ms_ssim(image, rec)[0])), rel=1e-5)
    assert other[0] == pytest.approx(float(psnr(image, torch.full_like(rec, 0.5))[0]), rel=1e-5)


def test_a_corrupt_image_fails_alone_naming_scheme_and_image(tiny_dataset: Path, tmp_path: Path) -> None:
    from simulator.sweep import SweepError

    (tiny_dataset / "broken.png").write_bytes(b"not a png")
    config = _config(tmp_path)
    with pytest.raises(SweepError, match=r"^test-identity on broken\.png: DataError: .*broken\.png.*rerun to retry$"):
        run_sweep(create_scheme(SPEC), SPEC, list_images(tiny_dataset), config)
    assert len(read_rows(_file(config))) == 6  # the three good images of the same task, both SNRs


def test_run_sweeps_one_bar_specs_in_order_dataset_from_the_folder(tiny_dataset: Path, tmp_path: Path) -> None:
    from simulator.sweep import run_sweeps

    bars = []

    def bar(total: int, desc: str):  # noqa: ANN202
        bars.append([total, desc, 0])

        class Bar:
            def update(self, n: int) -> None:
                bars[-1][2] += n

            def close(self) -> None:
                pass

        return Bar()

    images = list_images(tiny_dataset)
    config = SweepConfig(snrs=[-2.0, 4.0], results_dir=tmp_path / "results")  # dataset: the folder's name
    rows = run_sweeps(["test-identity", "test-identity-b"], images, config, progress=bar)
    assert bars == [[12, "test-identity,test-identity-b", 12]]
    assert [r["spec"] for r in rows] == ["test-identity"] * 6 + ["test-identity-b"] * 6
    assert [(r["snr_db"], r["image_id"]) for r in rows[:6]] == [(s, i.image_id) for s in (-2.0, 4.0) for i in images]
    assert {r["dataset"] for r in rows} == {"tiny"} and len(read_rows(tmp_path / "results" / "tiny" / "test-identity.jsonl")) == 6
    assert run_sweeps(["test-identity"], images, config, progress=bar) == rows[:6] and len(bars) == 1  # all reused
    memory = run_sweeps(["test-identity"], images, SweepConfig(snrs=[-2.0], results_dir=None))
    assert len(memory) == 3 and not list(tmp_path.glob("results/tiny/.*lock"))
