"""The state's canonical bytes written and read a piece of accounts at a time (issue 15, item 2): the same
bytes as encoding the whole record at once, and a strict decoder (anything but canonical bytes is refused)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zkclear.clearing.state import ROWS_PER_PIECE, EpochState, canonical_json, frozen_array
from zkclear.errors import LedgerError


def _state(accounts: int, instruments: int = 3, assets: tuple[str, ...] = (), dynamic: bool = False) -> EpochState:
    rng = np.random.default_rng(accounts)
    ids = tuple(sorted(f"trader-{k:07d}" for k in range(accounts)))
    return EpochState(
        epoch=7, instruments=tuple(f"I{k}" for k in range(instruments)), settlement_prices=(5,) * instruments,
        funding_indices=(-3,) * instruments, expired=(False,) * instruments, accounts=ids,
        margin_modes=tuple("portfolio" if k % 5 == 0 else "standard" for k in range(accounts)),
        cash=frozen_array(rng.integers(-2**62, 2**62, accounts)),
        positions=frozen_array(rng.integers(-2**40, 2**40, (accounts, instruments))),
        net_deposits=frozen_array(rng.integers(-2**62, 2**62, accounts)),
        total_deposited=10**18, total_withdrawn=5,
        price_history=(("I0", (1, 2, 3)),) if dynamic else (),
        dynamic_parameters=((1, 2),) if dynamic else (),
        asset_ids=assets,
        asset_balances=frozen_array(rng.integers(0, 2**62, (accounts, len(assets)))) if assets else None)


@pytest.mark.parametrize("accounts", [1, 2, ROWS_PER_PIECE - 1, ROWS_PER_PIECE, ROWS_PER_PIECE + 1,
                                      3 * ROWS_PER_PIECE + 17])
@pytest.mark.parametrize("shape", ["plain", "assets", "dynamic-assets"])
def test_pieces_encode_the_whole_records_bytes_and_decode_back(accounts, shape):
    state = _state(accounts, assets=("BTC", "ETH") if "assets" in shape else (), dynamic="dynamic" in shape)
    data = state.canonical_bytes()
    assert data == canonical_json(state.to_canonical())
    again = EpochState.from_canonical_bytes(data)
    assert again.canonical_bytes() == data
    assert again.accounts == state.accounts and np.array_equal(again.positions, state.positions)
    assert np.array_equal(again.asset_balances, state.asset_balances)
    assert not again.cash.flags.writeable and not again.positions.flags.writeable


def _tamper(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


@pytest.mark.parametrize("attack", [
    "float", "space", "huge", "bracket-in-id", "row-too-short", "extra-row", "balances-short", "truncated",
    "trailing", "version", "assets-without-balances", "quote-escape"])
def test_a_stored_state_that_is_not_canonical_is_refused(attack):
    state = _state(ROWS_PER_PIECE + 3, assets=("BTC",))
    data = state.canonical_bytes()
    first = f'["{state.accounts[0]}","{state.margin_modes[0]}",{int(state.cash[0])},'.encode()
    forged = {
        "float": _tamper(data, first, first[:-1] + b".0,"),
        "space": _tamper(data, first, first.replace(b",", b", ", 1)),
        "huge": _tamper(data, first, first.replace(str(int(state.cash[0])).encode(), str(2**70).encode())),
        "bracket-in-id": _tamper(data, first, first.replace(b"trader", b"tr]],[der")),
        "row-too-short": _tamper(data, first, first[:first.index(b",") + 1]),
        "extra-row": _tamper(data, b'{"accounts":[', b'{"accounts":[["A","standard",0,0,[0,0,0]],'),
        "balances-short": _tamper(data, b'"balances":[[', b'"balances":[[1],['),
        "truncated": data[:len(data) // 2],
        "trailing": data + b" ",
        "version": _tamper(data, b'"version":1', b'"version":2'),
        "assets-without-balances": _tamper(data, b'"assets":{"balances":[', b'"assets":{"xbalances":['),
        "quote-escape": _tamper(data, first, first.replace(b"trader", b"tra\\u0064er")),
    }[attack]
    with pytest.raises(LedgerError):
        EpochState.from_canonical_bytes(forged)


def test_an_equal_state_built_otherwise_has_the_same_bytes():
    state = _state(ROWS_PER_PIECE * 2 + 1, assets=("BTC",))
    copy = dataclasses.replace(state, cash=frozen_array(state.cash.tolist()))
    assert copy.canonical_bytes() == state.canonical_bytes() and copy == state


@pytest.mark.parametrize("assets", [(), ("BTC", "ETH")])
def test_stored_accounts_read_one_at_a_time_are_the_decoded_states(assets):
    from zkclear.clearing.state import StoredAccounts

    state = _state(ROWS_PER_PIECE + 5, assets=assets, dynamic=True)
    stored = StoredAccounts(state.canonical_bytes())
    assert len(stored) == len(state.accounts)
    for index in (0, 1, ROWS_PER_PIECE - 1, ROWS_PER_PIECE, len(state.accounts) - 1):
        account, mode, cash, deposits, positions, balances = stored.row(index)
        assert (account, mode, cash, deposits) == (state.accounts[index], state.margin_modes[index],
                                                   int(state.cash[index]), int(state.net_deposits[index]))
        assert positions == tuple(state.positions[index].tolist())
        assert balances == tuple(state.asset_balances[index].tolist())
    header = stored.without_accounts()
    assert header.accounts == () and header.instruments == state.instruments
    assert (header.price_history, header.total_deposited, header.asset_totals) == (
        state.price_history, state.total_deposited, state.asset_totals)


@pytest.mark.parametrize("forged", [b"true", b"1.0", b"01", b'"7"'])
def test_a_stored_row_that_is_not_canonical_integers_is_refused_when_read(forged):
    from zkclear.clearing.state import StoredAccounts

    state = _state(3)
    data = state.canonical_bytes()
    cash = f',{int(state.cash[1])},'.encode()
    stored = StoredAccounts(_tamper(data, cash, b"," + forged + b","))
    stored.row(0)  # the other rows still read
    with pytest.raises(LedgerError):
        stored.row(1)
