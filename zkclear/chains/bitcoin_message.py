"""Bitcoin signed messages, BIP-137 ("signmessage") form, for P2PKH and P2WPKH addresses.

Digest: ``SHA256d(compact_size(24) || "Bitcoin Signed Message:\\n" || compact_size(len(m)) || m)``.
Signature: Base64 (standard alphabet, padded, canonical) of 65 bytes ``header || r || s`` with
``header = 27 + recovery_id + 4 * type``; type 0 = P2PKH with the uncompressed key, 1 = P2PKH with the
compressed key, 2 = P2SH-P2WPKH (refused here), 3 = P2WPKH (BIP-137, as Trezor and Sparrow write it).
Electrum and Bitcoin Core-derived wallets sign for a P2WPKH address with type 1 (they do not encode
the script type): that header is accepted for P2WPKH too, since the key hash is the same HASH160 of
the compressed key. Any other type/address combination is refused. s must be low (s <= N/2).

Verification recovers the public key from (digest, r, s, recovery_id), hashes it (compressed or
not, per the header) with HASH160 and compares it with the address's key hash.
"""

from __future__ import annotations

import base64
import binascii

from zkclear.chains import secp256k1
from zkclear.chains.addresses import Address, AddressKind
from zkclear.chains.hashes import double_sha256, hash160
from zkclear.chains.reasons import Reason, failure
from zkclear.chains.recoverable import recover_checked
from zkclear.errors import InputError

MAGIC = b"Bitcoin Signed Message:\n"
_TYPE_NAMES = {0: "P2PKH (uncompressed key)", 1: "P2PKH (compressed key)", 2: "P2SH-P2WPKH", 3: "P2WPKH"}


def compact_size(length: int) -> bytes:
    """Bitcoin's variable-length integer (CompactSize) of ``length``."""
    if length < 0xFD:
        return bytes([length])
    if length <= 0xFFFF:
        return b"\xfd" + length.to_bytes(2, "little")
    if length <= 0xFFFFFFFF:
        return b"\xfe" + length.to_bytes(4, "little")
    return b"\xff" + length.to_bytes(8, "little")


def bip137_digest(message: bytes) -> bytes:
    """The 32-byte digest a BIP-137 signature signs."""
    return double_sha256(compact_size(len(MAGIC)) + MAGIC + compact_size(len(message)) + message)


def decode_base64_strict(text: str, address: str) -> bytes:
    """The bytes of canonical padded standard Base64; VerificationError (malformed / non-canonical) else."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise failure(Reason.SIGNATURE_MALFORMED, address, "the signature is not Base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise failure(Reason.SIGNATURE_NON_CANONICAL, address, "the signature's Base64 is not canonical")
    return raw


def sign_bip137(secret: bytes, message: bytes, address: Address) -> str:
    """The BIP-137 signature (Base64) of ``message`` for ``address`` (a P2PKH or P2WPKH address of the key)."""
    point = secp256k1.public_key(secret)
    compressed = secp256k1.encode_point(point, compressed=True)
    uncompressed = secp256k1.encode_point(point, compressed=False)
    if address.kind is AddressKind.P2WPKH and hash160(compressed) == address.payload:
        signature_type = 3
    elif address.kind is AddressKind.P2PKH and hash160(compressed) == address.payload:
        signature_type = 1
    elif address.kind is AddressKind.P2PKH and hash160(uncompressed) == address.payload:
        signature_type = 0
    else:
        raise InputError(f"the key does not control address {address.text}")
    r, s, recovery_id = secp256k1.sign(secret, bip137_digest(message))
    raw = bytes([27 + recovery_id + 4 * signature_type]) + r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return base64.b64encode(raw).decode("ascii")


def verify_bip137(address: Address, message: bytes, signature: str) -> None:
    """Return iff ``signature`` is a valid BIP-137 signature of ``message`` by ``address``'s key.

    VerificationError reasons: signature malformed / non-canonical (high s) / wrong signer.
    """
    raw = decode_base64_strict(signature, address.text)
    if len(raw) != 65 or not 27 <= raw[0] <= 42:
        raise failure(Reason.SIGNATURE_MALFORMED, address.text,
                      "a BIP-137 signature is 65 bytes with a header byte in 27..42")
    signature_type, recovery_id = divmod(raw[0] - 27, 4)
    allowed = {AddressKind.P2PKH: (0, 1), AddressKind.P2WPKH: (3, 1)}.get(address.kind, ())
    if signature_type not in allowed:
        raise failure(Reason.SIGNATURE_MALFORMED, address.text,
                      f"the signature header is for {_TYPE_NAMES[signature_type]}, the address is "
                      f"{address.kind.value.upper()}")
    r, s = int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big")
    point = recover_checked(bip137_digest(message), r, s, recovery_id, address.text)
    key = secp256k1.encode_point(point, compressed=signature_type != 0)
    if hash160(key) != address.payload:
        raise failure(Reason.WRONG_SIGNER, address.text,
                      f"the signature is by another key (HASH160 {hash160(key).hex()})")

