"""An independent model of the clearing rules, written from docs/clearing.md and docs/format.md alone.

Plain Python: ints, dicts, no numpy, nothing imported from ``zkclear``. It covers the core path of an epoch
(docs/clearing.md "An epoch, step by step"): validation of the fill price band and fee cap, account opening and
deposits, variation margin, funding with its clamp and floor rounding, novation and netting with fees, dated-future
expiry, standard margin (linear and tiered), the liquidation of an account below maintenance when its closed lots
go to a liquidator or the backstop (partial by the smallest restoring fraction, or full), the users' withdrawals and
the operator's fund withdrawals. What it does not model (a bankruptcy, the backstop's own liquidation, ADL,
socialized loss) raises :class:`Unmodelled`, so a differential test can leave such an example out rather than
compare it against a guess.

Every rule below cites the sentence of the documentation it follows; ``test_reference_clearing_s15.py`` runs it
against ``zkclear.clearing.engine.apply_epoch``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PPM = 1_000_000
INSURANCE_FUND = "CH:insurance"
FEE_ACCOUNT = "CH:fees"
BACKSTOP = "CH:backstop"
HOUSE_ACCOUNTS = (BACKSTOP, FEE_ACCOUNT, INSURANCE_FUND)


class Refused(Exception):
    """The epoch is refused as bad input (the engine raises ``InputError``): ``file`` and ``index`` (0-based, in
    input order) name the record, ``fields`` the fields of it that are bad (the documentation does not order the
    checks of one record, so a refusal may name any of them)."""

    def __init__(self, file: str, index: int, fields: tuple[str, ...]) -> None:
        super().__init__(f"{file}[{index}]: fields {fields!r}")
        self.file = file
        self.index = index
        self.fields = fields


class Unmodelled(Exception):
    """The epoch reaches a rule this reference does not model."""


def ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


@dataclass(frozen=True)
class Tier:
    notional_bound: int
    rate_ppm: int
    deduction: int


@dataclass(frozen=True)
class Instrument:
    instrument_id: str
    kind: str  # "perpetual" | "dated_future"
    multiplier: int
    initial_ppm: int
    maintenance_ppm: int
    tiered: bool = False
    initial_tiers: tuple[Tier, ...] = ()
    maintenance_tiers: tuple[Tier, ...] = ()
    expiry_epoch: int | None = None


@dataclass(frozen=True)
class Config:
    instruments: tuple[Instrument, ...]
    penalty_ppm: int = 10_000
    buffer_ppm: int = 100_000
    funding_clamp_ppm: int = 10_000
    liquidators: tuple[str, ...] = ()
    fill_price_band_ppm: int = 100_000
    fill_fee_cap_ppm: int = 125_000


@dataclass
class State:
    epoch: int
    cash: dict[str, int]
    net_deposits: dict[str, int]
    positions: dict[str, dict[str, int]]
    settlement_prices: dict[str, int]
    funding_indices: dict[str, int]
    expired: dict[str, bool]
    total_deposited: int = 0
    total_withdrawn: int = 0

    @staticmethod
    def genesis(config: Config) -> State:
        """Epoch 0: the clearing house's three accounts, flat and empty; no instrument marked yet."""
        ids = [i.instrument_id for i in config.instruments]
        return State(0, {a: 0 for a in HOUSE_ACCOUNTS}, {a: 0 for a in HOUSE_ACCOUNTS},
                     {a: dict.fromkeys(ids, 0) for a in HOUSE_ACCOUNTS}, dict.fromkeys(ids, 0),
                     dict.fromkeys(ids, 0), dict.fromkeys(ids, False))

    def copy(self) -> State:
        return State(self.epoch, dict(self.cash), dict(self.net_deposits),
                     {a: dict(p) for a, p in self.positions.items()}, dict(self.settlement_prices),
                     dict(self.funding_indices), dict(self.expired), self.total_deposited, self.total_withdrawn)


@dataclass(frozen=True)
class FillRecord:
    fill_id: str
    buyer: str
    seller: str
    instrument: str
    size: int
    price: int
    buyer_fee: int = 0
    seller_fee: int = 0


@dataclass(frozen=True)
class Inputs:
    epoch: int
    marks: dict[str, tuple[int, int | None]]  # instrument -> (mark ticks, funding rate ppm or None)
    fills: tuple[FillRecord, ...] = ()
    transfers: tuple[tuple[str, str, str, int], ...] = ()  # (id, "deposit" | "withdrawal", account, amount)
    opens: tuple[str, ...] = ()
    margin_overrides: dict[str, tuple[int, int]] = field(default_factory=dict)  # instrument -> (initial, maint.)
    operator_actions: tuple[tuple[str, str, int], ...] = ()  # (action id, account, amount)


@dataclass
class Liquidation:
    account: str
    action: str  # "partial" | "full" | "bankrupt"
    closed_lots: dict[str, int]
    receiver: str
    penalty: int
    deficit: int = 0
    insurance_paid: int = 0


@dataclass
class Report:
    settlement: dict[str, int]
    fees_collected: int
    funding: list[tuple[str, int, int, int, int]]  # (instrument, requested, applied, index delta, index)
    funding_residue: int
    expired_instruments: list[str]
    withdrawals: list[tuple[str, bool]]  # (transfer id, honoured)
    operator_actions: list[tuple[str, bool]]
    liquidations: list[Liquidation]
    backstop_topups: list[int]  # from the insurance fund to the backstop; negative: its surplus returned


# -- margin ("Margin (cross margin, per account)") ------------------------------------------------------------------

def position_requirement(instrument: Instrument, lots: int, mark: int, level: str,
                         overrides: dict[str, tuple[int, int]]) -> int:
    """Linear: ``⌈N · fraction / PPM⌉`` with the fraction ``max(configured, override)``; tiered:
    ``max_t(⌈N · rate_t / PPM⌉ − deduction_t)`` over every tier; ``N = |q| · M · m``."""
    notional = abs(lots) * mark * instrument.multiplier
    if instrument.tiered:
        tiers = instrument.initial_tiers if level == "initial" else instrument.maintenance_tiers
        return max(ceil_div(notional * t.rate_ppm, PPM) - t.deduction for t in tiers)
    override = overrides.get(instrument.instrument_id)
    if level == "initial":
        fraction = max(instrument.initial_ppm, override[0] if override else 0)
    else:
        fraction = max(instrument.maintenance_ppm, override[1] if override else 0)
    return ceil_div(notional * fraction, PPM)


def requirement(config: Config, positions: dict[str, int], marks: dict[str, int], level: str,
                overrides: dict[str, tuple[int, int]]) -> int:
    """Per position, summed over instruments: one equity stands against the sum."""
    return sum(position_requirement(i, positions[i.instrument_id], marks[i.instrument_id], level, overrides)
               for i in config.instruments if positions[i.instrument_id])


# -- validation (docs/clearing.md "Market integrity") -------------------------------------------------------------

def _check_fill(config: Config, state: State, inputs: Inputs, index: int, f: FillRecord) -> None:
    instrument = next(i for i in config.instruments if i.instrument_id == f.instrument)
    mark = inputs.marks[f.instrument][0]
    previous = state.settlement_prices[f.instrument]
    span = [mark] + ([previous] if previous else [])
    lo, hi = min(span), max(span)
    width = ceil_div(config.fill_price_band_ppm * hi, PPM)
    bad = () if lo - width <= f.price <= hi + width else ("price",)
    cap = ceil_div(config.fill_fee_cap_ppm * f.size * f.price * instrument.multiplier, PPM)
    bad += tuple(name for name, fee in (("buyer_fee", f.buyer_fee), ("seller_fee", f.seller_fee)) if fee > cap)
    if bad:
        raise Refused("fills", index, bad)


def validate(config: Config, state: State, inputs: Inputs) -> None:
    """The refusals this model knows: a fill outside its price band, a fee above the cap (the first bad fill in
    input order), a withdrawal from a ``CH:`` account."""
    for index, f in enumerate(inputs.fills):
        _check_fill(config, state, inputs, index, f)
    for index, (_, kind, account, _) in enumerate(inputs.transfers):
        if kind == "withdrawal" and account.startswith("CH:"):
            raise Refused("transfers", index, ("account",))


# -- the epoch ("An epoch, step by step") ------------------------------------------------------------------------

def apply_epoch(state: State, inputs: Inputs, config: Config) -> tuple[State, Report]:
    validate(config, state, inputs)
    new = state.copy()
    new.epoch = inputs.epoch
    ids = [i.instrument_id for i in config.instruments]
    settlement: dict[str, int] = {}

    def pay(account: str, amount: int) -> None:
        new.cash[account] += amount
        settlement[account] = settlement.get(account, 0) + amount

    # 2. Open accounts; credit deposits.
    for account in inputs.opens:
        new.cash[account], new.net_deposits[account] = 0, 0
        new.positions[account] = dict.fromkeys(ids, 0)
    for _, kind, account, amount in inputs.transfers:
        if kind == "deposit":
            new.cash[account] += amount
            new.net_deposits[account] += amount
            new.total_deposited += amount
    start_positions = {a: dict(p) for a, p in new.positions.items()}
    marks = {i: m for i, (m, _) in inputs.marks.items()}
    live = [i for i in config.instruments if not state.expired[i.instrument_id]]

    # 3. Variation margin and 4. funding, on the start-of-epoch positions.
    funding: list[tuple[str, int, int, int, int]] = []
    residue = 0
    for instrument in live:
        column, m = instrument.instrument_id, instrument.multiplier
        mark, previous = marks[column], state.settlement_prices[column]
        for account, held in start_positions.items():
            if held[column]:
                pay(account, held[column] * (mark - previous) * m)
        if instrument.kind == "perpetual":
            requested = inputs.marks[column][1]
            applied = max(-config.funding_clamp_ppm, min(config.funding_clamp_ppm, requested))
            delta = applied * mark * m
            new.funding_indices[column] += delta
            funding.append((column, requested, applied, delta, new.funding_indices[column]))
            for account, held in start_positions.items():
                if held[column]:
                    payment = (-held[column] * delta) // PPM  # toward −∞: against the account
                    pay(account, payment)
                    residue -= payment
    if residue:
        pay(FEE_ACCOUNT, residue)

    # 5. Novation and netting; fees to the fee account.
    fees = 0
    for f in inputs.fills:
        m = next(i.multiplier for i in config.instruments if i.instrument_id == f.instrument)
        mark = marks[f.instrument]
        for account, lots, fee in ((f.buyer, f.size, f.buyer_fee), (f.seller, -f.size, f.seller_fee)):
            new.positions[account][f.instrument] += lots
            pay(account, lots * (mark - f.price) * m - fee)
            fees += fee
    if fees:
        pay(FEE_ACCOUNT, fees)

    for instrument in live:
        new.settlement_prices[instrument.instrument_id] = marks[instrument.instrument_id]

    # 6. Final settlement of dated futures.
    expired = []
    for instrument in live:
        if instrument.expiry_epoch == inputs.epoch:
            for held in new.positions.values():
                held[instrument.instrument_id] = 0
            new.expired[instrument.instrument_id] = True
            expired.append(instrument.instrument_id)

    # 7. Margin and liquidation.
    overrides = inputs.margin_overrides
    liquidations, topups = liquidate(config, new, marks, overrides)

    # 8. Withdrawals in input order, then the operator's fund withdrawals.
    withdrawals = []
    for transfer_id, kind, account, amount in inputs.transfers:
        if kind != "withdrawal":
            continue
        initial = requirement(config, new.positions[account], new.settlement_prices, "initial", overrides)
        honoured = new.cash[account] - amount >= initial
        if honoured:
            new.cash[account] -= amount
            new.net_deposits[account] -= amount
            new.total_withdrawn += amount
        withdrawals.append((transfer_id, honoured))
    actions = []
    for action_id, account, amount in inputs.operator_actions:
        honoured = new.cash[account] >= amount
        if honoured:  # net deposits are "deposits minus honoured withdrawals", the fund's as anyone's
            new.cash[account] -= amount
            new.net_deposits[account] -= amount
            new.total_withdrawn += amount
        actions.append((action_id, honoured))

    report = Report({a: settlement.get(a, 0) for a in new.cash}, fees, funding, residue, expired, withdrawals,
                    actions, liquidations, topups)
    return new, report


# -- liquidation ("Liquidation") -----------------------------------------------------------------------------------

def _candidates(config: Config, state: State, marks: dict[str, int],
                overrides: dict[str, tuple[int, int]]) -> list[str]:
    """Accounts with ``equity < maintenance`` (not the fund or the fee account), in id order, the backstop last."""
    below = [a for a in sorted(state.cash) if a not in (INSURANCE_FUND, FEE_ACCOUNT)
             and state.cash[a] < requirement(config, state.positions[a], marks, "maintenance", overrides)]
    return [a for a in below if a != BACKSTOP] + [a for a in below if a == BACKSTOP]


def _closed(positions: dict[str, int], fraction: int) -> dict[str, int]:
    """``c_i = sign(q_i) · ⌈|q_i| · f / PPM⌉``."""
    return {i: (1 if q > 0 else -1) * ceil_div(abs(q) * fraction, PPM) for i, q in positions.items() if q}


def _fractions(positions: dict[str, int]) -> list[int]:
    """Every fraction at which some ``c_i`` steps up: the distinct close-outs, smallest fraction first."""
    steps = {PPM}
    for q in positions.values():
        for lots in range(1, abs(q) + 1):
            steps.add((lots - 1) * PPM // abs(q) + 1)
    return sorted(steps)


def _penalty(config: Config, closed: dict[str, int], marks: dict[str, int], equity: int) -> int:
    multiplier = {i.instrument_id: i.multiplier for i in config.instruments}
    value = sum(abs(c) * marks[i] * multiplier[i] for i, c in closed.items())
    return min(ceil_div(value * config.penalty_ppm, PPM), equity)


def _target(config: Config, maintenance: int) -> int:
    """``⌈MM · (PPM + buffer_ppm) / PPM⌉``."""
    return ceil_div(maintenance * (PPM + config.buffer_ppm), PPM)


def liquidate(config: Config, state: State, marks: dict[str, int],
              overrides: dict[str, tuple[int, int]]) -> tuple[list[Liquidation], list[int]]:
    """``0 ≤ E < MM``: the smallest fraction of every position whose close-out leaves ``E − penalty ≥
    ⌈MM_after · (PPM + buffer) / PPM⌉``; the lots move at the mark to the first opted-in liquidator (id order, not
    the account) whose equity covers its initial requirement with them, else to the backstop. The backstop, below
    maintenance, is topped up by the insurance fund towards its target; when the pass ends, its cash above the target
    returns to the fund."""
    events: list[Liquidation] = []
    topups: list[int] = []
    while candidates := _candidates(config, state, marks, overrides):
        account = candidates[0]
        equity, held = state.cash[account], state.positions[account]
        if account == BACKSTOP:
            maintenance = requirement(config, held, marks, "maintenance", overrides)
            amount = min(state.cash[INSURANCE_FUND], _target(config, maintenance) - equity)
            if amount > 0:
                state.cash[INSURANCE_FUND] -= amount
                state.cash[BACKSTOP] += amount
                topups.append(amount)
            if state.cash[BACKSTOP] < maintenance:
                raise Unmodelled("the backstop's deleveraging")
            continue
        if equity < 0:  # bankrupt: the fund pays the deficit; a residue goes to ADL or socialized loss
            paid = min(-equity, state.cash[INSURANCE_FUND])
            if paid < -equity:
                raise Unmodelled("a bankruptcy the insurance fund does not cover")
            state.cash[INSURANCE_FUND] -= paid
            state.cash[account] += paid
            closed = {i: q for i, q in held.items() if q}
            # an account left only a loss (on an expired future, say) hands nothing over: no receiver
            receiver = _receiver(config, state, account, closed, marks, overrides) if closed else ""
            _move(state, account, receiver, closed)
            events.append(Liquidation(account, "bankrupt", closed, receiver, 0, -equity, paid))
            continue
        for fraction in _fractions(held):
            closed = _closed(held, fraction)
            penalty = _penalty(config, closed, marks, equity)
            after = {i: q - closed.get(i, 0) for i, q in held.items()}
            if equity - penalty >= _target(config, requirement(config, after, marks, "maintenance", overrides)):
                break
        whole = all(c == held[i] for i, c in closed.items())
        receiver = _receiver(config, state, account, closed, marks, overrides)
        state.cash[account] -= penalty
        state.cash[INSURANCE_FUND] += penalty
        _move(state, account, receiver, closed)
        events.append(Liquidation(account, "full" if whole else "partial", closed, receiver, penalty))
    surplus = state.cash[BACKSTOP] - _target(config, requirement(config, state.positions[BACKSTOP], marks,
                                                                 "maintenance", overrides))
    if surplus > 0:
        state.cash[BACKSTOP] -= surplus
        state.cash[INSURANCE_FUND] += surplus
        topups.append(-surplus)
    return events, topups


def _move(state: State, giver: str, receiver: str, lots: dict[str, int]) -> None:
    """Lots change hands at the mark: no cash moves (every position is already marked to it)."""
    for i, c in lots.items():
        state.positions[giver][i] -= c
        state.positions[receiver][i] += c


def _receiver(config: Config, state: State, account: str, closed: dict[str, int], marks: dict[str, int],
              overrides: dict[str, tuple[int, int]]) -> str:
    for liquidator in sorted(config.liquidators):
        if liquidator == account or liquidator not in state.cash:
            continue
        taken = {i: q + closed.get(i, 0) for i, q in state.positions[liquidator].items()}
        if state.cash[liquidator] >= requirement(config, taken, marks, "initial", overrides):
            return liquidator
    return BACKSTOP
