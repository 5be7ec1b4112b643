"""Small honest epochs shared by the tree, proofs and bundle tests (built once per test session).

They use the equity-only chunk system (plain Pedersen commitments to cash and positions, every
equity range-proven) so that the tree, matched book, solvency, attestations and bundle are tested
on their own; small heights keep the suite fast, and one epoch uses the default height 32. The reserves are
real chain addresses of deterministic test keys (an Ethereum and a Solana custodian of the settlement asset;
a Bitcoin custodian for the multi-asset epoch), attested with each chain's own signed messages.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from zkclear.bench.common import stand_in_config, stand_in_public_inputs
from zkclear.bundle.model import PublicBundle
from zkclear.chains import ReserveEntry, attest_reserves, key_from_secret
from zkclear.chains.tokens import REGISTERED_TOKENS
from zkclear.crypto.randomness import BlindingSource
from zkclear.executor import SerialExecutor
from zkclear.proofs.chunks import EquityOnlyChunks, PlainAccount, PlainPublicData
from zkclear.proofs.epoch_prover import AccountInput, EpochArtifacts, prove_epoch
from zkclear.proofs.header import ChainLink
from zkclear.proofs.reserves import ReserveBook, VenueAsset, build_reserve_book
from zkclear.synthetic import DEMO_BLOCKS
from zkclear.tree.placement import TreeConfig
from zkclear.verifier.public_inputs import PublicInputs
from zkclear.verifier.published import EpochFiles, PublishedEpoch

SYSTEM = EquityOnlyChunks()
PUBLIC = PlainPublicData(value_per_lot=(0, 7, 3), equity_bits=32)
VENUE = "Test Venue"
SETTLEMENT = VenueAsset("USD", 6)
#: The venue's USD is held as USDC on Ethereum and on Solana (registered contracts: their decimals are known).
TOKENS = {(chain, "USD"): (REGISTERED_TOKENS[(chain, "USDC")][0], None) for chain in ("ethereum", "solana")}
RESERVE_KEYS = tuple(key_from_secret(chain, hashlib.sha256(f"zkclear test custodian {i}".encode()).digest())
                     for i, chain in enumerate(("ethereum", "solana"), start=1))
BITCOIN_KEY = key_from_secret("bitcoin", hashlib.sha256(b"zkclear test custodian btc").digest())
ETHER_KEY = key_from_secret("ethereum", hashlib.sha256(b"zkclear test custodian eth").digest())
SMALL = TreeConfig(height=8, chunk_bits=2, chunk_padding="power_of_two")


def public_inputs(epoch_id: int = 1, book: ReserveBook | None = None) -> PublicInputs:
    """A well-formed public-inputs document for the equity-only test epochs (whose public data is not
    recomputed from inputs: only its binding in the header, and the assets the reserves are converted with, are
    exercised here)."""
    assets = () if book is None or len(book.assets) == 1 else tuple((a.asset_id, a.decimals) for a in book.assets)
    return stand_in_public_inputs(epoch_id, stand_in_config(assets))


def entry(key, asset: str, balance: int) -> ReserveEntry:
    """A reserve entry of ``balance`` (chain units) of ``asset`` at ``key``'s address, at the demo block."""
    return ReserveEntry(key.chain, asset, key.address.text, balance, *DEMO_BLOCKS[key.chain])


def reserves(balances: tuple[int, ...] = (600_000, 400_000), *, collateral: tuple[tuple[str, int, int], ...] = ()
             ) -> ReserveBook:
    """The settlement asset USD (6 decimals) held by the Ethereum and Solana custodians; each ``collateral`` entry
    (asset, decimals, balance in satoshi) held by the Bitcoin custodian."""
    entries = [entry(key, "USD", balance) for key, balance in zip(RESERVE_KEYS, balances, strict=True)]
    assets = [SETTLEMENT]
    for asset, decimals, balance in collateral:
        assets.append(VenueAsset(asset, decimals))
        entries.append(entry(BITCOIN_KEY, asset, balance))
    return build_reserve_book(VENUE, tuple(assets), tuple(entries), tokens=TOKENS)


def accounts(count: int = 7, epoch: int = 1) -> list[AccountInput]:
    """``count`` accounts whose positions sum to zero per instrument (a matched book)."""
    out = []
    for i in range(count - 1):
        out.append(
            AccountInput(f"trader-{i}", PlainAccount(10_000 + 137 * i + epoch, (i - 2, 3 - i, (-1) ** i)))
        )
    totals = [sum(a.witness.positions[j] for a in out) for j in range(3)]
    out.append(AccountInput(f"trader-{count - 1}", PlainAccount(50_000, tuple(-t for t in totals))))
    return out


def attested(bundle: PublicBundle, keys=None) -> PublicBundle:
    """The bundle with every listed address attested by its custodian (``keys``: default every custodian whose
    address is listed)."""
    listed = {(e.chain, e.address) for e in bundle.reserves.entries}
    chosen = keys if keys is not None else [k for k in (*RESERVE_KEYS, BITCOIN_KEY, ETHER_KEY)
                                           if (k.chain, k.address.text) in listed]
    attestations: list = []
    for key in chosen:
        attestations += attest_reserves(key, bundle.attestation_context(), bundle.reserves.entries, attestations)
    return bundle.with_attestations(tuple(attestations))


@dataclass(frozen=True)
class Epoch:
    artifacts: EpochArtifacts
    bundle: PublicBundle
    accounts: tuple[AccountInput, ...]


def make_epoch(
    config: TreeConfig = SMALL,
    *,
    count: int = 7,
    epoch_id: int = 1,
    previous: ChainLink | None = None,
    secret: bytes = b"operator-secret-0123456789abcdef",
    balances: tuple[int, ...] = (600_000, 400_000),
    account_list=None,
    public: PlainPublicData = PUBLIC,
    reserve_book: ReserveBook | None = None,
) -> Epoch:
    account_list = list(account_list if account_list is not None else accounts(count, epoch_id))
    book = reserve_book if reserve_book is not None else reserves(balances)
    artifacts = prove_epoch(
        account_list,
        public,
        book,
        epoch_id=epoch_id,
        previous=previous,
        config=config,
        blindings=BlindingSource.deterministic(secret),
        chunk_system=SYSTEM,
        executor=SerialExecutor(),
        public_inputs_digest=public_inputs(epoch_id, book).digest(),
    )
    return Epoch(artifacts, attested(artifacts.bundle), tuple(account_list))


def published(epoch: Epoch | None, bundle: PublicBundle | None = None, public=PUBLIC) -> PublishedEpoch:
    """The epoch as a verifier reads it (``bundle`` replaces the attested one, e.g. a tampered copy)."""
    chosen = bundle if bundle is not None else epoch.bundle
    header = chosen.header
    return PublishedEpoch(chosen, public, public_inputs(header.epoch_id, chosen.reserves),
                          EpochFiles(Path("."), header.epoch_id))


@cache
def honest_epoch() -> Epoch:
    return make_epoch()


@cache
def second_epoch() -> Epoch:
    return make_epoch(epoch_id=2, previous=honest_epoch().bundle.chain_link())


@cache
def rootless_first_epoch() -> Epoch:
    """An epoch 1 proven, signed and attested honestly in every other respect, whose header names a previous
    epoch (another chain's root and header hash) instead of the genesis values: a history cut from a longer one."""
    return make_epoch(previous=ChainLink(0, hashlib.sha256(b"another root").digest(),
                                         hashlib.sha256(b"another header").digest()))


MULTI_PUBLIC = PlainPublicData(value_per_lot=(0, 7, 3), equity_bits=32, asset_ids=("BTC",))


def multi_asset_accounts(count: int = 7) -> list[AccountInput]:
    """``accounts(count)`` each also holding some BTC (satoshi)."""
    return [AccountInput(a.account_id, PlainAccount(a.witness.cash, a.witness.positions, (10_000_000 * (i + 1),)))
            for i, a in enumerate(accounts(count))]


@cache
def multi_asset_epoch() -> Epoch:
    """USD and BTC: every node carries two liabilities, the solvency proof covers both assets."""
    btc = sum(a.witness.balances[0] for a in multi_asset_accounts())
    return make_epoch(public=MULTI_PUBLIC, account_list=multi_asset_accounts(),
                      reserve_book=reserves(collateral=(("BTC", 8, btc + 5),)),
                      secret=b"multi-asset-secret-0123456789abc")


@cache
def tall_epoch() -> Epoch:
    """Default height 32, one chunk: 30 levels of padding siblings above it."""
    return make_epoch(TreeConfig(height=32, chunk_bits=2, chunk_padding="none"), count=3)
