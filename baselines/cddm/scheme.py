"""Scheme ``cddm``: JSCC-T + the channel-denoising diffusion model of ref. [5] (the paper's CDDM baseline).

Variants by scheme options::

    cddm                      CDDM sampling (η = 0, exact start-step matching), phase-3 decoder
    cddm:decoder=jscc         the phase-1 JSCC-T decoder instead of the finetuned one
    cddm:eta=1                stochastic (DDPM-posterior) updates instead of CDDM's deterministic ones
    cddm:snr_floor=10         start from the step matched to max(SNR, 10 dB) (the official code's cap)
    cddm:start=official       the official sampler's start rule: dB match of ᾱ/(1−ᾱ) to max(SNR, 10 dB),
                              z scaled by 1/√(1+σ²) (``snr_floor`` sets its cap; 3 dB noisier than the channel)

Weights (in :func:`simulator.checkpoints.checkpoint_dir`: ``$SEMCOM_CHECKPOINTS`` or
``checkpoints/``): ``jscc-t-{config}``, ``cddm-{config}`` and (phase 3)
``cddm-decoder-{config}.safetensors``.  ``decoder=auto`` uses the finetuned decoder when its
file exists and the JSCC-T decoder otherwise; ``config()`` records which (``decoder_weights``).
``extras["steps"]`` is the number of reverse steps (network evaluations) for the image.

With η > 0 the sampler's noise comes from a generator keyed by the channel realisation
(:func:`simulator.schemes.latent.receiver_generator`), so a sweep under a fixed seed is reproducible.
"""

from __future__ import annotations

from typing import Any

import torch

from baselines.cddm.model import OFFICIAL_T_MAX_DB, START_RULES
from baselines.cddm.training import load_cddm
from simulator.checkpoints import checkpoint_dir, load_checkpoint, require_same_codec
from simulator.options import Option
from simulator.registry import register_scheme
from simulator.schemes.latent import LatentScheme

__all__ = ["CDDMScheme"]


@register_scheme("cddm")
class CDDMScheme(LatentScheme):
    """Ref. [5]: a conditional diffusion model removes the channel noise from the received
    latent, starting at the diffusion step whose noise level matches the channel SNR."""

    description = "JSCC-T + CDDM channel-denoising diffusion model (ref. [5]), finetuned decoder"
    options_schema = {
        "decoder": Option("auto", "decoder weights: auto (finetuned if shipped, else jscc), finetuned or jscc",
                          choices=("auto", "finetuned", "jscc")),
        "eta": Option("0", "sampler η: 0 = CDDM's deterministic update, 1 = DDPM posterior noise",
                      kind="float", minimum=0),
        "snr_floor": Option("none", "match the start step at max(SNR, this dB) to cap the steps "
                            f"(none = no cap for start=matched, {OFFICIAL_T_MAX_DB:g} dB for start=official)",
                            kind="float", choices=("none",)),
        "start": Option("matched", "start rule: matched (σ² = (1−ᾱ)/ᾱ exactly) or official (the official sampler's)",
                        choices=START_RULES),
    } | LatentScheme.options_schema  # config last: the order of canonical specs
    late_options = frozenset({"start"})
    #: 4 transmissions per sampler run on the CPU too: batched CDDM rows/s is 1.37× the unbatched
    #: (median of 3 interleaved rounds, ``benchmarks/bench_sweep.py``, Kodak, 1 thread; docs/gpu.md).
    cpu_batch = 4

    def __init__(self, options: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        o = self.options
        self.eta = float(self.values["eta"])
        floor = self.values["snr_floor"]
        self.snr_floor_db = None if floor == "none" else float(floor)
        self.start = o["start"]
        ckpt_dir = checkpoint_dir()
        cddm_path = ckpt_dir / f"cddm-{self.config_name}.safetensors"
        if not cddm_path.is_file():
            raise ValueError(f"cddm: weights {cddm_path} not found; train them with `semcom-train cddm --config {self.config_name}`")
        self.cddm, self.cddm_card = load_cddm(cddm_path)
        require_same_codec(self.cddm_card, cddm_path, self.jscc_card["sha256"])
        self.weight_hashes.append(self.cddm_card["sha256"])
        dec_path = ckpt_dir / f"cddm-decoder-{self.config_name}.safetensors"
        use_finetuned = o["decoder"] == "finetuned" or (o["decoder"] == "auto" and dec_path.is_file())
        if use_finetuned:
            if not dec_path.is_file():
                raise ValueError(f"cddm: finetuned decoder {dec_path} not found; train it with "
                                 f"`semcom-train cddm-finetune --config {self.config_name}` or use decoder=jscc")
            tensors, card = load_checkpoint(dec_path, kind="jscc-decoder")
            require_same_codec(card, dec_path, self.jscc_card["sha256"])
            self.decoder.load_state_dict(tensors)
            self.weight_hashes.append(card["sha256"])
        self.decoder_weights = "finetuned" if use_finetuned else "jscc"

    def config(self) -> dict[str, Any]:
        return super().config() | {"cddm_config": self.cddm_card["config"], "decoder_weights": self.decoder_weights,
                                   "train_t_max": self.cddm_card.get("train_t_max")}

    @property
    def uses_randomness(self) -> bool:  # type: ignore[override]
        return self.eta > 0

    def denoise(self, z: torch.Tensor, snr_db: torch.Tensor, generators: list[torch.Generator] | None
                ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        """All items in one sampler run, each from its own start step (:meth:`CDDM.sample`)."""
        res = self.cddm.sample(z, snr_db, eta=self.eta, generator=generators, snr_floor_db=self.snr_floor_db,
                               start=self.start)
        return res.latent, [{"steps": int(m)} for m in res.steps.tolist()]
