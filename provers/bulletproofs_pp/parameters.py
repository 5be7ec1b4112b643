"""Parameters of the Bulletproofs++ range proof and the vector lengths they imply.

A value of ``N_BITS = 64`` bits is written in ``DIGITS = 16`` digits of base ``BASE = 16``
(16^16 = 2^64). A proof covers m values, padded (as in provers/bulletproofs) to
``M = next_power_of_two(m)`` with values 0, blindings 0 and the identity as commitment, so the
norm vector (one entry per digit) has the power-of-two length ``DIGITS·M``.

The linear vector has ``l_length(m) = max(32, DIGITS·M/4)`` slots (a power of two, as the WNLA needs):

    slot 0                the blinding, on the Pedersen base H
    slots 1 .. 16         the multiplicities m_a of the digits a = 0..15
    slots 17 .. 21        the coefficients t_j of the powers JUNK_POWERS of the challenge T
    slots 22 ..           unused (zero, with c = 0)

Only 22 slots are used; the length grows with M so that the WNLA keeps halving both vectors until the norm
vector has at most 4 entries (with 32 slots for 64 values it would stop at 1 + 32 scalars).
"""

from __future__ import annotations

from provers.bulletproofs.parameters import padded_count
from provers.bulletproofs_pp.wnla import wnla_shape

N_BITS = 64
BASE = 16
DIGITS = 16
#: The largest number of values in one proof.
MAX_VALUES = 64
#: The powers of T whose coefficients the prover commits in C_S (every power of <c(T), l(T)> + |n(T)|²
#: except T³, the one the verifier checks).
JUNK_POWERS = (-2, 0, 1, 2, 4)
#: Where the mask u_j of the slot of T^j comes from, as the power of T of that commitment: C_D (T^1),
#: C_R (T^2) or C_B (T^-3). The mask adds T^{j+1+power}·u_j to <c(T), l(T)>, which must land on another
#: power of JUNK_POWERS (never on T^3): -2 -> 0, 0 -> 2, 1 -> 4, 2 -> 4, 4 -> 2.
MASK_POWERS = {-2: 1, 0: 1, 1: 2, 2: 1, 4: -3}
BLINDING_SLOT = 0
MULTIPLICITY_SLOT = 1
JUNK_SLOT = MULTIPLICITY_SLOT + BASE
MIN_L_LENGTH = 32

assert BASE**DIGITS == 1 << N_BITS
assert JUNK_SLOT + len(JUNK_POWERS) <= MIN_L_LENGTH
assert all(j + 1 + power in JUNK_POWERS for j, power in MASK_POWERS.items())


def check_count(m: int, error: type[Exception]) -> None:
    """Raise ``error`` unless 1 <= m <= MAX_VALUES."""
    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= MAX_VALUES:
        raise error(f"number of values m must be in [1, {MAX_VALUES}], got {m!r}")


def n_length(m: int) -> int:
    """The norm vector's length: one entry per digit of the M padded values."""
    return DIGITS * padded_count(m)


def l_length(m: int) -> int:
    """The linear vector's length: ``max(32, DIGITS·M/4)``."""
    return max(MIN_L_LENGTH, n_length(m) // 4)


def proof_shape(m: int) -> tuple[int, int, int]:
    """``(WNLA rounds, final l length, final n length)`` of a proof for m values."""
    return wnla_shape(l_length(m), n_length(m))
