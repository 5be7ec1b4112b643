"""A deployment with engine-marked options and portfolio margin, written as input files (shared by the
issue-5 clearing tests).

``BTC-PERP`` (perpetual, group ``BTC``, 10 units per lot per tick, IM 10 % / MM 5 %), a put and a call on it
(strikes 30,000 and 33,000 ticks, expiring in epoch 3, option-standard margin IM 15 % / MM 10 % of the
forward), epochs one day apart from ``GENESIS``; ``portfolio_margin = true`` (the risk package's default grid).
"""

from __future__ import annotations

from pathlib import Path

GENESIS = 1_700_000_000
DAY = 86_400
PERP = "BTC-PERP"
PUT = "BTC-P-30000"
CALL = "BTC-C-33000"
MULTIPLIER = 10

CONFIG = f"""\
genesis_timestamp = {GENESIS}
epoch_seconds = {DAY}
liquidators = ["LIQ"]
portfolio_margin = true

[[instrument]]
id = "{PERP}"
kind = "perpetual"
underlying = "BTC"
tick_size = 1
lot_size = 1
contract_multiplier = {MULTIPLIER}
initial_margin_ppm = 100000
maintenance_margin_ppm = 50000

[[instrument]]
id = "{PUT}"
kind = "option"
underlying = "{PERP}"
option_type = "put"
strike = 30000
expiry_epoch = 3
tick_size = 1
lot_size = 1
contract_multiplier = {MULTIPLIER}
initial_margin_ppm = 150000
maintenance_margin_ppm = 100000

[[instrument]]
id = "{CALL}"
kind = "option"
underlying = "{PERP}"
option_type = "call"
strike = 33000
expiry_epoch = 3
tick_size = 1
lot_size = 1
contract_multiplier = {MULTIPLIER}
initial_margin_ppm = 150000
maintenance_margin_ppm = 100000
"""


def write_files(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def csv(header: str, *rows: str) -> str:
    return "\n".join((header, *rows)) + "\n"


def epoch_files(perp_mark: int, vols: dict[str, int], fills: tuple[str, ...] = (),
                accounts: tuple[str, ...] = (), transfers: tuple[str, ...] = (),
                extra: dict[str, str] | None = None) -> dict[str, str]:
    files = {
        "prices.csv": csv("instrument,mark_price,funding_rate_ppm", f"{PERP},{perp_mark},0"),
        "fills.csv": csv("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee", *fills),
    }
    if vols:
        files["vols.csv"] = csv("instrument,implied_vol_ppm", *(f"{k},{v}" for k, v in vols.items()))
    if accounts:
        files["accounts.csv"] = csv("account,margin_mode", *accounts)
    if transfers:
        files["transfers.csv"] = csv("transfer_id,kind,account,amount", *transfers)
    return files | (extra or {})
