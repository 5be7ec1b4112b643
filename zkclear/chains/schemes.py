"""One entry point to sign and verify a message with the standard scheme of an address's chain.

| address | scheme | signature text |
|---|---|---|
| Bitcoin P2PKH | BIP-137 (header 27-30 uncompressed key, 31-34 compressed) | Base64, 65 bytes |
| Bitcoin P2WPKH | BIP-137 (header 39-42, or 31-34 as Electrum writes it), or BIP-322 simple | Base64 |
| EVM | EIP-191 personal_sign, v in {27, 28}, low s | ``0x`` + 130 hex |
| Solana | Ed25519 over the raw message bytes | Base58, 64 bytes |

Every ECDSA signature must have low s. ``verify_message`` raises VerificationError (reason codes in
zkclear.chains.reasons) naming the address; it returns nothing on success.
"""

from __future__ import annotations

from enum import Enum

from zkclear.chains.addresses import Address, AddressKind
from zkclear.chains.bip322 import sign_bip322_simple, verify_bip322_simple
from zkclear.chains.bitcoin_message import decode_base64_strict, sign_bip137, verify_bip137
from zkclear.chains.evm_message import sign_eip191, verify_eip191
from zkclear.chains.reasons import Reason, failure
from zkclear.chains.solana_message import sign_solana, verify_solana
from zkclear.errors import InputError

MAX_SIGNATURE_TEXT = 256  # longer than any accepted signature; bounds the work on hostile input


class BitcoinFormat(Enum):
    """Which signed-message form a Bitcoin signature uses."""

    BIP137 = "bip137"
    BIP322_SIMPLE = "bip322"


def sign_message(secret: bytes, address: Address, message: bytes,
                 *, bitcoin_format: BitcoinFormat = BitcoinFormat.BIP137) -> str:
    """The signature text of ``message`` by the key ``secret`` for ``address`` (InputError if it does not
    control it). ``bitcoin_format`` picks BIP-322 simple for P2WPKH addresses; asked for another address (an EVM
    or Solana one too: InputError, never a signature in another format than the one asked for)."""
    if bitcoin_format is BitcoinFormat.BIP322_SIMPLE and address.kind is not AddressKind.P2WPKH:
        raise InputError(f"BIP-322 simple signatures are for P2WPKH addresses, not {address.text}")
    if address.kind is AddressKind.EVM:
        return sign_eip191(secret, message, address)
    if address.kind is AddressKind.SOLANA:
        return sign_solana(secret, message, address)
    if bitcoin_format is BitcoinFormat.BIP322_SIMPLE:
        return sign_bip322_simple(secret, message, address)
    return sign_bip137(secret, message, address)


def verify_message(address: Address, message: bytes, signature: str) -> None:
    """Return iff ``signature`` is a valid signature of ``message`` by ``address``'s key, in its chain's
    standard format; VerificationError with the reason and the address otherwise."""
    if not isinstance(signature, str) or not signature.isascii() or len(signature) > MAX_SIGNATURE_TEXT:
        raise failure(Reason.SIGNATURE_MALFORMED, address.text, "the signature is not ASCII text of at most 256 chars")
    if address.kind is AddressKind.EVM:
        verify_eip191(address, message, signature)
    elif address.kind is AddressKind.SOLANA:
        verify_solana(address, message, signature)
    elif address.kind is AddressKind.P2WPKH and len(decode_base64_strict(signature, address.text)) != 65:
        verify_bip322_simple(address, message, signature)
    else:
        verify_bip137(address, message, signature)
