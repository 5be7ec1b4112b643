"""Red team (session 16) of the reserves: an operator who wants reserves to look larger than they are, or to reuse
another epoch's attestation.

Each test pinned a defect before its fix (named in its docstring)."""

from __future__ import annotations

import pytest

from zkclear.chains import ReserveEntry
from zkclear.errors import VerificationError
from zkclear.proofs.reserves import ReserveBook, VenueAsset, check_blocks_advance, last_blocks

ASSETS = (VenueAsset("USD", 6), VenueAsset("ETH", 18))
CUSTODIAN = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def _book(*blocks: tuple[str, int]) -> ReserveBook:
    """A reserves list with one ETH entry per ``(chain, height)`` (each chain's block hash from its height)."""
    return ReserveBook("Acme", ASSETS, tuple(ReserveEntry(chain, "ETH", CUSTODIAN, 10**18, height,
                                                          f"0x{height:064x}") for chain, height in blocks))


def test_a_chain_is_never_read_below_the_latest_earlier_epoch_that_listed_it():
    """Defect (fixed), verifier side (the CLI test, tests/cli/test_cli_reserves_redteam_s16.py, pins `epoch prove`,
    `audit` and `verify`): only consecutive epochs were compared, so a chain left out of one epoch, or epochs given
    with a gap, let a chain come back at a block older than one already published. Now each epoch is compared with
    the latest earlier one that listed each chain; the same block, or a later one, still passes."""
    epochs = {1: _book(("ethereum", 1000), ("arbitrum", 50)), 2: _book(("arbitrum", 60)),
              4: _book(("ethereum", 1000), ("arbitrum", 60)), 5: _book(("ethereum", 1001), ("arbitrum", 61))}
    history: dict = {}
    for epoch, book in epochs.items():  # the honest history passes, across the left-out chain and the gap (no 3)
        check_blocks_advance(history, book, epoch)
        history = last_blocks(history, book, epoch)
    assert history["ethereum"][0] == 5 and history["arbitrum"][0] == 5
    for given in ((1, 2), (1,)):  # ethereum left out of epoch 2; epochs 1 and 3 given alone
        history = {}
        for epoch in given:
            history = last_blocks(history, epochs[epoch], epoch)
        with pytest.raises(VerificationError) as caught:
            check_blocks_advance(history, _book(("ethereum", 999), ("arbitrum", 70)), 3)
        message = str(caught.value)
        assert caught.value.reason == "reserves-mismatch" and CUSTODIAN in message, message
        assert "listed in epoch 3 at block 999" in message and "epoch 1 at block 1000" in message, message
