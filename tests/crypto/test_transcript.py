"""Fiat–Shamir transcript: pinned outputs, the documented byte-level spec, framing, forks."""

from __future__ import annotations

import hashlib
import struct

import pytest

from zkclear.crypto.field import R
from zkclear.crypto.group import G1Point
from zkclear.crypto.transcript import Transcript


def _frame(label: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(label)) + label + struct.pack(">I", len(data)) + data


class SpecTranscript:
    """The transcript written out from docs/protocol.md, independently of zkclear's class."""

    def __init__(self, protocol_label: bytes) -> None:
        self.absorbed = _frame(b"zkclear-transcript-v1", b"") + _frame(b"dom-sep", protocol_label)

    def message(self, label: bytes, data: bytes) -> None:
        self.absorbed += _frame(label, data)

    def challenge(self, label: bytes) -> bytes:
        out = hashlib.sha512(self.absorbed + _frame(b"challenge", label)).digest()
        self.absorbed += _frame(b"challenge-out", out)
        return out


def _fixed_sequence(transcript: Transcript) -> None:
    transcript.append_message(b"msg", b"hello")
    transcript.append_u64(b"n", 42)
    transcript.append_scalar(b"s", 7)
    transcript.append_point(b"G", G1Point.generator())


def test_challenges_are_pinned() -> None:
    # A change here breaks every proof ever made: it must be a versioned protocol change.
    transcript = Transcript(b"zkclear-test")
    _fixed_sequence(transcript)
    assert transcript.challenge_bytes(b"c1").hex() == (
        "c684b2a50f53173dd7a5b43a5c01a5ebf8432a10f85a5b88b0b236b459128ced"
        "44fd82281d439ac111cc00dfd5a648fbab667041999a0dd95a1d9ce1446d4f3d"
    )
    expected_c2 = 0x5A871BDD9671750939D1029E2C5479731210ADC70E64F4036FA4DCAF658340B0
    assert transcript.challenge_scalar(b"c2") == expected_c2


def test_transcript_matches_the_documented_byte_level_spec() -> None:
    points = [G1Point.generator(), G1Point.generator() * 5, G1Point.identity()]
    transcript = Transcript(b"zkclear-test")
    spec = SpecTranscript(b"zkclear-test")
    _fixed_sequence(transcript)
    spec.message(b"msg", b"hello")
    spec.message(b"n", (42).to_bytes(8, "big"))
    spec.message(b"s", (7).to_bytes(32, "big"))
    spec.message(b"G", G1Point.generator().to_bytes())
    assert transcript.challenge_bytes(b"c1") == spec.challenge(b"c1")
    transcript.append_scalar(b"neg", -1)
    spec.message(b"neg", (R - 1).to_bytes(32, "big"))
    transcript.append_points(b"V", points)
    spec.message(b"V/len", (3).to_bytes(8, "big"))
    for point in points:
        spec.message(b"V", point.to_bytes())
    # challenge_scalar is the 512-bit output read big-endian and reduced mod r (wide reduction)
    expected = int.from_bytes(spec.challenge(b"x"), "big") % R
    assert transcript.challenge_scalar(b"x") == expected
    assert transcript.challenge_bytes(b"y") == spec.challenge(b"y")


def test_challenges_depend_on_labels_data_and_order() -> None:
    def challenge(*steps: tuple[bytes, bytes], protocol: bytes = b"p", label: bytes = b"c") -> bytes:
        transcript = Transcript(protocol)
        for step_label, data in steps:
            transcript.append_message(step_label, data)
        return transcript.challenge_bytes(label)

    base = challenge((b"a", b"1"), (b"b", b"2"))
    assert challenge((b"a", b"1"), (b"b", b"2")) == base
    assert challenge((b"b", b"2"), (b"a", b"1")) != base  # order
    assert challenge((b"a", b"1"), (b"c", b"2")) != base  # label
    assert challenge((b"a", b"1"), (b"b", b"3")) != base  # data
    assert challenge((b"a", b"1"), (b"b", b"2"), protocol=b"q") != base  # protocol label
    assert challenge((b"a", b"1"), (b"b", b"2"), label=b"d") != base  # challenge label


def test_framing_makes_boundaries_unambiguous() -> None:
    def challenge(label: bytes, data: bytes) -> bytes:
        transcript = Transcript(b"p")
        transcript.append_message(label, data)
        return transcript.challenge_bytes(b"c")

    assert challenge(b"ab", b"c") != challenge(b"a", b"bc")
    assert challenge(b"a", b"") != challenge(b"", b"a")
    one = Transcript(b"p")
    one.append_message(b"a", b"xy")
    two = Transcript(b"p")
    two.append_message(b"a", b"x")
    two.append_message(b"", b"y")
    assert one.challenge_bytes(b"c") != two.challenge_bytes(b"c")


def test_each_challenge_is_absorbed_into_later_ones() -> None:
    one = Transcript(b"p")
    one.challenge_bytes(b"first")
    two = Transcript(b"p")
    assert one.challenge_bytes(b"second") != two.challenge_bytes(b"second")
    repeated = Transcript(b"p")
    assert repeated.challenge_bytes(b"c") != repeated.challenge_bytes(b"c")


def test_fork_is_independent_of_the_original() -> None:
    original = Transcript(b"p")
    original.append_message(b"a", b"1")
    fork = original.fork()
    assert fork.fork().challenge_bytes(b"c") == original.fork().challenge_bytes(b"c")
    fork.append_message(b"b", b"2")
    reference = Transcript(b"p")
    reference.append_message(b"a", b"1")
    assert original.challenge_bytes(b"c") == reference.challenge_bytes(b"c")
    fork_reference = Transcript(b"p")
    fork_reference.append_message(b"a", b"1")
    fork_reference.append_message(b"b", b"2")
    assert fork.challenge_bytes(b"c") == fork_reference.challenge_bytes(b"c")


def test_challenge_scalar_is_in_range() -> None:
    transcript = Transcript(b"p")
    for index in range(16):
        assert 0 <= transcript.challenge_scalar(struct.pack(">I", index)) < R


def test_misuse_is_rejected() -> None:
    transcript = Transcript(b"p")
    with pytest.raises(ValueError):
        transcript.append_u64(b"n", -1)
    with pytest.raises(ValueError):
        transcript.append_u64(b"n", 1 << 64)
    with pytest.raises(TypeError):
        transcript.append_message(b"n", 5)  # type: ignore[arg-type]  # would be 5 zero bytes
    with pytest.raises(TypeError):
        transcript.append_message(b"n", "text")  # type: ignore[arg-type]
