"""The WNLA round extractor of docs/protocol.md ("WNLA: the variant used and the paper's theorem"), run on numbers.

A real Bulletproofs++ range proof (m = 1) is made; its WNLA instance (l(T), n(T), c(T), ρ, generators) is
captured, and the WNLA's last round is rewound with four chosen, distinct γ through a transcript that returns
them. The formulas of the written round extractor (interpolation, the cubic identities (H) and (G), the norm)
recover the witness before that round from the four final vectors; the test checks it against the prover's
actual folded vectors and the openings of X, R and C against the points themselves. The T⁴ line of the written
extractor ("Extractor (written)", step D) is checked on arbitrary values.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from provers.bulletproofs_pp import range_proof as bpp
from provers.bulletproofs_pp.parameters import BASE, DIGITS
from provers.bulletproofs_pp.range_proof import prove_range_pp, verify_range_pp
from provers.bulletproofs_pp.wnla import inner, prove_wnla, verify_wnla, weighted_inner, wnla_shape
from zkclear.crypto.field import R, fr_inv, fr_random
from zkclear.crypto.group import G1Point, msm
from zkclear.crypto.transcript import Transcript

CONTEXT = b"test/bpp-extraction"


class _Rewound:
    """A transcript whose γ of round ``rewound_round`` is ``forced``; everything else is the real transcript."""

    def __init__(self, inner_transcript: Transcript, rewound_round: int, forced: int) -> None:
        self._inner = inner_transcript
        self._round = rewound_round
        self._forced = forced
        self.gammas: list[int] = []

    def append_u64(self, label: bytes, value: int) -> None:
        self._inner.append_u64(label, value)

    def append_point(self, label: bytes, point: G1Point) -> None:
        self._inner.append_point(label, point)

    def challenge_scalar(self, label: bytes) -> int:
        value = self._inner.challenge_scalar(label)
        if label == b"wnla/gamma":
            if len(self.gammas) == self._round:
                value = self._forced
            self.gammas.append(value)
        return value


@pytest.fixture(scope="module")
def wnla_instance() -> dict:
    """The WNLA input of a real m = 1 range proof, captured at the call, and the transcript state there."""
    captured: dict = {}
    real = bpp.prove_wnla

    def capture(transcript, G, G_vec, H_vec, c, rho, l, n):
        captured.update(transcript=transcript.fork(), G=G, G_vec=list(G_vec), H_vec=list(H_vec), c=list(c),
                        rho=rho, l=list(l), n=list(n))
        return real(transcript, G, G_vec, H_vec, c, rho, l, n)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bpp, "prove_wnla", capture)
        proof, commitments = prove_range_pp([0xDEADBEEF12345678], [fr_random()], CONTEXT)
    verify_range_pp(proof, commitments, CONTEXT)  # the captured instance belongs to an accepted proof
    mu = captured["rho"] * captured["rho"] % R
    v = (inner(captured["c"], captured["l"]) + weighted_inner(captured["n"], captured["n"], mu)) % R
    captured["C"] = msm([captured["G"], *captured["H_vec"], *captured["G_vec"]], [v, *captured["l"], *captured["n"]])
    return captured


def _fold(x0: Sequence[int], x1: Sequence[int], a: int, b: int) -> list[int]:
    return [(a * p + b * q) % R for p, q in zip(x0, x1, strict=True)]


def _fold_points(P0: Sequence[G1Point], P1: Sequence[G1Point], a: int, b: int) -> list[G1Point]:
    return [msm([p, q], [a, b]) for p, q in zip(P0, P1, strict=True)]


def _interpolate(xs: Sequence[int], ys: Sequence[list[int]]) -> list[list[int]]:
    """Coefficients (a_0, a_1, a_2) of the coordinate-wise quadratic through (xs[i], ys[i]), i < 3 (Lagrange)."""
    coefficients = [[0] * len(ys[0]) for _ in range(3)]
    for i in range(3):
        others = [xs[j] for j in range(3) if j != i]
        scale = fr_inv((xs[i] - others[0]) * (xs[i] - others[1]))
        # (X − x_a)(X − x_b) = X² − (x_a + x_b)·X + x_a·x_b
        basis = [others[0] * others[1] % R, -(others[0] + others[1]) % R, 1]
        for power in range(3):
            factor = basis[power] * scale % R
            coefficients[power] = [(acc + factor * y) % R for acc, y in zip(coefficients[power], ys[i], strict=True)]
    return coefficients


def _evaluate(coefficients: Sequence[list[int]], x: int) -> list[int]:
    return [(a0 + a1 * x + a2 * x * x) % R for a0, a1, a2 in zip(*coefficients, strict=True)]


def test_four_rewound_gammas_of_the_last_wnla_round_give_back_the_provers_vectors(wnla_instance) -> None:
    inst = wnla_instance
    G, G_vec, H_vec, c, rho = inst["G"], inst["G_vec"], inst["H_vec"], inst["c"], inst["rho"]
    rounds, l_final, n_final = wnla_shape(len(H_vec), len(G_vec))
    assert (rounds, l_final, n_final) == (4, 2, 1)
    last = rounds - 1

    # Four distinct γ for the last round, among them ±1 (γ² − 1 = 0 is allowed: the extractor needs distinctness).
    gammas_last = [1, R - 1, 2, fr_random() or 3]
    assert len(set(gammas_last)) == 4
    finals, round_points = [], None
    for forced in gammas_last:
        prover_side = _Rewound(inst["transcript"].fork(), last, forced)
        proof = prove_wnla(prover_side, G, G_vec, H_vec, c, rho, inst["l"], inst["n"])
        verify_wnla(_Rewound(inst["transcript"].fork(), last, forced), inst["C"], G, G_vec, H_vec, c, rho, proof)
        assert prover_side.gammas[last] == forced
        earlier = prover_side.gammas[:last]
        if round_points is None:
            round_points, gammas_before = (proof.X, proof.R), earlier
        assert round_points == (proof.X, proof.R) and earlier == gammas_before  # X, R, γ_0..γ_{K-2} fixed first
        finals.append((list(proof.l), list(proof.n)))

    # The prover's actual state before the last round (the witness the extractor must find), and the round's public
    # data: C_k, c^{(k)}, H^{(k)}, G^{(k)}, ρ_k, by folding with the real γ_0 … γ_{K-2}.
    l_k, n_k, c_k, H_k, G_k, rho_k = list(inst["l"]), list(inst["n"]), list(c), list(H_vec), list(G_vec), rho
    C_k = inst["C"]
    X_all, R_all = round_points
    for k, gamma in enumerate(gammas_before):
        rho_inv = fr_inv(rho_k)
        l_k = _fold(l_k[0::2], l_k[1::2], 1, gamma)
        n_k = _fold(n_k[0::2], n_k[1::2], rho_inv, gamma)
        c_k = _fold(c_k[0::2], c_k[1::2], 1, gamma)
        H_k = _fold_points(H_k[0::2], H_k[1::2], 1, gamma)
        G_k = _fold_points(G_k[0::2], G_k[1::2], rho_k, gamma)
        C_k = msm([C_k, X_all[k], R_all[k]], [1, gamma, gamma * gamma - 1])
        rho_k = rho_k * rho_k % R
    mu_k = rho_k * rho_k % R
    c0, c1 = c_k[0::2], c_k[1::2]
    half_l, half_n = len(l_k) // 2, len(n_k) // 2

    # o_i: the exponent vector of C'_i over 𝔅 = (G; H0, H1; G0, G1), from the i-th accepted final vectors.
    openings = []
    for gamma, (l_i, n_i) in zip(gammas_last, finals, strict=True):
        v_i = (inner(_fold(c0, c1, 1, gamma), l_i) + weighted_inner(n_i, n_i, mu_k * mu_k % R)) % R
        openings.append([v_i, *l_i, *(gamma * x % R for x in l_i), *(rho_k * x % R for x in n_i),
                         *(gamma * x % R for x in n_i)])

    # Step 1: interpolate through three, o_C = a_0 + a_2, o_X = a_1, o_R = a_2. Step 2: the fourth agrees.
    a0, a1, a2 = _interpolate(gammas_last[:3], openings[:3])
    assert _evaluate((a0, a1, a2), gammas_last[3]) == openings[3]
    o_C = [(x + y) % R for x, y in zip(a0, a2, strict=True)]
    o_X, o_R = a1, a2
    basis = [G, *H_k[0::2], *H_k[1::2], *G_k[0::2], *G_k[1::2]]
    assert msm(basis, o_C) == C_k
    assert msm(basis, o_X) == X_all[last]
    assert msm(basis, o_R) == R_all[last]

    # Step 3: the cubic identities (H), (G) force b = 0, a'' = 0 (and g = 0, f'' = 0); the halves are read off.
    def part(vector: list[int], start: int, size: int) -> list[int]:
        return vector[start:start + size]

    H0, H1 = 1, 1 + half_l
    G0, G1 = 1 + 2 * half_l, 1 + 2 * half_l + half_n
    assert part(a0, H1, half_l) == [0] * half_l and part(a2, H0, half_l) == [0] * half_l          # b = 0, a'' = 0
    assert part(a1, H1, half_l) == part(a0, H0, half_l)                                           # b' = a
    assert part(a2, H1, half_l) == part(a1, H0, half_l)                                           # b'' = a'
    assert part(a0, G1, half_n) == [0] * half_n and part(a2, G0, half_n) == [0] * half_n          # g = 0, f'' = 0
    assert part(a0, G0, half_n) == [rho_k * x % R for x in part(a1, G1, half_n)]                  # f = ρ·g'
    l0, l1 = part(a0, H0, half_l), part(a1, H0, half_l)
    n0, n1 = [rho_k * x % R for x in part(a1, G1, half_n)], part(a2, G1, half_n)
    extracted_l = [x for pair in zip(l0, l1, strict=True) for x in pair]
    extracted_n = [x for pair in zip(n0, n1, strict=True) for x in pair]
    assert extracted_l == l_k
    assert extracted_n == n_k

    # Step 4: the G-coefficient of o_C is the weighted norm of the extracted witness: R_WNLA holds for round k.
    assert o_C[0] == (inner(c_k, extracted_l) + weighted_inner(extracted_n, extracted_n, mu_k)) % R


def test_three_gammas_leave_the_fourth_unconstrained_so_the_cubic_check_is_what_binds(wnla_instance) -> None:
    """With three transcripts the interpolation always succeeds, whatever the openings: a wrong third final vector
    still yields "openings" of C, X, R, and only the fourth γ (Step 2) or the cubic (H) exposes it."""
    inst = wnla_instance
    G, G_vec, H_vec, c, rho = inst["G"], inst["G_vec"], inst["H_vec"], inst["c"], inst["rho"]
    last = wnla_shape(len(H_vec), len(G_vec))[0] - 1
    gammas_last = [5, 6, 7, 8]
    rows = []
    for forced in gammas_last:
        transcript = _Rewound(inst["transcript"].fork(), last, forced)
        proof = prove_wnla(transcript, G, G_vec, H_vec, c, rho, inst["l"], inst["n"])
        rows.append([*proof.l, *(forced * x % R for x in proof.l)])  # the H-coordinates of o_i only
    tampered = [list(row) for row in rows]
    tampered[2][0] = (tampered[2][0] + 1) % R  # not an accepted opening; three points interpolate it anyway
    coefficients = _interpolate(gammas_last[:3], tampered[:3])
    assert _evaluate(coefficients, gammas_last[3]) != rows[3]
    half = len(rows[0]) // 2
    assert coefficients[2][:half] != [0] * half  # a'' ≠ 0: the cubic (H) has only three roots here
    honest = _interpolate(gammas_last[:3], rows[:3])
    assert _evaluate(honest, gammas_last[3]) == rows[3] and honest[2][:half] == [0] * half


def test_the_checked_coefficient_expands_into_the_brackets_of_the_written_extractor() -> None:
    """Step D's T⁴ line for arbitrary (not honest) d, r, m, v and ε: 2⟨a, b⟩_μ + Σ_a c_a·m_a + ε − 2Σ δ^{k+1}v_k − κ
    = 2·(Σ_j μ^{j+1}·A_j + β·B + Σ_k δ^{k+1}·E_k) + ε, with a = d + e·1 + p, b = r + q."""
    padded_m = 2
    digits = DIGITS
    size = digits * padded_m
    e, rho, beta, delta = (fr_random() for _ in range(4))
    public = bpp._public(e, rho, beta, delta, padded_m)
    mu = public.mu
    d = [fr_random() for _ in range(size)]
    r = [fr_random() for _ in range(size)]
    mult = [fr_random() for _ in range(BASE)]
    values = [fr_random() for _ in range(padded_m)]
    epsilon = fr_random()
    a_vec = [(x + e + y) % R for x, y in zip(d, public.p, strict=True)]
    b_vec = [(x + y) % R for x, y in zip(r, public.q, strict=True)]
    coefficient = (2 * weighted_inner(a_vec, b_vec, mu) + inner(public.mult_coefficients, mult) + epsilon
                   - 2 * inner(public.value_weights, values) - public.kappa) % R
    A = [((d_j + e) * r_j - 1) % R for d_j, r_j in zip(d, r, strict=True)]
    B = (sum(r) - sum(m_a * fr_inv(e + a) for a, m_a in enumerate(mult))) % R
    E = [(sum(pow(BASE, i, R) * d[digits * k + i] for i in range(digits)) - values[k]) % R
         for k in range(padded_m)]
    brackets = (weighted_inner(A, [1] * size, mu) + beta * B + inner(public.value_weights, E)) % R
    assert coefficient == (2 * brackets + epsilon) % R
