"""Red team, session 12: the clearing engine's economics attacked through ``apply_epoch`` as an adversarial trader
or a hostile input feed would. Each ``test_held_...`` pins an attack the engine already refuses (or absorbs
correctly) with its precise outcome; the others pin a defect found and fixed in this session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clearing.options_helpers import csv, write_files
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.io import load_config, load_epoch
from zkclear.clearing.state import EpochState
from zkclear.errors import InputError

#: A premium-style call struck at 200,000,000 ticks expiring in epoch 1, multiplier 1.
PREMIUM_WIDE = """\
option_settlement = "premium"
genesis_timestamp = 1700000000
epoch_seconds = 86400

[[instrument]]
id = "P"
kind = "perpetual"
underlying = "X"
tick_size = 1
lot_size = 1
contract_multiplier = 1
initial_margin_ppm = 100000
maintenance_margin_ppm = 50000

[[instrument]]
id = "C"
kind = "option"
underlying = "P"
option_type = "call"
strike = 200000000
expiry_epoch = 1
tick_size = 1
lot_size = 1
contract_multiplier = 1
initial_margin_ppm = 150000
maintenance_margin_ppm = 100000
"""

FILLS_HEADER = "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee"


def _premium_epoch(root: Path, fills: tuple[str, ...], underlying_mark: int):
    config = load_config(write_files(root, {"zkclear.toml": PREMIUM_WIDE}) / "zkclear.toml")
    files = {"prices.csv": csv("instrument,mark_price,funding_rate_ppm", f"P,{underlying_mark},0"),
             "fills.csv": csv(FILLS_HEADER, *fills),
             "vols.csv": csv("instrument,implied_vol_ppm", "C,500000"),
             "accounts.csv": csv("account,margin_mode", "A,standard", "B,standard"),
             "transfers.csv": csv("transfer_id,kind,account,amount", "d1,deposit,A,1000000000",
                                  "d2,deposit,B,1000000000")}
    return config, load_epoch(write_files(root / "1", files), 1, config)


def test_a_premium_option_payoff_beyond_the_amount_bound_is_refused_not_wrapped(tmp_path):
    """The call expires in epoch 1 with intrinsic value I = 2^24 + 1 ticks (underlying 200,000,000 + I). A buys
    q = ceil(2^64 / I) = 1,099,511,562,241 calls from B at 1 tick in five fills — each fill's value size x
    max(price, mark) x 1 is below 2^62, the price is within the band (10 % of the underlying), and the
    expiring positions are closed before the notional bound is checked. A's payoff q * I = 2^64 + 16,711,681
    units is beyond every bound; before the fix the int64 product wrapped to 16,711,681 (B paid that instead of
    2^64 and the epoch committed). Now the epoch is refused on a fill of A in C, nothing applied."""
    intrinsic = 2**24 + 1
    total = -(-(2**64) // intrinsic)
    sizes = [total // 5] * 4 + [total - 4 * (total // 5)]
    assert all(size * intrinsic <= 2**62 - 1 for size in sizes)
    fills = tuple(f"f{k},A,B,C,{size},1,0,0" for k, size in enumerate(sizes))
    config, inputs = _premium_epoch(tmp_path, fills, 200_000_000 + intrinsic)
    with pytest.raises(InputError, match="account 'A' in 'C': the payoff at expiry exceeds the amount bound") as error:
        apply_epoch(EpochState.genesis(config), inputs, config)
    assert (error.value.field, Path(error.value.path).name) == ("size", "fills.csv")


def test_tier_tables_whose_initial_requirement_falls_below_maintenance_are_refused_at_configuration():
    """Maintenance tiers 5 % up to 100,000 then 10 % (deduction 5,000), initial tiers a flat 6 %: each table is
    convex and continuous, but above 200,000 of notional the initial requirement is below the maintenance one.
    Before the fix the configuration was accepted, and A (long 100 lots at 1,000: notional 1,000,000, MM 95,000,
    IM 60,000, equity 200,000) withdrawing 140,000 passed the withdrawal check (60,000 >= IM) and stopped the
    epoch with the invariant's ClearingError "left below maintenance" — a withdrawal request that no epoch could
    commit. Now the table pair is a ConfigurationError; a pair that covers maintenance everywhere is accepted."""
    from tests.clearing.clearing_helpers import config, perp_spec
    from zkclear.clearing.instruments import MarginTier
    from zkclear.errors import ConfigurationError

    maintenance = (MarginTier(100_000, 50_000, 0), MarginTier(10**12, 100_000, 5_000))
    with pytest.raises(ConfigurationError, match="initial_tiers must require at least maintenance_tiers at every "
                                                 r"notional \(at 1000000000000 "):
        config(perp_spec(margin_model="tiered", maintenance_tiers=maintenance,
                         initial_tiers=(MarginTier(10**12, 60_000, 0),)))
    # At every bound the initial requirement is higher (at 10^12: 299,999,000,000 against 299,997,000,000), but
    # its rate is lower, so above 3 * 10^12 of notional it falls below.
    with pytest.raises(ConfigurationError, match=r"\(above 1000000000000 the initial rate is below"):
        config(perp_spec(margin_model="tiered",
                         maintenance_tiers=(MarginTier(10**7, 0, 0), MarginTier(10**12, 300_000, 3_000_000)),
                         initial_tiers=(MarginTier(10**12, 299_999, 0),)))
    accepted = config(perp_spec(margin_model="tiered", maintenance_tiers=maintenance,
                                initial_tiers=(MarginTier(100_000, 100_000, 0), MarginTier(10**12, 200_000, 10_000))))
    assert accepted.instruments[0].initial_tiers[1].rate_ppm == 200_000


def test_two_valid_fills_are_not_refused_together_for_a_value_neither_has():
    """Multiplier 1; the previous settlement price is 2^40 ticks and the epoch marks 2^39 (a crash: the band spans
    both). f1: A buys 2^22 lots at 2^39 (value 2^61); f2: B buys 1 lot at 2^40 (value 2^40). Each fill's value
    ``size x max(price, mark) x multiplier`` is within 2^62 - 1 and each alone commits. Before the fix the netting
    bounded ``largest size x largest price`` per instrument — 2^22 x 2^40 = 2^62, a value no fill has — and refused
    the pair with a ClearingError that named no record. Now they commit together: A long 2^22 - 1 lots, the legs
    settled at the mark (f2's buyer B pays 2^39 over the mark to A)."""
    from tests.clearing.clearing_helpers import PERP, config, deposit, epoch_inputs, fill, perp_spec, run

    cfg = config(perp_spec(contract_multiplier=1))
    state, _ = run(cfg, epoch_inputs(1, {PERP: 2**40}, [], [deposit("A", 2**61), deposit("B", 2**61)], ["A", "B"]))
    state, (report,) = run(cfg, epoch_inputs(2, {PERP: 2**39}, [fill("f1", "A", "B", 2**22, 2**39),
                                                                 fill("f2", "B", "A", 1, 2**40)]), state=state)
    assert (state.position_of("A", PERP), state.position_of("B", PERP)) == (2**22 - 1, -(2**22 - 1))
    settlement = dict(zip(report.accounts, report.settlement.tolist(), strict=True))
    assert (settlement["A"], settlement["B"]) == (2**39, -(2**39))


#: One perpetual whose lot is worth 40,000 x 2^32 = 171,798,691,840,000 units (about the most a 10 % initial
#: fraction lets the statements prove: the margin line's coefficient must stay below 2^64), funding clamp 100 %.
BIG_LOT = """\
funding_clamp_ppm = 1000000

[[instrument]]
id = "P"
kind = "perpetual"
tick_size = 1
lot_size = 1
contract_multiplier = 4294967296
initial_margin_ppm = 100000
maintenance_margin_ppm = 50000
"""


def test_a_funding_index_beyond_what_the_public_inputs_carry_is_refused_on_the_funding_rate(tmp_path):
    """The funding index moves by ``rate x mark x multiplier`` each epoch and the next epoch's public inputs carry it
    (integers below 2^64 in magnitude). At 10 % funding on this lot it moves by 17,179,869,184,000,000,000 per
    epoch: epoch 2 takes it there (the next public inputs still encode), and another 10 % in epoch 3 would reach
    34,359,738,368,000,000,000. Before the fix epoch 3 committed and epoch 4's public inputs could not be encoded
    (EncodingError: the epoch could never be proven, and epochs are proven in order). At the default clamp (1 %)
    eleven epochs suffice. Now epoch 3 is refused on its funding rate, nothing applied; funding back to 0 commits."""
    from zkclear.proofs.recompute import public_inputs_of_epoch

    config_path = write_files(tmp_path, {"zkclear.toml": BIG_LOT}) / "zkclear.toml"
    config = load_config(config_path)

    def epoch(number: int, rate: int, **files: str):
        prices = {"prices.csv": csv("instrument,mark_price,funding_rate_ppm", f"P,40000,{rate}"),
                  "fills.csv": csv(FILLS_HEADER)}
        return load_epoch(write_files(tmp_path / str(number), prices | files), number, config)

    state, _ = apply_epoch(EpochState.genesis(config), epoch(
        1, 0, **{"fills.csv": csv(FILLS_HEADER, "f1,A,B,P,1,40000,0,0"),
                 "accounts.csv": csv("account,margin_mode", "A,standard", "B,standard"),
                 "transfers.csv": csv("transfer_id,kind,account,amount", "d1,deposit,A,1000000000000000000",
                                      "d2,deposit,B,1000000000000000000")}), config)
    state, _ = apply_epoch(state, epoch(2, 100_000), config)
    assert state.funding_indices == (17_179_869_184_000_000_000,)
    public_inputs_of_epoch(config_path.read_text(), state, epoch(3, 100_000), position_bits=32)  # still encodes
    with pytest.raises(InputError, match="the funding index of 'P' would reach 34359738368000000000, beyond") as error:
        apply_epoch(state, epoch(3, 100_000), config)
    assert (Path(error.value.path).name, error.value.line, error.value.field) == ("prices.csv", 2, "funding_rate_ppm")
    after, _ = apply_epoch(state, epoch(3, -100_000), config)
    assert after.funding_indices == (0,)


def test_the_engine_states_the_public_inputs_integer_bound():
    from zkclear.clearing.provable import MAX_PUBLIC_INTEGER
    from zkclear.verifier import public_inputs

    assert MAX_PUBLIC_INTEGER == public_inputs._INT_BOUND - 1


def _premium_at(root: Path, strike: int, underlying_mark: int, fills: tuple[str, ...], deposits: tuple[int, int]):
    text = PREMIUM_WIDE.replace("strike = 200000000", f"strike = {strike}")
    config = load_config(write_files(root, {"zkclear.toml": text}) / "zkclear.toml")
    files = {"prices.csv": csv("instrument,mark_price,funding_rate_ppm", f"P,{underlying_mark},0"),
             "fills.csv": csv(FILLS_HEADER, *fills),
             "vols.csv": csv("instrument,implied_vol_ppm", "C,500000"),
             "accounts.csv": csv("account,margin_mode", "A,standard", "B,standard", "C1,standard"),
             "transfers.csv": csv("transfer_id,kind,account,amount", f"d1,deposit,A,{deposits[0]}",
                                  f"d2,deposit,B,{deposits[1]}", "d3,deposit,C1,1000")}
    return config, load_epoch(write_files(root / "1", files), 1, config)


def test_held_a_premium_payoff_exactly_at_the_amount_bound_commits_and_one_lot_more_is_refused(tmp_path):
    """2^62 - 1 = (2^31 - 1)(2^31 + 1): the call (strike 9 x 2^31) expires 2^31 - 1 ticks in the money and A buys
    2^31 + 1 of them at 1 tick (each fill within the value bound and the band). A's payoff is exactly 2^62 - 1:
    the epoch commits, B (deposit 1,000,000,000) cannot pay it and its deficit is socialized over the accounts
    with equity, A first. One more lot in a second fill makes the payoff 2^62 + 2^31 - 2: refused on A's fill."""
    intrinsic, lots = 2**31 - 1, 2**31 + 1
    strike = 9 * 2**31
    config, inputs = _premium_at(tmp_path / "at", strike, strike + intrinsic, (f"f1,A,B,C,{lots},1,0,0",),
                                 (1, 1_000_000_000))
    state, report = apply_epoch(EpochState.genesis(config), inputs, config)
    settlement = dict(zip(report.accounts, report.settlement.tolist(), strict=True))
    assert settlement["A"] == lots * intrinsic - lots == 2**62 - 1 - lots  # payoff less the premium
    assert report.expired_instruments == ("C",) and not state.positions[:, 1].any()
    (event,) = report.liquidations
    assert (event.account, event.action, event.resolution) == ("B", "bankrupt", "socialized_loss")
    assert state.cash_of("B") == 0 and sum(state.cash.tolist()) == 1 + 1_000_000_000 + 1_000
    config, inputs = _premium_at(tmp_path / "beyond", strike, strike + intrinsic,
                                 (f"f1,A,B,C,{lots},1,0,0", "f2,A,B,C,1,1,0,0"), (1, 1_000_000_000))
    with pytest.raises(InputError, match="account 'A' in 'C': the payoff at expiry exceeds the amount bound"):
        apply_epoch(EpochState.genesis(config), inputs, config)


def test_held_an_option_expiring_worthless_is_never_refused_for_its_size(tmp_path):
    """The wrapping epoch of the first test with the underlying below the strike: the call expires at 0, so however
    many lots A holds its payoff is 0 and the epoch commits (the check divides by the payoff per lot only when it
    is positive). A paid 1,099,511,562,241 in premium on a deposit of 1,000,000,000: bankrupt, flat after expiry,
    its deficit socialized over B (who received the premium) and C1."""
    total = -(-(2**64) // (2**24 + 1))
    sizes = [total // 5] * 4 + [total - 4 * (total // 5)]
    fills = tuple(f"f{k},A,B,C,{size},1,0,0" for k, size in enumerate(sizes))
    config, inputs = _premium_at(tmp_path, 200_000_000, 199_000_000, fills, (1_000_000_000, 1_000_000_000))
    state, report = apply_epoch(EpochState.genesis(config), inputs, config)
    assert report.risk.instruments[1].mark_price == 0 and report.expired_instruments == ("C",)
    assert dict(zip(report.accounts, report.settlement.tolist(), strict=True))["A"] == -total
    (event,) = report.liquidations
    assert (event.account, event.action, event.deficit, event.resolution) == (
        "A", "bankrupt", total - 1_000_000_000, "socialized_loss")
    assert state.cash_of("A") == 0 and sum(state.cash.tolist()) == 2_000_001_000


# Trader attacks through apply_epoch on the plain perpetual of tests/clearing/clearing_helpers.py (10 units per lot
# per tick, IM 10 %, MM 5 %; penalty 1 %, buffer 10 %).


def test_held_a_flash_deposit_saves_the_account_but_cannot_leave_in_the_same_epoch():
    """A (1,500 deposited) is long 1 lot bought at 1,000. Epoch 2 marks 890: equity 400 < MM 445. A deposits
    10,000 and asks for it back in the same epoch: the deposit is credited before the liquidation pass (A is not
    liquidated), the withdrawals come after it and need the initial requirement 890 to stay covered — 10,000 is
    refused (400 would be left), 9,510 leaves exactly 890 and is honoured."""
    from tests.clearing.clearing_helpers import PERP, config, deposit, epoch_inputs, fill, run, withdraw

    cfg = config()
    state, _ = run(cfg, epoch_inputs(1, {PERP: 1000}, [fill("f1", "A", "B", 1, 1000)],
                                     [deposit("A", 1_500), deposit("B", 100_000)], ["A", "B"]))
    state, (report,) = run(cfg, epoch_inputs(2, {PERP: 890}, [], [deposit("A", 10_000, "flash"),
                                                                   withdraw("A", 10_000, "back"),
                                                                   withdraw("A", 9_510, "some")]), state=state)
    assert report.liquidations == ()
    refused, honoured = report.withdrawals
    assert (refused.accepted, refused.reason) == (
        False, "equity after withdrawal 400 would be below the initial requirement 890")
    assert honoured.accepted and state.cash_of("A") == 890 and state.position_of("A", PERP) == 1


def test_held_splitting_a_position_over_accounts_only_pays_more_funding_rounding():
    """Funding rounds against each account (floor of -q x dF / PPM) and the residue goes to the fee account. At
    3 ppm on a mark of 1,000 (dF = 0.03 per lot): one account long 3 lots pays floor(-0.09) = 1 unit; split over
    three accounts of 1 lot, each pays floor(-0.03) = 1 unit, 3 in all; the short side receives floor(0.09) = 0
    either way. Splitting never earns a trader the rounding: the fee account takes it."""
    from tests.clearing.clearing_helpers import PERP, config, deposit, epoch_inputs, fill, run
    from zkclear.clearing.config import FEE_ACCOUNT

    cfg = config()
    for longs in (("L1",), ("L1", "L2", "L3")):
        size = 3 // len(longs)
        fills = [fill(f"f-{a}", a, "S", size, 1000) for a in longs]
        state, _ = run(cfg, epoch_inputs(1, {PERP: 1000}, fills, [deposit(a, 10_000) for a in (*longs, "S")],
                                         [*longs, "S"]))
        state, (report,) = run(cfg, epoch_inputs(2, {PERP: (1000, 3)}), state=state)
        assert [state.cash_of(a) for a in longs] == [9_999] * len(longs)
        assert state.cash_of("S") == 10_000
        assert state.cash_of(FEE_ACCOUNT) == report.funding_residue == len(longs)


def test_held_the_insurance_fund_pays_a_deficit_once():
    """A (1,000 deposited) is long 1 lot at 1,000; the fund holds 5,000. Epoch 2 marks 800: equity -1,000. The
    fund pays exactly the deficit 1,000 (A ends at 0, flat), the backstop takes the lot at the mark and is topped up
    to its target ceil(400 x 1.1) = 440. Epoch 3, same mark: nothing is paid again."""
    from tests.clearing.clearing_helpers import PERP, config, deposit, epoch_inputs, fill, run
    from zkclear.clearing.config import BACKSTOP, INSURANCE_FUND

    cfg = config()
    state, _ = run(cfg, epoch_inputs(1, {PERP: 1000}, [fill("f1", "A", "B", 1, 1000)],
                                     [deposit("A", 1_000), deposit("B", 100_000), deposit(INSURANCE_FUND, 5_000)],
                                     ["A", "B"]))
    state, (report,) = run(cfg, epoch_inputs(2, {PERP: 800}), state=state)
    (event,) = report.liquidations
    assert (event.account, event.action, event.deficit, event.insurance_paid, event.residue, event.receiver) == (
        "A", "bankrupt", 1_000, 1_000, 0, BACKSTOP)
    assert [t.amount for t in report.backstop_topups] == [440]
    assert (state.cash_of("A"), state.position_of("A", PERP)) == (0, 0)
    assert (state.cash_of(INSURANCE_FUND), state.cash_of(BACKSTOP)) == (5_000 - 1_000 - 440, 440)
    state, (report,) = run(cfg, epoch_inputs(3, {PERP: 800}), state=state)
    assert (report.liquidations, report.backstop_topups) == ((), ())
    assert state.cash_of(INSURANCE_FUND) == 3_560


def test_held_a_self_trade_at_the_band_edge_moves_nothing_but_its_fees():
    """With ``allow_self_trade``, A buys 5 lots from itself at 1,100 (the top of the band around the mark 1,000):
    its two legs settle -5,000 and +5,000 against the mark, the position nets to 0, and only the fees (3 + 2)
    move, to the fee account. One tick higher is outside the band."""
    from tests.clearing.clearing_helpers import PERP, config, deposit, epoch_inputs, fill, run
    from zkclear.clearing.config import FEE_ACCOUNT

    cfg = config(allow_self_trade=True)
    state, (report,) = run(cfg, epoch_inputs(1, {PERP: 1000}, [fill("s1", "A", "A", 5, 1100, buyer_fee=3,
                                                                    seller_fee=2)],
                                             [deposit("A", 10_000)], ["A"]))
    assert dict(zip(report.accounts, report.settlement.tolist(), strict=True))["A"] == -5
    assert (state.position_of("A", PERP), state.cash_of("A"), state.cash_of(FEE_ACCOUNT)) == (0, 9_995, 5)
    with pytest.raises(InputError, match=r"price 1101 ticks is outside the price band \[900, 1100\]"):
        run(cfg, epoch_inputs(1, {PERP: 1000}, [fill("s1", "A", "A", 5, 1101)], [deposit("A", 10_000)], ["A"]))


def test_the_backstop_never_takes_lots_past_the_notional_bound():
    """Multiplier 2, mark 3,865,470,566: a lot is worth 7,730,941,132, and A1 and A2 each buy 2^29 lots (notional
    0.9 x 2^62, each within the bound) on 10^15 of equity: both are closed out in full in epoch 1 (no liquidator).
    The backstop can take A1's lots but not A2's as well (1.8 x 2^62). Before the fix it took both and the next
    requirement stopped the epoch with a ClearingError ("the notional of its positions ... exceeds the bound"),
    naming no input; now A2's lots are closed against the opposite side in ADL rank order at the mark, as for lots
    the statements could not prove."""
    from tests.clearing.clearing_helpers import PERP, config, deposit, epoch_inputs, fill, perp_spec, run
    from zkclear.clearing.config import BACKSTOP, INSURANCE_FUND

    cfg = config(perp_spec(contract_multiplier=2))
    mark, lots = 3_865_470_566, 2**29
    state, (report,) = run(cfg, epoch_inputs(
        1, {PERP: mark}, [fill("f1", "A1", "B1", lots, mark), fill("f2", "A2", "B2", lots, mark)],
        [deposit("A1", 10**15), deposit("A2", 10**15), deposit("B1", 10**18), deposit("B2", 10**18),
         deposit(INSURANCE_FUND, 10**18)], ["A1", "A2", "B1", "B2"]))
    assert [(e.account, e.action, e.closed_lots, e.receiver) for e in report.liquidations] == [
        ("A1", "full", (lots,), BACKSTOP), ("A2", "full", (lots,), "ADL")]
    assert [(e.counterparty, e.lots, e.cash) for e in report.adl] == [("B1", lots, 0)]
    assert [state.position_of(a, PERP) for a in ("A1", "A2", "B1", "B2", BACKSTOP)] == [0, 0, 0, -lots, lots]


@pytest.mark.parametrize("late", ["f3,A,B,P,x,1000,0,0", "f3,A,B,P,1,1000,0", "f3,A, B,P,1,1000,0,0"])
def test_apply_epoch_on_fills_read_in_batches_names_the_first_bad_fill_whatever_the_batch(tmp_path, late):
    """``apply_epoch`` on a fills file read in batches (``load_epoch(..., batch_fills=N)``): line 2 names an
    unknown account, line 4 does not parse (a size that is not a number, a field missing, an id with a space).
    Before the fix a batch holding both was parsed whole first and named line 4, batches of one named line 2
    (validated before line 4 was read). Now a batch that does not parse gives the records before its first bad
    one to the engine first: line 2 is named for every batch size."""
    config = load_config(write_files(tmp_path, {"zkclear.toml": BIG_LOT}) / "zkclear.toml")
    folder = write_files(tmp_path / "1", {
        "prices.csv": csv("instrument,mark_price,funding_rate_ppm", "P,1000,0"),
        "fills.csv": csv(FILLS_HEADER, "f1,A,Z,P,1,1000,0,0", "f2,A,B,P,1,1000,0,0", late),
        "accounts.csv": csv("account,margin_mode", "A,standard", "B,standard")})
    for batch in (1, 2, 3, 32768):
        scratch = tmp_path / f"scratch-{batch}"
        scratch.mkdir()
        with pytest.raises(InputError) as error:
            apply_epoch(EpochState.genesis(config), load_epoch(folder, 1, config, batch_fills=batch, scratch=scratch),
                        config)
        assert (error.value.line, error.value.field, error.value.detail) == (2, "seller", "unknown account 'Z'")


def test_a_mark_of_a_few_ticks_is_not_frozen_by_the_circuit_breaker():
    """Oracle-marked perpetual (default guard: breaker 25 %, two sources), marked 3 ticks in epoch 1. The market
    then trades at 10 ticks: one tick is already a 33 % move, so the breaker clamps — and before the fix it clamped
    by floor(3 x 25 %) = 0 ticks, every epoch: the mark stayed 3 for good (positions never marked to the market,
    fills at the market price settled 7 ticks off the mark, the short side never liquidated). Now the clamp moves
    at least a tick: 3 -> 4 -> 5 -> 6 -> 7 -> 8 -> 10 (from 8, 25 % is 2 ticks: within the breaker)."""
    from tests.clearing.clearing_helpers import PERP, config, deposit, fill, perp_spec, run
    from tests.clearing.test_paused_exemption import oracle_epoch
    from zkclear.clearing.config import OracleGuardConfig

    cfg = config(perp_spec(), oracle=OracleGuardConfig(), epoch_seconds=60)
    state, _ = run(cfg, oracle_epoch(1, {PERP: (3, 2)}, fills=[fill("f1", "A", "B", 10, 3)],
                                     transfers=[deposit("A", 10_000), deposit("B", 10_000)], opens=["A", "B"]))
    marks = []
    for epoch in range(2, 8):
        state, (report,) = run(cfg, oracle_epoch(epoch, {PERP: (10, 2)}), state=state)
        marks.append((state.settlement_prices[0], report.oracle_decisions[0]["status"]))
    assert marks == [(4, "breaker"), (5, "breaker"), (6, "breaker"), (7, "breaker"), (8, "breaker"), (10, "ok")]
    assert (state.cash_of("A"), state.cash_of("B")) == (10_700, 9_300)  # 10 lots x 7 ticks x 10


def test_the_circuit_breaker_clamp_moves_one_tick_at_least():
    from zkclear.risk.oracle import OracleConfig, OracleDecision, SourceQuote, decide_mark

    guard = OracleConfig()
    cases = ((3, 10, 4), (3, 1, 2), (1, 5, 2), (2, 1, 1), (4, 10, 5), (40_000, 1, 30_000))
    for previous_mark, median, expected in cases:
        previous = OracleDecision("X", 1, 0, "ok", previous_mark, previous_mark, None, previous_mark, (), (), False,
                                  False)
        quotes = [SourceQuote("a", median, 100), SourceQuote("b", median, 100)]
        decision = decide_mark("X", quotes, now=100, epoch=2, previous=previous, config=guard)
        assert (decision.status.value, decision.mark_price_ticks) == ("breaker", expected)


def test_a_dated_future_is_final_settled_at_the_market_not_at_the_circuit_breakers_clamp():
    """Oracle-marked dated future (default guard: breaker 25 %) expiring in epoch 2, 10 units per lot per tick. A
    buys 10 lots from B at 1,000 in epoch 1. In epoch 2 both sources quote 600: the market fell 40 %. Before the
    fix the breaker clamped the mark to 750 and the future was final-settled there — A lost 25,000 instead of
    40,000, B gained 15,000 less, for good (the clamp "only delays the move by an epoch", but an expired contract
    has none). Now the expiry epoch's mark is the median 600, status ok; the perpetual beside it is still clamped."""
    from tests.clearing.clearing_helpers import DATED, PERP, config, dated_spec, deposit, fill, perp_spec, run
    from tests.clearing.test_paused_exemption import oracle_epoch
    from zkclear.clearing.config import OracleGuardConfig

    cfg = config(perp_spec(), dated_spec(expiry_epoch=2), oracle=OracleGuardConfig(), epoch_seconds=60)
    state, _ = run(cfg, oracle_epoch(1, {PERP: (1000, 2), DATED: (1000, 2)},
                                     fills=[fill("f1", "A", "B", 10, 1000, DATED)],
                                     transfers=[deposit("A", 100_000), deposit("B", 100_000)], opens=["A", "B"]))
    state, (report,) = run(cfg, oracle_epoch(2, {PERP: (600, 2), DATED: (600, 2)}), state=state)
    decisions = {d["instrument_id"]: (d["status"], d["mark_price_ticks"]) for d in report.oracle_decisions}
    assert decisions == {PERP: ("breaker", 750), DATED: ("ok", 600)}
    assert report.expired_instruments == (DATED,) and state.settlement_prices == (750, 600)
    assert (state.cash_of("A"), state.cash_of("B")) == (60_000, 140_000)


def test_an_option_is_final_settled_on_its_underlyings_market_price_not_on_the_breakers_clamp():
    """Oracle-marked perpetual (breaker 25 %) and a call on it struck at 900 expiring in epoch 2 (futures-style, 10
    units per lot per tick). A buys 10 calls from B at 100 in epoch 1 (perpetual 1,000). In epoch 2 both sources
    quote the perpetual at 1,500: its mark is clamped to 1,250 (it catches up next epoch), but the call expires now.
    Before the fix its final mark was the intrinsic value on the clamp, 350: A received 25,000 instead of 50,000
    for good. Now it is the intrinsic value on the oracle median, 600."""
    import dataclasses

    from tests.clearing.clearing_helpers import PERP, config, deposit, fill, perp_spec, run
    from tests.clearing.test_paused_exemption import oracle_epoch
    from zkclear.clearing.config import OracleGuardConfig
    from zkclear.clearing.inputs import ImpliedVol
    from zkclear.clearing.instruments import InstrumentSpec

    call = InstrumentSpec("C", "option", tick_size=1, lot_size=1, contract_multiplier=10, initial_margin_ppm=150_000,
                          maintenance_margin_ppm=100_000, margin_model="option-standard", expiry_epoch=2,
                          underlying=PERP, option_type="call", strike=900)
    cfg = config(perp_spec(underlying="BTC"), call, oracle=OracleGuardConfig(), epoch_seconds=60, genesis_timestamp=0)

    def epoch(number: int, perp: int, **records):
        inputs = oracle_epoch(number, {PERP: (perp, 2)}, **records)
        return dataclasses.replace(inputs, implied_vols=(ImpliedVol("C", 500_000),))

    state, _ = run(cfg, epoch(1, 1000, fills=[fill("f1", "A", "B", 10, 100, "C")],
                              transfers=[deposit("A", 100_000), deposit("B", 100_000)], opens=["A", "B"]))
    state, (report,) = run(cfg, epoch(2, 1500), state=state)
    assert report.oracle_decisions[0]["status"] == "breaker" and state.settlement_prices == (1250, 600)
    assert report.expired_instruments == ("C",)
    assert (state.cash_of("A"), state.cash_of("B")) == (150_000, 50_000)


def test_held_a_btc_withdrawal_at_the_haircut_tier_bound_is_exact_to_the_sat():
    """BTC collateral (tests/clearing/collateral_helpers.py: the first 100,000 USDC of value at 100 %, the next
    900,000 at 95 %), BTC-PERP at 50,000: one sat is worth 500 units, 2 BTC are exactly the tier bound 10^11.
    alice holds 2 BTC + 1 sat (haircut value 10^11 + 475: the last sat counts 95 %) and no USDC, long 20,000 lots
    (initial requirement exactly 10^11). Withdrawing the sat above the bound removes 475 and leaves exactly the
    requirement: honoured. A second sat is below the bound (it counts 500): refused."""
    from tests.clearing.clearing_helpers import deposit, epoch_inputs, fill, run
    from tests.clearing.collateral_helpers import BTC, PERP, deposit_asset, multi_config, withdraw_asset

    cfg = multi_config()
    state, _ = run(cfg, epoch_inputs(1, {PERP: 50_000}, [fill("f1", "alice", "bob", 20_000, 50_000)],
                                     [deposit_asset("alice", 2 * BTC + 1, "BTC"), deposit("bob", 10**15)],
                                     ["alice", "bob"]))
    state, (report,) = run(cfg, epoch_inputs(2, {PERP: 50_000}, transfers=[
        withdraw_asset("alice", 1, "BTC", "w1"), withdraw_asset("alice", 1, "BTC", "w2")]), state=state)
    first, second = report.withdrawals
    assert first.accepted and state.balance_of("alice", "BTC") == 2 * BTC
    assert (second.accepted, second.reason) == (False, "equity after withdrawal 99999999500 (the BTC counted 500) "
                                                       "would be below the initial requirement 100000000000")


def test_held_an_account_exempt_for_a_paused_price_cannot_withdraw_while_below_maintenance():
    """tests/clearing/test_paused_exemption.py's paused epoch: ``carrier`` carried one ETH-PERP lot into the epoch
    in which ETH-PERP's oracle falls back (liquidations paused) and loses 30,000 on BTC-PERP: equity 10,000 below
    its maintenance 14,500, exempt from the liquidation pass. The exemption is not a way out: its withdrawal of a
    single unit is checked against the initial requirement 29,000 (27,000 + 2,000) and refused."""
    from tests.clearing.clearing_helpers import PERP, config, deposit, fill, perp_spec, run, withdraw
    from tests.clearing.test_paused_exemption import ETH, eth_spec, oracle_epoch
    from zkclear.clearing.config import OracleGuardConfig

    cfg = config(perp_spec(), eth_spec(), oracle=OracleGuardConfig(), epoch_seconds=60)
    state, _ = run(cfg, oracle_epoch(1, {PERP: (30_000, 2), ETH: (2_000, 2)},
                                     fills=[fill("b", "carrier", "dealer", 1, 30_000),
                                            fill("e", "carrier", "dealer", 1, 2_000, ETH)],
                                     transfers=[deposit("carrier", 40_000), deposit("dealer", 10**9)],
                                     opens=["carrier", "dealer"]))
    state, (report,) = run(cfg, oracle_epoch(2, {PERP: (27_000, 2), ETH: (2_000, 1)},
                                             transfers=[withdraw("carrier", 1, "out")]), state=state)
    assert report.paused_accounts == ("carrier",) and report.liquidations == ()
    (outcome,) = report.withdrawals
    # refused: it carries the paused ETH-PERP (withdrawals wait for a good mark; below initial margin besides)
    assert (outcome.accepted, outcome.reason) == (
        False, "the account is exposed to a paused price (ETH-PERP): withdrawals wait for an epoch with a good mark "
               "(equity at a price nobody vouches for does not leave the venue)")
    assert state.cash_of("carrier") == 10_000


@pytest.mark.parametrize("bankrupt", ["Bob", "zed"])
def test_the_insurance_fund_covers_a_users_deficit_before_the_backstops_margin_whatever_the_id(bankrupt):
    """Fund 1,123. Epoch 2 (mark 950): X is closed out to the backstop (penalty 95 to the fund), which the fund
    tops up to 523 (fund 695 left). Epoch 3 (mark 900): the backstop's lot lost 500 (equity 23, maintenance 450),
    and the new account ``bankrupt`` buys a lot from S at 1,000 on a deposit of 500: equity -500. Before the fix
    the pass went in id order, the backstop ("CH:backstop") among the users: "Bob" sorts before it, and the fund
    covered Bob's deficit; "zed" sorts after it, so the fund first topped the backstop up (472) and zed's deficit
    left a residue of 277 that S, a trader, paid by ADL at the bankruptcy price. Now the users come first in every
    round, the backstop last: both names give the same outcome — the fund covers the 500, the backstop (2 lots,
    195 more from the fund) is deleveraged against S at the mark, S pays nothing and 218 return to the fund."""
    from tests.clearing.clearing_helpers import PERP, config, deposit, epoch_inputs, fill, run
    from zkclear.clearing.config import BACKSTOP, INSURANCE_FUND

    cfg = config()
    state, _ = run(cfg, epoch_inputs(1, {PERP: 1000}, [fill("f1", "X", "S", 1, 1000)],
                                     [deposit("X", 700), deposit("S", 10**7), deposit(INSURANCE_FUND, 1_123)],
                                     ["X", "S"]))
    state, _ = run(cfg, epoch_inputs(2, {PERP: 950}), state=state)
    assert (state.cash_of(INSURANCE_FUND), state.cash_of(BACKSTOP), state.position_of(BACKSTOP, PERP)) == (695, 523, 1)
    state, (report,) = run(cfg, epoch_inputs(3, {PERP: 900}, [fill("f2", bankrupt, "S", 1, 1000)],
                                             [deposit(bankrupt, 500)], [bankrupt]), state=state)
    assert [(e.account, e.action, e.insurance_paid, e.residue, e.receiver) for e in report.liquidations] == [
        (bankrupt, "bankrupt", 500, 0, BACKSTOP), (BACKSTOP, "backstop_deleverage", 0, 0, "ADL")]
    assert [(e.counterparty, e.lots, e.cash) for e in report.adl] == [("S", 2, 0)]
    assert [t.amount for t in report.backstop_topups] == [195, -218]
    assert (state.cash_of(INSURANCE_FUND), state.cash_of("S"), state.cash_of(BACKSTOP)) == (218, 10_002_000, 0)


def _renamed_market(seed: int, prefix: str) -> list:
    """A seeded four-epoch market (a perpetual and a future expiring in epoch 3, ADL or socialized loss, with or
    without a liquidator) whose users' ids all start with ``prefix``; per epoch, the users' balances and positions
    and the clearing house's three balances."""
    import random

    from tests.clearing.clearing_helpers import DATED, PERP, config, dated_spec, deposit, epoch_inputs, fill, perp_spec
    from zkclear.clearing.config import BACKSTOP, FEE_ACCOUNT, INSURANCE_FUND, DeficitResolution

    rng = random.Random(seed)
    cfg = config(perp_spec(), dated_spec(expiry_epoch=3), deficit_resolution=rng.choice(list(DeficitResolution)),
                 liquidators=(prefix + "L",) if rng.random() < .5 else ())
    users = [prefix + str(k) for k in range(rng.randint(2, 6))] + [prefix + "L"]
    state, marks, outcome = EpochState.genesis(cfg), {PERP: 1000, DATED: 1000}, []
    for epoch in range(1, 5):
        for instrument in marks:
            marks[instrument] = max(1, int(marks[instrument] * rng.choice([0.7, 0.85, 0.95, 1, 1.05, 1.2])))
        live = [PERP] + ([DATED] if epoch <= 3 else [])
        fills = []
        for k in range(rng.randint(0, 8)):
            buyer, seller = rng.sample(users, 2)
            instrument = rng.choice(live)
            fills.append(fill(f"e{epoch}f{k}", buyer, seller, rng.randint(1, 30), marks[instrument], instrument))
        transfers = ([deposit(u, rng.choice([500, 3000, 20000]), f"d{u}") for u in users]
                     + [deposit(INSURANCE_FUND, rng.choice([1, 2000, 20000]), "fund")]) if epoch == 1 else []
        epoch_marks = {PERP: (marks[PERP], rng.choice([0, 50, -50]))} | ({DATED: marks[DATED]} if DATED in live else {})
        state, _ = apply_epoch(state, epoch_inputs(epoch, epoch_marks, fills, transfers, users if epoch == 1 else []),
                               cfg)
        outcome.append(([state.cash_of(u) for u in users], [state.positions[state.row(u)].tolist() for u in users],
                        [state.cash_of(a) for a in (INSURANCE_FUND, BACKSTOP, FEE_ACCOUNT)]))
    return outcome


def test_the_waterfall_does_not_depend_on_whether_user_ids_sort_before_the_clearing_houses():
    """The same 60 seeded markets with every user id starting "A" (sorted before "CH:backstop") and "u" (after):
    the balances and positions agree, up to the one-unit remainders pro-rata splits break ties with by row. With
    the backstop among the users in id order, 15 of these markets came out differently (the fund topped up the
    backstop before or after covering a bankrupt user)."""
    def near(left, right) -> bool:
        if isinstance(left, list | tuple):
            return len(left) == len(right) and all(near(a, b) for a, b in zip(left, right, strict=True))
        return abs(left - right) <= 1

    differing = [seed for seed in range(60) if not near(_renamed_market(seed, "A"), _renamed_market(seed, "u"))]
    assert differing == []
