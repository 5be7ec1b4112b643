"""The logarithmic inner-product argument (Bünz et al. 2018, section 3, protocol 2).

Statement: for public generators ``G_i``, ``H_i`` (i < N, N a power of two), public per-element
factors ``g_i``, ``h_i``, a public point ``Q`` and a point ``P``, the prover knows vectors
``a``, ``b`` with

    P = Σ a_i·g_i·G_i + Σ b_i·h_i·H_i + <a, b>·Q.

The factors let the range proof use ``H'_i = y^{-i}·H_i`` without computing ``H'``
(docs/protocol.md, "Inner-product argument"). Each round k halves the vectors:

    L_k = <a_lo, G_hi> + <b_hi, H_lo> + <a_lo, b_hi>·Q
    R_k = <a_hi, G_lo> + <b_lo, H_hi> + <a_hi, b_lo>·Q
    u_k = challenge after absorbing L_k, R_k
    a <- u_k·a_lo + u_k^{-1}·a_hi        b <- u_k^{-1}·b_lo + u_k·b_hi
    G <- u_k^{-1}·G_lo + u_k·G_hi        H <- u_k·H_lo + u_k^{-1}·H_hi

The verifier never folds: the final generators are ``Σ s_i·g_i·G_i`` and ``Σ s_i^{-1}·h_i·H_i``
with ``s_i = Π_k u_k^{±1}`` (+1 where bit k of i, counted from the most significant, is set),
so the whole check is one multi-scalar multiplication.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zkclear.crypto.field import R, fr_batch_inv, fr_inv
from zkclear.crypto.group import BACKEND, G1Point, fold_points, msm
from zkclear.crypto.transcript import Transcript
from zkclear.errors import ProvingError, VerificationError


@dataclass(frozen=True, slots=True)
class InnerProductProof:
    """The rounds ``(L_k, R_k)`` and the final scalars ``a``, ``b`` of an inner-product argument."""

    L_vec: tuple[G1Point, ...]
    R_vec: tuple[G1Point, ...]
    a: int
    b: int


@dataclass(frozen=True, slots=True)
class InnerProductVerificationScalars:
    """The challenges of a proof and the scalars the verifier puts on each generator.

    ``s[i]`` multiplies ``g_i·G_i`` and ``s[N-1-i] = s[i]^{-1}`` multiplies ``h_i·H_i``.
    """

    u_squared: tuple[int, ...]
    u_inverse_squared: tuple[int, ...]
    s: tuple[int, ...]


def _inner(a: Sequence[int], b: Sequence[int]) -> int:
    return sum(x * y for x, y in zip(a, b, strict=True)) % R


def _fold_points(
    points: Sequence[G1Point], factors: Sequence[int], u_lo: int, u_hi: int
) -> tuple[list[G1Point], list[int]]:
    """Fold ``u_lo·f_lo_i·P_lo_i + u_hi·f_hi_i·P_hi_i`` as ``f'_i·(P_lo_i + k_i·P_hi_i)``.

    Keeping the factor ``f'_i = u_lo·f_lo_i`` beside the point costs one scalar
    multiplication per folded point instead of two.
    """
    half = len(points) // 2
    new_factors = [u_lo * f % R for f in factors[:half]]
    inverses = fr_batch_inv(new_factors)
    ratios = [u_hi * factors[half + i] * inverses[i] % R for i in range(half)]
    if all(k == ratios[0] for k in ratios):
        # The range proof's factors (1 for G, y^-i for H) give one ratio per round: many points times
        # one scalar, which the engine does in lock step (zkclear.crypto.pure_fold).
        return fold_points(points[:half], points[half:], ratios[0]), new_factors
    folded = [points[i] + points[half + i] * ratios[i] for i in range(half)]
    return folded, new_factors


#: Rounds the prover runs over the unfolded generators before folding, per group engine (see
#: :func:`prove_inner_product`). Measured (docs/performance.md, "Range proofs"): the pure engine's
#: batched folding is cheaper than any tracking; with arkworks' binding a scalar multiplication costs
#: about 190 µs per call while its MSM costs about 17 µs per point, so tracking the first rounds as MSMs
#: over the original generators and then collapsing them with one small MSM per folded point pays.
TRACKED_ROUNDS = {"pure": 0, "arkworks": 4}


def prove_inner_product(
    transcript: Transcript,
    Q: G1Point,
    G_factors: Sequence[int],
    H_factors: Sequence[int],
    G_vec: Sequence[G1Point],
    H_vec: Sequence[G1Point],
    a_vec: Sequence[int],
    b_vec: Sequence[int],
    *,
    tracked_rounds: int | None = None,
) -> InnerProductProof:
    """An inner-product argument for ``P = <a, g∘G> + <b, h∘H> + <a,b>·Q`` (P implicit).

    The caller has bound P (or everything it is computed from) in ``transcript``.

    The first ``tracked_rounds`` rounds (default: :data:`TRACKED_ROUNDS` for the engine in use) never
    fold: each generator of the current, virtually folded vector is kept as the coefficients of the
    original generators it sums (``cG``, ``cH``), and ``L_k``, ``R_k`` are MSMs over the originals.
    Then each folded generator is computed once by a small MSM and the remaining rounds fold. The
    proof is the same point for point whatever the split (tested).
    """
    n = len(G_vec)
    if n == 0 or n & (n - 1) or not (len(H_vec) == len(a_vec) == len(b_vec) == len(G_factors)
                                     == len(H_factors) == n):
        raise ProvingError(f"inner-product vectors must share one power-of-two length, got {n}")
    transcript.append_u64(b"ipa/n", n)
    G, H = list(G_vec), list(H_vec)
    g, h = [f % R for f in G_factors], [f % R for f in H_factors]
    a, b = [x % R for x in a_vec], [x % R for x in b_vec]
    rounds = n.bit_length() - 1
    tracked = TRACKED_ROUNDS.get(BACKEND.name, 0) if tracked_rounds is None else tracked_rounds
    tracked = max(0, min(tracked, rounds))
    L_vec: list[G1Point] = []
    R_vec: list[G1Point] = []
    for round_index in range(rounds):
        n //= 2
        a_lo, a_hi, b_lo, b_hi = a[:n], a[n:], b[:n], b[n:]
        if round_index < tracked:
            L, R_ = _tracked_cross_terms(G, H, g, h, a, b, n, Q)
        else:
            L = msm(
                [*G[n:], *H[:n], Q],
                [*(x * f % R for x, f in zip(a_lo, g[n:], strict=True)),
                 *(x * f % R for x, f in zip(b_hi, h[:n], strict=True)), _inner(a_lo, b_hi)],
            )
            R_ = msm(
                [*G[:n], *H[n:], Q],
                [*(x * f % R for x, f in zip(a_hi, g[:n], strict=True)),
                 *(x * f % R for x, f in zip(b_lo, h[n:], strict=True)), _inner(a_hi, b_lo)],
            )
        transcript.append_point(b"L", L)
        transcript.append_point(b"R", R_)
        L_vec.append(L)
        R_vec.append(R_)
        u = transcript.challenge_scalar(b"u")
        if u == 0:
            raise ProvingError("inner-product challenge u is zero (probability 2^-255); retry")
        u_inv = fr_inv(u)
        a = [(u * lo + u_inv * hi) % R for lo, hi in zip(a_lo, a_hi, strict=True)]
        b = [(u_inv * lo + u * hi) % R for lo, hi in zip(b_lo, b_hi, strict=True)]
        if round_index < tracked:
            # G <- u^-1·G_lo + u·G_hi and H <- u·H_lo + u^-1·H_hi, on the originals' coefficients.
            mask = 2 * n - 1
            g = [c * (u_inv if j & mask < n else u) % R for j, c in enumerate(g)]
            h = [c * (u if j & mask < n else u_inv) % R for j, c in enumerate(h)]
            if round_index == tracked - 1 and n > 1:
                G, g = _collapse(G, g, n)
                H, h = _collapse(H, h, n)
        elif n > 1:  # the last round's generators are never used again
            # Folding costs one scalar multiplication per point; measured against tracking
            # coefficients over the unfolded generators (two msm of N points per round), folding
            # is as fast at N = 64 and 2x faster at N = 4096 on the pure engine (docs/performance.md).
            G, g = _fold_points(G, g, u_inv, u)
            H, h = _fold_points(H, h, u, u_inv)
    return InnerProductProof(L_vec=tuple(L_vec), R_vec=tuple(R_vec), a=a[0], b=b[0])


def _tracked_cross_terms(
    G: list[G1Point], H: list[G1Point], g: list[int], h: list[int], a: list[int], b: list[int], n: int,
    Q: G1Point,
) -> tuple[G1Point, G1Point]:
    """``L``, ``R`` of a round whose current vectors (length 2n) are virtual: current generator ``i`` is
    ``Σ_{j ≡ i mod 2n} g_j·G_j`` over the originals (and likewise for H)."""
    mask = 2 * n - 1
    L_points: list[G1Point] = []
    L_scalars: list[int] = []
    R_points: list[G1Point] = []
    R_scalars: list[int] = []
    for j, (G_j, H_j, g_j, h_j) in enumerate(zip(G, H, g, h, strict=True)):
        position = j & mask
        if position < n:  # G_j in G_lo (R: a_hi), H_j in H_lo (L: b_hi)
            R_points.append(G_j)
            R_scalars.append(a[position + n] * g_j % R)
            L_points.append(H_j)
            L_scalars.append(b[position + n] * h_j % R)
        else:  # G_j in G_hi (L: a_lo), H_j in H_hi (R: b_lo)
            L_points.append(G_j)
            L_scalars.append(a[position - n] * g_j % R)
            R_points.append(H_j)
            R_scalars.append(b[position - n] * h_j % R)
    L = msm([*L_points, Q], [*L_scalars, _inner(a[:n], b[n:])])
    R_ = msm([*R_points, Q], [*R_scalars, _inner(a[n:], b[:n])])
    return L, R_


def _collapse(points: list[G1Point], coefficients: list[int], n: int) -> tuple[list[G1Point], list[int]]:
    """The n current generators ``Σ_{j ≡ i mod n} c_j·P_j`` as points (factors 1), one small MSM each."""
    return [msm(points[i::n], coefficients[i::n]) for i in range(n)], [1] * n


def verification_scalars(
    proof: InnerProductProof, n: int, transcript: Transcript
) -> InnerProductVerificationScalars:
    """Replay the rounds in ``transcript`` and derive ``u_k^2``, ``u_k^{-2}`` and ``s``.

    Raises VerificationError if the number of rounds is not log2(n) or a challenge is zero.
    """
    rounds = len(proof.L_vec)
    if n <= 0 or n & (n - 1) or n != 1 << rounds or len(proof.R_vec) != rounds:
        raise VerificationError(f"inner-product proof has {rounds} rounds, expected log2({n})")
    transcript.append_u64(b"ipa/n", n)
    challenges = []
    for L, R_ in zip(proof.L_vec, proof.R_vec, strict=True):
        transcript.append_point(b"L", L)
        transcript.append_point(b"R", R_)
        u = transcript.challenge_scalar(b"u")
        if u == 0:
            raise VerificationError("inner-product challenge u is zero")
        challenges.append(u)
    inverses = fr_batch_inv(challenges) if challenges else []
    u_squared = tuple(u * u % R for u in challenges)
    u_inverse_squared = tuple(v * v % R for v in inverses)
    # s_0 = Π u_k^{-1}; s_i = s_{i - 2^t}·u_{k(t)}^2 where t is the top set bit of i and
    # k(t) = rounds - 1 - t is the round that split on that bit.
    s = [0] * n
    first = 1
    for v in inverses:
        first = first * v % R
    s[0] = first
    for i in range(1, n):
        t = i.bit_length() - 1
        s[i] = s[i - (1 << t)] * u_squared[rounds - 1 - t] % R
    return InnerProductVerificationScalars(
        u_squared=u_squared, u_inverse_squared=u_inverse_squared, s=tuple(s)
    )


def verify_inner_product(
    proof: InnerProductProof,
    transcript: Transcript,
    P: G1Point,
    Q: G1Point,
    G_factors: Sequence[int],
    H_factors: Sequence[int],
    G_vec: Sequence[G1Point],
    H_vec: Sequence[G1Point],
) -> None:
    """Check a standalone inner-product argument with one multi-scalar multiplication.

    Checks ``P + Σ u_k^2·L_k + Σ u_k^{-2}·R_k = a·Σ s_i·g_i·G_i + b·Σ s_i^{-1}·h_i·H_i + a·b·Q``;
    raises VerificationError otherwise.
    """
    n = len(G_vec)
    if not len(H_vec) == len(G_factors) == len(H_factors) == n:
        raise VerificationError("inner-product generator and factor vectors differ in length")
    scalars = verification_scalars(proof, n, transcript)
    s = scalars.s
    a, b = proof.a % R, proof.b % R
    check = msm(
        [*G_vec, *H_vec, Q, P, *proof.L_vec, *proof.R_vec],
        [*(-a * s[i] * G_factors[i] % R for i in range(n)),
         *(-b * s[n - 1 - i] * H_factors[i] % R for i in range(n)),
         -a * b % R, 1, *scalars.u_squared, *scalars.u_inverse_squared],
    )
    if not check.is_identity():
        raise VerificationError("inner-product argument does not verify")
