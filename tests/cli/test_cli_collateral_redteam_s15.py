"""Red team session 15, multi-asset collateral through the CLI: what a participant is shown of their balances."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from tests.proofs.epoch_fixtures import MULTI_PUBLIC, SYSTEM, multi_asset_epoch, published
from zkclear.cli import _print_participant_view
from zkclear.verifier.participant import account_view, whole_units
from zkclear.verifier.receipt import verify_receipt


@pytest.mark.parametrize("amount, decimals, text", [
    (6_796_710, 8, "0.06796710"), (987_294_605, 6, "987.294605"), (-2_000_000_000, 6, "-2000.000000"),
    (0, 9, "0.000000000"), (5, 0, "5"), (-7, 2, "-0.07"), (10**30 + 1, 18, "1000000000000.000000000000000001"),
])
def test_whole_units_are_exact(amount, decimals, text):
    assert whole_units(amount, decimals) == text


def test_attack_decimals_inflated_over_the_units_kept_are_visible_to_the_participant_in_whole_units(capsys):
    """An operator that publishes an asset's decimals above the unit it keeps balances in (BTC at 10 decimals while
    it records deposits in sat) multiplies every reserve of that asset by 100 when the chain's balance is converted
    (`reserves.convert`) — 1 BTC of reserves covers 100 BTC of deposits — and every check passes: the decimals are
    the published configuration's, the reserves are converted with them, and each participant sees the balance they
    expect in "smallest units" (100000000 for their 1 BTC). Before the fix `zkclear verify` (and `--json`, and the
    page) showed only smallest units, so only an auditor reasoning about units could notice. Now every balance and
    liability is also shown in whole units at the venue's decimals: the participant reads 0.0100000000 BTC for
    their bitcoin and sees the venue's claim."""
    epoch = multi_asset_epoch()
    account = epoch.accounts[3]
    check = verify_receipt(published(epoch, public=MULTI_PUBLIC), epoch.artifacts.receipts[account.account_id],
                           account.account_id, chunk_system=SYSTEM)
    # the equity-only test epoch's public data names no instruments; the view lists positions by name
    named = SimpleNamespace(instrument_ids=("A", "B", "C"))
    view = account_view(check, dataclasses.replace(published(epoch, public=MULTI_PUBLIC), public=named))
    assert view["decimals"] == {"USD": 6, "BTC": 8}
    _print_participant_view(view, "pinned")
    out = capsys.readouterr().out
    cash, btc, owed = account.witness.cash, account.witness.balances[0], view["liabilities"]["USD"]
    assert f"cash             {cash} (smallest units: {whole_units(cash, 6)} USD at the venue's 6 decimals" in out
    assert f"liabilities      USD {owed} = {whole_units(owed, 6)}, BTC {btc} = " \
           f"{whole_units(btc, 8)} (what the venue" in out, out
    assert "decimals         USD 6, BTC 8 (the venue's unit of each asset" in out, out
