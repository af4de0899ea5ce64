"""SNR-conditioned modulation (SwinJSCC/WITT style): identity at initialisation, SNR-dependent once trained."""

from __future__ import annotations

import pytest
import torch

from simulator.models.jscc import JSCC_CONFIGS, JSCCCodec
from simulator.models.snr_adaptive import SNRAdaptiveCodec, SNRModulatedDecoder, SNRModulation, load_unmodulated


def test_modulation_is_identity_at_init_and_scales_channels() -> None:
    mod = SNRModulation(8)
    x = torch.randn(2, 3, 5, 8)
    assert torch.equal(mod(x, torch.tensor([-3.0, 12.0])), x)
    with torch.no_grad():
        mod.net[-1].bias.fill_(10.0)  # σ → 1: every channel doubled
    torch.testing.assert_close(mod(x, torch.tensor([0.0, 0.0])), 2 * x, rtol=1e-4, atol=1e-4)


def test_adaptive_codec_from_shipped_weights_computes_the_shipped_codec() -> None:
    torch.manual_seed(0)
    codec = JSCCCodec(JSCC_CONFIGS["tiny"]).eval()
    sa = SNRAdaptiveCodec.from_codec(codec).eval()
    x, snr = torch.rand(2, 3, 32, 48), torch.tensor([-3.0, 12.0])
    with torch.no_grad():
        latent = codec.encoder(x)
        torch.testing.assert_close(sa.encoder(x, snr), latent, rtol=0, atol=0)
        torch.testing.assert_close(sa.decoder(latent, snr), codec.decoder(latent), rtol=0, atol=0)
    assert set(codec.state_dict()) < set(sa.state_dict())
    assert all(".mods." in f".{k}" for k in set(sa.state_dict()) - set(codec.state_dict()))


def test_trained_modulation_makes_the_output_depend_on_snr() -> None:
    torch.manual_seed(0)
    dec = SNRModulatedDecoder(JSCC_CONFIGS["tiny"])
    latent = torch.randn(1, 96, 2, 2)
    opt = torch.optim.Adam(dec.mods.parameters(), lr=1e-2)
    for _ in range(3):  # push the output towards 0 at −3 dB only
        loss = dec(latent, torch.tensor([-3.0])).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert not torch.allclose(dec(latent, torch.tensor([-3.0])), dec(latent, torch.tensor([12.0])))


def test_load_unmodulated_refuses_other_weights() -> None:
    dec = SNRModulatedDecoder(JSCC_CONFIGS["tiny"])
    with pytest.raises(RuntimeError, match="do not match"):
        load_unmodulated(dec, {"nonsense.weight": torch.zeros(1)})
