"""A bounded oracle fallback through the real entry point (red team session 16; the rule and its recomputation:
tests/clearing/test_oracle_redteam_s16.py): ``epoch run`` refuses the run's next epoch in one line, and the audit of
an epoch given alone reports the run the public inputs carry, with the bound."""

from __future__ import annotations

import json

import pytest

from tests.clearing.options_helpers import csv, write_files
from tests.clearing.test_oracle_epochs import CONFIG as ORACLE_CONFIG
from tests.cli.cli_helpers import zkclear
from tests.cli.test_cli_operator_safety import KEYS, PERP, USD_AS_USDC, oracle_files
from zkclear.chains import load_reserves
from zkclear.operator import Deployment
from zkclear.proving_settings import ProvingSettings
from zkclear.synthetic import reserves_csv
from zkclear.tree.placement import TreeConfig

BOUNDED = ORACLE_CONFIG.replace("[oracle]\n", '[oracle]\nmax_fallback_epochs = 2\nsources = ["a", "b", "c"]\n', 1)


def _outage(epoch: int) -> dict[str, str]:
    return oracle_files(epoch, funding=epoch) | {"oracle.csv": csv("instrument,source,price,timestamp")}  # distinct


@pytest.fixture(scope="module")
def bounded(tmp_path_factory):
    """Epoch 1 quoted, epochs 2 and 3 outages (the bound), all proven."""
    tmp = tmp_path_factory.mktemp("oracle-bound-s16")
    root = tmp / "venue"
    Deployment.init(root, BOUNDED, ProvingSettings(tree=TreeConfig(height=5, chunk_bits=2), executor="serial",
                                                   venue="Bound Venue", tokens=USD_AS_USDC, position_bits=8))
    reserves = tmp / "reserves.csv"
    reserves.write_text(reserves_csv([(key.chain, "USD", key.address.text) for key in KEYS], {"USD": 2 * 10**7}))
    for epoch, files in enumerate((oracle_files(1), _outage(2), _outage(3)), start=1):
        Deployment(root).run_epoch(write_files(tmp / f"e{epoch}", files))
        Deployment(root).prove(epoch, load_reserves(reserves), reserve_keys=KEYS)
    return tmp, root


def test_epoch_run_refuses_a_fallback_beyond_the_bound_in_one_line(bounded, capsys):
    tmp, root = bounded
    folder = write_files(tmp / "e4", _outage(4))
    out = zkclear("epoch", "run", folder, "-d", root, expect=1, capsys=capsys)
    assert out == (f"error: {folder / 'oracle.csv'}:1: field 'price': {PERP} would be marked at its last good price "
                   "(30000 ticks) 3 epochs running, beyond the guard's bound of 2 (oracle.max_fallback_epochs): give "
                   "quotes from enough sources to mark it\n")
    assert "ledger head: epoch 3 " in zkclear("status", "-d", root, capsys=capsys)


def test_the_audit_of_an_epoch_alone_reports_the_run_its_inputs_carry(bounded, capsys):
    _, root = bounded
    report = json.loads(zkclear("audit", root / "epochs" / "3", "--json", capsys=capsys))
    assert report["oracle"]["fallback"] == {PERP: 2} and report["oracle"]["fallback_bound"] == 2
    out = zkclear("audit", root / "epochs" / "3", capsys=capsys)
    assert f"oracle fallback: {PERP} is marked at its last good price (too few sources quoted it, 2 epochs running " \
           "of at most 2)" in out
