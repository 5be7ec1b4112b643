"""The scenario grid and the public integer table of value changes (portfolio margin's risk array).

For every underlying ``u`` the grid has ``price_steps`` moves evenly spaced from ``-scan`` to
``+scan`` (for example nine moves from -16% to +16%), each with every volatility shift
(for example up 25%, flat, down 25%, relative), plus two extreme moves (``±extreme_multiple *
scan``, volatility flat) whose value change is counted at the fraction ``extreme_weight / scale``
— the SPAN convention that the large crypto options venues also follow.

The table entry ``value_changes[j][s]`` is the change of value of ONE LOT of instrument ``j`` in
scenario ``s``, in units of ``1/scale`` settlement unit, multiplied by the scenario's weight
(``scale`` for an ordinary scenario, ``extreme_weight`` for an extreme one). Instruments on
another underlying than the scenario's have 0. Everything in the table is an integer:

* linear instruments (perpetuals, dated futures): the shocked price is an integer number of ticks,
  ``P_s = P + round_away_from_zero(P * move_ppm / 1e6)`` (so the proven move is never smaller
  than the nominal one, for longs and shorts alike), floored at 1 tick; the entry is exactly
  ``weight * (P_s - P) * contract_multiplier``.
* options: the forward is shocked the same way, the implied volatility by
  ``sigma_s = sigma + round_away_from_zero(sigma * shift_ppm / 1e6)`` (at least 1 ppm), the
  option is revalued with Black-76 at the same valuation time (no time decay is credited), and
  the entry is ``ceil(weight * (V_s - v_j))`` with ``v_j`` the integer mark. Rounding up never
  understates a short's loss; a long's loss is understated by less than one settlement unit per
  lot in total (mark plus entry), which the long option charge of one unit per lot covers (one
  tick's value, ``contract_multiplier``, when the mark is rounded to whole ticks).

``loss_s = -sum_j q_j * value_changes[j][s]`` (in 1/scale units) is a linear form in the
positions with public integer coefficients — what the ZK layer proves ``equity >= loss``
against. See :mod:`zkclear.risk.portfolio_margin` for the requirement built on it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from zkclear.errors import ConfigurationError, EncodingError, InputError
from zkclear.risk.options import (
    LONG_OPTION_ROUNDING_CHARGE,
    OptionSpec,
    PositionCharge,
    option_mark,
    option_model_value_per_lot,
)
from zkclear.risk.rounding import PPM, ceil_div, div_away_from_zero, float_ceil

TABLE_ENCODING_TAG = "zkclear/scenario-table/v1"
_INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class LinearRiskInput:
    """A perpetual or dated future as the scenario table sees it: its mark and tick value."""

    instrument_id: str
    underlying: str
    mark_price_ticks: int
    contract_multiplier: int
    kind: str = "linear"

    def __post_init__(self) -> None:
        if self.mark_price_ticks <= 0 or self.contract_multiplier <= 0:
            raise InputError(
                f"{self.instrument_id}: mark price and tick value must be positive", field="mark_price_ticks"
            )


@dataclass(frozen=True, slots=True)
class OptionRiskInput:
    """An option as the scenario table sees it: spec, forward, implied vol, valuation time.

    ``tick_rounded_mark``: the equity counts the option at ``mark_price_ticks * contract_multiplier``
    (mark rounded up to a whole tick) instead of the mark rounded up to a settlement unit; the long
    rounding charge is then one tick's value (``contract_multiplier``) per lot instead of one unit.
    """

    spec: OptionSpec
    forward_ticks: int
    volatility_ppm: int
    valuation_timestamp: int
    rate_ppm: int = 0
    tick_rounded_mark: bool = False
    kind: str = "option"

    @property
    def instrument_id(self) -> str:
        return self.spec.instrument_id

    @property
    def underlying(self) -> str:
        return self.spec.underlying


RiskInput = LinearRiskInput | OptionRiskInput


@dataclass(frozen=True, slots=True)
class Scenario:
    """One column of the table: a relative move of one underlying, a relative vol shift, a weight / scale."""

    underlying: str
    price_move_ppm: int
    volatility_shift_ppm: int
    weight: int

    def __post_init__(self) -> None:
        if type(self.underlying) is not str or not self.underlying:
            raise ConfigurationError("a scenario names its underlying")
        numbers = (self.price_move_ppm, self.volatility_shift_ppm, self.weight)
        if any(type(number) is not int for number in numbers) or self.weight <= 0:
            raise ConfigurationError("scenario moves, shifts and weights are ints, the weight positive")

    def as_tuple(self) -> tuple[str, int, int, int]:
        return (self.underlying, self.price_move_ppm, self.volatility_shift_ppm, self.weight)


@dataclass(frozen=True, slots=True)
class ScenarioGrid:
    """The grid of one underlying. Defaults: 9 moves -16%..+16% x vol {+25%, 0, -25%} + ±48% at 35%."""

    scan_range_ppm: int = 160_000
    price_steps: int = 9
    volatility_shifts_ppm: tuple[int, ...] = (250_000, 0, -250_000)
    extreme_multiple: int = 3
    extreme_weight: int = 35
    scale: int = 100
    # A move is never beyond -95% / +95%: a price must stay positive, and beyond that a grid says nothing.
    max_move_ppm: int = 950_000

    def __post_init__(self) -> None:
        if self.price_steps < 2:
            raise ConfigurationError("a scenario grid needs at least 2 price steps")
        if not 0 < self.scan_range_ppm <= self.max_move_ppm < PPM:
            raise ConfigurationError("need 0 < scan_range_ppm <= max_move_ppm < 1e6")
        if self.scale <= 0 or not 0 <= self.extreme_weight <= self.scale:
            raise ConfigurationError("need scale > 0 and 0 <= extreme_weight <= scale")
        if self.extreme_multiple < 0 or not self.volatility_shifts_ppm:
            raise ConfigurationError("need extreme_multiple >= 0 and at least one volatility shift")
        if any(shift <= -PPM for shift in self.volatility_shifts_ppm):
            raise ConfigurationError("a volatility shift must leave a positive volatility (> -1e6 ppm)")

    def price_moves_ppm(self) -> tuple[int, ...]:
        """Evenly spaced moves from -scan to +scan, each rounded away from zero to an integer ppm."""
        steps = self.price_steps - 1
        return tuple(
            div_away_from_zero(self.scan_range_ppm * (2 * i - steps), steps) for i in range(self.price_steps)
        )

    def scenarios_for(self, underlying: str) -> tuple[Scenario, ...]:
        """The columns for ``underlying``: moves x vol shifts (weight = scale), then the extreme pair."""
        columns = [
            Scenario(underlying, move, shift, self.scale)
            for move in self.price_moves_ppm()
            for shift in self.volatility_shifts_ppm
        ]
        if self.extreme_multiple and self.extreme_weight:
            extreme = min(self.extreme_multiple * self.scan_range_ppm, self.max_move_ppm)
            columns += [
                Scenario(underlying, -extreme, 0, self.extreme_weight),
                Scenario(underlying, extreme, 0, self.extreme_weight),
            ]
        return tuple(columns)


def shocked_price_ticks(price_ticks: int, move_ppm: int) -> int:
    """``price * (1 + move)`` in whole ticks, rounded away from ``price``, at least 1 tick."""
    return max(price_ticks + div_away_from_zero(price_ticks * move_ppm, PPM), 1)


def shocked_volatility_ppm(volatility_ppm: int, shift_ppm: int) -> int:
    """``sigma * (1 + shift)`` in integer ppm, rounded away from ``sigma``, at least 1 ppm."""
    return max(volatility_ppm + div_away_from_zero(volatility_ppm * shift_ppm, PPM), 1)


def short_option_minimum_per_lot(forward_ticks: int, contract_multiplier: int, minimum_ppm: int) -> int:
    """``max(1, ceil(minimum_ppm * F * contract_multiplier / 1e6))`` settlement units per short lot."""
    return max(ceil_div(minimum_ppm * forward_ticks * contract_multiplier, PPM), 1)


@dataclass(frozen=True, slots=True)
class ScenarioTable:
    """The public portfolio-margin data of one epoch: integers only, canonically encodable.

    * ``value_changes[j][s]``: weighted value change of one lot of instrument j in scenario s, in
      ``1/scale`` settlement units (see the module docstring for how each is rounded).
    * ``mark_values[j]``: ``v_j``, value per lot counted in equity (option mark; 0 for linear
      instruments, whose variation margin is already in cash).
    * ``position_charges[j]``: the per-position linear charge (short-option minimum, long rounding).
    * ``scenarios[s]``: which underlying column s shocks, with the move, vol shift and weight.

    Guarantees: rectangular, all entries Python ints, ``scale > 0``.
    """

    instrument_ids: tuple[str, ...]
    instrument_underlyings: tuple[str, ...]
    scenarios: tuple[Scenario, ...]
    value_changes: tuple[tuple[int, ...], ...]
    mark_values: tuple[int, ...]
    position_charges: tuple[PositionCharge, ...]
    scale: int

    def __post_init__(self) -> None:
        n = len(self.instrument_ids)
        if len(set(self.instrument_ids)) != n:
            raise ConfigurationError("instrument ids in a scenario table must be unique")
        if not (
            len(self.instrument_underlyings)
            == len(self.value_changes)
            == len(self.mark_values)
            == len(self.position_charges)
            == n
        ):
            raise ConfigurationError("scenario table: one row, mark and charge per instrument")
        if self.scale <= 0 or type(self.scale) is not int:
            raise ConfigurationError("scenario table scale must be a positive int")
        width = len(self.scenarios)
        for row in self.value_changes:
            if len(row) != width or any(type(entry) is not int for entry in row):
                raise ConfigurationError("scenario table rows must be int tuples, one entry per scenario")
        if any(type(value) is not int for value in self.mark_values):
            raise ConfigurationError("mark values must be ints")

    @property
    def groups(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """(underlying, scenario column indices) in order of first appearance."""
        order: dict[str, list[int]] = {}
        for index, scenario in enumerate(self.scenarios):
            order.setdefault(scenario.underlying, []).append(index)
        return tuple((underlying, tuple(columns)) for underlying, columns in order.items())

    def canonical(self) -> tuple[tuple, ...]:
        """The table as nested tuples of str/int only: the form that is encoded and hashed."""
        return (
            (TABLE_ENCODING_TAG,),
            (self.scale,),
            self.instrument_ids,
            self.instrument_underlyings,
            tuple(scenario.as_tuple() for scenario in self.scenarios),
            self.value_changes,
            self.mark_values,
            tuple((charge.long_per_lot, charge.short_per_lot) for charge in self.position_charges),
        )

    def encode(self) -> bytes:
        """Canonical bytes: compact JSON (no spaces, ASCII) of :meth:`canonical`; tuples become arrays."""
        return json.dumps(self.canonical(), separators=(",", ":"), ensure_ascii=True).encode("ascii")

    def digest(self) -> bytes:
        """SHA-256 of :meth:`encode` — what a transcript binds."""
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def decode(cls, data: bytes) -> ScenarioTable:
        """The inverse of :meth:`encode`; EncodingError unless ``data`` is exactly a canonical encoding.

        Re-encoding the result must give ``data`` back byte for byte, so a table read from a bundle has one
        digest only (no alternative spellings of the same table).
        """
        try:
            tag, (scale,), ids, underlyings, scenarios, rows, marks, charges = json.loads(data.decode("ascii"))
            if tag != [TABLE_ENCODING_TAG]:
                raise ValueError(f"unknown tag {tag!r}")
            table = cls(
                instrument_ids=tuple(ids),
                instrument_underlyings=tuple(underlyings),
                scenarios=tuple(Scenario(*column) for column in scenarios),
                value_changes=tuple(tuple(row) for row in rows),
                mark_values=tuple(marks),
                position_charges=tuple(PositionCharge(*pair) for pair in charges),
                scale=scale,
            )
        except (ValueError, TypeError, UnicodeDecodeError, ConfigurationError) as exc:
            raise EncodingError(f"not a scenario table: {exc}") from exc
        if table.encode() != data:
            raise EncodingError("scenario table bytes are not in canonical form")
        return table

    def max_abs_entry(self) -> int:
        return max((abs(entry) for row in self.value_changes for entry in row), default=0)

    def as_int64(self) -> np.ndarray:
        """The value changes as an (instruments x scenarios) int64 array; ConfigurationError if too big."""
        if self.max_abs_entry() > _INT64_MAX:
            raise ConfigurationError("a scenario table entry does not fit in int64")
        return np.array(self.value_changes, dtype=np.int64).reshape(
            len(self.instrument_ids), len(self.scenarios)
        )


def build_scenario_table(
    instruments: Sequence[RiskInput],
    grids: ScenarioGrid | Mapping[str, ScenarioGrid],
    *,
    short_option_minimum_ppm: int = 10_000,
) -> ScenarioTable:
    """Compute the public table for ``instruments`` (in this order) from public prices and vols.

    ``grids`` is one grid for every underlying or one per underlying (their ``scale`` must agree:
    a scan range scaled by the dynamic risk parameters is the usual reason to differ).
    ``short_option_minimum_ppm`` sets the short option charge per lot as a fraction of the forward.
    """
    underlyings = list(dict.fromkeys(instrument.underlying for instrument in instruments))

    def grid_for(underlying: str) -> ScenarioGrid:
        if isinstance(grids, ScenarioGrid):
            return grids
        if underlying not in grids:
            raise ConfigurationError(f"no scenario grid for underlying {underlying!r}")
        return grids[underlying]

    scales = {grid_for(underlying).scale for underlying in underlyings}
    if len(scales) > 1:
        raise ConfigurationError(f"all scenario grids must share one scale, got {sorted(scales)}")
    scale = scales.pop() if scales else 100
    scenarios = tuple(
        column for underlying in underlyings for column in grid_for(underlying).scenarios_for(underlying)
    )

    rows: list[tuple[int, ...]] = []
    marks: list[int] = []
    charges: list[PositionCharge] = []
    for instrument in instruments:
        if isinstance(instrument, LinearRiskInput):
            price = instrument.mark_price_ticks
            rows.append(
                tuple(
                    scenario.weight
                    * (shocked_price_ticks(price, scenario.price_move_ppm) - price)
                    * instrument.contract_multiplier
                    if scenario.underlying == instrument.underlying
                    else 0
                    for scenario in scenarios
                )
            )
            marks.append(0)
            charges.append(PositionCharge(0, 0))
        elif isinstance(instrument, OptionRiskInput):
            spec = instrument.spec
            option_marked = option_mark(
                spec,
                instrument.forward_ticks,
                instrument.volatility_ppm,
                instrument.valuation_timestamp,
                rate_ppm=instrument.rate_ppm,
            )
            if instrument.tick_rounded_mark:
                mark = option_marked.mark_price_ticks * spec.contract_multiplier
                long_charge = spec.contract_multiplier
            else:
                mark = option_marked.value_per_lot
                long_charge = LONG_OPTION_ROUNDING_CHARGE
            row = []
            for scenario in scenarios:
                if scenario.underlying != spec.underlying:
                    row.append(0)
                    continue
                shocked_value = option_model_value_per_lot(
                    spec,
                    shocked_price_ticks(instrument.forward_ticks, scenario.price_move_ppm),
                    shocked_volatility_ppm(instrument.volatility_ppm, scenario.volatility_shift_ppm),
                    instrument.valuation_timestamp,
                    rate_ppm=instrument.rate_ppm,
                )
                row.append(float_ceil(scenario.weight * (shocked_value - mark)))
            rows.append(tuple(row))
            marks.append(mark)
            charges.append(
                PositionCharge(
                    long_per_lot=long_charge,
                    short_per_lot=short_option_minimum_per_lot(
                        instrument.forward_ticks, spec.contract_multiplier, short_option_minimum_ppm
                    ),
                )
            )
        else:  # pragma: no cover - the union is closed
            raise ConfigurationError(f"unknown risk input {instrument!r}")
    return ScenarioTable(
        instrument_ids=tuple(instrument.instrument_id for instrument in instruments),
        instrument_underlyings=tuple(instrument.underlying for instrument in instruments),
        scenarios=scenarios,
        value_changes=tuple(rows),
        mark_values=tuple(marks),
        position_charges=tuple(charges),
        scale=scale,
    )
