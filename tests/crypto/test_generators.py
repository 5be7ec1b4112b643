"""Generators: pinned derivation, prefix stability, caching, independence from G and H."""

from __future__ import annotations

import hashlib
import struct

import pytest
from py_ecc.bls.hash_to_curve import hash_to_G1
from py_ecc.optimized_bls12_381 import normalize

from zkclear.crypto import generators
from zkclear.crypto.generators import (
    GENERATOR_DST,
    PEDERSEN_H_MESSAGE,
    generator_message,
    generator_vector,
    pedersen_generators,
)
from zkclear.crypto.group import G1Point
from zkclear.crypto.hash_to_curve import hash_to_curve

# Pinned outputs (48-byte compressed encodings). A change here changes every commitment and
# proof zkclear ever produced: it must be a deliberate, versioned protocol change.
PINNED_H = "b5f689a02f6ea1c13a4b061fca503865fbbec90f613f6b6e9068b62f50e014315bd011e9ae8bb3055c224c8f60212f5e"
PINNED_TEST_VECTOR = [
    "b09d386bd6d1d015f4c35fc9ba98c484b504cb7e658445a94896222802c4ccd84abaf3dca107f799e549292751fd41cc",
    "83b73e06ae532b7813170693f8ce1d2ec86038273399ec85bea90ceae0403e83b2a01a9cf8a7ae00dd95369ba1b2c0a1",
    "820b4fe8258d8fcdf848f92ebbd0a516e4548d42df1c61c7d32500002b3ab372d359aab42ab587c062abd92de0f56162",
]
PINNED_LABEL = b"zkclear-test/vector"


def test_dst_is_the_documented_one() -> None:
    assert GENERATOR_DST == b"zkclear-v1/generators/BLS12381G1_XMD:SHA-256_SSWU_RO_"
    assert PEDERSEN_H_MESSAGE == b"pedersen/H"


def test_pedersen_generators_are_the_standard_generator_and_the_pinned_h() -> None:
    G, H = pedersen_generators()
    assert G1Point.generator() == G
    assert H.to_bytes().hex() == PINNED_H
    assert hash_to_curve(b"pedersen/H", GENERATOR_DST) == H
    assert H != G and not H.is_identity()


def test_pedersen_h_matches_the_py_ecc_oracle() -> None:
    _, H = pedersen_generators()
    x, y = (c.n for c in normalize(hash_to_G1(b"pedersen/H", GENERATOR_DST, hashlib.sha256)))
    assert H.affine() == (x, y)


def test_generator_vector_is_pinned() -> None:
    assert [p.to_bytes().hex() for p in generator_vector(PINNED_LABEL, 3)] == PINNED_TEST_VECTOR


def test_generator_vector_follows_the_documented_derivation() -> None:
    label = b"zkclear-test/derivation"
    points = generator_vector(label, 4)
    for index, point in enumerate(points):
        message = label + b"/" + struct.pack(">I", index)
        assert generator_message(label, index) == message
        assert point == hash_to_curve(message, GENERATOR_DST)
    # and an independent implementation agrees on one of them
    x, y = (c.n for c in normalize(hash_to_G1(label + b"/\x00\x00\x00\x03", GENERATOR_DST, hashlib.sha256)))
    assert points[3].affine() == (x, y)


def test_generator_vector_is_prefix_stable_in_both_orders() -> None:
    long_first = generator_vector(b"zkclear-test/prefix-a", 9)
    assert generator_vector(b"zkclear-test/prefix-a", 4) == long_first[:4]
    short_first = generator_vector(b"zkclear-test/prefix-b", 3)
    longer = generator_vector(b"zkclear-test/prefix-b", 7)
    assert longer[:3] == short_first
    assert generator_vector(b"zkclear-test/prefix-b", 0) == []


def test_generators_are_distinct_and_never_g_h_or_identity() -> None:
    G, H = pedersen_generators()
    first = generator_vector(b"zkclear-test/distinct-1", 32)
    second = generator_vector(b"zkclear-test/distinct-2", 32)
    encodings = {p.to_bytes() for p in [*first, *second, G, H]}
    assert len(encodings) == 66
    assert not any(p.is_identity() for p in first + second)


def test_generators_are_in_the_prime_order_subgroup() -> None:
    for point in [*generator_vector(b"zkclear-test/subgroup", 3), pedersen_generators()[1]]:
        # from_bytes decodes with the full subgroup check
        assert G1Point.from_bytes(point.to_bytes()) == point


def test_generator_vector_computes_each_point_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []

    def counting_hash_to_curve(msg: bytes, dst: bytes) -> G1Point:
        calls.append(msg)
        return hash_to_curve(msg, dst)

    monkeypatch.setattr(generators, "hash_to_curve", counting_hash_to_curve)
    label = b"zkclear-test/cache"
    generator_vector(label, 5)
    generator_vector(label, 3)
    generator_vector(label, 5)
    generator_vector(label, 6)
    assert calls == [generator_message(label, i) for i in range(6)]


def test_returned_list_is_a_copy() -> None:
    label = b"zkclear-test/copy"
    vector = generator_vector(label, 3)
    vector.append(G1Point.identity())
    vector[0] = G1Point.identity()
    fresh = generator_vector(label, 3)
    assert len(fresh) == 3 and not fresh[0].is_identity()


def test_generator_vector_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        generator_vector(b"x", -1)
    with pytest.raises(ValueError):
        generator_vector(b"x", (1 << 32) + 1)
    with pytest.raises(TypeError):
        generator_vector("x", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        generator_vector(b"x", 1.0)  # type: ignore[arg-type]
