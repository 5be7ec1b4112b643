"""Shared builders for the multi-asset collateral tests (issue 13): a USDC-settled deployment with BTC collateral
priced by the BTC perpetual.

Units of the hand-worked scenarios: USDC has 6 decimals (1 USDC = 1,000,000 units); BTC has 8 (1 BTC =
100,000,000 sat); BTC-PERP is quoted in whole USD per tick with 0.001 BTC lots, so ``contract_multiplier =
1,000`` units per lot per tick; ``unit_value = [1, 100]``: one sat at one USD is 1e-8 USD = 0.01 unit. BTC's
haircut is Binance-shaped: the first 100,000 USDC of value at 100 %, the next 900,000 at 95 %, above at 80 %.
"""

from __future__ import annotations

import dataclasses

from tests.clearing.clearing_helpers import config
from zkclear.clearing.assets import CollateralAsset, HaircutTier
from zkclear.clearing.config import ClearingConfig
from zkclear.clearing.inputs import Transfer
from zkclear.clearing.instruments import InstrumentSpec

USDC = 1_000_000          # units per USDC
BTC = 100_000_000         # sat per BTC
PERP = "BTC-PERP"
ETH_PERP = "ETH-PERP"
BTC_TIERS = (HaircutTier(100_000 * USDC, 1_000_000), HaircutTier(1_000_000 * USDC, 950_000),
             HaircutTier(0, 800_000))


def btc_perp(**changes: object) -> InstrumentSpec:
    """BTC-PERP: 1 USD ticks, 0.001 BTC lots (1,000 units per lot per tick), IM 10 %, MM 5 %."""
    spec = InstrumentSpec(PERP, "perpetual", tick_size=1, lot_size=1, contract_multiplier=1_000,
                          initial_margin_ppm=100_000, maintenance_margin_ppm=50_000)
    return dataclasses.replace(spec, **changes)


def eth_perp() -> InstrumentSpec:
    return InstrumentSpec(ETH_PERP, "perpetual", tick_size=1, lot_size=1, contract_multiplier=10_000,
                          initial_margin_ppm=100_000, maintenance_margin_ppm=50_000)


def btc_asset(**changes: object) -> CollateralAsset:
    asset = CollateralAsset("BTC", 8, PERP, (1, 100), BTC_TIERS)
    return dataclasses.replace(asset, **changes)


def eth_asset(**changes: object) -> CollateralAsset:
    """ETH counted in gwei (9 decimals: a balance must fit 2^62 − 1 smallest units) priced by ETH-PERP in whole
    USD: one gwei at one USD is 1e-3 unit."""
    asset = CollateralAsset("ETH", 9, ETH_PERP, (1, 1_000),
                            (HaircutTier(50_000 * USDC, 950_000), HaircutTier(0, 700_000)))
    return dataclasses.replace(asset, **changes)


def multi_config(*assets: CollateralAsset, specs: tuple[InstrumentSpec, ...] = (), **options: object
                 ) -> ClearingConfig:
    """A USDC-settled deployment with BTC collateral by default."""
    return config(*(specs or (btc_perp(),)), settlement_asset="USDC", assets=assets or (btc_asset(),), **options)


def deposit_asset(account: str, amount: int, asset: str, transfer_id: str | None = None) -> Transfer:
    return Transfer(transfer_id or f"dep-{account}-{asset}-{amount}", "deposit", account, amount, asset=asset)


def withdraw_asset(account: str, amount: int, asset: str, transfer_id: str | None = None) -> Transfer:
    return Transfer(transfer_id or f"wd-{account}-{asset}-{amount}", "withdrawal", account, amount, asset=asset)


CONFIG_TOML = """\
liquidation_penalty_ppm = 10000
liquidation_buffer_ppm = 100000

[[asset]]
id = "USDC"
decimals = 6
settlement = true

[[asset]]
id = "BTC"
decimals = 8
price_instrument = "BTC-PERP"
unit_value = [1, 100]
haircut = [[100_000_000_000, 1_000_000], [1_000_000_000_000, 950_000], [0, 800_000]]
cap = 0
conversion_penalty_ppm = 10_000

[[instrument]]
id = "BTC-PERP"
kind = "perpetual"
tick_size = 1
lot_size = 1
contract_multiplier = 1000
initial_margin_ppm = 100000
maintenance_margin_ppm = 50000
"""
