"""Red team session 15: the collateralization proof binds every public field of every collateral asset.

An operator that proves an account with another asset price, unit value or haircut table than the published public
data (the one the auditor recomputes from the configuration and the marks: ``public-data-recomputed``) must fail
verification against the published data — else the recomputation would check figures the proofs never used.
"""

from __future__ import annotations

import dataclasses
import random
from functools import cache

import pytest

from circuits.examples import collateralized_account, linear_perpetuals, with_collateral_assets
from provers.collateral import prove_collateral_batch, verify_collateral_batch
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import VerificationError

CONTEXT = b"epoch-15/chunk-0"
PUBLIC = with_collateral_assets(linear_perpetuals(2), 2)  # BTC and ETH


@cache
def _proof():
    account = collateralized_account(PUBLIC, random.Random(15), held=2, max_lots=300, max_collateral=10**9)
    assert account.balances[0] > 0  # the account holds the asset whose fields are changed
    proof, commitments, _ = prove_collateral_batch(
        [account], PUBLIC, CONTEXT, BlindingSource.deterministic(b"collateral-redteam-s15-secret-00"))
    return proof, commitments


def _btc(**changes: object):
    btc = PUBLIC.assets[0]
    return dataclasses.replace(PUBLIC, assets=(dataclasses.replace(btc, **changes), *PUBLIC.assets[1:]))


@pytest.mark.parametrize("field", ["price up one tick", "price doubled", "unit value numerator",
                                   "unit value denominator", "haircut line constant", "haircut line slope",
                                   "haircut denominator", "asset id"])
def test_held_a_proof_made_with_other_asset_figures_fails_against_the_published_ones(field):
    proof, commitments = _proof()
    verify_collateral_batch(proof, commitments, PUBLIC, CONTEXT)  # the control
    btc = PUBLIC.assets[0]
    lines = btc.haircut_lines
    changed = {
        "price up one tick": _btc(price_ticks=btc.price_ticks + 1),
        "price doubled": _btc(price_ticks=btc.price_ticks * 2),
        "unit value numerator": _btc(unit_value_num=btc.unit_value_num + 1),
        "unit value denominator": _btc(unit_value_den=btc.unit_value_den + 1),
        "haircut line constant": _btc(haircut_lines=(*lines[:-1], (lines[-1][0], lines[-1][1] + 1))),
        "haircut line slope": _btc(haircut_lines=((lines[0][0] + 1, lines[0][1]), *lines[1:])),
        "haircut denominator": _btc(denominator=btc.denominator - 1),
        "asset id": _btc(asset_id="WBTC"),
    }[field]
    assert changed.digest() != PUBLIC.digest()
    with pytest.raises(VerificationError):
        verify_collateral_batch(proof, commitments, changed, CONTEXT)
