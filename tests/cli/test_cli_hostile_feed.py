"""A hostile data feed and a careless operator against `zkclear init` and `zkclear epoch run` (red team): each
attack is refused with exit status 1 and one line naming the file (and the line and field where there is one),
never an internal error, and the deployment is left exactly as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.cli.cli_helpers import zkclear, zkclear_status
from tests.cli.test_cli_operator_safety import CONFIG as SAFETY_CONFIG

#: one perpetual, USDC-settled (the operator-safety tests' deployment)
CONFIG = 'settlement_asset = "USDC"\nsettlement_decimals = 6\n' + SAFETY_CONFIG
FILLS = "fill_id,buyer,seller,instrument,size,price,buyer_fee,seller_fee\n"
PRICES = "instrument,mark_price,funding_rate_ppm\n"
TRANSFERS = "transfer_id,kind,account,amount\n"
#: more digits than Python converts to an int (its parsers raise a bare ValueError, not a decode error)
HUGE = "9" * 5000


def _epoch(directory: Path, **files: str) -> Path:
    """Epoch 1 of a two-trader market; ``files`` replace (or, with None, remove) its files."""
    contents = {
        "accounts.csv": "account,margin_mode\nalice,standard\nbob,standard\nLIQ-1,standard\n",
        "transfers.csv": TRANSFERS + "t1,deposit,alice,100000000\nt2,deposit,bob,100000000\n",
        "fills.csv": FILLS + "f1,alice,bob,BTC-PERP,10,60000,5,5\n",
        "prices.csv": PRICES + "BTC-PERP,60000,10\n",
    }
    contents.update(files)
    directory.mkdir()
    for name, text in contents.items():
        if text is not None:
            (directory / name).write_text(text)
    return directory


@pytest.fixture
def venue(tmp_path) -> Path:
    config = tmp_path / "venue.toml"
    config.write_text(CONFIG)
    zkclear("init", tmp_path / "venue", "--config", config, "--height", 6, "--executor", "serial", "--venue",
            "Red Team")
    return tmp_path / "venue"


def _fingerprint(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _refused(command: tuple, *expected: str, deployment: Path | None = None) -> str:
    before = _fingerprint(deployment) if deployment else None
    code, out = zkclear_status(*command)
    assert code == 1 and out.count("\n") == 1 and out.startswith("error: "), out
    for fragment in expected:
        assert fragment in out, out
    if deployment:
        assert _fingerprint(deployment) == before, "a refused epoch changed the deployment"
    return out


@pytest.mark.parametrize(("name", "text", "where"), [
    ("fills.csv", FILLS + f"f1,alice,bob,BTC-PERP,{HUGE},60000,5,5\n", "fills.csv:2: field 'size'"),
    ("prices.csv", PRICES + f"BTC-PERP,{HUGE},10\n", "prices.csv:2: field 'mark_price'"),
    ("transfers.csv", TRANSFERS + f"t1,deposit,alice,{HUGE}\n", "transfers.csv:2: field 'amount'"),
    ("prices.json", '{"marks": [\n{"instrument": "BTC-PERP", "mark_price": ' + HUGE + ', "funding_rate_ppm": 1}]}',
     "prices.json:2:"),
])
def test_an_integer_of_thousands_of_digits_is_refused_not_an_internal_error(venue, tmp_path, name, text, where):
    files = {name: text, **({"prices.csv": None} if name == "prices.json" else {})}
    inputs = _epoch(tmp_path / "epoch-1", **files)
    _refused(("epoch", "run", inputs, "-d", venue), where, "exceeds" if name.endswith(".csv") else "digits",
             deployment=venue)


def test_a_configuration_integer_of_thousands_of_digits_is_refused_with_its_line(tmp_path):
    config = tmp_path / "venue.toml"
    config.write_text(CONFIG.replace("tick_size = 1", f"tick_size = {HUGE}"))
    _refused(("init", tmp_path / "venue", "--config", config), "venue.toml:8:")
    assert not (tmp_path / "venue" / "ledger.sqlite").exists()


def test_a_proving_toml_integer_of_thousands_of_digits_is_refused(venue, tmp_path):
    proving = venue / "proving.toml"
    proving.write_text(proving.read_text().replace("height = 6", f"height = {HUGE}"))
    _refused(("epoch", "run", _epoch(tmp_path / "epoch-1"), "-d", venue), "proving.toml", deployment=venue)


@pytest.mark.parametrize("value", ["[1]", '["BTC-PERP"]'])
def test_an_instrument_array_that_is_not_of_tables_is_refused(tmp_path, value):
    config = tmp_path / "venue.toml"
    config.write_text(f"instrument = {value}\n")
    _refused(("init", tmp_path / "venue", "--config", config), "venue.toml:1:", "field 'instrument[0]'")
    assert not (tmp_path / "venue" / "zkclear.toml").exists()


@pytest.mark.parametrize(("document", "where"), [
    # a feed that shows a reviewer the first list of marks while the parser keeps the second
    ('{"marks": [{"instrument": "BTC-PERP", "mark_price": 60000, "funding_rate_ppm": 1}],\n'
     ' "marks": [{"instrument": "BTC-PERP", "mark_price": 30000, "funding_rate_ppm": 1}]}', "field 'marks'"),
    ('{"marks": [\n{"instrument": "BTC-PERP", "mark_price": 60000, "mark_price": 30000, "funding_rate_ppm": 1}]}',
     "prices.json:2: field 'marks[0].mark_price'"),
])
def test_prices_json_with_a_duplicate_key_is_refused_not_read_as_its_last_value(venue, tmp_path, document, where):
    inputs = _epoch(tmp_path / "epoch-1", **{"prices.csv": None, "prices.json": document})
    _refused(("epoch", "run", inputs, "-d", venue), where, "duplicate key", deployment=venue)


def test_prices_json_nested_too_deeply_names_the_file(venue, tmp_path):
    # py_ecc raises the recursion limit to 100,000 at import: json.loads then overflowed the C stack (a signal)
    # before any RecursionError, whenever the process had imported it
    import py_ecc  # noqa: F401

    inputs = _epoch(tmp_path / "epoch-1", **{"prices.csv": None,
                                              "prices.json": "[" * 100_000 + "]" * 100_000})
    _refused(("epoch", "run", inputs, "-d", venue), "prices.json:1:", deployment=venue)


def test_deposits_past_what_solvency_can_prove_are_refused_and_the_largest_total_proves(venue, tmp_path):
    """Five deposits of 2^62 − 1 (each within the per-account bound) total past 2^64 − 1: `epoch run` committed
    them and `epoch prove` could never prove the epoch (reserves and the tree's sums are 64-bit), stopping the
    deployment's proof chain for good. Refused on the fifth; four (2^64 − 4) commit and prove."""
    from zkclear.chains import key_from_secret, write_key
    from zkclear.synthetic import reserves_csv

    big = (1 << 62) - 1
    names = ["a1", "a2", "a3", "a4", "a5"]
    accounts = "account,margin_mode\n" + "".join(f"{name},standard\n" for name in names) + "LIQ-1,standard\n"
    deposits = TRANSFERS + "".join(f"t-{name},deposit,{name},{big}\n" for name in names)
    too_much = _epoch(tmp_path / "too-much", **{"accounts.csv": accounts, "transfers.csv": deposits,
                                                 "fills.csv": FILLS})
    _refused(("epoch", "run", too_much, "-d", venue), "transfers.csv:6: field 'amount'", "past 2**64 - 1",
             deployment=venue)
    fits = _epoch(tmp_path / "fits", **{"accounts.csv": accounts, "fills.csv": FILLS,
                                        "transfers.csv": "\n".join(deposits.splitlines()[:5]) + "\n"})
    zkclear("epoch", "run", fits, "-d", venue)
    key = key_from_secret("ethereum", bytes.fromhex("c3" * 32))
    write_key(tmp_path / "custodian.key", key)
    reserves = tmp_path / "reserves.csv"
    reserves.write_text(reserves_csv([(key.chain, "USDC", key.address.text)], {"USDC": 4 * big}))
    zkclear("epoch", "prove", "-d", venue, "--reserves", reserves, "--sign-with", tmp_path / "custodian.key")
    assert zkclear("audit", venue / "epochs" / "1").startswith("epoch 1: OK")


@pytest.mark.parametrize("name", ["Transfers.csv", "transfer.csv", "transfers.csv.csv"])
def test_a_misspelled_input_file_is_refused_not_silently_ignored(venue, tmp_path, name):
    """A careless operator: the deposits and withdrawals in a misspelled file were ignored without a word and the
    epoch committed without them. Any .csv / .json file that is not an input file is refused, naming it."""
    inputs = _epoch(tmp_path / "epoch-1", **{"transfers.csv": None,
                                              name: TRANSFERS + "t1,deposit,alice,100000000\n"})
    out = _refused(("epoch", "run", inputs, "-d", venue), name, "not an input file", deployment=venue)
    assert "transfers.csv" in out
    (inputs / "README.md").write_text("notes of the epoch\n")  # anything else may sit beside the input files
    (inputs / name).rename(inputs / "transfers.csv")
    zkclear("epoch", "run", inputs, "-d", venue)


@pytest.mark.parametrize(("name", "text", "where"), [
    # a line break inside a quoted id would split every message that names the id
    # over two lines (that record ends on line 3)
    ("fills.csv", FILLS + '"f1\nforged",alice,bob,BTC-PERP,10,60000,5,5\n', "fills.csv:3: field 'fill_id'"),
    ("fills.csv", FILLS + "f1\t,alice,bob,BTC-PERP,10,60000,5,5\n", "fills.csv:2: field 'fill_id'"),
    ("fills.csv", FILLS + " f1,alice,bob,BTC-PERP,10,60000,5,5\n", "fills.csv:2: field 'fill_id'"),
    ("transfers.csv", TRANSFERS + "t1\x07,deposit,alice,100000000\n", "transfers.csv:2: field 'transfer_id'"),
    ("transfers.csv", TRANSFERS + "t1 ,deposit,alice,100000000\n", "transfers.csv:2: field 'transfer_id'"),
])
def test_an_id_with_a_control_character_or_surrounding_space_is_refused(venue, tmp_path, name, text, where):
    inputs = _epoch(tmp_path / "epoch-1", **{name: text})
    _refused(("epoch", "run", inputs, "-d", venue), where, "printable characters without surrounding spaces",
             deployment=venue)
