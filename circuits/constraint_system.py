"""A small front end for statements over committed variables (in the spirit of gnark's API).

A statement allocates committed variables and asserts, over linear combinations of them with
public integer coefficients,

- ``assert_nonnegative(lc, bits)``: the value of ``lc`` lies in ``[0, 2^bits)``;
- ``assert_zero(lc)``: the value of ``lc`` is 0.

It says nothing about how the constraints are proven: a prover compiles each constraint to a
*form* (a linear combination whose commitment the verifier derives homomorphically) and proves
the forms. What the constraints mean over the integers, rather than modulo the group order,
is the job of :mod:`circuits.budget`, which checks that every variable is bounded and that no
form can wrap around.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from circuits.linear_combination import LinearCombination, Variable, as_linear_combination
from zkclear.errors import ConfigurationError

#: The bit widths a non-negativity constraint may use (the widths the aggregated range proof supports).
SUPPORTED_WIDTHS = (8, 16, 32, 64)


@dataclass(frozen=True, slots=True)
class Constraint:
    """One constraint: ``form ∈ [0, 2^bits)`` when ``bits`` is set, ``form == 0`` when ``bits`` is None."""

    name: str
    form: LinearCombination
    bits: int | None

    @property
    def is_zero(self) -> bool:
        return self.bits is None

    def holds(self, values: Sequence[int]) -> bool:
        """Whether the constraint holds over the integers for these variable values."""
        value = self.form.evaluate(values)
        if self.bits is None:
            return value == 0
        return 0 <= value < (1 << self.bits)


@dataclass(frozen=True, slots=True)
class Statement:
    """A finished constraint system: variable names (in index order) and constraints (in order)."""

    label: str
    variables: tuple[str, ...]
    constraints: tuple[Constraint, ...]

    @property
    def range_constraints(self) -> tuple[Constraint, ...]:
        return tuple(c for c in self.constraints if c.bits is not None)

    @property
    def zero_constraints(self) -> tuple[Constraint, ...]:
        return tuple(c for c in self.constraints if c.bits is None)

    @property
    def range_bits(self) -> int:
        """Total number of range-proven bits (Σ bits over non-negativity constraints)."""
        return sum(c.bits for c in self.constraints if c.bits is not None)

    def violations(self, values: Sequence[int]) -> list[tuple[Constraint, int]]:
        """The constraints that do not hold for ``values``, each with the form's integer value."""
        if len(values) != len(self.variables):
            raise ValueError(f"{len(values)} values for {len(self.variables)} variables")
        return [(c, c.form.evaluate(values)) for c in self.constraints if not c.holds(values)]

    def digest(self) -> bytes:
        """SHA-256 of a canonical text encoding of the statement (label, variables, constraints)."""
        lines = [f"statement {self.label}", *(f"var {name}" for name in self.variables)]
        for c in self.constraints:
            terms = " ".join(f"{i}:{k}" for i, k in c.form.terms)
            lines.append(f"con {c.name} bits={c.bits} const={c.form.constant} {terms}")
        return hashlib.sha256("\n".join(lines).encode()).digest()


class ConstraintSystem:
    """Builds a :class:`Statement`: allocate variables, assert constraints, then :meth:`finish`."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._names: list[str] = []
        self._constraints: list[Constraint] = []
        self._seen: set[tuple[LinearCombination, int | None]] = set()

    def allocate(self, name: str) -> Variable:
        """A new committed variable (its value and blinding are supplied when proving)."""
        if name in self._names:
            raise ValueError(f"variable {name!r} allocated twice")
        self._names.append(name)
        return Variable(len(self._names) - 1, name)

    def _add(self, name: str, lc: object, bits: int | None) -> None:
        form = as_linear_combination(lc)
        for index, _ in form.terms:
            if not 0 <= index < len(self._names):
                raise ValueError(f"constraint {name!r} uses a variable of another constraint system")
        if not form.terms:
            # A constant constraint is decided now: true ones are dropped, false ones make the statement
            # unsatisfiable, which is a configuration error rather than something to prove.
            holds = form.constant == 0 if bits is None else 0 <= form.constant < (1 << bits)
            if not holds:
                raise ConfigurationError(f"constraint {name!r} is a false constant statement")
            return
        key = (form, bits)
        if key in self._seen:  # the same form proven twice adds cost and no soundness
            return
        self._seen.add(key)
        self._constraints.append(Constraint(name, form, bits))

    def assert_nonnegative(self, lc: LinearCombination | Variable | int, bits: int, name: str) -> None:
        """Constrain ``lc`` to ``[0, 2^bits)``; ``bits`` must be one of :data:`SUPPORTED_WIDTHS`."""
        if isinstance(bits, bool) or bits not in SUPPORTED_WIDTHS:
            raise ConfigurationError(f"constraint {name!r}: bit width must be one of {SUPPORTED_WIDTHS}, "
                                     f"got {bits!r}")
        self._add(name, lc, bits)

    def assert_zero(self, lc: LinearCombination | Variable | int, name: str) -> None:
        """Constrain ``lc`` to be 0."""
        self._add(name, lc, None)

    def finish(self) -> Statement:
        """The statement built so far (the system may keep growing; the statement does not)."""
        return Statement(self.label, tuple(self._names), tuple(self._constraints))
