"""Bad inputs: each is one InputError naming the file, line and field, and nothing is applied (the ledger head
and state stay as they were)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkclear.clearing.io import load_config, load_epoch, parse_prices_json
from zkclear.clearing.ledger import Ledger
from zkclear.errors import InputError

CONFIG = """\
settlement_asset = "USDC"
settlement_decimals = 6
liquidation_penalty_ppm = 10000
liquidation_buffer_ppm = 100000
funding_clamp_ppm = 10000
deficit_resolution = "adl"
liquidators = ["LIQ"]
allow_self_trade = false

[[instrument]]
id = "BTC-PERP"
kind = "perpetual"
tick_size = 50
lot_size = 10
contract_multiplier = 5
initial_margin_ppm = 100000
maintenance_margin_ppm = 50000

[[instrument]]
id = "ETH-DEC"
kind = "dated_future"
tick_size = 1
lot_size = 1
contract_multiplier = 10
initial_margin_ppm = 100000
maintenance_margin_ppm = 50000
margin_model = "tiered"
expiry_epoch = 5

[[instrument.maintenance_tiers]]
notional_bound = 1000000
rate_ppm = 50000
deduction = 0

[[instrument.maintenance_tiers]]
notional_bound = 10000000
rate_ppm = 100000
deduction = 50000

[[instrument.initial_tiers]]
notional_bound = 1000000
rate_ppm = 100000
deduction = 0
"""

GOOD_EPOCH_1 = {
    "accounts.csv": "account,margin_mode\nA,standard\nB,standard\nLIQ,standard\n",
    "fills.csv": ("fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
                  "f1,A,B,BTC-PERP,30,100000,7,3\n"
                  "f2,B,A,ETH-DEC,2,2000,0,0\n"),
    "prices.csv": "instrument,mark_price,funding_rate_ppm\nBTC-PERP,100050,0\nETH-DEC,2001,\n",
    "transfers.csv": ("transfer_id,kind,account,amount\nd1,deposit,A,10000000\nd2,deposit,B,10000000\n"
                      "d3,deposit,LIQ,10000000\n"),
}


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


@pytest.fixture()
def deployment(tmp_path: Path):
    config = load_config(write(tmp_path, {"zkclear.toml": CONFIG}) / "zkclear.toml")
    ledger = Ledger(tmp_path / "ledger.sqlite", config)
    ledger.commit(load_epoch(write(tmp_path / "e1", GOOD_EPOCH_1), 1, config), scratch=tmp_path)
    yield tmp_path, config, ledger
    ledger.close()


def test_good_files_parse_into_ticks_and_lots(deployment) -> None:
    """30 quantity units / lot size 10 = 3 lots; 100,000 price units / tick 50 = 2,000 ticks; mark 100,050 /
    50 = 2,001 ticks. A's leg settles 3 * (2,001 - 2,000) * 5 = 15 against the mark."""
    _, _, ledger = deployment
    state = ledger.state()
    assert state.position_of("A", "BTC-PERP") == 3 and state.position_of("A", "ETH-DEC") == -2
    assert state.settlement_prices == (2001, 2001)
    assert state.cash_of("A") == 10_000_000 - 7 + 15 - 2 * (2001 - 2000) * 10


BAD_CASES = [
    # (file, replacement text, expected line, expected field, message fragment)
    ("fills.csv", "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
                  "g1,A,B,BTC-PERP,10,100000,0,0\ng1,B,A,BTC-PERP,10,100000,0,0\n", 3, "fill_id",
     "duplicate"),
    ("fills.csv", "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
                  "g1,A,B,BTC-PERP,10,100000,0,0\ng2,A,ZED,BTC-PERP,10,100000,0,0\n", 3, "seller",
     "unknown account 'ZED'"),
    ("fills.csv", "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
                  "g1,A,B,DOGE-PERP,10,100000,0,0\n", 2, "instrument", "unknown instrument"),
    ("fills.csv", "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
                  "g1,A,B,BTC-PERP,0,100000,0,0\n", 2, "size", "positive"),
    ("fills.csv", "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
                  "g1,A,B,BTC-PERP,-10,100000,0,0\n", 2, "size", "negative"),
    ("fills.csv", "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
                  "g1,A,B,BTC-PERP,10,100025,0,0\n", 2, "price", "tick size 50"),
    ("fills.csv", "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
                  "g1,A,B,BTC-PERP,15,100000,0,0\n", 2, "size", "lot size 10"),
    ("fills.csv", "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
                  "g1,A,B,BTC-PERP,10,100000.5,0,0\n", 2, "price", "integer"),
    ("fills.csv", "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
                  "g1,A,B,BTC-PERP,10,100000,0,0\ng2,A,A,BTC-PERP,10,100000,0,0\n", 3, "seller",
     "self-trade"),
    ("fills.csv", "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
                  "g1,A,CH:insurance,BTC-PERP,10,100000,0,0\n", 2, "seller", "may not trade"),
    ("fills.csv", "fill_id,buyer,seller,instrument,size,price\ng1,A,B,BTC-PERP,10,100000\n", 1, None,
     "header"),
    ("fills.csv", "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
                  "g1,A,B,BTC-PERP,10,100000,0\n", 2, None, "expected 8 fields"),
    ("prices.csv", "instrument,mark_price,funding_rate_ppm\nBTC-PERP,100050,0\n", None, "mark_price",
     "no mark price for live instrument 'ETH-DEC'"),
    ("prices.csv", "instrument,mark_price,funding_rate_ppm\nBTC-PERP,100050,0\nETH-DEC,2001,5\n", 3,
     "funding_rate_ppm", "pays no funding"),
    ("prices.csv", "instrument,mark_price,funding_rate_ppm\nBTC-PERP,100050,\nETH-DEC,2001,\n", 2,
     "funding_rate_ppm", "needs an integer funding rate"),
    ("prices.csv", "instrument,mark_price,funding_rate_ppm\nBTC-PERP,100051,0\nETH-DEC,2001,\n", 2,
     "mark_price", "tick size"),
    ("prices.csv", "instrument,mark_price,funding_rate_ppm\nBTC-PERP,100050,0\nBTC-PERP,100050,0\n"
                   "ETH-DEC,2001,\n", 3, "instrument", "second mark"),
    ("transfers.csv", "transfer_id,kind,account,amount\nt1,deposit,A,5\nt1,withdrawal,A,5\n", 3,
     "transfer_id",
     "duplicate"),
    ("transfers.csv", "transfer_id,kind,account,amount\nt1,deposit,NOBODY,5\n", 2, "account", "unknown"),
    ("transfers.csv", "transfer_id,kind,account,amount\nt1,gift,A,5\n", 2, "kind", "deposit"),
    ("transfers.csv", "transfer_id,kind,account,amount\nt1,deposit,A,0\n", 2, "amount", "positive"),
    ("transfers.csv", "transfer_id,kind,account,amount\nt1,deposit,A,99999999999999999999\n", 2, "amount",
     "2**62"),
    ("accounts.csv", "account,margin_mode\nC,portfolio\n", 2, "margin_mode", "not supported"),
    ("margins.csv", "instrument,initial_margin_ppm,maintenance_margin_ppm\nDOGE,2,1\n", 2, "instrument",
     "unknown instrument"),
    ("margins.csv", "instrument,initial_margin_ppm,maintenance_margin_ppm\nBTC-PERP,50000,60000\n", 2,
     "initial_margin_ppm", ">= maintenance"),
    ("margins.csv", "instrument,initial_margin_ppm,maintenance_margin_ppm\nBTC-PERP,2000000,60000\n", 2,
     "initial_margin_ppm", "[1, 1000000]"),
    ("accounts.csv", "account,margin_mode\nA,standard\n", 2, "account", "already exists"),
    ("accounts.csv", "account,margin_mode\nCH:mine,standard\n", 2, "account", "reserved"),
    # a look-alike of the clearing house's own accounts in another case
    ("accounts.csv", "account,margin_mode\nch:insurance,standard\n", 2, "account", "reserved"),
    # the receiver liquidation events name for auto-deleveraging: an account of that name made them ambiguous
    ("accounts.csv", "account,margin_mode\nADL,standard\n", 2, "account", "reserved"),
]


@pytest.mark.parametrize(("name", "text", "line", "field", "fragment"), BAD_CASES,
                         ids=[f"{c[0]}:{c[4]}" for c in BAD_CASES])
def test_bad_epoch_file_names_file_line_field_and_leaves_the_ledger_unchanged(
        deployment, name, text, line, field, fragment) -> None:
    tmp_path, config, ledger = deployment
    head_before, state_before = ledger.head(), ledger.state().canonical_bytes()
    files = {"fills.csv": "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n",
             "prices.csv": "instrument,mark_price,funding_rate_ppm\nBTC-PERP,100050,0\nETH-DEC,2001,\n",
             name: text}
    directory = write(tmp_path / "e2", files)
    with pytest.raises(InputError) as error:
        ledger.commit(load_epoch(directory, 2, config), scratch=tmp_path)
    assert fragment in str(error.value)
    assert error.value.path == str(directory / name)
    assert error.value.line == line
    assert error.value.field == field
    assert ledger.head() == head_before and ledger.state().canonical_bytes() == state_before


def test_wrong_epoch_number_is_refused_without_change(deployment) -> None:
    tmp_path, config, ledger = deployment
    directory = write(tmp_path / "e3", {
        "fills.csv": "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n",
        "prices.csv": "instrument,mark_price,funding_rate_ppm\nBTC-PERP,100050,0\nETH-DEC,2001,\n"})
    with pytest.raises(InputError, match="epoch must be 2") as error:
        ledger.commit(load_epoch(directory, 3, config), scratch=tmp_path)
    assert error.value.field == "epoch" and ledger.head()[0] == 1


def test_prices_json_errors_name_the_record_line_and_field(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"zkclear.toml": CONFIG}) / "zkclear.toml")
    path = tmp_path / "prices.json"
    path.write_text('{"marks": [\n  {"instrument": "BTC-PERP", "mark_price": 100050, '
                    '"funding_rate_ppm": 0},\n'
                    '  {"instrument": "ETH-DEC", "mark_price": 2001.5}\n]}\n')
    with pytest.raises(InputError) as error:
        parse_prices_json(path, config)
    assert (error.value.line, error.value.field) == (3, "marks[1].mark_price")
    path.write_text('{"marks": [{"instrument": "BTC-PERP", "mark_price": 100050, "extra": 1}]}')
    with pytest.raises(InputError, match="unknown key") as error:
        parse_prices_json(path, config)
    assert error.value.field == "marks[0].extra"
    path.write_text('{"marks": [\n  {"instrument": "BTC-PERP", "mark_price": 100050, '
                    '"funding_rate_ppm": 0},\n'
                    '  {"instrument": "ETH-DEC", "mark_price": 2001, "funding_rate_ppm": null}\n]}\n')
    marks = parse_prices_json(path, config)
    assert [(m.instrument, m.mark_price, m.funding_rate_ppm, m.line) for m in marks] == [
        ("BTC-PERP", 2001, 0, 2), ("ETH-DEC", 2001, None, 3)]


def test_a_prices_json_integer_of_thousands_of_digits_is_refused_on_its_record_and_field(tmp_path: Path) -> None:
    """Before: Python's own refusal to convert more than 4,300 digits, with its advice to call
    ``sys.set_int_max_str_digits()``, named neither the record nor the field."""
    config = load_config(write(tmp_path, {"zkclear.toml": CONFIG}) / "zkclear.toml")
    path = tmp_path / "prices.json"
    path.write_text('{"marks": [\n  {"instrument": "BTC-PERP", "mark_price": 100050},\n'
                    '  {"instrument": "ETH-DEC", "mark_price": ' + "9" * 5000 + '}\n]}\n')
    with pytest.raises(InputError) as error:
        parse_prices_json(path, config)
    assert (error.value.line, error.value.field) == (3, "marks[1].mark_price")
    assert "(5000 digits)" in str(error.value) and "sys." not in str(error.value)
    assert len(str(error.value)) < 300


@pytest.mark.parametrize(("old", "new", "line", "field", "fragment"), [
    ("tick_size = 50", "tick_size = 50.0", 13, "instrument[0].tick_size", "must be int"),
    ("allow_self_trade = false", "allow_self_trade = 0", 8, "allow_self_trade", "must be bool"),
    ("lot_size = 10", "lot_sise = 10", 14, "instrument[0].lot_sise", "unknown key"),
    ('deficit_resolution = "adl"', 'deficit_resolution = "bailout"', 6, "deficit_resolution",
     "socialized_loss"),
    ("deduction = 50000", "deduction = 40000", 38, "instrument[1].maintenance_tiers[1].deduction",
     "continuity"),
    ("maintenance_margin_ppm = 50000\n\n[[instrument]]",
     "maintenance_margin_ppm = 150000\n\n[[instrument]]", 17,
     "instrument[0].maintenance_margin_ppm", "initial_margin_ppm must be >="),
    ('kind = "perpetual"', 'kind = "swap"', 12, "instrument[0].kind", "unknown instrument kind"),
    ("settlement_decimals = 6\n", "settlement_decimals = 6\nsettlement_decimals = 7\n", 3, None, "TOML"),
])
def test_bad_config_names_file_line_and_field(tmp_path: Path, old, new, line, field, fragment) -> None:
    assert old in CONFIG
    path = write(tmp_path, {"zkclear.toml": CONFIG.replace(old, new, 1)}) / "zkclear.toml"
    with pytest.raises(InputError) as error:
        load_config(path)
    assert fragment in str(error.value)
    assert (error.value.path, error.value.line, error.value.field) == (str(path), line, field)


def test_in_memory_records_are_validated_the_same_way_and_named_by_position() -> None:
    """Records built in code (not parsed from a file) get the same checks; the error names the record by its
    1-based position."""
    from tests.clearing.clearing_helpers import PERP, config, deposit, epoch_inputs, fill
    from zkclear.clearing.engine import apply_epoch
    from zkclear.clearing.state import EpochState

    cfg = config()
    genesis = EpochState.genesis(cfg)
    cases = [
        ([fill("x", "A", "B", 1, 1000), fill("x", "B", "A", 1, 1000)], "fill_id", 2, "duplicate fill id"),
        ([fill("x", "A", "B", 0, 1000)], "size", 1, "positive number of lots"),
        ([fill("x", "A", "B", 1, -5)], "price", 1, "positive number of ticks"),
        ([fill("x", "A", "B", 1, 1000, buyer_fee=-1)], "buyer_fee", 1, "non-negative"),
        ([fill("x", "A", "B", 2**41, 1000)], "size", 1, r"<= 2\*\*40"),
    ]
    for fills, field, line, fragment in cases:
        with pytest.raises(InputError, match=fragment) as error:
            apply_epoch(genesis, epoch_inputs(1, {PERP: 1000}, fills, [deposit("A", 10)], ["A", "B"]), cfg)
        assert (error.value.path, error.value.line, error.value.field) == ("<memory:fills>", line, field)
