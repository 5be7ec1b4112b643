"""Solana signed messages as wallets make them: Ed25519 over the raw message bytes.

Browser wallets' ``signMessage`` (Phantom, Solflare, Backpack; the Solana wallet-standard
``solana:signMessage`` feature) sign exactly the UTF-8 bytes they are given, with no prefix, and return
the 64-byte signature; zkclear writes it in **Base58** (as Solana writes transaction signatures).
An auditor checks it with any Ed25519 library, e.g. ``nacl.sign.detached.verify(message, signature,
bs58.decode(address))`` in JavaScript or PyNaCl's ``VerifyKey(address_bytes).verify(message, signature)``.
The Solana CLI's ``sign-offchain-message`` wraps the text in a different envelope (the
``\\xffsolana offchain`` header) and is not accepted.
"""

from __future__ import annotations

from zkclear.chains import ed25519
from zkclear.chains.addresses import Address, AddressKind
from zkclear.chains.base58 import b58decode, b58encode
from zkclear.chains.reasons import Reason, failure
from zkclear.errors import EncodingError, InputError


def sign_solana(seed: bytes, message: bytes, address: Address) -> str:
    """The Base58 Ed25519 signature of ``message`` by the key (seed) of ``address``."""
    if address.kind is not AddressKind.SOLANA or ed25519.public_key(seed) != address.payload:
        raise InputError(f"the key does not control address {address.text}")
    return b58encode(ed25519.sign(seed, message))


def verify_solana(address: Address, message: bytes, signature: str) -> None:
    """Return iff ``signature`` (Base58, 64 bytes) is a valid Ed25519 signature of ``message`` by ``address``."""
    try:
        raw = b58decode(signature)
    except EncodingError as exc:
        raise failure(Reason.SIGNATURE_MALFORMED, address.text, f"the signature is not Base58 ({exc})") from exc
    if len(raw) != 64:
        raise failure(Reason.SIGNATURE_MALFORMED, address.text, f"an Ed25519 signature is 64 bytes, got {len(raw)}")
    if int.from_bytes(raw[32:], "little") >= ed25519.L:
        raise failure(Reason.SIGNATURE_NON_CANONICAL, address.text, "S >= L: a malleated Ed25519 signature")
    if not ed25519.verify(address.payload, message, raw):
        raise failure(Reason.WRONG_SIGNER, address.text, "the signature does not verify under this address's key")
