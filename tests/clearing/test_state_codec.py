"""The state's canonical bytes written and read a piece of accounts at a time (issue 15, item 2): the same
bytes as encoding the whole record at once, and a strict decoder (anything but canonical bytes is refused)."""

from __future__ import annotations

import dataclasses
import random

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


def _forged(state: EpochState, attack: str) -> bytes:
    """The state's canonical bytes damaged by ``attack``."""
    data = state.canonical_bytes()
    first = f'["{state.accounts[0]}","{state.margin_modes[0]}",{int(state.cash[0])},'.encode()
    cash = f',{int(state.cash[1])},'.encode()
    return {
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
        "true": _tamper(data, cash, b",true,"),
        "quoted": _tamper(data, cash, b',"7",'),
        "leading-zero": _tamper(data, cash, b",01,"),
    }[attack]


ATTACKS = ["float", "space", "huge", "bracket-in-id", "row-too-short", "extra-row", "balances-short", "truncated",
           "trailing", "version", "assets-without-balances", "quote-escape", "true", "quoted", "leading-zero"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_stored_state_that_is_not_canonical_is_refused(attack):
    forged = _forged(_state(ROWS_PER_PIECE + 3, assets=("BTC",)), attack)
    with pytest.raises(LedgerError):
        EpochState.from_canonical_bytes(forged)


def test_an_equal_state_built_otherwise_has_the_same_bytes():
    state = _state(ROWS_PER_PIECE * 2 + 1, assets=("BTC",))
    copy = dataclasses.replace(state, cash=frozen_array(state.cash.tolist()))
    assert copy.canonical_bytes() == state.canonical_bytes() and copy == state


# -- the stored state read in one pass into a scratch database (what `epoch prove` reads the accounts from) ----


def _copy(data: bytes, path, block: int | None = None, monkeypatch=None):
    import io

    from zkclear.clearing import state_scan
    from zkclear.clearing.scratch_accounts import ScratchAccounts

    if block is not None:
        monkeypatch.setattr(state_scan, "BLOCK", block)
    return ScratchAccounts.copy(io.BytesIO(data).read, path)


@pytest.mark.parametrize("block", [1, 7, 64, None])
@pytest.mark.parametrize("shape", ["plain", "assets", "dynamic-assets"])
def test_the_copied_accounts_are_the_decoded_states_at_any_block_size(block, shape, tmp_path, monkeypatch):
    state = _state(300 if block is not None and block < 64 else ROWS_PER_PIECE + 5,
                   assets=("BTC", "ETH") if "assets" in shape else (), dynamic="dynamic" in shape)
    copied = _copy(state.canonical_bytes(), tmp_path / "accounts.sqlite", block, monkeypatch)
    assert len(copied) == len(state.accounts)
    for index in range(len(state.accounts)):
        account, mode, cash, deposits, positions, balances = copied.row(index)
        assert (account, mode, cash, deposits) == (state.accounts[index], state.margin_modes[index],
                                                   int(state.cash[index]), int(state.net_deposits[index]))
        assert positions == tuple(state.positions[index].tolist())
        assert balances == (tuple(state.asset_balances[index].tolist()) if state.asset_ids else ())
        assert copied.account_id(index) == account
    assert list(copied.account_ids()) == list(state.accounts)
    assert list(copied.sorted_account_ids()) == sorted(state.accounts)
    header = copied.header
    assert header.accounts == () and header.instruments == state.instruments
    assert (header.price_history, header.total_deposited, header.asset_totals) == (
        state.price_history, state.total_deposited, state.asset_totals)
    copied.close()


@pytest.mark.parametrize("assets", [(), ("BTC", "ETH")])
def test_a_chunks_rows_read_at_once_are_the_rows_read_one_by_one(assets, tmp_path):
    """``rows`` (what a streaming close reads per chunk, one query per table) gives ``row`` of every index, in the
    order asked, repeats included; an index beyond the state is an IndexError, as for ``row``."""
    state = _state(40, assets=assets)
    copied = _copy(state.canonical_bytes(), tmp_path / "accounts.sqlite")
    rng = random.Random(7)
    for _ in range(20):
        indices = [rng.randrange(40) for _ in range(rng.randrange(1, 17))]
        assert copied.rows(indices) == [copied.row(i) for i in indices]
    assert copied.rows([39, 0, 39]) == [copied.row(39), copied.row(0), copied.row(39)]
    with pytest.raises(IndexError):
        copied.rows([3, 40])
    copied.close()


def test_a_state_without_accounts_copies_to_no_account(tmp_path):
    state = _state(0, assets=("BTC",))
    copied = _copy(state.canonical_bytes(), tmp_path / "accounts.sqlite")
    assert len(copied) == 0 and list(copied.account_ids()) == []
    copied.close()


def test_ids_sort_as_python_sorts_them_also_beyond_ascii(tmp_path):
    state = dataclasses.replace(_state(3), accounts=("b", "\u00e9t\u00e9", "\U0001f600x"))
    copied = _copy(state.canonical_bytes(), tmp_path / "accounts.sqlite")
    assert list(copied.sorted_account_ids()) == sorted(state.accounts)
    copied.close()


def test_sorting_the_ids_writes_no_temporary_file_outside_the_private_folder(tmp_path):
    # ORDER BY id sorted with a spill file in the system's temporary folder (/var/tmp): the account ids left the
    # deployment's private scratch folder; 200,000 ids are more than SQLite sorts in memory
    from tests.spill_watch import sqlite_temp_folders

    state = _state(200_000)
    (copied, ids), folders = sqlite_temp_folders(
        lambda: (c := _copy(state.canonical_bytes(), tmp_path / "accounts.sqlite"), list(c.sorted_account_ids())))
    assert ids == sorted(state.accounts) and folders == set()
    copied.close()


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("block", [5, None])
def test_a_damaged_stored_state_is_refused_by_the_copy_and_leaves_no_file(attack, block, tmp_path, monkeypatch):
    """Every damage ``from_canonical_bytes`` refuses, the one-pass copy refuses too (at any block size), with a
    LedgerError and no scratch file left."""
    forged = _forged(_state(40 if block else ROWS_PER_PIECE + 3, assets=("BTC",)), attack)
    with pytest.raises(LedgerError):
        EpochState.from_canonical_bytes(forged)
    with pytest.raises(LedgerError):
        _copy(forged, tmp_path / "accounts.sqlite", block, monkeypatch)
    assert list(tmp_path.iterdir()) == []


def _paired(data: bytes) -> list[tuple[bytes, bytes | None]]:
    import io

    from zkclear.clearing.state_scan import paired_rows

    return list(paired_rows(io.BytesIO(data).read, io.BytesIO(data).read))


@pytest.mark.parametrize("block", [1, 7, 64, None])
@pytest.mark.parametrize("shape", ["plain", "assets", "dynamic-assets", "empty"])
def test_accounts_stream_with_their_balances_at_any_block_size(block, shape, monkeypatch):
    """What `status` and the liabilities read (two readers of one stored state, in step): every account row with
    its balances row, the same as the decoded state, at any block size."""
    from zkclear.clearing import state_scan
    from zkclear.clearing.state_scan import account_row, balances_row

    if block is not None:
        monkeypatch.setattr(state_scan, "BLOCK", block)
    state = _state(0 if shape == "empty" else 300 if block is not None and block < 64 else ROWS_PER_PIECE + 5,
                   assets=("BTC", "ETH") if "assets" in shape else (), dynamic="dynamic" in shape)
    pairs = _paired(state.canonical_bytes())
    assert len(pairs) == len(state.accounts)
    for index, (row, balances) in enumerate(pairs):
        assert account_row(row, index) == (state.accounts[index], state.margin_modes[index], int(state.cash[index]),
                                           int(state.net_deposits[index]), tuple(state.positions[index].tolist()))
        if state.asset_ids:
            assert balances_row(balances, index) == tuple(state.asset_balances[index].tolist())
        else:
            assert balances is None


@pytest.mark.parametrize("change", ["a balances row dropped", "a balances row added", "not a state"])
def test_accounts_and_balances_that_do_not_pair_are_refused(change):
    state = _state(5, assets=("BTC",))
    data = state.canonical_bytes()
    one = f"[{int(state.asset_balances[0, 0])}],".encode()
    if change == "a balances row dropped":
        data = data.replace(one, b"", 1)
    elif change == "a balances row added":
        data = data.replace(one, one + one, 1)
    else:
        data = b'{"accounts":{}}'
    with pytest.raises(LedgerError, match="stored state does not decode"):
        _paired(data)


@pytest.mark.parametrize("change", ["two rows swapped", "a row listed twice"])
def test_a_stored_state_whose_ids_are_out_of_order_or_repeated_is_refused(change):
    """Red team round 10: the decoder took any canonical bytes, so an edited state with two rows swapped (rows are
    the ids in order everywhere in the engine) or one account listed twice decoded and was cleared."""
    state = _state(3)
    accounts = list(state.accounts)
    order = [1, 0, 2] if change == "two rows swapped" else [0, 0, 2]
    edited = dataclasses.replace(state, accounts=tuple(accounts[k] for k in order),
                                 margin_modes=tuple(state.margin_modes[k] for k in order),
                                 cash=frozen_array(state.cash[order]), positions=frozen_array(state.positions[order]),
                                 net_deposits=frozen_array(state.net_deposits[order]))
    with pytest.raises(LedgerError, match="the ids must be distinct and in order"):
        EpochState.from_canonical_bytes(edited.canonical_bytes())
    assert EpochState.from_canonical_bytes(state.canonical_bytes()) == state
