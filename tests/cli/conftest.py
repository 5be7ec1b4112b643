"""The CLI tests' deployment: a small market cleared, proven and attested through the real entry point (built
once per test process and shared by the CLI test modules)."""

from __future__ import annotations

import pytest

from tests.cli.cli_helpers import zkclear
from zkclear.chains import key_from_secret, write_key
from zkclear.operator import Deployment
from zkclear.synthetic import MarketSpec, generate_market, reserves_csv

SPEC = MarketSpec(accounts=8, epochs=3, fills_per_epoch=40, seed=12)
VENUE = "CLI Test Venue"
#: Two custodians of the settlement asset (USDC), on Ethereum and on Solana (deterministic test keys).
KEYS = (key_from_secret("ethereum", bytes.fromhex("a1" * 32)), key_from_secret("solana", bytes.fromhex("b2" * 32)))


def holders(keys=KEYS) -> list[tuple[str, str, str]]:
    """(chain, asset, address) of each custodian's USDC reserve."""
    return [(key.chain, "USDC", key.address.text) for key in keys]


@pytest.fixture(scope="session")
def venue(tmp_path_factory):
    """A deployment with all epochs cleared and proven, built with the API the CLI wraps."""
    root = tmp_path_factory.mktemp("venue")
    config, epoch_dirs = generate_market(root / "market", SPEC)
    key_files = []
    for i, key in enumerate(KEYS):
        path = root / f"custodian-{i}.key"
        write_key(path, key)
        key_files.append(path)
    return {"root": root, "config": config, "epochs": epoch_dirs, "keys": key_files}


@pytest.fixture(scope="session")
def proven(venue, tmp_path_factory):
    """``zkclear init`` + ``epoch run`` + ``epoch prove`` for every epoch, through the CLI."""
    root = venue["root"]
    deployment_dir = root / "deployment"
    outputs = []

    outputs.append(zkclear("init", deployment_dir, "--config", venue["config"], "--height", 10,
                           "--executor", "serial", "--venue", VENUE))
    for number, epoch_dir in enumerate(venue["epochs"], start=1):
        outputs.append(zkclear("epoch", "run", epoch_dir, "-d", deployment_dir))
        deployment = Deployment(deployment_dir)
        with deployment.ledger() as ledger:
            liabilities = int(ledger.state(number).cash.sum())
        reserves = root / f"reserves-{number}.csv"
        reserves.write_text(reserves_csv(holders(), {"USDC": liabilities + 1}))
        args = ["epoch", "prove", "-d", deployment_dir, "--reserves", reserves, "--sign-with", venue["keys"][0]]
        outputs.append(zkclear(*args))
        outputs.append(zkclear("epoch", "attest", "-d", deployment_dir, "--epoch", number,
                               "--key", venue["keys"][1]))
    return {"dir": deployment_dir, "outputs": outputs, "deployment": Deployment(deployment_dir)}


