"""An independent model of the clearing rules, written from docs/clearing.md and docs/format.md alone.

Plain Python: ints, Fractions, dicts; no numpy, nothing imported from ``zkclear``. It covers a standard-margin
deployment without options, oracle or collateral assets (docs/clearing.md "An epoch, step by step"): the refusals of
a fill outside its price band, a fee above the cap, a self-trade, a position beyond the statements' bound, a margin
override of a tiered instrument and a withdrawal from a ``CH:`` account; account opening and deposits; variation
margin; funding with its clamp and floor rounding; novation and netting with fees; dated-future expiry; linear and
tiered requirements; the liquidation pass in rounds — the smallest restoring close-out handed to a liquidator, the
backstop or ADL at the mark, a bankruptcy covered by the insurance fund, its residue by ADL at the bankruptcy price
or by socialized loss, the backstop's top-up, deleveraging, bankruptcy and returned surplus; the users' withdrawals
and the operator's fund withdrawals.

Each rule cites the sentence of the documentation it follows; where the documentation said too little to write it,
the documentation was made precise (session 15), not this model fitted to the engine.
``test_reference_clearing_s15.py`` runs it against ``zkclear.clearing.engine.apply_epoch``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

PPM = 1_000_000
AMOUNT_BOUND = 2**62 - 1
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
    deficit_resolution: str = "adl"  # or "socialized_loss"
    allow_self_trade: bool = False
    position_bits: int = 32  # proving.toml: every position within ±(2^(bits − 1) − 1) lots

    @property
    def max_position(self) -> int:
        return (1 << (self.position_bits - 1)) - 1
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
    residue: int = 0
    resolution: str = ""


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
    adl: list[tuple[str, str, str, int, int]]  # (bankrupt, counterparty, instrument, lots, cash)
    socialized: list[tuple[list[tuple[str, int]], int, list[tuple[str, int]]]]  # per round: residues, fund, charges


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
    """The refusals this model knows, in the documented order: a self-trade (unless allowed), a margin override of a
    tiered instrument, a withdrawal from a ``CH:`` account, then a fill outside its price band or with a fee above
    the cap (the first bad record of each stage and file)."""
    # Step 1, file by file: the fills' record checks, the margin overrides, the transfers.
    for index, f in enumerate(inputs.fills):
        if f.buyer == f.seller and not config.allow_self_trade:
            raise Refused("fills", index, ("seller",))
    tiered = {i.instrument_id for i in config.instruments if i.tiered}
    for index, instrument in enumerate(inputs.margin_overrides):  # its tiers set the requirement, not fractions
        if instrument in tiered:
            raise Refused("margins", index, ("instrument",))
    for index, (_, kind, account, _) in enumerate(inputs.transfers):
        if kind == "withdrawal" and account.startswith("CH:"):
            raise Refused("transfers", index, ("account",))
    for index, f in enumerate(inputs.fills):  # step 5: the fills against the marks
        _check_fill(config, state, inputs, index, f)


def _check_positions(config: Config, start: dict[str, dict[str, int]], fills: tuple[FillRecord, ...],
                     netted: dict[str, dict[str, int]]) -> None:
    """"Provable by construction": a position beyond the statements' bound after netting and expiry (``netted``)
    is refused on the fill after which the account's running position (from its start of epoch, in input order)
    last crossed it, field ``size``; of several, the first account in id order, its first such instrument in
    configuration order."""
    running = {a: dict(p) for a, p in start.items()}
    crossed: dict[tuple[str, str], int] = {}
    for index, f in enumerate(fills):
        for account in {f.buyer, f.seller}:  # a self-trade nets to nothing
            lots = (f.size if account == f.buyer else 0) - (f.size if account == f.seller else 0)
            before = running[account][f.instrument]
            running[account][f.instrument] = after = before + lots
            if abs(before) <= config.max_position < abs(after):
                crossed[account, f.instrument] = index
    for account in sorted(netted):
        for instrument in config.instruments:
            if abs(netted[account][instrument.instrument_id]) > config.max_position:
                raise Refused("fills", crossed[account, instrument.instrument_id], ("size",))


# -- the epoch ("An epoch, step by step") ------------------------------------------------------------------------

def apply_epoch(state: State, inputs: Inputs, config: Config) -> tuple[State, Report]:
    """The next state and the epoch's report, or :class:`Refused`; ``state`` is left as it was."""
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
    _check_positions(config, start_positions, inputs.fills, new.positions)

    # 7. Margin and liquidation.
    overrides = inputs.margin_overrides
    liquidation = LiquidationPass(config, new, marks, overrides, dict(state.settlement_prices))
    liquidation.run()

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
                    actions, liquidation.events, liquidation.topups, liquidation.adl, liquidation.socialized)
    return new, report


# -- liquidation ("Liquidation") -----------------------------------------------------------------------------------

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


def allocate_pro_rata(total: int, weights: list[int]) -> list[int]:
    """``⌊total · w_k / W⌋`` each, then the leftover units one each to the largest remainders, ties to the earlier
    entry."""
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda k: (-(total * weights[k] % whole), k))
    for k in order[:total - sum(shares)]:
        shares[k] += 1
    return shares


@dataclass
class LiquidationPass:
    """Step 7 on a state whose positions are marked: ``run`` liquidates until no account is below maintenance."""

    config: Config
    state: State
    marks: dict[str, int]
    overrides: dict[str, tuple[int, int]]
    previous: dict[str, int] = field(default_factory=dict)  # the previous settlement prices (0: never marked)
    events: list[Liquidation] = field(default_factory=list)
    topups: list[int] = field(default_factory=list)
    adl: list[tuple[str, str, str, int, int]] = field(default_factory=list)  # bankrupt, counterparty, instr, lots, cash
    socialized: list[tuple[list[tuple[str, int]], int, list[tuple[str, int]]]] = field(default_factory=list)
    unsocialized: list[tuple[str, int]] = field(default_factory=list)  # the round's residues, not paid yet

    def maintenance(self, positions: dict[str, int]) -> int:
        return requirement(self.config, positions, self.marks, "maintenance", self.overrides)

    def target(self, positions: dict[str, int]) -> int:
        """``⌈MM · (PPM + buffer_ppm) / PPM⌉``."""
        return ceil_div(self.maintenance(positions) * (PPM + self.config.buffer_ppm), PPM)

    def candidates(self) -> list[str]:
        """Accounts with ``equity < maintenance`` (not the fund or the fee account), id order, the backstop last."""
        cash, positions = self.state.cash, self.state.positions
        below = [a for a in sorted(cash) if a not in (INSURANCE_FUND, FEE_ACCOUNT)
                 and cash[a] < self.maintenance(positions[a])]
        return [a for a in below if a != BACKSTOP] + [a for a in below if a == BACKSTOP]

    def run(self) -> None:
        """In rounds until no account is below maintenance: each round takes the accounts below it at its start, in
        id order with the backstop last (an ADL or a socialized loss can push another account under: the next round
        re-checks); the residues its candidates left to socialized loss are paid when its last candidate is done; each
        round begins by returning the backstop's surplus to the insurance fund."""
        while True:
            self.return_surplus()
            if not (candidates := self.candidates()):
                return
            for account in candidates:
                if self.state.cash[account] >= self.maintenance(self.state.positions[account]):
                    continue  # restored since the round began (an ADL closed its positions, say)
                if account == BACKSTOP:
                    self.backstop()
                elif self.state.cash[account] < 0:
                    self.bankrupt(account)
                else:
                    self.close_out(account)
            self.socialize_round()

    def return_surplus(self) -> None:
        """At each round's start, backstop cash above its target goes to the insurance fund (as much as the fund
        holds short of the amount bound), before any deficit of the round is covered."""
        surplus = self.state.cash[BACKSTOP] - self.target(self.state.positions[BACKSTOP])
        surplus = min(surplus, AMOUNT_BOUND - self.state.cash[INSURANCE_FUND])  # "as much as the fund holds short of"
        if surplus > 0:
            self.pay(BACKSTOP, INSURANCE_FUND, surplus)
            self.topups.append(-surplus)

    def pay(self, payer: str, payee: str, amount: int) -> None:
        self.state.cash[payer] -= amount
        self.state.cash[payee] += amount

    def close_out(self, account: str) -> None:
        """``0 ≤ E < MM``: the smallest fraction of every position whose close-out leaves ``E − penalty ≥
        target(after)``, penalty ``min(⌈closed notional · penalty_ppm / PPM⌉, E)`` to the insurance fund; the lots
        move at the mark to a liquidator or the backstop."""
        equity, held = self.state.cash[account], self.state.positions[account]
        multiplier = {i.instrument_id: i.multiplier for i in self.config.instruments}
        for fraction in _fractions(held):
            closed = _closed(held, fraction)
            value = sum(abs(c) * self.marks[i] * multiplier[i] for i, c in closed.items())
            penalty = min(ceil_div(value * self.config.penalty_ppm, PPM), equity)
            if equity - penalty >= self.target({i: q - closed.get(i, 0) for i, q in held.items()}):
                break
        whole = all(c == held[i] for i, c in closed.items())
        receiver = self.receiver(account, closed)
        penalty = min(penalty, AMOUNT_BOUND - self.state.cash[INSURANCE_FUND])  # "at most what it holds short of"
        self.pay(account, INSURANCE_FUND, penalty)
        self.move(account, receiver, closed)
        self.events.append(Liquidation(account, "full" if whole else "partial", closed, receiver, penalty))

    def bankrupt(self, account: str) -> None:
        """``E < 0``: the fund pays ``min(−E, fund)``; covered, the positions move at the mark to a liquidator or the
        backstop; a residue goes to ADL at the bankruptcy price, or (socialized loss, or no position left) to every
        other account with positive equity, pro rata to it, and the positions then move at the mark."""
        equity, held = self.state.cash[account], self.state.positions[account]
        paid = min(-equity, self.state.cash[INSURANCE_FUND])
        self.pay(INSURANCE_FUND, account, paid)
        residue = -equity - paid
        closed = {i: q for i, q in held.items() if q}
        if residue and self.config.deficit_resolution == "adl" and closed:
            self.deleverage_at_bankruptcy(account, closed, residue)
            receiver, resolution = "ADL", "adl"
        else:
            if residue:
                self.socialize(account, residue)
            # an account left only a loss (on an expired future, say) hands nothing over: no receiver
            receiver = self.receiver(account, closed) if closed else ""
            self.move(account, receiver, closed)
            resolution = "socialized_loss" if residue else ""
        self.events.append(Liquidation(account, "bankrupt", closed, receiver, 0, -equity, paid, residue, resolution))

    def deleverage_at_bankruptcy(self, account: str, closed: dict[str, int], residue: int) -> None:
        """ADL at the bankruptcy price, the counterparties paying per lot they take at most ``M · m``, or ``max(M,
        S − M) · m`` for a long lot (``S`` the previous settlement price): the bankruptcy price within ``[0,
        max(2M, S)]``; the residue split over instruments pro rata to those caps, the rest socialized (session
        16)."""
        multiplier = {i.instrument_id: i.multiplier for i in self.config.instruments}
        caps = {i: abs(q) * multiplier[i] * (max(self.marks[i], self.previous.get(i, 0) - self.marks[i]) if q > 0
                                             else self.marks[i])
                for i, q in closed.items()}
        carried = min(residue, sum(caps.values()))
        self.deleverage(account, closed, carried, caps)
        if residue > carried:
            self.socialize(account, residue - carried)

    def socialize(self, account: str, residue: int) -> None:
        """A residue left to socialized loss "is not paid at once: the bankrupt account stays at equity ``−R`` while the
        round goes on"."""
        self.unsocialized.append((account, residue))

    def socialize_round(self) -> None:
        """"When the round's last candidate is done [...] each bankrupt account receives exactly its residue: of their
        sum ``R_round``, the insurance fund first pays what it holds, as far as it goes [...] and the rest is charged
        once to every account with positive equity but the insurance fund and the round's bankrupt accounts [...], pro
        rata to that equity as it stands then"; split "in id order of the payers"; the record: "``residues`` [...] in
        the order they arose in the round [...], ``insurance_paid`` [...] and ``charges`` [...] of the accounts charged
        a non-zero amount, in id order"."""
        residues, self.unsocialized = self.unsocialized, []
        if not residues:
            return
        total = sum(r for _, r in residues)
        paid = min(total, self.state.cash[INSURANCE_FUND])  # "the insurance fund first, as far as it goes"
        self.state.cash[INSURANCE_FUND] -= paid
        bankrupts = {account for account, _ in residues}
        payers = [a for a in sorted(self.state.cash)
                  if a != INSURANCE_FUND and a not in bankrupts and self.state.cash[a] > 0]
        shares = allocate_pro_rata(total - paid, [self.state.cash[a] for a in payers]) if total > paid else []
        charges = [(payer, share) for payer, share in zip(payers, shares or [0] * len(payers), strict=True) if share]
        for payer, share in charges:
            self.state.cash[payer] -= share
        for account, residue in residues:
            self.state.cash[account] += residue
        self.socialized.append((residues, paid, charges))

    def rank(self, exclude: str) -> list[str]:
        """ADL rank: highest score first, ties by id, the backstop after every user."""
        multiplier = {i.instrument_id: i.multiplier for i in self.config.instruments}

        def score(a: str) -> Fraction:
            equity, deposits = self.state.cash[a], self.state.net_deposits[a]
            notional = sum(abs(q) * self.marks[i] * multiplier[i] for i, q in self.state.positions[a].items() if q)
            profit_share = Fraction(min(equity - deposits, equity), max(equity, deposits, 1))
            leverage = Fraction(notional, max(equity, 1))
            return profit_share * leverage if profit_share > 0 else profit_share / leverage

        holders = [a for a in self.state.positions if a != exclude and any(self.state.positions[a].values())]
        return sorted(holders, key=lambda a: (a == BACKSTOP, -score(a), a))

    def deleverage(self, account: str, closed: dict[str, int], residue: int,
                   weights: dict[str, int] | None = None) -> None:
        """Close ``closed`` against opposite-side accounts in ADL rank order, instrument by instrument in
        configuration order, the rank taken at each instrument's turn; ``residue`` is split over the instruments pro
        rata to ``weights`` (closed notional when None), then over an instrument's counterparties pro rata to the
        lots each takes (rank order), and each pays its share to ``account``."""
        instruments = [i for i in self.config.instruments if closed.get(i.instrument_id)]
        if weights is None:
            weights = {i.instrument_id: abs(closed[i.instrument_id]) * self.marks[i.instrument_id] * i.multiplier
                       for i in instruments}
        by_instrument = allocate_pro_rata(residue, [weights[i.instrument_id] for i in instruments])
        for instrument, share in zip(instruments, by_instrument, strict=True):
            column, lots = instrument.instrument_id, closed[instrument.instrument_id]
            takers = []
            for counterparty in self.rank(account):  # ranked when the instrument's turn comes
                held = self.state.positions[counterparty][column]
                if held * lots < 0 and sum(t for _, t in takers) < abs(lots):
                    takers.append((counterparty, min(abs(held), abs(lots) - sum(t for _, t in takers))))
            payments = allocate_pro_rata(share, [t for _, t in takers]) if share else [0] * len(takers)
            for (counterparty, taken), payment in zip(takers, payments, strict=True):
                sign = 1 if lots > 0 else -1
                self.state.positions[counterparty][column] += sign * taken
                self.state.positions[account][column] -= sign * taken
                self.pay(counterparty, account, payment)
                self.adl.append((account, counterparty, column, taken, payment))

    def backstop(self) -> None:
        """The fund tops the backstop up towards its target; still below maintenance, it is deleveraged against
        opposite-side accounts in ADL rank order at the mark, by the smallest fraction meeting the target (no
        penalty); at negative equity its deficit goes to ADL at the bankruptcy price (or socialized loss, then
        deleveraging at the mark)."""
        held = self.state.positions[BACKSTOP]
        equity_before, maintenance = self.state.cash[BACKSTOP], self.maintenance(held)
        amount = min(self.state.cash[INSURANCE_FUND], self.target(held) - equity_before)
        if amount > 0:
            self.pay(INSURANCE_FUND, BACKSTOP, amount)
            self.topups.append(amount)
        equity = self.state.cash[BACKSTOP]
        if equity >= maintenance:
            return
        if equity < 0:
            closed, residue = {i: q for i, q in held.items() if q}, -equity
            if self.config.deficit_resolution == "adl" and closed:
                self.deleverage_at_bankruptcy(BACKSTOP, closed, residue)
                resolution = "adl"
            else:
                self.socialize(BACKSTOP, residue)
                self.deleverage(BACKSTOP, closed, 0)
                resolution = "socialized_loss"
            # receiver "ADL" even when it held nothing (unlike a user's bankruptcy: docs/clearing.md)
            self.events.append(Liquidation(BACKSTOP, "bankrupt", closed, "ADL", 0, -equity_before,
                                           max(amount, 0), residue, resolution))
            return
        for fraction in _fractions(held):
            closed = _closed(held, fraction)
            if equity >= self.target({i: q - closed.get(i, 0) for i, q in held.items()}):
                break
        self.deleverage(BACKSTOP, closed, 0)
        self.events.append(Liquidation(BACKSTOP, "backstop_deleverage", closed, "ADL", 0))

    def move(self, giver: str, receiver: str, lots: dict[str, int]) -> None:
        """Lots change hands at the mark: no cash moves (every position is already marked to it)."""
        if receiver == "ADL":
            self.deleverage(giver, lots, 0)
            return
        for i, c in lots.items():
            self.state.positions[giver][i] -= c
            self.state.positions[receiver][i] += c

    def receiver(self, account: str, closed: dict[str, int]) -> str:
        """The first opted-in liquidator (id order, not the account) whose equity covers its initial requirement
        with the lots and whose positions stay within the statements' bound, else the backstop if its do, else
        ``"ADL"`` (closed against opposite-side accounts at the mark)."""
        def within(taken: dict[str, int]) -> bool:
            return all(abs(q) <= self.config.max_position for q in taken.values())

        for liquidator in sorted(self.config.liquidators):
            if liquidator == account or liquidator not in self.state.cash:
                continue
            taken = {i: q + closed.get(i, 0) for i, q in self.state.positions[liquidator].items()}
            if (self.state.cash[liquidator] >= requirement(self.config, taken, self.marks, "initial", self.overrides)
                    and within(taken)):
                return liquidator
        if within({i: q + closed.get(i, 0) for i, q in self.state.positions[BACKSTOP].items()}):
            return BACKSTOP
        return "ADL"
