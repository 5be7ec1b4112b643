"""A small test deployment for the page's tests: the demo market (perpetuals, a future, a call and a put, a
quarter of the traders on portfolio margin) with 8 traders, two epochs proven, attested by two reserve keys.

Built once per test process into a shared temporary folder with the operator's own API (what ``zkclear init``,
``epoch run`` and ``epoch prove`` call). The publication folders are ``venue/epochs/N/``; receipts and participant
files are where the operator writes them, under ``venue/private/`` (never served).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from zkclear.bundle.format import encode_receipt
from zkclear.chains import key_from_secret, parse_reserves_csv
from zkclear.operator import SECRET_FILE, Deployment
from zkclear.proving_settings import ProvingSettings
from zkclear.synthetic import MarketSpec, generate_market, reserves_csv
from zkclear.tree.placement import TreeConfig
from zkclear.tree.receipts import Receipt
from zkclear.verifier.published import CHUNK_SYSTEM, open_published

SPEC = MarketSpec(accounts=8, epochs=2, fills_per_epoch=40, seed=12)
KEYS = (key_from_secret("ethereum", bytes.fromhex("a1" * 32)), key_from_secret("solana", bytes.fromhex("b2" * 32)))
SECRET = bytes.fromhex("5e" * 32)


@dataclass(frozen=True)
class WebDeployment:
    root: Path
    epochs_dir: Path

    @property
    def deployment(self) -> Deployment:
        return Deployment(self.root / "venue")

    def folder(self, epoch: int) -> Path:
        """Epoch ``epoch``'s publication folder."""
        return self.epochs_dir / str(epoch)

    def receipt_path(self, epoch: int, account: str) -> Path:
        return self.deployment.receipt_path(epoch, account)

    def participant_path(self, account: str) -> Path:
        return self.deployment.participant_path(account)

    def receipt(self, epoch: int, account: str) -> Receipt:
        return open_published(self.folder(epoch)).receipt(self.receipt_path(epoch, account))

    def forged(self, epoch: int, account: str, out: Path, **changes) -> Path:
        """The account's receipt with ``changes`` applied, re-encoded with a valid checksum."""
        out.write_bytes(encode_receipt(replace(self.receipt(epoch, account), **changes), CHUNK_SYSTEM))
        return out

    def tampered_receipt(self, epoch: int, account: str, out: Path) -> Path:
        """The account's receipt with its balance raised by one."""
        receipt = self.receipt(epoch, account)
        return self.forged(epoch, account, out, opening=replace(receipt.opening, cash=receipt.opening.cash + 1))


@cache
def build(root: Path) -> WebDeployment:
    """Generate, clear, prove and attest SPEC's epochs under ``root`` (a fresh folder)."""
    config, epoch_inputs = generate_market(root / "market", SPEC)
    settings = ProvingSettings(tree=TreeConfig(height=10, chunk_bits=4), executor="serial", venue="Web Test Venue")
    Deployment.init(root / "venue", config.read_text(encoding="utf-8"), settings)
    # a fixed operator secret makes every build's files identical (and the README's screenshot with them)
    (root / "venue" / SECRET_FILE).write_text(SECRET.hex() + "\n")
    deployment = Deployment(root / "venue")
    holders = [(key.chain, "USDC", key.address.text) for key in KEYS]
    for number, inputs in enumerate(epoch_inputs, start=1):
        deployment.run_epoch(inputs, number)
        with deployment.ledger() as ledger:
            liabilities = int(ledger.state(number).cash.sum())
        reserves = parse_reserves_csv(reserves_csv(holders, {"USDC": liabilities + 1}))
        deployment.prove(number, reserves, reserve_keys=KEYS)
    return WebDeployment(root, root / "venue" / "epochs")
