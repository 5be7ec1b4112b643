"""The soundness bit budget: what a statement proven modulo the group order means over the integers.

A commitment binds a value modulo ``R`` only, and a range proof shows that the *residue* of a form
lies in ``[0, 2^bits)``. This module turns those facts into integer facts, or refuses the statement
(docs/protocol.md, "Collateralization proofs — soundness budget"):

1. **Bounding.** A variable ``x`` is bounded once some proven constraint ``F ∈ [0, 2^b)`` has
   coefficient ±1 on ``x`` and every other variable of ``F`` is already bounded: then
   ``±x ≡ F − rest`` (mod R) where the right side is an integer in a known interval, so ``x`` is
   congruent to an integer in that interval (its *integer representative*). Repeating this to a
   fixed point gives an interval ``[lo_x, hi_x]`` for every variable; a variable that never
   becomes bounded (for example one that only appears with coefficient ≠ ±1, or nowhere) could be
   any residue, and the statement is refused.
2. **No wrap-around.** For every constraint, the integer value ``V`` of its form over the
   representatives lies in ``[lo_F, hi_F]``. ``V ≡ F`` with ``F ∈ [0, 2^b)``, so ``V − F`` is a
   multiple of ``R`` in ``[lo_F − 2^b + 1, hi_F]``. If that interval lies strictly inside
   ``(−R, R)``, then ``V = F``: the constraint holds over the integers. Otherwise the statement
   is refused.

So a statement accepted here proves, for integers within the reported bounds, exactly the
inequalities it states. :func:`analyze` raises :class:`ConfigurationError` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from circuits.constraint_system import Constraint, Statement
from zkclear.crypto.field import R
from zkclear.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class BudgetReport:
    """The outcome of :func:`analyze` for one statement.

    ``variable_bounds[i]`` is the interval of variable i's integer representative;
    ``bounded_by[i]`` the constraint that bounds it; ``form_bounds[k]`` the interval of constraint
    k's integer value; ``headroom_bits`` = log2(R) − the bit length of the largest magnitude any form
    can take (the margin before a wrap becomes possible); ``range_bits`` the total proven bits.
    """

    statement_label: str
    variable_bounds: tuple[tuple[int, int], ...]
    bounded_by: tuple[str, ...]
    form_bounds: tuple[tuple[int, int], ...]
    range_bits: int
    max_form_magnitude_bits: int
    headroom_bits: int


def _interval(form_terms: tuple[tuple[int, int], ...], constant: int,
              bounds: dict[int, tuple[int, int]], skip: int | None = None) -> tuple[int, int]:
    lo = hi = constant
    for index, coefficient in form_terms:
        if index == skip:
            continue
        low, high = bounds[index]
        if coefficient > 0:
            lo += coefficient * low
            hi += coefficient * high
        else:
            lo += coefficient * high
            hi += coefficient * low
    return lo, hi


def _proven_range(constraint: Constraint) -> tuple[int, int]:
    return (0, 0) if constraint.bits is None else (0, (1 << constraint.bits) - 1)


def analyze(statement: Statement, modulus: int = R) -> BudgetReport:
    """Check the statement's bit budget (see the module docstring); ConfigurationError if broken."""
    bounds: dict[int, tuple[int, int]] = {}
    bounded_by: dict[int, str] = {}
    progress = True
    while progress and len(bounds) < len(statement.variables):
        progress = False
        for constraint in statement.constraints:
            unknown = [(i, c) for i, c in constraint.form.terms if i not in bounds]
            if len(unknown) != 1 or abs(unknown[0][1]) != 1:
                continue
            index, sign = unknown[0]
            rest_lo, rest_hi = _interval(constraint.form.terms, constraint.form.constant, bounds, skip=index)
            proven_lo, proven_hi = _proven_range(constraint)
            # sign·x = F − rest with F ∈ [proven_lo, proven_hi] and rest ∈ [rest_lo, rest_hi].
            lo, hi = proven_lo - rest_hi, proven_hi - rest_lo
            if sign < 0:
                lo, hi = -hi, -lo
            if hi - lo >= modulus:
                raise ConfigurationError(f"{statement.label}: the bound of variable "
                                         f"{statement.variables[index]!r} is wider than the group order")
            bounds[index] = (lo, hi)
            bounded_by[index] = constraint.name
            progress = True
    missing = [name for i, name in enumerate(statement.variables) if i not in bounds]
    if missing:
        raise ConfigurationError(f"{statement.label}: variables {missing} are not bounded by any range "
                                 "constraint with coefficient ±1; they could be any residue mod r")
    form_bounds = []
    largest = 0
    for constraint in statement.constraints:
        lo, hi = _interval(constraint.form.terms, constraint.form.constant, bounds)
        proven_hi = _proven_range(constraint)[1]
        # V − F ∈ [lo − proven_hi, hi] must contain no non-zero multiple of the modulus.
        if lo - proven_hi <= -modulus or hi >= modulus:
            raise ConfigurationError(f"{statement.label}: constraint {constraint.name!r} can wrap around the "
                                     f"group order (its value spans [{lo}, {hi}]); lower the bit widths, "
                                     "coefficients or listing size")
        form_bounds.append((lo, hi))
        largest = max(largest, abs(lo - proven_hi), abs(hi))
    return BudgetReport(
        statement_label=statement.label,
        variable_bounds=tuple(bounds[i] for i in range(len(statement.variables))),
        bounded_by=tuple(bounded_by[i] for i in range(len(statement.variables))),
        form_bounds=tuple(form_bounds),
        range_bits=statement.range_bits,
        max_form_magnitude_bits=largest.bit_length(),
        headroom_bits=(modulus.bit_length() - 1) - largest.bit_length(),
    )
