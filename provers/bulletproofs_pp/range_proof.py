"""The Bulletproofs++ reciprocal range proof (Eagen et al., Eurocrypt 2024, eprint 2022/510), base 16.

Statement: commitments ``V_k = v_k·G + γ_k·H`` (k < m, the same Pedersen bases as
provers/bulletproofs, so one commitment can be proven by both) with every ``v_k`` in ``[0, 2^n)``, n one of
8, 16, 32, 64 (default 64) and D = n/4 digits per value. An
accepting proof shows exactly that relation: every other component of V_k lands on a power of T that no
commitment made after the challenges reaches (docs/protocol.md, soundness item 6). Every step is written
out in docs/protocol.md, "Bulletproofs++ range proof (collateral parts and tree nodes)", in the
same symbols. Indices: values k < M (padding values 0, blinding 0, commitment
the identity), digit positions j = D·k + i (digit i of value k), digits a in [0, 16).

The witness: digits ``d_j`` with ``v_k = Σ_{i<D} 16^i·d_{Dk+i}``, multiplicities ``m_a = #{j : d_j = a}``
and, after the challenge e, reciprocals ``r_j = 1/(e + d_j)``. The reciprocal argument: the digits are
all in [0, 16) iff ``Σ_j 1/(X + d_j) = Σ_a m_a/(X + a)`` as rational functions, which the proof checks at
X = e. Every constraint is folded into the coefficient of T⁴ of ``<c(T), l(T)> + |n(T)|²_μ`` and the
whole statement becomes one weighted norm linear argument (:mod:`.wnla`) for

    C(T) = T^{-4}·C_B + T^{-1}·C_S + T·C_D + T³·C_R + 2T⁴·Σ_k δ^{k+1}·V_k + T⁴·κ·G
           + Σ_j (T·(e + p_j) + T³·q_j)·G_j.

Every used slot of the WNLA's witness (l(T), n(T)) carries a fresh uniform mask (the masks of the T^j slots
form a tree rooted at C_R's G-coefficient g_R), so the witness is uniform and independent of C_D, C_B, C_R (the
zero-knowledge argument in docs/protocol.md).

Transcript order (labels in quotes; PROTOCOL_LABEL ends in v2, the layout above): ``"dom-sep"=PROTOCOL_LABEL,
"n" (n_bits), "base", "m", "context", "V" (m points), "C_D", "C_B", e="e", "C_R", ρ="rho", β="beta",
δ="delta", "C_S", T="t"``, then the WNLA (``"wnla/l", "wnla/n"`` and per round ``"wnla/X", "wnla/R"``,
γ_k=``"wnla/gamma"``).

A *bound* statement (:class:`BppBoundRangeStatement`, :func:`prove_bound_range_pp`) is the same proof about
commitments that the caller's ``context`` already determines (each ``V_k`` a public linear form of points the
context hashes, :class:`provers.bulletproofs.CommitmentForm`). Its transcript starts from
``BOUND_PROTOCOL_LABEL`` and absorbs no ``V`` (so a proof of one kind never verifies as the other); the
verifier never computes a ``V_k``: each form's points enter the multi-scalar multiplication with the form's
coefficients, exactly as for provers/bulletproofs' bound statements.

Verification is written once, as :class:`provers.bulletproofs.range_proof.VerificationTerms`
(``verification_terms`` of each statement class), so Bulletproofs++ statements can be batch-verified with
Bulletproofs ones (:func:`provers.bulletproofs.batch_verify`).

Used by every part of a collateral batch proof (version 4: bound statements, provers/collateral.py) and by
every tree node's range proof (ordinary statements, zkclear/verifier/statements.py ``node_statement``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from provers.bulletproofs.generators import pedersen_bases, vector_generators
from provers.bulletproofs.parameters import padded_count
from provers.bulletproofs.range_proof import (
    CommitmentForm,
    VerificationTerms,
    check_terms,
    check_witness_values,
    cyclic_gc_paused,
    expand_forms,
    statement_commitments,
    statement_forms,
)
from provers.bulletproofs_pp.encoding import BppRangeProof
from provers.bulletproofs_pp.parameters import (
    B_POWER,
    BASE,
    BLINDING_SLOT,
    CHECKED_POWER,
    D_POWER,
    DIGITS,
    JUNK_POWERS,
    JUNK_SLOT,
    MASK_POWERS,
    MULTIPLICITY_SLOT,
    N_BITS,
    R_POWER,
    S_POWER,
    UNUSED_C_POWER,
    UNUSED_SLOT,
    check_bits,
    check_count,
    digit_count,
    l_length,
    n_length,
)
from provers.bulletproofs_pp.wnla import WnlaTerms, inner, prove_wnla, weighted_inner, wnla_terms
from zkclear.crypto.field import R, fr_batch_inv, fr_inv, fr_random
from zkclear.crypto.group import G1Point, msm, prepare_msm_bases
from zkclear.crypto.pedersen import commit
from zkclear.crypto.transcript import Transcript
from zkclear.errors import ProvingError, VerificationError

#: Domain separator of the Bulletproofs++ range-proof transcript.
PROTOCOL_LABEL = b"zkclear/bulletproofs-pp/range-proof/v2"
#: Domain separator of a bound statement's transcript (commitments bound by the context, not absorbed; same
#: layout version 2 as PROTOCOL_LABEL).
BOUND_PROTOCOL_LABEL = b"zkclear/bulletproofs-pp/bound-range-proof/v2"

ScalarSource = Callable[[], int]


@dataclass(frozen=True, slots=True)
class Generators:
    """The bases of a proof over M padded values: ``G`` (value), ``H_vec`` (``H_vec[0] = H``, the
    Pedersen blinding base; then provers/bulletproofs' H_i) and ``G_vec`` (provers/bulletproofs' G_i)."""

    G: G1Point
    H_vec: tuple[G1Point, ...]
    G_vec: tuple[G1Point, ...]


@cache
def generators(padded_m: int, n_bits: int = N_BITS) -> Generators:
    """The generators for ``padded_m`` values of n_bits bits (prefixes of the Bulletproofs vectors: no new
    derivation): ``G_vec = (G_0 .. G_{D·M−1})``, ``H_vec = (H, H_0 .. H_{L−2})``."""
    bases = pedersen_bases()
    size, slots = n_length(padded_m, n_bits), l_length(padded_m, n_bits)
    G_vec, H_vec = vector_generators(max(size, slots - 1))
    return Generators(G=bases.G, H_vec=(bases.H, *H_vec[:slots - 1]), G_vec=G_vec[:size])


def range_proof_transcript(commitments: Sequence[G1Point], context: bytes, n_bits: int = N_BITS) -> Transcript:
    """The transcript both roles start from: label, n, base, m, context, then every V_k."""
    transcript = Transcript(PROTOCOL_LABEL)
    transcript.append_u64(b"n", n_bits)
    transcript.append_u64(b"base", BASE)
    transcript.append_u64(b"m", len(commitments))
    transcript.append_message(b"context", context)
    transcript.append_points(b"V", list(commitments))
    return transcript


def bound_range_proof_transcript(m: int, context: bytes, n_bits: int = N_BITS) -> Transcript:
    """The transcript of a bound statement: label, n, base, m, context — the commitments are not absorbed
    (the context determines them)."""
    transcript = Transcript(BOUND_PROTOCOL_LABEL)
    transcript.append_u64(b"n", n_bits)
    transcript.append_u64(b"base", BASE)
    transcript.append_u64(b"m", m)
    transcript.append_message(b"context", context)
    return transcript


def _challenge(transcript: Transcript, label: bytes, error: type[Exception]) -> int:
    value = transcript.challenge_scalar(label)
    if value == 0:  # probability 2^-255; every challenge here must be invertible or non-zero
        raise error(f"challenge {label.decode()} is zero")
    return value


def _challenge_e(transcript: Transcript, error: type[Exception]) -> int:
    e = transcript.challenge_scalar(b"e")
    if any((e + a) % R == 0 for a in range(BASE)):  # probability 2^-251: e + a must be invertible
        raise error("challenge e makes e + a zero for a digit a")
    return e


@dataclass(frozen=True, slots=True)
class _Public:
    """The public values both roles derive from (e, ρ, β, δ) for M padded values of D digits.

    ``weights[j] = μ^{j+1}``, ``p_j = β/μ^{j+1}``, ``q_j = w_j/μ^{j+1}`` with
    ``w_j = δ^{k+1}·16^i`` (j = D·k + i), ``mult_coefficients[a] = −2β/(e + a)`` and
    ``κ = 2·Σ_j μ^{j+1} + 2·Σ_j (e + p_j)·w_j``.
    """

    beta: int
    mu: int
    p: list[int]
    q: list[int]
    mult_coefficients: list[int]
    kappa: int
    value_weights: list[int]  # δ^{k+1}, k < M


def _successive_powers(base: int, count: int) -> list[int]:
    """``[base^1, ..., base^count]`` mod r."""
    out = [0] * count
    power = 1
    for j in range(count):
        power = power * base % R
        out[j] = power
    return out


def _public(e: int, rho: int, beta: int, delta: int, padded_m: int, digits: int = DIGITS) -> _Public:
    size = digits * padded_m
    mu = rho * rho % R
    weights = _successive_powers(mu, size)
    # μ^{-(j+1)} as powers of one inverse (a multiplication each; a batch inversion of the weights cost three).
    inverse_weights = _successive_powers(fr_inv(mu), size)
    value_weights = _successive_powers(delta, padded_m)
    digit_weights = [BASE**i for i in range(digits)]
    w = [x * y % R for x in value_weights for y in digit_weights]  # j = D·k + i
    p = [beta * x % R for x in inverse_weights]
    q = [a * b % R for a, b in zip(w, inverse_weights, strict=True)]
    mult_coefficients = _mult_coefficients(e, beta)
    # κ = 2·Σ μ^{j+1} + 2·Σ (e + p_j)·w_j, with Σ p_j·w_j = β·Σ q_j.
    kappa = 2 * (sum(weights) + e * sum(w) + beta * sum(q)) % R
    return _Public(beta=beta, mu=mu, p=p, q=q, mult_coefficients=mult_coefficients, kappa=kappa,
                   value_weights=value_weights)


def _mult_coefficients(e: int, beta: int) -> list[int]:
    """−2β/(e + a) for every digit a."""
    return [-2 * beta * x % R for x in fr_batch_inv([e + a for a in range(BASE)])]


def _c_vector(public: _Public, t: int, slots: int) -> list[int]:
    """c(T): 0 on the blinding slot, −2β/(e+a)·T³ on multiplicity a, T^{j+1} on the slot of T^j and
    β^s·T^10 on every unused slot s (each with its own weight, so V's components there cannot cancel)."""
    return _c_values(public.mult_coefficients, public.beta, t, slots)


def _c_values(mult_coefficients: Sequence[int], beta: int, t: int, slots: int) -> list[int]:
    c = [0] * slots
    t_mult = pow(t, R_POWER, R)
    for a, coefficient in enumerate(mult_coefficients):
        c[MULTIPLICITY_SLOT + a] = coefficient * t_mult % R
    for index, power in enumerate(JUNK_POWERS):
        c[JUNK_SLOT + index] = pow(t, power - S_POWER, R)
    weight = pow(t, UNUSED_C_POWER, R) * pow(beta, UNUSED_SLOT, R) % R
    for slot in range(UNUSED_SLOT, slots):
        c[slot] = weight
        weight = weight * beta % R
    return c


def _checked_g_scalars(e: int, beta: int, mu: int, delta: int, padded_m: int, digits: int, t_d: int, t_r: int,
                       weight: int, wnla: WnlaTerms) -> tuple[list[int], int, list[int]]:
    """The verifier's share of :func:`_public`: the G_vec scalars ``t_d·(e + p_j) + t_r·q_j − weight·g_j`` (g the
    WNLA's), κ and the δ^{k+1} — the same values, without the lists of p, q or μ^{j+1}. With j = D·k + i,
    ``μ^{-(j+1)} = P_k·Q_i`` (``P_k = μ^{-(Dk+1)}``, ``Q_i = μ^{-i}``), so
    ``t_d·(e + p_j) + t_r·q_j = t_d·e + P_k·(t_d·β·Q_i) + (P_k·t_r·δ^{k+1})·(16^i·Q_i)``: a few scalars per value
    and per digit position, then products summed into one reduction per j (the WNLA's g_j likewise from its
    two factors). ``Σ_j μ^{j+1}`` is a geometric sum, ``Σ_j w_j = Σ_k δ^{k+1}·Σ_i 16^i`` and
    ``Σ_j q_j = Σ_k δ^{k+1}·P_k·Σ_i 16^i·Q_i``."""
    mu_inv = fr_inv(mu)
    digit_inverses = [1] * digits  # Q_i
    for i in range(1, digits):
        digit_inverses[i] = digit_inverses[i - 1] * mu_inv % R
    beta_part = [t_d * beta % R * q % R for q in digit_inverses]
    digit_part = [BASE**i * q % R for i, q in enumerate(digit_inverses)]
    step = digit_inverses[-1] * mu_inv % R  # μ^{-D}
    value_weights = [0] * padded_m
    value_inverses = [0] * padded_m  # P_k
    value_weight, value_inverse = delta % R, mu_inv
    for k in range(padded_m):
        value_weights[k], value_inverses[k] = value_weight, value_inverse
        value_weight, value_inverse = value_weight * delta % R, value_inverse * step % R
    value_part = [p * t_r % R * v % R for p, v in zip(value_inverses, value_weights, strict=True)]
    shift = t_d * e % R
    checked = [p * b + v * d for p, v in zip(value_inverses, value_part, strict=True)
               for b, d in zip(beta_part, digit_part, strict=True)]
    scaled_final = [weight * x % R for x in wnla.g_final]
    from_wnla = [x * y for x in scaled_final for y in wnla.g_low]
    g_scalars = [(shift + a - b) % R for a, b in zip(checked, from_wnla, strict=True)]
    size = digits * padded_m
    mu_sum = size if mu == 1 else mu * (pow(mu, size, R) - 1) * fr_inv(mu - 1)
    q_sum = sum(v * p for v, p in zip(value_weights, value_inverses, strict=True)) % R * sum(digit_part)
    kappa = 2 * (mu_sum + e * sum(value_weights) * sum(BASE**i for i in range(digits)) + beta * q_sum) % R
    return g_scalars, kappa, value_weights


def _power(t: int, t_inv: int, k: int) -> int:
    """T^k for an integer k (negative powers from ``t_inv = 1/t``)."""
    return pow(t_inv if k < 0 else t, abs(k), R)


def _check_context(context: bytes, error: type[Exception]) -> bytes:
    if not isinstance(context, bytes | bytearray):
        raise error(f"context must be bytes, got {type(context).__name__}")
    return bytes(context)


def _check_witness(values: Sequence[int], blindings: Sequence[int], n_bits: int) -> None:
    check_bits(n_bits, ProvingError)
    check_count(len(values), ProvingError)
    check_witness_values(values, blindings, n_bits)


def prove_range_pp(
    values: Sequence[int],
    blindings: Sequence[int],
    context: bytes,
    *,
    n_bits: int = N_BITS,
    rng: ScalarSource | None = None,
) -> tuple[BppRangeProof, list[G1Point]]:
    """Prove every ``values[k]`` in ``[0, 2^n_bits)`` for ``V_k = values[k]·G + blindings[k]·H``.

    Returns the proof and the m commitments it is about (the same points
    :func:`provers.bulletproofs.prove_range` returns for these openings). Guaranteed: raises
    ProvingError (and emits nothing) if n_bits is not one of 8, 16, 32, 64, a value is out of range or not
    an int, or the lengths disagree. ``rng`` returns uniform Fr elements (default: the OS CSPRNG); only
    tests replace it.
    """
    _check_witness(values, blindings, n_bits)
    context = _check_context(context, ProvingError)
    commitments = [commit(v, gamma) for v, gamma in zip(values, blindings, strict=True)]
    transcript = range_proof_transcript(commitments, context, n_bits)
    with cyclic_gc_paused():  # as for provers/bulletproofs: nothing here creates reference cycles
        proof = _prove(values, blindings, transcript, rng or fr_random, check_witness=True, n_bits=n_bits)
    return proof, commitments


def prove_bound_range_pp(
    values: Sequence[int],
    blindings: Sequence[int],
    n_bits: int,
    context: bytes,
    *,
    rng: ScalarSource | None = None,
) -> BppRangeProof:
    """Prove every ``values[k]`` in ``[0, 2^n_bits)`` for ``V_k = values[k]·G + blindings[k]·H`` where
    ``context`` already determines every ``V_k`` (:class:`BppBoundRangeStatement`): the transcript starts
    from ``BOUND_PROTOCOL_LABEL`` and absorbs no commitment. The caller's context must bind the commitments —
    a context that does not makes the proof unsound. Same guarantees and errors as :func:`prove_range_pp`."""
    _check_witness(values, blindings, n_bits)
    context = _check_context(context, ProvingError)
    transcript = bound_range_proof_transcript(len(values), context, n_bits)
    with cyclic_gc_paused():
        return _prove(values, blindings, transcript, rng or fr_random, check_witness=True, n_bits=n_bits)


def _digits(values: Sequence[int], count: int = DIGITS) -> list[int]:
    return [(v >> (4 * i)) & (BASE - 1) for v in values for i in range(count)]


def _prove(values: Sequence[int], blindings: Sequence[int], transcript: Transcript,
           rng: ScalarSource, *, check_witness: bool, n_bits: int = N_BITS) -> BppRangeProof:
    """The prover's steps from ``transcript`` (label .. context and, unless bound, V absorbed). Values are
    NOT range-checked here (tests drive it directly, with ``check_witness=False``, to play a malicious
    prover)."""
    m = len(values)
    M = padded_count(m)
    D = digit_count(n_bits)
    gens = generators(M, n_bits)
    # The prover's MSMs multiply these generators again and again: let the engine precompute for them
    # (once per process; later calls find them prepared). Verifiers multiply them once and do not.
    prepare_msm_bases([gens.G, *gens.H_vec, *gens.G_vec])
    H = gens.H_vec[BLINDING_SLOT]
    H_mult = gens.H_vec[MULTIPLICITY_SLOT:JUNK_SLOT]
    H_junk = gens.H_vec[JUNK_SLOT:JUNK_SLOT + len(JUNK_POWERS)]
    padded_values = [v % R for v in values] + [0] * (M - m)
    padded_blindings = [g % R for g in blindings] + [0] * (M - m)

    # Round 1: digits d (norm part) and multiplicities m_a (linear part), blinded on H; the masks u_j of
    # the slots of the T^j coefficients, each in the commitment of power MASK_POWERS[j] (C_D, C_R or C_B).
    d = _digits(padded_values, D)
    mult = [d.count(a) for a in range(BASE)]
    masks = {j: rng() for j in JUNK_POWERS}

    def masks_at(power: int) -> list[int]:
        return [masks[j] if MASK_POWERS[j] == power else 0 for j in JUNK_POWERS]

    alpha_D, alpha_B = rng(), rng()
    C_D = msm([H, *H_mult, *H_junk, *gens.G_vec], [alpha_D, *mult, *masks_at(D_POWER), *d])
    C_B = msm([H, *H_junk], [alpha_B, *masks_at(B_POWER)])
    transcript.append_point(b"C_D", C_D)
    transcript.append_point(b"C_B", C_B)
    e = _challenge_e(transcript, ProvingError)

    # Round 2: reciprocals r_j = 1/(e + d_j). A mask landing on T³ (the slot of T⁶, from C_B) is supplied by
    # C_R's G-coefficient g_R: the root of the tree of masks (zero knowledge).
    r = fr_batch_inv([e + digit for digit in d])
    alpha_R = rng()
    landing = {j: j - S_POWER + power for j, power in MASK_POWERS.items()}
    g_R = sum(masks[j] for j in JUNK_POWERS if landing[j] == R_POWER) % R
    C_R = msm([gens.G, H, *H_junk, *gens.G_vec], [g_R, alpha_R, *masks_at(R_POWER), *r])
    transcript.append_point(b"C_R", C_R)
    rho = _challenge(transcript, b"rho", ProvingError)
    beta = _challenge(transcript, b"beta", ProvingError)
    delta = _challenge(transcript, b"delta", ProvingError)
    public = _public(e, rho, beta, delta, M, D)
    mu = public.mu

    # n(T) = T^{-1}·s + T·a + T³·b with a = d + e·1 + p and b = r + q; the masks s, s_l, α_S.
    a_vec = [(x + e + y) % R for x, y in zip(d, public.p, strict=True)]
    b_vec = [(x + y) % R for x, y in zip(r, public.q, strict=True)]
    s = [rng() for _ in d]
    s_l = [rng() for _ in range(BASE)]
    alpha_S = rng()
    junk = {
        -2: -weighted_inner(s, s, mu),
        0: -2 * weighted_inner(s, a_vec, mu),
        2: -2 * weighted_inner(s, b_vec, mu) - weighted_inner(a_vec, a_vec, mu) - inner(public.mult_coefficients, s_l),
        6: -weighted_inner(b_vec, b_vec, mu),
    }
    for j in JUNK_POWERS:  # the mask of slot j adds T^{j+1+π_j}·u_j: cancel it there (T³: g_R did)
        if landing[j] in junk:
            junk[landing[j]] -= masks[j]
    t_coefficients = [junk[power] % R for power in JUNK_POWERS]
    C_S = msm([H, *H_mult, *H_junk, *gens.G_vec], [alpha_S, *s_l, *t_coefficients, *s])

    # The checked coefficient: T⁴ of <c(T), l(T)> + |n(T)|²_μ must be 2·Σ δ^{k+1}·v_k + κ. It is whenever
    # the digits are digits; a mismatch is a bug: refuse rather than emit a proof that cannot verify.
    checked = (2 * weighted_inner(a_vec, b_vec, mu) + inner(public.mult_coefficients, mult)) % R
    expected = (2 * inner(public.value_weights, padded_values) + public.kappa) % R
    if check_witness and checked != expected:
        raise ProvingError("internal check failed: the digits do not satisfy the reciprocal constraints")

    transcript.append_point(b"C_S", C_S)
    t = _challenge(transcript, b"t", ProvingError)
    t_inv = fr_inv(t)

    def power(k: int) -> int:
        return _power(t, t_inv, k)

    l_vec = [0] * len(gens.H_vec)
    l_vec[BLINDING_SLOT] = (power(B_POWER) * alpha_B + power(S_POWER) * alpha_S + power(D_POWER) * alpha_D
                            + power(R_POWER) * alpha_R
                            + 2 * power(CHECKED_POWER) * inner(public.value_weights, padded_blindings)) % R
    for index in range(BASE):
        l_vec[MULTIPLICITY_SLOT + index] = (power(S_POWER) * s_l[index] + power(D_POWER) * mult[index]) % R
    for index, (j, coefficient) in enumerate(zip(JUNK_POWERS, t_coefficients, strict=True)):
        l_vec[JUNK_SLOT + index] = (power(S_POWER) * coefficient + power(MASK_POWERS[j]) * masks[j]) % R
    n_vec = [(power(S_POWER) * x + power(D_POWER) * y + power(R_POWER) * z) % R
             for x, y, z in zip(s, a_vec, b_vec, strict=True)]
    wnla = prove_wnla(transcript, gens.G, gens.G_vec, gens.H_vec, _c_vector(public, t, len(l_vec)), rho, l_vec,
                      n_vec)
    return BppRangeProof(C_D=C_D, C_B=C_B, C_R=C_R, C_S=C_S, wnla=wnla, n_bits=n_bits)


# --- statements and their verification equation ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BppRangeStatement:
    """One Bulletproofs++ range-proof statement: ``proof`` shows each of ``commitments`` opens to
    [0, 2^n_bits) in ``context``. Proven by :func:`prove_range_pp`."""

    proof: BppRangeProof
    commitments: tuple[G1Point, ...]
    n_bits: int
    context: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "commitments", statement_commitments(self.commitments))

    def verification_terms(self, weight: int, rng: ScalarSource) -> VerificationTerms:
        """The verification equation (:class:`VerificationTerms`, over the Bulletproofs generators), every
        scalar times ``weight``. ``rng`` is unused (one equation, nothing to fold). Raises VerificationError
        if the statement is malformed (sizes, types, zero challenge)."""
        if not all(isinstance(V, G1Point) for V in self.commitments):
            raise VerificationError("every commitment must be a G1Point")
        m = len(self.commitments)
        _check_statement(self.proof, self.n_bits, m)
        context = _check_context(self.context, VerificationError)
        transcript = range_proof_transcript(self.commitments, context, self.n_bits)
        terms, value_factors = _terms(self.proof, self.n_bits, m, transcript, weight)
        terms.points.extend(self.commitments)  # the padding commitments are the identity: only the m real ones
        terms.scalars.extend(value_factors)
        return terms


@dataclass(frozen=True, slots=True)
class BppBoundRangeStatement:
    """One bound Bulletproofs++ statement: ``proof`` shows each commitment ``forms[k]`` opens to
    [0, 2^n_bits), where ``context`` determines every form (the caller's duty: e.g. a hash of the points and
    of the public data that fixes the coefficients). Proven by :func:`prove_bound_range_pp`."""

    proof: BppRangeProof
    forms: tuple[CommitmentForm, ...]
    n_bits: int
    context: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "forms", statement_forms(self.forms))

    def verification_terms(self, weight: int, rng: ScalarSource) -> VerificationTerms:
        """As :meth:`BppRangeStatement.verification_terms`; each ``V_k`` enters as its form (never computed):
        the constant on G, the points with their coefficients, a point shared by several forms once with
        its scalars summed."""
        m = len(self.forms)
        _check_statement(self.proof, self.n_bits, m)
        context = _check_context(self.context, VerificationError)
        transcript = bound_range_proof_transcript(m, context, self.n_bits)
        terms, value_factors = _terms(self.proof, self.n_bits, m, transcript, weight)
        form_G, form_points, form_scalars = expand_forms(value_factors, self.forms)
        terms.points.extend(form_points)
        terms.scalars.extend(form_scalars)
        return VerificationTerms(terms.g_scalars, terms.h_scalars, (terms.G_scalar + form_G) % R, terms.H_scalar,
                                 terms.points, terms.scalars)


def _check_statement(proof: BppRangeProof, n_bits: int, m: int) -> None:
    check_bits(n_bits, VerificationError)
    check_count(m, VerificationError)
    if not isinstance(proof, BppRangeProof):
        raise VerificationError(f"expected a BppRangeProof, got {type(proof).__name__}")
    if proof.n_bits != n_bits:
        raise VerificationError(f"the proof is for {proof.n_bits!r} bits, the statement for {n_bits}")
    if not all(isinstance(P, G1Point) for P in (proof.C_D, proof.C_B, proof.C_R, proof.C_S)):
        raise VerificationError("every proof point must be a G1Point")


def _terms(proof: BppRangeProof, n_bits: int, m: int, transcript: Transcript,
           weight: int) -> tuple[VerificationTerms, list[int]]:
    """Everything of the verification equation but the V_k (the transcript holds label .. context and, if
    unbound, V), times ``weight``; and the m factors ``2·T⁴·δ^{k+1}·weight`` of the V_k."""
    M = padded_count(m)
    transcript.append_point(b"C_D", proof.C_D)
    transcript.append_point(b"C_B", proof.C_B)
    e = _challenge_e(transcript, VerificationError)
    transcript.append_point(b"C_R", proof.C_R)
    rho = _challenge(transcript, b"rho", VerificationError)
    beta = _challenge(transcript, b"beta", VerificationError)
    delta = _challenge(transcript, b"delta", VerificationError)
    transcript.append_point(b"C_S", proof.C_S)
    t = _challenge(transcript, b"t", VerificationError)
    slots = l_length(m, n_bits)
    c = _c_values(_mult_coefficients(e, beta), beta, t, slots)
    wnla = wnla_terms(transcript, proof.wnla, c, rho, slots, n_length(m, n_bits))

    t_inv = fr_inv(t)

    def power(k: int) -> int:
        return _power(t, t_inv, k) * weight % R

    t_d, t_r, t_v = power(D_POWER), power(R_POWER), power(CHECKED_POWER)
    # C(T) + Σ γ_k·X_k + Σ (γ_k² − 1)·R_k − v·G − <h, H_vec> − <g, G_vec> = O, with C(T) written out; H_vec[0]
    # is the Pedersen H and H_vec[1:] are Bulletproofs' H_0, H_1, ..., G_vec Bulletproofs' G_0, G_1, ...
    w = weight % R
    g_scalars, kappa, value_weights = _checked_g_scalars(e, beta, rho * rho % R, delta, M, digit_count(n_bits),
                                                         t_d, t_r, w, wnla)
    h_scalars = [-w * h % R for h in wnla.h_scalars[1:]]
    H_scalar = -w * wnla.h_scalars[BLINDING_SLOT] % R
    G_scalar = (t_v * kappa - w * wnla.G_scalar) % R
    points = [proof.C_B, proof.C_S, proof.C_D, proof.C_R, *wnla.round_points]
    scalars = [power(B_POWER), power(S_POWER), t_d, t_r, *(w * s % R for s in wnla.round_scalars)]
    value_factors = [2 * t_v * x % R for x in value_weights[:m]]
    return VerificationTerms(g_scalars, h_scalars, G_scalar, H_scalar, points, scalars), value_factors


def verify_range_pp(proof: BppRangeProof, commitments: Sequence[G1Point], context: bytes, *,
                    n_bits: int = N_BITS) -> None:
    """Check that ``proof`` shows every commitment opens as ``v·G + γ·H`` with v in [0, 2^n_bits), in
    ``context``.

    One multi-scalar multiplication. Raises VerificationError on any failure; returns None.
    """
    statement = BppRangeStatement(proof=proof, commitments=commitments, n_bits=n_bits, context=context)
    _check(statement)


def verify_bound_range_pp(proof: BppRangeProof, forms: Sequence[CommitmentForm], n_bits: int,
                          context: bytes) -> None:
    """Check that ``proof`` (:func:`prove_bound_range_pp`) shows every commitment ``forms[k]`` opens to a value
    in [0, 2^n_bits), in ``context`` (which must determine the forms). Raises VerificationError on any
    failure; returns None."""
    statement = BppBoundRangeStatement(proof=proof, forms=forms, n_bits=n_bits, context=context)
    _check(statement)


def _check(statement: BppRangeStatement | BppBoundRangeStatement) -> None:
    if not check_terms([statement.verification_terms(1, fr_random)]):
        raise VerificationError("Bulletproofs++ range proof does not verify")
