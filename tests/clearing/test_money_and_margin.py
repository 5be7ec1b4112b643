"""Fixed-point values, overflow guards, margin models and their linear forms, registries."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.clearing.clearing_helpers import PERP, config, deposit, epoch_inputs, fill, perp_spec, run, withdraw
from zkclear.clearing.inputs import MarkPrice
from zkclear.clearing.instruments import DEFAULT_KINDS, InstrumentKind, MarginTier, linear_value
from zkclear.clearing.margin import (
    DEFAULT_RISK_MODELS,
    InstrumentRisk,
    LinearMarginForm,
    MarginLevel,
    RiskModel,
    RiskParameters,
    account_requirement,
    margin_requirements,
    notionals,
    requirement_from_forms,
)
from zkclear.clearing.money import (
    MAX_AMOUNT,
    PPM,
    Amount,
    Lots,
    Ppm,
    Price,
    checked_add,
    exact_abs_sum,
    position_value,
    ppm_ceil_array,
    ppm_floor_array,
    require_sum_fits_int64,
)
from zkclear.errors import ClearingError, ConfigurationError, InputError


def test_value_types_refuse_to_mix_units_and_leave_their_bounds() -> None:
    assert Amount(5) + Amount(7) == Amount(12)
    with pytest.raises(TypeError):
        Amount(5) + Price(5)
    with pytest.raises(TypeError):
        Lots(1) - Amount(1)
    with pytest.raises(TypeError):
        Amount(True)  # a bool is not money
    with pytest.raises(TypeError):
        Amount(1.5)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        Amount(MAX_AMOUNT) + Amount(1)
    with pytest.raises(OverflowError):
        Price(0)
    with pytest.raises(OverflowError):
        Ppm(PPM + 1)
    assert Amount(3) != Lots(3)
    assert position_value(Lots(3), Price(1000), 10) == Amount(30_000)
    with pytest.raises(OverflowError):
        position_value(Lots(2**40), Price(2**40), 1)


def test_int64_sums_that_would_wrap_are_refused() -> None:
    big = np.array([MAX_AMOUNT, MAX_AMOUNT, MAX_AMOUNT], dtype=np.int64)
    assert exact_abs_sum(big) == 3 * MAX_AMOUNT
    with pytest.raises(ClearingError, match="overflow"):
        require_sum_fits_int64(big, "test")
    require_sum_fits_int64(big[:1], "test")
    with pytest.raises(ClearingError, match="overflow"):
        checked_add(np.array([MAX_AMOUNT * 2], dtype=np.int64), np.array([MAX_AMOUNT * 2], dtype=np.int64),
                    "t")
    assert checked_add(np.array([-5]), np.array([3]), "t").tolist() == [-2]


def test_a_position_too_large_for_the_bounds_is_an_error_not_a_wrap() -> None:
    """2**40 lots at 2**20 ticks with multiplier 2**10 is 2**70: refused before any int64 product is
    formed, naming the fill (issue 12: a bound an input breaks is an input error with its line)."""
    cfg = config(perp_spec(contract_multiplier=2**10))
    with pytest.raises(InputError, match=r"<memory:fills>:1: field 'size': the fill's value .* exceeds 2\*\*62"):
        run(cfg, epoch_inputs(1, {PERP: 2**20}, [fill("f1", "A", "B", 2**40, 2**20)], [], ["A", "B"]))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, MAX_AMOUNT), st.integers(0, PPM), st.integers(-MAX_AMOUNT, MAX_AMOUNT),
       st.integers(-PPM, PPM))
def test_vectorized_ppm_rounding_matches_exact_integer_arithmetic(amount, rate, signed, signed_rate) -> None:
    assert int(ppm_ceil_array(np.array([amount], dtype=np.int64), rate)[0]) == -((-amount * rate) // PPM)
    assert int(ppm_floor_array(np.array([signed], dtype=np.int64),
                               signed_rate)[0]) == (signed * signed_rate) // PPM


TIERS = (MarginTier(100_000, 50_000, 0), MarginTier(1_000_000, 100_000, 5_000),
         MarginTier(10**7, 200_000, 105_000))


def risk(mark: int = 1000, model: str = "linear", **changes) -> InstrumentRisk:
    base = InstrumentRisk(PERP, "perpetual", mark, 10, 100_000, 50_000, model,
                          initial_tiers=TIERS if model == "tiered" else (),
                          maintenance_tiers=TIERS if model == "tiered" else ())
    return dataclasses.replace(base, **changes)


def params(*risks: InstrumentRisk) -> RiskParameters:
    return RiskParameters(1, risks, 10_000, 100_000)


def test_linear_margin_is_a_fraction_of_notional_rounded_up() -> None:
    """3 lots at 1000 ticks x 10: notional 30,000, MM 5 % = 1,500, IM 10 % = 3,000. At 1001: notional 30,030,
    MM 1,501.5 -> 1,502 (rounded up); -3 lots need the same."""
    p = params(risk())
    positions = np.array([[3], [-3]], dtype=np.int64)
    maintenance, initial = MarginLevel.MAINTENANCE, MarginLevel.INITIAL
    assert margin_requirements(positions, p, DEFAULT_RISK_MODELS, maintenance).tolist() == [1500, 1500]
    assert margin_requirements(positions, p, DEFAULT_RISK_MODELS, initial).tolist() == [3000, 3000]
    p = params(risk(1001))
    assert margin_requirements(positions, p, DEFAULT_RISK_MODELS,
                               MarginLevel.MAINTENANCE).tolist() == [1502, 1502]
    assert account_requirement([-3], p, DEFAULT_RISK_MODELS, MarginLevel.MAINTENANCE) == 1502


def test_tiered_margin_is_the_convex_piecewise_linear_table() -> None:
    """Tiers: 5 % to 100,000; 10 % - 5,000 to 1,000,000; 20 % - 105,000 above. Notional 50,000 -> 2,500;
    300,000 -> max(15,000, 25,000, -45,000) = 25,000 (= bracket 2: 30,000 - 5,000); 2,000,000 -> 295,000."""
    p = params(risk(model="tiered"))
    positions = np.array([[5], [30], [-200]], dtype=np.int64)  # notional 50,000 / 300,000 / 2,000,000
    assert margin_requirements(positions, p, DEFAULT_RISK_MODELS, MarginLevel.MAINTENANCE).tolist() == [
        2_500, 25_000, 295_000]


def test_tier_tables_must_be_convex_and_continuous() -> None:
    with pytest.raises(ConfigurationError, match="continuity"):
        config(perp_spec(margin_model="tiered", maintenance_tiers=(TIERS[0], dataclasses.replace(TIERS[1],
                                                                                              deduction=4_000)),
                         initial_tiers=TIERS))
    decreasing = (MarginTier(100_000, 100_000, 0), MarginTier(1_000_000, 50_000, -5_000))
    with pytest.raises(ConfigurationError, match="rate_ppm must not be below"):
        config(perp_spec(margin_model="tiered", maintenance_tiers=decreasing, initial_tiers=TIERS))
    with pytest.raises(ConfigurationError, match="tiers are only meaningful"):
        config(perp_spec(maintenance_tiers=TIERS))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 5000), st.integers(-10**6, 10**6), st.sampled_from(["linear", "tiered"]),
       st.sampled_from(list(MarginLevel)))
def test_every_model_is_the_max_of_its_public_linear_forms(mark, lots, model, level) -> None:
    """What the ZK layer will prove (max over linear forms in |q|) equals what the engine charges, scalar and
    vectorized."""
    r = risk(mark, model)
    implementation = DEFAULT_RISK_MODELS.get(model)
    assert isinstance(implementation, RiskModel)
    forms = implementation.forms(r, level)
    expected = requirement_from_forms(forms, lots)
    p = params(r)
    assert account_requirement([lots], p, DEFAULT_RISK_MODELS, level) == expected
    vectorized = margin_requirements(np.array([[lots]], dtype=np.int64), p, DEFAULT_RISK_MODELS, level)
    assert int(vectorized[0]) == expected
    assert all(isinstance(f, LinearMarginForm) and type(f.lots_coefficient) is int for f in forms)


def test_notional_bound_across_instruments_is_enforced() -> None:
    p = params(risk(2**30, contract_multiplier=2**10), dataclasses.replace(risk(2**30,
                                                                                contract_multiplier=2**10),
                                                                       instrument_id="X"))
    with pytest.raises(ClearingError, match="bound"):
        notionals(np.array([[2**21, 2**21]], dtype=np.int64), p)


def test_new_instrument_kinds_and_risk_models_plug_in_through_registries() -> None:
    """A later kind (e.g. an option with its own valuation) and a later model are added by building new
    registries; the built-in ones are untouched and the engine uses whatever the configuration carries."""

    def doubled_value(positions, price, multiplier):
        return linear_value(positions, price, multiplier) * 2

    kinds = DEFAULT_KINDS.with_kind(InstrumentKind("double_future", False, False, doubled_value))

    @dataclasses.dataclass(frozen=True)
    class PerLotModel:
        """1 settlement unit per long lot, 7 per short lot, whatever the price (asymmetric, like options)."""

        name: str = "per_lot"

        def forms(self, risk, level):
            return (LinearMarginForm(1, 0, 1, short_lots_coefficient=7),)

        def requirement(self, lots, risk, level):
            return lots if lots > 0 else -7 * lots

        def requirements(self, lots, risk, level):
            return np.where(lots > 0, lots, -7 * lots)

    models = DEFAULT_RISK_MODELS.with_model(PerLotModel())
    assert "double_future" not in DEFAULT_KINDS.kinds and "per_lot" not in DEFAULT_RISK_MODELS.models
    cfg = config(perp_spec(kind="double_future", margin_model="per_lot"), kinds=kinds, risk_models=models)
    state, reports = run(cfg,
                         epoch_inputs(1, {PERP: (1000, None)}, [fill("f1", "A", "B", 2, 1000)],
                                      [deposit("A", 100), deposit("B", 100)], ["A", "B"]),
                         epoch_inputs(2, {PERP: (1001, None)}))
    assert reports[1].settlement.tolist()[:2] == [40, -40]  # 2 * (1001 - 1000) * 10 * 2
    risk_data = reports[1].risk
    assert account_requirement([2], risk_data, models, MarginLevel.MAINTENANCE) == 2
    assert account_requirement([-2], risk_data, models, MarginLevel.MAINTENANCE) == 14
    forms = models.get("per_lot").forms(risk_data.instruments[0], MarginLevel.MAINTENANCE)
    assert (requirement_from_forms(forms, 2), requirement_from_forms(forms, -2)) == (2, 14)
    assert state.cash_of("A") == 140


def test_a_kind_that_may_settle_at_zero_accepts_a_zero_mark_only_in_its_expiry_epoch() -> None:
    """An option-like kind: A buys 4 lots from B at 5 ticks (x10). A mark of 0 is refused before expiry; in
    the expiry epoch (2) it is the settlement price: A gets 4 * (0 - 5) * 10 = -200, B +200, positions
    closed."""
    kinds = DEFAULT_KINDS.with_kind(InstrumentKind("expiring_claim", False, True, linear_value,
                                                   may_settle_at_zero=True))
    spec = dataclasses.replace(perp_spec(kind="expiring_claim"), expiry_epoch=2)
    cfg = config(spec, kinds=kinds)
    opening = epoch_inputs(1, {PERP: (5, None)}, [fill("f1", "A", "B", 4, 5)],
                           [deposit("A", 1_000), deposit("B", 1_000)], ["A", "B"])
    with pytest.raises(InputError, match=r"in \[1, 2\*\*40\]") as error:
        run(cfg, dataclasses.replace(opening, marks=(MarkPrice(PERP, 0, None),)))
    assert error.value.field == "mark_price"
    state, reports = run(cfg, opening, epoch_inputs(2, {PERP: (0, None)}))
    assert reports[1].settlement.tolist()[:2] == [-200, 200]
    assert state.expired == (True,) and state.position_of("A", PERP) == 0
    assert (state.cash_of("A"), state.cash_of("B")) == (800, 1_200)


def test_profits_withdrawn_epoch_after_epoch_never_wrap_net_deposits():
    """Red team: a trader takes 2^62 − 1 of profit from a fresh counterparty each epoch (two round trips at the
    edges of a wide price band) and withdraws it. Its net deposits (deposits − withdrawals, the ADL ranking's
    capital at stake) went −2^62, −2^63 and then wrapped in int64 to +4.6 · 10^18 — ranking a profit-taker as a
    large depositor and refusing its next deposit. Saturated at −(2^62 − 1) like the collateral path's."""
    mark, multiplier, lots = 1 << 30, 1 << 10, 1 << 20
    cfg = config(perp_spec(contract_multiplier=multiplier), fill_price_band_ppm=1_000_000)  # fills in [0, 2 M]
    gain = 2 * lots * (2 * mark - 2) * multiplier
    assert MAX_AMOUNT - gain < gain  # each epoch moves about 2^62
    epochs = []
    for e in range(1, 4):
        loser = f"bob{e}"
        fills = [fill(f"e{e}-{k}-{leg}", *(("alice", loser) if leg == "buy" else (loser, "alice")), lots,
                      1 if leg == "buy" else 2 * mark - 1) for k in range(2) for leg in ("buy", "sell")]
        epochs.append(epoch_inputs(e, {PERP: mark}, fills, [deposit(loser, gain, f"d{e}"), withdraw("alice", gain,
                                                                                               f"w{e}")],
                                   opens=(["alice"] if e == 1 else []) + [loser]))
    state, reports = run(cfg, *epochs)
    assert all(report.withdrawals[0].accepted for report in reports)
    assert state.net_deposits[state.accounts.index("alice")] == -MAX_AMOUNT
    state, _ = run(cfg, epoch_inputs(4, {PERP: mark}, transfers=[deposit("alice", MAX_AMOUNT, "back")]), state=state)
    assert state.net_deposits[state.accounts.index("alice")] == 0
