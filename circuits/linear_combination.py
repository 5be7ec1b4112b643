"""Committed variables and linear combinations of them with public integer coefficients.

A :class:`Variable` is a handle on a committed value of a statement (its value and blinding live
with the prover, its commitment with the verifier). A :class:`LinearCombination` is
``constant + Σ coefficient_i · variable_i`` with exact Python-int coefficients; it is the only
kind of expression a statement may constrain, so every constrained quantity has a commitment the
verifier derives homomorphically: ``C(lc) = constant·G + Σ coefficient_i · C(variable_i)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Variable:
    """A committed variable of a constraint system: ``index`` in allocation order, ``name`` for messages."""

    index: int
    name: str

    def lc(self) -> LinearCombination:
        """This variable as a linear combination (coefficient 1, constant 0)."""
        return LinearCombination(((self.index, 1),), 0)

    def __add__(self, other: object) -> LinearCombination:
        return self.lc() + other

    __radd__ = __add__

    def __sub__(self, other: object) -> LinearCombination:
        return self.lc() - other

    def __rsub__(self, other: object) -> LinearCombination:
        return (-self.lc()) + other

    def __neg__(self) -> LinearCombination:
        return -self.lc()

    def __mul__(self, factor: object) -> LinearCombination:
        return self.lc() * factor

    __rmul__ = __mul__


def as_linear_combination(value: object) -> LinearCombination:
    """Coerce a Variable, an int (a constant) or a LinearCombination; TypeError otherwise."""
    if isinstance(value, LinearCombination):
        return value
    if isinstance(value, Variable):
        return value.lc()
    if _is_int(value):
        return LinearCombination((), value)
    raise TypeError(f"expected a Variable, LinearCombination or int, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class LinearCombination:
    """``constant + Σ coefficient · variable``; ``terms`` are (variable index, coefficient) pairs.

    Guaranteed canonical: terms sorted by variable index, one term per variable, no zero
    coefficient, so two combinations are equal iff they are the same linear function.
    """

    terms: tuple[tuple[int, int], ...] = ()
    constant: int = 0

    @staticmethod
    def _make(coefficients: dict[int, int], constant: int) -> LinearCombination:
        return LinearCombination(tuple(sorted((i, c) for i, c in coefficients.items() if c)), constant)

    def __add__(self, other: object) -> LinearCombination:
        try:
            rhs = as_linear_combination(other)
        except TypeError:
            return NotImplemented
        merged = dict(self.terms)
        for index, coefficient in rhs.terms:
            merged[index] = merged.get(index, 0) + coefficient
        return self._make(merged, self.constant + rhs.constant)

    __radd__ = __add__

    def __neg__(self) -> LinearCombination:
        return LinearCombination(tuple((i, -c) for i, c in self.terms), -self.constant)

    def __sub__(self, other: object) -> LinearCombination:
        try:
            rhs = as_linear_combination(other)
        except TypeError:
            return NotImplemented
        return self + (-rhs)

    def __rsub__(self, other: object) -> LinearCombination:
        return (-self) + other

    def __mul__(self, factor: object) -> LinearCombination:
        if not _is_int(factor):
            return NotImplemented
        if factor == 0:
            return LinearCombination((), 0)
        return LinearCombination(tuple((i, c * factor) for i, c in self.terms), self.constant * factor)

    __rmul__ = __mul__

    @property
    def variables(self) -> tuple[int, ...]:
        """Indices of the variables with a non-zero coefficient."""
        return tuple(i for i, _ in self.terms)

    def coefficient(self, index: int) -> int:
        """The coefficient of variable ``index`` (0 when absent)."""
        return dict(self.terms).get(index, 0)

    def evaluate(self, values: Sequence[int]) -> int:
        """The exact integer value for the given variable values (indexed by variable index)."""
        return self.constant + sum(c * values[i] for i, c in self.terms)
