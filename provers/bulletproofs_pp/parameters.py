"""Parameters of the Bulletproofs++ range proof and the vector lengths they imply.

A value of ``n_bits`` bits (one of ``BIT_SIZES = (8, 16, 32, 64)``, default ``N_BITS = 64``) is written in
``digit_count(n_bits) = n_bits/4`` digits of base ``BASE = 16`` (16^(n/4) = 2^n; ``DIGITS = 16`` for 64 bits).
A proof covers m values, padded (as in provers/bulletproofs) to ``M = next_power_of_two(m)`` with values 0,
blindings 0 and the identity as commitment, so the norm vector (one entry per digit) has the power-of-two
length ``D·M``.

The linear vector has ``l_length(m, n_bits) = max(32, D·M/4)`` slots (a power of two, as the WNLA needs);
its layout does not depend on n_bits or M (the slots are per digit value and per power of T, never per digit):

    slot 0                the blinding, on the Pedersen base H (c = 0)
    slots 1 .. 16         the multiplicities m_a of the digits a = 0..15
    slots 17 .. 20        the coefficients t_j of the powers JUNK_POWERS of the challenge T
    slots 21 ..           unused: zero in an honest proof, with c = β^s·T^UNUSED_C_POWER (s the slot index)

Only 21 slots are used; the length grows with M so that the WNLA keeps halving both vectors until the norm
vector has at most 4 entries (with 32 slots for 64 values it would stop at 1 + 32 scalars). For small D·M
(e.g. 8 bits, m = 1: N = 2) the 32 slots stay: the WNLA stops when the norm vector reaches one entry, with
more final l scalars (a valid WNLA shape, only a larger proof: :func:`proof_shape`).

The powers of T (docs/protocol.md, "Bulletproofs++ range proof", layout): C_B at T^-4, C_S at T^-1, C_D
(digits) at T^1, C_R (reciprocals) at T^3, the V_k at T^4 = the checked power D_POWER + R_POWER.
"""

from __future__ import annotations

from provers.bulletproofs.parameters import BIT_SIZES, padded_count
from provers.bulletproofs_pp.wnla import wnla_shape

#: The default (and largest) bit width; every supported width is in BIT_SIZES (shared with Bulletproofs).
N_BITS = 64
BASE = 16
#: Digits of a 64-bit value (``digit_count(N_BITS)``).
DIGITS = 16
#: The largest number of values in one proof.
MAX_VALUES = 64
#: The power of T of each commitment: C_D (digits, multiplicities), C_R (reciprocals), C_S (the last one,
#: after ρ, β, δ), C_B (a mask only) and the V_k, whose G-coefficient sits on the checked power.
D_POWER, R_POWER, S_POWER, B_POWER = 1, 3, -1, -4
CHECKED_POWER = D_POWER + R_POWER
#: The powers of T whose coefficients the prover commits in C_S (every power of <c(T), l(T)> + |n(T)|²_μ
#: except T^4, the checked one, and T^3, which C_R's G-coefficient g_R supplies). The slot of T^j has
#: c = T^{j - S_POWER} = T^{j+1}.
JUNK_POWERS = (-2, 0, 2, 6)
#: Where the mask u_j of the slot of T^j comes from, as the power of T of that commitment: C_D (T^1),
#: C_R (T^3) or C_B (T^-4). The mask adds T^{j+1+power}·u_j to <c(T), l(T)>, which must land on another
#: power of JUNK_POWERS or on R_POWER (cancelled by g_R), never on T^4: -2 -> 2, 0 -> 2, 2 -> 6, 6 -> 3.
#: These edges form a tree rooted at g_R, so (u_j) -> slot values is triangular (zero knowledge).
MASK_POWERS = {-2: R_POWER, 0: D_POWER, 2: R_POWER, 6: B_POWER}
#: The c-power of the unused slots: V_k's component there lands on T^14, which no other commitment reaches;
#: C_S's lands on T^9, which constrains nothing (docs/protocol.md, soundness item 6).
UNUSED_C_POWER = 10
BLINDING_SLOT = 0
MULTIPLICITY_SLOT = 1
JUNK_SLOT = MULTIPLICITY_SLOT + BASE
UNUSED_SLOT = JUNK_SLOT + len(JUNK_POWERS)
MIN_L_LENGTH = 32

assert BASE**DIGITS == 1 << N_BITS
assert all(n % 4 == 0 and BASE ** (n // 4) == 1 << n for n in BIT_SIZES)
assert UNUSED_SLOT <= MIN_L_LENGTH
assert all(j - S_POWER + power in (*JUNK_POWERS, R_POWER) for j, power in MASK_POWERS.items())
assert CHECKED_POWER not in JUNK_POWERS and R_POWER not in JUNK_POWERS


def check_count(m: int, error: type[Exception]) -> None:
    """Raise ``error`` unless 1 <= m <= MAX_VALUES."""
    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= MAX_VALUES:
        raise error(f"number of values m must be in [1, {MAX_VALUES}], got {m!r}")


def check_bits(n_bits: int, error: type[Exception]) -> None:
    """Raise ``error`` unless n_bits is one of BIT_SIZES."""
    if isinstance(n_bits, bool) or n_bits not in BIT_SIZES:
        raise error(f"bit size n must be one of {BIT_SIZES}, got {n_bits!r}")


def digit_count(n_bits: int = N_BITS) -> int:
    """D: the base-16 digits of an n_bits value (n_bits/4)."""
    return n_bits // 4


def n_length(m: int, n_bits: int = N_BITS) -> int:
    """The norm vector's length: one entry per digit of the M padded values, ``D·M``."""
    return digit_count(n_bits) * padded_count(m)


def l_length(m: int, n_bits: int = N_BITS) -> int:
    """The linear vector's length: ``max(32, D·M/4)``."""
    return max(MIN_L_LENGTH, n_length(m, n_bits) // 4)


def proof_shape(m: int, n_bits: int = N_BITS) -> tuple[int, int, int]:
    """``(WNLA rounds, final l length, final n length)`` of a proof for m values of n_bits bits."""
    return wnla_shape(l_length(m, n_bits), n_length(m, n_bits))
