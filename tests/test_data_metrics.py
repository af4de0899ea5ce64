"""Data loading (formats, grayscale, errors) and metrics (PSNR/MS-SSIM of known pairs)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from simulator.data import DataError, RandomCropDataset, find_dataset, list_images, load_image, pad_to_multiple
from simulator.metrics import mean_and_ci95, ms_ssim, psnr, quantize_8bit


def test_formats_grayscale_and_recursion(tmp_path) -> None:
    (tmp_path / "sub").mkdir()
    Image.fromarray(np.full((20, 30), 128, np.uint8), mode="L").save(tmp_path / "gray.png")
    Image.fromarray(np.zeros((30, 20, 3), np.uint8)).save(tmp_path / "sub" / "portrait.jpg")
    Image.fromarray(np.zeros((10, 10, 4), np.uint8), mode="RGBA").save(tmp_path / "alpha.tiff")
    items = list_images(tmp_path)
    assert [it.image_id for it in items] == ["alpha.tiff", "gray.png", "sub/portrait.jpg"]
    gray = load_image(tmp_path / "gray.png")
    assert gray.shape == (3, 20, 30) and torch.allclose(gray, torch.full_like(gray, 128 / 255))
    assert load_image(tmp_path / "sub" / "portrait.jpg").shape == (3, 30, 20)
    assert list_images(tmp_path, limit=1)[0].image_id == "alpha.tiff"


def test_unreadable_file_named_in_error(tmp_path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        load_image(bad)


def test_missing_dataset_lists_where_it_looked(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SEMCOM_DATA", str(tmp_path))
    with pytest.raises(DataError, match=f"not found; looked in: .*{tmp_path.name}"):
        find_dataset("no-such-set")
    with pytest.raises(DataError, match="no images"):
        list_images(tmp_path)


def test_pad_to_multiple() -> None:
    x = torch.rand(3, 17, 33)
    y = pad_to_multiple(x, 16)
    assert y.shape == (3, 32, 48) and torch.equal(y[:, :17, :33], x) and torch.equal(y[:, 31, 47], x[:, 16, 32])


def test_random_crops_are_seeded_and_sized(tmp_path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), np.uint8)).save(tmp_path / "a.png")
    data = RandomCropDataset(tmp_path, crop=64)  # larger than the image: padded
    torch.manual_seed(3)
    a = data[0]
    torch.manual_seed(3)
    assert a.shape == (3, 64, 64) and torch.equal(a, data[0])


def test_psnr_of_known_pairs() -> None:
    ref = torch.zeros(1, 3, 8, 8)
    rec = torch.full_like(ref, 0.1)  # 25.5 → 26 after 8-bit rounding: MSE = (26/255)²
    assert psnr(ref, rec).item() == pytest.approx(-20 * math.log10(26 / 255), abs=1e-4)
    assert psnr(ref, torch.ones_like(ref)).item() == pytest.approx(0.0, abs=1e-6)
    assert math.isinf(psnr(ref, ref).item())
    assert torch.equal(quantize_8bit(torch.tensor([-0.2, 0.5, 1.7])), torch.tensor([0.0, 128 / 255, 1.0]))


def test_ms_ssim_identity_and_size_check() -> None:
    x = torch.rand(1, 3, 192, 192).mul(255).round().div(255)
    assert ms_ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)
    assert ms_ssim(x, torch.rand_like(x)).item() < 0.5
    with pytest.raises(ValueError, match="160"):
        ms_ssim(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))


def test_mean_and_ci95() -> None:
    mean, half = mean_and_ci95([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302653 * 1 / math.sqrt(3), rel=1e-5)
    assert math.isnan(mean_and_ci95([5.0])[1])


def test_download_kodak_verifies_checksums(tmp_path, monkeypatch) -> None:
    import hashlib
    import shutil
    import urllib.request

    from simulator import data

    src = tmp_path / "src.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(src)
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    monkeypatch.setattr(urllib.request, "urlretrieve", lambda url, dest: shutil.copyfile(src, dest))
    sums = {f"kodim{i:02d}.png": good for i in range(1, 25)}
    out = data.download_kodak(tmp_path / "kodak", sums)
    assert len(list(out.glob("kodim*.png"))) == 24
    sums["kodim07.png"] = "0" * 64
    (out / "kodim07.png").unlink()
    with pytest.raises(DataError, match="kodim07.png: SHA-256"):
        data.download_kodak(out, sums)
    assert not (out / "kodim07.png").exists() and not (out / "kodim07.part").exists()
