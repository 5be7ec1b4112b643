"""``zkclear audit --vols FILE`` (red team session 16): the auditor's own implied volatilities against the epoch's
published ones (tests/verifier/test_marks_tolerance_s16.py has the attack: a volatility lowered to 1 ppm leaves a far
out-of-the-money option's mark at the one-tick floor and its worst scenario loss, for a seller, at 0)."""

from __future__ import annotations

import json

import pytest

from tests.clearing.options_helpers import CALL, PERP, PUT, epoch_files, write_files
from tests.clearing.options_helpers import CONFIG as OPTIONS_CONFIG
from tests.cli.cli_helpers import zkclear
from tests.cli.test_cli_operator_safety import KEYS, USD_AS_USDC
from zkclear.chains import load_reserves
from zkclear.operator import Deployment
from zkclear.proving_settings import ProvingSettings
from zkclear.synthetic import reserves_csv
from zkclear.tree.placement import TreeConfig

VOLS = {PUT: 400_000, CALL: 500_000}


@pytest.fixture(scope="module")
def options_epoch(tmp_path_factory):
    """Epoch 1 of a tiny options deployment, proven."""
    tmp = tmp_path_factory.mktemp("vols-s16")
    root = tmp / "venue"
    Deployment.init(root, OPTIONS_CONFIG, ProvingSettings(tree=TreeConfig(height=5, chunk_bits=2), executor="serial",
                                                          venue="Vols Venue", tokens=USD_AS_USDC, position_bits=8))
    Deployment(root).run_epoch(write_files(tmp / "e1", epoch_files(30_000, VOLS, accounts=("A,standard",),
                                                                    transfers=("t-1,deposit,A,1000000",))))
    reserves = tmp / "reserves.csv"
    reserves.write_text(reserves_csv([(key.chain, "USD", key.address.text) for key in KEYS], {"USD": 2 * 10**7}))
    Deployment(root).prove(1, load_reserves(reserves), reserve_keys=KEYS)
    return Deployment(root).epoch_dir(1)


def test_the_audit_compares_implied_volatilities_with_the_auditors(options_epoch, tmp_path, capsys):
    vols = tmp_path / "vols.csv"
    vols.write_text(f"instrument,implied_vol_ppm\n{PUT},410000\n{CALL},500000\n")
    out = zkclear("audit", options_epoch, "--vols", vols, capsys=capsys)
    assert "2 implied volatilities within 500 bps of yours" in out
    failure = json.loads(zkclear("audit", options_epoch, "--vols", vols, "--vol-tolerance-bps", 100, "--json",
                                 expect=2, capsys=capsys))
    assert failure["reason"] == "vols-beyond-tolerance"
    assert f"{PUT} is valued at an implied volatility of 400000 ppm, yours is 410000 ppm" in failure["detail"]


@pytest.mark.parametrize(("text", "message"), [
    (f"instrument,implied_vol_ppm\n{PUT},400000\n{PERP},400000\n",
     f":3: field 'instrument': instrument '{PERP}' is not a live engine-marked option in epoch 1"),
    (f"instrument,implied_vol_ppm\n{PUT},0\n", ":2: field 'implied_vol_ppm': must be a volatility in ppm, 1 or more"),
    (f"instrument,price\n{PUT},400000\n", ":1: expected the header row 'instrument,implied_vol_ppm'"),
])
def test_a_bad_vols_file_is_refused_by_line_before_any_epoch_is_audited(options_epoch, tmp_path, capsys, text,
                                                                        message):
    vols = tmp_path / "vols.csv"
    vols.write_text(text)
    out = zkclear("audit", options_epoch, "--vols", vols, expect=1, capsys=capsys)
    assert f"{vols}{message}" in out and "OK" not in out
