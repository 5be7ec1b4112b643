"""The aggregated range proof (Bünz et al. 2018, sections 4.1–4.3): prover and verifier.

Statement: commitments ``V_j = v_j·G + γ_j·H`` (j < m) with every ``v_j`` in ``[0, 2^n)``.
Every step below is written out in docs/protocol.md, "Range proof", in the same symbols.
Indices: values j < M (m real values, then padding values 0 with blinding 0 and commitment
the identity), bits i < n, vector positions j·n + i < N = n·M.

Transcript order (labels in quotes):
``"dom-sep"=PROTOCOL_LABEL, "n", "m", "context", "V" (m points), "A", "S", y="y", z="z",
"T1", "T2", x="x", "tau_x", "mu", "t_hat", w="w", then the inner-product rounds
("ipa/n", and per round "L", "R", u_k="u")``.

A *bound* statement (:class:`BoundRangeStatement`, :func:`prove_bound_range`) is the same proof about
commitments that its caller's ``context`` already determines — each ``V_j`` a public linear form of points
the context hashes. Its transcript starts from ``BOUND_PROTOCOL_LABEL`` and absorbs no ``V`` (so a proof of
one kind never verifies as the other), and the verifier never computes a ``V_j``: each form's points enter
the verification's multi-scalar multiplication with the form's coefficients (docs/protocol.md, "Bound range
statements").
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import add
from typing import Protocol, runtime_checkable

from provers.bulletproofs.encoding import RangeProof
from provers.bulletproofs.generators import pedersen_bases, vector_generators
from provers.bulletproofs.inner_product import prove_inner_product, verification_scalars
from provers.bulletproofs.parameters import check_parameters, inner_product_rounds, padded_count
from zkclear.crypto.field import R, fr_inv, fr_random
from zkclear.crypto.group import G1Point, msm
from zkclear.crypto.pedersen import commit
from zkclear.crypto.transcript import Transcript
from zkclear.errors import ProvingError, VerificationError

#: Domain separator of the range-proof transcript.
PROTOCOL_LABEL = b"zkclear/bulletproofs/range-proof/v1"
#: Domain separator of a bound statement's transcript (commitments bound by the context, not absorbed).
BOUND_PROTOCOL_LABEL = b"zkclear/bulletproofs/bound-range-proof/v1"

ScalarSource = Callable[[], int]


def range_proof_transcript(n_bits: int, commitments: Sequence[G1Point], context: bytes) -> Transcript:
    """The transcript both roles start from: label, n, m, context, then every commitment V_j."""
    transcript = Transcript(PROTOCOL_LABEL)
    transcript.append_u64(b"n", n_bits)
    transcript.append_u64(b"m", len(commitments))
    transcript.append_message(b"context", context)
    transcript.append_points(b"V", list(commitments))
    return transcript


def bound_range_proof_transcript(n_bits: int, m: int, context: bytes) -> Transcript:
    """The transcript of a bound statement: label, n, m, context — the commitments are not absorbed
    (the context determines them)."""
    transcript = Transcript(BOUND_PROTOCOL_LABEL)
    transcript.append_u64(b"n", n_bits)
    transcript.append_u64(b"m", m)
    transcript.append_message(b"context", context)
    return transcript


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector for one proof or verification.

    The group arithmetic allocates millions of short-lived tuples; every so many allocations the
    collector scans all live containers, including the tens of thousands of cached generators,
    so large proofs slowed down superlinearly (measured: 26 s -> 19 s for 256 aggregated 64-bit
    values, docs/performance.md). Nothing here creates reference cycles, so reference counting
    still frees everything; the previous collector state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _powers(base: int, count: int, first: int = 1) -> list[int]:
    """``[first·base^i mod r for i < count]``."""
    out = [first % R] * count
    for i in range(1, count):
        out[i] = out[i - 1] * base % R
    return out


def _geometric_sum(base: int, count: int) -> int:
    """``Σ_{i<count} base^i mod r`` in closed form (one inversion instead of ``count`` products)."""
    base %= R
    if base == 1:
        return count % R
    return (pow(base, count, R) - 1) * fr_inv(base - 1) % R


def _inner(a: Sequence[int], b: Sequence[int]) -> int:
    return sum(x * y for x, y in zip(a, b, strict=True)) % R


def _challenge(transcript: Transcript, label: bytes, error: type[Exception]) -> int:
    value = transcript.challenge_scalar(label)
    if value == 0:  # probability 2^-255; a zero y, x or u would break an inverse or the soundness
        raise error(f"challenge {label.decode()} is zero")
    return value


def _check_context(context: bytes, error: type[Exception]) -> bytes:
    if not isinstance(context, bytes | bytearray):
        raise error(f"context must be bytes, got {type(context).__name__}")
    return bytes(context)


def delta(y: int, z: int, n_bits: int, padded_m: int) -> int:
    """δ(y, z) = (z − z²)·<1, y^N> − Σ_{j<M} z^{3+j}·<1, 2^n>."""
    sum_y = _geometric_sum(y, n_bits * padded_m)
    sum_z = _geometric_sum(z, padded_m)
    return ((z - z * z) * sum_y - pow(z, 3, R) * sum_z * ((1 << n_bits) - 1)) % R


def prove_range(
    values: Sequence[int],
    blindings: Sequence[int],
    n_bits: int,
    context: bytes,
    *,
    rng: ScalarSource | None = None,
) -> tuple[RangeProof, list[G1Point]]:
    """Prove every ``values[j]`` in ``[0, 2^n_bits)`` for ``V_j = values[j]·G + blindings[j]·H``.

    Returns the proof and the m commitments it is about. Guaranteed: raises ProvingError (and
    emits nothing) if a value is out of range, not an int, or the lengths disagree.
    ``rng`` returns uniform Fr elements (default: the OS CSPRNG); only tests replace it.
    """
    _check_witness(values, blindings, n_bits)
    context = _check_context(context, ProvingError)
    commitments = [commit(v, gamma) for v, gamma in zip(values, blindings, strict=True)]
    transcript = range_proof_transcript(n_bits, commitments, context)
    with cyclic_gc_paused():
        proof = _prove(values, blindings, n_bits, transcript, rng or fr_random, check_witness=True)
    return proof, commitments


def prove_bound_range(
    values: Sequence[int],
    blindings: Sequence[int],
    n_bits: int,
    context: bytes,
    *,
    rng: ScalarSource | None = None,
) -> RangeProof:
    """Prove every ``values[j]`` in ``[0, 2^n_bits)`` for ``V_j = values[j]·G + blindings[j]·H`` where
    ``context`` already determines every ``V_j`` (:class:`BoundRangeStatement`): the transcript starts from
    ``BOUND_PROTOCOL_LABEL`` and absorbs no commitment. The caller's context must bind the commitments —
    a context that does not makes the proof unsound. Same guarantees and errors as :func:`prove_range`."""
    _check_witness(values, blindings, n_bits)
    context = _check_context(context, ProvingError)
    transcript = bound_range_proof_transcript(n_bits, len(values), context)
    with cyclic_gc_paused():
        return _prove(values, blindings, n_bits, transcript, rng or fr_random, check_witness=True)


def _check_witness(values: Sequence[int], blindings: Sequence[int], n_bits: int) -> None:
    check_parameters(n_bits, len(values), ProvingError)
    check_witness_values(values, blindings, n_bits)


def check_witness_values(values: Sequence[int], blindings: Sequence[int], n_bits: int) -> None:
    """Every value an int in ``[0, 2^n_bits)`` and every blinding an int, one blinding per value: the prover's
    refusal (:class:`ProvingError`) to prove what is not in range (shared with ``provers.bulletproofs_pp``)."""
    if len(blindings) != len(values):
        raise ProvingError(f"{len(values)} values but {len(blindings)} blindings")
    for j, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ProvingError(f"value {j} must be an int, got {type(v).__name__}")
        if not 0 <= v < 1 << n_bits:
            raise ProvingError(f"value {j} is outside [0, 2^{n_bits}): refusing to prove it")
    for j, gamma in enumerate(blindings):
        if isinstance(gamma, bool) or not isinstance(gamma, int):
            raise ProvingError(f"blinding {j} must be an int, got {type(gamma).__name__}")


def _prove(
    values: Sequence[int],
    blindings: Sequence[int],
    n_bits: int,
    transcript: Transcript,
    rng: ScalarSource,
    *,
    check_witness: bool,
) -> RangeProof:
    """The prover's protocol steps from ``transcript`` (label, n, m, context and, unless bound, the
    commitments already absorbed); ``values`` are NOT range-checked here (tests drive it directly to play
    a malicious prover)."""
    n, m = n_bits, len(values)
    M = padded_count(m)
    N = n * M
    bases = pedersen_bases()
    G_vec, H_vec = vector_generators(N)
    padded_values = [v % R for v in values] + [0] * (M - m)
    padded_blindings = [g % R for g in blindings] + [0] * (M - m)

    # Bit commitment A = alpha·H + <a_L, G> + <a_R, H_vec>, with a_R = a_L − 1: the terms are
    # +G_i where a bit is 1 and −H_i where it is 0, so the multi-scalar part has scalars 1.
    a_L = [(v >> i) & 1 for v in padded_values for i in range(n)]
    a_R = [(bit - 1) % R for bit in a_L]
    alpha = rng()
    # Scalars 1 only (two sums) cost 3-4x less than one MSM with scalars 1 and r - 1 (measured).
    ones = [G_vec[i] for i, bit in enumerate(a_L) if bit]
    minus_ones = [H_vec[i] for i, bit in enumerate(a_L) if not bit]
    A = commit(0, alpha) + msm(ones, [1] * len(ones)) - msm(minus_ones, [1] * len(minus_ones))

    # Blinding-vector commitment S = rho·H + <s_L, G> + <s_R, H_vec>.
    s_L = [rng() for _ in range(N)]
    s_R = [rng() for _ in range(N)]
    rho = rng()
    S = msm([bases.H, *G_vec, *H_vec], [rho, *s_L, *s_R])

    transcript.append_point(b"A", A)
    transcript.append_point(b"S", S)
    y = _challenge(transcript, b"y", ProvingError)
    z = _challenge(transcript, b"z", ProvingError)

    # l(X) = (a_L − z·1) + s_L·X ;  r(X) = y^N ∘ (a_R + z·1 + s_R·X) + Σ_j z^{2+j}·(0..0 || 2^n || 0..0)
    y_pow = _powers(y, N)
    z_pow = _powers(z, M + 2)  # z^0 .. z^{M+1}
    two_pow = _powers(2, n)
    l0 = [(bit - z) % R for bit in a_L]
    l1 = s_L
    r0 = [
        (y_pow[k] * (a_R[k] + z) + z_pow[2 + k // n] * two_pow[k % n]) % R for k in range(N)
    ]
    r1 = [y_pow[k] * s_R[k] % R for k in range(N)]

    # t(X) = <l(X), r(X)> = t0 + t1·X + t2·X²
    t1 = (_inner(l0, r1) + _inner(l1, r0)) % R
    t2 = _inner(l1, r1)
    tau1, tau2 = rng(), rng()
    T1 = commit(t1, tau1)
    T2 = commit(t2, tau2)

    transcript.append_point(b"T1", T1)
    transcript.append_point(b"T2", T2)
    x = _challenge(transcript, b"x", ProvingError)

    l_vec = [(a + x * b) % R for a, b in zip(l0, l1, strict=True)]
    r_vec = [(a + x * b) % R for a, b in zip(r0, r1, strict=True)]
    t_hat = _inner(l_vec, r_vec)
    tau_x = (tau2 * x * x + tau1 * x + sum(z_pow[2 + j] * padded_blindings[j] for j in range(M))) % R
    mu = (alpha + rho * x) % R

    if check_witness:
        # t(x) must equal Σ z^{2+j}·v_j + δ(y,z) + t1·x + t2·x²; it does whenever the bits are
        # right, so a mismatch is a bug: refuse rather than emit a proof that cannot verify.
        t0 = (sum(z_pow[2 + j] * padded_values[j] for j in range(M)) + delta(y, z, n, M)) % R
        if t_hat != (t0 + t1 * x + t2 * x * x) % R:
            raise ProvingError("internal check failed: t(x) does not match the committed values")

    transcript.append_scalar(b"tau_x", tau_x)
    transcript.append_scalar(b"mu", mu)
    transcript.append_scalar(b"t_hat", t_hat)
    # Q = w·G binds t_hat into the inner-product argument for P = <l, G> + <r, H'> + t_hat·Q,
    # with H'_i = y^{-i}·H_i passed as factors so H' is never computed.
    w = _challenge(transcript, b"w", ProvingError)
    Q = commit(w, 0)  # w·G, through the Pedersen fixed-base table of G
    y_inv_pow = _powers(fr_inv(y), N)
    ipp = prove_inner_product(transcript, Q, [1] * N, y_inv_pow, G_vec, H_vec, l_vec, r_vec)
    return RangeProof(A=A, S=S, T1=T1, T2=T2, tau_x=tau_x, mu=mu, t_hat=t_hat, ipp=ipp)


@dataclass(frozen=True, slots=True)
class RangeStatement:
    """One range-proof statement: ``proof`` shows each of ``commitments`` opens to [0, 2^n_bits)
    in ``context``."""

    proof: RangeProof
    commitments: tuple[G1Point, ...]
    n_bits: int
    context: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "commitments", statement_commitments(self.commitments))

    def verification_terms(self, weight: int, rng: ScalarSource) -> VerificationTerms:
        """:func:`verification_terms` of this statement (the :class:`RangeClaim` method)."""
        return verification_terms(self, weight, rng)


@dataclass(frozen=True, slots=True)
class CommitmentForm:
    """A commitment given by its definition: ``V = constant·G + Σ coefficients[i]·points[i]`` (coefficients
    are integers of either sign, taken mod r)."""

    points: tuple[G1Point, ...]
    coefficients: tuple[int, ...]
    constant: int = 0

    def __post_init__(self) -> None:
        if len(self.points) != len(self.coefficients):
            raise VerificationError("a commitment form needs one coefficient per point")
        if not all(isinstance(P, G1Point) for P in self.points):
            raise VerificationError("every point of a commitment form must be a G1Point")
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in (*self.coefficients, self.constant)):
            raise VerificationError("a commitment form's coefficients must be integers")


def statement_commitments(commitments: object) -> tuple[G1Point, ...]:
    """``commitments`` as a tuple (a statement's field); VerificationError if it is not a sequence. The points'
    types are checked by the verifier."""
    try:
        return tuple(commitments)  # type: ignore[arg-type]
    except TypeError as exc:
        raise VerificationError("commitments must be a sequence of G1Point") from exc


def statement_forms(forms: object) -> tuple[CommitmentForm, ...]:
    """``forms`` as a tuple of :class:`CommitmentForm` (a bound statement's field); VerificationError otherwise."""
    try:
        result = tuple(forms)  # type: ignore[arg-type]
    except TypeError as exc:
        raise VerificationError("forms must be a sequence of CommitmentForm") from exc
    if not all(isinstance(form, CommitmentForm) for form in result):
        raise VerificationError("forms must be a sequence of CommitmentForm")
    return result


def expand_forms(factors: Sequence[int], forms: Sequence[CommitmentForm]) -> tuple[int, list[G1Point], list[int]]:
    """``Σ_k factors[k]·V_k`` with every ``V_k`` given by its form, as ``(G scalar, points, scalars)``: the
    constants summed onto G, and a point shared by several forms (an account's variable) listed once with its
    scalars summed (mod r). How a bound statement's verifier enters its commitments into the one MSM."""
    G_scalar = 0
    shared: dict[int, list] = {}
    for factor, form in zip(factors, forms, strict=True):
        G_scalar += factor * form.constant
        for P, coefficient in zip(form.points, form.coefficients, strict=True):
            entry = shared.get(id(P))
            if entry is None:
                shared[id(P)] = [P, factor * coefficient]
            else:
                entry[1] += factor * coefficient
    return G_scalar % R, [P for P, _ in shared.values()], [k % R for _, k in shared.values()]


@dataclass(frozen=True, slots=True)
class BoundRangeStatement:
    """One bound range-proof statement: ``proof`` shows each commitment ``forms[j]`` opens to
    [0, 2^n_bits), where ``context`` determines every form (the caller's duty: e.g. a hash of the points and
    of the public data that fixes the coefficients). Proven by :func:`prove_bound_range`."""

    proof: RangeProof
    forms: tuple[CommitmentForm, ...]
    n_bits: int
    context: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "forms", statement_forms(self.forms))

    def verification_terms(self, weight: int, rng: ScalarSource) -> VerificationTerms:
        """:func:`verification_terms` of this statement (the :class:`RangeClaim` method)."""
        return verification_terms(self, weight, rng)


@dataclass(frozen=True, slots=True)
class VerificationTerms:
    """The scalars one statement contributes to the verifier's multi-scalar multiplication.

    The statement holds iff ``Σ g_i·G_i + Σ h_i·H_i + g·G + h·H + Σ e_k·P_k`` is the identity
    (with overwhelming probability over the verifier's random weights).
    """

    g_scalars: list[int]
    h_scalars: list[int]
    G_scalar: int
    H_scalar: int
    points: list[G1Point]
    scalars: list[int]


@runtime_checkable
class RangeClaim(Protocol):
    """Any statement :func:`provers.bulletproofs.batch_verify` accepts: one that writes its verification
    equation over the shared generators (G_i, H_i prefixes, G, H) as :class:`VerificationTerms`, every scalar
    times ``weight``, drawing any folding randomness from ``rng``; the statement holds iff the terms sum to
    the identity. :class:`RangeStatement`, :class:`BoundRangeStatement` and the Bulletproofs++ statements
    (``provers.bulletproofs_pp``, which imports this package, never the reverse) have it. Raises
    VerificationError if the statement is malformed."""

    def verification_terms(self, weight: int, rng: ScalarSource) -> VerificationTerms: ...


def verification_terms(statement: RangeStatement | BoundRangeStatement, weight: int,
                       rng: ScalarSource) -> VerificationTerms:
    """The verification equation of one statement, every scalar multiplied by ``weight``.

    Two checks are folded with a random c (from ``rng``): the polynomial check
    ``t_hat·G + tau_x·H = Σ z^{2+j}·V_j + δ(y,z)·G + x·T1 + x²·T2`` and the inner-product check.
    For a bound statement each ``V_j`` enters as its form's points and coefficients (never computed).
    Raises VerificationError if the statement is malformed (sizes, types, zero challenge).
    """
    proof, n = statement.proof, statement.n_bits
    bound = isinstance(statement, BoundRangeStatement)
    m = len(statement.forms) if bound else len(statement.commitments)
    check_parameters(n, m, VerificationError)
    context = _check_context(statement.context, VerificationError)
    if not isinstance(proof, RangeProof):
        raise VerificationError(f"expected a RangeProof, got {type(proof).__name__}")
    if not bound and not all(isinstance(V, G1Point) for V in statement.commitments):
        raise VerificationError("every commitment must be a G1Point")
    rounds = inner_product_rounds(n, m)
    if len(proof.ipp.L_vec) != rounds or len(proof.ipp.R_vec) != rounds:
        raise VerificationError(f"proof has {len(proof.ipp.L_vec)} inner-product rounds, expected {rounds}")
    M = padded_count(m)
    N = n * M

    if bound:
        transcript = bound_range_proof_transcript(n, m, context)
    else:
        transcript = range_proof_transcript(n, statement.commitments, context)
    transcript.append_point(b"A", proof.A)
    transcript.append_point(b"S", proof.S)
    y = _challenge(transcript, b"y", VerificationError)
    z = _challenge(transcript, b"z", VerificationError)
    transcript.append_point(b"T1", proof.T1)
    transcript.append_point(b"T2", proof.T2)
    x = _challenge(transcript, b"x", VerificationError)
    transcript.append_scalar(b"tau_x", proof.tau_x)
    transcript.append_scalar(b"mu", proof.mu)
    transcript.append_scalar(b"t_hat", proof.t_hat)
    w = _challenge(transcript, b"w", VerificationError)
    ipa = verification_scalars(proof.ipp, N, transcript)

    c = rng() % R or 1
    a, b, s = proof.ipp.a, proof.ipp.b, ipa.s
    z_pow = _powers(z, M + 2)
    # G_i: −z − a·s_i ;  H_i: z + y^{-i}·(z^{2+j(i)}·2^{b(i)} − b·s_i^{-1}), with s_i^{-1} = s_{N−1−i};
    # all times ``weight``, folded into the constants and the powers of y^{-1} (the same values mod r).
    minus_zw, aw, zw = -z * weight % R, a * weight % R, z * weight % R
    g_scalars = [(minus_zw - aw * s_i) % R for s_i in s]
    y_inv_pow_w = _powers(fr_inv(y), N, weight)  # weight·y^{-k}
    z_two = [z_pow[2 + j] << i for j in range(M) for i in range(n)]  # z^{2+j}·2^i, unreduced
    h_scalars = [(zw + yw * (zt - b * s_rev)) % R
                 for yw, zt, s_rev in zip(y_inv_pow_w, z_two, reversed(s), strict=True)]
    G_scalar = (w * (proof.t_hat - a * b) + c * (proof.t_hat - delta(y, z, n, M))) * weight % R
    H_scalar = (c * proof.tau_x - proof.mu) * weight % R
    cw = c * weight % R
    points = [proof.A, proof.S, proof.T1, proof.T2, *proof.ipp.L_vec, *proof.ipp.R_vec]
    scalars = [
        weight % R, x * weight % R, -cw * x % R, -cw * x * x % R,
        *(u2 * weight % R for u2 in ipa.u_squared),
        *(u2 * weight % R for u2 in ipa.u_inverse_squared),
    ]
    # The padding commitments are the identity and contribute nothing; only the m real ones enter.
    if not bound:
        points += statement.commitments
        scalars += [-cw * z_pow[2 + j] % R for j in range(m)]
        return VerificationTerms(g_scalars, h_scalars, G_scalar, H_scalar, points, scalars)
    # -c·w·z^{2+j}·V_j = -c·w·z^{2+j}·(κ_j·G + Σ_i a_ji·P_ji): a point shared by several forms (an
    # account's variable) enters once, with its scalars summed.
    form_G, form_points, form_scalars = expand_forms([-cw * z_pow[2 + j] % R for j in range(m)], statement.forms)
    points += form_points
    scalars += form_scalars
    return VerificationTerms(g_scalars, h_scalars, (G_scalar + form_G) % R, H_scalar, points, scalars)


def check_terms(terms: Sequence[VerificationTerms]) -> bool:
    """True iff the sum of the terms is the identity, computed with ONE multi-scalar multiplication.

    The g and h vectors may have different lengths (a Bulletproofs++ statement's h vector can be longer
    than its g vector): each is summed over the prefix it covers."""
    g_size = max(len(t.g_scalars) for t in terms)
    h_size = max(len(t.h_scalars) for t in terms)
    g_total = [0] * g_size
    h_total = [0] * h_size
    G_total = H_total = 0
    # A point several terms share (an account's variable in every part of its chunk's proof) enters the MSM
    # once with its scalars summed: the same sum, a third fewer points in a chunk's batch (docs/performance.md,
    # "Session 15: options-heavy audit"). Keyed by identity: one object is one point.
    slot: dict[int, int] = {}
    points: list[G1Point] = []
    scalars: list[int] = []
    for t in terms:
        g_total[:len(t.g_scalars)] = map(add, g_total, t.g_scalars)  # stops at the shorter: the term's
        h_total[:len(t.h_scalars)] = map(add, h_total, t.h_scalars)
        G_total += t.G_scalar
        H_total += t.H_scalar
        for P, k in zip(t.points, t.scalars, strict=True):
            index = slot.setdefault(id(P), len(points))
            if index == len(points):
                points.append(P)
                scalars.append(k)
            else:
                scalars[index] += k
    bases = pedersen_bases()
    G_vec, H_vec = vector_generators(max(g_size, h_size))
    with cyclic_gc_paused():
        result = msm(
            [*G_vec[:g_size], *H_vec[:h_size], bases.G, bases.H, *points],
            [*(v % R for v in g_total), *(v % R for v in h_total), G_total % R, H_total % R, *scalars],
        )
    return result.is_identity()


def verify_range(
    proof: RangeProof, commitments: Sequence[G1Point], n_bits: int, context: bytes
) -> None:
    """Check that ``proof`` shows every commitment opens to a value in [0, 2^n_bits) in ``context``.

    One multi-scalar multiplication. Raises VerificationError on any failure; returns None.
    """
    statement = RangeStatement(proof=proof, commitments=commitments, n_bits=n_bits, context=context)
    if not check_terms([verification_terms(statement, 1, fr_random)]):
        raise VerificationError("range proof does not verify")
