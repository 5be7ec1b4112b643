"""The ``zkclear`` command line: the operator's, the participant's and the auditor's tool.

Every failure the user can cause (a bad input file, a proof that does not verify) ends with one line on
stderr and a non-zero exit status; nothing is half-applied.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import itertools
import json
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import click

from zkclear.bench import SUITES
from zkclear.errors import VerificationError, ZkclearError
from zkclear.integers import parse_canonical_int

DEPLOYMENT_HELP = "Deployment directory (default: $ZKCLEAR_DEPLOYMENT or the current directory)."


#: The most local worker processes an option may ask for (the pool forks them all at once).
MAX_WORKERS = 1024
#: The most fills ``epoch run --batch-fills`` reads at a time (zkclear.clearing.inputs.MAX_BATCH_FILLS; its help says
#: the number, and a test pins that the two agree).
MAX_BATCH_FILLS = 1 << 24


class AsciiInt(click.ParamType):
    """An integer in its one spelling (zkclear.integers: ASCII digits, no '+', '-0' or leading zeros; Python's
    int() also accepts '１２', ' 7', '+7', '007' and '1_000')."""

    name = "integer"

    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = parse_canonical_int(str(value), max_digits=20)
            except ValueError as exc:
                self.fail(str(exc), param, ctx)
        if self.minimum is not None and number < self.minimum:
            self.fail(f"{number} is below the minimum {self.minimum}", param, ctx)
        if self.maximum is not None and number > self.maximum:
            self.fail(f"{number} is above the maximum {self.maximum}", param, ctx)
        return number


#: Whether the command being run was given --json: its errors are then one JSON object on stdout too (set while
#: the options are parsed, read by :func:`main` when an error ends the command).
_errors_as_json = False


def _remember_json(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    global _errors_as_json
    _errors_as_json = bool(value)
    return value


def _json_option(help_text: str):
    return click.option("--json", "as_json", is_flag=True, callback=_remember_json, help=help_text)


def _deployment_option(function):
    return click.option("-d", "--deployment", "deployment_dir", type=click.Path(file_okay=False, path_type=Path),
                        envvar="ZKCLEAR_DEPLOYMENT", default=Path("."), show_default=False,
                        help=DEPLOYMENT_HELP)(function)


def _named_path(value: str) -> Path:
    """``value`` as a path, refusing an empty one (``zkclear init "$DIR"`` with DIR unset): Path("") is the current
    directory, which nobody named."""
    if not value:
        raise click.BadParameter("is empty (an unset variable?); give . for the current directory")
    return Path(value)


def _open_deployment(path: Path):
    from zkclear.operator import Deployment

    return Deployment(path)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="zkclear")
def cli() -> None:
    """zkclear: a derivatives clearing house with zero-knowledge proofs of collateralization and solvency.

    \b
    Operator:     zkclear init, zkclear epoch run, zkclear epoch prove, zkclear status, zkclear bench (sizing)
    Custodian:    zkclear epoch attest, zkclear keys (test keys for demos and tests)
    Participant:  zkclear verify, zkclear serve (the verification page)
    Auditor:      zkclear audit
    Everyone:     zkclear show, zkclear demo

    Example: zkclear demo
    """


# -- operator -------------------------------------------------------------------------------------

@cli.command()
@click.argument("directory", type=click.Path(file_okay=False), callback=lambda _ctx, _param, value: _named_path(value))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Clearing configuration TOML (docs/format.md); default: the one examples/market_generator.py "
                   "writes with its default options (settled in USDC alone; not the demo's).")
@click.option("--height", default=32, show_default=True, type=AsciiInt(2, 64),
              help="Tree height (capacity 2^height leaves).")
@click.option("--chunk-bits", type=AsciiInt(1, 8),
              help="2^chunk-bits accounts per collateral batch (default: 4, or 2 for a listing of more than 16 "
                   "instruments, so that a participant's receipt check stays fast).")
@click.option("--chunk-padding", default="power_of_two", show_default=True,
              type=click.Choice(["none", "multiple", "power_of_two", "capacity"]),
              help="How the number of chunks is padded to hide the account count (none: not padded).")
@click.option("--chunk-padding-param", default=1, show_default=True, type=AsciiInt(1),
              help="Parameter of the padding policy, in chunks (multiple: the step; power_of_two: the least count; "
                   "capacity: the fixed count; none: unused).")
@click.option("--dense", is_flag=True, help="Pack chunks at the left of the tree (cheaper; reveals the count).")
@click.option("--executor", default="process", show_default=True,
              type=click.Choice(["serial", "process", "dask"]), help="Who runs the proofs.")
@click.option("--venue", default="", help="The venue's public name, which every reserve attestation names "
              "(proving.toml [reserves] venue; required to prove).")
def init(directory: Path, config_path: Path | None, height: int, chunk_bits: int | None, chunk_padding: str,
         chunk_padding_param: int, dense: bool, executor: str, venue: str) -> None:
    """Create a deployment: configuration, proving settings, operator secret and an empty ledger.

    Example: zkclear init ./venue --config venue.toml --height 32 --chunk-bits 4 --venue "Acme Clearing"
    """
    from zkclear.chains.attestation_text import check_venue
    from zkclear.errors import ConfigurationError, InputError
    from zkclear.operator import Deployment
    from zkclear.proving_settings import ProvingSettings
    from zkclear.synthetic import MarketSpec, config_toml
    from zkclear.tree.placement import TreeConfig

    if venue:
        try:
            check_venue(venue)
        except InputError as exc:
            raise InputError(exc.detail, field="--venue") from None
    if config_path:
        from zkclear.files import MAX_DOCUMENT_BYTES, read_text

        # a named pipe blocks the read, /dev/zero never ends, a byte that is not UTF-8 is named by its line
        text = read_text(config_path, limit=MAX_DOCUMENT_BYTES)
    else:
        text = config_toml(MarketSpec())
    chunk_bits_given = chunk_bits is not None
    if chunk_bits is None:
        from zkclear.clearing.io import parse_config
        from zkclear.tree.placement import default_chunk_bits

        source = str(config_path) if config_path else "the synthetic market's configuration"
        chunk_bits = default_chunk_bits(len(parse_config(text, path=source).instruments))
    try:
        tree = TreeConfig(height=height, chunk_bits=chunk_bits, chunk_padding=chunk_padding,
                          chunk_padding_param=chunk_padding_param, sparse=not dense)
    except ConfigurationError as exc:  # each option is in its own range: the refusal is of a combination
        if chunk_bits < height:
            raise InputError(str(exc), field="--chunk-padding-param") from None
        if chunk_bits_given:
            raise InputError(f"must be below --height {height}, got {chunk_bits}", field="--chunk-bits") from None
        raise InputError(f"must be above {chunk_bits} (chunks of {1 << chunk_bits} accounts), got {height}",
                         field="--height") from None
    settings = ProvingSettings(tree=tree, executor=executor, venue=venue)
    deployment = Deployment.init(directory, text, settings, source=str(config_path) if config_path else None)
    click.echo(f"created deployment {deployment.root}: {len(deployment.config.instruments)} instruments, "
               f"deficit resolution {deployment.config.deficit_resolution.value}, tree height {height}, "
               f"chunks of {1 << chunk_bits}")
    click.echo("  next: zkclear epoch run INPUT_DIR -d " + str(directory))


@cli.group()
def epoch() -> None:
    """Clear, prove and attest epochs (operator).

    Example: zkclear epoch run inputs/epoch-1 -d ./venue && zkclear epoch prove -d ./venue --reserves reserves.csv
    """


@epoch.command("run")
@click.argument("input_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@_deployment_option
@click.option("--epoch", "number", type=AsciiInt(1), help="Epoch number (default: the next one).")
@click.option("--batch-fills", type=AsciiInt(1, MAX_BATCH_FILLS), default=None,
              help="Fills read and cleared at a time (default 32768, at most 16777216): bounds the clearing's "
                   "memory; the result does not depend on it.")
def epoch_run(input_dir: Path, deployment_dir: Path, number: int | None, batch_fills: int | None) -> None:
    """Validate an epoch's input files, clear them and commit the epoch atomically.

    INPUT_DIR holds fills.csv and the marks (prices.csv or prices.json, or the oracle's quotes oracle.csv and, while
    a perpetual is live, funding.csv), and optionally accounts.csv, transfers.csv, margins.csv, operator_actions.csv
    and vols.csv (needed while engine-marked options are live); any other .csv or .json file is refused
    (docs/format.md). A bad record stops everything with FILE:LINE: field 'NAME': reason. Without --epoch, a folder
    an earlier epoch committed is a no-op that says so; so is --epoch N with the files epoch N was committed with
    (other files: refused).

    Example: zkclear epoch run inputs/epoch-1 -d ./venue
    """
    deployment = _open_deployment(deployment_dir)
    result = deployment.run_epoch(input_dir, number, **({"batch_fills": batch_fills} if batch_fills else {}))
    if result.report is None:
        click.echo(result.message)
        return
    global _done_before_an_abort
    _done_before_an_abort = f"epoch {result.epoch} was committed before the interrupt"  # a Ctrl-C in the summary
    _print_epoch_summary(result)


def _print_epoch_summary(result) -> None:
    from zkclear.clearing.config import INSURANCE_FUND

    number, report, state = result.epoch, result.report, result.state
    rejected = [w for w in report.withdrawals if not w.accepted]
    click.echo(f"epoch {number} committed: {len(state.accounts)} accounts, {result.fills} fills, "
               f"{result.volume} lots, fees {report.fees_collected}")
    click.echo(f"  liquidations {len(report.liquidations)}, ADL {len(report.adl)}, socialized losses "
               f"{len(report.socialized)}, insurance fund {state.cash_of(INSURANCE_FUND)}")
    if report.oracle_decisions:
        dropped = [(d["instrument_id"], q) for d in report.oracle_decisions for q in d["dropped"]]
        paused = [d["instrument_id"] for d in report.oracle_decisions if d["liquidations_paused"]]
        click.echo(f"  oracle: {len(dropped)} quotes dropped, liquidations paused on {paused or 'nothing'}")
    if report.withdrawals:
        click.echo(f"  withdrawals: {len(report.withdrawals) - len(rejected)} honoured, {len(rejected)} rejected")
    for conversion in report.conversions:  # issue 13: collateral converted at liquidation
        click.echo(f"  converted {conversion.amount} {conversion.asset} of {conversion.account} at {conversion.price}: "
                   f"{conversion.proceeds - conversion.penalty} credited, penalty {conversion.penalty}")
    for action in report.operator_actions:
        outcome = "done" if action.accepted else f"rejected: {action.rejection}"
        click.echo(f"  operator action {action.action_id}: {action.action} {action.amount} from {action.account} "
                   f"({action.reason}): {outcome}")
    for outcome in rejected:
        asset = f" {outcome.asset}" if outcome.asset else ""
        click.echo(f"    rejected {outcome.account} {outcome.amount}{asset}: {outcome.reason}")


@epoch.command("prove")
@_deployment_option
@click.option("--epoch", "number", type=AsciiInt(1), help="Epoch to prove (default: the last committed).")
@click.option("--reserves", "reserves_path", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="reserves.csv v2: chain,asset,address,balance,block_height,block_hash (docs/format.md).")
@click.option("--sign-with", "key_paths", multiple=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Test key file(s) (zkclear keys new) to attest at once; else custodians run `epoch attest`.")
@click.option("--executor", type=click.Choice(["serial", "process", "dask"]),
              help="Who runs the proofs (default: proving.toml's executor).")
@click.option("--workers", type=AsciiInt(1, MAX_WORKERS),
              help="Local worker processes (process executor, or a local Dask cluster; default: every core; not "
                   "with --scheduler).")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="A Dask scheduler started with `dask scheduler` (implies --executor dask; README, \"Proving on a "
                   "Dask cluster\").")
def epoch_prove(deployment_dir: Path, number: int | None, reserves_path: Path, key_paths: tuple[Path, ...],
                executor: str | None, workers: int | None, scheduler: str | None) -> None:
    """Commit every account, build the sum tree, prove everything, write the publication folder and the private
    files (receipts for their owners, the total for the auditor when configured). Refused before any proving: a
    key that controls no listed address, an address signed twice, reserves that do not cover some asset, a chain
    read at an older block than in the latest earlier epoch that listed it.

    Finished proofs are kept in DIR/private/N/work/ as they arrive: if the command is interrupted (killed, a
    machine lost), run it again and it checks and reuses them, and writes the same files. Progress (done / total
    and an ETA per step) goes to stderr: redrawn in place on a terminal, a line now and then in a log.

    Example: zkclear epoch prove -d ./venue --reserves reserves.csv --sign-with custody-btc.key
    """
    from zkclear.chains import check_signers, load_key, load_reserves
    from zkclear.errors import InputError
    from zkclear.executor import get_executor
    from zkclear.progress import ProgressLine, interval_from_environment

    if scheduler is not None and executor not in (None, "dask"):
        raise InputError(f"--scheduler is for the dask executor, not {executor}", field="--scheduler")
    scheduler = _scheduler_address(scheduler)
    _refuse_idle_workers(workers, scheduler, executor)  # options that contradict each other, before anything is read
    interval_from_environment()  # a bad ZKCLEAR_PROGRESS_SECONDS is refused before anything is read or printed
    deployment = _open_deployment(deployment_dir)
    number = number or deployment.head()
    keys = [load_key(path) for path in key_paths]
    book = deployment.reserve_book(load_reserves(reserves_path), path=str(reserves_path))
    check_signers(keys, book.entries)  # refused by address before anything is proven or printed
    deployment.require_blocks_advance(number, book, path=str(reserves_path))
    kind = "dask" if scheduler else executor or deployment.proving.executor
    _refuse_idle_workers(workers, scheduler, kind)  # proving.toml's executor may be serial
    deployment.require_no_prove_running()  # before a Dask cluster is reached (a minute's wait without workers)
    run = get_executor(kind, workers, scheduler)
    try:
        click.echo(f"proving epoch {number}: {deployment.account_count(number)} accounts on {run.workers} "
                   f"{kind} worker{'s' if run.workers != 1 else ''}")
        with ProgressLine(lambda text: click.echo(text, err=True), stream=sys.stderr) as line:
            proven, artifacts = deployment.prove(number, book, reserve_keys=keys, executor=run,
                                                 progress=line.update)
    finally:
        run.close()
    timings = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in artifacts.timings.items())
    bundle = artifacts.bundle
    click.echo(f"epoch {number} proven: {artifacts.accounts} accounts; {timings}")
    click.echo(f"  header hash {bundle.epoch_hash().hex()}")
    click.echo("    post this 32-byte value publicly (it binds the header, the public inputs, the reserves and the")
    click.echo("    root); participants and auditors check it with --expect-header")
    fund = ", the insurance fund's receipt" if proven.publish.insurance_fund.exists() else ""
    click.echo(f"  publish the folder {proven.publish.directory}/ (bundle, public data, public inputs, audit "
               f"data{fund})")
    click.echo(f"  private, never publish: {proven.private}/receipts/ (one receipt per account, give each to its "
               "owner only; receipts.index maps accounts to files)")
    click.echo(f"    participant files (account id and account key, hand over at account opening): "
               f"{deployment.root / 'private' / 'participants'}/")
    if proven.total is not None:
        click.echo(f"    {proven.total}: the total liabilities' opening, for the auditor only")
    signed = len(bundle.attestations)
    click.echo(f"  reserves: {signed} of {len(bundle.reserves.entries)} entries signed"
               + ("" if signed == len(bundle.reserves.entries) else "; custodians sign with `zkclear epoch attest`"))


@epoch.command("attest")
@_deployment_option
@click.option("--epoch", "number", type=AsciiInt(1), required=True, help="Epoch whose bundle to attest.")
@click.option("--key", "key_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A test key file (zkclear keys new) of a listed reserve address.")
@click.option("--address", help="With --signature: the listed address a custodian signed for with its own wallet.")
@click.option("--signature", help="The wallet's signature of the address's attestation text (zkclear show "
              "--attestation-text ADDRESS prints the text).")
@click.option("--chain", help="The chain of --address, when an EVM address is listed on several chains (not with "
              "--key).")
@click.option("--asset", help="The asset of --address, when the address is listed for several (ETH and USDC; not "
              "with --key).")
def epoch_attest(deployment_dir: Path, number: int, key_path: Path | None, address: str | None,
                 signature: str | None, chain: str | None, asset: str | None) -> None:
    """Add reserve attestations to the epoch's bundle: with --key, sign the attestation text of every listed
    entry (address and asset) the key controls and that is not attested yet (its chain's own signed message);
    with --address and --signature, add (after checking it) the signature a custodian made with its own wallet.
    Refused, by address: a key that controls no listed address or whose entries are all attested already, an
    --address entry already attested (exit 1), a signature that does not decode in its chain's encoding (exit 1)
    or that does not verify (exit 2).

    Example: zkclear epoch attest -d ./venue --epoch 7 --key custody-btc.key
    """
    from zkclear.errors import InputError

    deployment = _open_deployment(deployment_dir)
    if (key_path is None) == (address is None or signature is None) or (key_path and (address or signature)):
        raise InputError("give either --key, or --address and --signature", field="--key")
    if key_path is not None and (chain is not None or asset is not None):  # never sign more than was asked for
        raise InputError("--chain and --asset name the entry of --address; --key signs every listed entry its key "
                         "controls that is not attested yet", field="--chain" if chain is not None else "--asset")
    if key_path is not None:
        from zkclear.chains import load_key

        key = load_key(key_path)
        bundle, signed = deployment.attest(number, key)
        who = f"{', '.join(signed)} ({key.chain})"
    else:
        bundle = deployment.add_signature(number, address, signature, chain=chain, asset=asset)
        attestation = bundle.attestations[-1]
        who = f"{attestation.address} ({attestation.chain})"
    click.echo(f"attested epoch {number} for {who} ({len(bundle.attestations)} of {len(bundle.reserves.entries)} "
               f"reserve entries signed); header hash {bundle.epoch_hash().hex()}")


@cli.command()
@_deployment_option
@_json_option("Print the status as JSON.")
def status(deployment_dir: Path, as_json: bool) -> None:
    """Show the ledger head, which epochs are committed, proven and attested, the clearing house's balances
    (insurance fund, fee account, backstop) and the head epoch's liabilities per asset (what the reserves must
    cover).

    Example: zkclear status -d ./venue
    """
    from zkclear.operator import Deployment
    from zkclear.status import deployment_status

    report = deployment_status(Deployment(deployment_dir, read_only=True))  # also on a read-only mount
    if as_json:
        click.echo(json.dumps(report.to_json(), sort_keys=True))
        return
    for line in report.lines():
        click.echo(line)




# -- reserve keys (demos and tests; custodians sign with their own wallets) ----------------------

@cli.group()
def keys() -> None:
    """Test keys for reserve attestations: create one, show its address, sign an attestation text offline.

    Production custodians sign the attestation text with the wallet they already have; these keys are for
    demos and tests (docs/format.md, "Key files (test keys)").

    Example: zkclear keys new --chain ethereum --out custody-eth.key
    """


@keys.command("new")
@click.option("--chain", required=True, help="Chain id: bitcoin, bitcoin-testnet, ethereum (or another EVM "
              "chain by name), solana.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Key file to create (mode 0600; an existing file is never overwritten).")
@click.option("--type", "kind", type=click.Choice(["p2wpkh", "p2pkh"]),
              help="Bitcoin address type (default p2wpkh).")
def keys_new(chain: str, out_path: Path, kind: str | None) -> None:
    """Generate a random test key for CHAIN and print its address.

    Example: zkclear keys new --chain bitcoin --out custody-btc.key
    """
    from zkclear.chains.addresses import AddressKind
    from zkclear.chains.keys import generate_key, write_key

    key = generate_key(chain, kind=AddressKind(kind) if kind else None)
    write_key(out_path, key)
    click.echo(f"{key.address.text} ({key.chain}) -> {out_path}")


@keys.command("address")
@click.argument("key_path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def keys_address(key_path: Path) -> None:
    """Print the address (and chain) of a test key file.

    Example: zkclear keys address custody-btc.key
    """
    from zkclear.chains.keys import load_key

    key = load_key(key_path)
    click.echo(f"{key.address.text} ({key.chain})")


@keys.command("sign")
@click.argument("key_path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--text-file", "text_path", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The attestation text to sign (canonical form; one final newline is ignored).")
@click.option("--bip322", is_flag=True, help="For a P2WPKH address: a BIP-322 simple signature instead of BIP-137.")
def keys_sign(key_path: Path, text_path: Path, bip322: bool) -> None:
    """Sign an attestation text with a test key and print the signature in its chain's standard encoding.

    Refuses a text that is not a canonical attestation text or names an address the key does not control.

    Example: zkclear keys sign custody-btc.key --text-file attestation.txt
    """
    from zkclear.chains.keys import load_key, sign_attestation_text
    from zkclear.chains.schemes import BitcoinFormat
    from zkclear.errors import InputError
    from zkclear.files import read_file

    key = load_key(key_path)
    try:
        text = read_file(text_path, limit=1 << 16).decode("ascii").removesuffix("\n")
    except UnicodeDecodeError as exc:
        raise InputError("an attestation text is ASCII", path=str(text_path)) from exc
    if "\r" in text:  # saved by a Windows editor: say so, rather than "expected 14 lines"
        raise InputError("this line holds a carriage return (a Windows line end?): an attestation text's lines end "
                         "in a line feed alone (save it with Unix line ends)", path=str(text_path),
                         line=text.count("\n", 0, text.index("\r")) + 1)
    try:
        attestation = sign_attestation_text(
            key, text, bitcoin_format=BitcoinFormat.BIP322_SIMPLE if bip322 else BitcoinFormat.BIP137)
    except InputError as exc:
        raise InputError(exc.detail, path=str(text_path)) from exc
    click.echo(attestation.signature)


# -- participant ----------------------------------------------------------------------------------

def _header_hash(text: str, option: str = "--expect-header") -> bytes:
    from zkclear.verifier.participant import parse_header_hash

    return parse_header_hash(text, field=option)


@cli.command()
@click.argument("epoch_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--receipt", "receipt_paths", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Your private receipt (repeat: one per epoch folder, in the same order).")
@click.option("--account", "account_id", help="Your account id (or give --participant).")
@click.option("--participant", "participant_path", type=click.Path(path_type=Path),
              help="Your participant file (account id and account key, from the venue at account opening).")
@click.option("--account-key", "account_key", help="Your account key (64 hex digits) to pin, if not in a file.")
@click.option("--cash", type=AsciiInt(), help="The cash balance you expect (settlement units).")
@click.option("--position", "positions", multiple=True, metavar="INSTRUMENT=LOTS",
              help="A position you expect (repeat; unlisted instruments are expected flat when any is given).")
@click.option("--balance", "balances", multiple=True, metavar="ASSET=UNITS",
              help="A collateral balance you expect, in the asset's smallest units (repeat; unlisted collateral "
                   "assets are expected empty when any is given; the settlement asset is --cash).")
@click.option("--margin-mode", type=click.Choice(["standard", "portfolio"]), help="The margin mode you expect.")
@click.option("--expect-header", "expect_headers", multiple=True, metavar="HASH",
              help="The header hash the venue posted publicly (repeat: one per epoch folder).")
@click.option("--crowd-audit", "crowd", default=0, show_default=True, type=AsciiInt(0),
              help="Also verify this many chunks of the latest epoch given (needs its audit data), picked with local "
                   "randomness (yours may be among them).")
@click.option("--history", is_flag=True, help="Print your account over the epochs given (chained and checked), and "
                                                "why your cash changed from each epoch to the next: the variation "
                                                "margin and funding of your carried positions, and the rest.")
@click.option("--history-csv", "history_csv_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write that history as CSV.")
@_json_option("Print the result as JSON.")
def verify(epoch_dirs: tuple[Path, ...], receipt_paths: tuple[Path, ...], account_id: str | None,
           participant_path: Path | None, account_key: str | None, cash: int | None, positions: tuple[str, ...],
           balances: tuple[str, ...], margin_mode: str | None, expect_headers: tuple[str, ...], crowd: int,
           history: bool, history_csv_path: Path | None, as_json: bool) -> None:
    """Check your own account in published epochs: that the receipt is yours, your values, your leaf, the path to
    the root, the root statements (matched book, reserves, solvency) and your chunk's collateralization proof.
    Given several epoch folders (with one receipt each), also that they chain and your account key never changed.

    Example: zkclear verify venue/epochs/7 --receipt my-7.rcpt --account alice --cash 1000000 --position BTC-PERP=3
    """
    from itertools import pairwise

    from zkclear.errors import InputError
    from zkclear.verifier.participant import (
        Participant,
        account_view,
        check_account_id,
        history_csv,
        history_rows,
        load_participant_file,
        parse_account_key,
        parse_expected_balances,
        parse_expected_positions,
        verify_history,
    )
    from zkclear.verifier.published import open_published
    from zkclear.verifier.receipt import Expected, crowd_audit

    if participant_path is not None:
        participant = load_participant_file(participant_path)
        if account_id is not None and account_id != participant.account_id:
            raise InputError(f"--account {account_id!r} differs from the participant file's "
                             f"{participant.account_id!r}", field="--account")
    elif account_id is not None:
        participant = Participant(check_account_id(account_id, field="--account"))
    else:
        raise InputError("say whose account this is: --account YOUR_ID or --participant YOUR_FILE",
                         field="--account")
    if account_key is not None:
        key = parse_account_key(account_key, field="--account-key")
        if participant.account_key not in (None, key):
            raise InputError("--account-key differs from the participant file's account key", field="--account-key")
        participant = Participant(participant.account_id, key)
    if len(receipt_paths) != len(epoch_dirs):
        raise InputError(f"give one --receipt per epoch folder ({len(epoch_dirs)} folders, "
                         f"{len(receipt_paths)} receipts)", field="--receipt")
    if expect_headers and len(expect_headers) != len(epoch_dirs):
        raise InputError("give one --expect-header per epoch folder", field="--expect-header")
    headers = [_header_hash(text) for text in expect_headers] or [None] * len(epoch_dirs)
    if history_csv_path is not None:
        _refuse_overwriting_an_input(history_csv_path, [*receipt_paths, participant_path, *(
            path for directory in epoch_dirs if Path(directory).is_dir() for path in Path(directory).iterdir())])
    pairs, expectations = [], []
    for directory, receipt_path, header in zip(epoch_dirs, receipt_paths, headers, strict=True):
        published = open_published(directory)
        receipt = published.receipt(receipt_path)
        wanted = parse_expected_positions(positions, published.public.instrument_ids) if positions else None
        held = parse_expected_balances(balances, published.public.asset_ids) if balances else None
        pairs.append((published, receipt))
        expectations.append(Expected(cash=cash, positions=wanted, margin_mode=margin_mode, header_hash=header,
                                     balances=held))
    picked: list[int] = []
    drawn_from = 0
    try:
        checks = verify_history(pairs, participant, expectations)
        from zkclear.proofs.recompute import carried_cash_flows, check_inputs_chain, check_public_inputs

        for published, _receipt in pairs:  # the marks shown are the ones the bound inputs give (not in the browser)
            check_public_inputs(published.inputs, published.public, epoch=published.epoch)
        ordered = sorted((published.inputs for published, _receipt in pairs), key=lambda inputs: inputs.epoch)
        for before, inputs in zip([None, *ordered], ordered, strict=False):  # configuration and state carried over
            check_inputs_chain(before, inputs)
        published_by_epoch = {p.epoch: p for p, _ in pairs}
        # why the cash moved: the engine's variation margin and funding on the positions your receipt of the epoch
        # before shows, at the epoch's public prices and rates (the clearing itself is not proven)
        carried = {after.epoch_id: carried_cash_flows(published_by_epoch[after.epoch_id].inputs, dict(zip(
                       published_by_epoch[before.epoch_id].public.instrument_ids, before.positions, strict=True)))
                   for before, after in pairwise(checks) if after.epoch_id == before.epoch_id + 1}
        if crowd:
            latest = max(pairs, key=lambda pair: pair[0].epoch)[0]
            from zkclear.verifier.audit_on_disk import open_audit_file

            audit = open_audit_file(latest)
            picked = crowd_audit(latest, audit, crowd)  # reads only the chunks it samples
            drawn_from = len(audit.chunks)
    except VerificationError as exc:
        _fail(exc, as_json, account=participant.account_id)
    rows = history_rows(checks, carried)
    if history_csv_path is not None:
        instruments = published_by_epoch[checks[-1].epoch_id].public.instrument_ids
        try:
            history_csv_path.write_text(history_csv(rows, instruments, cash_change=True), encoding="utf-8")
        except OSError as exc:  # its message does not always name the file (a write error)
            raise InputError(f"cannot write: {exc.strerror or exc}", path=str(history_csv_path),
                             field="--history-csv") from None
    results = [account_view(check, published_by_epoch[check.epoch_id]) for check in checks]
    if as_json:
        # which links between the epochs given were checked (a gap's is not: the text output says so too)
        links = [{"from": a.epoch_id, "to": b.epoch_id, "chained": b.epoch_id == a.epoch_id + 1}
                 for a, b in pairwise(checks)]
        cash_changes = [{"epoch": row.epoch, "variation_margin": row.cash_change.variation_margin,
                         "funding": row.cash_change.funding, "other": row.cash_change.other}
                        for row in rows if row.cash_change is not None]
        document = {"ok": True, "account": participant.account_id, "epochs": results,
                    "crowd_audited_chunks": picked, "crowd_audit_drawn_from": drawn_from, "links": links,
                    "cash_changes": cash_changes}
        click.echo(json.dumps(document, sort_keys=True))
        return
    # what was checked of the key: pinned, the same across the receipts given, or nothing (one receipt, unpinned)
    key_note = ("the one you pinned" if participant.account_key is not None
                else "the same in every receipt given" if len(results) > 1
                else "not pinned: --participant or --account-key checks that it is the key you were given")
    for result in results:
        _print_participant_view(result, key_note)
    gaps = [(a.epoch_id, b.epoch_id) for a, b in pairwise(checks) if b.epoch_id != a.epoch_id + 1]
    if len(results) > 1 and not gaps:
        click.echo(f"  the {len(results)} epochs chain and your account key {checks[0].key_fingerprint} never changed")
    elif gaps:
        click.echo(f"  your account key {checks[0].key_fingerprint} never changed; epochs {gaps[0][0]} and "
                   f"{gaps[0][1]} are not consecutive, so their chain was not checked (give every epoch between them)")
    if history or history_csv_path:
        _print_history(rows, published_by_epoch[checks[-1].epoch_id].public.instrument_ids)
    if history_csv_path:
        click.echo(f"  history written to {history_csv_path}")
    if picked:
        click.echo(f"  crowd audit: chunks {picked} of epoch {max(published_by_epoch)} verified too (drawn from its "
                   f"{drawn_from} chunks)")


def _scheduler_address(scheduler: str | None) -> str | None:
    """The --scheduler given, checked before anything is read (an empty one, from an unset shell variable, ran the
    prove on local processes); None when it is not given."""
    from zkclear.executor import check_scheduler_address

    return None if scheduler is None else check_scheduler_address(scheduler, "--scheduler")


def _refuse_idle_workers(workers: int | None, scheduler: str | None, kind: str | None) -> None:
    """InputError when --workers would be ignored: the cluster of --scheduler (or, for the dask executor, of
    ZKCLEAR_DASK_SCHEDULER) has its own workers, and the serial executor runs in this process (README:
    ``[--workers N | --scheduler tcp://HOST:PORT]``)."""
    from zkclear.errors import InputError

    if workers is None:
        return
    if scheduler:
        raise InputError("--workers sets local processes; with --scheduler the cluster's own workers run the tasks",
                         field="--workers")
    if kind == "dask" and os.environ.get("ZKCLEAR_DASK_SCHEDULER", "").strip():  # it was ignored (red team s15)
        raise InputError("--workers sets local processes; with ZKCLEAR_DASK_SCHEDULER the cluster's own workers run "
                         "the tasks", field="--workers")
    if kind == "serial":
        raise InputError("--workers sets local processes; the serial executor runs everything in this process "
                         "(use the process executor)", field="--workers")


def _refuse_overwriting_an_input(target: Path, inputs: list[Path | None]) -> None:
    """InputError when ``target`` (an output file) is one of ``inputs`` (a receipt written over is lost)."""
    from zkclear.errors import InputError

    for path in inputs:
        try:
            same = path is not None and target.exists() and target.samefile(path)
        except OSError:
            same = False
        if same:
            raise InputError("is one of the files this command reads", path=str(target), field="--history-csv")


def _print_participant_view(view: dict, key_note: str) -> None:
    held = ", ".join(f"{i} {q:+d}" for i, q in view["positions"].items()) or "none"
    click.echo(f"OK: account {view['account']} is in epoch {view['epoch']}'s tree at leaf {view['leaf_index']}")
    click.echo(f"  venue            {view['venue']} (the name the epoch's reserve attestations sign)")
    click.echo(f"  header hash      {view['header_hash']} (compare with the one the venue posted)")
    click.echo(f"  account key      fingerprint {view['account_key_fingerprint']} ({key_note})")
    click.echo(f"  margin mode      {view['margin_mode']}")
    from zkclear.verifier.participant import whole_units

    decimals = view["decimals"]
    settlement = next(iter(decimals))
    click.echo(f"  cash             {view['cash']} (smallest units: {whole_units(view['cash'], decimals[settlement])} "
               f"{settlement} at the venue's {decimals[settlement]} decimals; your settlement balance)")
    click.echo(f"  positions        {held} (lots)")
    for asset, values in view["collateral"].items():
        click.echo(f"  {asset:<16} balance {values['balance']} (smallest units: "
                   f"{whole_units(values['balance'], decimals[asset])} {asset}), haircut value "
                   f"{values['haircut_value']} (what it counts for in equity, settlement units)")
    if view["collateral"]:
        click.echo(f"  equity           {view['equity']} (cash, premium-style options and the haircut values of your "
                   "collateral)")
        owed = ", ".join(f"{asset} {amount} = {whole_units(amount, decimals[asset])}"
                         for asset, amount in view["liabilities"].items())
        click.echo(f"  liabilities      {owed} (what the venue counts as owed to you, per asset: a negative cash "
                   "balance counts as 0)")
    else:
        click.echo(f"  equity           {view['equity']} (cash plus the value of options held premium-style: the "
                   "liability the venue counts for you)")
    click.echo("  decimals         " + ", ".join(f"{asset} {places}" for asset, places in decimals.items())
               + " (the venue's unit of each asset: its reserves are converted to it, so check the whole amounts "
                 "above against what you hold)")
    click.echo(f"  maintenance      {view['maintenance_requirement']} (computed here from your positions and the "
               "epoch's public risk data)")
    click.echo(f"  above maintenance {view['distance_to_maintenance']} (how far your account is from liquidation)")
    click.echo("  marks            " + ", ".join(f"{i} {m}" for i, m in view["marks"].items()) + " (ticks)")
    click.echo("  verified: " + "; ".join(view["checks"]))


def _print_history(rows, instruments) -> None:
    click.echo("  history:")
    click.echo("    " + "  ".join(["epoch", "mode", "cash", *instruments, "equity", "maintenance", "above",
                                   "variation_margin", "funding", "other"]))
    for row in rows:
        change = row.cash_change
        values = [row.epoch, row.margin_mode, row.cash, *row.positions, row.equity, row.requirement,
                  row.distance_to_maintenance, *(("-",) * 3 if change is None else
                                                 (change.variation_margin, change.funding, change.other))]
        click.echo("    " + "  ".join(str(v) for v in values))
    if any(row.cash_change for row in rows):
        click.echo("    (the change of cash from the epoch before: variation margin and funding of the positions "
                   "carried in, as the clearing engine computes them from the epoch's public inputs, not proven; "
                   "other: trades, fees, transfers, liquidation, option premiums; '-': first epoch or after a gap)")


# -- auditor --------------------------------------------------------------------------------------

@cli.command()
@click.argument("epoch_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--marks", "marks_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Your own prices (CSV instrument,price or epoch,instrument,price) to compare the marks with.")
@click.option("--tolerance-bps", default=100, show_default=True, type=AsciiInt(0),
              help="How far (basis points) a published mark may be from your price.")
@click.option("--tolerance-ticks", default=0, show_default=True, type=AsciiInt(0),
              help="Ticks a mark may be off beyond --tolerance-bps (marks of a few ticks: options rounded up).")
@click.option("--vols", "vols_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Your own implied volatilities (CSV instrument,implied_vol_ppm, or with an epoch column first).")
@click.option("--vol-tolerance-bps", default=500, show_default=True, type=AsciiInt(0),
              help="How far (basis points) a published implied volatility may be from yours.")
@click.option("--expect-header", "expect_headers", multiple=True, metavar="HASH",
              help="The header hash the venue posted (repeat: one per epoch folder).")
@click.option("--total", "total_paths", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The auditor-only total file private/N/epoch-N.total (repeat per epoch); prints the reserve ratio.")
@_json_option("Print the report as JSON.")
@click.option("--workers", type=AsciiInt(1, MAX_WORKERS),
              help="Local processes verifying in parallel (default: every core; not with --scheduler).")
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Verify on a Dask cluster (`dask scheduler`).")
@click.option("--progress/--no-progress", default=None,
              help="Progress lines on stderr (default: only on a terminal, never with --json).")
def audit(epoch_dirs: tuple[Path, ...], marks_path: Path | None, tolerance_bps: int, tolerance_ticks: int,
          vols_path: Path | None, vol_tolerance_bps: int, expect_headers: tuple[str, ...],
          total_paths: tuple[Path, ...], as_json: bool, workers: int | None, scheduler: str | None,
          progress: bool | None) -> None:
    """Check whole epochs: the public data recomputed from the public inputs, attestations, every
    collateralization proof, the tree, every node's range proof, the matched book and solvency, and the insurance
    fund's published receipt when the configuration publishes it. Several folders (in any order) are audited in
    epoch order, and consecutive epochs are also checked as a chain.

    The audit data is read chunk by chunk and verified in parallel (one batch verification per group of chunks);
    progress goes to stderr on a terminal (--progress: always, except with --json).

    Example: zkclear audit venue/epochs/1 venue/epochs/2 --marks my-prices.csv --tolerance-bps 50
    """
    from zkclear.bundle.format import decode_total_opening, read_file
    from zkclear.errors import EncodingError, InputError
    from zkclear.executor import get_executor
    from zkclear.files import MAX_DOCUMENT_BYTES
    from zkclear.progress import ProgressLine, interval_from_environment
    from zkclear.proofs.recompute import check_inputs_chain, check_public_inputs
    from zkclear.proofs.reserves import check_blocks_advance, last_blocks
    from zkclear.verifier.audit import check_total_opening
    from zkclear.verifier.audit_stream import audit_file
    from zkclear.verifier.insurance_fund import check_insurance_fund
    from zkclear.verifier.marks import PRICE, VOLATILITY, compare_marks, compare_vols
    from zkclear.verifier.published import open_published, repeated_epoch

    if expect_headers and len(expect_headers) != len(epoch_dirs):
        raise InputError("give one --expect-header per epoch folder", field="--expect-header")
    scheduler = _scheduler_address(scheduler)
    # without --scheduler the audit runs on the executor ZKCLEAR_EXECUTOR names (get_executor)
    _refuse_idle_workers(workers, scheduler, (os.environ.get("ZKCLEAR_EXECUTOR") or "process").strip().lower())
    interval_from_environment()  # a bad ZKCLEAR_PROGRESS_SECONDS is refused before any epoch is audited
    marks, mark_lines = _own_values(marks_path, PRICE, "marks", len(epoch_dirs))
    vols, vol_lines = _own_values(vols_path, VOLATILITY, "vols", len(epoch_dirs))
    totals = {}
    for path in total_paths:
        try:
            opening = decode_total_opening(read_file(path, limit=MAX_DOCUMENT_BYTES))
        except EncodingError as exc:
            raise EncodingError(f"{path}: {exc}") from None
        if opening[0] in totals:
            raise InputError("two --total files are for the same epoch", path=str(path), field="--total")
        totals[opening[0]] = opening
    # in epoch order whatever the order given (a shell lists epochs/10 before epochs/2); each --expect-header stays
    # with its folder; consecutive epochs are checked as a chain, a gap starts a new one
    given = [open_published(directory) for directory in epoch_dirs]
    order = sorted(range(len(given)), key=lambda k: given[k].epoch)
    opened = [given[k] for k in order]
    posted = [expect_headers[k] for k in order] if expect_headers else []
    if set(totals) - {published.bundle.header.digest() for published in opened}:  # before any OK is printed
        raise InputError("a --total file is for none of the epochs audited", field="--total")
    for before, after in itertools.pairwise(opened):
        if before.epoch == after.epoch:
            _fail(repeated_epoch(after.epoch, before.bundle.epoch_hash(), after.bundle.epoch_hash()), as_json,
                  epoch=after.epoch)
    for published in opened:  # the marks and vols files, before any epoch is audited
        if marks_path is not None:
            _check_own_values(marks, mark_lines, marks_path, published.epoch, published.inputs.marks(),
                              "the marks file prices", "listed")
        if vols_path is not None:
            _check_own_values(vols, vol_lines, vols_path, published.epoch,
                              dict(published.inputs.derived["implied_vols"]), "the vols file lists",
                              "a live engine-marked option")
    reports = []
    previous = None
    outages: dict[str, int] = {}  # instrument -> epochs running (among those given) marked by the guard's fallback
    blocks: dict = {}  # chain -> (epoch, entry): the block each chain was last read at (last_blocks)
    fund_key = None  # the insurance fund's account key in the epochs audited before (publish_insurance_fund)
    for position, published in enumerate(opened):
        header_hash = published.bundle.epoch_hash()
        own = marks.get(None if None in marks else published.epoch, {})
        before = opened[position - 1] if position and opened[position - 1].epoch == published.epoch - 1 else None
        previous = before.bundle.chain_link() if before is not None else None
        try:
            if posted and header_hash != _header_hash(posted[position]):
                raise VerificationError("header-mismatch",
                                        detail=f"epoch {published.epoch}'s header hash is {header_hash.hex()}, the "
                                               f"venue posted {posted[position]}")
            # the files read are the ones the header binds before anything is recomputed from them: a file altered
            # after publication is public-data-mismatch, not a claim that the venue proved with other data
            published.check_bound()
            recomputed = check_public_inputs(published.inputs, published.public, epoch=published.epoch)
            # the configuration against the epoch audited before, across a gap too (fixed at init); the state
            # against the epoch before only
            check_inputs_chain(opened[position - 1].inputs if position else None, published.inputs)
            # no chain's reserves read at an older block than the latest epoch given before that listed the chain
            check_blocks_advance(blocks, published.bundle.reserves, published.epoch)
            blocks = last_blocks(blocks, published.bundle.reserves, published.epoch)
            run = get_executor("dask" if scheduler else None, workers, scheduler)
            show = (sys.stderr.isatty() if progress is None else progress) and not as_json
            try:
                with ProgressLine(lambda text: click.echo(text, err=True), stream=sys.stderr) as line:
                    report = audit_file(published, previous=previous, executor=run,
                                        progress=line.update if show else None)
            finally:
                run.close()
            fund = check_insurance_fund(published, fund_key)
            fund_key = fund.account_key if fund is not None else fund_key
            compared = vols_compared = 0
            if own:
                compared = compare_marks(published.inputs.marks(), own, tolerance_bps, epoch=published.epoch,
                                         tolerance_ticks=tolerance_ticks)
            own_vols = vols.get(None if None in vols else published.epoch, {})
            if own_vols:
                vols_compared = compare_vols(dict(published.inputs.derived["implied_vols"]), own_vols,
                                             vol_tolerance_bps, epoch=published.epoch)
            total = None
            opening = totals.pop(published.bundle.header.digest(), None)
            if opening is not None:
                total = check_total_opening(published.bundle, opening)
        except VerificationError as exc:
            _fail(exc, as_json, epoch=published.epoch)
        reserves = {r.asset_id: {"decimals": r.decimals, "total": r.total, "by_chain": dict(r.by_chain),
                                 "total_liabilities": None if total is None else total[k]}
                    for k, r in enumerate(report.reserves)}
        entry = {"ok": True, "epoch": report.epoch_id, "header_hash": report.header_hash, "chunks": report.chunks,
                 "leaves": report.leaves, "upper_nodes": report.upper_nodes,
                 "venue": published.bundle.reserves.venue, "reserves": reserves,
                 "unregistered_tokens": _unregistered_tokens(published.bundle.reserves),
                 "renamed_tokens": _renamed_tokens(published.bundle.reserves),
                 "marks_compared": compared, "vols_compared": vols_compared,
                 "total_liabilities": None if total is None else total[0]}
        entry["insurance_fund"] = None if fund is None else {
            "cash": fund.check.cash, "balances": {asset: balance for asset, balance, _ in fund.check.collateral},
            "key_fingerprint": fund.check.key_fingerprint, "leaf_index": fund.check.leaf_index}
        entry["oracle"], outages = _oracle_summary(published.inputs.derived, outages if before is not None else {},
                                                   published.inputs.document["previous"],
                                                   recomputed.config.max_fallback_epochs)
        reports.append(entry)
        if not as_json:
            _print_audit(entry, tolerance_bps, tolerance_ticks, vol_tolerance_bps)
    if as_json:
        click.echo(json.dumps(reports if len(reports) > 1 else reports[0], sort_keys=True))
    elif len(reports) > 1:
        gaps = [after.epoch for before, after in itertools.pairwise(opened) if after.epoch != before.epoch + 1]
        click.echo(f"chain of {len(reports)} epochs verified" if not gaps else
                   f"{len(reports)} epochs verified, chained where consecutive (a new chain starts at epoch "
                   f"{', '.join(str(epoch) for epoch in gaps)}: the epochs before it are not given)")


def _oracle_summary(derived: dict, running: dict[str, int], previous: dict | None = None,
                    bound: int | None = None) -> tuple[dict, dict[str, int]]:
    """What the oracle guard decided in an epoch, for the audit's report: the instruments marked at their last good
    price (fallback: too few sources; with the number of epochs in a row, this one included, that each has been —
    counted over the consecutive epochs given or, when the inputs carry it (``previous``'s ``oracle_fallbacks``, a
    bounded guard), the published count, whichever is longer), those the circuit breaker clamped away from the quotes'
    median, and those whose liquidations were paused; ``fallback_bound`` is ``oracle.max_fallback_epochs`` (the
    recomputation refuses a longer run). Returns the summary and the new running counts. Without a bound nothing
    limits how long a fallback lasts; an operator that publishes too few quotes for epochs on end keeps marks frozen,
    liquidations and exposed withdrawals paused (docs/protocol.md, threat model)."""
    decisions = derived.get("oracle_decisions", [])
    published = dict((previous or {}).get("oracle_fallbacks", []))
    fallback = {d["instrument_id"]: max(running.get(d["instrument_id"], 0), published.get(d["instrument_id"], 0)) + 1
                for d in decisions if d["status"] == "fallback"}
    clamped = [d["instrument_id"] for d in decisions
               if d["breaker_triggered"] and d["mark_price_ticks"] != d["median_price_ticks"]]
    summary = {"fallback": fallback, "fallback_bound": bound, "breaker": clamped,
               "paused": list(derived.get("paused_instruments", []))}
    return summary, fallback


def _own_values(path: Path | None, column: str, noun: str, epochs: int
                ) -> tuple[dict[int | None, dict[str, int]], dict[tuple[int | None, str], int]]:
    """The auditor's own prices or implied volatilities (``column``) from ``path`` and the line of each; empty
    without a file. With several epochs the file needs an epoch column."""
    from zkclear.errors import InputError
    from zkclear.verifier.marks import load_marks

    lines: dict[tuple[int | None, str], int] = {}
    values = load_marks(path, lines, column) if path is not None else {}
    if None in values and epochs > 1:
        raise InputError(f"with several epochs, the {noun} file needs an epoch column (epoch,instrument,{column})",
                         path=str(path))
    return values, lines


def _check_own_values(values: dict[int | None, dict[str, int]], lines: dict[tuple[int | None, str], int], path: Path,
                      epoch: int, listed: dict[str, int], covers: str, listed_as: str) -> None:
    """Before any epoch is audited: the auditor's file covers ``epoch`` and names only instruments ``listed`` in it."""
    from zkclear.errors import InputError

    key = None if None in values else epoch
    if not values.get(key):
        raise InputError(f"{covers} no instrument of epoch {epoch}", path=str(path))
    for instrument in values[key]:
        if instrument not in listed:
            raise InputError(f"instrument {instrument!r} is not {listed_as} in epoch {epoch}", path=str(path),
                             line=lines.get((key, instrument)), field="instrument")


def _print_audit(entry: dict, tolerance_bps: int, tolerance_ticks: int = 0, vol_tolerance_bps: int = 0) -> None:
    click.echo(f"epoch {entry['epoch']}: OK — header hash {entry['header_hash']}")
    click.echo("  public risk data recomputed from the public inputs (configuration, marks, oracle, vols, "
               "dynamic parameters)")
    click.echo(f"  {entry['chunks']} chunks ({entry['leaves']} leaves), {entry['upper_nodes']} upper nodes; every "
               "collateralization and node proof, the matched book and the reserve attestations verified")
    click.echo(f"  reserves of {entry['venue']}, per asset (smallest units; every address attested with its chain's "
               "own signed message):")
    for asset, reserves in entry["reserves"].items():
        chains = ", ".join(f"{chain} {amount}" for chain, amount in reserves["by_chain"].items()) or "none"
        total = reserves["total_liabilities"]
        if total is None:
            click.echo(f"    {asset:<8} {reserves['total']} ({chains}) cover the hidden {asset} liabilities (solvency "
                       "proof)")
        else:
            ratio = f"{reserves['total'] / total:.4f}" if total else "unbounded"
            click.echo(f"    {asset:<8} {reserves['total']} ({chains}) >= {asset} liabilities {total} (auditor-only "
                       f"file): reserve ratio {ratio}")
    fund = entry.get("insurance_fund")
    if fund is not None:
        held = ", ".join([f"cash {fund['cash']}", *(f"{asset} {units}" for asset, units in fund["balances"].items())])
        # the fund's key binds it across the epochs of one audit only: printed to compare with audits run apart
        click.echo(f"  insurance fund: {held} (smallest units; its published receipt verified as a participant's is: "
                   f"its leaf, path and chunk; account key {fund['key_fingerprint']}, the same in every epoch)")
    for token in entry["unregistered_tokens"]:
        click.echo(f"  check by hand: {token['asset']} on {token['chain']} is counted from the token "
                   f"{token['contract']} with {token['decimals']} decimals, a contract zkclear does not know")
    for token in entry.get("renamed_tokens", ()):
        click.echo(f"  check by hand: {token['asset']} on {token['chain']} is counted from the token "
                   f"{token['contract']} with {token['decimals']} decimals, the registry's {token['registered_as']}: "
                   f"is one {token['registered_as']} worth one {token['asset']}?")
    oracle = entry.get("oracle", {})
    bound = oracle.get("fallback_bound")
    for instrument, epochs in oracle.get("fallback", {}).items():
        running = f", {epochs} epochs running among those audited" if epochs > 1 else ""
        if bound is not None:  # the count the inputs carry: the recomputation refuses a run beyond the bound
            running = f", {epochs} epochs running of at most {bound}"
        click.echo(f"  oracle fallback: {instrument} is marked at its last good price (too few sources quoted "
                   f"it{running}); its liquidations are paused and exposed accounts withdraw nothing")
    if oracle.get("breaker"):
        click.echo(f"  oracle circuit breaker: {', '.join(oracle['breaker'])} clamped to the largest move allowed")
    if entry["marks_compared"]:
        ticks = f" + {tolerance_ticks} ticks" if tolerance_ticks else ""
        click.echo(f"  {entry['marks_compared']} marks within {tolerance_bps} bps{ticks} of your prices")
    if entry.get("vols_compared"):
        click.echo(f"  {entry['vols_compared']} implied volatilities within {vol_tolerance_bps} bps of yours")


@cli.command()
@click.argument("epoch_dir", type=click.Path(path_type=Path))
@_json_option("Print the summary as JSON.")
@click.option("--attestation-text", "text_address", metavar="ADDRESS",
              help="Print only the exact text the custodian of this listed reserve address signs (with its wallet, "
                   "or zkclear keys sign).")
@click.option("--chain", help="The chain of --attestation-text's address, when it is listed on several chains.")
@click.option("--asset", help="The asset of --attestation-text's address, when it is listed for several.")
def show(epoch_dir: Path, as_json: bool, text_address: str | None, chain: str | None, asset: str | None) -> None:
    """Print an epoch's public summary (what anyone can see): its header hash, root, listing, marks (recomputed from
    the public inputs, as the audit does), the venue's assets and their reserves by chain.

    Example: zkclear show venue/epochs/7
    """
    from zkclear.errors import InputError
    from zkclear.proofs.reserves import check_reserve_book
    from zkclear.verifier.published import open_published

    if text_address is None and (chain is not None or asset is not None):  # a filter of nothing: never ignored
        raise InputError("--chain and --asset choose the entry of --attestation-text ADDRESS; give it too",
                         field="--chain" if chain is not None else "--asset")
    published = open_published(epoch_dir)
    published.check_bound()  # the marks and values shown are the ones the header binds (exit 2 otherwise)
    bundle, header = published.bundle, published.bundle.header
    try:  # the reserves shown are the ones the header binds, with the epoch's assets (exit 2 otherwise)
        check_reserve_book(bundle.reserves, header.reserves_digest, header.reserve_totals, published.public.asset_ids)
    except VerificationError as exc:
        _fail(exc, as_json)
    if text_address is not None:
        from zkclear.chains import render_attestation_text
        from zkclear.proofs.reserves import listed_entry

        entry = listed_entry(bundle.reserves, text_address, chain, asset, option="--attestation-text")
        click.echo(render_attestation_text(bundle.attestation_context(), entry))
        return
    from zkclear.proofs.recompute import check_public_inputs

    try:  # the marks shown are the ones the published inputs give, not the operator's own figures (red team s13)
        check_public_inputs(published.inputs, published.public, epoch=published.epoch)
    except VerificationError as exc:
        _fail(exc, as_json)
    summary = {
        "epoch": header.epoch_id,
        "header_hash": bundle.epoch_hash().hex(),
        "root": bundle.root.digest.hex(),
        "previous_header_hash": header.previous_epoch_hash.hex(),
        "tree_height": header.tree.height,
        "chunk_size": header.tree.chunk_size,
        "instruments": list(published.public.instrument_ids),
        "marks": published.inputs.marks(),
        "paused_instruments": list(published.inputs.derived["paused_instruments"]),
        "values_per_lot": list(published.public.value_per_lot),
        "venue": bundle.reserves.venue,
        "assets": [{"asset": a.asset_id, "decimals": a.decimals, "reserves": total}
                   for a, total in zip(bundle.reserves.assets, header.reserve_totals, strict=True)],
        "collateral_assets": list(published.public.asset_ids),
        # one whole unit of each collateral asset at the epoch's price, in whole settlement units: whether the
        # published decimals, unit value and price agree is then a glance at the market (red team session 15)
        "whole_unit_values": _whole_unit_values(published.public, bundle.reserves.assets),
        "chains": sorted({e.chain for e in bundle.reserves.entries}),
        "reserve_addresses": [f"{e.chain}:{e.asset}:{e.address}" for e in bundle.reserves.entries],
        "reserve_entries": [{"chain": e.chain, "asset": e.asset, "address": e.address, "balance": e.balance,
                             "token": e.token_label, "chain_decimals": e.decimals, "block_height": e.block_height,
                             "block_hash": e.block_hash} for e in bundle.reserves.entries],
        "unregistered_tokens": _unregistered_tokens(bundle.reserves),
        "renamed_tokens": _renamed_tokens(bundle.reserves),
        "attestations": len(bundle.attestations),
        "public_data_digest": header.public_data_digest.hex(),
        "public_inputs_digest": header.public_inputs_digest.hex(),
    }
    if as_json:
        click.echo(json.dumps(summary, sort_keys=True))
        return
    settlement = bundle.reserves.assets[0].asset_id
    summary["assets"] = ", ".join(f"{a['asset']} ({a['decimals']} decimals, reserves {a['reserves']})"
                                  for a in summary["assets"])
    summary["whole_unit_values"] = "; ".join(
        f"1 {asset} = {value} {settlement} at this epoch's price" for asset, value in
        summary["whole_unit_values"].items()) + " (compare with the market: the decimals, unit values and "\
        "prices are the venue's)" if summary["whole_unit_values"] else "none"
    from zkclear.chains.blocks import height_label

    summary["reserve_entries"] = "; ".join(
        f"{e['chain']}:{e['asset']}:{e['address']} balance {e['balance']} ({e['chain_decimals']} decimals on "
        f"{e['chain']}, token {e['token']}) at {height_label(e['chain'])} {e['block_height']} {e['block_hash']}"
        for e in summary["reserve_entries"])
    summary["unregistered_tokens"] = "; ".join(
        f"{t['asset']} on {t['chain']} = {t['contract']} ({t['decimals']} decimals): check on the chain"
        for t in summary["unregistered_tokens"]) or "none (every token is a registered contract)"
    # show checks what the header binds; the attestations are not bound by it, and show does not verify them (red
    # team s15: a junk attestation made it print one more, exit 0, where verify and audit refuse it)
    summary["attestations"] = (f"{summary['attestations']} in the bundle, not checked here (zkclear audit and "
                               "verify check each against its chain's signature)")
    summary["renamed_tokens"] = "; ".join(
        f"{t['asset']} on {t['chain']} = {t['registered_as']} {t['contract']} ({t['decimals']} decimals): check it "
        f"is worth the asset" for t in summary["renamed_tokens"]) or "none"
    for key, value in summary.items():
        click.echo(f"{key:>21}: {value}")


def _whole_unit_values(public, venue_assets) -> dict[str, str]:
    """Collateral asset -> the value of one whole unit (``10^decimals`` smallest units) at the epoch's price, in
    whole settlement units (exact decimal text)."""
    from zkclear.verifier.participant import whole_units

    decimals = {asset.asset_id: asset.decimals for asset in venue_assets}
    settlement = venue_assets[0].decimals
    return {asset.asset_id: whole_units(asset.value(10 ** decimals[asset.asset_id]), settlement)
            for asset in public.assets}


def _unregistered_tokens(book) -> list[dict]:
    """The tokens the registry does not know (ReserveBook.unregistered_tokens), as JSON."""
    return [{"chain": chain, "asset": asset, "contract": contract, "decimals": decimals}
            for chain, asset, contract, decimals in book.unregistered_tokens()]


def _renamed_tokens(book) -> list[dict]:
    """The registered tokens counted for an asset of another name (ReserveBook.renamed_tokens), as JSON."""
    return [{"chain": chain, "asset": asset, "contract": contract, "decimals": decimals, "registered_as": name}
            for chain, asset, contract, decimals, name in book.renamed_tokens()]


def _fail(exc: VerificationError, as_json: bool, **extra: object) -> None:
    from zkclear.verifier.reasons import explain

    message = exc.detail or explain(exc.reason, exc.index)
    if as_json:
        try:
            click.echo(json.dumps({"ok": False, "reason": exc.reason, "detail": message, **extra}, sort_keys=True))
            sys.exit(2)
        except OSError:  # stdout could not be written (a full disk): the failure goes to stderr, and exit 2 stands
            pass
    click.echo(f"FAILED [{exc.reason}]: {_one_line(message)}", err=True)
    sys.exit(2)


# -- the verification page (zkclear/web) ----------------------------------------------------------

@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--port", default=8737, show_default=True, type=AsciiInt(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (keep it local; 0.0.0.0 serves the LAN, reached by IP address).")
@click.option("--export", "export_dir", type=click.Path(path_type=Path),
              help="Do not serve: write the page and the public epoch files as a static tree to this new folder, "
                   "for the venue's own web server (with the headers listed in its _headers file).")
def serve(directory: Path, port: int, host: str, export_dir: Path | None) -> None:
    """Serve the verification page and the public files of the published epochs in DIRECTORY on localhost:
    participants check their receipt in their own browser, and nothing leaves it.

    Fetches the pinned Pyodide with npm on first use. Receipts and other private files are never served, nor
    exported.

    Example: zkclear serve venue/epochs --port 8737
    """
    if export_dir is not None:
        from zkclear.web.export import check_export_target, export_site
        from zkclear.web.server import build_site

        check_export_target(export_dir)  # before fetching anything
        summary = export_site(build_site(directory, echo=click.echo), export_dir)
        click.echo(f"exported the verification page and epochs {list(summary.epochs) or 'none'} to {summary.out} "
                   f"({summary.files} files): host it at the root of its own origin with the headers in "
                   "its _headers file")
        return
    from zkclear.web.server import serve as run_server

    run_server(directory, host, port, click.echo)


# -- everyone -------------------------------------------------------------------------------------

@cli.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"),
              show_default=True, help="Where the demo writes its market, deployment and epochs.")
@click.option("--accounts", type=AsciiInt(), help="Traders in the synthetic market (default 26; 200 with --full).")
@click.option("--epochs", type=AsciiInt(),
              help="Epochs to run (default 2; 4 with --full); the crash is in epoch min(3, epochs), none with 1.")
@click.option("--height", default=32, show_default=True, type=AsciiInt(), help="Tree height.")
@click.option("--executor", default="process", show_default=True,
              type=click.Choice(["serial", "process", "dask"]), help="Who runs the proofs.")
@click.option("--full", is_flag=True, help="The long market: 200 traders over 4 epochs (several minutes).")
def demo(out_dir: Path, accounts: int | None, epochs: int | None, height: int, executor: str, full: bool) -> None:
    """From nothing: a synthetic market with a crash, several epochs with liquidations, proofs, one
    participant's verification and a full audit, each step printed. About a minute; --full runs the
    long market.

    Example: zkclear demo --full
    """
    from zkclear.demo import run_demo

    run_demo(out_dir, accounts=accounts, epochs=epochs, height=height, executor=executor, full=full,
             echo=click.echo)


@cli.command()
@click.argument("suite", type=click.Choice(SUITES))
@click.option("--quick", is_flag=True, help="A smaller run (each suite's sizes: docs/performance.md; epoch "
              "--quick takes about a minute on a 2-core box, the full epoch suite about five).")
@_json_option("Print one JSON object of metric -> number.")
def bench(suite: str, quick: bool, as_json: bool) -> None:
    """Run a benchmark suite and print its figures (and ratios to py-ecc measured in the same run).

    Example: zkclear bench group --quick --json
    """
    module = importlib.import_module(f"zkclear.bench.{suite}")
    echo = (lambda _line: None) if as_json else click.echo
    metrics = module.run(quick=quick, echo=echo)
    if as_json:
        click.echo(json.dumps(metrics, sort_keys=True))


class _NeverRaised(Exception):
    """Stands for an exception this click version does not have."""


#: What click (8.2 and later) raises for a group given no subcommand (``zkclear``, ``zkclear epoch``): its message is
#: the whole help, which the one-line error would print as one escaped line (click 8.1 printed the help and exited 0,
#: as :func:`main` does).
_NO_ARGS_IS_HELP: type[Exception] = getattr(click.exceptions, "NoArgsIsHelpError", _NeverRaised)


class _StdoutOutlivingItsReader(io.TextIOBase):
    """``sys.stdout`` while a command runs. Once its reader has gone (a closed pipe: ``| head -1``, a log reader
    that died), what is written is dropped and the command goes on to its end and its exit status; click ended the
    command at the first line it could not write, with exit 1 and not a word (an `epoch prove` whose log reader had
    died proved nothing and said nothing). A write that fails otherwise (a full disk under a log file) is an
    OSError naming the file (it named none), and nothing more is written to it (red team s16)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lost = False

    @property
    def encoding(self) -> str:  # type: ignore[override]  # the stream's (click checks it)
        return self._stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._stream.errors

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # a text stream (click probes with bytes whether it is one)
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if text:  # click probes with an empty write too, and would take its error for an answer
            self._guarded(lambda: self._stream.write(text))
        return len(text)

    def flush(self) -> None:
        self._guarded(self._stream.flush)

    def _guarded(self, action: Callable[[], object]) -> None:
        if self._lost:
            return
        try:
            action()
        except OSError as exc:
            self._lost = True
            name = self._name()
            # the descriptor goes to /dev/null (Python's advice on EPIPE): what is buffered goes there, and the
            # flush at exit raises nothing ("Exception ignored ... BrokenPipeError")
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self._stream.fileno())
                os.close(devnull)
            if not isinstance(exc, BrokenPipeError):
                raise OSError(exc.errno, exc.strerror or str(exc), name) from exc

    def _name(self) -> str:
        """The file standard output is written to (Linux), else "standard output"."""
        try:
            return os.readlink(f"/proc/self/fd/{self._stream.fileno()}")
        except (OSError, ValueError):
            return "standard output"


def run() -> None:
    """The program's entry point (the ``zkclear`` command, ``python -m zkclear.cli``): :func:`main`, then the process
    ends with the command's exit status at once (``os._exit``, after flushing its output), without the interpreter's
    shutdown. A command has finished its work when :func:`main` returns — files written and synced, the ledger
    committed, executors closed, threads joined — and a Ctrl-C in the shutdown that followed printed a
    ``KeyboardInterrupt`` traceback from ``threading._shutdown``, or ended the process by SIGINT with no message
    once the interpreter had restored the default handler (red team session 16). From :func:`main`'s return a
    Ctrl-C is blocked, then discarded with the process. Tests call :func:`main` in-process, which leaves their own
    interpreter alone."""
    status, returned = 1, False
    try:
        try:
            main()
            status = 0
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        returned = True
        if hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread():
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except KeyboardInterrupt:  # between main's last step and the mask: the command's status stands
        if not returned:
            with contextlib.suppress(Exception):
                sys.stderr.write(_aborted() + "\n")
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


def main() -> None:
    """Entry point. Exit status: 0 OK; 1 bad input or usage (one line on stderr); 2 a check failed (the
    verifiers); 3 an internal error (a bug: please report it). With --json, an error is also one JSON object on
    stdout: ``{"ok": false, "error": "input" | "usage" | "internal", "detail": ...}`` (a failed check:
    ``{"ok": false, "reason": ..., "detail": ...}``). Output that its reader no longer reads (a closed pipe) is
    dropped: the command ends as it would have, with its exit status."""
    stdout = sys.stdout
    if stdout is not None and not isinstance(stdout, _StdoutOutlivingItsReader):
        sys.stdout = _StdoutOutlivingItsReader(stdout)
    try:
        _main()
    finally:
        sys.stdout = stdout


#: what a command had done when a Ctrl-C stopped it in its last steps (printing a summary): said after "aborted", so
#: that an interrupted summary is not read as nothing done (red team session 16: "aborted" after a committed epoch)
_done_before_an_abort = ""


def _aborted() -> str:
    return f"aborted ({_done_before_an_abort})" if _done_before_an_abort else "aborted"


def _main() -> None:
    global _errors_as_json, _done_before_an_abort
    _errors_as_json = False
    _done_before_an_abort = ""
    try:
        cli.main(standalone_mode=False)
    except _NO_ARGS_IS_HELP as exc:  # `zkclear`, `zkclear epoch`, `zkclear keys`: their help, as with --help
        click.echo(exc.ctx.get_help() if exc.ctx is not None else cli.get_help(click.Context(cli)))
        sys.exit(0)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
            # Ctrl-C: a second one while the process ends (its worker pool's threads are joined at exit) ends it at
            # once, as the signal's default does, not with "Exception ignored ... KeyboardInterrupt" and a traceback
            signal.signal(signal.SIGINT, signal.SIG_DFL)
        _exit_with_error("usage", _aborted(), 1)
    except KeyboardInterrupt:
        # a second Ctrl-C while click turned the first into Abort (it was printing a line feed): the same, no traceback
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_DFL)
        _exit_with_error("usage", _aborted(), 1)
    except click.UsageError as exc:
        path = exc.ctx.command_path if exc.ctx is not None else "zkclear"
        # an unknown option or a missing value stops parsing before --json is read: look for it in the arguments
        _errors_as_json = _errors_as_json or "--json" in sys.argv[1:]
        # click lays out a list of choices on indented lines ("Choose from:\n\tgroup,\n\t..."): one line here
        message = exc.format_message().replace("\n\t", " ")
        _exit_with_error("usage", f"{message} (see: {path} --help)", 1)
    except click.ClickException as exc:
        _exit_with_error("input", exc.format_message(), 1)
    except VerificationError as exc:
        _fail(exc, _errors_as_json)
    except ZkclearError as exc:
        _exit_with_error("input", str(exc), 1)
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        _exit_with_error("input", f"{where}{exc.strerror or exc}", 1)
    except sqlite3.Error as exc:  # a damaged or unwritable database the deployment's own checks did not name
        _exit_with_error("input", f"a database could not be read or written: {exc}", 1)
    except (RecursionError, MemoryError) as exc:
        _exit_with_error("input", f"input too large or too deeply nested ({type(exc).__name__})", 1)
    except Exception as exc:  # never a traceback for a user; the tests treat exit 3 as a defect
        _exit_with_error("internal", f"internal error (please report it): {type(exc).__name__}: {exc}", 3)


def _one_line(message: str) -> str:
    """``message`` with every character that is not printable escaped (``\\n``, ``\\x1b``): an error stays one line on
    the terminal whatever it quotes (a path or a value holding a line break, a terminal escape sequence)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in message)


def _exit_with_error(kind: str, message: str, status: int) -> None:
    """One line on stderr (``error: ...``; an internal error says so itself) and, with --json, the same as one JSON
    object on stdout; then exit with ``status``."""
    shown = _one_line(message)
    line = shown if kind == "internal" or message.startswith("aborted") else f"error: {shown}"
    click.echo(line, err=True)
    if _errors_as_json:
        with contextlib.suppress(OSError):  # stdout could not be written (the error said so): the line stands
            click.echo(json.dumps({"ok": False, "error": kind, "detail": message}, sort_keys=True))
    sys.exit(status)


if __name__ == "__main__":
    run()
