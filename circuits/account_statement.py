"""The collateralization statement of one account, built from the epoch's public data.

Variables (committed, in this order): ``cash``; ``position[j]`` for every listed instrument
(0 when not held, so the set held is not revealed); ``balance[a]`` for every collateral asset of the
epoch (none in a single-asset epoch); then the witnesses. Equity is derived, never committed:
``E = cash + Σ_j v_j·position[j] + Σ_a h_a``.

Standard mode (per-position margin lines, cross-margined)::

    long[j] = u_j ∈ [0, 2^Qb)                  u_j = max(q_j, 0), committed witness
    short[j] = u_j − q_j ∈ [0, 2^Qb)           w_j = max(−q_j, 0), derived
    (or position[j] = q_j + 2^(Qb−1) ∈ [0, 2^Qb) for an instrument without margin lines)
    line_margin[j] = m_j,  tier[j,f] = m_j − (D/D_f)·(long_f·u_j + short_f·w_j − C_f) ∈ [0, 2^64)
                                                (only for instruments with several lines)
    requirement rounding = D·W − total ∈ [0, 2^32)  (only when D > 1; W committed)
    equity = E ∈ [0, 2^64)
    maintenance = E − W ∈ [0, 2^64)             (E − total when D = 1)

where ``total = Σ_single-line j (D/D_f)·line_j(u_j, w_j) + Σ_multi-line j m_j`` in 1/D units.

Portfolio mode (scenario grid; see zkclear.risk.portfolio_margin for the reference)::

    long[j], short[j] as above for instruments with a charge, else position[j] offset form
    scenario[s] = z_g + Σ_j ΔV_{j,s}·q_j ∈ [0, 2^64)   for s in group g  (z_g ≥ loss_s)
    scenario_worst[g] = z_g ∈ [0, 2^64)
    scenario rounding = S·W − Σ_g z_g ∈ [0, 2^32)       (only when S > 1; W committed)
    equity = E ∈ [0, 2^64)
    maintenance = E − W − Σ_j (long_j·u_j + short_j·w_j) ∈ [0, 2^64)

Collateral assets (both modes; only when the epoch has any), per asset ``a`` with public price ``p``,
unit value ``num/den`` and haircut lines ``(k_t, c_t) / D``::

    balance[a] = b_a ∈ [0, 2^64)
    value[a] = v_a ∈ [0, 2^64)                          v_a = floor(b_a·p·num / den), committed witness
    value rounding[a] = p·num·b_a − den·v_a ∈ [0, 2^w)  (w: the least width with 2^w ≥ den; proves v_a ≤ the value)
    haircut[a] = h_a ∈ [0, 2^64)                        h_a = max(0, floor(min_t line_t(v_a))), committed witness
    haircut tier[a,t] = k_t·v_a + c_t − D·h_a ∈ [0, 2^64)   for every line t (h_a ≤ each tier line)
    settlement_liability = l_0 ∈ [0, 2^64)              l_0 = max(cash + Σ_j v_j·q_j, 0), committed witness
    settlement_liability excess = l_0 − cash − Σ_j v_j·q_j ∈ [0, 2^64)

The account's liabilities, one per asset (what the tree sums): ``E`` in a single-asset epoch; otherwise
``l_0`` for the settlement asset (a debt is not counted as an asset: the conservative choice) and ``b_a``
for asset ``a``.

Why these are sound and which bounds are implied is in docs/protocol.md ("soundness budget") and
checked by :func:`circuits.budget.analyze`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from circuits.constraint_system import SUPPORTED_WIDTHS, ConstraintSystem, Statement
from circuits.linear_combination import LinearCombination, Variable
from circuits.public_data import (
    PORTFOLIO,
    ROUNDING_BITS,
    STANDARD,
    AccountWitness,
    MarginLine,
    PublicAsset,
    PublicRiskData,
    standard_scale,
)
from zkclear.errors import ConfigurationError, InputError

# Witness roles: how the prover computes each witness variable from (cash, positions).
_LONG = "long"                # u_j = max(q_j, 0)
_LINE_MARGIN = "line_margin"  # m_j = max over lines (1/D units), floored at 0 when no line is >= 0
_WORST = "scenario_worst"     # z_g = max(0, max_{s in g} loss_s)  (1/S units)
_REQUIREMENT = "requirement"  # W = ceil(total / D)
_VALUE = "value"              # v_a = floor(b_a·p·num / den)
_HAIRCUT = "haircut"          # h_a = max(0, floor(min_t (k_t·v_a + c_t) / D))
_SETTLEMENT_LIABILITY = "settlement_liability"  # l_0 = max(cash + Σ v_j q_j, 0)


@dataclass(frozen=True, slots=True)
class AccountStatement:
    """One margin mode's statement plus what the prover needs to assign its witnesses.

    ``witness_roles[k]`` says how witness ``k`` is computed: (role, instrument, group or asset index).
    ``liabilities`` are the account's liabilities, one form per asset (settlement asset first): the
    values the tree sums. ``requirement`` is the maintenance requirement the ``maintenance`` constraint
    subtracts from equity (settlement units; ``E − requirement ∈ [0, 2^64)``), kept here because that
    constraint is merged with ``equity`` when the requirement is identically 0 (no margin line at all).
    """

    mode: str
    statement: Statement
    cash: Variable
    positions: tuple[Variable, ...]
    witnesses: tuple[Variable, ...]
    witness_roles: tuple[tuple[str, int], ...]
    equity: LinearCombination
    public: PublicRiskData
    balances: tuple[Variable, ...] = ()
    liabilities: tuple[LinearCombination, ...] = ()
    requirement: LinearCombination = field(default_factory=LinearCombination)

    def assign(self, witness: AccountWitness) -> tuple[int, ...]:
        """Values of every variable (index order) for this account; InputError on a malformed witness."""
        public = self.public
        if witness.margin_mode != self.mode:
            raise InputError(f"a {witness.margin_mode!r} account cannot use the {self.mode!r} statement",
                             field="margin_mode")
        if len(witness.positions) != len(public.instruments):
            raise InputError(f"expected {len(public.instruments)} positions (one per listed instrument), "
                             f"got {len(witness.positions)}", field="positions")
        if len(witness.balances) != len(public.assets):
            raise InputError(f"expected {len(public.assets)} collateral balances (one per asset "
                             f"{', '.join(public.asset_ids) or '(none)'}), got {len(witness.balances)}",
                             field="balances")
        q = witness.positions
        values = [witness.cash, *q, *witness.balances]
        line_margins: dict[int, int] = {}
        for role, index in self.witness_roles:
            if role == _VALUE:
                values.append(public.assets[index].value(witness.balances[index]))
            elif role == _HAIRCUT:
                values.append(public.assets[index].haircut_value(witness.balances[index]))
            elif role == _SETTLEMENT_LIABILITY:
                settlement = witness.cash + sum(i.value_per_lot * qj for i, qj in zip(public.instruments, q,
                                                                                       strict=True))
                values.append(max(settlement, 0))
            elif role == _LONG:
                values.append(max(q[index], 0))
            elif role == _LINE_MARGIN:
                lines = public.instruments[index].margin_lines
                margin = _line_margin(lines, q[index], standard_scale(public))
                line_margins[index] = margin
                values.append(margin)
            elif role == _WORST:
                values.append(_worst_loss(public, q, index))
            elif role == _REQUIREMENT:
                values.append(_rounded_requirement(self, q, line_margins))
            else:  # pragma: no cover - roles are fixed by the builders below
                raise AssertionError(role)
        return tuple(values)


def _scaled_line(line: MarginLine, scale: int, long: LinearCombination,
                 short: LinearCombination) -> LinearCombination:
    factor = scale // line.denominator
    return (long * line.long_per_lot + short * line.short_per_lot - line.constant) * factor


def _line_numerator(line: MarginLine, scale: int, quantity: int) -> int:
    factor = scale // line.denominator
    gross = line.long_per_lot * max(quantity, 0) + line.short_per_lot * max(-quantity, 0)
    return factor * (gross - line.constant)


def _needs_floor(lines: tuple[MarginLine, ...]) -> bool:
    """True when no line is >= 0 for every position (so max(0, ·) must be proven explicitly)."""
    return all(line.constant > 0 for line in lines)


def _effective_lines(lines: tuple[MarginLine, ...]) -> tuple[MarginLine, ...]:
    # A line with zero coefficients and a non-negative constant is <= 0 everywhere: max(0, ·) absorbs it.
    return tuple(line.reduced() for line in lines
                 if line.long_per_lot or line.short_per_lot or line.constant < 0)


def _line_margin(lines: tuple[MarginLine, ...], quantity: int, scale: int) -> int:
    effective = _effective_lines(lines)
    best = max(_line_numerator(line, scale, quantity) for line in effective)
    return max(best, 0) if _needs_floor(effective) else best


def _worst_loss(public: PublicRiskData, q: tuple[int, ...], group: int) -> int:
    table = public.scenario_margin
    worst = 0
    for s in table.groups[group]:
        loss = -sum(qj * table.value_changes[j][s] for j, qj in enumerate(q) if qj)
        worst = max(worst, loss)
    return worst


def _rounded_requirement(statement: AccountStatement, q: tuple[int, ...],
                         line_margins: dict[int, int]) -> int:
    public = statement.public
    if statement.mode == PORTFOLIO:
        total = sum(_worst_loss(public, q, g) for g in range(len(public.scenario_margin.groups)))
        scale = public.scenario_margin.scale
    else:
        scale = standard_scale(public)
        total = 0
        for j, instrument in enumerate(public.instruments):
            if j in line_margins:
                total += line_margins[j]
            else:
                lines = _effective_lines(instrument.margin_lines)
                if lines:
                    total += _line_numerator(lines[0], scale, q[j])
    return -((-total) // scale)


class _Builder:
    """Allocates the shared variables and the position bounds of both modes."""

    def __init__(self, public: PublicRiskData, mode: str) -> None:
        self.public = public
        self.cs = ConstraintSystem(f"zkclear-v1/collateral/{mode}")
        self.cash = self.cs.allocate("cash")
        self.positions = tuple(self.cs.allocate(f"position[{j}]") for j in range(len(public.instruments)))
        self.witnesses: list[Variable] = []
        self.roles: list[tuple[str, int]] = []
        self.balances = tuple(self.cs.allocate(f"balance[{a}]") for a in range(len(public.assets)))
        self.extra = LinearCombination()  # cash-unit charges added to the maintenance requirement
        self.equity = self.cash.lc()
        for j, instrument in enumerate(public.instruments):
            if instrument.value_per_lot:
                self.equity = self.equity + self.positions[j] * instrument.value_per_lot
        self.settlement_equity = self.equity  # cash + Σ v_j q_j: what the settlement asset owes
        self.liabilities: tuple[LinearCombination, ...] = ()

    def witness(self, name: str, role: str, index: int) -> Variable:
        variable = self.cs.allocate(name)
        self.witnesses.append(variable)
        self.roles.append((role, index))
        return variable

    def split_position(self, j: int) -> tuple[LinearCombination, LinearCombination]:
        """Commit u_j and prove u_j, u_j − q_j in [0, 2^Qb); returns (u_j, w_j) as combinations."""
        bits = self.public.position_bits
        long = self.witness(f"long[{j}]", _LONG, j).lc()
        short = long - self.positions[j]
        self.cs.assert_nonnegative(long, bits, f"long[{j}]")
        self.cs.assert_nonnegative(short, bits, f"short[{j}]")
        return long, short

    def bound_position(self, j: int) -> None:
        """Prove q_j + 2^(Qb−1) in [0, 2^Qb): |q_j| < 2^(Qb−1) with one range value."""
        bits = self.public.position_bits
        self.cs.assert_nonnegative(self.positions[j] + (1 << (bits - 1)), bits, f"position[{j}]")

    def collateral(self) -> None:
        """Per collateral asset: the balance, its value and haircut value (added to equity); then the settlement
        asset's liability. Without collateral assets the liability is the equity itself."""
        money = self.public.money_bits
        if not self.public.assets:
            self.liabilities = (self.equity,)
            return
        for a, asset in enumerate(self.public.assets):
            balance = self.balances[a]
            self.cs.assert_nonnegative(balance, money, f"balance[{a}]")
            value = self.witness(f"value[{a}]", _VALUE, a)
            self.cs.assert_nonnegative(value, money, f"value[{a}]")
            rounding = balance * (asset.price_ticks * asset.unit_value_num) - value * asset.unit_value_den
            self.cs.assert_nonnegative(rounding, _width_for(asset.unit_value_den), f"value rounding[{a}]")
            haircut = self.witness(f"haircut[{a}]", _HAIRCUT, a)
            self.cs.assert_nonnegative(haircut, money, f"haircut[{a}]")
            for t, (slope, constant, denominator) in enumerate(_haircut_lines(asset)):
                self.cs.assert_nonnegative(value * slope + constant - haircut * denominator, money,
                                           f"haircut tier[{a},{t}]")
            self.equity = self.equity + haircut
        settlement = self.witness("settlement_liability", _SETTLEMENT_LIABILITY, 0)
        self.cs.assert_nonnegative(settlement, money, "settlement_liability")
        self.cs.assert_nonnegative(settlement - self.settlement_equity, money, "settlement_liability excess")
        self.liabilities = (settlement.lc(), *(balance.lc() for balance in self.balances))

    def finish(self, mode: str, requirement: LinearCombination, scale: int,
               rounded_name: str) -> AccountStatement:
        """Add the collateral assets, ``equity``, the rounding of ``requirement`` (in 1/scale units) to a committed
        whole-unit witness when ``scale > 1``, and ``maintenance``; return the statement."""
        money = self.public.money_bits
        self.collateral()
        self.cs.assert_nonnegative(self.equity, money, "equity")
        if scale > 1:
            rounded = self.witness(rounded_name, _REQUIREMENT, 0)
            rounding = rounded * scale - requirement
            self.cs.assert_nonnegative(rounding, ROUNDING_BITS, f"{rounded_name} rounding")
            requirement = rounded.lc()
        self.cs.assert_nonnegative(self.equity - requirement - self.extra, money, "maintenance")
        return AccountStatement(mode, self.cs.finish(), self.cash, self.positions, tuple(self.witnesses),
                                tuple(self.roles), self.equity, self.public, self.balances, self.liabilities,
                                requirement + self.extra)


def _width_for(denominator: int) -> int:
    """The least supported range width that holds a rounding slack in [0, denominator)."""
    return next(w for w in SUPPORTED_WIDTHS if denominator <= 1 << w)


def _haircut_lines(asset: PublicAsset) -> tuple[tuple[int, int, int], ...]:
    """The asset's lines ``(k_t, c_t, D)`` with their common factor divided out (the same inequalities, smaller
    honest slacks: the tier forms must stay below 2^64 for an honest account)."""
    factor = math.gcd(asset.denominator, *(k for k, _ in asset.haircut_lines), *(c for _, c in asset.haircut_lines))
    return tuple((k // factor, c // factor, asset.denominator // factor) for k, c in asset.haircut_lines)


def _standard(public: PublicRiskData) -> AccountStatement:
    b = _Builder(public, STANDARD)
    scale = standard_scale(public)
    money = public.money_bits
    total = LinearCombination()
    for j, instrument in enumerate(public.instruments):
        lines = _effective_lines(instrument.margin_lines)
        if not lines:
            b.bound_position(j)
            continue
        long, short = b.split_position(j)
        if len(lines) == 1 and not _needs_floor(lines):
            total = total + _scaled_line(lines[0], scale, long, short)
            continue
        margin = b.witness(f"line_margin[{j}]", _LINE_MARGIN, j)
        for f, line in enumerate(lines):
            b.cs.assert_nonnegative(margin - _scaled_line(line, scale, long, short), money, f"tier[{j},{f}]")
        if _needs_floor(lines):
            b.cs.assert_nonnegative(margin, money, f"line_margin[{j}]")
        total = total + margin
    return b.finish(STANDARD, total, scale, "requirement")


def _portfolio(public: PublicRiskData) -> AccountStatement:
    table = public.scenario_margin
    if table is None:
        raise ConfigurationError("portfolio margin needs a scenario table in the public data")
    b = _Builder(public, PORTFOLIO)
    money = public.money_bits
    charges = LinearCombination()
    for j, instrument in enumerate(public.instruments):
        if instrument.long_charge or instrument.short_charge:
            long, short = b.split_position(j)
            charges = charges + long * instrument.long_charge + short * instrument.short_charge
        else:
            b.bound_position(j)
    worst_total = LinearCombination()
    for g, group in enumerate(table.groups):
        worst = b.witness(f"scenario_worst[{g}]", _WORST, g)
        for s in group:
            exposure = worst.lc()
            for j, position in enumerate(b.positions):
                if table.value_changes[j][s]:
                    exposure = exposure + position * table.value_changes[j][s]
            b.cs.assert_nonnegative(exposure, money, f"scenario[{s}]")
        b.cs.assert_nonnegative(worst, money, f"scenario_worst[{g}]")
        worst_total = worst_total + worst
    b.extra = charges
    return b.finish(PORTFOLIO, worst_total, table.scale, "scenario_margin")


@lru_cache(maxsize=64)
def account_statement(public: PublicRiskData, mode: str) -> AccountStatement:
    """The statement every ``mode`` account proves under ``public`` (one structure for all such accounts)."""
    if mode == STANDARD:
        return _standard(public)
    if mode == PORTFOLIO:
        return _portfolio(public)
    raise ConfigurationError(f"unknown margin mode {mode!r}")
