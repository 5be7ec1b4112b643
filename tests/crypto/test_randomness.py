"""Blinding sources: deterministic derivation as documented, unambiguous contexts, fresh randomness."""

from __future__ import annotations

import hashlib
import hmac
import pickle

import pytest

from zkclear.crypto.field import R
from zkclear.crypto.randomness import BlindingSource, encode_context_part

SECRET = bytes(range(32))


def _spec_scalar(secret: bytes, *parts: bytes | str | int) -> int:
    """The derivation written out from docs/protocol.md, independently of the module."""
    message = bytearray(b"zkclear-v1/blinding")
    for part in parts:
        if isinstance(part, bytes):
            tag, body = 1, part
        elif isinstance(part, str):
            tag, body = 2, part.encode()
        else:
            tag, body = 3, str(part).encode()
        message += bytes([tag]) + len(body).to_bytes(4, "big") + body
    return int.from_bytes(hmac.new(secret, bytes(message), hashlib.sha512).digest(), "big") % R


def test_deterministic_scalar_follows_the_documented_derivation() -> None:
    source = BlindingSource.deterministic(SECRET)
    context = ("epoch", 7, b"\x00acct", "balance", -3, "ünïcode")
    assert source.scalar(*context) == _spec_scalar(SECRET, *context)
    assert source.scalar() == _spec_scalar(SECRET)


def test_deterministic_scalar_is_pinned() -> None:
    # A change here changes every re-derived blinding; it must be a versioned protocol change.
    pinned = 0x2289FA7F312DC559875F4C179B8C06D4421FCE297CDE582C6267AD132F1654EE
    assert BlindingSource.deterministic(SECRET).scalar("epoch", 1, b"acct-0") == pinned
    assert encode_context_part("ab") == b"\x02\x00\x00\x00\x02ab"
    assert encode_context_part(-12) == b"\x03\x00\x00\x00\x03-12"
    assert encode_context_part(b"") == b"\x01\x00\x00\x00\x00"


def test_deterministic_source_reproduces_across_instances() -> None:
    first = BlindingSource.deterministic(SECRET)
    second = BlindingSource.deterministic(bytearray(SECRET))
    assert first.scalar("epoch", 3, "account", 17) == second.scalar("epoch", 3, "account", 17)
    assert 0 <= first.scalar("x") < R


def test_distinct_contexts_and_secrets_give_distinct_scalars() -> None:
    source = BlindingSource.deterministic(SECRET)
    contexts = [
        ("epoch", 1), ("epoch", 2), ("epoch", "1"), ("epoch", b"1"), ("epoch",), ("epoch", 1, ""),
        ("ab", "c"), ("a", "bc"), ("abc",), (b"ab", b"c"), (b"a", b"bc"), (0,), (-0,), ("0",),
    ]
    scalars = {source.scalar(*context) for context in contexts}
    assert len(scalars) == len(contexts) - 1  # (0,) and (-0,) are the same context
    other = BlindingSource.deterministic(SECRET[::-1])
    assert other.scalar("epoch", 1) != source.scalar("epoch", 1)


def test_framing_prevents_boundary_shifts() -> None:
    source = BlindingSource.deterministic(SECRET)
    assert source.scalar("ab", "c") != source.scalar("a", "bc")
    assert source.scalar(b"ab", b"c") != source.scalar(b"a", b"bc")
    assert source.scalar(12, 3) != source.scalar(1, 23)
    assert source.scalar(5) != source.scalar("5") != source.scalar(b"5")


def test_scalars_vector_is_indexed_contexts() -> None:
    source = BlindingSource.deterministic(SECRET)
    assert source.scalars(3, "bp", "s_L") == [source.scalar("bp", "s_L", i) for i in range(3)]


def test_random_source_differs_call_to_call() -> None:
    source = BlindingSource.random()
    draws = {source.scalar("epoch", 1) for _ in range(8)}
    assert len(draws) == 8
    assert all(0 <= d < R for d in draws)
    assert not source.is_deterministic
    assert BlindingSource.deterministic(SECRET).is_deterministic


def test_bad_secrets_and_context_parts_are_rejected() -> None:
    with pytest.raises(ValueError):
        BlindingSource.deterministic(b"")
    with pytest.raises(TypeError):
        BlindingSource.deterministic("secret")  # type: ignore[arg-type]
    for source in (BlindingSource.deterministic(SECRET), BlindingSource.random()):
        with pytest.raises(TypeError):
            source.scalar(True)
        with pytest.raises(TypeError):
            source.scalar(1.5)  # type: ignore[arg-type]


def test_repr_never_shows_the_secret_and_source_is_immutable() -> None:
    source = BlindingSource.deterministic(b"very-secret-bytes-0123456789abcd")
    assert "very-secret" not in repr(source)
    with pytest.raises(AttributeError):
        source._secret = b"other"  # type: ignore[misc]


def test_sources_survive_pickling_for_executor_workers() -> None:
    source = BlindingSource.deterministic(SECRET)
    clone = pickle.loads(pickle.dumps(source))
    assert clone.scalar("epoch", 9) == source.scalar("epoch", 9)
    assert not pickle.loads(pickle.dumps(BlindingSource.random())).is_deterministic


def test_deterministic_nonces_repeat_for_the_same_statement_and_witness():
    source = BlindingSource.deterministic(b"k" * 32)
    first = source.nonces(b"ctx", 5, 7)
    again = source.nonces(b"ctx", 5, 7)
    assert [first() for _ in range(4)] == [again() for _ in range(4)]


def test_deterministic_nonces_change_with_the_witness_and_are_distinct_from_blindings():
    source = BlindingSource.deterministic(b"k" * 32)
    one = source.nonces(b"ctx", 5, 7)()
    other_witness = source.nonces(b"ctx", 6, 7)()
    assert one != other_witness
    assert one != source.scalar(b"ctx", 5, 7, 0)
    stream = source.nonces(b"ctx", 5, 7)
    values = [stream() for _ in range(50)]
    assert len(set(values)) == 50 and all(0 <= v < R for v in values)


def test_random_mode_nonces_are_fresh():
    stream = BlindingSource.random().nonces(b"ctx", 1)
    assert stream() != stream()
