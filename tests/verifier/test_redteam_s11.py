"""Red team, session 11: an adversarial operator (or whoever serves the published files) against the participant's
receipt check, the crowd audit and the full audit. Each test names the attack, and asserts the exact outcome."""

import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from tests.proofs.epoch_fixtures import SYSTEM, honest_epoch, published
from zkclear.bundle.format import encode_audit_data
from zkclear.errors import VerificationError
from zkclear.verifier.audit_on_disk import open_audit_file
from zkclear.verifier.published import EpochFiles
from zkclear.verifier.receipt import crowd_audit


def _crowd(epoch, audit, k: int = 0) -> list[int]:
    return crowd_audit(published(epoch), audit, k, chunk_system=SYSTEM)


def _crowd_failure_both(epoch, audit, k: int = 0) -> VerificationError:
    """The crowd audit's failure on ``audit`` held in memory (the browser page) and read from its file (the CLI):
    the same reason and words."""
    with pytest.raises(VerificationError) as in_memory:
        _crowd(epoch, audit, k)
    with tempfile.TemporaryDirectory() as folder:
        on_disk = replace(published(epoch), files=EpochFiles(Path(folder), epoch.bundle.header.epoch_id))
        on_disk.files.audit.write_bytes(encode_audit_data(audit, SYSTEM))
        with pytest.raises(VerificationError) as from_file:
            crowd_audit(on_disk, open_audit_file(on_disk, chunk_system=SYSTEM), k, chunk_system=SYSTEM)
    assert (from_file.value.reason, from_file.value.detail) == (in_memory.value.reason, in_memory.value.detail)
    return in_memory.value


# -- crowd audit: nodes outside the tree ---------------------------------------------------------------------------


def test_crowd_audit_refuses_a_node_published_above_the_root_instead_of_crashing():
    """Before: a node at level H + 1 was skipped by the listing check and then hashed by the digest check, which
    looked up its children (H, 0) and (H, 1): KeyError, `zkclear verify --crowd-audit` exit 3, the page's worker an
    uncaught exception. Anyone serving the audit file could do it."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    height = epoch.bundle.header.tree.height
    nodes = dict(audit.upper_nodes)
    nodes[(height + 1, 0)] = epoch.bundle.root
    failure = _crowd_failure_both(epoch, replace(audit, upper_nodes=nodes))
    assert failure.reason == "audit-structure"
    assert failure.detail == (f"the audit data publishes a node at level {height + 1}, index 0, which is outside the "
                              f"tree (levels {epoch.bundle.header.tree.chunk_bits} to {height})")


def test_crowd_audit_refuses_a_node_below_the_chunk_roots_and_one_past_a_levels_last_index():
    """The full audit refuses both (audit-structure); the crowd audit ignored them."""
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    tree = epoch.bundle.header.tree
    root = audit.upper_nodes[(tree.height, 0)]
    for position in ((tree.chunk_bits - 1, 0), (tree.height, 1), (tree.height - 1, 2)):
        nodes = dict(audit.upper_nodes)
        nodes[position] = root
        failure = _crowd_failure_both(epoch, replace(audit, upper_nodes=nodes))
        assert failure.reason == "audit-structure"
        assert failure.detail.startswith(f"the audit data publishes a node at level {position[0]}, index "
                                         f"{position[1]}, which is outside the tree")


def test_crowd_audit_refuses_the_root_published_as_padding():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    height = epoch.bundle.header.tree.height
    some_padding = next(iter(audit.padding.values()))
    failure = _crowd_failure_both(epoch, replace(audit, padding={**audit.padding, (height, 0): some_padding}))
    assert failure.reason == "audit-structure"
    assert f"level {height}, index 0, which is outside the tree" in failure.detail


def test_crowd_audit_of_the_honest_epoch_still_passes_every_k():
    epoch = honest_epoch()
    audit = epoch.artifacts.audit
    assert _crowd(epoch, audit, 0) == []
    assert _crowd(epoch, audit, len(audit.chunks)) == list(range(len(audit.chunks)))


# -- a limit the documents overstated: an omitted account's positions carried by a fake account --------------------


def test_an_account_omitted_and_replaced_by_a_fake_account_with_its_positions_passes_every_check_but_its_owners():
    """docs/protocol.md and the README said an omitted account is caught "by the matched book if it held positions".
    Not when the operator also adds a fake account holding the same positions with just enough equity (it only
    has to be collateralized): the book stays matched, the tree, every proof and every other receipt verify, the
    full audit and a crowd audit of every chunk pass — and the total liabilities drop by the omitted account's
    equity less the fake one's. Only the omitted owner's own check can find it (their receipt is missing or does not
    match a leaf). The threat model now says so."""
    from tests.proofs.epoch_fixtures import accounts, make_epoch
    from zkclear.proofs.chunks import PlainAccount
    from zkclear.proofs.epoch_prover import AccountInput
    from zkclear.verifier.audit import audit_epoch
    from zkclear.verifier.receipt import verify_receipt

    everyone = accounts()
    rich = everyone[-1]
    assert any(rich.witness.positions)
    value = sum(v * q for v, q in zip((0, 7, 3), rich.witness.positions, strict=True))
    fake = AccountInput("fake-0", PlainAccount(-value, rich.witness.positions))   # equity exactly 0
    epoch = make_epoch(secret=b"omitted-fake-offset-0123456789ab", account_list=[*everyone[:-1], fake])
    honest = make_epoch(secret=b"omitted-fake-offset-0123456789ab", account_list=everyone)
    for account in everyone[:-1]:
        verify_receipt(published(epoch), epoch.artifacts.receipts[account.account_id], account.account_id,
                       chunk_system=SYSTEM)
    audit_epoch(published(epoch), epoch.artifacts.audit, chunk_system=SYSTEM)
    assert _crowd(epoch, epoch.artifacts.audit, len(epoch.artifacts.audit.chunks)) == list(
        range(len(epoch.artifacts.audit.chunks)))
    saved = honest.artifacts.total_opening[0][0] - epoch.artifacts.total_opening[0][0]
    assert saved == rich.witness.cash + value > 0
    assert rich.account_id not in epoch.artifacts.receipts


# -- held: every field of a receipt spliced from another account's or another epoch's receipt -----------------------

_FROM_ANOTHER_ACCOUNT = {  # trader-5 of the same epoch, in another chunk
    "account_id": "receipt-owner", "account_key": "account-key-mismatch", "leaf_index": "leaf-mismatch",
    "opening": "opening-mismatch", "chunk": "leaf-mismatch", "upper_siblings": "path-root-mismatch",
    "group_proofs": "sibling-range-proof", "group_extras": "receipt-malformed",
    "chunk.position": "leaf-mismatch", "chunk.id_hashes": "leaf-mismatch", "chunk.accounts": "opening-mismatch",
    "chunk.proof": "chunk-collateral-proof",
}
_FROM_ANOTHER_EPOCH = {  # the same account's receipt of epoch 2, checked against epoch 1's files
    "epoch_id": "receipt-epoch-mismatch", "header_digest": "receipt-epoch-mismatch", "leaf_index": "leaf-mismatch",
    "opening": "opening-mismatch", "chunk": "leaf-mismatch", "upper_siblings": "path-root-mismatch",
    "group_proofs": "sibling-range-proof", "group_extras": "sibling-range-proof",
    "chunk.position": "leaf-mismatch", "chunk.id_hashes": "leaf-mismatch", "chunk.accounts": "opening-mismatch",
    "chunk.proof": "chunk-collateral-proof",
}


def _spliced(mine, other, field: str):
    if field.startswith("chunk."):
        name = field.removeprefix("chunk.")
        return replace(mine, chunk=replace(mine.chunk, **{name: getattr(other.chunk, name)}))
    return replace(mine, **{field: getattr(other, field)})


@pytest.mark.parametrize(("source", "expected"), [("account", _FROM_ANOTHER_ACCOUNT), ("epoch", _FROM_ANOTHER_EPOCH)])
def test_a_receipt_with_any_one_field_taken_from_another_receipt_is_refused_by_name(source, expected):
    """The operator (or a participant sharing receipts) builds trader-1's receipt from its own fields and one field
    of another account's receipt of the same epoch, or of trader-1's receipt of the next epoch: each splice is
    refused, with the reason of the first check it breaks, the key pinned as a participant file pins it."""
    from tests.proofs.epoch_fixtures import second_epoch
    from zkclear.verifier.receipt import Expected, verify_receipt

    epoch = honest_epoch()
    mine = epoch.artifacts.receipts["trader-1"]
    other = (epoch.artifacts.receipts["trader-5"] if source == "account"
             else second_epoch().artifacts.receipts["trader-1"])
    assert other.chunk.position != mine.chunk.position
    outcomes = {}
    for field in expected:
        spliced = _spliced(mine, other, field)
        assert spliced != mine
        with pytest.raises(VerificationError) as caught:
            verify_receipt(published(epoch), spliced, "trader-1", expected=Expected(account_key=mine.account_key),
                           chunk_system=SYSTEM)
        outcomes[field] = caught.value.reason
    assert outcomes == expected
