"""EVM signed messages: EIP-191 version 0x45, i.e. ``personal_sign`` / ``eth_sign`` of wallets.

Digest: ``Keccak-256(0x19 || "Ethereum Signed Message:\\n" || decimal(len(m)) || m)``.
Signature text: ``0x`` + 130 lower-case hex digits of ``r (32) || s (32) || v (1)`` with v in {27, 28}
(v = 27 + recovery id; recovery ids 2 and 3 cannot be expressed and are never produced by wallets)
and low s (EIP-2). Verification recovers the key and compares ``Keccak-256(x || y)[12:]`` with the
address. This is what MetaMask, Ledger/Trezor (after their v normalisation), ethers, web3.py and
eth-account produce and check; a wallet that prints v in {0, 1} or upper-case hex must be normalised
to this form before the signature is listed.
"""

from __future__ import annotations

from zkclear.chains import secp256k1
from zkclear.chains.addresses import Address, AddressKind, eip55_checksum
from zkclear.chains.keccak import keccak256
from zkclear.chains.reasons import Reason, failure
from zkclear.chains.recoverable import recover_checked
from zkclear.errors import InputError

PREFIX = b"\x19Ethereum Signed Message:\n"
_LOWER_HEX = frozenset("0123456789abcdef")


def eip191_digest(message: bytes) -> bytes:
    """The 32-byte digest personal_sign signs."""
    return keccak256(PREFIX + str(len(message)).encode("ascii") + message)


def sign_eip191(secret: bytes, message: bytes, address: Address) -> str:
    """The personal_sign signature (``0x`` + 130 hex) of ``message`` for the key's EVM ``address``."""
    point = secp256k1.public_key(secret)
    if address.kind is not AddressKind.EVM or _account(point) != address.payload:
        raise InputError(f"the key does not control address {address.text}")
    r, s, recovery_id = secp256k1.sign(secret, eip191_digest(message))
    if recovery_id > 1:  # R.x >= N: probability ~2^-128; personal_sign cannot express it
        raise InputError("this message gives a signature with recovery id >= 2; change the message")
    return "0x" + (r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + recovery_id])).hex()


def verify_eip191(address: Address, message: bytes, signature: str) -> None:
    """Return iff ``signature`` is a valid personal_sign signature of ``message`` by ``address``'s key."""
    if not isinstance(signature, str) or not signature.startswith("0x"):
        raise failure(Reason.SIGNATURE_MALFORMED, address.text, "an EIP-191 signature is '0x' and 130 hex digits")
    body = signature[2:]
    if len(body) != 130 or not set(body.lower()) <= _LOWER_HEX:
        raise failure(Reason.SIGNATURE_MALFORMED, address.text, "an EIP-191 signature is '0x' and 130 hex digits")
    if body != body.lower():
        raise failure(Reason.SIGNATURE_NON_CANONICAL, address.text, "write the signature's hex in lower case")
    raw = bytes.fromhex(body)
    if raw[64] not in (27, 28):
        raise failure(Reason.SIGNATURE_MALFORMED, address.text, f"v must be 27 or 28, got {raw[64]}")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big")
    point = recover_checked(eip191_digest(message), r, s, raw[64] - 27, address.text)
    account = _account(point)
    if account != address.payload:
        raise failure(Reason.WRONG_SIGNER, address.text, f"the signature is by {eip55_checksum(account)}")


def _account(point: secp256k1.Point) -> bytes:
    return keccak256(secp256k1.encode_point(point, compressed=False)[1:])[12:]
