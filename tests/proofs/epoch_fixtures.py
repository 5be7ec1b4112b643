"""Small honest epochs shared by the tree, proofs and bundle tests (built once per test session).

They use the equity-only chunk system (plain Pedersen commitments to cash and positions, every
equity range-proven) so that the tree, matched book, solvency, attestations and bundle are tested
on their own; small heights keep the suite fast, and one epoch uses the default height 32.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from zkclear.bench.common import stand_in_public_inputs
from zkclear.bundle.model import PublicBundle
from zkclear.crypto.randomness import BlindingSource
from zkclear.executor import SerialExecutor
from zkclear.proofs.attestations import ReserveEntry, ReserveSet, address_of, public_key_of, sign_attestation
from zkclear.proofs.chunks import EquityOnlyChunks, PlainAccount, PlainPublicData
from zkclear.proofs.epoch_prover import AccountInput, EpochArtifacts, prove_epoch
from zkclear.proofs.header import ChainLink
from zkclear.tree.placement import TreeConfig
from zkclear.verifier.public_inputs import PublicInputs
from zkclear.verifier.published import EpochFiles, PublishedEpoch

SYSTEM = EquityOnlyChunks()
PUBLIC = PlainPublicData(value_per_lot=(0, 7, 3), equity_bits=32)
RESERVE_KEYS = (bytes.fromhex("11" * 32), bytes.fromhex("22" * 32))
SMALL = TreeConfig(height=8, chunk_bits=2, chunk_padding="power_of_two")


def public_inputs(epoch_id: int = 1) -> PublicInputs:
    """A well-formed public-inputs document for the equity-only test epochs (whose public data is not
    recomputed from inputs: only its binding in the header is exercised here)."""
    return stand_in_public_inputs(epoch_id)


def reserves(balances: tuple[int, ...] = (600_000, 400_000)) -> ReserveSet:
    return ReserveSet(
        tuple(
            ReserveEntry(address_of(public_key_of(key)), balance)
            for key, balance in zip(RESERVE_KEYS, balances, strict=True)
        )
    )


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


def attested(bundle: PublicBundle, keys: tuple[bytes, ...] = RESERVE_KEYS) -> PublicBundle:
    message = bundle.attestation_message()
    return bundle.with_attestations(tuple(sign_attestation(key, message) for key in keys))


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
) -> Epoch:
    account_list = list(account_list if account_list is not None else accounts(count, epoch_id))
    artifacts = prove_epoch(
        account_list,
        PUBLIC,
        reserves(balances),
        epoch_id=epoch_id,
        previous=previous,
        config=config,
        blindings=BlindingSource.deterministic(secret),
        chunk_system=SYSTEM,
        executor=SerialExecutor(),
        public_inputs_digest=public_inputs(epoch_id).digest(),
    )
    return Epoch(artifacts, attested(artifacts.bundle), tuple(account_list))


def published(epoch: Epoch | None, bundle: PublicBundle | None = None, public=PUBLIC) -> PublishedEpoch:
    """The epoch as a verifier reads it (``bundle`` replaces the attested one, e.g. a tampered copy)."""
    chosen = bundle if bundle is not None else epoch.bundle
    header = chosen.header
    return PublishedEpoch(chosen, public, public_inputs(header.epoch_id), EpochFiles(Path("."), header.epoch_id))


@cache
def honest_epoch() -> Epoch:
    return make_epoch()


@cache
def second_epoch() -> Epoch:
    return make_epoch(epoch_id=2, previous=honest_epoch().bundle.chain_link())


@cache
def tall_epoch() -> Epoch:
    """Default height 32, one chunk: 30 levels of padding siblings above it."""
    return make_epoch(TreeConfig(height=32, chunk_bits=2, chunk_padding="none"), count=3)
