"""The weighted norm linear argument, WNLA (Eagen, Kanjalkar, Ruffing, Nick, "Bulletproofs++", eprint 2022/510).

Statement: for public points ``G`` (the value base), ``G_vec`` (length N) and ``H_vec`` (length L),
a public vector ``c`` in Fr^L and a public ``ρ ≠ 0`` with ``μ = ρ²``, the prover knows ``l`` in Fr^L
and ``n`` in Fr^N with

    C = v·G + <l, H_vec> + <n, G_vec>,    v = <c, l> + |n|²_μ,    |n|²_μ = Σ_i μ^{i+1}·n_i²

(indices from 0). N and L are powers of two. Each round splits every vector into its even and odd
positions (``x0 = x[0::2]``, ``x1 = x[1::2]``) and, with ``μ' = μ²``, sends

    X = v_X·G + <l0, H1> + <l1, H0> + ρ·<n1, G0> + ρ^{-1}·<n0, G1>,
        v_X = 2ρ^{-1}·<n0, n1>_{μ'} + <c0, l1> + <c1, l0>
    R = v_R·G + <l1, H1> + <n1, G1>,    v_R = |n1|²_{μ'} + <c1, l1>;

after absorbing X and R the transcript gives γ ≠ 0 and both sides move to

    C' = C + γ·X + (γ² − 1)·R,   c' = c0 + γ·c1,   l' = l0 + γ·l1,   n' = ρ^{-1}·n0 + γ·n1,
    H' = H0 + γ·H1,   G' = ρ·G0 + γ·G1,   ρ' = μ,   μ' = μ²

(the same relation holds for the primed values: docs/protocol.md, "Bulletproofs++ range proof").
The rounds stop when a vector has length 1 or ``L + N < 6``; the prover then sends ``l`` and
``n``. The verifier never folds a point: the final ``H'_q``, ``G'_q`` are sums of the original
generators with products of the round factors (1 or γ_k for H, ρ_k or γ_k for G), so the whole
check is one multi-scalar multiplication (:func:`wnla_terms`).

The argument is not zero-knowledge on its own (its last message is the folded witness); the range
proof that uses it blinds the witness first. The caller's transcript must already bind ``C``,
``c`` and ``ρ``: this module absorbs only the lengths and the round messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zkclear.crypto.field import R, fr_inv
from zkclear.crypto.group import BACKEND, G1Point, combine_points, fold_points, msm
from zkclear.crypto.transcript import Transcript
from zkclear.errors import ProvingError, VerificationError

#: The rounds stop once the two vectors together have fewer elements than this.
FINAL_SIZE = 6


def weighted_inner(a: Sequence[int], b: Sequence[int], mu: int) -> int:
    """<a, b>_μ = Σ_i μ^{i+1}·a_i·b_i mod r."""
    total, power = 0, 1
    for x, y in zip(a, b, strict=True):
        power = power * mu % R
        total += power * x % R * y
    return total % R


def inner(a: Sequence[int], b: Sequence[int]) -> int:
    """<a, b> = Σ_i a_i·b_i mod r."""
    return sum(x * y for x, y in zip(a, b, strict=True)) % R


def _is_power_of_two(size: int) -> bool:
    return size >= 1 and size & (size - 1) == 0


def wnla_shape(l_length: int, n_length: int) -> tuple[int, int, int]:
    """``(rounds, final l length, final n length)`` for vectors of these lengths (powers of two)."""
    rounds = 0
    while l_length >= 2 and n_length >= 2 and l_length + n_length >= FINAL_SIZE:
        l_length //= 2
        n_length //= 2
        rounds += 1
    return rounds, l_length, n_length


@dataclass(frozen=True, slots=True)
class WnlaProof:
    """The round messages ``X_k``, ``R_k`` and the final vectors ``l``, ``n``."""

    X: tuple[G1Point, ...]
    R: tuple[G1Point, ...]
    l: tuple[int, ...]
    n: tuple[int, ...]


def _challenge(transcript: Transcript, label: bytes, error: type[Exception]) -> int:
    value = transcript.challenge_scalar(label)
    if value == 0:  # probability 2^-255; a zero γ would let the prover drop half of the witness
        raise error(f"challenge {label.decode()} is zero")
    return value


def _start(transcript: Transcript, l_length: int, n_length: int, error: type[Exception]) -> None:
    if not (_is_power_of_two(l_length) and _is_power_of_two(n_length)):
        raise error(f"WNLA vector lengths must be powers of two, got l={l_length}, n={n_length}")
    transcript.append_u64(b"wnla/l", l_length)
    transcript.append_u64(b"wnla/n", n_length)


#: Rounds the prover runs over the unfolded generators before folding, per group engine (see
#: :func:`prove_wnla`). Measured (CPU time, the range proof's shapes): arkworks' binding costs about 190 µs
#: per scalar multiplication (a fold) but 20–45 µs per point in a large MSM: a tracked round costs an MSM
#: over all L + N originals (X) and half of them (R), the collapse one MSM of 2^t points per current
#: generator. At L + N = 640 (collateral parts) three rounds are best (−7 to −20 % of the WNLA on a
#: loaded machine; four as good, one worse than folding, all about as slow as folding); L + N = 96: three.
#: The pure engine collapses in lock step (every block's chain shares the doublings of the 2^t − 1 round
#: products): two rounds take 6–8 % off its WNLA at L + N = 160–640 against folding every round (one is
#: the same as folding, three slower; docs/performance.md, "Session 14: pure engine levers").
TRACKED_ROUNDS = {"pure": 2, "arkworks": 3}
#: On an engine that tracks, vectors with at most this many elements together track every round: no
#: generator is folded or collapsed (measured best at L + N = 48 and 64, tree nodes of 1 and 2 values).
TRACK_ALL_SIZE = 64


def prove_wnla(
    transcript: Transcript,
    G: G1Point,
    G_vec: Sequence[G1Point],
    H_vec: Sequence[G1Point],
    c: Sequence[int],
    rho: int,
    l: Sequence[int],
    n: Sequence[int],
    *,
    tracked_rounds: int | None = None,
) -> WnlaProof:
    """A WNLA proof that ``(l, n)`` opens ``C = (<c, l> + |n|²_{ρ²})·G + <l, H_vec> + <n, G_vec>``.

    Raises ProvingError on mismatched lengths or ρ = 0. ``C`` is not an input: the caller's
    transcript binds it.

    The first ``tracked_rounds`` rounds (default: :data:`TRACKED_ROUNDS` for the engine in use, every
    round for short vectors (:data:`TRACK_ALL_SIZE`); at most the number of rounds) never fold: after
    k rounds the current generator j is ``Σ_{i >> k = j} coefficient_i·original_i`` (the even/odd
    split makes it a block of 2^k consecutive originals), the coefficients are kept and ``X``, ``R``
    are MSMs over the originals. If rounds remain, each current generator is then computed once by a
    small MSM over its block and the remaining rounds fold. The proof is the same byte for byte
    whatever the split (tested).
    """
    if not (len(G_vec) == len(n) and len(H_vec) == len(l) == len(c)):
        raise ProvingError("WNLA: generator and vector lengths disagree")
    if rho % R == 0:
        raise ProvingError("WNLA: ρ must be non-zero")
    _start(transcript, len(l), len(n), ProvingError)
    l, n, c = [x % R for x in l], [x % R for x in n], [x % R for x in c]
    rounds = wnla_shape(len(l), len(n))[0]
    if tracked_rounds is None:
        tracked_rounds = TRACKED_ROUNDS.get(BACKEND.name, 0)
        if tracked_rounds and len(l) + len(n) <= TRACK_ALL_SIZE:
            tracked_rounds = rounds
    tracked = max(0, min(tracked_rounds, rounds))
    H_vec = list(H_vec)
    # G_vec is kept as g_scale·G_stored: the fold ρ·G0 + γ·G1 = ρ·(G0 + γρ^{-1}·G1) is then one
    # "many points times one scalar" call, with ρ carried in g_scale.
    G_stored, g_scale = list(G_vec), 1
    # While tracking: current H_j = Σ_{i >> k = j} h_coefficients[i]·H_vec[i], and likewise
    # current G_stored_j over the original G_vec.
    h_coefficients, g_coefficients = [1] * len(H_vec), [1] * len(G_stored)
    rho %= R
    X_vec: list[G1Point] = []
    R_vec: list[G1Point] = []
    for round_index in range(rounds):
        rho_inv = fr_inv(rho)
        mu = rho * rho % R
        mu2 = mu * mu % R
        l0, l1, n0, n1, c0, c1 = l[0::2], l[1::2], n[0::2], n[1::2], c[0::2], c[1::2]
        v_X = (2 * rho_inv * weighted_inner(n0, n1, mu2) + inner(c0, l1) + inner(c1, l0)) % R
        v_R = (weighted_inner(n1, n1, mu2) + inner(c1, l1)) % R
        rho_g, rho_inv_g = rho * g_scale % R, rho_inv * g_scale % R
        if round_index < tracked:
            X, R_point = _tracked_messages(G, G_stored, H_vec, g_coefficients, h_coefficients, round_index,
                                           l, n, v_X, v_R, rho_g, rho_inv_g, g_scale)
        else:
            H0, H1, G0, G1 = H_vec[0::2], H_vec[1::2], G_stored[0::2], G_stored[1::2]
            X = msm([G, *H0, *H1, *G0, *G1],
                    [v_X, *l1, *l0, *(rho_g * x for x in n1), *(rho_inv_g * x for x in n0)])
            R_point = msm([G, *H1, *G1], [v_R, *l1, *(g_scale * x for x in n1)])
        transcript.append_point(b"wnla/X", X)
        transcript.append_point(b"wnla/R", R_point)
        gamma = _challenge(transcript, b"wnla/gamma", ProvingError)
        X_vec.append(X)
        R_vec.append(R_point)
        l = [(a + gamma * b) % R for a, b in zip(l0, l1, strict=True)]
        n = [(rho_inv * a + gamma * b) % R for a, b in zip(n0, n1, strict=True)]
        c = [(a + gamma * b) % R for a, b in zip(c0, c1, strict=True)]
        if round_index < tracked:
            # H' = H0 + γ·H1 and G_stored' = G0 + γρ^{-1}·G1 on the originals' coefficients: the
            # originals in an odd current position (bit round_index set) take the factor.
            g_factor = gamma * rho_inv % R
            h_coefficients = [x * gamma % R if i >> round_index & 1 else x for i, x in enumerate(h_coefficients)]
            g_coefficients = [x * g_factor % R if i >> round_index & 1 else x
                              for i, x in enumerate(g_coefficients)]
            if round_index == tracked - 1 and tracked < rounds:
                H_vec = _collapse(H_vec, h_coefficients, len(l))
                G_stored = _collapse(G_stored, g_coefficients, len(n))
        elif round_index < rounds - 1:  # the last round's generators are never used again
            H_vec = fold_points(H_vec[0::2], H_vec[1::2], gamma)
            G_stored = fold_points(G_stored[0::2], G_stored[1::2], gamma * rho_inv)
        g_scale = rho_g
        rho = mu
    return WnlaProof(X=tuple(X_vec), R=tuple(R_vec), l=tuple(l), n=tuple(n))


def _tracked_messages(
    G: G1Point, G_vec: list[G1Point], H_vec: list[G1Point], g_coefficients: list[int], h_coefficients: list[int],
    round_index: int, l: list[int], n: list[int], v_X: int, v_R: int, rho_g: int, rho_inv_g: int, g_scale: int,
) -> tuple[G1Point, G1Point]:
    """``X`` and ``R`` of a round whose current generators are virtual (:func:`prove_wnla`): the scalar
    of current position p, times each original's coefficient, over the originals with ``i >> k = p``."""
    # X: an even position p takes the odd partner's value (l_{p+1}; ρ·n_{p+1} on G), an odd one the
    # even partner's (l_{p-1}; ρ^{-1}·n_{p-1}). R: only odd positions, with their own l_p and n_p.
    h_x = [l[p ^ 1] for p in range(len(l))]
    g_x = [(rho_g * n[p + 1] if p % 2 == 0 else rho_inv_g * n[p - 1]) % R for p in range(len(n))]
    h_r = l
    g_r = [g_scale * x % R for x in n]
    # Terms with a zero scalar are left out: the range proof's unused l slots (public positions) are zero
    # and stay zero in a tail of l, which is a sixth of the originals at its largest shapes.
    X_points, X_scalars = [G], [v_X]
    R_points, R_scalars = [G], [v_R]
    for points, coefficients, x_scalars, r_scalars in ((H_vec, h_coefficients, h_x, h_r),
                                                       (G_vec, g_coefficients, g_x, g_r)):
        for i, (point, coefficient) in enumerate(zip(points, coefficients, strict=True)):
            p = i >> round_index
            if x_scalars[p]:
                X_points.append(point)
                X_scalars.append(coefficient * x_scalars[p] % R)
            if p & 1 and r_scalars[p]:
                R_points.append(point)
                R_scalars.append(coefficient * r_scalars[p] % R)
    return msm(X_points, X_scalars), msm(R_points, R_scalars)


def _collapse(points: list[G1Point], coefficients: list[int], size: int) -> list[G1Point]:
    """The ``size`` current generators ``Σ_{i >> k = j} c_i·P_i`` (blocks of 2^k = len(points)/size).

    An original's coefficient is the product of the round factors of the set bits of i mod 2^k, the same in
    every block: so current j = Σ_r c_r·P_{j·2^k + r}, one engine call over 2^k strided vectors (an MSM per
    block on the native engine, every block's chain in lock step on the pure one)."""
    block = len(points) // size
    return combine_points([points[r::block] for r in range(block)], coefficients[:block])


@dataclass(frozen=True, slots=True)
class WnlaTerms:
    """What a WNLA proof asks of its commitment ``C``: the argument holds iff

    ``C + Σ_k (round_scalars[k]·round_points[k]) = G_scalar·G + Σ h_scalars[i]·H_i + Σ g_scalars[i]·G_i``.

    ``g_scalars[i] = g_final[i >> K]·g_low[i mod 2^K]`` (K rounds) is kept in these two factors: a verifier that
    multiplies the g scalars into its own sum (the range proof's) need not reduce each product on its own.
    """

    round_points: list[G1Point]
    round_scalars: list[int]
    G_scalar: int
    h_scalars: list[int]
    g_final: list[int]
    g_low: list[int]

    @property
    def g_scalars(self) -> list[int]:
        """The scalar of every G_i."""
        return [x * y % R for x in self.g_final for y in self.g_low]


def _expand(final: Sequence[int], factors: Sequence[tuple[int, int]]) -> list[int]:
    """Per original position i: ``final[i >> K]·Π_k (even_k if bit k of i is 0 else odd_k)``."""
    out = list(final)
    for even, odd in reversed(factors):
        expanded = [0] * (2 * len(out))
        for q, value in enumerate(out):
            expanded[2 * q] = value * even % R
            expanded[2 * q + 1] = value * odd % R
        out = expanded
    return out


def wnla_terms(
    transcript: Transcript, proof: WnlaProof, c: Sequence[int], rho: int, l_length: int, n_length: int
) -> WnlaTerms:
    """Replay the transcript of ``proof`` and return its verification equation (:class:`WnlaTerms`).

    Raises VerificationError if the proof has the wrong shape (rounds, final lengths, types).
    """
    if not isinstance(proof, WnlaProof):
        raise VerificationError(f"expected a WnlaProof, got {type(proof).__name__}")
    if len(c) != l_length:
        raise VerificationError("WNLA: c and l have different lengths")
    rounds, l_final, n_final = wnla_shape(l_length, n_length)
    if len(proof.X) != rounds or len(proof.R) != rounds:
        raise VerificationError(f"WNLA proof has {len(proof.X)}/{len(proof.R)} rounds, expected {rounds}")
    if len(proof.l) != l_final or len(proof.n) != n_final:
        raise VerificationError(f"WNLA final vectors have lengths {len(proof.l)}, {len(proof.n)}, "
                                f"expected {l_final}, {n_final}")
    if not all(isinstance(P, G1Point) for P in (*proof.X, *proof.R)):
        raise VerificationError("WNLA round messages must be G1Point")
    if not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < R for x in (*proof.l, *proof.n)):
        raise VerificationError("WNLA final scalars must be integers in [0, r)")
    if rho % R == 0:
        raise VerificationError("WNLA: ρ must be non-zero")
    _start(transcript, l_length, n_length, VerificationError)
    rho %= R
    c = [x % R for x in c]
    h_factors: list[tuple[int, int]] = []
    g_factors: list[tuple[int, int]] = []
    round_scalars_X, round_scalars_R = [], []
    for X, R_point in zip(proof.X, proof.R, strict=True):
        transcript.append_point(b"wnla/X", X)
        transcript.append_point(b"wnla/R", R_point)
        gamma = _challenge(transcript, b"wnla/gamma", VerificationError)
        round_scalars_X.append(gamma)
        round_scalars_R.append((gamma * gamma - 1) % R)
        h_factors.append((1, gamma))
        g_factors.append((rho, gamma))
        c = [(a + gamma * b) % R for a, b in zip(c[0::2], c[1::2], strict=True)]
        rho = rho * rho % R
    mu = rho * rho % R
    v = (inner(c, proof.l) + weighted_inner(proof.n, proof.n, mu)) % R
    return WnlaTerms(
        round_points=[*proof.X, *proof.R],
        round_scalars=[*round_scalars_X, *round_scalars_R],
        G_scalar=v,
        h_scalars=_expand(proof.l, h_factors),
        g_final=list(proof.n),
        g_low=_expand([1], g_factors),
    )


def verify_wnla(
    transcript: Transcript,
    C: G1Point,
    G: G1Point,
    G_vec: Sequence[G1Point],
    H_vec: Sequence[G1Point],
    c: Sequence[int],
    rho: int,
    proof: WnlaProof,
) -> None:
    """Check a standalone WNLA proof for ``C`` with one multi-scalar multiplication.

    Raises VerificationError on any failure. The caller's transcript must already bind C, c and ρ.
    """
    if len(H_vec) != len(c):
        raise VerificationError("WNLA: H_vec and c have different lengths")
    terms = wnla_terms(transcript, proof, c, rho, len(H_vec), len(G_vec))
    check = msm(
        [C, *terms.round_points, G, *H_vec, *G_vec],
        [1, *terms.round_scalars, -terms.G_scalar, *(-h for h in terms.h_scalars),
         *(-g for g in terms.g_scalars)],
    )
    if not check.is_identity():
        raise VerificationError("weighted norm linear argument does not verify")
