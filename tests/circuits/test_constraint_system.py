"""The statement front end: linear combinations, constraints, exact integer checking."""

import pytest

from circuits import ConstraintSystem, LinearCombination
from zkclear.errors import ConfigurationError


def test_linear_combinations_are_canonical_and_evaluate_exactly():
    cs = ConstraintSystem("t")
    x, y = cs.allocate("x"), cs.allocate("y")
    lc = 3 * x - y + 7 - 2 * x + y
    assert lc == LinearCombination(((0, 1),), 7)
    assert (x - x).terms == ()
    assert (2 * x + 5 * y - 1).evaluate([10, -3]) == 20 - 15 - 1
    assert (x * 0) == LinearCombination()
    assert (10 - x).evaluate([4]) == 6


def test_coefficients_must_be_integers():
    cs = ConstraintSystem("t")
    x = cs.allocate("x")
    with pytest.raises(TypeError):
        _ = x * 1.5
    with pytest.raises(TypeError):
        _ = x + "1"


def test_statement_checks_constraints_over_the_integers():
    cs = ConstraintSystem("t")
    x, y = cs.allocate("x"), cs.allocate("y")
    cs.assert_nonnegative(x - y, 8, "x>=y")
    cs.assert_zero(x + y - 10, "sum")
    statement = cs.finish()
    assert statement.violations([6, 4]) == []
    names = [c.name for c, _ in statement.violations([4, 6])]
    assert names == ["x>=y"]
    # 2^8 is out of an 8-bit range even though it is "non-negative".
    assert [c.name for c, _ in statement.violations([263, -253])] == ["x>=y"]
    assert statement.range_bits == 8


def test_unsupported_width_and_false_constants_are_configuration_errors():
    cs = ConstraintSystem("t")
    x = cs.allocate("x")
    with pytest.raises(ConfigurationError):
        cs.assert_nonnegative(x, 12, "odd width")
    with pytest.raises(ConfigurationError):
        cs.assert_nonnegative(LinearCombination((), -1), 8, "false")
    cs.assert_nonnegative(LinearCombination((), 3), 8, "true constant is dropped")
    assert cs.finish().constraints == ()


def test_duplicate_forms_are_proven_once_and_names_are_unique():
    cs = ConstraintSystem("t")
    x = cs.allocate("x")
    cs.assert_nonnegative(x, 32, "a")
    cs.assert_nonnegative(x + 0, 32, "b")
    assert len(cs.finish().constraints) == 1
    with pytest.raises(ValueError):
        cs.allocate("x")
