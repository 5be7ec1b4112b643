"""Both group engines, driven directly through the GroupBackend seam, against py-ecc.

The pure engine is always tested; the arkworks engine only where the optional package is
installed (CI installs '.[test]' only, so there it is skipped by importorskip).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from zkclear.crypto import backend as backend_module
from zkclear.crypto.field import R
from zkclear.crypto.pure_g1 import PureBackend
from zkclear.errors import ConfigurationError

RNG = random.Random(20261125)


def _make_backend(name: str):
    if name == "pure":
        return PureBackend()
    pytest.importorskip("py_arkworks_bls12381")
    from zkclear.crypto.arkworks_g1 import ArkworksBackend

    return ArkworksBackend()


@pytest.fixture(params=["pure", "arkworks"], scope="module")
def engine(request):
    return _make_backend(request.param)


def _scalars(count: int) -> list[int]:
    return [RNG.randrange(R) for _ in range(count)]


def test_generator_is_the_standard_one(engine, g1_oracle):
    assert engine.to_affine(engine.generator()) == g1_oracle.generator()


def test_add_double_neg_agree_with_py_ecc(engine, g1_oracle):
    a_scalar, b_scalar = _scalars(2)
    a_xy, b_xy = g1_oracle.mul_generator(a_scalar), g1_oracle.mul_generator(b_scalar)
    a, b = engine.from_affine(a_xy), engine.from_affine(b_xy)
    assert engine.to_affine(engine.add(a, b)) == g1_oracle.add(a_xy, b_xy)
    assert engine.to_affine(engine.double(a)) == g1_oracle.double(a_xy)
    assert engine.to_affine(engine.neg(a)) == g1_oracle.neg(a_xy)
    assert engine.to_affine(engine.add(a, a)) == g1_oracle.double(a_xy)


def test_identity_laws(engine):
    g = engine.generator()
    zero = engine.identity()
    assert engine.is_identity(zero)
    assert not engine.is_identity(g)
    assert engine.eq(engine.add(g, zero), g)
    assert engine.eq(engine.add(zero, g), g)
    assert engine.is_identity(engine.add(g, engine.neg(g)))
    assert engine.is_identity(engine.double(zero))
    assert engine.to_affine(zero) is None
    assert engine.is_identity(engine.from_affine(None))


@pytest.mark.parametrize("k", [0, 1, 2, R - 1, R, R + 5, 2**255 - 19])
def test_mul_edge_scalars_agree_with_py_ecc(engine, g1_oracle, k):
    expected = g1_oracle.mul_generator(k % R)
    assert engine.to_affine(engine.mul(engine.generator(), k)) == expected


def test_mul_random_scalars_agree_with_py_ecc(engine, g1_oracle):
    base_xy = g1_oracle.mul_generator(987654321)
    base = engine.from_affine(base_xy)
    for k in _scalars(4):
        assert engine.to_affine(engine.mul(base, k)) == g1_oracle.mul(base_xy, k)


def test_mul_of_identity_is_identity(engine):
    assert engine.is_identity(engine.mul(engine.identity(), 12345))


def test_eq_distinguishes_points_and_ignores_representation(engine):
    g = engine.generator()
    two_g = engine.double(g)
    assert engine.eq(engine.add(g, g), engine.mul(g, 2))
    assert not engine.eq(g, two_g)
    assert not engine.eq(g, engine.identity())
    assert engine.eq(engine.from_affine(engine.to_affine(two_g)), two_g)


def _small_multiples(engine, count: int) -> tuple[list, list[int]]:
    """Points k_i·G for small random k_i (cheap reference: the MSM is Σ s_i·k_i mod R)."""
    logs = [RNG.randrange(1, 10**6) for _ in range(count)]
    g = engine.generator()
    return [engine.mul(g, k) for k in logs], logs


@pytest.mark.parametrize("count", [1, 2, 3, 17, 130])
def test_msm_matches_discrete_log_sum(engine, count):
    points, logs = _small_multiples(engine, count)
    scalars = _scalars(count)
    expected = engine.mul(engine.generator(), sum(s * k for s, k in zip(scalars, logs, strict=True)) % R)
    assert engine.eq(engine.msm(points, scalars), expected)


def test_msm_agrees_with_py_ecc(engine, g1_oracle):
    logs = [RNG.randrange(R) for _ in range(3)]
    points_xy = [g1_oracle.mul_generator(k) for k in logs]
    scalars = _scalars(3)
    expected = g1_oracle.mul_generator(sum(s * k for s, k in zip(scalars, logs, strict=True)) % R)
    assert engine.to_affine(engine.msm([engine.from_affine(xy) for xy in points_xy], scalars)) == expected


def test_msm_with_repeated_identity_and_opposite_points(engine):
    g = engine.generator()
    h = engine.mul(g, 77)
    points = [g] * 40 + [engine.identity()] * 5 + [engine.neg(g)] * 40 + [h, h, h]
    scalars = [3] * 40 + [9] * 5 + [3] * 40 + [R - 1, 0, 2]
    assert engine.eq(engine.msm(points, scalars), h)
    # every bucket cancels: the result is the identity
    assert engine.is_identity(engine.msm([g, engine.neg(g)] * 50, [12345] * 100))


def test_msm_of_nothing_and_of_zero_scalars_is_identity(engine):
    g = engine.generator()
    assert engine.is_identity(engine.msm([], []))
    assert engine.is_identity(engine.msm([g, g], [0, R]))


def test_engines_agree_on_a_larger_msm():
    pytest.importorskip("py_arkworks_bls12381")
    from zkclear.crypto.arkworks_g1 import ArkworksBackend

    pure, native = PureBackend(), ArkworksBackend()
    points, _ = _small_multiples(pure, 300)
    scalars = _scalars(300)
    native_points = [native.from_affine(xy) for xy in pure.batch_to_affine(points)]
    assert pure.to_affine(pure.msm(points, scalars)) == native.to_affine(native.msm(native_points, scalars))


def test_batch_to_affine_matches_one_by_one(engine, g1_oracle):
    g = engine.generator()
    points = [engine.mul(g, k) for k in (3, 5, 7)] + [engine.identity(), engine.add(g, engine.double(g))]
    expected = [g1_oracle.mul_generator(k) for k in (3, 5, 7)] + [None, g1_oracle.mul_generator(3)]
    assert engine.batch_to_affine(points) == expected
    assert engine.batch_to_affine([]) == []
    assert all(type(c) is int for xy in engine.batch_to_affine(points) if xy for c in xy)


def test_fixed_base_table_multiplies_like_mul(engine):
    base = engine.mul(engine.generator(), 4242)
    table = engine.fixed_base_table(base)
    for k in [0, 1, 2, R - 1, 2**64 - 1, *_scalars(3)]:
        assert engine.eq(table.mul(k), engine.mul(base, k)), k


def test_fixed_base_sums_compute_pedersen_style_combinations(engine):
    g = engine.generator()
    h = engine.mul(g, 99)
    tables = [engine.fixed_base_table(g), engine.fixed_base_table(h)]
    cancelling_blinding = -5 * pow(99, -1, R) % R  # 5·G + r·H = O
    rows = [(RNG.getrandbits(64), RNG.randrange(R)) for _ in range(4)] + [(0, 0), (5, cancelling_blinding)]
    sums = engine.fixed_base_sums(tables, rows)
    for (v, r), got in zip(rows, sums, strict=True):
        assert engine.eq(got, engine.mul(g, (v + 99 * r) % R))
    assert engine.is_identity(sums[4])
    assert engine.is_identity(sums[5])


def test_in_subgroup_accepts_g1_and_rejects_cofactor_points(engine):
    assert engine.in_subgroup(engine.mul(engine.generator(), 31337))
    order_three_point = (0, 2)  # x = 0: 3-torsion of y^2 = x^3 + 4, not in the order-R subgroup
    assert not engine.in_subgroup(engine.from_affine(order_three_point))


_WITHOUT_GMPY2 = """
import sys
sys.modules["gmpy2"] = None  # as if gmpy2 were not installed
from zkclear.crypto import pure_curve, pure_g1
from zkclear.crypto.group import G1Point
assert pure_curve.mpz is int
b = pure_g1.PureBackend()
g = b.generator()
points = [b.mul(g, k) for k in range(1, 9)]
table = b.fixed_base_table(points[2])
encoded = G1Point(points[4]).to_bytes()
print(b.to_affine(b.msm(points, [k * 1000003 for k in range(8)])))
print(b.to_affine(b.mul(g, 2**200 + 12345)))
print(b.to_affine(table.mul(987654321)))
print(b.in_subgroup(points[5]), b.in_subgroup(b.from_affine((0, 2))))
print(G1Point.from_bytes(encoded).affine())
"""


def test_pure_engine_gives_the_same_results_without_gmpy2():
    env = {**os.environ, "ZKCLEAR_BACKEND": "pure"}
    result = subprocess.run([sys.executable, "-c", _WITHOUT_GMPY2], capture_output=True, text=True,
                            env=env, check=True)
    b = PureBackend()
    g = b.generator()
    points = [b.mul(g, k) for k in range(1, 9)]
    expected = [
        b.to_affine(b.msm(points, [k * 1000003 for k in range(8)])),
        b.to_affine(b.mul(g, 2**200 + 12345)),
        b.to_affine(b.mul(points[2], 987654321)),
        "True False",
        b.to_affine(points[4]),
    ]
    assert result.stdout.splitlines() == [str(line) for line in expected]


def test_select_backend_honours_the_name_and_the_environment(monkeypatch):
    assert backend_module.select_backend("pure").name == "pure"
    monkeypatch.setenv("ZKCLEAR_BACKEND", "pure")
    assert backend_module.select_backend().name == "pure"
    with pytest.raises(ConfigurationError):
        backend_module.select_backend("fastest")


def test_auto_falls_back_to_pure_and_arkworks_fails_loudly_without_the_extra(monkeypatch):
    # A None entry in sys.modules makes the import fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, "py_arkworks_bls12381", None)
    monkeypatch.delitem(sys.modules, "zkclear.crypto.arkworks_g1", raising=False)
    assert backend_module.select_backend("auto").name == "pure"
    with pytest.raises(ConfigurationError, match="native"):
        backend_module.select_backend("arkworks")


def test_auto_prefers_arkworks_when_installed():
    pytest.importorskip("py_arkworks_bls12381")
    assert backend_module.select_backend("auto").name == "arkworks"
