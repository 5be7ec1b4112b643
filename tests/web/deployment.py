"""A small test deployment for the page's tests: the demo market (perpetuals, a future, a call and a put, a
quarter of the traders on portfolio margin) with 8 traders, two epochs proven, attested by two reserve keys.

Built once per test process into a shared temporary folder with the operator's own API (what ``zkclear init``,
``epoch run`` and ``epoch prove`` call).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from zkclear.bundle.format import decode_receipt, encode_receipt, read_file
from zkclear.chains import key_from_secret, parse_reserves_csv
from zkclear.operator import CHUNK_SYSTEM, SECRET_FILE, Deployment, ProvingSettings, open_published
from zkclear.synthetic import MarketSpec, generate_market, reserves_csv
from zkclear.tree.placement import TreeConfig

SPEC = MarketSpec(accounts=8, epochs=2, fills_per_epoch=40, seed=12)
KEYS = (key_from_secret("ethereum", bytes.fromhex("a1" * 32)), key_from_secret("solana", bytes.fromhex("b2" * 32)))
SECRET = bytes.fromhex("5e" * 32)


@dataclass(frozen=True)
class WebDeployment:
    root: Path
    epochs_dir: Path

    def receipt_path(self, epoch: int, account: str) -> Path:
        folder = self.epochs_dir / str(epoch)
        return folder / "receipts" / json.loads((folder / "receipts.index").read_text())[account]

    def accounts(self, epoch: int) -> list[str]:
        return sorted(json.loads((self.epochs_dir / str(epoch) / "receipts.index").read_text()))

    def files(self, epoch: int) -> dict[str, bytes]:
        folder = self.epochs_dir / str(epoch)
        return {"bundle": read_file(folder / f"epoch-{epoch}.bundle"),
                "public": read_file(folder / f"epoch-{epoch}.public.json")}

    def tampered_receipt(self, epoch: int, account: str, out: Path) -> Path:
        """The account's receipt with its balance raised by one, re-encoded with a valid checksum."""
        published = open_published(self.epochs_dir / str(epoch))
        receipt = decode_receipt(read_file(self.receipt_path(epoch, account)), published.public, CHUNK_SYSTEM,
                                 chunk_size=published.bundle.header.tree.chunk_size)
        forged = replace(receipt, opening=replace(receipt.opening, cash=receipt.opening.cash + 1))
        out.write_bytes(encode_receipt(forged, CHUNK_SYSTEM))
        return out

    def shortened_receipt(self, epoch: int, account: str, out: Path) -> Path:
        """The account's receipt with its top sibling cut off (a path one level short), validly encoded."""
        published = open_published(self.epochs_dir / str(epoch))
        receipt = decode_receipt(read_file(self.receipt_path(epoch, account)), published.public, CHUNK_SYSTEM,
                                 chunk_size=published.bundle.header.tree.chunk_size)
        short = replace(receipt, upper_siblings=receipt.upper_siblings[:-1],
                        sibling_proofs=receipt.sibling_proofs[:-1])
        out.write_bytes(encode_receipt(short, CHUNK_SYSTEM))
        return out


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
