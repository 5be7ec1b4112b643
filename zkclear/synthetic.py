"""A synthetic market for the demo, the examples and the end-to-end tests.

:func:`generate_market` writes a deployment configuration and one directory of input files per epoch
(the formats of docs/format.md), from a seed: traders with varied leverage (a quarter of them on portfolio
margin), opted-in liquidators, a capitalized insurance fund, perpetuals, a dated future and premium-style
European options on the BTC perpetual, marks from three oracle sources (one of them an outlier the guard drops), implied
volatilities, and a price path with a crash. With ``collateral`` (issue 13) the market settles in USDC and takes BTC
and ETH as collateral with tiered haircuts: a fifth of the traders post most of their capital in BTC or ETH, so the
crash, which hits their collateral as well as their positions, makes the engine convert collateral at liquidation.
Input files are integers; the same seed gives byte-identical files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: (id, kind, start price in ticks, contract multiplier, initial ppm, maintenance ppm)
_INSTRUMENTS = (
    ("BTC-PERP", "perpetual", 60_000, 1_000, 100_000, 50_000),
    ("ETH-PERP", "perpetual", 3_000, 10_000, 100_000, 50_000),
    ("BTC-FUT", "dated_future", 60_500, 1_000, 120_000, 60_000),
)
#: European options on BTC-PERP: (id, type, strike in ticks, implied vol ppm, multiplier)
_OPTIONS = (
    ("BTC-C-60000", "call", 60_000, 600_000, 1_000),
    ("BTC-P-54000", "put", 54_000, 650_000, 1_000),
)
LIQUIDATORS = ("LIQ-1", "LIQ-2")
GENESIS_TIMESTAMP = 1_767_225_600  # 2026-01-01T00:00:00Z
EPOCH_SECONDS = 86_400
ORACLE_SOURCES = ("venue-a", "venue-b", "venue-c")
#: Collateral assets of the market with ``collateral``: (id, decimals, price instrument, unit value, haircut tiers
#: by value in USDC units [upper bound, ratio ppm]). BTC in sat: one sat at 1 USD is 0.01 unit; ETH in gwei (its
#: balances must fit 2^62 − 1 smallest units): one gwei at 1 USD is 0.001 unit.
COLLATERAL_ASSETS = (
    ("BTC", 8, "BTC-PERP", (1, 100), ((100_000_000_000, 950_000), (1_000_000_000_000, 900_000), (0, 750_000))),
    ("ETH", 9, "ETH-PERP", (1, 1_000), ((50_000_000_000, 900_000), (0, 700_000))),
)
#: Every this-many traders posts collateral (alternately BTC and ETH) instead of most of its USDC.
COLLATERAL_EVERY = 5


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """Shape of the synthetic market. ``crash_epoch`` moves every price by ``crash_ppm`` (−350,000 = −35 %);
    ``insurance_fund`` is its initial capital (settlement units): small enough and the crash exhausts it."""

    accounts: int = 200
    epochs: int = 4
    fills_per_epoch: int = 400
    crash_epoch: int = 3
    crash_ppm: int = -350_000
    seed: int = 2026
    deficit_resolution: str = "adl"
    insurance_fund: int = 200_000_000_000
    options: bool = True
    collateral: bool = False
    publish_insurance_fund: bool = False

    @property
    def expiry_epoch(self) -> int:
        return self.epochs + 10


def config_toml(spec: MarketSpec) -> str:
    """The deployment configuration (zkclear.toml) of the synthetic market."""
    settlement = ['settlement_asset = "USDC"', "settlement_decimals = 6"] if not spec.collateral else []
    lines = [
        *settlement,
        "liquidation_penalty_ppm = 10000",
        "liquidation_buffer_ppm = 100000",
        "funding_clamp_ppm = 5000",
        f'deficit_resolution = "{spec.deficit_resolution}"',
        "liquidators = [" + ", ".join(f'"{name}"' for name in LIQUIDATORS) + "]",
        "allow_self_trade = false",
        *(["publish_insurance_fund = true"] if spec.publish_insurance_fund else []),
    ]
    if spec.options:
        lines += [f"genesis_timestamp = {GENESIS_TIMESTAMP}", f"epoch_seconds = {EPOCH_SECONDS}",
                  "portfolio_margin = true", 'option_settlement = "premium"', "",
                  "[oracle]", "max_staleness_seconds = 600", "max_deviation_ppm = 20000", "min_sources = 2",
                  "circuit_breaker_ppm = 500000"]
    for instrument_id, kind, _price, multiplier, initial, maintenance in _INSTRUMENTS:
        lines += ["", "[[instrument]]", f'id = "{instrument_id}"', f'kind = "{kind}"', "tick_size = 1",
                  "lot_size = 1", f"contract_multiplier = {multiplier}", f"initial_margin_ppm = {initial}",
                  f"maintenance_margin_ppm = {maintenance}", 'margin_model = "linear"']
        if spec.options:
            lines.append('underlying = "BTC"' if instrument_id.startswith("BTC") else 'underlying = "ETH"')
        if kind == "dated_future":
            lines.append(f"expiry_epoch = {spec.expiry_epoch}")
    if spec.options:
        for option_id, option_type, strike, _vol, multiplier in _OPTIONS:
            lines += ["", "[[instrument]]", f'id = "{option_id}"', 'kind = "option"', 'underlying = "BTC-PERP"',
                      f'option_type = "{option_type}"', f"strike = {strike}", f"expiry_epoch = {spec.expiry_epoch}",
                      "tick_size = 1", "lot_size = 1", f"contract_multiplier = {multiplier}",
                      "initial_margin_ppm = 150000", "maintenance_margin_ppm = 100000"]
    if spec.collateral:
        lines += ["", "[[asset]]", 'id = "USDC"', "decimals = 6", "settlement = true"]
        for asset_id, decimals, instrument, (numerator, denominator), tiers in COLLATERAL_ASSETS:
            haircut = ", ".join(f"[{bound}, {ratio}]" for bound, ratio in tiers)
            lines += ["", "[[asset]]", f'id = "{asset_id}"', f"decimals = {decimals}",
                      f'price_instrument = "{instrument}"', f"unit_value = [{numerator}, {denominator}]",
                      f"haircut = [{haircut}]", "conversion_penalty_ppm = 10000"]
    return "\n".join(lines) + "\n"


def option_premium(spec: MarketSpec, epoch: int, underlying: int, option: tuple) -> int:
    """A trade price for an option (ticks): Black-76 at the option's implied vol. Floats are fine here:
    this only makes up synthetic trade prices; the engine marks options itself, in integers."""
    from zkclear.risk.black76 import black76_price

    _id, option_type, strike, vol_ppm, _multiplier = option
    years = (spec.expiry_epoch - epoch) * EPOCH_SECONDS / (365 * 86_400)
    price = black76_price(float(underlying), float(strike), vol_ppm / 1e6, years, is_call=option_type == "call")
    return max(1, round(price))


def price_path(spec: MarketSpec) -> list[tuple[int, ...]]:
    """Mark prices (ticks) per epoch: a small random walk, and the crash in ``crash_epoch``."""
    rng = random.Random(spec.seed ^ 0x5EED)
    prices = [p for _, _, p, *_ in _INSTRUMENTS]
    path = []
    for epoch in range(1, spec.epochs + 1):
        move = spec.crash_ppm if epoch == spec.crash_epoch else rng.randint(-20_000, 20_000)
        prices = [max(1, p + p * move // 1_000_000) for p in prices]
        path.append(tuple(prices))
    return path


def trader_ids(spec: MarketSpec) -> list[str]:
    return [f"trader-{i:04d}" for i in range(spec.accounts)]


def generate_market(directory: Path, spec: MarketSpec) -> tuple[Path, list[Path]]:
    """Write ``zkclear.toml`` and ``epoch-N/`` input directories under ``directory``; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "zkclear.toml"
    config_path.write_text(config_toml(spec), encoding="utf-8")
    rng = random.Random(spec.seed)
    traders = trader_ids(spec)
    # Leverage varies: most traders are prudent, a tail runs close to the initial requirement, so the
    # crash liquidates some and bankrupts a few.
    capital = {t: rng.choice((5, 10, 20, 50, 100)) * 1_000_000_000 for t in traders}
    target_leverage = {t: rng.choice((1, 2, 3, 5, 8, 10)) for t in traders}
    exposure: dict[str, int] = dict.fromkeys(traders, 0)
    longs = traders[: len(traders) // 2]
    shorts = traders[len(traders) // 2:]
    paths = price_path(spec)
    epoch_dirs = []
    fill_number = 0
    for epoch, prices in enumerate(paths, start=1):
        epoch_dir = directory / f"epoch-{epoch}"
        epoch_dir.mkdir(exist_ok=True)
        epoch_dirs.append(epoch_dir)
        if epoch == 1:
            modes = ["portfolio" if spec.options and i % 4 == 3 else "standard" for i in range(len(traders))]
            _write_csv(epoch_dir / "accounts.csv", ("account", "margin_mode"),
                       [*zip(traders, modes, strict=True), *((a, "standard") for a in LIQUIDATORS)])
            transfers = [(f"t-{i}", "deposit", t, capital[t]) for i, t in enumerate(traders)]
            transfers += [(f"t-liq-{i}", "deposit", liq, 50_000_000_000_000) for i, liq in enumerate(LIQUIDATORS)]
            transfers.append(("t-fund", "deposit", "CH:insurance", spec.insurance_fund))
            if spec.collateral:
                transfers = _with_collateral(transfers, traders, prices)
            header = ("transfer_id", "kind", "account", "amount", *(("asset",) if spec.collateral else ()))
            _write_csv(epoch_dir / "transfers.csv", header, transfers)
        elif epoch == spec.epochs:
            withdrawals = [(f"w-{epoch}-{i}", "withdrawal", t, capital[t] // 10)
                           for i, t in enumerate(rng.sample(traders, max(1, len(traders) // 20)))]
            header = ("transfer_id", "kind", "account", "amount")
            if spec.collateral:  # and a collateral holder takes back a tenth of its BTC or ETH
                holder = traders[0]
                withdrawals = [(*w, "") for w in withdrawals]
                withdrawals.append((f"w-{epoch}-collateral", "withdrawal", holder,
                                    _collateral_units(holder, capital[holder], traders, prices) // 10,
                                    _collateral_asset(holder, traders)[0]))
                header = (*header, "asset")
            _write_csv(epoch_dir / "transfers.csv", header, withdrawals)
        fills = []
        if epoch < spec.crash_epoch:
            for _ in range(spec.fills_per_epoch):
                # Most trades go from a long-biased trader to a short-biased one, so exposures build up.
                if rng.random() < 0.8:
                    buyer, seller = rng.choice(longs), rng.choice(shorts)
                else:
                    buyer, seller = rng.sample(traders, 2)
                j = rng.randrange(len(_INSTRUMENTS))
                notional_per_lot = prices[j] * _INSTRUMENTS[j][3]
                room = min(capital[t] * target_leverage[t] - exposure[t] for t in (buyer, seller))
                if room < notional_per_lot:
                    continue
                size = rng.randint(1, max(1, room // notional_per_lot // 2))
                exposure[buyer] += size * notional_per_lot
                exposure[seller] += size * notional_per_lot
                fill_number += 1
                fee = size * notional_per_lot // 10_000  # 1 bp
                fills.append((f"f-{fill_number:07d}", buyer, seller, _INSTRUMENTS[j][0], size, prices[j], fee, fee))
            if spec.options:
                fill_number = _option_fills(spec, epoch, prices[0], rng, longs, shorts, fills, fill_number)
        _write_csv(epoch_dir / "fills.csv",
                   ("fill_id", "buyer", "seller", "instrument", "size", "price", "buyer_fee", "seller_fee"), fills)
        funding = {spec_[0]: rng.randint(-300, 300) for spec_ in _INSTRUMENTS if spec_[1] == "perpetual"}
        if spec.options:
            _write_oracle(epoch_dir, epoch, prices, funding, rng)
            _write_csv(epoch_dir / "vols.csv", ("instrument", "implied_vol_ppm"),
                       [(option_id, vol) for option_id, _t, _k, vol, _m in _OPTIONS])
        else:
            marks = [{"instrument": spec_[0], "mark_price": price, "funding_rate_ppm": funding.get(spec_[0])}
                     for spec_, price in zip(_INSTRUMENTS, prices, strict=True)]
            (epoch_dir / "prices.json").write_text(json.dumps({"marks": marks}, indent=1) + "\n", encoding="utf-8")
    return config_path, epoch_dirs


def _collateral_asset(trader: str, traders: list[str]) -> tuple | None:
    """The collateral asset a trader posts (every :data:`COLLATERAL_EVERY`-th trader, BTC and ETH in turn)."""
    k = traders.index(trader)
    if k % COLLATERAL_EVERY:
        return None
    return COLLATERAL_ASSETS[(k // COLLATERAL_EVERY) % len(COLLATERAL_ASSETS)]


def _collateral_units(trader: str, capital: int, traders: list[str], prices: tuple[int, ...]) -> int:
    """Smallest units of its asset worth 80 % of a collateral trader's capital at the first epoch's price."""
    _asset_id, _decimals, instrument, (numerator, denominator), _tiers = _collateral_asset(trader, traders)
    price = prices[[spec[0] for spec in _INSTRUMENTS].index(instrument)]
    return capital * 4 // 5 * denominator // (price * numerator)


def _with_collateral(transfers: list[tuple], traders: list[str], prices: tuple[int, ...]) -> list[tuple]:
    """The first epoch's deposits of a market with collateral: a collateral trader deposits a fifth of its
    capital in USDC and the rest in BTC or ETH (at the first epoch's price), so its leverage is unchanged."""
    rows = []
    for transfer_id, kind, account, amount in transfers:
        asset = _collateral_asset(account, traders) if account in traders else None
        if asset is None:
            rows.append((transfer_id, kind, account, amount, ""))
            continue
        rows.append((transfer_id, kind, account, amount // 5, ""))
        rows.append((f"{transfer_id}-{asset[0]}", kind, account, _collateral_units(account, amount, traders, prices),
                     asset[0]))
    return rows


def _option_fills(spec: MarketSpec, epoch: int, underlying: int, rng: random.Random, longs: list[str],
                  shorts: list[str], fills: list[tuple], fill_number: int) -> int:
    """A few option trades: portfolio-margin traders write (sell) options, others buy them."""
    for option in _OPTIONS:
        premium = option_premium(spec, epoch, underlying, option)
        for _ in range(max(1, len(longs) // 8)):
            writer = rng.choice([t for t in shorts + longs if int(t.split("-")[1]) % 4 == 3] or shorts)
            buyer = rng.choice([t for t in longs + shorts if t != writer])
            fill_number += 1
            fills.append((f"f-{fill_number:07d}", buyer, writer, option[0], rng.randint(1, 5), premium, 0, 0))
    return fill_number


def _write_oracle(epoch_dir: Path, epoch: int, prices: tuple[int, ...], funding: dict[str, int],
                  rng: random.Random) -> None:
    """Three sources per instrument at the epoch's close time; in odd epochs one is a 5 % outlier that the
    guard drops (and reports)."""
    close = GENESIS_TIMESTAMP + epoch * EPOCH_SECONDS
    rows = []
    for (instrument_id, *_rest), price in zip(_INSTRUMENTS, prices, strict=True):
        for k, source in enumerate(ORACLE_SOURCES):
            quote = price + price // 20 if (k == 2 and epoch % 2 == 1) else price
            rows.append((instrument_id, source, quote, close - rng.randint(0, 30)))
    _write_csv(epoch_dir / "oracle.csv", ("instrument", "source", "price", "timestamp"), rows)
    _write_csv(epoch_dir / "funding.csv", ("instrument", "funding_rate_ppm"), sorted(funding.items()))


#: A block per chain for demo and test reserves (height, hash in the chain's format): Bitcoin's is the real block
#: 840,000; the others are well-formed stand-ins (zkclear cannot read a chain: reserves are the operator's input).
DEMO_BLOCKS = {
    "bitcoin": (840_000, "0000000000000000000320283a032748cef8227873ff4872689bf23f1cda83a5"),
    "ethereum": (19_000_000, "0x" + hashlib.sha256(b"zkclear demo ethereum block").hexdigest()),
    "arbitrum": (170_000_000, "0x" + hashlib.sha256(b"zkclear demo arbitrum block").hexdigest()),
    "solana": (250_000_000, "4sGjMW1sUnHzSxGspuhpqLDx6wiyjNtZAMdL4VZHirAn"),
}


def reserves_csv(holders: Sequence[tuple[str, str, str]], totals: Mapping[str, int]) -> str:
    """A reserves.csv v2 (docs/format.md) holding ``totals[asset]`` (the chain's smallest unit) of each asset,
    split evenly over its ``(chain, asset, address)`` holders (the last takes the remainder), at the demo block of
    each chain."""
    rows = [",".join(("chain", "asset", "address", "balance", "block_height", "block_hash"))]
    for asset, total in totals.items():
        mine = [h for h in holders if h[1] == asset]
        share = total // len(mine)
        for i, (chain, _, address) in enumerate(mine):
            balance = share if i < len(mine) - 1 else total - share * (len(mine) - 1)
            height, block_hash = DEMO_BLOCKS[chain]
            rows.append(f"{chain},{asset},{address},{balance},{height},{block_hash}")
    return "\n".join(rows) + "\n"


def _write_csv(path: Path, header: tuple[str, ...], rows: list[tuple]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
