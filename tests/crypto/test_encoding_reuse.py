"""A decoded point keeps the bytes it came from (decoding is strict, so they are its one encoding):
re-encoding it, alone or in a batch with computed points, gives the same bytes as computing them afresh."""

from __future__ import annotations

import pickle

import pytest

from zkclear.crypto.group import G1Point, encode_affine, encode_many
from zkclear.errors import EncodingError


def _points(count: int) -> list[G1Point]:
    g = G1Point.generator()
    return [g * (7 ** k + 3) for k in range(count)] + [G1Point.identity()]


def test_a_decoded_point_re_encodes_to_the_same_bytes_as_a_computed_one() -> None:
    for point in _points(6):
        data = encode_affine(point.affine())  # computed from the coordinates, not from a cache
        decoded = G1Point.from_bytes(data)
        assert decoded.to_bytes() == data == point.to_bytes()
        assert decoded == point and hash(decoded) == hash(point)
        assert (decoded + point).to_bytes() == (point * 2).to_bytes()  # arithmetic results are computed
        assert pickle.loads(pickle.dumps(decoded)).to_bytes() == data


def test_encode_many_mixes_decoded_and_computed_points_in_order() -> None:
    computed = _points(5)
    decoded = [G1Point.from_bytes(p.to_bytes()) for p in computed]
    mixed = [computed[0], decoded[1], computed[2], decoded[3], decoded[4], computed[5]]
    assert encode_many(mixed) == [encode_affine(p.affine()) for p in mixed]
    assert encode_many([]) == []


def test_a_bytearray_input_is_kept_as_immutable_bytes() -> None:
    data = bytearray(G1Point.generator().to_bytes())
    decoded = G1Point.from_bytes(data)
    data[5] ^= 1
    assert decoded.to_bytes() == G1Point.generator().to_bytes()
    with pytest.raises(EncodingError):
        G1Point.from_bytes(bytes(data))
