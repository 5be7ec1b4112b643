"""Red team session 16 (receipts and ``verify``): an operator that publishes two versions of one epoch (a fork of
its ledger: the same header, another root) to different people."""

from dataclasses import replace
from functools import cache

import pytest

from tests.proofs.epoch_fixtures import SYSTEM, honest_epoch, make_epoch, published
from zkclear.crypto.pedersen import commit
from zkclear.errors import VerificationError
from zkclear.proofs.chunks import PlainAccount
from zkclear.verifier.participant import Participant, verify_history
from zkclear.verifier.receipt import Expected, verify_receipt

VICTIM = "trader-3"
UNDERSTATED_BY = 500


@cache
def forked_epoch():
    """Epoch 1 proven again by the same operator from a forked ledger: the victim's cash lower by 500, every other
    account as in :func:`honest_epoch`. The header is the same (same inputs, reserves and tree), the root is not."""
    accounts = list(honest_epoch().accounts)
    k = next(i for i, a in enumerate(accounts) if a.account_id == VICTIM)
    witness = accounts[k].witness
    accounts[k] = replace(accounts[k], witness=PlainAccount(witness.cash - UNDERSTATED_BY, witness.positions,
                                                            witness.balances))
    return make_epoch(account_list=accounts)


def _receipts(account: str = VICTIM):
    return honest_epoch().artifacts.receipts[account], forked_epoch().artifacts.receipts[account]


def test_each_version_of_a_forked_epoch_verifies_alone_without_the_posted_header():
    """What a split view looks like to its victim: their version passes every check, with the understated cash
    shown; only the posted header hash (or the other version) tells them apart."""
    honest, forked = honest_epoch(), forked_epoch()
    assert honest.bundle.header == forked.bundle.header and honest.bundle.epoch_hash() != forked.bundle.epoch_hash()
    mine, theirs = _receipts()
    check = verify_receipt(published(forked), theirs, VICTIM, chunk_system=SYSTEM)
    assert check.cash == mine.opening.cash - UNDERSTATED_BY
    with pytest.raises(VerificationError) as caught:
        verify_receipt(published(forked), theirs, VICTIM, chunk_system=SYSTEM,
                       expected=Expected(header_hash=honest.bundle.epoch_hash()))
    assert caught.value.reason == "header-mismatch"


@pytest.mark.parametrize("account", [VICTIM, "trader-0"])
def test_two_versions_of_one_epoch_are_named_a_fork_not_a_duplicate(account):
    """Red team s16: given both versions (their own and the one everyone else was shown), ``verify`` said only
    ``history-duplicate`` ("epoch 1 is given twice"), as for the same files given twice, throwing away the one piece
    of evidence of the split view. Both header hashes are now named."""
    honest, forked = honest_epoch(), forked_epoch()
    with pytest.raises(VerificationError) as caught:
        verify_history(list(zip((published(honest), published(forked)), _receipts(account), strict=True)),
                       Participant(account), [Expected(), Expected()], chunk_system=SYSTEM)
    assert caught.value.reason == "epoch-forked"
    assert honest.bundle.epoch_hash().hex() in str(caught.value)
    assert forked.bundle.epoch_hash().hex() in str(caught.value)


def test_the_same_epoch_given_twice_is_still_a_duplicate():
    mine = _receipts()[0]
    with pytest.raises(VerificationError) as caught:
        verify_history([(published(honest_epoch()), mine)] * 2, Participant(VICTIM), [Expected(), Expected()],
                       chunk_system=SYSTEM)
    assert caught.value.reason == "history-duplicate"


def test_the_commitments_of_two_versions_of_one_header_differ_only_where_the_values_do():
    """A stated limit (docs/protocol.md, "What leaks"): the blindings of a leaf follow from the header, the chunk
    position and the slot, not from the values, so whoever holds both versions of a forked epoch sees which leaves
    the fork changed and by how much (here 500·G: a small difference is found by search)."""
    mine, theirs = _receipts()
    assert mine.leaf_index == theirs.leaf_index
    slot = mine.leaf_index % len(mine.chunk.accounts)
    for k, (a, b) in enumerate(zip(mine.chunk.accounts, theirs.chunk.accounts, strict=True)):
        assert (a.cash == b.cash) == (k != slot)
    assert mine.chunk.accounts[slot].cash - theirs.chunk.accounts[slot].cash == commit(UNDERSTATED_BY, 0)


def _siblings(receipt, change):
    siblings = list(receipt.upper_siblings)
    change(siblings)
    return replace(receipt, upper_siblings=tuple(siblings))


PATH_FORGERIES = {
    "two levels' siblings swapped": (lambda r: _siblings(r, lambda s: s.__setitem__(slice(0, 2), s[1::-1])),
                                     "path-root-mismatch"),
    "one sibling more": (lambda r: _siblings(r, lambda s: s.append(s[0])), "receipt-malformed"),
    "one sibling less": (lambda r: _siblings(r, lambda s: s.pop()), "receipt-malformed"),
    "the path's side flipped above the chunk": (lambda r: replace(r, leaf_index=r.leaf_index ^ (1 << 3)),
                                                "leaf-mismatch"),
    "a leaf index beyond the tree's height": (lambda r: replace(r, leaf_index=r.leaf_index | (1 << 8)),
                                              "receipt-malformed"),
    "a band's group proof dropped": (lambda r: replace(r, group_proofs=r.group_proofs[:-1],
                                                       group_extras=r.group_extras[:-1]), "receipt-malformed"),
}


@pytest.mark.parametrize("forgery", sorted(PATH_FORGERIES))
def test_a_path_cut_extended_or_turned_is_refused_by_name(forgery):
    make, reason = PATH_FORGERIES[forgery]
    mine = _receipts()[0]
    with pytest.raises(VerificationError) as caught:
        verify_receipt(published(honest_epoch()), make(mine), VICTIM, chunk_system=SYSTEM)
    assert caught.value.reason == reason


def test_no_other_slot_of_the_chunk_padding_or_real_is_the_participants_leaf():
    mine = _receipts()[0]
    size = len(mine.chunk.accounts)
    for slot in range(size):
        if slot != mine.leaf_index % size:
            moved = replace(mine, leaf_index=mine.leaf_index - mine.leaf_index % size + slot)
            with pytest.raises(VerificationError) as caught:
                verify_receipt(published(honest_epoch()), moved, VICTIM, chunk_system=SYSTEM)
            assert caught.value.reason == "leaf-mismatch"


def test_a_header_of_another_height_is_not_the_receipts():
    from zkclear.tree.placement import TreeConfig

    epoch, mine = honest_epoch(), _receipts()[0]
    tree = epoch.bundle.header.tree
    taller = replace(epoch.bundle, header=replace(epoch.bundle.header, tree=TreeConfig(
        tree.height + 1, tree.chunk_bits, tree.chunk_padding, tree.chunk_padding_param, tree.sparse)))
    with pytest.raises(VerificationError) as caught:
        verify_receipt(published(epoch, taller), mine, VICTIM, chunk_system=SYSTEM)
    assert caught.value.reason == "receipt-epoch-mismatch"
