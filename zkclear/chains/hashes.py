"""The hash compositions Bitcoin uses: HASH160, HASH256 and BIP-340 tagged hashes."""

from __future__ import annotations

import hashlib

from zkclear.chains.ripemd160 import ripemd160


def hash160(data: bytes) -> bytes:
    """RIPEMD-160 of the SHA-256 of ``data`` (20 bytes): the payload of P2PKH and P2WPKH addresses."""
    return ripemd160(hashlib.sha256(data).digest())


def double_sha256(data: bytes) -> bytes:
    """SHA-256 applied twice (32 bytes): checksums, transaction ids, BIP-137 message digests."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def tagged_hash(tag: str, data: bytes) -> bytes:
    """BIP-340 tagged hash: SHA-256(SHA-256(tag) || SHA-256(tag) || data)."""
    tag_digest = hashlib.sha256(tag.encode("utf-8")).digest()
    return hashlib.sha256(tag_digest + tag_digest + data).digest()
