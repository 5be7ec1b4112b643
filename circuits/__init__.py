"""Layer 3, the bridge: an epoch's risk model compiled into statements over committed values.

- :mod:`circuits.linear_combination` and :mod:`circuits.constraint_system`: the front end
  (allocate committed variables, ``assert_nonnegative(lc, bits)``, ``assert_zero(lc)``);
- :mod:`circuits.budget`: the soundness bit budget (every variable bounded, no form wraps);
- :mod:`circuits.public_data`: the epoch's public risk data and the private account witness;
- :mod:`circuits.account_statement`: the collateralization statement of an account.

A statement describes constraints; it never imports a prover.
"""

from circuits.account_statement import AccountStatement, account_statement
from circuits.budget import BudgetReport, analyze
from circuits.constraint_system import SUPPORTED_WIDTHS, Constraint, ConstraintSystem, Statement
from circuits.linear_combination import LinearCombination, Variable
from circuits.public_data import (
    MARGIN_MODES,
    PORTFOLIO,
    STANDARD,
    AccountWitness,
    MarginLine,
    PublicInstrument,
    PublicRiskData,
    ScenarioMargin,
)

__all__ = [
    "MARGIN_MODES",
    "PORTFOLIO",
    "STANDARD",
    "SUPPORTED_WIDTHS",
    "AccountStatement",
    "AccountWitness",
    "BudgetReport",
    "Constraint",
    "ConstraintSystem",
    "LinearCombination",
    "MarginLine",
    "PublicInstrument",
    "PublicRiskData",
    "ScenarioMargin",
    "Statement",
    "Variable",
    "account_statement",
    "analyze",
]
