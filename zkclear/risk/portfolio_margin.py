"""Portfolio (scenario) margin of an account from the public :class:`ScenarioTable`.

Definitions (all integers; ``E = table.value_changes``, ``S = table.scale``)::

    loss_s          = -sum_j q_j * E[j][s]                      (in 1/S settlement units)
    worst_u         = max(0, max_{s in group u} loss_s)         (one per underlying u)
    scenario_margin = ceil(sum_u worst_u / S)                   (settlement units)
    charge_j        = max(long_j * q_j, -short_j * q_j, 0)      (short-option minimum / long rounding)
    maintenance     = scenario_margin + sum_j charge_j

Scenarios of different underlyings are never combined (each grid shocks one underlying), so
losses on two underlyings add up — no credit is given for cross-underlying hedges.

Why this is provable with linear forms only (the ZK statement, see docs/clearing.md): with a
hidden ``w_u`` per underlying and a hidden ``m_j`` per instrument the account proves
``w_u - loss_s >= 0`` for every s in u, ``w_u >= 0``, ``m_j - long_j q_j >= 0``,
``m_j + short_j q_j >= 0`` and ``S * (equity - sum_j m_j) - sum_u w_u >= 0``. For an integer
equity that is exactly ``equity >= maintenance`` with the smallest witnesses ``w_u = worst_u``,
``m_j = charge_j``; larger witnesses only make the check harder to pass.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from zkclear.errors import ConfigurationError, InputError
from zkclear.risk.rounding import PPM, ceil_div
from zkclear.risk.scenarios import ScenarioTable

_INT64_MAX = (1 << 63) - 1


class MarginMode(enum.StrEnum):
    """How an account is margined: per-position standard rules, or the scenario (portfolio) model."""

    STANDARD = "standard"
    PORTFOLIO = "portfolio"


@dataclass(frozen=True, slots=True)
class PortfolioMarginResult:
    """An account's portfolio margin with its parts (all ints).

    ``scenario_losses`` in 1/scale units; ``worst_by_underlying`` is (underlying, column, worst_u)
    with column = the scenario index of the worst loss (``-1`` when no scenario loses).
    """

    scenario_losses: tuple[int, ...]
    worst_by_underlying: tuple[tuple[str, int, int], ...]
    scenario_margin: int
    position_charge: int
    maintenance_margin: int
    initial_margin: int


def _positions_vector(table: ScenarioTable, positions: Mapping[str, int] | Sequence[int]) -> tuple[int, ...]:
    if isinstance(positions, Mapping):
        unknown = set(positions) - set(table.instrument_ids)
        if unknown:
            raise InputError(
                f"positions in instruments not in the scenario table: {sorted(unknown)}", field="positions"
            )
        return tuple(int(positions.get(instrument, 0)) for instrument in table.instrument_ids)
    vector = tuple(int(quantity) for quantity in positions)
    if len(vector) != len(table.instrument_ids):
        raise InputError(
            f"expected {len(table.instrument_ids)} positions, got {len(vector)}", field="positions"
        )
    return vector


def scenario_losses(table: ScenarioTable, positions: Mapping[str, int] | Sequence[int]) -> tuple[int, ...]:
    """``loss_s = -sum_j q_j E[j][s]`` for every scenario, exact Python ints, in 1/scale units."""
    q = _positions_vector(table, positions)
    return tuple(
        -sum(quantity * row[s] for quantity, row in zip(q, table.value_changes, strict=True) if quantity)
        for s in range(len(table.scenarios))
    )


def portfolio_margin(
    table: ScenarioTable,
    positions: Mapping[str, int] | Sequence[int],
    *,
    initial_to_maintenance_ppm: int = 1_250_000,
) -> PortfolioMarginResult:
    """The reference (exact, per account) portfolio margin; see the module docstring for the formula.

    ``initial_margin = ceil(maintenance * initial_to_maintenance_ppm / 1e6)`` (the venue's buffer
    for new risk; only the maintenance margin is proven).
    """
    if initial_to_maintenance_ppm < PPM:
        raise ConfigurationError("initial margin cannot be below maintenance margin")
    q = _positions_vector(table, positions)
    losses = scenario_losses(table, q)
    worst: list[tuple[str, int, int]] = []
    for underlying, columns in table.groups:
        column = max(columns, key=lambda s: (losses[s], -s))
        worst.append((underlying, column, losses[column]) if losses[column] > 0 else (underlying, -1, 0))
    scenario_margin = ceil_div(sum(loss for _, _, loss in worst), table.scale)
    charge = sum(c.charge(quantity) for c, quantity in zip(table.position_charges, q, strict=True))
    maintenance = scenario_margin + charge
    return PortfolioMarginResult(
        scenario_losses=losses,
        worst_by_underlying=tuple(worst),
        scenario_margin=scenario_margin,
        position_charge=charge,
        maintenance_margin=maintenance,
        initial_margin=ceil_div(maintenance * initial_to_maintenance_ppm, PPM),
    )


def account_value_in_scenario(
    table: ScenarioTable, cash: int, positions: Sequence[int], scenario: int
) -> int:
    """``S * equity - loss_s`` in 1/scale units: the account's (weighted) value after scenario s."""
    q = _positions_vector(table, positions)
    equity = cash + sum(v * quantity for v, quantity in zip(table.mark_values, q, strict=True))
    return table.scale * equity - scenario_losses(table, q)[scenario]


def int64_product_bound(table: ScenarioTable, max_abs_position: int) -> int:
    """An upper bound of every |partial sum| of ``positions @ E`` when every |q_j| <= max_abs_position."""
    if not table.value_changes:
        return 0
    column_bound = max(sum(abs(row[s]) for row in table.value_changes) for s in range(len(table.scenarios)))
    return max_abs_position * column_bound


BatchPath = Literal["auto", "float64", "int64", "object"]
# Integers of magnitude <= 2^53 are exact in float64, and so is every sum of them that stays <= 2^53.
_FLOAT64_EXACT = 1 << 53


def batch_path(table: ScenarioTable, positions: np.ndarray) -> str:
    """Which arithmetic :func:`portfolio_margin_batch` can use exactly for these positions.

    ``"float64"`` when every partial sum of ``positions @ E`` (in any order: BLAS may reorder) is bounded
    by ``max|q| * max_s sum_j |E[j][s]| <= 2^53``; ``"int64"`` when every entry, that bound, the per-underlying
    sum of worst losses and the charges stay below ``2^63``; ``"object"`` (exact Python ints) otherwise.
    """
    if positions.size == 0:
        return "int64"
    if positions.dtype.kind not in "iu" or table.max_abs_entry() > _INT64_MAX:
        # entries beyond int64 (the statements allow up to 2^64 − 1) fit no fixed-width path, even for flat rows,
        # whose product bound is 0 (red team session 15: an epoch with only flat portfolio accounts stopped on
        # ``as_int64``'s ConfigurationError)
        return "object"
    max_abs_position = max(abs(int(positions.max())), abs(int(positions.min())))
    product_bound = int64_product_bound(table, max_abs_position)
    n_groups = max(len(table.groups), 1)
    per_lot_charges = sum(max(c.long_per_lot, c.short_per_lot) for c in table.position_charges)
    charge_bound = max_abs_position * per_lot_charges
    total_bound = charge_bound + ceil_div(product_bound * n_groups, table.scale)
    if max_abs_position > _INT64_MAX or product_bound * n_groups > _INT64_MAX or total_bound > _INT64_MAX:
        return "object"
    if product_bound <= _FLOAT64_EXACT and max(max_abs_position, table.max_abs_entry()) <= _FLOAT64_EXACT:
        return "float64"
    return "int64"


def portfolio_margin_batch(
    table: ScenarioTable, positions: np.ndarray, *, path: BatchPath = "auto"
) -> np.ndarray:
    """Maintenance portfolio margin of many accounts at once: ``positions`` is (accounts x instruments).

    The scenario losses are one matrix product ``-positions @ E``. With ``path="auto"`` it runs in the
    fastest arithmetic that :func:`batch_path` proves exact (float64 BLAS, then int64, then Python ints);
    forcing a path that the bound check refuses raises ConfigurationError. The result equals
    :func:`portfolio_margin` account by account (an int64 array, or an object array on the exact path).
    """
    positions = np.asarray(positions)
    if positions.ndim != 2 or positions.shape[1] != len(table.instrument_ids):
        raise InputError(f"positions must be (accounts x {len(table.instrument_ids)})", field="positions")
    if positions.size == 0:
        return np.zeros(positions.shape[0], dtype=np.int64)
    safe = batch_path(table, positions)
    order = ("float64", "int64", "object")
    chosen = safe if path == "auto" else path
    if order.index(chosen) < order.index(safe):
        raise ConfigurationError(f"the {chosen} path is not proven exact for these positions (need {safe})")
    if chosen == "object":
        q = positions.astype(object)
        losses = -(q @ np.array(table.value_changes, dtype=object).reshape(len(table.instrument_ids), -1))
        dtype: type = object
    else:
        q = positions.astype(np.int64, copy=False)
        if chosen == "float64":
            product = q.astype(np.float64) @ table.as_int64().astype(np.float64)
            losses = -product.astype(np.int64)
        else:
            losses = -(q @ table.as_int64())
        dtype = np.int64
    worst_sum = np.zeros(q.shape[0], dtype=dtype)
    for _, columns in table.groups:
        contiguous = columns == tuple(range(columns[0], columns[-1] + 1))
        block = losses[:, columns[0] : columns[-1] + 1] if contiguous else losses[:, list(columns)]
        worst_sum = worst_sum + np.maximum(block.max(axis=1), 0)
    scenario_margin = -((-worst_sum) // table.scale)
    # max(long*q, -short*q, 0) = long*max(q, 0) + short*max(-q, 0) because long, short >= 0.
    longs = np.array([c.long_per_lot for c in table.position_charges], dtype=dtype)
    shorts = np.array([c.short_per_lot for c in table.position_charges], dtype=dtype)
    long_lots = np.maximum(q, 0)
    charges = long_lots @ longs + (long_lots - q) @ shorts
    return scenario_margin + charges


@dataclass(frozen=True, slots=True)
class PortfolioMarginWitness:
    """The hidden witnesses of the ZK statement: ``w_u`` per underlying group, ``m_j`` per instrument."""

    worst_by_group: tuple[int, ...]
    charges: tuple[int, ...]


def minimal_witness(
    table: ScenarioTable, positions: Mapping[str, int] | Sequence[int]
) -> PortfolioMarginWitness:
    """The smallest witnesses satisfying the per-scenario and per-position forms (an honest prover's)."""
    q = _positions_vector(table, positions)
    losses = scenario_losses(table, q)
    return PortfolioMarginWitness(
        worst_by_group=tuple(max(0, *(losses[s] for s in columns)) for _, columns in table.groups),
        charges=tuple(c.charge(quantity) for c, quantity in zip(table.position_charges, q, strict=True)),
    )


def portfolio_margin_forms(
    table: ScenarioTable,
    equity: int,
    positions: Mapping[str, int] | Sequence[int],
    witness: PortfolioMarginWitness,
) -> tuple[tuple[str, int], ...]:
    """Every linear form of the portfolio-margin statement, labelled; the account passes iff all are ``>= 0``.

    ``equity = cash + sum_j mark_values[j] * q_j``. Forms: ``w_u - loss_s`` (s in group u), ``w_u``,
    ``m_j - long_j q_j``, ``m_j + short_j q_j``, and ``S (equity - sum_j m_j) - sum_u w_u``. This is the
    reference the circuits layer mirrors over commitments.
    """
    q = _positions_vector(table, positions)
    losses = scenario_losses(table, q)
    forms: list[tuple[str, int]] = []
    for (underlying, columns), worst in zip(table.groups, witness.worst_by_group, strict=True):
        forms.append((f"w[{underlying}]", worst))
        forms.extend((f"w[{underlying}]-loss[{s}]", worst - losses[s]) for s in columns)
    for j, (charge, m, quantity) in enumerate(zip(table.position_charges, witness.charges, q, strict=True)):
        forms.append((f"m[{j}]-long*q", m - charge.long_per_lot * quantity))
        forms.append((f"m[{j}]+short*q", m + charge.short_per_lot * quantity))
    total = table.scale * (equity - sum(witness.charges)) - sum(witness.worst_by_group)
    forms.append(("S*(equity-sum m)-sum w", total))
    return tuple(forms)
