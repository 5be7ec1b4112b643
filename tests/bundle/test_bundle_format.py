"""The on-disk format: exact round trips, and one EncodingError for every malformed file."""

import contextlib
from functools import cache

import pytest

from tests.proofs.epoch_fixtures import MULTI_PUBLIC, PUBLIC, SYSTEM, honest_epoch, multi_asset_epoch, published
from zkclear.bundle.format import (
    decode_audit_data,
    decode_public_bundle,
    decode_receipt,
    decode_total_opening,
    encode_audit_data,
    encode_public_bundle,
    encode_receipt,
    encode_total_opening,
    read_file,
    write_file,
)
from zkclear.errors import EncodingError, InputError
from zkclear.executor import SerialExecutor
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.receipt import Expected, verify_receipt


@cache
def _files():
    epoch = honest_epoch()
    receipt = epoch.artifacts.receipts["trader-1"]
    return (
        epoch,
        encode_public_bundle(epoch.bundle),
        encode_audit_data(epoch.artifacts.audit, SYSTEM),
        encode_receipt(receipt, SYSTEM),
    )


def _decoders(epoch):
    header = epoch.bundle.header
    return (
        decode_public_bundle,
        lambda data: decode_audit_data(data, header, PUBLIC, SYSTEM),
        lambda data: decode_receipt(data, PUBLIC, SYSTEM, chunk_size=header.tree.chunk_size),
    )


def test_public_bundle_audit_data_and_receipt_round_trip_and_still_verify(tmp_path):
    epoch, public, audit, receipt = _files()
    for name, data in (("epoch.pub", public), ("epoch.audit", audit), ("trader-1.receipt", receipt)):
        write_file(tmp_path / name, data)
        assert read_file(tmp_path / name) == data
    bundle = decode_public_bundle(public)
    assert bundle == epoch.bundle
    audit_data = decode_audit_data(audit, bundle.header, PUBLIC, SYSTEM)
    assert encode_audit_data(audit_data, SYSTEM) == audit
    decoded_receipt = decode_receipt(receipt, PUBLIC, SYSTEM, chunk_size=bundle.header.tree.chunk_size)
    assert encode_receipt(decoded_receipt, SYSTEM) == receipt
    audit_epoch(published(epoch, bundle), audit_data, chunk_system=SYSTEM, executor=SerialExecutor())
    verify_receipt(published(epoch, bundle), decoded_receipt, "trader-1", chunk_system=SYSTEM,
                   expected=Expected(cash=10_000 + 137 + 1))


def test_the_total_opening_file_round_trips_and_is_strict():
    epoch = honest_epoch()
    digest = epoch.bundle.header.digest()
    data = encode_total_opening(digest, epoch.artifacts.total_opening)
    assert decode_total_opening(data) == (digest, epoch.artifacts.total_opening)
    with pytest.raises(EncodingError):
        decode_total_opening(data[:-1])
    with pytest.raises(EncodingError, match="expected a TOTL"):
        decode_total_opening(encode_public_bundle(epoch.bundle))


def test_a_missing_file_is_an_input_error_naming_it(tmp_path):
    with pytest.raises(InputError, match=r"missing\.bundle"):
        read_file(tmp_path / "missing.bundle")
    with pytest.raises(InputError, match="directory"):
        read_file(tmp_path)


def test_every_truncation_is_one_encoding_error():
    epoch, *files = _files()
    for data, decode in zip(files, _decoders(epoch), strict=True):
        for cut in sorted({0, 1, 8, 21, len(data) // 3, len(data) // 2, len(data) - 33, len(data) - 1}):
            with pytest.raises(EncodingError):
                decode(data[:cut])


def test_corruption_wrong_kind_version_and_trailing_bytes_are_encoding_errors():
    epoch, public, audit, receipt = _files()
    decoders = _decoders(epoch)
    for data, decode in zip((public, audit, receipt), decoders, strict=True):
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0x01
        with pytest.raises(EncodingError, match="checksum"):
            decode(bytes(flipped))
        with pytest.raises(EncodingError, match="length"):
            decode(data + b"\x00")
        with pytest.raises(EncodingError, match="version"):
            decode(data[:12] + b"\x00\x01" + data[14:])
        with pytest.raises(EncodingError, match="magic"):
            decode(b"NOTZKCLR" + data[8:])
    with pytest.raises(EncodingError, match="expected a PUBL"):
        decoders[0](audit)


def _recontainer(kind: bytes, body: bytes) -> bytes:
    from zkclear.bundle.format import _container

    return _container(kind, body)


def test_structurally_bad_bodies_behind_a_valid_checksum_are_encoding_errors():
    epoch, public, audit, _receipt = _files()
    body = public[22:-32]
    # a trailing byte inside the body
    with pytest.raises(EncodingError, match="trailing"):
        decode_public_bundle(_recontainer(b"PUBL", body + b"\x00"))
    # a point that is not on the curve (root commitment is after the header blob)
    header_len = int.from_bytes(body[:4], "big")
    bad_point = body[: 4 + header_len] + b"\x80" + b"\x11" * 47 + body[4 + header_len + 48 :]
    with pytest.raises(EncodingError, match="root"):
        decode_public_bundle(_recontainer(b"PUBL", bad_point))
    # audit data whose body is one byte short (the checksum is recomputed, so only parsing can tell)
    audit_body = audit[22:-32]
    decoded = decode_audit_data(audit, epoch.bundle.header, PUBLIC, SYSTEM)
    assert decoded.upper_nodes
    with pytest.raises(EncodingError):
        decode_audit_data(_recontainer(b"AUDT", audit_body[:-1]), epoch.bundle.header, PUBLIC, SYSTEM)


def test_random_body_mutations_decode_or_raise_only_encoding_error():
    """Mutations behind a valid checksum: the decoder never fails with anything but EncodingError."""
    import random

    epoch, public, audit, receipt = _files()
    rng = random.Random(20261125)
    for (kind, data), decode in zip(
        ((b"PUBL", public), (b"AUDT", audit), (b"RCPT", receipt)), _decoders(epoch), strict=True
    ):
        body = bytearray(data[22:-32])
        for _ in range(60):
            mutated = bytearray(body)
            for _ in range(rng.randint(1, 3)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            if rng.random() < 0.3:
                cut = rng.randrange(len(mutated))
                del mutated[cut : cut + rng.randint(1, 40)]
            with contextlib.suppress(EncodingError):
                decode(_recontainer(kind, bytes(mutated)))


def test_a_multi_asset_epoch_round_trips_with_one_liability_per_asset_in_every_node():
    epoch = multi_asset_epoch()
    header = epoch.bundle.header
    assert header.asset_count == 2 and len(epoch.bundle.root.liabilities) == 2
    public = encode_public_bundle(epoch.bundle)
    assert decode_public_bundle(public) == epoch.bundle
    audit = encode_audit_data(epoch.artifacts.audit, SYSTEM)
    decoded = decode_audit_data(audit, header, MULTI_PUBLIC, SYSTEM)
    assert encode_audit_data(decoded, SYSTEM) == audit
    assert all(len(node.liabilities) == 2 for node in decoded.upper_nodes.values())
    assert all(len(blindings) == 2 for blindings, _ in decoded.padding.values())
    receipt = encode_receipt(epoch.artifacts.receipts["trader-2"], SYSTEM)
    again = decode_receipt(receipt, MULTI_PUBLIC, SYSTEM, chunk_size=header.tree.chunk_size,
                           asset_count=2)
    assert encode_receipt(again, SYSTEM) == receipt
    with pytest.raises(EncodingError):  # read as a single-asset receipt, the siblings do not fit
        decode_receipt(receipt, MULTI_PUBLIC, SYSTEM, chunk_size=header.tree.chunk_size)
    total = encode_total_opening(header.digest(), epoch.artifacts.total_opening)
    assert decode_total_opening(total)[1] == epoch.artifacts.total_opening
