"""The ``zkclear`` command line: the operator's, the participant's and the auditor's tool.

Every failure the user can cause (a bad input file, a proof that does not verify) ends with one line on
stderr and a non-zero exit status; nothing is half-applied.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import click

from zkclear.bench import SUITES
from zkclear.errors import VerificationError, ZkclearError

DEPLOYMENT_HELP = "Deployment directory (default: $ZKCLEAR_DEPLOYMENT or the current directory)."


def _deployment_option(function):
    return click.option("-d", "--deployment", "deployment_dir", type=click.Path(file_okay=False, path_type=Path),
                        envvar="ZKCLEAR_DEPLOYMENT", default=Path("."), show_default=False,
                        help=DEPLOYMENT_HELP)(function)


def _open_deployment(path: Path):
    from zkclear.operator import Deployment

    return Deployment(path)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="zkclear")
def cli() -> None:
    """zkclear: a derivatives clearing house with zero-knowledge proofs of collateralization and solvency.

    \b
    Operator:     zkclear init, zkclear epoch run, zkclear epoch prove, zkclear epoch attest
    Participant:  zkclear verify
    Auditor:      zkclear audit, zkclear show
    Everyone:     zkclear demo, zkclear bench

    Example: zkclear demo
    """


# -- operator -------------------------------------------------------------------------------------

@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Clearing configuration TOML (docs/format.md); default: the demo market's.")
@click.option("--height", default=32, show_default=True, help="Tree height (capacity 2^height leaves).")
@click.option("--chunk-bits", default=4, show_default=True, help="2^chunk-bits accounts per collateral batch.")
@click.option("--chunk-padding", default="power_of_two", show_default=True,
              type=click.Choice(["none", "multiple", "power_of_two", "capacity"]),
              help="How the number of chunks is padded (hides the account count).")
@click.option("--chunk-padding-param", default=1, show_default=True, help="Parameter of the padding policy.")
@click.option("--dense", is_flag=True, help="Pack chunks at the left of the tree (cheaper; reveals the count).")
@click.option("--executor", default="process", show_default=True,
              type=click.Choice(["serial", "process", "dask"]), help="Who runs the proofs.")
def init(directory: Path, config_path: Path | None, height: int, chunk_bits: int, chunk_padding: str,
         chunk_padding_param: int, dense: bool, executor: str) -> None:
    """Create a deployment: configuration, proving settings, operator secret and an empty ledger.

    Example: zkclear init ./venue --config venue.toml --height 32 --chunk-bits 4
    """
    from zkclear.operator import Deployment, ProvingSettings
    from zkclear.synthetic import MarketSpec, config_toml
    from zkclear.tree.placement import TreeConfig

    text = config_path.read_text(encoding="utf-8") if config_path else config_toml(MarketSpec())
    settings = ProvingSettings(tree=TreeConfig(height=height, chunk_bits=chunk_bits, chunk_padding=chunk_padding,
                                               chunk_padding_param=chunk_padding_param, sparse=not dense),
                               executor=executor)
    deployment = Deployment.init(directory, text, settings, source=str(config_path) if config_path else None)
    click.echo(f"created deployment {deployment.root}: {len(deployment.config.instruments)} instruments, "
               f"deficit resolution {deployment.config.deficit_resolution.value}, tree height {height}, "
               f"chunks of {1 << chunk_bits}")
    click.echo("  next: zkclear epoch run INPUT_DIR -d " + str(directory))


@cli.group()
def epoch() -> None:
    """Clear, prove and attest epochs (operator)."""


@epoch.command("run")
@click.argument("input_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@_deployment_option
@click.option("--epoch", "number", type=int, help="Epoch number (default: the next one).")
def epoch_run(input_dir: Path, deployment_dir: Path, number: int | None) -> None:
    """Validate an epoch's input files, clear them and commit the epoch atomically.

    INPUT_DIR holds fills.csv, prices.csv or prices.json, and optionally accounts.csv, transfers.csv,
    margins.csv (docs/format.md). A bad record stops everything with FILE:LINE: field 'NAME': reason.

    Example: zkclear epoch run inputs/epoch-1 -d ./venue
    """
    deployment = _open_deployment(deployment_dir)
    result = deployment.run_epoch(input_dir, number)
    if result.report is None:
        click.echo(f"epoch {result.epoch} is already committed with these inputs: nothing to do")
        return
    _print_epoch_summary(deployment, result.epoch, result.report)


def _print_epoch_summary(deployment, number: int, report) -> None:
    from zkclear.clearing.config import INSURANCE_FUND

    with deployment.ledger() as ledger:
        state = ledger.state(number)
        inputs = ledger.inputs(number)
    volume = int(inputs.fills.size.sum()) if len(inputs.fills) else 0
    rejected = [w for w in report.withdrawals if not w.accepted]
    click.echo(f"epoch {number} committed: {len(state.accounts)} accounts, {len(inputs.fills)} fills, "
               f"{volume} lots, fees {report.fees_collected}")
    click.echo(f"  liquidations {len(report.liquidations)}, ADL {len(report.adl)}, socialized losses "
               f"{len(report.socialized)}, insurance fund {state.cash_of(INSURANCE_FUND)}")
    if report.oracle_decisions:
        dropped = [(d["instrument_id"], q) for d in report.oracle_decisions for q in d["dropped"]]
        paused = [d["instrument_id"] for d in report.oracle_decisions if d["liquidations_paused"]]
        click.echo(f"  oracle: {len(dropped)} quotes dropped, liquidations paused on {paused or 'nothing'}")
    if report.withdrawals:
        click.echo(f"  withdrawals: {len(report.withdrawals) - len(rejected)} honoured, {len(rejected)} rejected")
    for outcome in rejected:
        click.echo(f"    rejected {outcome.account} {outcome.amount}: {outcome.reason}")


@epoch.command("prove")
@_deployment_option
@click.option("--epoch", "number", type=int, help="Epoch to prove (default: the last committed).")
@click.option("--reserves", "reserves_path", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Reserves CSV: address,balance (docs/format.md).")
@click.option("--sign-with", "key_paths", multiple=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Reserve key file(s) (hex) to attest at once; else custodians run `epoch attest`.")
def epoch_prove(deployment_dir: Path, number: int | None, reserves_path: Path, key_paths: tuple[Path, ...]) -> None:
    """Commit every account, build the sum tree, prove everything, write the bundle, audit data and receipts.

    Example: zkclear epoch prove -d ./venue --reserves reserves.csv --sign-with custody.key
    """
    from zkclear.proofs.attestations import ReserveSet

    deployment = _open_deployment(deployment_dir)
    number = number or deployment.head()
    reserves = ReserveSet.load(reserves_path)
    keys = [_read_key(path) for path in key_paths]
    click.echo(f"proving epoch {number}: {len(deployment.accounts(number))} accounts")
    if sys.stderr.isatty():
        with ProgressBars() as bars:
            files, artifacts = deployment.prove(number, reserves, reserve_keys=keys, progress=bars.update)
    else:  # a log or a pipe: a line per quarter of each step, so a long close is never silent
        from zkclear.progress import ProgressLine

        line = ProgressLine(lambda text: click.echo(text, err=True), stream=sys.stderr)
        files, artifacts = deployment.prove(number, reserves, reserve_keys=keys, progress=line.update)
    timings = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in artifacts.timings.items())
    click.echo(f"epoch {number} proven: root {artifacts.bundle.root.digest.hex()[:16]}..., "
               f"{len(artifacts.receipts)} receipts")
    click.echo(f"  {timings}")
    click.echo(f"  public bundle {files.bundle} ({files.bundle.stat().st_size} bytes), "
               f"audit data {files.audit} ({files.audit.stat().st_size} bytes)")


@epoch.command("attest")
@_deployment_option
@click.option("--epoch", "number", type=int, required=True, help="Epoch whose bundle to attest.")
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A reserve address's secp256k1 key (hex).")
def epoch_attest(deployment_dir: Path, number: int, key_path: Path) -> None:
    """Sign the epoch's header and root with one reserve key and add it to the bundle.

    Example: zkclear epoch attest -d ./venue --epoch 7 --key custody.key
    """
    from zkclear.proofs.attestations import address_of, public_key_of

    key = _read_key(key_path)
    bundle = _open_deployment(deployment_dir).attest(number, key)
    click.echo(f"attested epoch {number} for {address_of(public_key_of(key))} "
               f"({len(bundle.attestations)} of {len(bundle.reserves.entries)} addresses signed)")


class ProgressBars:
    """One click progress bar per proving step, fed by ``update(step, done, total)``."""

    def __init__(self) -> None:
        self._bar = None
        self._step: str | None = None
        self._done = 0

    def update(self, step: str, done: int, total: int) -> None:
        if step != self._step:
            self._finish()
            self._step, self._done = step, 0
            self._bar = click.progressbar(length=total, label=f"  {step}", file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done

    def _finish(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()


def _read_key(path: Path) -> bytes:
    from zkclear.errors import InputError

    text = path.read_text(encoding="utf-8").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise InputError("not a hex-encoded key", path=str(path), line=1) from exc
    if len(key) != 32:
        raise InputError(f"a secp256k1 key is 32 bytes, got {len(key)}", path=str(path), line=1)
    return key


# -- participant ----------------------------------------------------------------------------------

@cli.command()
@click.argument("epoch_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--receipt", "receipt_path", required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path), help="Your private receipt.")
@click.option("--cash", type=int, help="The balance you expect (settlement units).")
@click.option("--position", "positions", multiple=True, metavar="INSTRUMENT=LOTS",
              help="A position you expect (repeat; unlisted instruments are expected flat when any is given).")
@click.option("--crowd-audit", "crowd", default=0, show_default=True,
              help="Also verify this many other chunks, picked with local randomness.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(epoch_dir: Path, receipt_path: Path, cash: int | None, positions: tuple[str, ...], crowd: int,
           as_json: bool) -> None:
    """Check your account against a published epoch: your values, your leaf, the path to the root, the
    siblings' range proofs and your chunk's collateralization proof.

    Example: zkclear verify venue/epochs/7 --receipt my.rcpt --cash 1000000 --position BTC-PERP=3
    """
    from zkclear.operator import CHUNK_SYSTEM, open_published
    from zkclear.tree.inclusion import crowd_audit, verify_receipt

    published = open_published(epoch_dir)
    receipt = published.receipt(receipt_path)
    expected_positions = _expected_positions(positions, published.public.instrument_ids) if positions else None
    try:
        check = verify_receipt(published.bundle, receipt, published.public, chunk_system=CHUNK_SYSTEM,
                               expected_cash=cash, expected_positions=expected_positions)
        picked = crowd_audit(published.bundle, published.audit_data(), published.public, crowd,
                             chunk_system=CHUNK_SYSTEM) if crowd else []
    except VerificationError as exc:
        _fail(exc, as_json)
    held = {i: q for i, q in zip(published.public.instrument_ids, check.positions, strict=True) if q}
    result = {"ok": True, "epoch": check.epoch_id, "leaf_index": check.leaf_index, "cash": check.cash,
              "positions": held, "liability": check.liability, "crowd_audited_chunks": picked}
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
        return
    click.echo(f"OK: your account is in epoch {check.epoch_id}'s tree at leaf {check.leaf_index}")
    click.echo(f"  cash {check.cash}, positions {held or 'none'}, liability {check.liability}")
    click.echo("  path to the root, sibling range proofs and your chunk's collateralization proof verified")
    if picked:
        click.echo(f"  crowd audit: chunks {picked} verified too")


def _expected_positions(items: tuple[str, ...], instruments: tuple[str, ...]) -> tuple[int, ...]:
    from zkclear.errors import InputError

    expected = dict.fromkeys(instruments, 0)
    for item in items:
        name, _, lots = item.partition("=")
        if name not in expected:
            raise InputError(f"unknown instrument {name!r}", field="--position")
        try:
            expected[name] = int(lots)
        except ValueError as exc:
            raise InputError(f"lots must be an integer, got {lots!r}", field="--position") from exc
    return tuple(expected[i] for i in instruments)


# -- auditor --------------------------------------------------------------------------------------

@cli.command()
@click.argument("epoch_dirs", nargs=-1, required=True,
                type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def audit(epoch_dirs: tuple[Path, ...], as_json: bool) -> None:
    """Check whole epochs: attestations, every collateralization proof, the tree, every node's range proof,
    the matched book and solvency. Several directories in epoch order are also checked as a chain.

    Example: zkclear audit venue/epochs/1 venue/epochs/2 venue/epochs/3 --json
    """
    from zkclear.operator import CHUNK_SYSTEM, open_published
    from zkclear.proofs.auditor import audit_epoch

    reports = []
    previous = None
    for directory in epoch_dirs:
        published = open_published(directory)
        try:
            report = audit_epoch(published.bundle, published.audit_data(), published.public,
                                 chunk_system=CHUNK_SYSTEM, previous=previous)
        except VerificationError as exc:
            _fail(exc, as_json, epoch=published.bundle.header.epoch_id)
        previous = published.bundle.chain_link()
        reports.append({"ok": True, "epoch": report.epoch_id, "chunks": report.chunks, "leaves": report.leaves,
                        "upper_nodes": report.upper_nodes, "reserves_total": report.reserves_total,
                        "total_liabilities": report.total_liabilities})
        if not as_json:
            total = "hidden" if report.total_liabilities is None else report.total_liabilities
            click.echo(f"epoch {report.epoch_id}: OK — {report.chunks} chunks ({report.leaves} leaves), "
                       f"{report.upper_nodes} upper nodes, reserves {report.reserves_total} >= liabilities "
                       f"({total}); matched book, attestations and every proof verified")
    if as_json:
        click.echo(json.dumps(reports if len(reports) > 1 else reports[0], sort_keys=True))
    elif len(reports) > 1:
        click.echo(f"chain of {len(reports)} epochs verified")


@cli.command()
@click.argument("epoch_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def show(epoch_dir: Path, as_json: bool) -> None:
    """Print an epoch's public summary (what anyone can see).

    Example: zkclear show venue/epochs/7
    """
    from zkclear.operator import open_published

    published = open_published(epoch_dir)
    bundle, header = published.bundle, published.bundle.header
    summary = {
        "epoch": header.epoch_id,
        "root": bundle.root.digest.hex(),
        "previous_root": header.previous_root.hex(),
        "epoch_hash": bundle.epoch_hash().hex(),
        "tree_height": header.tree.height,
        "chunk_size": header.tree.chunk_size,
        "instruments": list(published.public.instrument_ids),
        "values_per_lot": list(published.public.value_per_lot),
        "reserves_total": header.reserves_total,
        "reserve_addresses": [e.address for e in bundle.reserves.entries],
        "attestations": len(bundle.attestations),
        "public_data_digest": header.public_data_digest.hex(),
    }
    if as_json:
        click.echo(json.dumps(summary, sort_keys=True))
        return
    for key, value in summary.items():
        click.echo(f"{key:>20}: {value}")


def _fail(exc: VerificationError, as_json: bool, **extra: object) -> None:
    if as_json:
        click.echo(json.dumps({"ok": False, "reason": exc.reason, "detail": str(exc), **extra}, sort_keys=True))
    else:
        click.echo(f"FAILED: {exc}", err=True)
    sys.exit(2)


# -- everyone -------------------------------------------------------------------------------------

@cli.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"),
              show_default=True, help="Where the demo writes its market, deployment and epochs.")
@click.option("--accounts", type=int, help="Traders in the synthetic market (default 26; 200 with --full).")
@click.option("--epochs", type=int,
              help="Epochs to run (default 2; 4 with --full); the crash is in epoch min(3, epochs).")
@click.option("--height", default=32, show_default=True, help="Tree height.")
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
@click.option("--quick", is_flag=True, help="A smaller run that finishes in under a minute.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of metric -> number.")
def bench(suite: str, quick: bool, as_json: bool) -> None:
    """Run a benchmark suite and print its figures (and ratios to py-ecc measured in the same run).

    Example: zkclear bench group --quick --json
    """
    module = importlib.import_module(f"zkclear.bench.{suite}")
    echo = (lambda _line: None) if as_json else click.echo
    metrics = module.run(quick=quick, echo=echo)
    if as_json:
        click.echo(json.dumps(metrics, sort_keys=True))


def main() -> None:
    """Entry point: zkclear's own errors become one line on stderr and exit status 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ZkclearError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
