"""The public data an epoch's collateralization statements are built from (integers only).

:class:`PublicRiskData` is everything a verifier needs besides the commitments: the ordered
listing, each instrument's equity value per lot ``v_j``, its standard margin lines, its
portfolio-margin charges, the scenario table and the bit widths. Its :meth:`~PublicRiskData.digest`
is bound in every collateralization transcript, so changing any price, parameter or scenario
entry changes every challenge.

Units (docs/protocol.md, "Collateralization proofs — public data and scaling"):

- amounts (cash, equity, requirements, ``v_j``, charges) in settlement units;
- positions in lots; ``u_j = max(q_j, 0)`` and ``w_j = max(−q_j, 0)`` are the long and short parts;
- a standard margin line ``f`` of instrument ``j`` is ``(long·u + short·w − constant) / denominator``
  settlement units; the instrument's requirement is ``max(0, max_f ceil(line_f))``;
- scenario value changes are in ``1/scale`` settlement units per lot (the risk module's table);
- a collateral asset's balance ``b`` is in the asset's smallest unit; its value is
  ``V = floor(b·price_ticks·unit_value_num / unit_value_den)`` settlement units (rounded down) and its
  haircut value ``H = max(0, floor(min_t (slope_t·V + constant_t) / denominator))`` (rounded down: collateral
  credit rounds against the account).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from zkclear.errors import ConfigurationError, InputError

if TYPE_CHECKING:
    from circuits.budget import BudgetReport

STANDARD = "standard"
PORTFOLIO = "portfolio"
#: Margin modes an account may have; the mode selects the account's statement (and is public).
MARGIN_MODES = (STANDARD, PORTFOLIO)

#: The largest listing a statement supports (v1: cost per account is linear in the listing).
MAX_LISTED_INSTRUMENTS = 512
#: Most standard margin lines (tiers) per instrument.
MAX_MARGIN_LINES = 32
#: Most scenarios in a portfolio-margin table.
MAX_SCENARIOS = 512
#: Bound on the magnitude of every public coefficient (values per lot, lines, charges, scenario entries).
MAX_COEFFICIENT = (1 << 64) - 1
#: Width of the rounding constraints ``D·W − total ∈ [0, 2^32)``; a denominator must be at most 2^32.
ROUNDING_BITS = 32
#: Supported position widths (``|q| < 2^position_bits``) and the money width (equity, requirements).
POSITION_WIDTHS = (8, 16, 32)
MONEY_BITS = 64
#: Most collateral assets besides the settlement asset (per account: about 350 + 64·lines range bits each): 31, so
#: that the two siblings of a tree node pair, 2·(1 + 31) liabilities, fit one aggregated range proof of 64 values
#: (zkclear.tree.node_groups; 32 before node proofs were grouped).
MAX_COLLATERAL_ASSETS = 31
#: Most haircut lines (tiers, plus one for a per-account cap) per collateral asset.
MAX_HAIRCUT_LINES = 16
#: A collateral asset id: 1-16 of A-Z and 0-9 (docs/format.md, zkclear.toml ``[[asset]]``).
ASSET_ID_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

_ENCODING_TAG = "zkclear/public-risk-data/v1"


def _require_int(value: object, what: str, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise ConfigurationError(f"{what} must be an integer in [{low}, {high}], got {value!r}")


@dataclass(frozen=True, slots=True)
class MarginLine:
    """One linear form of a position's standard requirement, in settlement units:
    ``(long_per_lot·u + short_per_lot·w − constant) / denominator`` with ``u, w`` the long/short lots.

    A linear model is one symmetric line; a tiered table is one line per tier (their maximum);
    an option's charge is an asymmetric line. Coefficients are non-negative so that a larger
    claimed gross position can only raise the requirement.
    """

    long_per_lot: int
    short_per_lot: int
    constant: int = 0
    denominator: int = 1

    @classmethod
    def symmetric(cls, lots_coefficient: int, constant: int = 0, denominator: int = 1) -> MarginLine:
        """The line ``(k·|q| − constant) / denominator`` (the clearing engine's LinearMarginForm)."""
        return cls(lots_coefficient, lots_coefficient, constant, denominator)

    def reduced(self) -> MarginLine:
        """The same line with the common factor of all four integers divided out."""
        g = math.gcd(self.long_per_lot, self.short_per_lot, self.constant, self.denominator)
        if g <= 1:
            return self
        return MarginLine(self.long_per_lot // g, self.short_per_lot // g, self.constant // g,
                          self.denominator // g)

    def requirement(self, quantity: int) -> int:
        """``ceil(line)`` for a signed position (exact integers; may be negative)."""
        gross = self.long_per_lot * max(quantity, 0) + self.short_per_lot * max(-quantity, 0)
        numerator = gross - self.constant
        return -((-numerator) // self.denominator)


@dataclass(frozen=True, slots=True)
class PublicInstrument:
    """One listed instrument's public data.

    ``value_per_lot`` is ``v_j`` in ``equity = cash + Σ v_j·q_j``: 0 for perpetuals and futures
    (their variation margin is already settled into cash), the option's mark value per lot for an
    option. ``margin_lines`` is the standard-mode requirement; ``long_charge``/``short_charge`` the
    portfolio-mode per-lot charge ``max(long·q, −short·q, 0)``.
    """

    instrument_id: str
    value_per_lot: int
    margin_lines: tuple[MarginLine, ...] = ()
    long_charge: int = 0
    short_charge: int = 0


@dataclass(frozen=True, slots=True)
class ScenarioMargin:
    """Portfolio-margin data: ``value_changes[j][s]`` per lot in ``1/scale`` settlement units; ``groups``
    the scenario columns of each underlying (a group's worst loss is floored at 0, groups add up)."""

    scale: int
    groups: tuple[tuple[int, ...], ...]
    value_changes: tuple[tuple[int, ...], ...]

    @property
    def scenario_count(self) -> int:
        return len(self.value_changes[0]) if self.value_changes else sum(len(g) for g in self.groups)


@dataclass(frozen=True, slots=True)
class PublicAsset:
    """A collateral asset other than the settlement asset, as the statements see it (exact integers).

    A balance ``b`` (the asset's smallest unit) is worth ``V = floor(b·price_ticks·unit_value_num /
    unit_value_den)`` settlement units, and counts in equity for its haircut value
    ``H = max(0, floor(min_t (slope_t·V + constant_t) / denominator))``: ``haircut_lines`` are the
    ``(slope_t, constant_t)`` of a concave tier table (a ratio in ppm per tier over ``denominator`` 10^6, the
    constants continuing the tiers; a per-account cap is one more line of slope 0). Both roundings are down:
    collateral credit rounds against the account.
    """

    asset_id: str
    unit_value_num: int
    unit_value_den: int
    price_ticks: int
    haircut_lines: tuple[tuple[int, int], ...]
    denominator: int

    def value(self, balance: int) -> int:
        """``floor(b·price·num / den)``: the balance's value in settlement units, rounded down."""
        return balance * self.price_ticks * self.unit_value_num // self.unit_value_den

    def haircut_value(self, balance: int) -> int:
        """``max(0, floor(min_t line_t(value(b)) / denominator))``: what the balance counts for in equity."""
        value = self.value(balance)
        best = min(slope * value + constant for slope, constant in self.haircut_lines)
        return max(best // self.denominator, 0)


@dataclass(frozen=True, slots=True)
class AccountWitness:
    """The private values of one account: cash (settlement units), the signed position in every listed
    instrument (lots, 0 when not held), its margin mode (``"standard"`` or ``"portfolio"``) and its balance of
    every collateral asset (the asset's smallest unit, in the order of :attr:`PublicRiskData.assets`; empty
    when the epoch has none)."""

    cash: int
    positions: tuple[int, ...]
    margin_mode: str = STANDARD
    balances: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if type(self.cash) is not int:
            raise InputError(f"cash must be an int, got {type(self.cash).__name__}", field="cash")
        positions = tuple(self.positions)
        if any(type(q) is not int for q in positions):
            raise InputError("positions must be ints (lots)", field="positions")
        object.__setattr__(self, "positions", positions)
        balances = tuple(self.balances)
        if any(type(b) is not int for b in balances):
            raise InputError("balances must be ints (the asset's smallest unit)", field="balances")
        object.__setattr__(self, "balances", balances)
        if self.margin_mode not in MARGIN_MODES:
            raise InputError(f"margin mode {self.margin_mode!r} is not one of {MARGIN_MODES}",
                             field="margin_mode")

    def __repr__(self) -> str:
        return f"AccountWitness(<secret>, margin_mode={self.margin_mode!r})"


@dataclass(frozen=True, slots=True)
class PublicRiskData:
    """Epoch-public risk data of the collateralization statements (see the module docstring).

    Guaranteed after :meth:`check_budget`: the listing and every coefficient is within the
    documented limits and every statement built from it passes :func:`circuits.budget.analyze`.
    """

    instruments: tuple[PublicInstrument, ...]
    scenario_margin: ScenarioMargin | None = None
    position_bits: int = 32
    money_bits: int = MONEY_BITS
    label: str = field(default="")
    assets: tuple[PublicAsset, ...] = ()

    @property
    def instrument_ids(self) -> tuple[str, ...]:
        return tuple(i.instrument_id for i in self.instruments)

    @property
    def asset_ids(self) -> tuple[str, ...]:
        """The collateral assets besides the settlement asset, in configuration order."""
        return tuple(a.asset_id for a in self.assets)

    @property
    def value_per_lot(self) -> tuple[int, ...]:
        return tuple(i.value_per_lot for i in self.instruments)

    @property
    def scale(self) -> int:
        """The standard-mode scaling ``D``: requirements are summed in units of 1/D settlement unit,
        D = lcm of the reduced line denominators (1 when every coefficient is a whole settlement unit)."""
        return standard_scale(self)

    @property
    def margin_modes(self) -> tuple[str, ...]:
        """The modes this data supports (portfolio only with a scenario table)."""
        return MARGIN_MODES if self.scenario_margin is not None else (STANDARD,)

    def canonical(self) -> list:
        """Nested lists of str/int: what :meth:`digest` hashes. The collateral assets are a seventh element,
        present only when there are any (so the digest of a single-asset epoch is what it always was)."""
        scenario = None
        if self.scenario_margin is not None:
            s = self.scenario_margin
            scenario = [s.scale, [list(g) for g in s.groups], [list(row) for row in s.value_changes]]
        document = [
            _ENCODING_TAG, self.label, self.position_bits, self.money_bits,
            [[i.instrument_id, i.value_per_lot,
              [[m.long_per_lot, m.short_per_lot, m.constant, m.denominator] for m in i.margin_lines],
              i.long_charge, i.short_charge] for i in self.instruments],
            scenario,
        ]
        if self.assets:
            document.append([[a.asset_id, a.unit_value_num, a.unit_value_den, a.price_ticks,
                              [[slope, constant] for slope, constant in a.haircut_lines], a.denominator]
                             for a in self.assets])
        return document

    def digest(self) -> bytes:
        """SHA-256 of the compact ASCII JSON of :meth:`canonical`."""
        return _digest(self)

    def check_budget(self) -> dict[str, BudgetReport]:
        """Validate every parameter and the soundness budget of each mode's statement.

        Returns the budget report per margin mode; raises ConfigurationError naming what is wrong.
        """
        try:
            hash(self)
        except TypeError:
            raise ConfigurationError("public risk data must be built from tuples (it is hashed and cached)") from None
        return _check_budget(self)

    @classmethod
    def from_epoch(cls, risk_parameters: object, risk_models: object, *, scenario_table: object = None,
                   equity_values: Mapping[str, int] | None = None, position_bits: int = 32,
                   label: str = "") -> PublicRiskData:
        """Build from the clearing engine's ``RiskParameters`` and ``RiskModels`` (maintenance level) and,
        for portfolio margin, the risk module's ``ScenarioTable``.

        ``v_j`` is ``equity_values[id]`` (0 when absent) when ``equity_values`` is given: pass zeros for
        options the engine settles futures-style (their mark change is variation margin, already in
        cash). Otherwise it is the scenario table's mark value (premium-style options), else 0.
        """
        from zkclear.clearing.margin import MarginLevel

        table = scenario_table
        table_rows: dict[str, int] = {}
        if table is not None:
            table_rows = {instrument_id: row for row, instrument_id in enumerate(table.instrument_ids)}
        instruments = []
        for risk in risk_parameters.instruments:
            forms = risk_models.get(risk.margin_model).forms(risk, MarginLevel.MAINTENANCE)
            # A form may charge shorts differently (an option's standard margin): keep both sides.
            lines = tuple(MarginLine(f.lots_coefficient,
                                     f.lots_coefficient if f.short_lots_coefficient is None
                                     else f.short_lots_coefficient,
                                     f.constant, f.denominator) for f in forms)
            value = 0
            long_charge = short_charge = 0
            if risk.instrument_id in table_rows:
                row = table_rows[risk.instrument_id]
                value = table.mark_values[row]
                long_charge = table.position_charges[row].long_per_lot
                short_charge = table.position_charges[row].short_per_lot
            if equity_values is not None:
                value = equity_values.get(risk.instrument_id, 0)
            instruments.append(PublicInstrument(risk.instrument_id, value, lines, long_charge, short_charge))
        scenario = None
        if table is not None:
            missing = [i.instrument_id for i in instruments if i.instrument_id not in table_rows]
            if missing:
                raise ConfigurationError(f"the scenario table has no rows for {missing}")
            rows = tuple(tuple(table.value_changes[table_rows[i.instrument_id]]) for i in instruments)
            groups = tuple(columns for _, columns in table.groups)
            scenario = ScenarioMargin(table.scale, groups, rows)
        assets = tuple(public_asset(asset) for asset in getattr(risk_parameters, "assets", ()))
        public = cls(tuple(instruments), scenario, position_bits=position_bits, label=label, assets=assets)
        public.check_budget()
        return public


def public_asset(asset: object) -> PublicAsset:
    """A collateral asset's public data from the clearing engine's per-asset risk data (docs/
    MULTIASSET-CONTRACT: ``asset_id``, ``price_ticks``, ``unit_value = (num, den)``, ``haircut_lines`` as
    ``(slope, constant)`` over ``haircut_denominator``, ``cap`` in the asset's smallest unit, 0 = none).

    A cap becomes one more line of slope 0: the haircut value of ``min(b, cap)`` is the smaller of the haircut
    value of ``b`` and that of ``cap``, because the haircut value never decreases with the balance.
    """
    num, den = asset.unit_value
    lines = tuple((int(slope), int(constant)) for slope, constant in asset.haircut_lines)
    denominator = int(asset.haircut_denominator)
    public = PublicAsset(str(asset.asset_id), int(num), int(den), int(asset.price_ticks), lines, denominator)
    cap = int(getattr(asset, "cap", 0) or 0)
    if cap > 0:
        capped = public.haircut_value(cap)
        public = PublicAsset(public.asset_id, public.unit_value_num, public.unit_value_den, public.price_ticks,
                             (*lines, (0, capped * denominator)), denominator)
    return public


@lru_cache(maxsize=64)
def _digest(public: PublicRiskData) -> bytes:
    encoded = json.dumps(public.canonical(), separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return hashlib.sha256(encoded).digest()


@lru_cache(maxsize=64)
def standard_scale(public: PublicRiskData) -> int:
    """lcm of the reduced denominators of every standard margin line (see :attr:`PublicRiskData.scale`)."""
    scale = 1
    for instrument in public.instruments:
        for line in instrument.margin_lines:
            scale = math.lcm(scale, line.reduced().denominator)
    return scale


def _validate(public: PublicRiskData) -> None:
    if not isinstance(public.instruments, tuple) or not public.instruments:
        raise ConfigurationError("the listing must be a non-empty tuple of PublicInstrument")
    n = len(public.instruments)
    if n > MAX_LISTED_INSTRUMENTS:
        raise ConfigurationError(f"{n} listed instruments exceed the supported maximum "
                                 f"{MAX_LISTED_INSTRUMENTS} "
                                 "(the per-account statement grows linearly with the listing)")
    if public.position_bits not in POSITION_WIDTHS:
        raise ConfigurationError(f"position_bits must be one of {POSITION_WIDTHS}, "
                                 f"got {public.position_bits!r}")
    if public.money_bits != MONEY_BITS:
        raise ConfigurationError(f"money_bits must be {MONEY_BITS}")
    ids = public.instrument_ids
    if len(set(ids)) != n or any(not isinstance(i, str) or not i for i in ids):
        raise ConfigurationError("instrument ids must be unique non-empty strings")
    for instrument in public.instruments:
        where = f"instrument {instrument.instrument_id!r}"
        _require_int(instrument.value_per_lot, f"{where}: value_per_lot", -MAX_COEFFICIENT, MAX_COEFFICIENT)
        _require_int(instrument.long_charge, f"{where}: long_charge", 0, MAX_COEFFICIENT)
        _require_int(instrument.short_charge, f"{where}: short_charge", 0, MAX_COEFFICIENT)
        if not isinstance(instrument.margin_lines, tuple) or len(instrument.margin_lines) > MAX_MARGIN_LINES:
            raise ConfigurationError(f"{where}: margin_lines must be a tuple of at most "
                                     f"{MAX_MARGIN_LINES} lines")
        for k, line in enumerate(instrument.margin_lines):
            _require_int(line.long_per_lot, f"{where}: line {k} long_per_lot", 0, MAX_COEFFICIENT)
            _require_int(line.short_per_lot, f"{where}: line {k} short_per_lot", 0, MAX_COEFFICIENT)
            _require_int(line.constant, f"{where}: line {k} constant", -MAX_COEFFICIENT, MAX_COEFFICIENT)
            _require_int(line.denominator, f"{where}: line {k} denominator", 1, 1 << ROUNDING_BITS)
    if standard_scale(public) > 1 << ROUNDING_BITS:
        raise ConfigurationError(f"the common denominator of the margin lines ({standard_scale(public)}) "
                                 f"exceeds 2^{ROUNDING_BITS}")
    scenario = public.scenario_margin
    if scenario is not None:
        _require_int(scenario.scale, "scenario scale", 1, 1 << ROUNDING_BITS)
        if len(scenario.value_changes) != n:
            raise ConfigurationError(f"the scenario table needs one row per listed instrument ({n}), "
                                     f"got {len(scenario.value_changes)}")
        width = len(scenario.value_changes[0])
        if not 1 <= width <= MAX_SCENARIOS:
            raise ConfigurationError(f"scenario count must be in [1, {MAX_SCENARIOS}], got {width}")
        for j, row in enumerate(scenario.value_changes):
            if len(row) != width:
                raise ConfigurationError(f"scenario row {j} has {len(row)} entries, expected {width}")
            for s, entry in enumerate(row):
                _require_int(entry, f"scenario entry [{j}][{s}]", -MAX_COEFFICIENT, MAX_COEFFICIENT)
        columns = sorted(c for group in scenario.groups for c in group)
        if columns != list(range(width)):
            raise ConfigurationError("scenario groups must partition the scenario columns")
    _validate_assets(public.assets)


def _validate_assets(assets: object) -> None:
    if not isinstance(assets, tuple):
        raise ConfigurationError("assets must be a tuple of PublicAsset")
    if len(assets) > MAX_COLLATERAL_ASSETS:
        raise ConfigurationError(f"{len(assets)} collateral assets exceed the supported maximum "
                                 f"{MAX_COLLATERAL_ASSETS} (the per-account statement and every tree node grow "
                                 "linearly with the assets)")
    seen: set[str] = set()
    for asset in assets:
        if not isinstance(asset, PublicAsset):
            raise ConfigurationError("assets must be a tuple of PublicAsset")
        name = asset.asset_id
        if (not isinstance(name, str) or not 1 <= len(name) <= 16 or not set(name) <= ASSET_ID_CHARACTERS
                or name in seen):
            raise ConfigurationError(f"asset id {name!r} must be 1-16 characters of A-Z 0-9, unique")
        seen.add(name)
        where = f"asset {name!r}"
        _require_int(asset.unit_value_num, f"{where}: unit_value numerator", 1, MAX_COEFFICIENT)
        _require_int(asset.unit_value_den, f"{where}: unit_value denominator", 1, MAX_COEFFICIENT)
        _require_int(asset.price_ticks, f"{where}: price", 1, MAX_COEFFICIENT)
        _require_int(asset.denominator, f"{where}: haircut denominator", 1, MAX_COEFFICIENT)
        lines = asset.haircut_lines
        if not isinstance(lines, tuple) or not 1 <= len(lines) <= MAX_HAIRCUT_LINES:
            # With no line the haircut value would be bounded by nothing but its own range: refuse.
            raise ConfigurationError(f"{where}: haircut_lines must be a tuple of 1 to {MAX_HAIRCUT_LINES} lines")
        for k, line in enumerate(lines):
            if not isinstance(line, tuple) or len(line) != 2:
                raise ConfigurationError(f"{where}: haircut line {k} must be a (slope, constant) pair")
            _require_int(line[0], f"{where}: haircut line {k} slope", 0, MAX_COEFFICIENT)
            _require_int(line[1], f"{where}: haircut line {k} constant", 0, MAX_COEFFICIENT)


@lru_cache(maxsize=64)
def _check_budget(public: PublicRiskData) -> dict[str, BudgetReport]:
    from circuits.account_statement import account_statement
    from circuits.budget import analyze

    _validate(public)
    return {mode: analyze(account_statement(public, mode).statement) for mode in public.margin_modes}


def listing_positions(public: PublicRiskData, held: Mapping[str, int]) -> tuple[int, ...]:
    """Positions over the whole listing from ``{instrument id: lots}`` (0 where not held)."""
    unknown = set(held) - set(public.instrument_ids)
    if unknown:
        raise InputError(f"positions in instruments that are not listed: {sorted(unknown)}",
                         field="positions")
    return tuple(int(held.get(i, 0)) for i in public.instrument_ids)
