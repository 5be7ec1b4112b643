"""The scalar field Fr and base-field helpers (zkclear.crypto.field)."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import galois
import pytest

from zkclear.crypto.field import (
    FR_MULTIPLICATIVE_GENERATOR,
    P,
    R,
    fp_sqrt,
    fr_batch_inv,
    fr_field,
    fr_inv,
    fr_random,
    scalar_from_bytes,
    scalar_to_bytes,
)
from zkclear.errors import EncodingError

RNG = random.Random(3)
#: The factorization of R - 1 (prime -> exponent), checked below.
R_MINUS_1_PRIME_FACTORS = {
    2: 32, 3: 1, 11: 1, 19: 1, 10177: 1, 125527: 1, 859267: 1, 906349: 2, 2508409: 1, 2529403: 1,
    52437899: 1, 254760293: 2,
}


def test_inverses_multiply_to_one():
    values = [RNG.randrange(1, R) for _ in range(10)] + [1, R - 1, R + 2]
    for v, inv in zip(values, fr_batch_inv(values), strict=True):
        assert v * inv % R == 1
        assert fr_inv(v) == inv
    assert fr_batch_inv([]) == []


def test_zero_has_no_inverse():
    with pytest.raises(ZeroDivisionError):
        fr_inv(R)
    with pytest.raises(ZeroDivisionError):
        fr_batch_inv([3, 0, 5])


def test_random_scalars_are_in_range_and_vary():
    draws = {fr_random() for _ in range(20)}
    assert len(draws) == 20 and all(0 <= s < R for s in draws)


def test_scalars_round_trip_through_32_canonical_bytes():
    for s in [0, 1, R - 1, RNG.randrange(R)]:
        data = scalar_to_bytes(s)
        assert len(data) == 32 and scalar_from_bytes(data) == s
    assert scalar_to_bytes(R + 5) == scalar_to_bytes(5)
    assert scalar_to_bytes(-1) == (R - 1).to_bytes(32, "big")


@pytest.mark.parametrize(
    "data",
    [b"", bytes(31), bytes(33), R.to_bytes(32, "big"), (R + 1).to_bytes(32, "big"), b"\xff" * 32],
    ids=["empty", "31-bytes", "33-bytes", "r", "r+1", "all-ones"],
)
def test_non_canonical_scalars_are_rejected(data):
    with pytest.raises(EncodingError):
        scalar_from_bytes(data)


def test_fp_sqrt_finds_roots_of_squares_and_rejects_non_squares():
    for _ in range(5):
        a = RNG.randrange(P)
        root = fp_sqrt(a * a)
        assert root in (a, P - a)
    assert fp_sqrt(0) == 0
    assert fp_sqrt(-1) is None  # P = 3 mod 4, so -1 is not a square


def test_moduli_are_prime():
    assert galois.is_prime(R) and galois.is_prime(P)


def test_seven_generates_the_multiplicative_group_of_fr():
    assert math.prod(q**e for q, e in R_MINUS_1_PRIME_FACTORS.items()) == R - 1
    assert all(galois.is_prime(q) for q in R_MINUS_1_PRIME_FACTORS)
    for q in R_MINUS_1_PRIME_FACTORS:
        assert pow(FR_MULTIPLICATIVE_GENERATOR, (R - 1) // q, R) != 1


def test_fr_field_is_gf_r_with_working_arithmetic():
    GF = fr_field()
    assert GF.order == R
    a, b = RNG.randrange(R), RNG.randrange(1, R)
    assert int(GF(a) * GF(b)) == a * b % R
    assert int(GF(a) / GF(b)) == a * fr_inv(b) % R
    assert int(GF.primitive_element) == FR_MULTIPLICATIVE_GENERATOR
    assert fr_field() is GF


def test_importing_the_group_engine_loads_neither_galois_nor_py_ecc():
    """What keeps `import zkclear` fast (its time is measured by `zkclear bench group`, not here): galois (whose
    GF(r) set-up is the slow part, see fr_field) and py_ecc are imported only where they are used."""
    code = "import sys, zkclear, zkclear.crypto.group; print('galois' in sys.modules, 'py_ecc' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
