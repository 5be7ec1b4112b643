"""The public G1 API (zkclear.crypto.group) and the pure engine's building blocks.

py-ecc is the oracle. The pure engine's internals (GLV constants and split, signed digits,
batched affine additions, Pippenger, the subgroup test) are pinned here directly, so they are
covered whichever backend ``auto`` selects.
"""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest

from zkclear.crypto import pure_curve, pure_g1, pure_msm, pure_scalar_mul
from zkclear.crypto.field import P, R, fp_sqrt
from zkclear.crypto.group import (
    FixedBase,
    G1Point,
    batch_affine,
    fixed_base_msm,
    fixed_base_msm_many,
    msm,
)

RNG = random.Random(7)
#: Cofactor of G1 in E(GF(P)): #E = h1·R with h1 = (z - 1)^2 / 3.
H1 = (pure_curve.BLS_Z - 1) ** 2 // 3


def _random_curve_point() -> tuple[int, int]:
    """A uniformly chosen point of E (almost surely outside G1: h1 is ~2^126)."""
    while True:
        x = RNG.randrange(P)
        y = fp_sqrt(x**3 + 4)
        if y is not None:
            return (x, y)


def _naive_in_g1(xy: tuple[int, int]) -> bool:
    return pure_curve.jacobian_mul_unreduced((xy[0], xy[1], 1), R)[2] == 0


def _affine(point: pure_curve.JacobianPoint) -> tuple[int, int] | None:
    return pure_curve.to_affine(point)


# --- curve constants -------------------------------------------------------------------


def test_curve_constants_follow_from_the_bls_parameter():
    z = pure_curve.BLS_Z
    assert z**4 - z**2 + 1 == R
    assert (z - 1) ** 2 * (z**4 - z**2 + 1) // 3 + z == P
    assert (P + 1 - (z + 1)) % R == 0  # #E = P + 1 - t with trace t = z + 1 is a multiple of R
    assert (P + 1 - (z + 1)) // R == H1
    assert H1 == 3 * 11**2 * 10177**2 * 859267**2 * 52437899**2


def test_glv_constants_are_paired_cube_roots_of_unity(g1_oracle):
    lam, beta = pure_curve.GLV_LAMBDA, pure_curve.GLV_BETA
    assert (lam * lam + lam + 1) % R == 0
    assert pow(beta, 3, P) == 1 and beta != 1
    gx, gy = g1_oracle.generator()
    assert g1_oracle.mul_generator(lam) == (beta * gx % P, gy)  # phi(G) = [LAMBDA]G
    # BETA^2 pairs with the other eigenvalue, -z^2 (Scott's subgroup test relies on it)
    assert g1_oracle.mul_generator(-(pure_curve.BLS_Z**2) % R) == (pure_curve.GLV_BETA_SQUARED * gx % P, gy)


@pytest.mark.parametrize(
    "k", [0, 1, pure_curve.GLV_LAMBDA - 1, pure_curve.GLV_LAMBDA, pure_curve.GLV_LAMBDA + 1, R - 1, *range(5)]
)
def test_glv_split_recombines_into_two_128_bit_halves(k):
    k = k if k > 4 else RNG.randrange(R)
    k1, k2 = pure_scalar_mul.glv_split(k)
    assert (k1 + k2 * pure_curve.GLV_LAMBDA) % R == k
    assert 0 <= k1 < 2**128 and 0 <= k2 < 2**128


@pytest.mark.parametrize("window", [2, 5, 12, 13])
def test_signed_digits_recombine_and_stay_in_range(window):
    count = -(-129 // window)
    for k in [0, 1, 2**128 - 1, RNG.getrandbits(128)]:
        digits = pure_scalar_mul.signed_digits(k, window, count)
        assert sum(d << (window * j) for j, d in enumerate(digits)) == k
        assert all(abs(d) <= 1 << (window - 1) for d in digits)


def test_signed_digits_refuse_a_scalar_that_does_not_fit():
    with pytest.raises(ValueError):
        pure_scalar_mul.signed_digits(2**20, 4, 5)


# --- arithmetic building blocks ---------------------------------------------------------


def _g_multiples(*logs: int) -> list[tuple[int, int]]:
    g = pure_g1.PureBackend().generator()
    return [_affine(pure_scalar_mul.glv_mul(g, k)) for k in logs]  # type: ignore[misc]


def test_batch_add_affine_handles_generic_doubling_and_cancelling_pairs():
    a, b, c = _g_multiples(3, 10, 13)
    two_a = _g_multiples(6)[0]
    minus_a = (a[0], P - a[1])
    sums = pure_curve.batch_add_affine([a, a, a, b], [b, a, minus_a, a])
    assert sums == [c, two_a, None, c]
    assert pure_curve.batch_add_affine([], []) == []


def test_sum_runs_sums_each_run_of_equal_keys_and_drops_cancelled_ones():
    g1, g2, g3, g4, g5 = _g_multiples(1, 2, 3, 4, 5)
    minus_g3 = (g3[0], P - g3[1])
    runs = [(0, [g1, g2, g3, g4, g5]), (2, [g3]), (3, [g3, minus_g3]), (4, [g1, g1, g1]), (5, [g2, g2])]
    keys = np.array([key for key, points in runs for _ in points])
    xs = [x for _, points in runs for x, _ in points]
    ys = [y for _, points in runs for _, y in points]
    run_keys, sum_x, sum_y = pure_msm.sum_runs(keys, xs, ys)
    assert run_keys.tolist() == [0, 2, 4, 5]  # key 3 cancelled to the identity
    assert list(zip(sum_x, sum_y, strict=True)) == [_g_multiples(15)[0], g3, g3, _g_multiples(4)[0]]


def test_sum_runs_follows_an_index_into_the_point_lists():
    g1, g2, g3 = _g_multiples(1, 2, 3)
    xs, ys = [g1[0], g2[0], g3[0]], [g1[1], g2[1], g3[1]]
    run_keys, sum_x, sum_y = pure_msm.sum_runs(np.array([7, 7, 9]), xs, ys, np.array([2, 0, 1]))
    assert run_keys.tolist() == [7, 9]
    assert list(zip(sum_x, sum_y, strict=True)) == [_g_multiples(4)[0], g2]


def test_jacobian_formulas_agree_with_py_ecc_including_mixed_addition(g1_oracle):
    a_xy, b_xy = g1_oracle.mul_generator(11), g1_oracle.mul_generator(29)
    a = (a_xy[0], a_xy[1], 1)
    b_jacobian = pure_curve.jacobian_double(pure_curve.jacobian_double((b_xy[0], b_xy[1], 1)))  # 4b, Z != 1
    assert _affine(pure_curve.jacobian_add(a, b_jacobian)) == g1_oracle.mul_generator(11 + 4 * 29)
    assert _affine(pure_curve.jacobian_add_affine(b_jacobian, *a_xy)) == g1_oracle.mul_generator(11 + 4 * 29)
    four_a = pure_curve.jacobian_double(pure_curve.jacobian_double(a))
    forty_four = g1_oracle.mul_generator(44)
    assert _affine(pure_curve.jacobian_add_affine(four_a, *forty_four)) == g1_oracle.mul_generator(88)
    assert pure_curve.jacobian_add_affine(four_a, *g1_oracle.neg(forty_four))[2] == 0


@pytest.mark.parametrize("count", [1, 2, 5, 64, 200])
def test_pippenger_on_glv_halves_matches_the_discrete_log_sum(count):
    logs = [RNG.randrange(1, 2**20) for _ in range(count)]
    points = _g_multiples(*logs)
    scalars = [RNG.getrandbits(128) for _ in range(count)]
    got = pure_msm.pippenger([x for x, _ in points], [y for _, y in points], scalars, 129)
    expected = _g_multiples(sum(k * s for k, s in zip(logs, scalars, strict=True)) % R)[0]
    assert _affine(got) == expected


@pytest.mark.parametrize("scalars", [(1, 2), (2, 4), (5, 10), (2**20, 2**21)])
def test_pippenger_survives_running_sums_that_cancel(scalars):
    # bucket k·P and bucket 2k·(-P): the running sum of the buckets passes through the identity
    p_point = _g_multiples(7)[0]
    minus_p = (p_point[0], P - p_point[1])
    got = pure_msm.pippenger([p_point[0], minus_p[0]], [p_point[1], minus_p[1]], list(scalars), 129)
    assert _affine(got) == _g_multiples(R - scalars[0] * 7 % R)[0]


def test_msm_window_grows_with_the_input_size():
    windows = [pure_msm.msm_window_bits(n) for n in (2, 64, 1024, 2**15, 2**20)]
    assert windows == sorted(windows)
    assert windows[0] < windows[-1]


def test_pure_msm_groups_points_that_share_a_scalar():
    # A range proof's digit and reciprocal commitments: hundreds of points, a few distinct scalars. The
    # grouped path (a sum per scalar, then an MSM of the sums) must equal the per-point sum, also when a
    # group sums to the identity (P and -P under one scalar) or holds the identity.
    base = pure_g1.PureBackend().generator()
    points = [pure_scalar_mul.glv_mul(base, RNG.randrange(1, R)) for _ in range(40)]
    points += [pure_curve.jacobian_neg(points[0]), pure_curve.INFINITY, points[1]]
    distinct = [3, 15, RNG.randrange(R), RNG.randrange(R)]
    scalars = [distinct[i % 4] for i in range(40)] + [distinct[0], distinct[1], distinct[1]]
    expected = pure_curve.INFINITY
    for point, scalar in zip(points, scalars, strict=True):
        expected = pure_curve.jacobian_add(expected, pure_scalar_mul.glv_mul(point, scalar))
    terms = [(xy, k) for xy, k in zip(pure_curve.batch_to_affine(points), scalars, strict=True) if xy is not None]
    assert pure_msm._group_equal_scalars(terms) is not None
    assert pure_curve.jacobian_eq(pure_msm.msm(points, scalars), expected)
    assert pure_msm._group_equal_scalars([(xy, k) for k, (xy, _) in enumerate(terms, 1)]) is None


def test_pure_msm_over_prepared_bases_equals_the_plain_msm(monkeypatch):
    # The provers' generators are prepared (window rows); an MSM over mostly prepared bases, some not, the
    # identity and a repeated base must give the plain Pippenger result.
    monkeypatch.setattr(pure_msm, "_fixed_rows", {})
    base = pure_g1.PureBackend().generator()
    prepared = [pure_scalar_mul.glv_mul(base, RNG.randrange(1, R)) for _ in range(40)]
    others = [pure_scalar_mul.glv_mul(base, RNG.randrange(1, R)) for _ in range(5)]
    points = [*prepared, *others, pure_curve.INFINITY, prepared[3]]
    scalars = [RNG.randrange(R) for _ in points[:-4]] + [R - 1, 5, (1 << 128) + 1, 2]
    expected = pure_msm.msm(points, scalars)
    pure_msm.prepare_fixed_bases([*prepared, pure_curve.INFINITY])
    assert len(pure_msm._fixed_rows) == 40
    pure_msm.prepare_fixed_bases(prepared[:5])  # already prepared: nothing new
    assert len(pure_msm._fixed_rows) == 40
    calls = []
    real = pure_msm._fixed_base_msm
    monkeypatch.setattr(pure_msm, "_fixed_base_msm", lambda terms: calls.append(len(terms)) or real(terms))
    assert pure_curve.jacobian_eq(pure_msm.msm(points, scalars), expected)
    assert calls == [41]
    few = pure_curve.INFINITY
    for point, scalar in zip(prepared[:10], scalars[:10], strict=True):
        few = pure_curve.jacobian_add(few, pure_scalar_mul.glv_mul(point, scalar))
    assert pure_curve.jacobian_eq(pure_msm.msm(prepared[:10], scalars[:10]), few)
    assert calls == [41]  # below _FIXED_MIN_TERMS: the plain path


# --- subgroup membership -----------------------------------------------------------------


def test_subgroup_test_agrees_with_the_order_check_on_random_curve_points():
    for _ in range(3):
        xy = _random_curve_point()
        assert not pure_curve.in_g1(xy)
        assert not _naive_in_g1(xy)
        cleared = _affine(pure_curve.jacobian_mul_unreduced((xy[0], xy[1], 1), H1))
        assert cleared is not None
        assert pure_curve.in_g1(cleared)
        assert _naive_in_g1(cleared)


def test_the_point_with_x_zero_has_order_three_and_is_rejected():
    order_three = (0, 2, 1)
    assert pure_curve.jacobian_mul_unreduced(order_three, 3)[2] == 0
    assert pure_curve.jacobian_mul_unreduced(order_three, 1)[2] != 0
    assert not pure_curve.in_g1((0, 2))


@pytest.mark.parametrize("torsion_prime", [3, 11, 10177])
def test_subgroup_test_rejects_g1_points_shifted_by_small_torsion(torsion_prime):
    # h1 = 3·11^2·10177^2·859267^2·52437899^2; multiplying by R and by h1 without its ℓ-part
    # leaves the ℓ-primary component of a random point (the identity with probability <= 1/ℓ)
    l_part = torsion_prime ** (1 if torsion_prime == 3 else 2)
    assert H1 % l_part == 0
    torsion = pure_curve.INFINITY
    while torsion[2] == 0:
        xy = _random_curve_point()
        torsion = pure_curve.jacobian_mul_unreduced((xy[0], xy[1], 1), R * (H1 // l_part))
    assert pure_curve.jacobian_mul_unreduced(torsion, l_part)[2] == 0
    shifted = _affine(pure_curve.jacobian_add(pure_scalar_mul.glv_mul(pure_g1.PureBackend().generator(), 5), torsion))
    assert not pure_curve.in_g1(shifted)  # type: ignore[arg-type]
    assert not pure_curve.in_g1(_affine(torsion))  # type: ignore[arg-type]


# --- public API: G1Point (each test runs on both engines) ---


@pytest.mark.usefixtures("each_backend")
def test_point_arithmetic_agrees_with_py_ecc(g1_oracle):
    a_log, b_log = RNG.randrange(R), RNG.randrange(R)
    a, b = G1Point.generator() * a_log, G1Point.generator() * b_log
    assert a.affine() == g1_oracle.mul_generator(a_log)
    assert (a + b).affine() == g1_oracle.mul_generator((a_log + b_log) % R)
    assert (a - b).affine() == g1_oracle.mul_generator((a_log - b_log) % R)
    assert (-a).affine() == g1_oracle.neg(a.affine())
    assert a.double() == a + a == 2 * a


@pytest.mark.usefixtures("each_backend")
def test_scalar_multiplication_reduces_mod_r_and_handles_edges():
    g = G1Point.generator()
    assert (g * 0).is_identity()
    assert (g * R).is_identity()
    assert g * 1 == g
    assert g * (R - 1) == -g
    assert g * (R + 3) == g * 3
    assert g * -1 == -g
    assert (G1Point.identity() * 5).is_identity()


@pytest.mark.usefixtures("each_backend")
def test_multiplying_by_a_non_integer_is_a_type_error():
    with pytest.raises(TypeError):
        G1Point.generator() * 1.5  # type: ignore[operator]


@pytest.mark.usefixtures("each_backend")
def test_points_are_immutable_hashable_values():
    g = G1Point.generator()
    with pytest.raises(AttributeError):
        g.x = 1  # type: ignore[attr-defined]
    assert hash(g + g) == hash(g * 2)
    assert len({g, g * 1, g * 2}) == 2
    assert g != G1Point.identity()
    assert (g == "generator") is False


@pytest.mark.usefixtures("each_backend")
def test_points_survive_pickling_for_process_executors():
    points = [G1Point.generator() * 123456789, G1Point.identity()]
    assert pickle.loads(pickle.dumps(points)) == points


@pytest.mark.usefixtures("each_backend")
def test_msm_agrees_with_scalar_multiplication_and_rejects_length_mismatch():
    points = [G1Point.generator() * RNG.randrange(R) for _ in range(20)] + [G1Point.identity()]
    scalars = [RNG.randrange(R) for _ in range(20)] + [7]
    expected = G1Point.identity()
    for point, scalar in zip(points, scalars, strict=True):
        expected = expected + point * scalar
    assert msm(points, scalars) == expected
    assert msm(points + points, scalars + [(-s) % R for s in scalars]).is_identity()
    assert msm([], []).is_identity()
    with pytest.raises(ValueError):
        msm(points, scalars[:-1])


@pytest.mark.usefixtures("each_backend")
def test_batch_affine_matches_affine(g1_oracle):
    points = [G1Point.generator() * k for k in (1, 2, 99)] + [G1Point.identity()]
    assert batch_affine(points) == [p.affine() for p in points]
    assert batch_affine(points)[2] == g1_oracle.mul_generator(99)


@pytest.mark.usefixtures("each_backend")
def test_fixed_base_products_match_scalar_multiplication():
    g = G1Point.generator()
    h = g * 2024
    g_table, h_table = FixedBase(g), FixedBase(h)
    for k in [0, 1, R - 1, R, 2**64 - 1, RNG.randrange(R)]:
        assert g_table.mul(k) == g * k
    scalars = [RNG.randrange(R) for _ in range(5)] + [0]
    assert g_table.mul_many(scalars) == [g * s for s in scalars]
    value, blinding = RNG.getrandbits(64), RNG.randrange(R)
    assert fixed_base_msm([g_table, h_table], [value, blinding]) == g * value + h * blinding
    rows = [(RNG.getrandbits(64), RNG.randrange(R)) for _ in range(3)]
    assert fixed_base_msm_many([g_table, h_table], rows) == [g * v + h * r for v, r in rows]
    with pytest.raises(ValueError):
        fixed_base_msm_many([g_table, h_table], [(1,)])


@pytest.mark.usefixtures("each_backend")
def test_fixed_base_of_the_identity_gives_the_identity():
    assert FixedBase(G1Point.identity()).mul(12345).is_identity()
