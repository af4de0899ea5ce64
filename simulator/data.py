"""Image data: find data sets, read images as tensors, random training crops.

Data-set lookup order for a name such as ``kodak`` or ``train``:
``--data-dir`` (argument) → env ``SEMCOM_DATA`` → ``../shared/datasets`` next to the repo
(and next to the working directory).  A path to an existing folder is used as is.

Images are read as RGB (grayscale and palette images are converted, alpha dropped),
``[3, H, W]`` float32 in [0, 1].  Sizes that are not a multiple of a codec's stride are
handled by the codec (see :func:`pad_to_multiple`): replicate-padding at the bottom/right,
cropped back after decoding, so metrics are always computed on the original pixels.
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from simulator.checkpoints import file_sha256

__all__ = [
    "IMAGE_SUFFIXES",
    "DataError",
    "ImageItem",
    "find_dataset",
    "list_images",
    "load_image",
    "pad_to_multiple",
    "RandomCropDataset",
    "download_kodak",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
REPO_ROOT = Path(__file__).resolve().parent.parent
KODAK_URL = "http://r0k.us/graphics/kodak/kodak/kodim{:02d}.png"


class DataError(RuntimeError):
    """A data set or image cannot be found or read."""


@dataclass(frozen=True)
class ImageItem:
    """An image of a data set: ``image_id`` is its path relative to the data-set root."""

    image_id: str
    path: Path


def _candidate_roots(data_dir: str | os.PathLike | None) -> list[Path]:
    roots = []
    if data_dir:
        roots.append(Path(data_dir))
    if os.environ.get("SEMCOM_DATA"):
        roots.append(Path(os.environ["SEMCOM_DATA"]))
    roots += [REPO_ROOT.parent / "shared" / "datasets", Path.cwd().parent / "shared" / "datasets"]
    return list(dict.fromkeys(r.resolve() for r in roots))


def find_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Resolve a data-set name or folder path to a folder holding images.

    :raises DataError: listing every place searched.
    """
    as_path = Path(name).expanduser()
    if as_path.is_dir():
        return as_path.resolve()
    looked = []
    for root in _candidate_roots(data_dir):
        nested = root / name  # a name may be a relative path: train/bsds500/val
        looked.append(nested)
        if nested.is_dir():
            return nested
        looked.append(root)  # a root may be the data set itself (--data-dir kodak/)
        if root.name == name and root.is_dir():
            return root
    where = ", ".join(str(p) for p in dict.fromkeys(looked))
    hint = " (for Kodak24 run `simulate --download-kodak DIR` where a network exists)" if name == "kodak" else ""
    raise DataError(f"data set {name!r} not found; looked in: {where}; pass --data-dir or set SEMCOM_DATA{hint}")


def list_images(folder: Path, limit: int | None = None, exclude: tuple[str, ...] = ()) -> list[ImageItem]:
    """All images under ``folder`` (recursive), sorted by relative path; first ``limit``.

    :param exclude: folder names to skip at any depth below ``folder`` (e.g. ``("val", "test")``
        keeps BSDS500's validation and test splits out of training).
    """
    folder = Path(folder)
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                   and not set(p.relative_to(folder).parts[:-1]) & set(exclude))
    if not paths:
        skipped = f" outside {', '.join(exclude)}/" if exclude else ""
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}{skipped}")
    items = [ImageItem(p.relative_to(folder).as_posix(), p) for p in paths]
    return items[:limit] if limit else items


def load_image(path: str | os.PathLike) -> torch.Tensor:
    """Read an image file as ``[3, H, W]`` float32 RGB in [0, 1].

    :raises DataError: naming the file if it cannot be decoded.
    """
    try:
        with Image.open(path) as img:
            img.load()
            rgb = img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"cannot read image {path}: {exc}") from exc
    arr = np.asarray(rgb, dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Replicate-pad ``[..., H, W]`` at the bottom/right up to multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    squeeze = x.dim() == 3
    y = F.pad(x.unsqueeze(0) if squeeze else x, (0, pw, 0, ph), mode="replicate")
    return y.squeeze(0) if squeeze else y


class RandomCropDataset(torch.utils.data.Dataset):
    """Random ``crop×crop`` crops with horizontal flips from an image folder (training).

    Images smaller than the crop are replicate-padded; folders named in ``exclude`` are
    skipped (see :func:`list_images`).  All images are decoded once and
    kept in memory as uint8 (BSDS500: ~230 MB).  ``len`` is ``epoch_size`` so a
    DataLoader can draw as many crops as wanted.
    """

    def __init__(self, folder: Path, crop: int, epoch_size: int = 10**9, exclude: tuple[str, ...] = ()) -> None:
        self.items = list_images(folder, exclude=exclude)
        self.crop = crop
        self.epoch_size = epoch_size
        self.images = [(load_image(it.path) * 255).round().to(torch.uint8) for it in self.items]

    def __len__(self) -> int:
        return self.epoch_size

    def __getitem__(self, index: int) -> torch.Tensor:
        """A ``[3, crop, crop]`` float crop in [0, 1], drawn with torch's global RNG
        (so a saved RNG state makes training resumable bit for bit)."""
        img = self.images[int(torch.randint(len(self.images), (1,)))]
        h, w = img.shape[-2:]
        if h < self.crop or w < self.crop:
            pad = (0, max(0, self.crop - w), 0, max(0, self.crop - h))
            img = F.pad(img.unsqueeze(0).float(), pad, mode="replicate")[0]
            h, w = img.shape[-2:]
        top = int(torch.randint(h - self.crop + 1, (1,)))
        left = int(torch.randint(w - self.crop + 1, (1,)))
        out = img[:, top : top + self.crop, left : left + self.crop].float()
        if torch.rand(1).item() < 0.5:
            out = out.flip(-1)
        return out / 255.0


def download_kodak(dest: Path, sha256sums: dict[str, str] | None = None) -> Path:
    """Download Kodak24 from its public home into ``dest``, verifying SHA-256 of each file.

    :param sha256sums: file name → expected hex digest; defaults to :data:`KODAK_SHA256`.
    :raises DataError: on a network failure or a checksum mismatch (the bad file is removed).
    """
    sums = sha256sums or KODAK_SHA256
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(1, 25):
        name = f"kodim{i:02d}.png"
        target = dest / name
        if not (target.exists() and file_sha256(target) == sums[name]):
            tmp = target.with_suffix(".part")
            try:
                urllib.request.urlretrieve(KODAK_URL.format(i), tmp)
            except OSError as exc:
                raise DataError(f"cannot download {KODAK_URL.format(i)}: {exc}") from exc
            digest = file_sha256(tmp)
            if digest != sums[name]:
                tmp.unlink()
                raise DataError(f"{name}: SHA-256 {digest} does not match the expected {sums[name]}")
            tmp.replace(target)
    return dest


#: SHA-256 of the 24 Kodak PNGs as served by r0k.us.
KODAK_SHA256: dict[str, str] = {
    "kodim01.png": "a56e27cbf5f843c048b6af1d6e090760e9c92fadba88b7dee0205918a37523bd",
    "kodim02.png": "4f4b74a79237e311d72cad958237b5f7088d8bce1c82305ebefe1a70e3022dfd",
    "kodim03.png": "e25ca1ff2f0c0cb5fdfd5f9b0a0bb21ac4c3de3c84a67f35b09a85d3306249db",
    "kodim04.png": "e3b946107c5d3441c022f678d0c3caf1e224d81b1604ba840a4f88e562de61aa",
    "kodim05.png": "10349e963c5c813d327852f82c1795fa4148d69fedffc4c589bee458e3ac3d53",
    "kodim06.png": "363510303b715d4cbc384e1ce227e466b613a09e1b71ae985882bf8e7fbd9b18",
    "kodim07.png": "b77d3f006f42414bb242222e0482e750c0fb9e5ee8d4bed2f6f11c5605fe54a4",
    "kodim08.png": "ba23983c76b4832ee0e8af0592664756841a16779acd69f792e268fb6d13d6e7",
    "kodim09.png": "6a4361c2fc194feb4edaa9f9a4a0620fb9943e460ac7fdf037fb0f6dd6607a7d",
    "kodim10.png": "9dfb70f5867c29ff9ed6313683f19b3d867849e40fbc0c4c54a4a89df341cf23",
    "kodim11.png": "7936814b58b5387fce2e4e2488b4ec830dadd95fa9520f358ddb30990b50f2b6",
    "kodim12.png": "d78c37c2f04f23761ed2367dd77e2db584ddd4c3950833fecf89f199a8126980",
    "kodim13.png": "bc34a3ce58dea09dce1704c997171602de90cb34d0c8503a988b77f473d39b08",
    "kodim14.png": "55a94550ff18f3246c4074fd32b77b0c74447c26b6ad274d564d999c0450ba6e",
    "kodim15.png": "7538cbb80cb9103606c48b806eae57d56c885c7f90b9b3be70a41160f9cbb683",
    "kodim16.png": "a89c7268ccd4718ba424a99fc4643c572cf692ca6eae887185ceb4e9f11d2e54",
    "kodim17.png": "37afcc89fbdcb76d9518e04b2fc011027e2f4cd14b3b2f83cefd721641a47c5b",
    "kodim18.png": "1a9258c365988961d87a0598725b609139c303ad48a5aad6c503c3b1a87849aa",
    "kodim19.png": "b7450b264b1b0a411390d8931b112c27905a992520fc90569dc4b920aa32bbdc",
    "kodim20.png": "3b46c71e3b92a563820ba32936be8330c586c41f938efd94be938386aae4328a",
    "kodim21.png": "ac958597c82073f6bb65129c68f72b651db5b9efd82e11547d07350214bc268b",
    "kodim22.png": "1cee58eb1f2d9c7ebb254d208a03c783ce6cf2c4d8c2cf45e235dd23b4ce1b29",
    "kodim23.png": "e3111a2fd4da24af15d6459ef9eacfe54106b38e27b4a21821b75c3f5d2d5baf",
    "kodim24.png": "1071c68372cc5a01435c2c225a5cf7d4bb803846ec08bb6b3d6721b156d7cb96",
}
