"""``chunk-size-mismatch`` (docs/protocol.md, "Reason codes"): the decoders refuse a chunk of another size than the
header's as bad input, so only an in-memory caller of the verifier core meets the reason code; both are pinned."""

from dataclasses import replace

import pytest

from tests.proofs.epoch_fixtures import PUBLIC, SYSTEM, honest_epoch
from zkclear.bundle.format import decode_receipt, encode_receipt
from zkclear.errors import EncodingError, VerificationError
from zkclear.verifier.statements import chunk_root


def _cut(chunk):
    return replace(chunk, id_hashes=chunk.id_hashes[:-1], accounts=chunk.accounts[:-1])


def test_a_chunk_a_slot_short_is_refused_by_name_by_the_verifier_core():
    epoch = honest_epoch()
    chunk = next(iter(epoch.artifacts.receipts.values())).chunk
    with pytest.raises(VerificationError) as refused:
        chunk_root(SYSTEM, epoch.bundle.header, _cut(chunk), PUBLIC)
    assert refused.value.reason == "chunk-size-mismatch" and "the header says" in refused.value.detail


def test_a_receipt_whose_chunk_is_a_slot_short_does_not_decode():
    epoch = honest_epoch()
    receipt = next(iter(epoch.artifacts.receipts.values()))
    data = encode_receipt(replace(receipt, chunk=_cut(receipt.chunk)), SYSTEM)
    with pytest.raises(EncodingError, match="slots, the header says"):
        decode_receipt(data, PUBLIC, SYSTEM, chunk_size=epoch.bundle.header.tree.chunk_size)
