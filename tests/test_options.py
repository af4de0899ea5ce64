"""Typed scheme options, canonical specs, aliases and envelopes, and the MCS family of the
classical link (``bpg-ldpc:rate=R:qam=M``)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F

from baselines.bpg_ldpc import MCS_QAMS, MCS_RATES, mcs_of, mcs_specs
from simulator.channels import AWGNChannel
from simulator.cli import main
from simulator.metrics import psnr
from simulator.options import Option, canonical_number, parse_options
from simulator.registry import canonical_spec, create_scheme, envelopes_in, parse_scheme_list
from simulator.results import SummaryRow, envelope
from simulator.schemes.base import Transmission


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMCOM_CACHE", str(tmp_path_factory.getbasetemp() / "semcom-cache"))


def test_option_kinds_parse_to_canonical_text() -> None:
    number = Option("0", "a number", kind="float", choices=("none",), minimum=0)
    assert number.parse("0.0") == ("0", 0.0) and number.parse("0") == ("0", 0)
    assert number.parse("2.50")[0] == "2.5" and number.parse("1e-3")[0] == "0.001" and number.parse("none") == ("none", "none")
    for bad in ("-1", "nan", "inf", "x", ""):
        with pytest.raises(ValueError):
            number.parse(bad)
    flag = Option("on", "a flag", kind="bool")
    assert [flag.parse(t)[0] for t in ("ON", "yes", "1", "true", "off", "No", "0")] == ["on"] * 4 + ["off"] * 3
    count = Option("50", "a count", kind="int", minimum=1)
    assert count.parse("7") == ("7", 7)
    with pytest.raises(ValueError):
        count.parse("7.5")
    assert canonical_number(3.0) == "3" and canonical_number(0.1) == "0.1"


def test_parse_options_errors_name_value_and_accepted() -> None:
    schema = {"mode": Option("a", "mode", choices=("a", "b")), "need": Option(None, "needed", choices=("x",))}
    assert parse_options("demo", schema, {"need": "x"}) == ({"mode": "a", "need": "x"}, {"mode": "a", "need": "x"})
    with pytest.raises(ValueError, match=r"scheme 'demo': bad mode='c'; accepted: a, b"):
        parse_options("demo", schema, {"mode": "c", "need": "x"})
    with pytest.raises(ValueError, match="option need is required; accepted: x"):
        parse_options("demo", schema, {})
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['other'\]; accepted: mode, need"):
        parse_options("demo", schema, {"need": "x", "other": "1"})


def test_one_configuration_one_spec_one_hash() -> None:
    assert canonical_spec("cddm:eta=0.0") == canonical_spec("cddm:eta=0") == canonical_spec("cddm:start=matched") == "cddm"
    assert canonical_spec("cddm:eta=1.0:start=official") == "cddm:eta=1:start=official"
    assert canonical_spec("ours:decoder=jscc:steps=1") == "ours:steps=1:decoder=jscc"
    assert canonical_spec("ours:margin=0.0:decoder=jscc") == "ours:decoder=jscc:margin=0"
    assert canonical_spec("bpg-ldpc-1/2:early_stop=yes:iters=50") == "bpg-ldpc-1/2"
    assert create_scheme("cddm:eta=0.0").config() == create_scheme("cddm").config()
    with pytest.raises(ValueError, match="bad margin='-1'; accepted: auto or a number >= 0"):
        canonical_spec("ours:margin=-1")
    with pytest.raises(ValueError, match="unknown scheme 'nope'"):
        canonical_spec("nope")


def test_mcs_family_names_aliases_and_envelope() -> None:
    assert canonical_spec("bpg-ldpc:qam=4:rate=1/2") == "bpg-ldpc-1/2"
    assert canonical_spec("bpg-ldpc:rate=3/4:qam=4:decoder=layered") == "bpg-ldpc-3/4:decoder=layered"
    assert canonical_spec("bpg-ldpc:qam=16:rate=2/3") == "bpg-ldpc:rate=2/3:qam=16"
    with pytest.raises(ValueError, match="option rate is required; accepted: 1/3, 1/2, 2/3, 3/4, 5/6"):
        canonical_spec("bpg-ldpc:qam=16")
    with pytest.raises(ValueError, match="bad qam='8'; accepted: 4, 16, 64"):
        canonical_spec("bpg-ldpc:rate=1/2:qam=8")
    assert parse_scheme_list("bpg-ldpc") == ["bpg-ldpc-1/2", "bpg-ldpc-3/4"]
    specs = mcs_specs()
    assert len(specs) == len(MCS_RATES) * len(MCS_QAMS) == 15 and "bpg-ldpc-1/2" in specs
    assert parse_scheme_list("bpg-ldpc-best,bpg-capacity") == [*specs, "bpg-capacity"]
    assert parse_scheme_list("bpg-ldpc-all") == specs and envelopes_in("bpg-ldpc-all,jscc-t") == {}
    assert envelopes_in("jscc-t, bpg-ldpc-best") == {"bpg-ldpc-best": tuple(specs)}
    assert mcs_of("bpg-ldpc-3/4:decoder=layered") == (Fraction(3, 4), 4)
    assert mcs_of("bpg-ldpc:rate=2/3:qam=16:iters=20") == (Fraction(2, 3), 16)
    assert [mcs_of(spec) for spec in specs] == [(MCS_RATES[r], int(q)) for q in MCS_QAMS for r in MCS_RATES]


def _row(spec: str, snr: float, value: float) -> SummaryRow:
    return SummaryRow(spec, spec, "d", snr, value, 0.1, None, None, 2, 2, 1.0)


def test_envelope_picks_best_mean_psnr_per_snr() -> None:
    rows = [_row("a", 0, 10.0), _row("b", 0, 12.0), _row("a", 5, 20.0), _row("b", 5, 20.0), _row("c", 5, 30.0),
            _row("a", 9, math.nan)]
    best = envelope(rows, "best", ["a", "b"])
    assert [(r.snr_db, r.chosen, r.psnr, r.scheme) for r in best] == [(0, "b", 12.0, "best"), (5, "a", 20.0, "best")]
    assert best[0].to_json()["chosen"] == "b" and "chosen" not in rows[0].to_json()


def test_list_schemes_shows_typed_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-schemes"]) == 0
    out = capsys.readouterr().out
    assert "rate=<1/3, 1/2, 2/3, 3/4, 5/6> (required)" in out and "iters=<an integer >= 1> (default 50)" in out
    assert "margin=<auto or a number >= 0> (default auto)" in out and "bpg-ldpc-best    best of" in out


@pytest.mark.parametrize("qam", ["16", "64"])
def test_higher_order_qam_link(qam: str) -> None:
    """One code block of M-QAM at rate 1/2: unit symbol energy, delivered well above the
    waterfall, lost well below it."""
    g = torch.Generator().manual_seed(1)
    image = F.interpolate(torch.rand(1, 3, 4, 6, generator=g), size=(96, 128), mode="bicubic")[0].clamp(0, 1)
    scheme = create_scheme(f"bpg-ldpc:rate=1/2:qam={qam}")
    assert scheme.config()["modulation"].startswith(f"{qam}-QAM")
    tx = scheme.encode(image)
    n = scheme.channel_uses(96, 128)
    assert tx.seg.bits_per_symbol == int(qam).bit_length() - 1 and tx.symbols.numel() == n
    assert abs(float(tx.symbols.abs().pow(2).mean()) - 1) < 0.05
    good, bad = (scheme.transmit(Transmission(tx, image, AWGNChannel().realise(n, 0, "img", snr, 0)))
                 for snr in (25.0, 0.0))
    assert good.extras["delivered"] and psnr(good.image, image) > 30
    assert not bad.extras["delivered"]
