"""Red team session 14: the clearing engine's margin model against what the collateralization statements prove.

Findings pinned here:

1. A portfolio account that loses in *every* scenario of a group (a short straddle on a grid without an unmoved
   scenario) has a worst loss ``z_g`` far above its spread ``z_g − loss_s``. The engine checked only the spread
   (``provable.StatementBounds``), so it committed an epoch whose ``scenario_worst[g]: z_g ∈ [0, 2^64)`` no prover
   could satisfy, and the deployment's proof chain stopped for good. It is now refused on the fill.
2. A listing with no margin line at all (a tiered instrument whose tiers are all at rate 0, which the configuration
   accepts) makes the statement's ``maintenance`` form ``E − 0`` the ``equity`` form, and the constraint system
   merges them. The participant's figures (``CollateralChunks.account_margin``, what ``zkclear verify`` and the page
   print) looked the ``maintenance`` constraint up by name and ended in a ``StopIteration`` traceback; the
   statement now carries its requirement form.
3. With collateral assets an account's settlement liability is ``max(cash + Σ v·q, 0)``: a debt secured by
   collateral is not netted, so the tree sums the settlement balances plus the debts. The engine bounded the
   balances' sum (deposits) by ``2^64 − 1`` only, and committed epochs whose settlement liabilities no tree node or
   solvency proof (reserves below 2^64) can hold. Refused now, on the last settlement deposit or the debtor's fill.

Pinned as documented, not changed: the standard statement rounds the sum of the requirements up, the engine each
position's (docs/protocol.md, "Rounding, stated plainly"), so with ``D > 1`` an account up to ``held − 1`` units
below the engine's requirement proves.
"""

from __future__ import annotations

import pytest

from circuits.account_statement import account_statement
from circuits.public_data import AccountWitness, PublicRiskData
from provers.collateral import assign_account, prove_collateral_batch
from tests.clearing.clearing_helpers import config, deposit, epoch_inputs, fill, perp_spec
from tests.clearing.collateral_helpers import BTC, PERP, deposit_asset, multi_config
from zkclear.clearing.engine import apply_epoch, option_equity_values, risk_parameters
from zkclear.clearing.inputs import AccountOpen, EpochInputs, Fill, Fills, ImpliedVol, MarkPrice, Transfer
from zkclear.clearing.io import parse_config
from zkclear.clearing.margin import MarginLevel, account_requirement
from zkclear.clearing.options import engine_option_mark
from zkclear.clearing.provable import StatementBounds, StatementLimits
from zkclear.clearing.state import EpochState
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import InputError, ProvingError
from zkclear.proofs.chunks import CollateralChunks

FORWARD = 60_000
VOL = 500_000
#: BTC in whole USD ticks, 0.001 BTC lots, USDC in 10^-6 (1,000 units per lot per tick); a scenario grid of two moves
#: (-16 %, +16 %), one volatility, no extreme pair, at scale 10^6 (every scenario counted at weight 10^6).
STRADDLE_CONFIG = """
genesis_timestamp = 1700000000
epoch_seconds = 86400
liquidators = ["LIQ"]

[portfolio_margin]
price_steps = 2
volatility_shifts_ppm = [0]
extreme_multiple = 0
scale = 1000000

[[instrument]]
id = "BTC-PERP"
kind = "perpetual"
underlying = "BTC"
tick_size = 1
lot_size = 1
contract_multiplier = 1000
initial_margin_ppm = 100000
maintenance_margin_ppm = 50000
""" + "".join(f"""
[[instrument]]
id = "BTC-{kind[0].upper()}"
kind = "option"
underlying = "BTC-PERP"
option_type = "{kind}"
strike = {FORWARD}
expiry_epoch = 30
tick_size = 1
lot_size = 1
contract_multiplier = 1000
initial_margin_ppm = 150000
maintenance_margin_ppm = 100000
""" for kind in ("put", "call"))


def _straddle_epoch(lots: int) -> tuple:
    """Epoch 1: the portfolio account A sells ``lots`` at-the-money puts and calls at their marks to the standard
    account B; both deposit 2^61."""
    cfg = parse_config(STRADDLE_CONFIG, path="zkclear.toml")
    marks = {spec.instrument_id: engine_option_mark(spec, FORWARD, VOL, cfg.valuation_timestamp(30),
                                                    cfg.valuation_timestamp(1)) for spec in cfg.instruments[1:]}
    fills = [Fill(f"f{k}", "B", "A", instrument, lots, mark, 0, 0)
             for k, (instrument, mark) in enumerate(marks.items())]
    inputs = EpochInputs(1, Fills.from_records(fills), marks=(MarkPrice("BTC-PERP", FORWARD, 0),),
                         transfers=(Transfer("dA", "deposit", "A", 2**61), Transfer("dB", "deposit", "B", 2**61)),
                         opens=(AccountOpen("A", "portfolio"), AccountOpen("B", "standard")),
                         implied_vols=tuple(ImpliedVol(instrument, VOL) for instrument in marks))
    return cfg, inputs


def _prove_all(cfg, state, report) -> None:
    public = PublicRiskData.from_epoch(report.risk, cfg.risk_models, scenario_table=report.risk.scenario_table,
                                       equity_values=option_equity_values(cfg, report.risk))
    for account, mode, cash, row, balances in zip(state.accounts, state.margin_modes, state.cash.tolist(),
                                                  state.positions.tolist(), state.asset_balances.tolist(), strict=True):
        assign_account(account, AccountWitness(int(cash), tuple(row), mode, tuple(balances)), public)


def test_a_book_losing_in_every_scenario_is_refused_when_its_worst_loss_reaches_2_64() -> None:
    cfg, inputs = _straddle_epoch(4_000_000)
    state, report = apply_epoch(EpochState.genesis(cfg), inputs, cfg)
    table = report.risk.scenario_table
    row = state.positions[state.row("A")].tolist()
    losses = [-sum(q * table.value_changes[j][s] for j, q in enumerate(row)) for s in range(len(table.scenarios))]
    assert min(losses) > 0, "the short straddle loses in both scenarios"
    assert max(losses) - min(losses) < 2**62  # the spread the engine checked is far from the bound...
    assert max(losses) // 4_000_000 * 4_500_000 >= 2**64  # ...the worst loss is not: 4,500,000 lots pass 2^64
    _prove_all(cfg, state, report)  # 4,000,000 lots: committed and provable

    cfg, inputs = _straddle_epoch(4_500_000)
    with pytest.raises(InputError, match=r"^<memory:fills>:2: field 'size': account 'A' in 'BTC-C': its worst "
                                         r"scenario loss \(\d+, 1/1000000 units\) reaches 2\^64"):
        apply_epoch(EpochState.genesis(cfg), inputs, cfg)


def test_the_worst_loss_bound_is_the_statements_own() -> None:
    """What the engine now refuses the statement refuses too: ``scenario_worst[g]`` is out of its range."""
    cfg, inputs = _straddle_epoch(4_000_000)
    _, report = apply_epoch(EpochState.genesis(cfg), inputs, cfg)
    public = PublicRiskData.from_epoch(report.risk, cfg.risk_models, scenario_table=report.risk.scenario_table,
                                       equity_values=option_equity_values(cfg, report.risk))
    bounds = StatementBounds(report.risk, cfg.risk_models, StatementLimits(32))
    short = (0, -4_500_000, -4_500_000)
    breach = bounds.account_breach(list(short), "portfolio")
    assert breach is not None and "worst scenario loss" in breach.message
    with pytest.raises(ProvingError, match=r"scenario_worst\[0\]"):
        assign_account("A", AccountWitness(2**61, short, "portfolio"), public)


ZERO_TIERS_CONFIG = """
genesis_timestamp = 1700000000
epoch_seconds = 86400

[[instrument]]
id = "BTC-PERP"
kind = "perpetual"
tick_size = 1
lot_size = 1
contract_multiplier = 10
initial_margin_ppm = 100000
maintenance_margin_ppm = 50000
margin_model = "tiered"
maintenance_tiers = [{notional_bound = 1000000, rate_ppm = 0, deduction = 0}]
initial_tiers = [{notional_bound = 1000000, rate_ppm = 0, deduction = 0}]
"""


def test_a_listing_without_margin_lines_shows_the_participant_a_zero_requirement() -> None:
    cfg = parse_config(ZERO_TIERS_CONFIG, path="zkclear.toml")
    public = PublicRiskData.from_epoch(risk_parameters(cfg, 1, (30_000,)), cfg.risk_models)
    statement = account_statement(public, "standard")
    assert [c.name for c in statement.statement.constraints] == ["position[0]", "equity"]  # maintenance merged
    _, _, openings = prove_collateral_batch([AccountWitness(5, (-3,))], public, b"s14", BlindingSource.random())
    assert CollateralChunks().account_margin(openings[0], public) == (5, 0)


def test_with_d_above_one_the_proof_holds_the_account_to_the_exact_sum_not_the_engines_rounded_sum() -> None:
    cfg = config(perp_spec(instrument_id="A-PERP"), perp_spec(instrument_id="B-PERP"))  # multiplier 10, MM 5 %
    risk = risk_parameters(cfg, 1, (2_999, 3_001))  # 1,499.5 and 1,500.5 per lot
    public = PublicRiskData.from_epoch(risk, cfg.risk_models)
    assert public.scale == 2
    positions = (1, 1)
    assert account_requirement(positions, risk, cfg.risk_models, MarginLevel.MAINTENANCE) == 1_500 + 1_501
    statement = account_statement(public, "standard")
    assert not statement.statement.violations(statement.assign(AccountWitness(3_000, positions)))  # one below
    assert statement.statement.violations(statement.assign(AccountWitness(2_999, positions)))


# -- 3. settlement liabilities with collateral assets ---------------------------------------------------------------

FULL = 2**62 - 1  # the largest settlement balance; four of them are 2^64 − 4, the most all accounts may hold


def _settlement_liabilities(cfg, state, report) -> int:
    public = PublicRiskData.from_epoch(report.risk, cfg.risk_models,
                                       equity_values=option_equity_values(cfg, report.risk))
    chunks = CollateralChunks()
    return sum(chunks.witness_liabilities(AccountWitness(int(cash), tuple(row), mode, tuple(balances)), public)[0]
               for cash, row, mode, balances in zip(state.cash.tolist(), state.positions.tolist(), state.margin_modes,
                                                    state.asset_balances.tolist(), strict=True))


def _borrowing_epoch(epoch: int, fee: int, deposits: tuple[int, ...] = ()) -> EpochInputs:
    """E (10 BTC of collateral, no settlement balance) buys one lot from A paying ``fee``: E's settlement balance is
    ``−fee``, secured by its BTC, and the fee account holds ``fee``."""
    transfers = [deposit(account, amount) for account, amount in zip("ABCD", deposits, strict=False)]
    if epoch == 1:
        transfers.append(deposit_asset("E", 10 * BTC, "BTC"))
    return epoch_inputs(epoch, {PERP: 60_000}, opens=list("ABCDE") if epoch == 1 else [], transfers=transfers,
                        fills=[fill(f"f{epoch}", "E", "A", 1, 60_000, PERP, buyer_fee=fee)] if fee else [])


def test_settlement_debts_secured_by_collateral_count_in_the_liabilities_bound() -> None:
    """The tree sums ``max(cash, 0)`` per account with collateral assets, so the balances plus the debts; the deposit
    check bounded the balances only. Four full balances (2^64 − 4) and a debt of 1,000 committed an epoch whose
    settlement liabilities, 2^64 + 996, no tree or solvency proof can hold (reserves are below 2^64)."""
    cfg = multi_config()
    with pytest.raises(InputError, match=r"^<memory:transfers>: field 'amount': the settlement liabilities of all "
                                         r"accounts would total 18446744073709552612, past 2\^64 − 1"):
        apply_epoch(EpochState.genesis(cfg), _borrowing_epoch(1, 1_000, (FULL,) * 4), cfg)
    # 1,000 below: within the bound, committed, and the liabilities are the bound exactly
    state, report = apply_epoch(EpochState.genesis(cfg), _borrowing_epoch(1, 1_000, (FULL,) * 3 + (FULL - 997,)), cfg)
    assert state.cash_of("E") == -1_000
    assert _settlement_liabilities(cfg, state, report) == 2**64 - 1
    _prove_all(cfg, state, report)


def test_a_debt_that_takes_the_liabilities_past_the_bound_is_refused_on_the_fill() -> None:
    cfg = multi_config()
    state, _ = apply_epoch(EpochState.genesis(cfg), _borrowing_epoch(1, 0, (FULL,) * 4), cfg)
    with pytest.raises(InputError, match=r"^<memory:fills>:1: field 'size': account 'E' in 'BTC-PERP': the "
                                         r"settlement liabilities of all accounts would total \d+, past 2\^64 − 1"):
        apply_epoch(state, _borrowing_epoch(2, 4), cfg)
    state, report = apply_epoch(state, _borrowing_epoch(2, 3), cfg)  # 2^64 − 4 + 3: within
    assert _settlement_liabilities(cfg, state, report) == 2**64 - 1


def test_a_price_move_that_puts_a_collateralized_account_in_debt_is_refused_on_the_mark() -> None:
    """No deposit and no fill this epoch: E (0.1 BTC, long 1,000 lots) loses 4,000 ticks a lot in variation margin,
    which its BTC still covers; its debt alone takes the settlement liabilities past the bound."""
    cfg = multi_config()
    margin = 4 * 10**9
    transfers = [*(deposit(account, FULL) for account in "BCD"), deposit("H", FULL - margin), deposit("G", margin),
                 deposit_asset("E", BTC // 10, "BTC")]
    state, _ = apply_epoch(EpochState.genesis(cfg), epoch_inputs(
        1, {PERP: 60_000}, opens=list("BCDEGH"), transfers=transfers, fills=[fill("f1", "E", "G", 1_000, 60_000)]),
        cfg)
    with pytest.raises(InputError, match=r"^<memory:prices>: field 'mark_price': at this mark, account 'E' in "
                                         r"'BTC-PERP': the settlement liabilities of all accounts would total"):
        apply_epoch(state, epoch_inputs(2, {PERP: 56_000}), cfg)
