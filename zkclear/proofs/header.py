"""The epoch header, the epoch hash that chains epochs, and the proof contexts bound to both.

Definitions (docs/protocol.md, "Epoch header and chaining"):

- ``header_bytes`` is the canonical encoding (:meth:`EpochHeader.to_bytes`, version 5: one reserve total per
  asset; the epoch's collateral range proofs are Bulletproofs++ and its tree nodes are range-proven in groups,
  one Bulletproofs++ proof per group (``zkclear.tree.node_groups``) — version 4 had the same bytes with one proof
  per node, version 3 with Bulletproofs); ``header_digest = SHA256("zkclear/epoch-header/v5" || header_bytes)``.
- ``epoch_hash = SHA256("zkclear/epoch/v1" || header_digest || enc(C_root) || h_root)``; the next epoch's
  header carries ``previous_root = h_root`` and ``previous_epoch_hash = epoch_hash``. The genesis epoch
  (epoch ``FIRST_EPOCH`` = 1) carries 32 zero bytes in both.
- Every proof of the epoch (collateral batches, node range proofs, solvency) uses the context
  ``header_digest || u8(len(kind)) || kind || u64(i_1) || ...``: a proof never verifies in another
  epoch, or for another statement of the same epoch.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from zkclear.errors import EncodingError, VerificationError
from zkclear.tree.placement import TreeConfig

#: 5: tree nodes range-proven in groups (4: one Bulletproofs++ proof per node; 3: Bulletproofs; same header bytes
#: otherwise).
HEADER_VERSION = 5
DOMAIN_HEADER = b"zkclear/epoch-header/v5"
DOMAIN_EPOCH = b"zkclear/epoch/v1"
GENESIS = bytes(32)
#: A deployment's first epoch (the ledger's first commit): its header is a genesis header.
FIRST_EPOCH = 1
_FIXED = struct.Struct(">HQ32s32s32s32s32sIB")
_CONFIG_BYTES = 12
#: The settlement asset plus at most 31 collateral assets (circuits.public_data.MAX_COLLATERAL_ASSETS).
MAX_ASSETS = 32


@dataclass(frozen=True, slots=True)
class EpochHeader:
    """What every proof of the epoch binds.

    ``public_data_digest`` is the digest of the epoch's public risk data (the statements' coefficients);
    ``public_inputs_digest`` the digest of the public inputs it is recomputed from (configuration, marks,
    oracle quotes, volatilities, margin overrides, the previous prices and history; docs/format.md);
    ``reserves_digest`` fixes the reserves list (zkclear.proofs.reserves) and ``reserve_totals`` its total per
    asset (settlement asset first, each in the asset's smallest unit; their number is the number of liabilities
    every tree node carries); ``equity_bits`` is the bound B that every leaf is proven under; ``tree`` the tree
    shape (height, chunk size, padding policy).
    """

    epoch_id: int
    previous_root: bytes
    previous_epoch_hash: bytes
    public_data_digest: bytes
    public_inputs_digest: bytes
    reserves_digest: bytes
    reserve_totals: tuple[int, ...]
    instrument_count: int
    equity_bits: int
    tree: TreeConfig

    def __post_init__(self) -> None:
        for name in ("previous_root", "previous_epoch_hash", "public_data_digest", "public_inputs_digest",
                     "reserves_digest"):
            if not isinstance(getattr(self, name), bytes) or len(getattr(self, name)) != 32:
                raise EncodingError(f"epoch header: {name} must be 32 bytes")
        if not 0 <= self.epoch_id < 1 << 64:
            raise EncodingError("epoch header: the epoch id must fit in 64 bits")
        totals = self.reserve_totals
        if (not isinstance(totals, tuple) or not 1 <= len(totals) <= MAX_ASSETS
                or not all(type(t) is int and 0 <= t < 1 << 64 for t in totals)):
            raise EncodingError(f"epoch header: 1 to {MAX_ASSETS} reserve totals, each fitting in 64 bits")
        if not 1 <= self.equity_bits <= 64:
            raise EncodingError("epoch header: equity_bits must be in [1, 64]")

    @property
    def asset_count(self) -> int:
        """The number of assets (settlement first): liabilities per tree node, reserve totals, solvency values."""
        return len(self.reserve_totals)

    def to_bytes(self) -> bytes:
        return (
            _FIXED.pack(
                HEADER_VERSION,
                self.epoch_id,
                self.previous_root,
                self.previous_epoch_hash,
                self.public_data_digest,
                self.public_inputs_digest,
                self.reserves_digest,
                self.instrument_count,
                self.equity_bits,
            )
            + self.tree.encode()
            + struct.pack(f">H{len(self.reserve_totals)}Q", len(self.reserve_totals), *self.reserve_totals)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> EpochHeader:
        version = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else None
        if version != HEADER_VERSION:
            raise EncodingError(f"unsupported epoch header version {version} (this reader knows {HEADER_VERSION})")
        fixed = _FIXED.size + _CONFIG_BYTES
        if len(data) < fixed + 2:
            raise EncodingError(f"epoch header: truncated ({len(data)} bytes)")
        (assets,) = struct.unpack(">H", data[fixed:fixed + 2])
        if not 1 <= assets <= MAX_ASSETS or len(data) != fixed + 2 + 8 * assets:
            raise EncodingError(f"epoch header must be {fixed + 2} bytes and 8 per asset (1 to {MAX_ASSETS}), got "
                                f"{len(data)} bytes for {assets} assets")
        _, epoch_id, prev_root, prev_hash, public, inputs, reserves, instruments, bits = _FIXED.unpack(
            data[: _FIXED.size]
        )
        try:
            tree = TreeConfig.decode(data[_FIXED.size:fixed])
        except Exception as exc:  # ConfigurationError or struct.error: both mean bad bytes here
            raise EncodingError(f"epoch header: invalid tree configuration ({exc})") from exc
        totals = struct.unpack(f">{assets}Q", data[fixed + 2:])
        return cls(epoch_id, prev_root, prev_hash, public, inputs, reserves, totals, instruments, bits, tree)

    def digest(self) -> bytes:
        return hashlib.sha256(DOMAIN_HEADER + self.to_bytes()).digest()

    def context(self, kind: bytes, *indices: int) -> bytes:
        """The context bytes of one statement of this epoch (kind + indices), bound in its transcript."""
        return (
            self.digest()
            + bytes([len(kind)])
            + kind
            + b"".join(struct.pack(">Q", index) for index in indices)
        )


def epoch_hash(header_digest: bytes, root_encoded: bytes, root_digest: bytes) -> bytes:
    """The hash that the next epoch's header carries as ``previous_epoch_hash``."""
    return hashlib.sha256(DOMAIN_EPOCH + header_digest + root_encoded + root_digest).digest()


@dataclass(frozen=True, slots=True)
class ChainLink:
    """What the next epoch needs from this one."""

    epoch_id: int
    root_digest: bytes
    epoch_hash: bytes


def check_chain(previous: ChainLink | None, header: EpochHeader) -> None:
    """Raise VerificationError("epoch-chain-broken"), naming the broken link, unless ``header`` follows
    ``previous`` (or is a genesis header when ``previous`` is None). Epoch :data:`FIRST_EPOCH` follows no epoch:
    its header is a genesis header whatever ``previous`` says."""
    if header.epoch_id == FIRST_EPOCH and (header.previous_root != GENESIS or header.previous_epoch_hash != GENESIS):
        raise VerificationError("epoch-chain-broken",
                                detail=f"epoch {FIRST_EPOCH} names a previous epoch, but it is the first epoch: its "
                                       "header carries the genesis values (zeros) as previous root and header hash")
    if previous is None:
        if header.previous_root != GENESIS or header.previous_epoch_hash != GENESIS:
            raise VerificationError("epoch-chain-broken",
                                    detail=f"epoch {header.epoch_id} names a previous epoch, but none was given "
                                           "to check it against (a first epoch carries zeros)")
        return
    if header.epoch_id != previous.epoch_id + 1:
        raise VerificationError("epoch-chain-broken",
                                detail=f"epoch {header.epoch_id} does not follow epoch {previous.epoch_id}")
    if header.previous_root != previous.root_digest:
        raise VerificationError("epoch-chain-broken",
                                detail=f"epoch {header.epoch_id} names previous root "
                                       f"{header.previous_root.hex()[:16]}..., but epoch {previous.epoch_id}'s "
                                       f"root is {previous.root_digest.hex()[:16]}...")
    if header.previous_epoch_hash != previous.epoch_hash:
        raise VerificationError("epoch-chain-broken",
                                detail=f"epoch {header.epoch_id} names previous header hash "
                                       f"{header.previous_epoch_hash.hex()[:16]}..., but epoch {previous.epoch_id}'s "
                                       f"header hash is {previous.epoch_hash.hex()[:16]}...")


def check_first(header: EpochHeader) -> None:
    """The chain check of the first epoch a verifier is given, with no earlier epoch beside it: epoch
    :data:`FIRST_EPOCH` must be a genesis header (VerificationError "epoch-chain-broken"); a later epoch's link to
    the epoch before it cannot be checked alone."""
    if header.epoch_id == FIRST_EPOCH:
        check_chain(None, header)
