"""The bounds an epoch's collateralization statements rely on, checked by the engine before it commits.

An epoch the engine commits must be provable: epochs are proven in order and a committed epoch is never
replaced, so one unprovable account would stop the deployment's proof chain for good. The statements
(``circuits/account_statement.py``, docs/protocol.md "Collateralization proofs") prove each account's
values inside fixed widths, and the public data they are built from must fit its own bounds
(``circuits/public_data.py``). This module states those bounds in the engine's terms (the constants are
pinned equal to the circuits' by ``tests/clearing/test_provable.py``) and checks them:

**Listing** (configuration): at most :data:`MAX_LISTED_INSTRUMENTS` instruments, :data:`MAX_MARGIN_LINES`
tiers per instrument, :data:`MAX_SCENARIOS` scenarios in the portfolio grid.

**Public data** (every epoch, from its marks): every maintenance margin line's coefficients in
``[0, 2^64 − 1]``, constant within ``±(2^64 − 1)``, denominator in ``[1, 2^32]``, the common denominator
``D`` (lcm of the reduced lines' denominators) at most ``2^32``; premium-style option values per lot, the
scenario table's entries and per-lot charges within ``±(2^64 − 1)``, its scale at most ``2^32``.

**Accounts** (every epoch, the final state), with ``Qb`` = ``proving.toml`` ``[proving] position_bits``:

- every position ``|q| ≤ 2^(Qb−1) − 1`` lots (:attr:`StatementLimits.max_position`; the statement proves
  ``q + 2^(Qb−1) ∈ [0, 2^Qb)`` for an instrument without margin lines, ``max(±q, 0) ∈ [0, 2^Qb)`` otherwise);
- equity in ``[0, 2^64)`` (the engine's amount bound ``2^62 − 1`` and its maintenance invariant);
- standard accounts, every instrument whose requirement is a maximum of several lines (tiers) or needs an
  explicit floor at 0: with ``L_f`` the line in ``1/D`` units and ``m = max_f L_f`` (floored at 0 when
  needed), ``m − L_f < 2^64`` for every line (and ``m < 2^64`` when floored);
- portfolio accounts, every underlying group ``g``: with ``loss_s`` the scenario loss in ``1/scale`` units and
  ``z_g = max(0, max_s loss_s)``, ``z_g − loss_s < 2^64`` for every scenario of the group, and ``z_g < 2^64`` (its
  own range: a book that loses in every scenario of the group, a short straddle on a grid without an unmoved
  scenario, has ``z_g − loss_s`` small and ``z_g`` large);
- collateral assets (issue 13), as ``circuits.account_statement`` proves them: per asset held, the value
  ``V = ⌊b · p · num / den⌋`` and the haircut value ``h`` in ``[0, 2^64)``, and for every haircut line ``(k_t, c_t)``
  over ``D`` (the asset's lines, plus ``(0, D · h(cap))`` for a cap, divided by their common gcd as the statement
  does) ``k_t · V + c_t − D · h < 2^64``; and the value of an account's collateral ``Σ_k V_k ≤ 2^62 − 1`` (the amount
  bound: every haircut value, and every conversion's proceeds, are below it). Public data: at most
  :data:`MAX_COLLATERAL_ASSETS` assets, :data:`MAX_HAIRCUT_LINES` lines each (configuration), every line's slope and
  constant in ``[0, 2^64 − 1]`` (the cap line's at this epoch's price).

The remaining constraints hold for every account the engine leaves at or above maintenance (the rounding
constraints are below ``D ≤ 2^32``; ``equity − requirement`` is between 0 and the equity because the
statements' exact requirement never exceeds the engine's per-position rounded one).

Where a breach comes from (:mod:`zkclear.clearing.engine` turns it into an ``InputError`` naming file, line and
field): a fill (the one that took the position across the bound, or the account's last fill in the
instrument), else the instrument's mark. Positions a liquidation or ADL moves never breach: a liquidator or
the backstop takes lots only if its account stays within these bounds, otherwise the lots are closed against
opposite-side accounts at the mark (ADL only ever reduces positions, within every bound but a portfolio account's
scenario bounds, which reducing one leg of a hedge can raise: the end-of-epoch check refuses such an epoch) —
docs/clearing.md "Provable by construction".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zkclear.clearing.assets import MAX_COLLATERAL_ASSETS, MAX_HAIRCUT_LINES, AssetRisk
from zkclear.clearing.margin import PORTFOLIO_MODE, MarginLevel, RiskModels, RiskParameters
from zkclear.clearing.money import MAX_AMOUNT
from zkclear.errors import ConfigurationError

#: Position widths the statements support (``proving.toml`` ``position_bits``).
POSITION_WIDTHS = (8, 16, 32)
#: Width of every money constraint (equity, requirements, scenario exposures).
MONEY_BITS = 64
#: The largest listing a statement supports (its cost per account is linear in the listing).
MAX_LISTED_INSTRUMENTS = 512
#: Most margin lines (tiers) per instrument.
MAX_MARGIN_LINES = 32
#: Most scenarios in a portfolio-margin table.
MAX_SCENARIOS = 512
#: Largest magnitude of a public coefficient (values per lot, lines, charges, scenario entries).
MAX_COEFFICIENT = (1 << 64) - 1
#: Width of the rounding constraints: a denominator (and the common one) is at most ``2^32``.
ROUNDING_BITS = 32
#: Most an asset's liabilities may total over all accounts: the tree's node sums and the solvency statement
#: (reserves − liabilities, reserves given as u64) are proven in ``MONEY_BITS``.
MAX_TOTAL_LIABILITIES = (1 << MONEY_BITS) - 1
#: Largest magnitude of an integer in an epoch's public inputs (``zkclear/verifier/public_inputs.py``), which carry
#: the previous state's funding indices: an index beyond it would leave the next epoch unprovable.
MAX_PUBLIC_INTEGER = (1 << 64) - 1

_MONEY_LIMIT = 1 << MONEY_BITS


@dataclass(frozen=True, slots=True)
class StatementLimits:
    """The proving widths a deployment's epochs must fit: ``position_bits`` (``proving.toml``); money is
    always 64 bits wide."""

    position_bits: int = 32

    def __post_init__(self) -> None:
        if self.position_bits not in POSITION_WIDTHS:
            raise ConfigurationError(f"position_bits must be one of {POSITION_WIDTHS}, got {self.position_bits!r}")

    @property
    def max_position(self) -> int:
        """The largest ``|q|`` (lots) every statement accepts: ``2^(position_bits − 1) − 1``."""
        return (1 << (self.position_bits - 1)) - 1


@dataclass(frozen=True, slots=True)
class Breach:
    """An account (``row``) or, with ``row`` None, the epoch's public data breaks a statement bound;
    ``column`` is the instrument the breach is attributed to."""

    row: int | None
    column: int
    message: str


@dataclass(frozen=True, slots=True)
class _Line:
    """A margin line as the statement uses it: ``(long·u + short·w − constant) / denominator``, reduced."""

    long: int
    short: int
    constant: int
    denominator: int


def _reduced(long: int, short: int, constant: int, denominator: int) -> _Line:
    g = math.gcd(long, short, constant, denominator)
    return _Line(long // g, short // g, constant // g, denominator // g) if g > 1 else _Line(long, short,
                                                                                          constant, denominator)


class StatementBounds:
    """The statement bounds of one epoch, built from its public risk data (module docstring)."""

    def __init__(self, params: RiskParameters, models: RiskModels, limits: StatementLimits,
                 equity_values: Sequence[int] = ()) -> None:
        self.params = params
        self.limits = limits
        self.equity_values = tuple(equity_values) or (0,) * len(params.instruments)
        self.public_breaches: list[Breach] = []
        self.lines: list[tuple[_Line, ...]] = []
        raw_lines: list[tuple[_Line, ...]] = []
        for column, risk in enumerate(params.instruments):
            forms = models.get(risk.margin_model).forms(risk, MarginLevel.MAINTENANCE)
            raw = tuple(_Line(f.lots_coefficient, f.lots_coefficient if f.short_lots_coefficient is None
                              else f.short_lots_coefficient, f.constant, f.denominator) for f in forms)
            raw_lines.append(raw)
            self._check_public_lines(column, raw)
        scale = 1
        for raw in raw_lines:
            for line in raw:
                if line.denominator >= 1:
                    scale = math.lcm(scale, _reduced(*_fields(line)).denominator)
        self.scale = scale
        if scale > 1 << ROUNDING_BITS:
            self.public_breaches.append(Breach(None, 0, f"the margin lines' common denominator {scale} "
                                                        f"exceeds 2^{ROUNDING_BITS}"))
        #: per column: the effective lines, and whether the statement uses a line-margin witness for it
        self.margin_columns: list[tuple[int, tuple[_Line, ...], bool]] = []
        for column, raw in enumerate(raw_lines):
            effective = tuple(_reduced(*_fields(line)) for line in raw
                              if line.long or line.short or line.constant < 0)
            floor = bool(effective) and all(line.constant > 0 for line in effective)
            if effective and (len(effective) > 1 or floor):
                self.margin_columns.append((column, effective, floor))
        for column, value in enumerate(self.equity_values):
            if abs(value) > MAX_COEFFICIENT:
                self._public(column, f"its value per lot {value} exceeds 2^64 − 1")
        table = params.scenario_table
        if table is not None:
            self._check_public_table(table)
        for column, effective, floor in self.margin_columns:
            breach = self._line_breach(effective, floor, 0)
            if breach:
                self._public(column, f"{breach} even for a flat position")

    # -- public data ------------------------------------------------------------------------------

    def _public(self, column: int, message: str) -> None:
        self.public_breaches.append(Breach(None, column, message))

    def _check_public_lines(self, column: int, lines: tuple[_Line, ...]) -> None:
        if len(lines) > MAX_MARGIN_LINES:
            self._public(column, f"{len(lines)} margin lines exceed {MAX_MARGIN_LINES}")
        for line in lines:
            if not (0 <= line.long <= MAX_COEFFICIENT and 0 <= line.short <= MAX_COEFFICIENT):
                self._public(column, f"a margin line coefficient {max(line.long, line.short)} is outside "
                                     "[0, 2^64 − 1]")
            elif abs(line.constant) > MAX_COEFFICIENT:
                self._public(column, f"a margin line constant {line.constant} exceeds 2^64 − 1")
            elif not 1 <= line.denominator <= 1 << ROUNDING_BITS:
                self._public(column, f"a margin line denominator {line.denominator} is outside [1, 2^32]")

    def _check_public_table(self, table: object) -> None:
        if not 1 <= table.scale <= 1 << ROUNDING_BITS:  # type: ignore[attr-defined]
            self._public(0, f"the scenario scale {table.scale} is outside [1, 2^32]")  # type: ignore[attr-defined]
        for column, row in enumerate(table.value_changes):  # type: ignore[attr-defined]
            largest = max(map(abs, row), default=0)
            if largest > MAX_COEFFICIENT:
                self._public(column, f"a scenario value change {largest} exceeds 2^64 − 1")
            charge = table.position_charges[column]  # type: ignore[attr-defined]
            if max(charge.long_per_lot, charge.short_per_lot) > MAX_COEFFICIENT:
                self._public(column, "a portfolio per-lot charge exceeds 2^64 − 1")
        #: per column, the largest |E[j][s]| (1/scale units), for the fast portfolio bound
        self.largest_change = [max(map(abs, row), default=0) for row in table.value_changes]  # type: ignore[attr-defined]

    # -- accounts ---------------------------------------------------------------------------------

    def _line_breach(self, lines: tuple[_Line, ...], floor: bool, quantity: int) -> str:
        long, short = max(quantity, 0), max(-quantity, 0)
        values = [(self.scale // line.denominator) * (line.long * long + line.short * short - line.constant)
                  for line in lines]
        margin = max(values)
        if floor:
            margin = max(margin, 0)
            if margin >= _MONEY_LIMIT:
                return f"its line margin {margin} (1/{self.scale} units) reaches 2^64"
        spread = margin - min(values)
        if spread >= _MONEY_LIMIT:
            return f"its margin tier constraint ({spread}, 1/{self.scale} units) reaches 2^64"
        return ""

    def account_breach(self, lots: Sequence[int], mode: str) -> Breach | None:
        """The first bound account positions ``lots`` (margin ``mode``) break, exactly; None when provable
        (given equity ≥ maintenance, which the engine guarantees)."""
        limit = self.limits.max_position
        for column, q in enumerate(lots):
            if abs(q) > limit:
                return Breach(None, column, f"a position of {q} lots exceeds the statements' bound "
                                            f"±{limit} (2^{self.limits.position_bits - 1} − 1)")
        if mode == PORTFOLIO_MODE:
            return self._portfolio_breach(lots)
        for column, lines, floor in self.margin_columns:
            if lots[column]:
                breach = self._line_breach(lines, floor, int(lots[column]))
                if breach:
                    return Breach(None, column, breach)
        return None

    def _portfolio_breach(self, lots: Sequence[int]) -> Breach | None:
        table = self.params.scenario_table
        if table is None:
            return None
        held = [(j, int(q)) for j, q in enumerate(lots) if q]
        if 2 * sum(abs(q) * self.largest_change[j] for j, q in held) < _MONEY_LIMIT:
            return None
        for _, columns in table.groups:
            losses = [-sum(q * table.value_changes[j][s] for j, q in held) for s in columns]
            worst = max(0, *losses)
            column = max(held, key=lambda item: abs(item[1]) * self.largest_change[item[0]])[0]
            if worst - min(losses) >= _MONEY_LIMIT:
                return Breach(None, column, f"its scenario exposure ({worst - min(losses)}, "
                                            f"1/{table.scale} units) reaches 2^64")
            if worst >= _MONEY_LIMIT:  # z_g itself is range-proven (red team s14: a loss in every scenario)
                return Breach(None, column, f"its worst scenario loss ({worst}, 1/{table.scale} units) "
                                            "reaches 2^64")
        return None

    def breaches(self, positions: np.ndarray, modes: Sequence[str] | None) -> list[Breach]:
        """Every account of ``positions`` that breaks a bound (at most one breach per account, by row);
        vectorized bounds first, exact checks only for the rows they cannot clear."""
        suspects: set[int] = set()
        if positions.size:
            beyond = np.abs(positions) > self.limits.max_position
            if beyond.any():
                suspects.update(np.flatnonzero(beyond.any(axis=1)).tolist())
        portfolio = (np.array([m == PORTFOLIO_MODE for m in modes], dtype=bool) if modes is not None
                     and self.params.scenario_table is not None else np.zeros(positions.shape[0], dtype=bool))
        standard_rows = ~portfolio
        for column, lines, _ in self.margin_columns:
            held = positions[standard_rows, column]
            largest = int(np.max(np.abs(held))) if held.size else 0
            worst = 2 * max((self.scale // line.denominator) * (max(line.long, line.short) * largest
                                                                 + abs(line.constant)) for line in lines)
            if worst >= _MONEY_LIMIT:
                rows = np.flatnonzero(standard_rows & (positions[:, column] != 0))
                suspects.update(rows.tolist())
        if portfolio.any():
            per_lot = np.array([float(x) for x in self.largest_change])
            rough = np.abs(positions[portfolio]).astype(np.float64) @ per_lot
            # float64 overestimates by far less than a factor 2: anything below 2^62 is surely below 2^63
            rows = np.flatnonzero(portfolio)[rough >= 2.0**62]
            suspects.update(rows.tolist())
        found = []
        for row in sorted(suspects):
            breach = self.account_breach(positions[row].tolist(),
                                         modes[row] if modes is not None else "standard")
            if breach is not None:
                found.append(Breach(row, breach.column, breach.message))
        return found


def _fields(line: _Line) -> tuple[int, int, int, int]:
    return line.long, line.short, line.constant, line.denominator


# -- collateral assets (issue 13) ------------------------------------------------------------------

def published_haircut_lines(asset: AssetRisk) -> tuple[tuple[int, int], ...]:
    """The asset's haircut lines as its public data carries them: the tiers' lines and, with a cap, ``(0, D ·
    h(cap))`` at this epoch's price (``circuits.public_data.public_asset``)."""
    if not asset.cap:
        return asset.haircut_lines
    return (*asset.haircut_lines, (0, asset.haircut_denominator * asset.haircut_value(asset.cap)))


def statement_haircut_lines(asset: AssetRisk) -> tuple[tuple[int, int, int], ...]:
    """``(k_t, c_t, D)`` of every published line divided by their common gcd: what the statement proves
    ``k_t · V + c_t − D · h ∈ [0, 2^64)`` with."""
    lines = published_haircut_lines(asset)
    common = math.gcd(asset.haircut_denominator, *(value for line in lines for value in line))
    return tuple((k // common, c // common, asset.haircut_denominator // common) for k, c in lines)


def public_collateral_breaches(assets: Sequence[AssetRisk]) -> list[tuple[int, str]]:
    """``(asset, message)`` for every asset whose published lines break the public-data bounds at this epoch's
    price (module docstring)."""
    found = []
    if len(assets) > MAX_COLLATERAL_ASSETS:
        found.append((MAX_COLLATERAL_ASSETS, f"{len(assets)} collateral assets exceed {MAX_COLLATERAL_ASSETS}"))
    for k, asset in enumerate(assets):
        lines = published_haircut_lines(asset)
        if len(lines) > MAX_HAIRCUT_LINES:
            found.append((k, f"{len(lines)} haircut lines exceed {MAX_HAIRCUT_LINES}"))
        elif any(not (0 <= slope <= MAX_COEFFICIENT and 0 <= constant <= MAX_COEFFICIENT) for slope, constant in lines):
            found.append((k, f"a haircut line of {asset.asset_id} (its cap's at this price) has a coefficient beyond "
                             "2^64 − 1"))
    return found


def collateral_breach(assets: Sequence[AssetRisk], balances: Sequence[int]) -> tuple[int, str] | None:
    """``(asset, message)`` of the first bound one account's balances break (module docstring), exactly; None
    when provable."""
    total = 0
    for k, (asset, balance) in enumerate(zip(assets, balances, strict=True)):
        if not balance:
            continue
        value = asset.value(balance)
        total += value
        if total > MAX_AMOUNT:
            return k, f"the value of the account's collateral, {total} with its {asset.asset_id}, exceeds 2^62 − 1"
        credited = asset.haircut_of_value(value)
        for slope, constant, denominator in statement_haircut_lines(asset):
            difference = slope * value + constant - denominator * credited
            if difference >= _MONEY_LIMIT:
                return k, (f"its {asset.asset_id} haircut line constraint ({difference}, 1/{denominator} units) "
                           "reaches 2^64")
    return None


def collateral_breaches(assets: Sequence[AssetRisk], balances: np.ndarray) -> list[tuple[int, int, str]]:
    """``(row, asset, message)`` of every account (at most one each, by row) whose balances break a bound;
    a bound from the largest balance of each asset first, exact checks only for the rows it cannot clear."""
    if not assets or not balances.size:
        return []
    largest = [int(balances[:, k].max()) for k in range(len(assets))]
    values = [asset.value(b) for asset, b in zip(assets, largest, strict=True)]
    worst_line = max((slope * value + constant for asset, value in zip(assets, values, strict=True)
                      for slope, constant, _ in statement_haircut_lines(asset)), default=0)
    if sum(values) <= MAX_AMOUNT and worst_line < _MONEY_LIMIT:
        return []
    found = []
    for row in np.flatnonzero(balances.any(axis=1)).tolist():
        breach = collateral_breach(assets, balances[row].tolist())
        if breach is not None:
            found.append((row, *breach))
    return found
