"""Collateral assets in the configuration and the haircut value of a balance (issue 13, item 1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.clearing.clearing_helpers import config, dated_spec, perp_spec
from tests.clearing.collateral_helpers import BTC, BTC_TIERS, CONFIG_TOML, USDC, btc_asset, btc_perp, multi_config
from zkclear.clearing.assets import (
    DEFAULT_CONVERSION_PENALTY_PPM,
    AssetRisk,
    CollateralAsset,
    HaircutTier,
    order_for_conversion,
)
from zkclear.clearing.io import parse_config
from zkclear.clearing.ledger import config_canonical_bytes, genesis_hash
from zkclear.clearing.state import EpochState
from zkclear.errors import ConfigurationError, InputError

PRICE = 60_000  # USD per BTC, in ticks of BTC-PERP


def _btc(price: int = PRICE) -> AssetRisk:
    return AssetRisk.of(btc_asset(), price)


# -- the haircut value, hand-worked at the tier boundaries -------------------------------------------

def test_one_btc_at_60k_counts_in_full_inside_the_first_tier():
    risk = _btc()
    assert risk.value(BTC) == 60_000 * USDC
    assert risk.haircut_value(BTC) == 60_000 * USDC


def test_the_first_tier_boundary_100k_usdc_is_the_last_value_at_100_percent():
    # 100,000 USDC of BTC at 60,000: 166,666,666.67 sat. 166,666,666 sat are worth 99,999.9996 USDC.
    risk = _btc()
    assert risk.value(166_666_666) == 99_999_999_600
    assert risk.haircut_value(166_666_666) == 99_999_999_600
    # One more sat crosses the bound: 100,000.0002 USDC, of which 0.0002 USDC (200 units) counts at 95 %.
    assert risk.value(166_666_667) == 100_000_000_200
    assert risk.haircut_value(166_666_667) == 100_000_000_000 + 190
    assert risk.marginal_ratio_ppm(166_666_666) == 1_000_000
    assert risk.marginal_ratio_ppm(166_666_667) == 950_000


def test_a_value_exactly_on_a_bound_is_in_the_lower_tier():
    # At 50,000 USD per BTC, 2 BTC are worth exactly 100,000 USDC: all of it at 100 %.
    risk = _btc(50_000)
    assert risk.value(2 * BTC) == 100_000 * USDC
    assert risk.haircut_value(2 * BTC) == 100_000 * USDC
    assert risk.marginal_ratio_ppm(2 * BTC) == 1_000_000
    # 20 BTC: exactly 1,000,000 USDC = 100,000 + 0.95 x 900,000 = 955,000 USDC.
    assert risk.haircut_value(20 * BTC) == 955_000 * USDC
    assert risk.marginal_ratio_ppm(20 * BTC) == 950_000
    # 30 BTC: 1,500,000 USDC = 955,000 + 0.8 x 500,000 = 1,355,000 USDC.
    assert risk.haircut_value(30 * BTC) == 1_355_000 * USDC
    assert risk.marginal_ratio_ppm(30 * BTC) == 800_000


def test_the_value_and_then_the_haircut_value_round_down():
    # At 7 USD per "BTC" one sat is 0.07 unit: 30 sat are 2.1 units, all at 100 % -> 2 units credited.
    risk = _btc(7)
    assert risk.value(30) == 2
    assert risk.haircut_value(30) == 2
    # Just above the first bound: 1,428,571,428,572 sat are 100,000,000,000.04 units; the 0.04 above the
    # bound counts 0.038 -> rounded down to the bound.
    assert risk.value(1_428_571_428_572) == 100_000 * USDC
    assert risk.haircut_value(1_428_571_428_572) == 100_000 * USDC
    # The haircut rounds once, on the sum of the tiers: 1 sat above 2 BTC at 50,000 is 500 units at 95 % = 475.
    assert _btc(50_000).haircut_value(2 * BTC + 1) == 100_000 * USDC + 475


def test_the_lines_are_the_tiers_as_a_minimum_of_linear_forms_in_the_value():
    risk = _btc()
    # (ratio_t, C_t) over PPM: (1,000,000, 0), (950,000, 50,000 x 10^11), (800,000, 200,000 x 10^11 + 150,000 x
    # 9 x 10^11), divided by their gcd 50,000 with PPM. The price does not enter them.
    assert risk.haircut_denominator == 20
    assert risk.haircut_lines == ((20, 0), (19, 100_000_000_000), (16, 3_100_000_000_000))
    assert AssetRisk.of(btc_asset(), 1).haircut_lines == risk.haircut_lines
    # 2 BTC at 60,000 = 120,000 USDC: min(2.4 x 10^12, 2.38 x 10^12, 5.02 x 10^12) / 20 = 119,000 USDC.
    assert risk.haircut_value(2 * BTC) == 119_000 * USDC


@given(ratios=st.lists(st.integers(0, 1_000_000), min_size=1, max_size=5),
       widths=st.lists(st.integers(1, 10**13), min_size=4, max_size=4),
       price=st.integers(1, 2**40), numerator=st.integers(1, 10**6), denominator=st.integers(1, 10**12),
       balance=st.integers(0, 2**62 - 1))
@settings(max_examples=300, deadline=None)
def test_the_haircut_value_is_the_tier_sum_rounded_down(ratios, widths, price, numerator, denominator, balance):
    """``h(b) = ⌊Σ_t ratio_t · (min(V, upper_t) − lower_t)⁺ / PPM⌋`` with ``V = ⌊b · p · num / den⌋``, whatever
    the tiers, price, unit value and balance (the minimum of the lines equals the tier sum)."""
    ratios = sorted(ratios, reverse=True)
    bounds, upper = [], 0
    for width in widths[:len(ratios) - 1]:
        upper += width
        bounds.append(upper)
    tiers = tuple(HaircutTier(bound, ratio) for bound, ratio in zip([*bounds, 0], ratios, strict=True))
    risk = AssetRisk("X", 0, "P", price, numerator, denominator, tiers)
    value = balance * price * numerator // denominator  # the value rounds down first
    total, lower = 0, 0
    for tier in tiers:
        top = value if tier.upper_bound == 0 else min(value, tier.upper_bound)
        total += tier.ratio_ppm * max(top - lower, 0)
        lower = tier.upper_bound
    assert risk.haircut_value(balance) == total // 1_000_000
    assert risk.haircut_value(balance) <= risk.value(balance)


def test_conversion_proceeds_round_down_and_the_penalty_rounds_up():
    risk = _btc()
    # 0.5 BTC at 60,000: 30,000 USDC; 1 % penalty = 300 USDC.
    assert risk.conversion(BTC // 2) == (30_000 * USDC, 300 * USDC)
    # 3 sat at 60,000: 1,800 units, penalty 18; at 7 USD: 2.1 units -> proceeds 2, penalty ceil(0.02) = 1.
    assert risk.conversion(3) == (1_800, 18)
    assert _btc(7).conversion(30) == (2, 1)


def test_conversion_order_is_the_largest_haircut_first_then_configuration_order():
    big = AssetRisk.of(btc_asset(), PRICE)                       # 20 BTC: 1.2M USDC, marginal 80 %
    flat = AssetRisk("ETH", 18, "ETH-PERP", 3_000, 1, 10**12, (HaircutTier(0, 900_000),))
    assert order_for_conversion((big, flat), (20 * BTC, 10**18)) == [0, 1]   # 80 % before 90 %
    assert order_for_conversion((big, flat), (BTC, 10**18)) == [1, 0]        # 100 % after 90 %
    assert order_for_conversion((big, flat), (0, 10**18)) == [1]             # nothing held: left out
    same = AssetRisk("ETH", 18, "ETH-PERP", 3_000, 1, 10**12, (HaircutTier(0, 800_000),))
    assert order_for_conversion((big, same), (20 * BTC, 10**18)) == [0, 1]   # a tie: configuration order


# -- configuration ---------------------------------------------------------------------------------------

def test_the_configuration_parses_assets_with_their_defaults():
    text = CONFIG_TOML.replace("cap = 0\n", "").replace("conversion_penalty_ppm = 10_000\n", "")
    parsed = parse_config(text, path="venue.toml")
    assert parsed.settlement_asset == "USDC" and parsed.settlement_decimals == 6
    assert parsed.asset_ids == ("BTC",)
    (asset,) = parsed.assets
    assert asset == CollateralAsset("BTC", 8, "BTC-PERP", (1, 100), BTC_TIERS)
    assert asset.cap == 0 and asset.conversion_penalty_ppm == DEFAULT_CONVERSION_PENALTY_PPM == 10_000


def test_a_settlement_asset_alone_is_the_single_asset_deployment():
    text = CONFIG_TOML.split("[[asset]]\nid = \"BTC\"")[0] + "[[instrument]]" + CONFIG_TOML.split("[[instrument]]")[1]
    parsed = parse_config(text, path="venue.toml")
    assert parsed.assets == () and parsed.settlement_asset == "USDC"
    plain = parse_config(text.split("[[asset]]")[0] + "settlement_asset = \"USDC\"\n[[instrument]]"
                         + CONFIG_TOML.split("[[instrument]]")[1], path="venue.toml")
    assert config_canonical_bytes(parsed) == config_canonical_bytes(plain)
    assert genesis_hash(parsed) == genesis_hash(plain)


def test_without_assets_the_canonical_configuration_and_state_have_no_asset_keys():
    plain = config(perp_spec())
    assert b"assets" not in config_canonical_bytes(plain)
    assert b"assets" not in EpochState.genesis(plain).canonical_bytes()
    with_assets = multi_config()
    assert b'"assets":[["BTC",8,"BTC-PERP",[1,100]' in config_canonical_bytes(with_assets)
    genesis = EpochState.genesis(with_assets)
    assert genesis.asset_ids == ("BTC",) and genesis.asset_balances.shape == (3, 1)
    assert EpochState.from_canonical_bytes(genesis.canonical_bytes()) == genesis


@pytest.mark.parametrize("change, message", [
    ({"haircut": ()}, "haircut needs 1 to 16 tiers"),
    ({"haircut": (*(HaircutTier(k + 1, 1_000_000) for k in range(15)), HaircutTier(0, 0)), "cap": 5},
     "a statement takes at most 16 lines"),
    ({"haircut": (HaircutTier(2**62 - 1, 1_000_000), HaircutTier(0, 1))}, "too wide for a statement"),
    ({"haircut": (HaircutTier(100, 1_000_000), HaircutTier(50, 900_000), HaircutTier(0, 0))}, "haircut[1]"),
    ({"haircut": (HaircutTier(100, 900_000), HaircutTier(0, 950_000))}, "ratios never increase"),
    ({"haircut": (HaircutTier(100, 900_000),)}, "the last tier must be unbounded"),
    ({"haircut": (HaircutTier(0, 900_000), HaircutTier(0, 800_000))}, "haircut[0]"),
    ({"haircut": (HaircutTier(0, 1_000_001),)}, "ratio_ppm must be in [0, 1000000]"),
    ({"unit_value": (0, 1)}, "unit_value"),
    ({"cap": -1}, "cap must be"),
    ({"conversion_penalty_ppm": 1_000_001}, "conversion_penalty_ppm"),
    ({"decimals": 19}, "decimals"),
    ({"asset_id": "btc"}, "id must be"),
])
def test_a_collateral_asset_is_validated(change, message):
    with pytest.raises(ConfigurationError) as caught:
        btc_asset(**change)
    assert message in str(caught.value)


def test_the_price_instrument_must_be_a_listed_perpetual():
    with pytest.raises(ConfigurationError, match="is not a listed instrument"):
        multi_config(btc_asset(price_instrument="ETH-PERP"))
    with pytest.raises(ConfigurationError, match="never expires"):
        config(dated_spec(), settlement_asset="USDC", assets=(btc_asset(price_instrument="BTC-DEC"),))
    with pytest.raises(ConfigurationError, match="listed twice"):
        multi_config(btc_asset(), btc_asset())
    with pytest.raises(ConfigurationError, match="listed twice"):
        multi_config(btc_asset(asset_id="USDC"))
    with pytest.raises(ConfigurationError, match="must be an asset id"):
        config(btc_perp(), settlement_asset="usd coin", assets=(btc_asset(),))


def _refusal(text: str) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_config(text, path="venue.toml")
    return caught.value


@pytest.mark.parametrize("old, new, line, field", [
    ('id = "BTC"', 'id = "btc"', 10, "asset[1].id"),
    ("decimals = 8", "decimals = 8.0", 11, "asset[1].decimals"),
    ("decimals = 8", "decimals = 40", 11, "asset[1].decimals"),
    ('price_instrument = "BTC-PERP"', 'price_instrument = "SOL-PERP"', 12, "asset[1].price_instrument"),
    ("unit_value = [1, 100]", "unit_value = [1, 100, 3]", 13, "asset[1].unit_value"),
    ("unit_value = [1, 100]", "unit_value = [0, 100]", 13, "asset[1].unit_value"),
    ("[0, 800_000]]", "[0, 960_000]]", 14, "asset[1].haircut[2]"),
    ("[0, 800_000]]", '[0, "80%"]]', 14, "asset[1].haircut[2]"),
    ("cap = 0", "cap = -5", 15, "asset[1].cap"),
    ("conversion_penalty_ppm = 10_000", "conversion_penalty_ppm = 2_000_000", 16,
     "asset[1].conversion_penalty_ppm"),
    ("conversion_penalty_ppm = 10_000", "turbo = true", 16, "asset[1].turbo"),
    ("settlement = true", "settlement = 1", 7, "asset[0].settlement"),
])
def test_a_bad_asset_field_names_its_line_and_field(old, new, line, field):
    assert old in CONFIG_TOML
    error = _refusal(CONFIG_TOML.replace(old, new, 1))
    assert (error.path, error.line, error.field) == ("venue.toml", line, field), str(error)


def test_exactly_one_settlement_asset():
    unmarked = _refusal(CONFIG_TOML.replace("settlement = true\n", ""))
    assert unmarked.field == "asset[0].price_instrument" and "collateral asset" in str(unmarked)
    none = _refusal(CONFIG_TOML.replace('[[asset]]\nid = "USDC"\ndecimals = 6\nsettlement = true\n\n', ""))
    assert none.field == "asset" and none.line == 4 and "settlement = true" in str(none)
    two = _refusal(CONFIG_TOML.replace('decimals = 8\n', 'decimals = 8\nsettlement = true\n', 1))
    assert two.field == "asset[1].settlement"
    assert "exactly one asset settles" in str(two)


def test_the_settlement_asset_takes_no_collateral_keys_and_collateral_needs_them():
    error = _refusal(CONFIG_TOML.replace("settlement = true\n", "settlement = true\ncap = 5\n"))
    assert (error.field, error.line) == ("asset[0].cap", 8)
    error = _refusal(CONFIG_TOML.replace('unit_value = [1, 100]\n', ""))
    assert (error.field, error.line) == ("asset[1].unit_value", 9)  # missing: the table's header line


def test_the_settlement_label_must_agree_with_the_settlement_asset():
    error = _refusal('settlement_asset = "USD"\n' + CONFIG_TOML)
    assert (error.field, error.line) == ("settlement_asset", 1)
    assert parse_config('settlement_asset = "USDC"\n' + CONFIG_TOML, path="x").settlement_asset == "USDC"
