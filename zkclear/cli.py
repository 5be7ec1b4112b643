"""The ``zkclear`` command line."""

from __future__ import annotations

import importlib
import json
import sys

import click

from zkclear.bench import SUITES
from zkclear.errors import ZkclearError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zkclear")
def cli() -> None:
    """zkclear: a derivatives clearing house with zero-knowledge proofs of solvency.

    Example: zkclear demo
    """


@cli.command()
@click.argument("suite", type=click.Choice(SUITES))
@click.option("--quick", is_flag=True, help="A smaller run that finishes in under a minute.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of metric -> number.")
def bench(suite: str, quick: bool, as_json: bool) -> None:
    """Run a benchmark suite and print its figures.

    Example: zkclear bench group --quick --json
    """
    try:
        module = importlib.import_module(f"zkclear.bench.{suite}")
    except ModuleNotFoundError as exc:
        raise click.ClickException(f"benchmark suite {suite!r} is not available: {exc}") from exc
    echo = (lambda _line: None) if as_json else click.echo
    metrics = module.run(quick=quick, echo=echo)
    if as_json:
        click.echo(json.dumps(metrics, sort_keys=True))


def main() -> None:
    """Entry point: turn zkclear's own errors into one-line messages and exit code 1."""
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
