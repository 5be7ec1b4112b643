"""Red team, session 11: the operator's files and a damaged deployment through the real ``zkclear`` process.

Each case is one the earlier suites did not cover and that ended in an internal error (exit 3 with an exception's
text), a hang, or a deployment that could be created and cleared but never proven. Whatever the damage: exit
status 1, one line on stderr naming the file (and the line where there is one), never a traceback, and nothing
written."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zkclear.synthetic import MarketSpec, generate_market

SPEC = MarketSpec(accounts=6, epochs=2, fills_per_epoch=20, seed=3, options=False)


def run(*args: object, cwd: Path | None = None, timeout: int = 120) -> tuple[int, str, str]:
    """``zkclear ARGS`` in a fresh process: (exit status, stdout, stderr)."""
    result = subprocess.run([sys.executable, "-m", "zkclear.cli", *map(str, args)], capture_output=True, text=True,
                            cwd=cwd, timeout=timeout, check=False)
    return result.returncode, result.stdout, result.stderr


def refused(code: int, err: str, *fragments: str) -> None:
    """Exit status 1 and one line on stderr holding every fragment, no traceback."""
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err and "internal error" not in err, err
    for fragment in fragments:
        assert fragment in err, err


def fingerprint(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("market")
    config, epochs = generate_market(root / "market", SPEC)
    return {"config": config, "epochs": epochs}


@pytest.fixture(scope="module")
def committed(market, tmp_path_factory) -> Path:
    """A deployment with epoch 1 committed (copied by each test that damages it)."""
    directory = tmp_path_factory.mktemp("committed") / "venue"
    assert run("init", directory, "--config", market["config"], "--height", 8, "--executor", "serial")[0] == 0
    assert run("epoch", "run", market["epochs"][0], "-d", directory)[0] == 0
    return directory


@pytest.fixture
def venue(committed, tmp_path) -> Path:
    target = tmp_path / "venue"
    shutil.copytree(committed, target)
    return target


# -- zkclear.toml: what init accepted had to be provable ------------------------------------------------------

@pytest.mark.parametrize(("line", "fragment"), [
    ('settlement_asset = "USDC\\nvenue: Evil"', "settlement_asset"),  # a line of its own in every attestation text
    ('settlement_asset = "usdc"', "settlement_asset"),
    ('settlement_asset = ""', "settlement_asset"),
    ('settlement_asset = "USDC-COIN-ON-MANY-CHAINS"', "settlement_asset"),  # 24 characters: longer than 16
    ("settlement_decimals = 9999999999", "settlement_decimals"),
    ("settlement_decimals = -1", "settlement_decimals"),
])
def test_a_settlement_asset_the_reserves_could_never_name_is_refused_by_init(market, tmp_path, line, fragment):
    """Without [[asset]] tables, ``settlement_asset`` and ``settlement_decimals`` went unchecked: init and every
    epoch run accepted them, and only `epoch prove` (or `status`) refused the deployment, after epochs were
    committed that could then never be proven."""
    key = line.split(" =", 1)[0]
    text = "\n".join(line if row.startswith(key + " ") else row
                     for row in market["config"].read_text(encoding="utf-8").splitlines()) + "\n"
    assert line in text
    config = tmp_path / "zkclear.toml"
    config.write_text(text, encoding="utf-8")
    code, _out, err = run("init", tmp_path / "venue", "--config", config, "--height", 8)
    refused(code, err, f"{config}:", f"field '{fragment}'")
    assert not (tmp_path / "venue").exists()


def test_a_settlement_asset_with_dots_dashes_and_36_decimals_is_still_accepted(market, tmp_path):
    """The rule is the reserve book's (zkclear.chains.reserves.check_asset), not a stricter one."""
    from zkclear.chains.reserves import MAX_DECIMALS, check_asset
    from zkclear.clearing.assets import MAX_SETTLEMENT_DECIMALS

    assert MAX_SETTLEMENT_DECIMALS == MAX_DECIMALS and check_asset("USD.E-2_X") == "USD.E-2_X"
    text = market["config"].read_text(encoding="utf-8").replace('settlement_asset = "USDC"',
                                                                'settlement_asset = "USD.E-2_X"')
    text = text.replace("settlement_decimals = 6", "settlement_decimals = 36")
    config = tmp_path / "zkclear.toml"
    config.write_text(text, encoding="utf-8")
    code, out, err = run("init", tmp_path / "venue", "--config", config, "--height", 8)
    assert code == 0 and "created deployment" in out, err


def test_a_configuration_that_is_not_utf8_is_named_with_its_line_by_init(market, tmp_path):
    config = tmp_path / "zkclear.toml"
    config.write_bytes(market["config"].read_bytes() + b"# caf\xe9 in Latin-1\n")
    lines = config.read_bytes().count(b"\n")
    code, _out, err = run("init", tmp_path / "venue", "--config", config, "--height", 8)
    refused(code, err, f"{config}:{lines}: not UTF-8")
    assert not (tmp_path / "venue").exists()


# -- a damaged deployment --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["zkclear.toml", "proving.toml"])
def test_a_deployment_file_that_is_not_utf8_is_one_line_for_status_and_epoch_run(venue, market, name):
    path = venue / name
    path.write_bytes(path.read_bytes() + b"# \xff\n")
    lines = path.read_bytes().count(b"\n")
    before = fingerprint(venue)
    for args in (("status", "-d", venue), ("epoch", "run", market["epochs"][1], "-d", venue)):
        code, _out, err = run(*args)
        refused(code, err, f"{path}:{lines}: not UTF-8")
    assert fingerprint(venue) == before


def test_an_operator_secret_that_is_a_named_pipe_is_refused_not_waited_for(venue, market):
    """Reading it blocked for ever (nothing ever writes to it)."""
    secret = venue / "operator.secret"
    secret.unlink()
    os.mkfifo(secret)
    for args in (("status", "-d", venue), ("epoch", "run", market["epochs"][1], "-d", venue)):
        code, _out, err = run(*args, timeout=60)
        refused(code, err, "operator secret", "not a regular file")


def _zero_page(path: Path, page: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(page * 4096)
        handle.write(bytes(4096))


def test_a_ledger_with_a_zeroed_page_is_one_line_for_status_and_epoch_run(venue, market):
    """A page past the schema zeroed (a bad disk sector, a partial restore): SQLite opened the file and the error
    came from the first query, outside the ledger's checks (internal error, exit 3)."""
    ledger = venue / "ledger.sqlite"
    _zero_page(ledger, 2)
    before = fingerprint(venue)
    for args in (("status", "-d", venue), ("epoch", "run", market["epochs"][1], "-d", venue)):
        code, _out, err = run(*args)
        refused(code, err, f"{ledger}: not a usable ledger")
    assert fingerprint(venue) == before


def test_every_zeroed_page_of_a_ledger_is_refused_or_read_never_an_internal_error(committed, market, tmp_path):
    """Each page of a one-epoch ledger zeroed in turn: `status` and `epoch run` either work or refuse in one line."""
    pages = (committed / "ledger.sqlite").stat().st_size // 4096
    assert pages >= 4
    for page in range(pages):
        target = tmp_path / f"page-{page}"
        shutil.copytree(committed, target)
        _zero_page(target / "ledger.sqlite", page)
        for args in (("status", "-d", target), ("epoch", "run", market["epochs"][1], "-d", target)):
            code, _out, err = run(*args)
            assert code in (0, 1), (page, args[0], err)
            assert "Traceback" not in err and "internal error" not in err and err.count("\n") <= 1, (page, err)


# -- input files that are not UTF-8: the line of the bad byte, as for every other bad record --------------------

def _epoch_copy(market, tmp_path: Path) -> Path:
    target = tmp_path / "epoch-2"
    shutil.copytree(market["epochs"][1], target)
    return target


@pytest.mark.parametrize("batch", [None, "1"])
def test_a_fills_file_that_is_not_utf8_names_the_line_of_the_bad_byte(venue, market, tmp_path, batch):
    """The CSV reader decodes ahead of the line it hands out, so the error named the file only ('not UTF-8')."""
    inputs = _epoch_copy(market, tmp_path)
    fills = inputs / "fills.csv"
    rows = fills.read_bytes().splitlines(keepends=True)
    rows[3] = rows[3].replace(b"trader-", b"trad\xe9r-", 1)  # Latin-1, as a spreadsheet may export it
    fills.write_bytes(b"".join(rows))
    before = fingerprint(venue)
    code, _out, err = run("epoch", "run", inputs, "-d", venue, *(("--batch-fills", batch) if batch else ()))
    byte = len(b"".join(rows[:3])) + rows[3].index(b"\xe9") + 1
    refused(code, err, f"{fills}:4: not UTF-8 (byte {byte} ")
    assert fingerprint(venue) == before


def test_a_transfers_file_that_is_not_utf8_names_the_line_of_the_bad_byte(venue, market, tmp_path):
    inputs = _epoch_copy(market, tmp_path)
    transfers = inputs / "transfers.csv"
    transfers.write_bytes(b"transfer_id,kind,account,amount\nt-x1,deposit,trader-0001,5\nt-x2,deposit,trad\xc3")
    code, _out, err = run("epoch", "run", inputs, "-d", venue)
    refused(code, err, f"{transfers}:3: not UTF-8")


def test_a_prices_json_that_is_not_utf8_names_the_line_of_the_bad_byte(venue, market, tmp_path):
    inputs = _epoch_copy(market, tmp_path)
    prices = inputs / "prices.json"
    prices.write_bytes(prices.read_bytes().replace(b'"BTC-FUT"', b'"BTC-F\xfcT"'))
    line = prices.read_bytes()[:prices.read_bytes().index(b"\xfc")].count(b"\n") + 1
    code, _out, err = run("epoch", "run", inputs, "-d", venue)
    refused(code, err, f"{prices}:{line}: not UTF-8")


def test_the_position_of_a_bad_byte_is_found_across_blocks_and_split_characters(tmp_path):
    from zkclear.files import line_of_bad_utf8

    path = tmp_path / "f"
    cases = [(b"ab\ncd\xffe\n", (2, 6)), ("a\n\u00e9\n".encode() + b"x\xff", (3, 7)),
             ("a\n\u00e9\n".encode() + b"\xc3", (3, 6)), (b"a\n\xc3\n", (2, 3)), ("a\n\u20ac\n".encode(), None)]
    for data, expected in cases:
        path.write_bytes(data)
        assert [line_of_bad_utf8(path, block=size) for size in (1, 2, 3, 1 << 20)] == [expected] * 4, data


@pytest.mark.parametrize("mark", [b"", b"\xef\xbb\xbf"])
def test_a_document_that_is_not_utf8_is_named_by_the_line_and_byte_of_the_file_byte_order_mark_or_not(mark):
    from zkclear.errors import InputError
    from zkclear.files import decode_text

    assert decode_text(mark + "a = \"\u00e9\"\n".encode(), "z.toml") == "a = \"\u00e9\"\n"
    data = mark + b"a = 1\nb = \"\xe9\"\n"
    with pytest.raises(InputError) as refusal:
        decode_text(data, "z.toml")
    at = data.index(b"\xe9") + 1
    assert str(refusal.value) == f"z.toml:2: not UTF-8 (byte {at} of the file is 0xe9)"


# -- one line, whatever the message quotes ----------------------------------------------------------------------

def test_an_error_quoting_a_path_with_a_line_break_or_an_escape_is_still_one_line(venue, market, tmp_path):
    inputs = tmp_path / "epoch\n2\x1b[31m"
    shutil.copytree(market["epochs"][1], inputs)
    fills = inputs / "fills.csv"
    rows = fills.read_text(encoding="utf-8").splitlines()
    fields = rows[1].split(",")
    fields[4] = "+" + fields[4]  # a bad size on line 2
    rows[1] = ",".join(fields)
    fills.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, _out, err = run("epoch", "run", inputs, "-d", venue)
    refused(code, err, "epoch\\n2\\x1b[31m/fills.csv:2: field 'size'")
    assert "\x1b" not in err
    code, out, err = run("status", "--json", "-d", tmp_path / "no\nsuch")
    refused(code, err, "no\\nsuch is not a zkclear deployment")
    assert json.loads(out)["detail"].endswith("/no\nsuch is not a zkclear deployment (no such directory); create "
                                              "one with `zkclear init`")  # JSON keeps the message as it is


# -- a write that fails (a full disk, a file-size limit) is the deployment's, not the input's ---------------------

def _write_limited(limit: int):
    """A child that may write no file past ``limit`` bytes (writes fail with EFBIG, as on a full disk)."""
    import resource
    import signal

    def limit_writes() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_writes


def test_a_private_copy_of_fills_that_cannot_be_written_names_the_copy_not_the_input(venue, market, tmp_path):
    """`epoch run` copies fills.csv into the deployment's private scratch folder: a failed write (here a 64 KiB
    file-size limit) was reported as `e/fills.csv: cannot open: File too large`, blaming the operator's file."""
    inputs = _epoch_copy(market, tmp_path)
    fills = inputs / "fills.csv"
    rows = fills.read_text(encoding="utf-8").splitlines()
    header, first = rows[0], rows[1].split(",")
    for k in range(3000):  # a pair trading one lot back and forth: about 200 KB, positions unchanged
        buyer, seller = (first[1], first[2]) if k % 2 else (first[2], first[1])
        rows.append(",".join([f"extra-{k:06d}", buyer, seller, first[3], "1", first[5], "0", "0"]))
    fills.write_text("\n".join([header, *rows[1:]]) + "\n", encoding="utf-8")
    assert fills.stat().st_size > 150_000
    before = fingerprint(venue)
    result = subprocess.run([sys.executable, "-m", "zkclear.cli", "epoch", "run", inputs, "-d", venue],
                            capture_output=True, text=True, timeout=120, check=False,
                            preexec_fn=_write_limited(64 << 10))
    refused(result.returncode, result.stderr, "/private/scratch/", f"/fills.csv: cannot write a private copy of "
            f"{fills}: File too large")
    assert not result.stderr.startswith(f"error: {fills}")
    assert fingerprint(venue) == before
    code, out, err = run("epoch", "run", inputs, "-d", venue)  # the limit lifted: the same folder commits
    assert code == 0 and "epoch 2 committed" in out, err


def test_a_scratch_block_of_transfers_that_cannot_be_written_names_the_block(venue, market, tmp_path):
    """`epoch run` keeps the parsed transfers in its private scratch folder (session 15): a failed write there (a
    64 KiB file-size limit, as a full disk) named no file (`error: File too large`); it names the block it was
    writing, exit 1, nothing applied, and the same folder commits once the limit is lifted."""
    inputs = _epoch_copy(market, tmp_path)
    transfers = inputs / "transfers.csv"
    rows = transfers.read_text(encoding="utf-8").splitlines() if transfers.exists() else []
    header = rows[0] if rows else "transfer_id,kind,account,amount"
    account = next(line.split(",")[0] for line in (market["epochs"][0] / "accounts.csv").read_text(
        encoding="utf-8").splitlines()[1:] if not line.startswith("CH:"))
    tail = "," if header.endswith(",asset") else ""
    rows = [header, *rows[1:], *(f"top-up-{k:06d},deposit,{account},1{tail}" for k in range(4000))]
    transfers.write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = fingerprint(venue)
    result = subprocess.run([sys.executable, "-m", "zkclear.cli", "epoch", "run", inputs, "-d", venue],
                            capture_output=True, text=True, timeout=120, check=False,
                            preexec_fn=_write_limited(64 << 10))
    refused(result.returncode, result.stderr, "/private/scratch/", "/transfers/0.npz: File too large")
    assert fingerprint(venue) == before
    code, out, err = run("epoch", "run", inputs, "-d", venue)
    assert code == 0 and "epoch 2 committed" in out, err


# -- zkclear init killed or failing half-way: a rerun finishes it ----------------------------------------------

#: `zkclear init` in a child that SIGKILLs itself right after the ledger file is created (the last step).
KILLED_INIT = """
import os, signal, sys
import zkclear.operator as operator
create = operator.Ledger.__init__
def create_then_die(self, *args, **kwargs):
    create(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
operator.Ledger.__init__ = create_then_die
sys.argv = ["zkclear", *sys.argv[1:]]
from zkclear.cli import main
main()
"""


def test_an_init_killed_before_it_finished_is_redone_by_running_it_again(market, tmp_path):
    """A killed init left zkclear.toml, proving.toml, operator.secret and a ledger file behind: a rerun said
    'already holds a deployment' and every command 'restore it from a backup' (of a ledger that never held
    anything). Now the folder says it is an interrupted init, and the same init run again completes it."""
    venue = tmp_path / "venue"
    args = ["init", venue, "--config", market["config"], "--height", 8]
    killed = subprocess.run([sys.executable, "-c", KILLED_INIT, *map(str, args)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert killed.returncode == -9, killed.stderr
    assert (venue / "operator.secret").exists() and (venue / "ledger.sqlite").exists()
    code, _out, err = run("status", "-d", venue)
    refused(code, err, "is not a deployment yet: a `zkclear init` is creating it, or was interrupted",
            "run the same zkclear init again")
    code, out, err = run(*args)
    assert code == 0 and "created deployment" in out, err
    assert not list(venue.glob(".zkclear-init*"))
    code, out, err = run("epoch", "run", market["epochs"][0], "-d", venue)
    assert code == 0 and "epoch 1 committed" in out, err


@pytest.mark.parametrize("limit", [100, 2000, 5000])
def test_an_init_whose_writes_fail_leaves_no_half_made_deployment(market, tmp_path, limit):
    """A full disk at init (here a file-size limit: the configuration, or the ledger's first pages, cannot be
    written) left the files written before it, which no later init or command could get past."""
    venue = tmp_path / "venue"
    args = ["init", venue, "--config", market["config"], "--height", 8]
    failed = subprocess.run([sys.executable, "-m", "zkclear.cli", *map(str, args)], capture_output=True, text=True,
                            timeout=120, check=False, preexec_fn=_write_limited(limit))
    refused(failed.returncode, failed.stderr, str(venue))
    assert list(venue.iterdir()) == []
    code, out, err = run(*args)
    assert code == 0 and "created deployment" in out, err


def test_an_init_marker_beside_a_ledger_with_epochs_is_not_taken_for_an_interrupted_init(venue, market):
    """Only an init writes the marker; a deployment holding one and committed epochs is a copied or edited folder:
    init refuses it and deletes nothing."""
    (venue / ".zkclear-init-incomplete").write_text("copied in\n")
    before = fingerprint(venue)
    code, _out, err = run("init", venue, "--config", market["config"], "--height", 8)
    refused(code, err, "not an interrupted init", "ledger.sqlite with committed epochs")
    assert fingerprint(venue) == before


# -- an unterminated quote is named by the line it opens on ------------------------------------------------------

def test_an_unterminated_quote_is_named_by_the_line_it_opens_on_not_the_end_of_the_file(venue, market, tmp_path):
    """The reader reads an unterminated quoted field to the end of the file, and the error named the file's last
    line (in a file of millions of fills, nowhere near the bad record). A record that ends is still named by its
    last line, as test_cli_hostile_feed pins."""
    inputs = _epoch_copy(market, tmp_path)
    fills = inputs / "fills.csv"
    rows = fills.read_text(encoding="utf-8").splitlines()
    assert len(rows) > 5
    fields = rows[2].split(",")
    fields[4] = '"' + fields[4]
    rows[2] = ",".join(fields)
    fills.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, _out, err = run("epoch", "run", inputs, "-d", venue)
    refused(code, err, f"{fills}:3: malformed CSV")


# -- proving settings a prove could never meet are refused where they are given ---------------------------------

@pytest.mark.parametrize(("policy", "param"), [("capacity", "99999999999999999999"), ("multiple", "17"),
                                               ("power_of_two", "18446744073709551616"), ("none", "1000")])
def test_a_chunk_padding_parameter_past_the_trees_chunk_slots_is_refused_by_init(market, tmp_path, policy, param):
    """init took any --chunk-padding-param >= 1; the tree of height 8 with 16-leaf chunks has 16 chunk slots, so a
    larger one could never be met, and one past 2^64 ended `epoch prove` in an internal error (struct.error: the
    header encodes it in 64 bits) after every epoch was committed."""
    code, _out, err = run("init", tmp_path / "venue", "--config", market["config"], "--height", 8,
                          "--chunk-padding", policy, "--chunk-padding-param", param)
    refused(code, err, f"chunk_padding_param must be in [1, 16] (the chunks a tree of height 8 with 2^4-leaf chunks "
                       f"holds), got {param}")
    assert not (tmp_path / "venue").exists()


def test_a_chunk_padding_parameter_past_the_trees_chunk_slots_in_proving_toml_is_named(venue):
    proving = venue / "proving.toml"
    text = proving.read_text(encoding="utf-8")
    assert "chunk_padding_param = 1\n" in text
    proving.write_text(text.replace("chunk_padding_param = 1\n", "chunk_padding_param = 99999999999999999999\n"),
                       encoding="utf-8")
    for args in (("status", "-d", venue), ("epoch", "prove", "-d", venue, "--reserves", proving)):
        code, _out, err = run(*args)
        refused(code, err, f"{proving}:", "field 'tree.chunk_padding_param': chunk_padding_param must be in [1, 16]")


# -- a deployment in a folder that cannot be written (a read-only mount, a backup) ------------------------------

def _unwritable(venue: Path) -> None:
    """Make SQLite unable to write its side files beside the ledger, as in a read-only folder: for a user other
    than root, the folder is made read-only; root writes everywhere, so its ``-shm`` file is a link to a path
    that cannot exist (the open SQLite makes fails the same way: SQLITE_CANTOPEN). On a read-only mount both
    commands below were checked to behave as here."""
    if os.geteuid() == 0:
        (venue / "ledger.sqlite-shm").symlink_to("/nonexistent-zkclear-redteam/shm")
    else:
        venue.chmod(0o555)


def test_status_reads_a_deployment_whose_folder_cannot_be_written(venue):
    """`zkclear status` writes nothing, yet opened the ledger for writing: on a read-only folder it said
    'not a usable ledger: unable to open database file' of a sound ledger."""
    code, expected, err = run("status", "--json", "-d", venue)
    assert code == 0, err
    _unwritable(venue)
    try:
        code, out, err = run("status", "--json", "-d", venue)
        assert code == 0 and err == "", err
        assert json.loads(out) == json.loads(expected)
        assert json.loads(out)["head_epoch"] == 1
    finally:
        venue.chmod(0o755)


def test_epoch_run_on_a_folder_that_cannot_be_written_says_so(venue, market):
    _unwritable(venue)
    try:
        code, _out, err = run("epoch", "run", market["epochs"][1], "-d", venue)
        refused(code, err, "ledger.sqlite: cannot open the ledger for writing", "is its folder read-only?")
    finally:
        venue.chmod(0o755)


def test_status_refuses_to_read_past_a_write_ahead_log_it_cannot_replay(venue):
    """Reading an unwritable folder, SQLite reads the ledger as an immutable file, which skips ledger.sqlite-wal:
    a log holding commits (a writer killed before its checkpoint) is named, never silently read past."""
    (venue / "ledger.sqlite-wal").write_bytes(b"\x37\x7f\x06\x82" + bytes(60))
    _unwritable(venue)
    try:
        code, _out, err = run("status", "-d", venue)
        refused(code, err, "ledger.sqlite-wal holds commits")
    finally:
        venue.chmod(0o755)


def test_an_os_error_names_its_file_apart_from_the_reason(venue, market):
    """A file where the deployment's private folder should be: 'error: d/private/scratch/run-N Not a directory'
    ran the path into the reason; now 'PATH: REASON' like every other error (since red team session 14 the path is
    the private folder itself, which is made, or closed to other users, first)."""
    (venue / "private").write_text("not a folder\n")
    code, _out, err = run("epoch", "run", market["epochs"][1], "-d", venue)
    refused(code, err, f"error: {venue}/private: Not a directory")
    assert (venue / "private").read_text() == "not a folder\n"


def test_inits_racing_on_one_folder_make_one_deployment_the_winners(market, tmp_path):
    """Three inits of one folder at once, each with its own chunk size: exactly one says it created the deployment,
    the others refuse in one line, and the files are the winner's (an init cleaning up after a failure must never
    remove another's files; before, a loser could also fail half-way on the winner's zkclear.toml.new)."""
    for trial in range(3):
        venue = tmp_path / f"venue-{trial}"
        children = [subprocess.Popen([sys.executable, "-m", "zkclear.cli", "init", str(venue), "--config",
                                      str(market["config"]), "--height", "8", "--chunk-bits", str(bits)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for bits in (2, 3, 4)]
        results = [(child.wait(timeout=120), *child.communicate()) for child in children]
        made = [k for k, (code, out, _err) in enumerate(results) if code == 0 and "created deployment" in out]
        assert len(made) == 1, results
        for k, (code, _out, err) in enumerate(results):
            if k not in made:
                refused(code, err, f"{venue} already holds a deployment")
        assert f"chunk_bits = {2 + made[0]} " in (venue / "proving.toml").read_text(encoding="utf-8")
        assert sorted(p.name for p in venue.iterdir()) == ["ledger.sqlite", "operator.secret", "proving.toml",
                                                            "zkclear.toml"]
        code, out, err = run("status", "-d", venue)
        assert code == 0 and "ledger head: epoch 0" in out, err
