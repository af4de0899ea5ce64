"""Scheme ``ours``: JSCC-T + the SS-conditioned residual latent denoiser (the paper's method).

Variants are chosen with scheme options, no code needed::

    ours                          adaptive steps (T_max = 3), empirical s₁, α = 1, finetuned decoder
    ours:steps=2                  fixed T = 2 (0 … 3; 0 = no denoising)
    ours:s1=0.5                   s₁ ∈ {empirical, 0, 0.5, 1, random}
    ours:alpha=0                  the denoiser trained without the SS loss
    ours:decoder=jscc             the phase-1 JSCC-T decoder instead of the phase-3 one
    ours:decoder=snr              the SNR-conditioned phase-3 decoder (semcom-train finetune-snr)
    ours:margin=0                 adaptive stop margin in dB (0 = the paper's rule "stop when s
                                  decreases"; default auto = the margin calibrated on validation
                                  images through the decoder in use: the phase-3 decoder's card,
                                  else the denoiser's)

``decoder=auto`` (default) uses the phase-3 decoder finetuned behind the α = 1 denoiser
when ``alpha=1`` and the JSCC-T decoder otherwise.  That decoder's card may split the SNR axis into
bands (``bands``, written by ``scripts/decoder_switch.py`` from validation crops): each band names
the effective SNR (dB) from which it applies, its decoder — another phase-3 checkpoint, e.g. one
finetuned on a mid band, hash-checked, or ``phase1``, the JSCC-T decoder — and the stop margin
calibrated through that decoder on the band's SNRs.  Below the first band the card's own decoder
and margin apply.  The receiver knows the SNR, so each item is decoded (and its denoising stopped)
by the decoder of its band, item by item inside a batch; a decoder finetuned on low SNRs then
costs nothing at high SNR.  An explicit ``margin=`` applies to every band.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from simulator.checkpoints import checkpoint_dir, load_checkpoint, require_same_codec
from simulator.models.denoiser import S1_MODES, initial_similarity
from simulator.models.snr_adaptive import SNRModulatedDecoder
from simulator.options import Option
from simulator.registry import register_scheme
from simulator.schemes.latent import LatentScheme
from simulator.training.denoiser_task import load_denoiser

__all__ = ["OursScheme", "PHASE1"]

#: the band decoder name of the phase-1 JSCC-T decoder in a card's ``bands``.
PHASE1 = "phase1"

STEP_CHOICES = ("adaptive", "0", "1", "2", "3")


@register_scheme("ours")
class OursScheme(LatentScheme):
    """Paper §III: iterative residual latent denoising conditioned on the similarity score."""

    description = "JSCC-T + SS-conditioned residual latent denoiser (adaptive steps, T_max=3)"
    options_schema = {
        "steps": Option("adaptive", "denoising steps (adaptive: stop when g_s predicts no gain, T_max)",
                        choices=STEP_CHOICES),
        "s1": Option("empirical", "initial similarity score", choices=S1_MODES),
        "alpha": Option("1", "SS-loss weight of the denoiser weights to load", choices=("1", "0")),
        "decoder": Option("auto", "decoder weights: auto, finetuned (phase 3), jscc (phase 1) or snr (phase 3, "
                                  "SNR-conditioned)", choices=("auto", "finetuned", "jscc", "snr")),
        "margin": Option("auto", "adaptive stop margin, dB of effective latent SNR (auto: calibrated through "
                                 "the decoder in use, from its card; 0: the paper's rule)", kind="float", choices=("auto",), minimum=0),
    } | LatentScheme.options_schema  # config last: the order of canonical specs
    #: 2: g_s predicts each step's gain in dB and the adaptive rule has a stop margin.
    implementation_version = 2

    def __init__(self, options: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(options, **kwargs)
        o = self.options
        self.steps = None if o["steps"] == "adaptive" else int(o["steps"])
        den_path = checkpoint_dir() / f"denoiser-{self.config_name}-alpha{o['alpha']}.safetensors"
        self.denoiser, self.denoiser_card = load_denoiser(den_path)
        require_same_codec(self.denoiser_card, den_path, self.jscc_card["sha256"])
        self.weight_hashes.append(self.denoiser_card["sha256"])
        use_finetuned = o["decoder"] == "finetuned" or (o["decoder"] == "auto" and o["alpha"] == "1")
        margin_card = self.denoiser_card  # the stop margin calibrated through the decoder in use
        bands: list[dict[str, Any]] = []
        phase1 = self.decoder
        if use_finetuned:
            self.decoder, card = self._phase3_decoder(f"ours-decoder-{self.config_name}")
            if "stop_margin_db" in card:
                margin_card = card
            bands = card.get("bands", [])
        self.snr_decoder = o["decoder"] == "snr"
        if self.snr_decoder:
            dec_path = checkpoint_dir() / f"ours-decoder-snr-{self.config_name}.safetensors"
            tensors, card = load_checkpoint(dec_path, kind="jscc-decoder-snr")
            require_same_codec(card, dec_path, self.jscc_card["sha256"])
            self.decoder = SNRModulatedDecoder(self.codec.cfg, int(card["mod_hidden"]))
            self.decoder.load_state_dict(tensors)
            self.decoder.eval()
            self.weight_hashes.append(card["sha256"])
            margin_card = card
        self.t_max = int(self.denoiser_card.get("t_max", 3))
        margin = self.values["margin"]
        self.margin_db = float(margin_card["stop_margin_db"]) if margin == "auto" else float(margin)
        #: the bands after the first (see the module docstring), as ``config()`` records them.
        self.bands = [{"from_snr_db": float(b["from_snr_db"]), "decoder": str(b["decoder"]),
                       "stop_margin_db": float(b["stop_margin_db"]) if margin == "auto" else float(margin)} for b in bands]
        #: per band, the first below every start: its decoder and stop margin.
        self.band_decoders = nn.ModuleList([self.decoder] + [phase1 if b["decoder"] == PHASE1 else self._band_decoder(b)
                                                               for b in bands])
        self.band_margins = [self.margin_db] + [b["stop_margin_db"] for b in self.bands]
        self._band_starts = torch.tensor([b["from_snr_db"] for b in self.bands], dtype=torch.float64)
        self._band_margins = torch.tensor(self.band_margins, dtype=torch.float32)

    def _phase3_decoder(self, name: str) -> tuple[nn.Module, dict[str, Any]]:
        """The phase-3 decoder checkpoint ``name`` (file stem under the checkpoint folder), checked
        against the codec in use, and its card."""
        path = checkpoint_dir() / f"{name}.safetensors"
        tensors, card = load_checkpoint(path, kind="jscc-decoder")
        require_same_codec(card, path, self.jscc_card["sha256"])
        decoder = copy.deepcopy(self.codec.decoder)
        decoder.load_state_dict(tensors)
        self.weight_hashes.append(card["sha256"])
        return decoder, card

    def _band_decoder(self, band: dict[str, Any]) -> nn.Module:
        """The phase-3 decoder a band names, checked against the hash the band records."""
        decoder, card = self._phase3_decoder(band["decoder"])
        if card["sha256"] != band["sha256"]:
            raise ValueError(f"{checkpoint_dir() / band['decoder']}.safetensors: sha256 {card['sha256'][:12]}… is not the "
                             f"{band['sha256'][:12]}… its band in ours-decoder-{self.config_name}.json was calibrated with")
        return decoder

    def config(self) -> dict[str, Any]:
        return super().config() | {"t_max": self.t_max, "denoiser_config": self.denoiser_card["config"],
                                   "stop_margin_db": self.margin_db} | ({"bands": self.bands} if self.bands else {})

    def _band_index(self, snr_db: torch.Tensor | float, n: int) -> torch.Tensor:
        """``[n]`` int64 (CPU): the band of each item's effective SNR (0: below every band start)."""
        snr = torch.as_tensor(snr_db, dtype=torch.float64).reshape(-1).expand(n)
        return torch.searchsorted(self._band_starts, snr.contiguous(), right=True)

    def decode(self, latent: torch.Tensor, snr_db: torch.Tensor | float) -> torch.Tensor:
        if self.snr_decoder:
            snr = torch.as_tensor(snr_db, dtype=torch.float32).reshape(-1).expand(latent.shape[0])
            return self.decoder(latent, snr.to(latent.device))
        band = self._band_index(snr_db, latent.shape[0]).to(latent.device)
        used = band.unique().tolist()
        if len(used) == 1:
            return self.band_decoders[used[0]](latent)
        parts = {b: self.band_decoders[b](latent[band == b]) for b in used}
        first = parts[used[0]]
        out = first.new_empty((latent.shape[0], *first.shape[1:]))
        for b, images in parts.items():
            out[band == b] = images
        return out

    @property
    def uses_randomness(self) -> bool:  # type: ignore[override]
        return self.options["s1"] == "random"

    def denoise(self, z: torch.Tensor, snr_db: torch.Tensor, generators: list[torch.Generator] | None
                ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        """Items that stop early stay in the batch, masked (:meth:`LatentDenoiser.run`); each item's
        ``similarities`` are the s it computed alone: s₁ … up to its first rejected step."""
        snr = snr_db.float()
        if generators is None:
            s1 = initial_similarity(snr, self.options["s1"])
        else:
            s1 = torch.cat([initial_similarity(snr[i:i + 1], self.options["s1"], g) for i, g in enumerate(generators)])
        margin: float | torch.Tensor = self.margin_db
        if len(self.band_margins) > 1:
            band = self._band_index(snr, z.shape[0])
            margin = self._band_margins[band].to(z.device)
        result = self.denoiser.run(z, s1.to(z.device), steps=self.steps, t_max=self.t_max, margin_db=margin)
        steps = result.steps.tolist()
        sims = result.similarities.tolist()
        extras = []
        for kept, seq in zip(steps, sims):
            computed = kept if self.steps is not None else min(kept + 1, self.t_max)
            extras.append({"steps": int(kept), "similarities": [round(v, 5) for v in seq[: computed + 1]]})
        return result.latent, extras
