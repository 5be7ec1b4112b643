"""Reserves and their attestations: each reserve address signs the epoch's header digest and root.

Definitions (docs/protocol.md, "Reserve attestations"):

- a reserve *address* is ``"0x" || hex(SHA256("zkclear/reserve-address/v1" || compressed_pubkey)[:20])``
  for a secp256k1 key (33-byte compressed public key);
- the *attestation message* is
  ``m = SHA256("zkclear/reserve-attestation/v1" || header_digest || enc(C_root) || h_root)``
  (the header digest binds the epoch id, the previous root and the reserves list);
- an attestation is a recoverable ECDSA signature over the 32-byte m: ``r (32) || s (32) || recid (1)``,
  with low s (s <= n/2) required; the verifier recovers the public key and compares its address.

Signing and recovery use coincurve (libsecp256k1) when importable. Without it, recovery (all a verifier
needs) runs on :mod:`zkclear.crypto.secp256k1` (standard library only) and signing on py_ecc's pure-Python
``secp256k1`` module; all produce and accept the same bytes (``engine`` picks one for tests and benchmarks).
"""

from __future__ import annotations

import csv
import hashlib
import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zkclear.crypto.secp256k1 import recover_public_key
from zkclear.errors import InputError, VerificationError

DOMAIN_ADDRESS = b"zkclear/reserve-address/v1"
DOMAIN_MESSAGE = b"zkclear/reserve-attestation/v1"
DOMAIN_RESERVES = b"zkclear/reserves/v1"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SIGNATURE_BYTES = 65
_MAX_BALANCE = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class ReserveEntry:
    address: str
    balance: int


@dataclass(frozen=True, slots=True)
class ReserveSet:
    """The epoch's reserves input: addresses with balances (integers, smallest unit)."""

    entries: tuple[ReserveEntry, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for line, entry in enumerate(self.entries):
            if not _valid_address(entry.address):
                raise InputError(f"malformed reserve address {entry.address!r}", line=line, field="address")
            if entry.address in seen:
                raise InputError(f"duplicate reserve address {entry.address}", line=line, field="address")
            seen.add(entry.address)
            if (
                isinstance(entry.balance, bool)
                or not isinstance(entry.balance, int)
                or not 0 <= entry.balance <= _MAX_BALANCE
            ):
                raise InputError("balance must be an integer in [0, 2^64)", line=line, field="balance")
        if self.total > _MAX_BALANCE:
            raise InputError("total reserves must be below 2^64")

    @property
    def total(self) -> int:
        return sum(entry.balance for entry in self.entries)

    def to_bytes(self) -> bytes:
        out = [struct.pack(">I", len(self.entries))]
        for entry in self.entries:
            address = entry.address.encode("ascii")
            out.append(struct.pack(">B", len(address)) + address + struct.pack(">Q", entry.balance))
        return b"".join(out)

    def digest(self) -> bytes:
        return hashlib.sha256(DOMAIN_RESERVES + self.to_bytes()).digest()

    @classmethod
    def parse_csv(cls, text: str, *, path: str | None = None) -> ReserveSet:
        """Parse ``address,balance`` rows (a header row ``address,balance`` first); strict."""
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or [cell.strip() for cell in rows[0]] != ["address", "balance"]:
            raise InputError("expected the header row 'address,balance'", path=path, line=1)
        entries = []
        for line, row in enumerate(rows[1:], start=2):
            if len(row) != 2:
                raise InputError(f"expected 2 fields, got {len(row)}", path=path, line=line)
            address, balance_text = row[0].strip(), row[1].strip()
            if not _valid_address(address):
                raise InputError(
                    f"malformed reserve address {address!r}", path=path, line=line, field="address"
                )
            if not (balance_text.isascii() and balance_text.isdigit()) or len(balance_text) > 20:
                raise InputError(
                    f"balance must be a non-negative integer, got {balance_text!r}",
                    path=path,
                    line=line,
                    field="balance",
                )
            entries.append(ReserveEntry(address, int(balance_text)))
        try:
            return cls(tuple(entries))
        except InputError as exc:
            raise InputError(
                exc.detail, path=path, line=None if exc.line is None else exc.line + 2, field=exc.field
            ) from exc

    @classmethod
    def load(cls, path: str | Path) -> ReserveSet:
        return cls.parse_csv(Path(path).read_text(encoding="utf-8"), path=str(path))


def _valid_address(address: object) -> bool:
    if not isinstance(address, str) or len(address) != 42 or not address.startswith("0x"):
        return False
    return all(ch in "0123456789abcdef" for ch in address[2:])


def address_of(public_key_compressed: bytes) -> str:
    """The reserve address of a 33-byte compressed secp256k1 public key."""
    return "0x" + hashlib.sha256(DOMAIN_ADDRESS + public_key_compressed).digest()[:20].hex()


def attestation_message(header_digest: bytes, root_encoded: bytes, root_digest: bytes) -> bytes:
    """The 32-byte message every reserve address signs for an epoch."""
    return hashlib.sha256(DOMAIN_MESSAGE + header_digest + root_encoded + root_digest).digest()


@dataclass(frozen=True, slots=True)
class ReserveAttestation:
    address: str
    signature: bytes


def _compress(x: int, y: int) -> bytes:
    return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")


def _coincurve():
    try:
        import coincurve
    except ImportError:  # optional: py_ecc is the pure-Python fallback
        return None
    return coincurve


def public_key_of(private_key: bytes, *, engine: str = "auto") -> bytes:
    """The compressed public key of a 32-byte private key."""
    cc = _coincurve() if engine in ("auto", "coincurve") else None
    if cc is not None:
        return cc.PrivateKey(private_key).public_key.format(compressed=True)
    from py_ecc.secp256k1 import privtopub

    x, y = privtopub(private_key)
    return _compress(x, y)


def sign_attestation(private_key: bytes, message: bytes, *, engine: str = "auto") -> ReserveAttestation:
    """Sign ``message`` (32 bytes) with a reserve key; returns the attestation for its address."""
    cc = _coincurve() if engine in ("auto", "coincurve") else None
    if cc is not None:
        key = cc.PrivateKey(private_key)
        signature = key.sign_recoverable(message, hasher=None)
        address = address_of(key.public_key.format(compressed=True))
    else:
        from py_ecc.secp256k1 import ecdsa_raw_sign

        v, r, s = ecdsa_raw_sign(message, private_key)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v - 27])
        address = address_of(public_key_of(private_key, engine="py_ecc"))
    return ReserveAttestation(address, signature)


def recover_address(message: bytes, signature: bytes, *, engine: str = "auto") -> str:
    """The address whose key made ``signature`` over ``message``; VerificationError if invalid."""
    if len(signature) != SIGNATURE_BYTES or signature[64] > 1:
        raise VerificationError("reserve-attestation")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if not (0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2):
        raise VerificationError("reserve-attestation")
    cc = _coincurve() if engine in ("auto", "coincurve") else None
    try:
        if cc is not None:
            public = cc.PublicKey.from_signature_and_message(signature, message, hasher=None)
            return address_of(public.format(compressed=True))
        if engine == "py_ecc":
            from py_ecc.secp256k1 import ecdsa_raw_recover

            x, y = ecdsa_raw_recover(message, (signature[64] + 27, r, s))
        else:
            x, y = recover_public_key(message, r, s, signature[64])
        return address_of(_compress(x, y))
    except VerificationError:
        raise
    except Exception as exc:  # either library rejects unrecoverable signatures with its own error
        raise VerificationError("reserve-attestation") from exc


def verify_attestations(
    reserves: ReserveSet, attestations: Sequence[ReserveAttestation], message: bytes, *, engine: str = "auto"
) -> int:
    """Check one valid attestation per reserve address; return the attested total.

    VerificationError reasons: ``reserve-attestation`` (a signature missing, extra, or not by its
    address's key, with ``index`` = the reserve entry).
    """
    by_address = {}
    for attestation in attestations:
        if attestation.address in by_address:
            raise VerificationError("reserve-attestation",
                                    detail=f"reserve address {attestation.address} signed twice")
        by_address[attestation.address] = attestation
    listed = {entry.address for entry in reserves.entries}
    for address in by_address:
        if address not in listed:
            raise VerificationError("reserve-attestation",
                                    detail=f"a signature by {address}, which is not a listed reserve address")
    for index, entry in enumerate(reserves.entries):
        attestation = by_address.get(entry.address)
        if attestation is None:
            raise VerificationError("reserve-attestation", index=index,
                                    detail=f"reserve address {entry.address} (balance {entry.balance}) has not "
                                           "signed this epoch")
        try:
            signer = recover_address(message, attestation.signature, engine=engine)
        except VerificationError:
            signer = None
        if signer != entry.address:
            raise VerificationError("reserve-attestation", index=index,
                                    detail=f"the signature listed for reserve address {entry.address} was not made "
                                           "by that address's key over this epoch's message")
    return reserves.total
