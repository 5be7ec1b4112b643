"""The 48-byte compressed point encoding: agreement with py-ecc and strict decoding.

Every malformed input must raise EncodingError: wrong length, bad flag bits, x >= p, x not
on the curve, a curve point outside the prime-order subgroup, a non-canonical encoding.
"""

from __future__ import annotations

import random

import pytest

from zkclear.crypto.field import P, R, fp_sqrt
from zkclear.crypto.group import POINT_BYTES, G1Point, decode_affine, encode_affine
from zkclear.errors import EncodingError

pytestmark = pytest.mark.usefixtures("each_backend")  # every test runs on both engines

RNG = random.Random(48)
COMPRESSED, INFINITY, SIGN = 0x80, 0x40, 0x20


def _with_flags(x: int, flags: int) -> bytes:
    data = bytearray(x.to_bytes(POINT_BYTES, "big"))
    data[0] |= flags
    return bytes(data)


def _curve_point_outside_g1() -> tuple[int, int]:
    """The smallest x > 0 on the curve gives a point outside G1 (checked by [R]·P != O)."""
    x = 1
    while fp_sqrt(x**3 + 4) is None:
        x += 1
    return (x, fp_sqrt(x**3 + 4))  # type: ignore[return-value]


def test_encoding_matches_py_ecc_and_round_trips(g1_oracle):
    for k in [1, 2, R - 1, *(RNG.randrange(R) for _ in range(6))]:
        point = G1Point.generator() * k
        encoded = point.to_bytes()
        assert encoded == g1_oracle.compress(g1_oracle.mul_generator(k))
        assert G1Point.from_bytes(encoded) == point
        assert g1_oracle.decompress(encoded) == point.affine()


def test_both_signs_of_y_are_encoded_and_recovered():
    point = G1Point.generator() * 5
    encodings = {point.to_bytes()[0] & SIGN, (-point).to_bytes()[0] & SIGN}
    assert encodings == {0, SIGN}
    assert G1Point.from_bytes((-point).to_bytes()) == -point


def test_identity_has_the_canonical_encoding(g1_oracle):
    encoded = G1Point.identity().to_bytes()
    assert encoded == bytes([COMPRESSED | INFINITY]) + bytes(47)
    assert encoded == g1_oracle.compress(None)
    assert G1Point.from_bytes(encoded).is_identity()
    assert encode_affine(None) == encoded


def test_decode_accepts_bytearray():
    point = G1Point.generator() * 9
    assert G1Point.from_bytes(bytearray(point.to_bytes())) == point


@pytest.mark.parametrize("size", [0, 1, 47, 49, 96])
def test_wrong_length_is_rejected(size):
    data = (G1Point.generator().to_bytes() * 2)[:size]
    with pytest.raises(EncodingError, match="48 bytes"):
        G1Point.from_bytes(data)


def test_non_bytes_input_is_rejected():
    with pytest.raises(EncodingError):
        G1Point.from_bytes(G1Point.generator().to_bytes().hex())  # type: ignore[arg-type]


def test_uncompressed_flag_is_rejected():
    encoded = bytearray(G1Point.generator().to_bytes())
    encoded[0] &= 0x7F
    with pytest.raises(EncodingError, match="compression flag"):
        G1Point.from_bytes(bytes(encoded))


@pytest.mark.parametrize(
    "data",
    [
        _with_flags(1, COMPRESSED | INFINITY),  # infinity with a non-zero body
        _with_flags(1 << 380, COMPRESSED | INFINITY),  # a body bit just below the flags
        _with_flags(0, COMPRESSED | INFINITY | SIGN),  # infinity with the sign bit
        _with_flags(0, INFINITY),  # infinity without the compression flag
    ],
    ids=["nonzero-body", "high-body-bit", "sign-bit", "uncompressed"],
)
def test_non_canonical_infinity_is_rejected(data):
    with pytest.raises(EncodingError):
        G1Point.from_bytes(data)


@pytest.mark.parametrize("x", [P, P + 1, (1 << 381) - 1], ids=["p", "p+1", "2^381-1"])
def test_unreduced_x_is_rejected(x):
    with pytest.raises(EncodingError, match="x >= p"):
        G1Point.from_bytes(_with_flags(x, COMPRESSED))


def test_unreduced_alias_of_a_curve_x_is_rejected():
    x, _ = _curve_point_outside_g1()
    alias = x + P  # fits in the 381-bit body and is the same x mod p
    assert alias < 1 << 381
    with pytest.raises(EncodingError, match="x >= p"):
        G1Point.from_bytes(_with_flags(alias, COMPRESSED))


def test_x_off_the_curve_is_rejected():
    x = next(x for x in range(1, 100) if fp_sqrt(x**3 + 4) is None)
    with pytest.raises(EncodingError, match="not the x coordinate"):
        G1Point.from_bytes(_with_flags(x, COMPRESSED))


@pytest.mark.parametrize("flags", [COMPRESSED, COMPRESSED | SIGN])
def test_curve_point_outside_the_subgroup_is_rejected(flags):
    x, _ = _curve_point_outside_g1()
    assert decode_affine(_with_flags(x, flags)) is not None  # on the curve...
    with pytest.raises(EncodingError, match="subgroup"):  # ...but not in G1
        G1Point.from_bytes(_with_flags(x, flags))


def test_from_affine_checks_range_curve_and_subgroup():
    g = G1Point.generator().affine()
    assert g is not None
    assert G1Point.from_affine(g) == G1Point.generator()
    assert G1Point.from_affine(None).is_identity()
    for bad in [(g[0], g[1] + 1), (g[0] + P, g[1]), (-1, 2), (0, 2 + P)]:
        with pytest.raises(EncodingError, match="not on the curve"):
            G1Point.from_affine(bad)
    with pytest.raises(EncodingError, match="subgroup"):
        G1Point.from_affine((0, 2))  # a point of order 3
    with pytest.raises(EncodingError, match="subgroup"):
        G1Point.from_affine(_curve_point_outside_g1())


def test_py_ecc_rejects_what_we_reject_on_the_curve_checks(g1_oracle):
    # our decoder and py-ecc's agree that these are not valid encodings
    for data in [_with_flags(P, COMPRESSED), _with_flags(0, COMPRESSED | INFINITY | SIGN)]:
        with pytest.raises(EncodingError):
            G1Point.from_bytes(data)
        with pytest.raises(ValueError):
            g1_oracle.decompress(data)
