"""An epoch closed with the production chunk system (issue 6's collateralization proofs)."""

import random
from dataclasses import replace
from functools import cache

import pytest

from circuits.examples import linear_perpetuals, required_cash
from circuits.public_data import AccountWitness
from tests.proofs.epoch_fixtures import attested, public_inputs, published, reserves
from zkclear.bundle.format import decode_audit_data, decode_receipt, encode_audit_data, encode_receipt
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import ProvingError, VerificationError
from zkclear.executor import SerialExecutor
from zkclear.proofs.chunks import CollateralChunks
from zkclear.proofs.epoch_prover import AccountInput, prove_epoch
from zkclear.tree.placement import TreeConfig
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.receipt import Expected, verify_receipt

SYSTEM = CollateralChunks()
CONFIG = TreeConfig(height=10, chunk_bits=2)


@cache
def _public():
    return linear_perpetuals(2)


def _accounts(under_collateralized: bool = False) -> list[AccountInput]:
    public = _public()
    rng = random.Random(7)
    out = []
    for i in range(3):
        long = (rng.randint(1, 40), -rng.randint(1, 40))
        for k, positions in enumerate((long, tuple(-q for q in long))):
            cash = required_cash(public, positions) + 1_000 * i
            if under_collateralized and i == 2 and k == 1:
                cash -= 5_000  # one unit short of its maintenance requirement, and more
            out.append(AccountInput(f"member-{i}-{k}", AccountWitness(cash, positions)))
    return out


def _prove(account_list):
    return prove_epoch(
        account_list,
        _public(),
        reserves((10**13, 10**13)),
        epoch_id=1,
        previous=None,
        config=CONFIG,
        blindings=BlindingSource.deterministic(b"collateral-epoch-secret-0123456"),
        chunk_system=SYSTEM,
        executor=SerialExecutor(),
        public_inputs_digest=public_inputs(1).digest(),
    )


@cache
def _epoch():
    artifacts = _prove(_accounts())
    return artifacts, attested(artifacts.bundle)


def test_collateralized_epoch_verifies_for_participants_and_auditor_after_a_disk_round_trip():
    artifacts, bundle = _epoch()
    public = _public()
    audit = decode_audit_data(encode_audit_data(artifacts.audit, SYSTEM), bundle.header, public, SYSTEM)
    report = audit_epoch(published(None, bundle, public), audit, chunk_system=SYSTEM, executor=SerialExecutor())
    assert report.chunks == len(audit.chunks)
    assert artifacts.total_opening[0][0] == sum(a.witness.cash for a in _accounts())  # perpetuals: v_j = 0
    for account in _accounts():
        data = encode_receipt(artifacts.receipts[account.account_id], SYSTEM)
        receipt = decode_receipt(data, public, SYSTEM, chunk_size=CONFIG.chunk_size)
        check = verify_receipt(
            published(None, bundle, public), receipt, account.account_id, chunk_system=SYSTEM,
            expected=Expected(cash=account.witness.cash, positions=account.witness.positions, margin_mode="standard"),
        )
        assert check.liability == account.witness.cash
        assert check.equity == account.witness.cash
        assert check.requirement == required_cash(public, account.witness.positions)


def test_under_collateralized_account_is_refused_at_close():
    with pytest.raises(ProvingError):
        _prove(_accounts(under_collateralized=True))


def test_chunk_proof_of_another_chunk_is_named():
    artifacts, bundle = _epoch()
    receipt = next(iter(artifacts.receipts.values()))
    other = next(c for c in artifacts.audit.chunks if c.position != receipt.chunk.position)
    forged = replace(receipt, chunk=replace(receipt.chunk, proof=other.proof))
    with pytest.raises(VerificationError) as caught:
        verify_receipt(published(None, bundle, _public()), forged, forged.account_id, chunk_system=SYSTEM)
    assert caught.value.reason == "chunk-collateral-proof"


def test_an_account_blob_with_no_positions_is_a_named_failure_not_a_crash():
    """A hostile audit file whose account commitments list zero positions (an IndexError in the first wave)."""
    import struct

    from zkclear.verifier.statements import chunk_root

    artifacts, _ = _epoch()
    chunk = artifacts.audit.chunks[0]
    data = chunk.accounts[0].to_bytes()
    shrunk = SYSTEM.decode_commitments(data[:2] + struct.pack(">HHH", 0, 0, 0) + data[8:8 + 48], _public())
    bad = replace(chunk, accounts=(shrunk, *chunk.accounts[1:]))
    with pytest.raises(VerificationError) as caught:
        chunk_root(SYSTEM, artifacts.bundle.header, bad, _public())
    assert caught.value.reason == "account-shape" and "0 position" in str(caught.value)


def test_a_portfolio_leaf_in_an_epoch_without_a_scenario_table_is_a_named_failure():
    from zkclear.verifier.statements import chunk_root

    artifacts, _ = _epoch()
    chunk = artifacts.audit.chunks[0]
    portfolio = replace(chunk.accounts[0], margin_mode="portfolio")
    bad = replace(chunk, accounts=(portfolio, *chunk.accounts[1:]))
    with pytest.raises(VerificationError) as caught:
        chunk_root(SYSTEM, artifacts.bundle.header, bad, _public())
    assert caught.value.reason == "account-shape" and "portfolio" in str(caught.value)


# -- collateral assets with the real prover (witnesses built directly, as circuits/examples.py does) ----------


@cache
def _multi_public():
    from circuits.examples import with_collateral_assets

    return with_collateral_assets(linear_perpetuals(2), 2)  # BTC (8 decimals) and ETH (9 decimals)


def _multi_accounts() -> list[AccountInput]:
    """Three pairs of opposite positions; each account holds BTC and ETH and may run a negative settlement balance
    that its collateral covers."""
    public = _multi_public()
    rng = random.Random(11)
    out = []
    for i in range(3):
        long = (rng.randint(1, 40), -rng.randint(1, 40))
        for k, positions in enumerate((long, tuple(-q for q in long))):
            balances = (rng.randint(0, 5 * 10**8), rng.randint(0, 3 * 10**9))
            cash = required_cash(public, positions, balances=balances) + 1_000 * i
            out.append(AccountInput(f"holder-{i}-{k}", AccountWitness(cash, positions, "standard", balances)))
    return out


def _multi_reserves(accounts):
    from tests.proofs.epoch_fixtures import BITCOIN_KEY, ETHER_KEY, RESERVE_KEYS, SETTLEMENT, TOKENS, VENUE, entry
    from zkclear.proofs.reserves import VenueAsset, build_reserve_book

    owed = [sum(max(a.witness.cash, 0) for a in accounts),
            *(sum(a.witness.balances[k] for a in accounts) for k in range(2))]
    entries = (entry(RESERVE_KEYS[0], "USD", owed[0] + 1), entry(BITCOIN_KEY, "BTC", owed[1]),
               entry(ETHER_KEY, "ETH", owed[2] * 10**9 + 999))  # wei, counted in gwei: rounded down
    return build_reserve_book(VENUE, (SETTLEMENT, VenueAsset("BTC", 8), VenueAsset("ETH", 9)), entries, tokens=TOKENS)


def test_a_collateral_asset_epoch_with_the_real_prover_verifies_and_shows_each_asset():
    accounts = _multi_accounts()
    assert any(a.witness.cash < 0 for a in accounts)  # debts covered by collateral are allowed
    public, book = _multi_public(), _multi_reserves(accounts)
    artifacts = prove_epoch(accounts, public, book, epoch_id=1, previous=None, config=CONFIG,
                            blindings=BlindingSource.deterministic(b"multi-asset-collateral-epoch-012"),
                            chunk_system=SYSTEM, executor=SerialExecutor(),
                            public_inputs_digest=public_inputs(1, book).digest())
    bundle = attested(artifacts.bundle)
    assert bundle.header.reserve_totals == book.asset_totals() and bundle.header.asset_count == 3
    assert [v for v, _ in artifacts.total_opening] == [sum(max(a.witness.cash, 0) for a in accounts),
                                                        *(sum(a.witness.balances[k] for a in accounts)
                                                          for k in range(2))]
    audit = decode_audit_data(encode_audit_data(artifacts.audit, SYSTEM), bundle.header, public, SYSTEM)
    report = audit_epoch(published(None, bundle, public), audit, chunk_system=SYSTEM, executor=SerialExecutor())
    assert [r.asset_id for r in report.reserves] == ["USD", "BTC", "ETH"]
    account = next(a for a in accounts if a.witness.cash < 0)
    data = encode_receipt(artifacts.receipts[account.account_id], SYSTEM)
    receipt = decode_receipt(data, public, SYSTEM, chunk_size=CONFIG.chunk_size, asset_count=3)
    check = verify_receipt(published(None, bundle, public), receipt, account.account_id, chunk_system=SYSTEM,
                           expected=Expected(cash=account.witness.cash, positions=account.witness.positions))
    btc, eth = public.assets
    assert check.collateral == (("BTC", account.witness.balances[0], btc.haircut_value(account.witness.balances[0])),
                                ("ETH", account.witness.balances[1], eth.haircut_value(account.witness.balances[1])))
    assert check.liabilities == (0, *account.witness.balances)
    assert check.equity == account.witness.cash + sum(h for _, _, h in check.collateral) >= check.requirement


def test_a_collateral_asset_epoch_whose_btc_reserves_fall_short_is_refused_before_any_proving(monkeypatch):
    accounts = _multi_accounts()
    book = _multi_reserves(accounts)
    short = replace(book, entries=(book.entries[0], replace(book.entries[1], balance=book.entries[1].balance - 1),
                                   book.entries[2]))
    proven = []
    monkeypatch.setattr(SYSTEM, "prove", lambda *args: proven.append(args))
    with pytest.raises(ProvingError, match="reserves of BTC"):
        prove_epoch(accounts, _multi_public(), short, epoch_id=1, previous=None, config=CONFIG,
                    blindings=BlindingSource.deterministic(b"multi-asset-short-reserves-01234"), chunk_system=SYSTEM,
                    executor=SerialExecutor(), public_inputs_digest=public_inputs(1, short).digest())
    assert proven == []
