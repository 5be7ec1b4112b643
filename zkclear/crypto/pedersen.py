"""Pedersen commitments over BLS12-381 G1: ``commit(v, r) = v·G + r·H``.

(G, H) are :func:`zkclear.crypto.generators.pedersen_generators`. Scalars are taken mod R, so a
commitment binds a value *modulo R* only: statements that need an integer meaning (a balance, a
position) range-prove the committed value separately (docs/protocol.md, "Bit budget").
Commitments are additively homomorphic::

    commit(v1, r1) + commit(v2, r2) == commit(v1 + v2, r1 + r2)
    k · commit(v, r)                == commit(k·v, k·r)

and :class:`Opening` carries the matching arithmetic on the secrets.
"""

from __future__ import annotations

import operator
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from zkclear.crypto.field import R
from zkclear.crypto.generators import pedersen_generators
from zkclear.crypto.group import FixedBase, G1Point, msm


@cache
def _value_base_table() -> FixedBase:
    return FixedBase(pedersen_generators()[0])


@cache
def _blinding_base_table() -> FixedBase:
    return FixedBase(pedersen_generators()[1])


def _as_scalars(values: Sequence[int], what: str) -> list[int]:
    """Integers (int, numpy integers: anything with __index__) reduced mod R.

    A float or Decimal would be reduced "mod R" silently and commit to garbage: it fails loudly.
    """
    try:
        return [operator.index(item) % R for item in values]
    except TypeError:
        bad = next((item for item in values if not hasattr(type(item), "__index__")), None)
        raise TypeError(f"{what} must be integers, got {type(bad).__name__}") from None


def commit(value: int, blinding: int) -> G1Point:
    """value·G + blinding·H, both scalars reduced mod R (a negative value commits to R + value)."""
    value_scalar, blinding_scalar = _as_scalars((value, blinding), "commitment value and blinding")
    return _value_base_table().mul(value_scalar) + _blinding_base_table().mul(blinding_scalar)


def commit_many(values: Sequence[int], blindings: Sequence[int]) -> list[G1Point]:
    """[commit(v, r) for v, r in zip(values, blindings)]; the lengths must match."""
    if len(values) != len(blindings):
        raise ValueError(f"commit_many: {len(values)} values but {len(blindings)} blindings")
    value_scalars = _as_scalars(values, "committed values")
    blinding_scalars = _as_scalars(blindings, "blindings")
    value_table = _value_base_table()
    blinding_table = _blinding_base_table()
    return [
        value_table.mul(value) + blinding_table.mul(blinding)
        for value, blinding in zip(value_scalars, blinding_scalars, strict=True)
    ]


def commit_vector(values: Sequence[int], blinding: int, gens: Sequence[G1Point]) -> G1Point:
    """Σ values[i]·gens[i] + blinding·H (one MSM); ``gens`` must have exactly one point per value.

    Binding holds as long as nobody knows discrete-log relations among ``gens`` and H, which is
    the case for :func:`zkclear.crypto.generators.generator_vector` outputs.
    """
    if len(values) != len(gens):
        raise ValueError(f"commit_vector: {len(values)} values but {len(gens)} generators")
    scalars = _as_scalars((*values, blinding), "committed values and blinding")
    blinding_base = pedersen_generators()[1]
    return msm([*gens, blinding_base], scalars)


@dataclass(frozen=True, slots=True)
class Opening:
    """The secrets (value, blinding) behind a commitment ``value·G + blinding·H``.

    ``value`` stays an exact integer (sums and differences keep their sign, which is what a
    range proof is about); ``blinding`` is reduced mod R on construction. Arithmetic mirrors
    the commitment's homomorphism: ``commit(a + b) == commit(a) + commit(b)`` and so on.
    """

    value: int
    blinding: int

    def __post_init__(self) -> None:
        for name in ("value", "blinding"):
            field_value = getattr(self, name)
            if isinstance(field_value, bool) or not isinstance(field_value, int):
                raise TypeError(f"Opening.{name} must be an int, got {type(field_value).__name__}")
        object.__setattr__(self, "blinding", self.blinding % R)

    def __add__(self, other: Opening) -> Opening:
        if not isinstance(other, Opening):
            return NotImplemented
        return Opening(self.value + other.value, self.blinding + other.blinding)

    def __sub__(self, other: Opening) -> Opening:
        if not isinstance(other, Opening):
            return NotImplemented
        return Opening(self.value - other.value, self.blinding - other.blinding)

    def __neg__(self) -> Opening:
        return Opening(-self.value, -self.blinding)

    def scale(self, factor: int) -> Opening:
        """The opening of ``factor · commitment``."""
        return Opening(self.value * factor, self.blinding * factor)

    def commitment(self) -> G1Point:
        """commit(value, blinding)."""
        return commit(self.value, self.blinding)

    def __repr__(self) -> str:
        # Openings are secrets; keep them out of logs and tracebacks by default.
        return "Opening(<secret>)"


#: The weights of :func:`all_commit_to_zero` are drawn uniformly from [1, 2^ZERO_CHECK_WEIGHT_BITS).
ZERO_CHECK_WEIGHT_BITS = 128


def all_commit_to_zero(commitments: Sequence[G1Point], blindings: Sequence[int]) -> bool:
    """Whether every ``commitments[j]`` is ``commit(0, blindings[j])``, checked with one multi-scalar multiplication
    (a small-exponent batch test, Bellare–Garay–Rabin)::

        Σ ρ_j·C_j − (Σ ρ_j·b_j mod r)·H == 𝒪,   ρ_j uniform in [1, 2^128), drawn here with ``secrets``

    True whenever every commitment opens to zero. The points are in G1 (prime order r), so if one is
    C_k = b_k·H + D_k with D_k ≠ 𝒪 the sum is Σ ρ_j·D_j, which is 𝒪 for at most one residue of ρ_k mod r once the
    other weights are fixed: False except with probability ≤ 1/(2^128 − 1). The weights are the verifier's own
    randomness, never derived from the data, so a prover cannot make errors cancel (a fixed all-ones combination
    would pass C_1 + D, C_2 − D). Empty lists are all zero; the lengths must match (ValueError).
    """
    if len(commitments) != len(blindings):
        raise ValueError(f"all_commit_to_zero: {len(commitments)} commitments but {len(blindings)} blindings")
    if not commitments:
        return True
    blinding_scalars = _as_scalars(blindings, "blindings")
    weights = [secrets.randbelow((1 << ZERO_CHECK_WEIGHT_BITS) - 1) + 1 for _ in commitments]
    blinding_sum = sum(w * b for w, b in zip(weights, blinding_scalars, strict=True)) % R
    return msm([*commitments, pedersen_generators()[1]], [*weights, R - blinding_sum]).is_identity()


def verify_opening(commitment: G1Point, opening: Opening) -> bool:
    """True iff ``commitment == opening.value·G + opening.blinding·H`` (values compared mod R)."""
    return commitment == commit(opening.value, opening.blinding)
