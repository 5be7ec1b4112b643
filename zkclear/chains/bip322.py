"""BIP-322 "simple" signed messages for P2WPKH addresses.

The message is bound through two virtual transactions (BIP-322, "Full"):

- ``to_spend``: version 0, one input spending ``000...000:0xFFFFFFFF`` with scriptSig
  ``OP_0 PUSH32 message_hash`` and sequence 0, one output of value 0 paying the address's script
  ``0x00 0x14 key_hash``, locktime 0; ``message_hash = tagged_hash("BIP0322-signed-message", m)``.
- ``to_sign``: version 0, one input spending ``to_spend:0`` with empty scriptSig and sequence 0,
  one output of value 0 with script ``OP_RETURN``, locktime 0.

The simple signature is the Base64 of ``to_sign``'s input witness, serialized as
``compact_size(2) || compact_size(len(sig)) || sig || compact_size(33) || pubkey``: a strict-DER, low-s
ECDSA signature followed by the SIGHASH_ALL byte 0x01, and the 33-byte compressed key whose HASH160
is the address's program. The signed digest is the BIP-143 segwit v0 sighash of ``to_sign`` input 0
with script code ``OP_DUP OP_HASH160 PUSH20 key_hash OP_EQUALVERIFY OP_CHECKSIG`` and amount 0.
Only this P2WPKH witness shape is accepted (no other script types, no "full" or proof-of-funds form).
"""

from __future__ import annotations

import base64
import struct

from zkclear.chains import secp256k1
from zkclear.chains.addresses import Address, AddressKind
from zkclear.chains.bitcoin_message import compact_size, decode_base64_strict
from zkclear.chains.der import der_decode, der_encode
from zkclear.chains.hashes import double_sha256, hash160, tagged_hash
from zkclear.chains.reasons import Reason, failure
from zkclear.errors import EncodingError, InputError

TAG = "BIP0322-signed-message"
SIGHASH_ALL = 0x01


def message_hash(message: bytes) -> bytes:
    """The BIP-340 tagged hash of the message (32 bytes)."""
    return tagged_hash(TAG, message)


def p2wpkh_script(key_hash: bytes) -> bytes:
    """The scriptPubKey of a P2WPKH output: OP_0 PUSH20 key_hash."""
    return b"\x00\x14" + key_hash


def to_spend_txid(message: bytes, script_pubkey: bytes) -> bytes:
    """The txid of ``to_spend`` in internal byte order (explorers print it reversed)."""
    script_sig = b"\x00\x20" + message_hash(message)
    serialized = (
        struct.pack("<I", 0) + b"\x01"
        + b"\x00" * 32 + struct.pack("<I", 0xFFFFFFFF)
        + compact_size(len(script_sig)) + script_sig + struct.pack("<I", 0)
        + b"\x01" + struct.pack("<q", 0) + compact_size(len(script_pubkey)) + script_pubkey
        + struct.pack("<I", 0)
    )
    return double_sha256(serialized)


_TO_SIGN_OUTPUTS = struct.pack("<q", 0) + b"\x01\x6a"  # value 0, script OP_RETURN


def to_sign_txid(spend_txid: bytes) -> bytes:
    """The txid of ``to_sign`` (witness excluded) in internal byte order."""
    serialized = (
        struct.pack("<I", 0) + b"\x01" + spend_txid + struct.pack("<I", 0) + b"\x00" + struct.pack("<I", 0)
        + b"\x01" + _TO_SIGN_OUTPUTS + struct.pack("<I", 0)
    )
    return double_sha256(serialized)


def sighash(message: bytes, key_hash: bytes) -> bytes:
    """The BIP-143 digest the P2WPKH key signs for ``to_sign`` input 0 (SIGHASH_ALL, amount 0)."""
    outpoint = to_spend_txid(message, p2wpkh_script(key_hash)) + struct.pack("<I", 0)
    script_code = b"\x19\x76\xa9\x14" + key_hash + b"\x88\xac"
    preimage = (
        struct.pack("<I", 0)  # nVersion
        + double_sha256(outpoint)  # hashPrevouts
        + double_sha256(struct.pack("<I", 0))  # hashSequence
        + outpoint + script_code + struct.pack("<q", 0) + struct.pack("<I", 0)
        + double_sha256(_TO_SIGN_OUTPUTS)  # hashOutputs
        + struct.pack("<I", 0)  # nLockTime
        + struct.pack("<I", SIGHASH_ALL)
    )
    return double_sha256(preimage)


def sign_bip322_simple(secret: bytes, message: bytes, address: Address) -> str:
    """The BIP-322 simple signature (Base64 witness) of ``message`` for the key's P2WPKH ``address``."""
    key = secp256k1.encode_point(secp256k1.public_key(secret), compressed=True)
    if address.kind is not AddressKind.P2WPKH or hash160(key) != address.payload:
        raise InputError(f"the key does not control P2WPKH address {address.text}")
    r, s, _ = secp256k1.sign(secret, sighash(message, address.payload))
    signature = der_encode(r, s) + bytes([SIGHASH_ALL])
    witness = b"\x02" + compact_size(len(signature)) + signature + compact_size(len(key)) + key
    return base64.b64encode(witness).decode("ascii")


def _witness_items(raw: bytes, address: str) -> list[bytes]:
    items, offset = [], 1
    if not raw or raw[0] != 2:
        raise failure(Reason.SIGNATURE_MALFORMED, address, "a P2WPKH BIP-322 witness has exactly 2 items")
    for _ in range(2):
        if offset >= len(raw) or raw[offset] >= 0xFD:
            raise failure(Reason.SIGNATURE_MALFORMED, address, "truncated BIP-322 witness")
        length = raw[offset]
        items.append(raw[offset + 1:offset + 1 + length])
        offset += 1 + length
        if len(items[-1]) != length:
            raise failure(Reason.SIGNATURE_MALFORMED, address, "truncated BIP-322 witness")
    if offset != len(raw):
        raise failure(Reason.SIGNATURE_MALFORMED, address, "trailing bytes after the BIP-322 witness")
    return items


def verify_bip322_simple(address: Address, message: bytes, signature: str) -> None:
    """Return iff ``signature`` is a valid BIP-322 simple signature of ``message`` by P2WPKH ``address``."""
    if address.kind is not AddressKind.P2WPKH:
        raise failure(Reason.SIGNATURE_MALFORMED, address.text, "BIP-322 simple is accepted for P2WPKH only")
    raw = decode_base64_strict(signature, address.text)
    der_signature, key = _witness_items(raw, address.text)
    if not der_signature or der_signature[-1] != SIGHASH_ALL:
        raise failure(Reason.SIGNATURE_MALFORMED, address.text, "BIP-322 requires SIGHASH_ALL")
    try:
        r, s = der_decode(der_signature[:-1])
        secp256k1.check_signature_scalars(r, s, require_low_s=False)
    except EncodingError as exc:
        raise failure(Reason.SIGNATURE_MALFORMED, address.text, str(exc)) from exc
    if s > secp256k1.HALF_N:
        raise failure(Reason.SIGNATURE_NON_CANONICAL, address.text,
                      "high s: a malleated signature (s must be at most N/2)")
    if len(key) != 33 or key[0] not in (2, 3):
        raise failure(Reason.SIGNATURE_MALFORMED, address.text, "the witness key must be a compressed key")
    if hash160(key) != address.payload:
        raise failure(Reason.WRONG_SIGNER, address.text,
                      f"the witness key is another key (HASH160 {hash160(key).hex()})")
    try:
        point = secp256k1.decode_point(key)
    except EncodingError as exc:
        raise failure(Reason.SIGNATURE_MALFORMED, address.text, str(exc)) from exc
    if not secp256k1.verify(point, sighash(message, address.payload), r, s):
        raise failure(Reason.WRONG_SIGNER, address.text, "the signature does not verify under the witness key")
