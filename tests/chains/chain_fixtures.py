"""Shared values for the zkclear.chains tests: a context, block hashes, one key and entry per chain."""

from __future__ import annotations

import dataclasses
import hashlib

from zkclear.chains.attestation_text import AttestationContext
from zkclear.chains.keys import DemoKey, key_from_secret
from zkclear.chains.reserves import ReserveEntry
from zkclear.chains.tokens import REGISTERED_TOKENS

CONTEXT = AttestationContext("Acme Clearing", 7, hashlib.sha256(b"header 7").digest(),
                             hashlib.sha256(b"root 7").digest())
# A real mainnet block (height 840000, the 2024 halving) and shapes valid for the other chains.
BLOCKS = {
    "bitcoin": (840000, "0000000000000000000320283a032748cef8227873ff4872689bf23f1cda83a5"),
    "bitcoin-testnet": (2500000, "000000000000000f" + "1" * 48),
    "ethereum": (19000000, "0x" + hashlib.sha256(b"eth block").hexdigest()),
    "arbitrum": (170000000, "0x" + hashlib.sha256(b"arb block").hexdigest()),
    "solana": (250000000, "4sGjMW1sUnHzSxGspuhpqLDx6wiyjNtZAMdL4VZHirAn"),
}
ASSETS = {"bitcoin": "BTC", "bitcoin-testnet": "BTC", "ethereum": "ETH", "arbitrum": "ETH", "solana": "SOL"}


def secret(label: str) -> bytes:
    """A deterministic 32-byte secret (valid for secp256k1 and Ed25519) per label."""
    return hashlib.sha256(b"zkclear test key " + label.encode()).digest()


def key(chain: str, label: str = "custodian", address: str | None = None) -> DemoKey:
    """The deterministic test key of ``label`` on ``chain`` (its preferred address unless given)."""
    return key_from_secret(chain, secret(label), address)


def entry_for(demo_key: DemoKey, balance: int = 150_000_000, chain: str | None = None) -> ReserveEntry:
    """A reserve entry for the key's address on its chain (or ``chain``, for EVM keys)."""
    chain = chain or demo_key.chain
    height, block_hash = BLOCKS[chain]
    return ReserveEntry(chain, ASSETS[chain], demo_key.address.text, balance, height, block_hash)


def as_token(entry: ReserveEntry, asset: str, **changes: object) -> ReserveEntry:
    """``entry`` (at its address and block) holding the registered token ``asset`` of its chain instead."""
    contract, decimals = REGISTERED_TOKENS[(entry.chain, asset)]
    return dataclasses.replace(entry, asset=asset, token=contract, decimals=decimals, **changes)
