"""RFC 9380 hash_to_curve for BLS12-381 G1 against the RFC's vectors and two independent oracles."""

from __future__ import annotations

import hashlib

import pytest
from py_ecc.bls.hash import expand_message_xmd as reference_expand_message_xmd
from py_ecc.bls.hash_to_curve import hash_to_field_FQ, hash_to_G1
from py_ecc.fields import optimized_bls12_381_FQ as FQ
from py_ecc.optimized_bls12_381 import multiply_clear_cofactor_G1, normalize, optimized_swu_G1

from zkclear.crypto.field import P
from zkclear.crypto.group import G1Point
from zkclear.crypto.hash_to_curve import (
    H_EFF,
    ISOGENOUS_CURVE_A,
    ISOGENOUS_CURVE_B,
    _mul_affine_complete,
    clear_cofactor,
    expand_message_xmd,
    hash_to_curve,
    hash_to_curve_affine,
    hash_to_field,
    iso_map,
    map_to_curve_simple_swu,
)
from zkclear.errors import EncodingError

RFC_DST = b"QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"

# RFC 9380, appendix J.9.1 (suite BLS12381G1_XMD:SHA-256_SSWU_RO_): (msg, P.x, P.y).
RFC_VECTORS = [
    (
        b"",
        "052926add2207b76ca4fa57a8734416c8dc95e24501772c814278700eed6d1e4e8cf62d9c09db0fac349612b759e79a1",
        "08ba738453bfed09cb546dbb0783dbb3a5f1f566ed67bb6be0e8c67e2e81a4cc68ee29813bb7994998f3eae0c9c6a265",
    ),
    (
        b"abc",
        "03567bc5ef9c690c2ab2ecdf6a96ef1c139cc0b2f284dca0a9a7943388a49a3aee664ba5379a7655d3c68900be2f6903",
        "0b9c15f3fe6e5cf4211f346271d7b01c8f3b28be689c8429c85b67af215533311f0b8dfaaa154fa6b88176c229f2885d",
    ),
    (
        b"abcdef0123456789",
        "11e0b079dea29a68f0383ee94fed1b940995272407e3bb916bbf268c263ddd57a6a27200a784cbc248e84f357ce82d98",
        "03a87ae2caf14e8ee52e51fa2ed8eefe80f02457004ba4d486d6aa1f517c0889501dc7413753f9599b099ebcbbd2d709",
    ),
    (
        b"q128_" + b"q" * 128,
        "15f68eaa693b95ccb85215dc65fa81038d69629f70aeee0d0f677cf22285e7bf58d7cb86eefe8f2e9bc3f8cb84fac488",
        "1807a1d50c29f430b8cafc4f8638dfeeadf51211e1602a5f184443076715f91bb90a48ba1e370edce6ae1062f5e6dd38",
    ),
    (
        b"a512_" + b"a" * 512,
        "082aabae8b7dedb0e78aeb619ad3bfd9277a2f77ba7fad20ef6aabdc6c31d19ba5a6d12283553294c1825c4b3ca2dcfe",
        "05b84ae5a942248eea39e1d91030458c40153f3b654ab7872d779ad1e942856a20c438e8d99bc8abfbf74729ce1f7ac8",
    ),
]

# RFC 9380, appendix K.1 (expand_message_xmd, SHA-256), len_in_bytes = 0x20.
EXPANDER_DST = b"QUUX-V01-CS02-with-expander-SHA256-128"
EXPANDER_VECTORS = [
    (b"", "68a985b87eb6b46952128911f2a4412bbc302a9d759667f87f7a21d803f07235"),
    (b"abc", "d8ccab23b5985ccea865c6c97b6e5b8350e794e603b4b97902f53a8a0d605615"),
]

ORACLE_CASES = [
    (b"zkclear", b"zkclear-test-DST"),
    (b"\x00" * 33, RFC_DST),
    (bytes(range(256)), b"x" * 255),
    (b"pedersen/H", b"zkclear-v1/generators/BLS12381G1_XMD:SHA-256_SSWU_RO_"),
]


def _on_isogenous_curve(x: int, y: int) -> bool:
    return (y * y - x * x * x - ISOGENOUS_CURVE_A * x - ISOGENOUS_CURVE_B) % P == 0


def _on_curve(x: int, y: int) -> bool:
    return (y * y - x * x * x - 4) % P == 0


@pytest.mark.parametrize(("msg", "expected_x", "expected_y"), RFC_VECTORS)
def test_hash_to_curve_matches_rfc_9380_vectors(msg: bytes, expected_x: str, expected_y: str) -> None:
    assert hash_to_curve_affine(msg, RFC_DST) == (int(expected_x, 16), int(expected_y, 16))


@pytest.mark.parametrize(("msg", "expected"), EXPANDER_VECTORS)
def test_expand_message_xmd_matches_rfc_9380_vectors(msg: bytes, expected: str) -> None:
    assert expand_message_xmd(msg, EXPANDER_DST, 0x20).hex() == expected


@pytest.mark.parametrize("length", [1, 32, 33, 64, 128, 255, 256, 8160])
def test_expand_message_xmd_matches_py_ecc_at_block_boundaries(length: int) -> None:
    expected = reference_expand_message_xmd(b"abc", EXPANDER_DST, length, hashlib.sha256)
    assert expand_message_xmd(b"abc", EXPANDER_DST, length) == expected


def test_expand_message_xmd_rejects_oversized_requests() -> None:
    with pytest.raises(ValueError):
        expand_message_xmd(b"", EXPANDER_DST, 255 * 32 + 1)
    with pytest.raises(ValueError):
        expand_message_xmd(b"", b"d" * 256, 32)


@pytest.mark.parametrize(("msg", "dst"), ORACLE_CASES)
def test_hash_to_field_matches_py_ecc(msg: bytes, dst: bytes) -> None:
    expected = [element.n for element in hash_to_field_FQ(msg, 2, dst, hashlib.sha256)]
    assert hash_to_field(msg, dst, 2) == expected


@pytest.mark.parametrize(("msg", "dst"), ORACLE_CASES)
def test_hash_to_curve_matches_py_ecc_oracle(msg: bytes, dst: bytes) -> None:
    x, y = (coordinate.n for coordinate in normalize(hash_to_G1(msg, dst, hashlib.sha256)))
    assert hash_to_curve_affine(msg, dst) == (x, y)


@pytest.mark.parametrize(("msg", "dst"), ORACLE_CASES + [(m, RFC_DST) for m, _, _ in RFC_VECTORS])
def test_hash_to_curve_matches_arkworks_oracle(msg: bytes, dst: bytes) -> None:
    # arkworks is the optional 'native' extra; the RFC vectors and py-ecc above always run.
    arkworks = pytest.importorskip("py_arkworks_bls12381", reason="optional extra zkclear[native]")
    expected = arkworks.G1Point.hash_to_curve(msg, dst).to_compressed_bytes()
    assert hash_to_curve(msg, dst).to_bytes() == expected


@pytest.mark.parametrize("u", [0, 1, 2, P - 1, 12345678901234567890, P // 3])
def test_simple_swu_lands_on_isogenous_curve_and_matches_py_ecc(u: int) -> None:
    x, y = map_to_curve_simple_swu(u)
    assert _on_isogenous_curve(x, y)
    assert y % 2 == u % 2  # sgn0(y) == sgn0(u)
    X, Y, Z = optimized_swu_G1(FQ(u))
    z_inv = pow(Z.n, -1, P)
    assert (x, y) == (X.n * z_inv % P, Y.n * z_inv % P)


def test_iso_map_sends_isogenous_points_onto_the_curve() -> None:
    for u in (3, 5, 7, P - 2):
        x, y = iso_map(map_to_curve_simple_swu(u))
        assert _on_curve(x, y)
    assert iso_map(None) is None


def test_clear_cofactor_matches_py_ecc_on_a_point_outside_the_subgroup() -> None:
    point = iso_map(map_to_curve_simple_swu(42))
    with pytest.raises(EncodingError):  # really outside the subgroup before clearing
        G1Point.from_affine(point)
    base = (FQ(point[0]), FQ(point[1]), FQ(1))
    x, y = (c.n for c in normalize(multiply_clear_cofactor_G1(base)))
    assert clear_cofactor(point) == (x, y)
    assert clear_cofactor(point) == _mul_affine_complete(point, H_EFF)


def test_clear_cofactor_handles_low_order_points_via_the_complete_path() -> None:
    # (0, 2) has order 3 and 3 divides h_eff: the fast formulas meet a degenerate addition,
    # the complete path must take over and return the identity.
    assert H_EFF % 3 == 0
    assert clear_cofactor((0, 2)) is None
    assert clear_cofactor(None) is None


def test_hash_to_curve_output_is_in_the_prime_order_subgroup() -> None:
    for msg in (b"", b"subgroup", b"\xff" * 70):
        point = hash_to_curve(msg, RFC_DST)
        # from_affine runs the full subgroup check; it must accept the point as is.
        assert G1Point.from_affine(point.affine()) == point
        assert not point.is_identity()


def test_hash_to_curve_separates_domains() -> None:
    assert hash_to_curve(b"msg", b"DST-A") != hash_to_curve(b"msg", b"DST-B")
    assert hash_to_curve(b"msg-a", b"DST") != hash_to_curve(b"msg-b", b"DST")


def test_hash_to_curve_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        hash_to_curve(b"msg", b"")
    with pytest.raises(ValueError):
        hash_to_curve(b"msg", b"d" * 256)
    with pytest.raises(TypeError):
        hash_to_curve("msg", b"DST")  # type: ignore[arg-type]


def test_isogeny_constants_are_py_ecc_s() -> None:
    # hash_to_curve keeps its own copy so that it imports nothing but the standard library.
    from py_ecc.optimized_bls12_381 import constants as reference

    from zkclear.crypto import isogeny_constants as iso

    assert reference.ISO_11_A.n == iso.ISOGENOUS_CURVE_A
    assert reference.ISO_11_B.n == iso.ISOGENOUS_CURVE_B
    for ours, theirs in (
        (iso.X_NUMERATOR, reference.ISO_11_X_NUMERATOR),
        (iso.X_DENOMINATOR, reference.ISO_11_X_DENOMINATOR),
        (iso.Y_NUMERATOR, reference.ISO_11_Y_NUMERATOR),
        (iso.Y_DENOMINATOR, reference.ISO_11_Y_DENOMINATOR),
    ):
        assert ours == tuple(c.n for c in theirs)
