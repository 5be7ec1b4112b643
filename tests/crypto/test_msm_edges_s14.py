"""Edge cases of the session-14 pure engine levers against py-ecc: the MSM (equal-scalar grouping, prepared
bases, Pippenger windows), ``combine_points`` and ``fold_points`` (lock-step width-5 NAF chains).

Every point is a known multiple a·G, so the expected value of Σ k_i·(a_i·G) is one py-ecc multiplication of
the generator by Σ k_i·a_i mod r: each case costs one oracle call, whatever its length.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from zkclear.crypto import group, pure_msm
from zkclear.crypto.field import R
from zkclear.crypto.group import G1Point, combine_points, fold_points, msm, prepare_msm_bases
from zkclear.crypto.pure_curve import GLV_LAMBDA

RNG = random.Random(0x514)

#: Scalars at the edges: reduction mod r, negative ones, GLV halves at their largest (R − 2 splits into
#: λ − 1 and λ), signed-digit carries of the prepared bases' 10-bit windows (digits of exactly ±512).
EDGE_SCALARS = [
    0, 1, 2, R - 1, R, R + 1, 2 * R + 3, -1, -7, -R, R - 2, GLV_LAMBDA, GLV_LAMBDA + 1, GLV_LAMBDA - 1,
    sum(512 << (10 * j) for j in range(12)), sum(513 << (10 * j) for j in range(12)), (1 << 128) - 1,
]


def _pool(count: int) -> list[tuple[int, tuple[int, int]]]:
    """(a, affine a·G) for random non-zero a (affine: the engine under test makes its own points)."""
    G = G1Point.generator()
    pool = []
    for _ in range(count):
        a = RNG.randrange(1, R)
        pool.append((a, (G * a).affine()))
    return pool


POOL = _pool(72)


def _expected(g1_oracle, logs: list[int], scalars: list[int]) -> tuple[int, int] | None:
    return g1_oracle.mul_generator(sum(a * k for a, k in zip(logs, scalars, strict=True)) % R)


def _select(name: str, monkeypatch) -> str:
    """The public API on engine ``name`` (the lock-step one for pure, as ZKCLEAR_BACKEND=pure selects; the MSM
    with list bookkeeping, as on Pyodide, for pure-without-numpy), with a fresh prepared-bases cache so that no
    test sees another's."""
    from zkclear.crypto.backend import select_backend

    if name == "arkworks":
        pytest.importorskip("py_arkworks_bls12381")
    if name == "pure-without-numpy":
        monkeypatch.setattr(pure_msm, "np", None)
    monkeypatch.setattr(group, "BACKEND", select_backend(name.removesuffix("-without-numpy")))
    monkeypatch.setattr(pure_msm, "_fixed_rows", {})
    return name


@pytest.fixture(params=["pure", "pure-without-numpy", "arkworks"])
def msm_engine(request, monkeypatch) -> str:
    return _select(request.param, monkeypatch)


@pytest.fixture(params=["pure", "arkworks"])
def engine(request, monkeypatch) -> str:
    """For combine_points and fold_points (the lock-step chains use no numpy)."""
    return _select(request.param, monkeypatch)


def _on_engine(points: list[tuple[int, int]]) -> list[G1Point]:
    """The points on the engine under test."""
    return [G1Point.from_affine(xy) for xy in points]


def test_pool_points_are_the_multiples_the_oracle_computes(g1_oracle):
    for a, point in POOL[:3]:
        assert point == g1_oracle.mul_generator(a)


def test_msm_of_every_length_up_to_70_matches_the_oracle(msm_engine, g1_oracle):
    assert msm([], []).is_identity()
    for n in range(1, 71):
        logs = [a for a, _ in POOL[:n]]
        points = _on_engine([p for _, p in POOL[:n]])
        scalars = [RNG.randrange(R) for _ in range(n)]
        assert msm(points, scalars).affine() == _expected(g1_oracle, logs, scalars), n


@pytest.mark.parametrize("n", [1, 4, 5, 9, 31, 32, 33, 64, 70])
def test_msm_with_edge_scalars_matches_the_oracle(msm_engine, g1_oracle, n):
    logs = [a for a, _ in POOL[:n]]
    points = _on_engine([p for _, p in POOL[:n]])
    scalars = [EDGE_SCALARS[i % len(EDGE_SCALARS)] for i in range(n)]
    assert msm(points, scalars).affine() == _expected(g1_oracle, logs, scalars)
    for k in (0, 1, R - 1, R, R + 1, -1):  # all equal: the grouped path sums the points first
        assert msm(points, [k] * n).affine() == _expected(g1_oracle, logs, [k] * n), k


@pytest.mark.parametrize("n", [5, 6, 10, 40, 70])
def test_msm_with_shared_scalars_repeats_identity_and_cancellations_matches_the_oracle(msm_engine, g1_oracle, n):
    # Many points under a few scalars mixed with distinct ones; a repeated point under the same scalar (a
    # doubling inside a group), P and −P under one scalar (a group summing to the identity), the identity.
    identity = G1Point.identity()
    logs = [a for a, _ in POOL[:n]]
    points = _on_engine([p for _, p in POOL[:n]])
    shared = [3, 15, R - 1, RNG.randrange(R)]
    scalars = [shared[i % 4] if i % 3 else RNG.randrange(R) for i in range(n)]
    logs += [logs[0], R - logs[1], 0, logs[2], R - logs[2]]
    points += [points[0], -points[1], identity, points[2], -points[2]]
    scalars += [scalars[0], scalars[1], shared[0], RNG.randrange(R), -5]
    assert msm(points, scalars).affine() == _expected(g1_oracle, logs, scalars)
    # Everything cancels: Σ k·P + Σ k·(−P) is the identity, grouped or not.
    assert msm(points + [-p for p in points], scalars + scalars).is_identity()
    assert msm(points + points, scalars + [-k for k in scalars]).is_identity()
    assert msm([identity] * n, scalars[:n]).is_identity()
    assert msm(points[:1], [R]).is_identity()
    assert msm([points[0]] * n, [1] * n).affine() == g1_oracle.mul_generator(logs[0] * n % R)


@pytest.mark.parametrize("n", [31, 32, 33, 50, 70])
def test_msm_over_prepared_bases_matches_the_oracle_and_the_plain_msm(msm_engine, g1_oracle, n):
    logs = [a for a, _ in POOL[:n]]
    points = _on_engine([p for _, p in POOL[:n]])
    cases = [
        [EDGE_SCALARS[i % len(EDGE_SCALARS)] for i in range(n)],
        [RNG.randrange(R) for _ in range(n)],
        [R - 1 - i for i in range(n)],
        [R - 1] * n,
        [RNG.randrange(R) if i % 4 == 0 else 1 + i % 3 for i in range(n)],
    ]
    plain = [msm(points, scalars) for scalars in cases]
    prepare_msm_bases(points)
    prepare_msm_bases([*points, G1Point.identity()])  # the identity and prepared points again: ignored
    if msm_engine == "pure":
        assert len(pure_msm._fixed_rows) == n
    if msm_engine == "pure-without-numpy":
        assert not pure_msm._fixed_rows  # the fixed-base path needs numpy: nothing prepared, the plain path
    for scalars, before in zip(cases, plain, strict=True):
        after = msm(points, scalars)
        assert after == before
        assert after.affine() == _expected(g1_oracle, logs, scalars)
    # Prepared bases beside unprepared ones, repeated, negated (cancelling) and the identity.
    extra_logs = [a for a, _ in POOL[n:n + 2]] if n + 2 <= len(POOL) else [7, 11]
    extra = [G1Point.generator() * a for a in extra_logs]
    mixed_points = points + extra + [points[0], -points[1], G1Point.identity()]
    mixed_logs = logs + extra_logs + [logs[0], R - logs[1], 0]
    mixed_scalars = cases[1] + [R - 2, -3, 9, cases[1][1], 5]
    assert msm(mixed_points, mixed_scalars).affine() == _expected(g1_oracle, mixed_logs, mixed_scalars)
    assert msm(points + [-p for p in points], cases[1] + cases[1]).is_identity()


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 17])
def test_combine_points_matches_the_oracle(engine, g1_oracle, n):
    vectors = [_on_engine([p for _, p in POOL[j * n % 50:j * n % 50 + n]]) for j in range(3)]
    logs = [[a for a, _ in POOL[j * n % 50:j * n % 50 + n]] for j in range(3)]
    identity = G1Point.identity()
    vectors[1][0] = identity  # the identity in a scaled vector
    logs[1][0] = 0
    if n > 1:
        vectors[2][1] = -vectors[0][1]  # with equal scalars, the index's sum is the identity
        logs[2][1] = R - logs[0][1]
    for scalars in ([1, 1, 1], [0, 0, 0], [0, 1, R - 1], [R, R + 1, -1], [5, R - 2, 5], [RNG.randrange(R)] * 3,
                    [RNG.randrange(R), 1, RNG.randrange(R)], EDGE_SCALARS[-3:]):
        got = combine_points(vectors, scalars)
        for i in range(n):
            want = _expected(g1_oracle, [logs[j][i] for j in range(3)], scalars)
            assert got[i].affine() == want, (scalars, i)
    assert combine_points([[identity] * n], [3]) == [identity] * n
    with pytest.raises(ValueError):
        combine_points([], [])
    with pytest.raises(ValueError):
        combine_points(vectors, [1, 2])


def test_combine_points_whose_chain_meets_the_identity_midway(engine, g1_oracle, monkeypatch):
    # V2 = −V1 and scalars sharing their top bits: the lock-step accumulator Σ prefix·P is the identity after
    # the shared top digits, then the low digits (5 against 9) leave (5 − 9)·P.
    from zkclear.crypto import pure_fold

    met_identity: list[int] = []
    real = pure_fold._lock_step_sum

    def watched(his, scalars, bad):
        result = real(his, scalars, bad)
        met_identity.append(len(bad))
        return result

    monkeypatch.setattr(pure_fold, "_lock_step_sum", watched)
    n = 12
    logs = [a for a, _ in POOL[:n]]
    v1 = _on_engine([p for _, p in POOL[:n]])
    v2 = [-p for p in v1]
    top = RNG.randrange(1 << 60) << 64
    for low_a, low_b in ((5, 9), (0, 1), (1, 0), (7, 7)):
        scalars = [top + low_a, top + low_b]
        got = combine_points([v1, v2], scalars)
        for i in range(n):
            assert got[i].affine() == g1_oracle.mul_generator(logs[i] * (low_a - low_b) % R), (low_a, low_b, i)
    if engine == "pure":
        assert met_identity and all(count == n for count in met_identity)  # every chain was recomputed alone
    # The same through the GLV second half (scalars ≥ λ) and with a third, unrelated vector.
    v3 = _on_engine([p for _, p in POOL[n:2 * n]])
    logs3 = [a for a, _ in POOL[n:2 * n]]
    scalars = [top * GLV_LAMBDA + 3, top * GLV_LAMBDA + 4, 11]
    got = combine_points([v1, v2, v3], scalars)
    for i in range(n):
        assert got[i].affine() == g1_oracle.mul_generator((-logs[i] + 11 * logs3[i]) % R), i
    if engine == "pure":
        assert met_identity[-1] == n


@pytest.mark.parametrize("n", [1, 7, 8, 9, 17])
def test_fold_points_matches_the_oracle(engine, g1_oracle, n):
    lo = _on_engine([p for _, p in POOL[:n]])
    hi = _on_engine([p for _, p in POOL[n:2 * n]])
    lo_logs = [a for a, _ in POOL[:n]]
    hi_logs = [a for a, _ in POOL[n:2 * n]]
    k = RNG.randrange(R)
    hi[0] = G1Point.identity()
    hi_logs[0] = 0
    if n > 2:
        lo[1] = hi[1] * (R - k)  # lo + k·hi is the identity
        lo_logs[1] = hi_logs[1] * (R - k) % R
        lo[2] = hi[2] * k  # lo + k·hi is a doubling
        lo_logs[2] = hi_logs[2] * k % R
        lo[-1] = G1Point.identity()
        lo_logs[-1] = 0
    for scalar in (k, 0, 1, R - 1, R, R + 1, -1, R - 2, GLV_LAMBDA + 1):
        got = fold_points(lo, hi, scalar)
        for i in range(n):
            want = g1_oracle.mul_generator((lo_logs[i] + scalar * hi_logs[i]) % R)
            assert got[i].affine() == want, (scalar, i)
    assert fold_points([], [], k) == []


def test_a_proof_made_over_prepared_bases_verifies_and_a_tampered_one_fails(monkeypatch):
    from provers.bulletproofs_pp.range_proof import prove_range_pp, verify_range_pp
    from zkclear.errors import VerificationError

    monkeypatch.setattr(pure_msm, "_fixed_rows", {})
    calls = []
    real = pure_msm._fixed_base_msm
    monkeypatch.setattr(pure_msm, "_fixed_base_msm", lambda terms: calls.append(len(terms)) or real(terms))
    context = b"epoch=14/kind=msm-edges/index=0"
    proof, commitments = prove_range_pp([0, (1 << 64) - 1], [RNG.randrange(R), RNG.randrange(R)], context)
    if group.BACKEND.name == "pure":
        assert pure_msm._fixed_rows and calls, "the prover did not take the prepared-bases path"
    verify_range_pp(proof, commitments, context)
    tampered = dataclasses.replace(proof, C_S=proof.C_S + G1Point.generator())
    with pytest.raises(VerificationError):
        verify_range_pp(tampered, commitments, context)
    with pytest.raises(VerificationError):
        verify_range_pp(proof, [commitments[1], commitments[0]], context)
