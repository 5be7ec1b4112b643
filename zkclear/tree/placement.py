"""Where each account sits in the sparse Merkle sum tree: a keyed PRF over (epoch secret, account id).

Layout (docs/protocol.md, "Tree layout"): the tree has ``height`` H; its leaves are grouped in
*chunks* of ``2^c`` consecutive leaf slots (``c = chunk_bits``). A chunk is one collateralization
batch. Chunk roots sit at level ``c`` at positions chosen by the PRF in the upper sparse tree of
height ``H - c``. An account's leaf index is ``chunk_position · 2^c + slot``.

Placement, all from one 32-byte ``placement_key`` that only the operator knows:

1. every account gets ``tag = HMAC-SHA256(key, "zkclear/tree/account-tag/v1" || id)``; accounts are
   ordered by tag (a pseudo-random permutation) and dealt round-robin to the chunks, so chunk sizes
   differ by at most one;
2. each chunk's ``2^c`` slots hold its accounts and all-zero padding accounts; the slot order is the
   order of the occupants' tags (padding occupants get ``HMAC(key, "pad" || chunk || j)``);
3. chunk ``k`` is placed at ``HMAC(key, "chunk-position" || k || attempt) mod 2^(H-c)`` for the first
   ``attempt = 0, 1, ...`` that hits a free position (deterministic collision resolution).

The number of chunks is ``ceil(N / 2^c)`` raised by the ``chunk_padding`` policy (see
:meth:`TreeConfig.chunk_count`), which is what hides the account count N beyond chunk granularity.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zkclear.errors import ConfigurationError, InputError

CHUNK_PADDING_POLICIES = ("none", "multiple", "power_of_two", "capacity")
#: Node range proofs use one of these widths (the Bulletproofs sizes).
RANGE_WIDTHS = (8, 16, 32, 64)

_ACCOUNT_TAG = b"zkclear/tree/account-tag/v1"
_PAD_TAG = b"zkclear/tree/padding-tag/v1"
_CHUNK_POSITION = b"zkclear/tree/chunk-position/v1"


@dataclass(frozen=True, slots=True)
class TreeConfig:
    """Shape of the epoch's tree and how much of the account count it hides.

    ``height`` H (leaf capacity 2^H), ``chunk_bits`` c (2^c leaf slots per collateral batch),
    ``chunk_padding`` one of ``none`` (ceil(N/2^c) chunks), ``multiple`` (round up to a multiple of
    ``chunk_padding_param``), ``power_of_two`` (round up to a power of two, at least
    ``chunk_padding_param``), ``capacity`` (always ``chunk_padding_param`` chunks), and ``sparse``:
    chunk roots at PRF positions in a sparse upper tree (True) or packed at positions 0..k-1 (False;
    cheaper, but then the occupied prefix of the tree shows the chunk count to every participant).
    """

    height: int = 32
    chunk_bits: int = 4
    chunk_padding: str = "power_of_two"
    chunk_padding_param: int = 1
    sparse: bool = True

    def __post_init__(self) -> None:
        if not 2 <= self.height <= 64:
            raise ConfigurationError(f"tree height must be in [2, 64], got {self.height}")
        if not 1 <= self.chunk_bits < self.height:
            raise ConfigurationError(f"chunk_bits must be in [1, height), got {self.chunk_bits}")
        if self.chunk_bits > 8:
            raise ConfigurationError(
                f"chunk_bits above 8 (2^c > 256 accounts per batch) is not supported, got {self.chunk_bits}"
            )
        if self.chunk_padding not in CHUNK_PADDING_POLICIES:
            raise ConfigurationError(
                f"chunk_padding must be one of {CHUNK_PADDING_POLICIES}, got {self.chunk_padding!r}"
            )
        most = 1 << (self.height - self.chunk_bits)  # chunk slots of the tree: a larger count can never be met
        if not 1 <= self.chunk_padding_param <= most:
            raise ConfigurationError(f"chunk_padding_param must be in [1, {most}] (the chunks a tree of height "
                                     f"{self.height} with 2^{self.chunk_bits}-leaf chunks holds), got "
                                     f"{self.chunk_padding_param}")

    @property
    def chunk_size(self) -> int:
        """Leaf slots per chunk, 2^c."""
        return 1 << self.chunk_bits

    @property
    def upper_height(self) -> int:
        """Height of the sparse tree above the chunk roots, H - c."""
        return self.height - self.chunk_bits

    def chunk_count(self, accounts: int) -> int:
        """Number of chunks for ``accounts`` accounts under the padding policy (at least 1)."""
        needed = max(1, -(-accounts // self.chunk_size))
        if self.chunk_padding == "multiple":
            step = self.chunk_padding_param
            count = -(-needed // step) * step
        elif self.chunk_padding == "power_of_two":
            count = max(1 << (needed - 1).bit_length(), self.chunk_padding_param)
        elif self.chunk_padding == "capacity":
            count = self.chunk_padding_param
            if needed > count:
                raise ConfigurationError(
                    f"{accounts} accounts need {needed} chunks, over the fixed capacity of {count}"
                )
        else:
            count = needed
        if count > 1 << self.upper_height:
            raise ConfigurationError(
                f"{count} chunks do not fit in a tree of height {self.height} "
                f"with 2^{self.chunk_bits}-leaf chunks"
            )
        return count

    def allows_chunk_count(self, chunks: int) -> bool:
        """Whether ``chunks`` is a count this padding policy can produce (the auditor checks it)."""
        if not 1 <= chunks <= 1 << self.upper_height:
            return False
        if self.chunk_padding == "multiple":
            return chunks % self.chunk_padding_param == 0
        if self.chunk_padding == "power_of_two":
            return chunks & (chunks - 1) == 0 and chunks >= self.chunk_padding_param
        if self.chunk_padding == "capacity":
            return chunks == self.chunk_padding_param
        return True

    def encode(self) -> bytes:
        """Canonical bytes (bound in the epoch header)."""
        policy = CHUNK_PADDING_POLICIES.index(self.chunk_padding)
        return struct.pack(
            ">BBBQB", self.height, self.chunk_bits, policy, self.chunk_padding_param, int(self.sparse)
        )

    @classmethod
    def decode(cls, data: bytes) -> TreeConfig:
        height, chunk_bits, policy, param, sparse = struct.unpack(">BBBQB", data)
        if policy >= len(CHUNK_PADDING_POLICIES) or sparse > 1:
            raise ConfigurationError("invalid tree configuration encoding")
        return cls(height, chunk_bits, CHUNK_PADDING_POLICIES[policy], param, bool(sparse))


#: Accounts per chunk a deployment gets by default: 2^4, or 2^2 for a listing of more instruments than this. A
#: participant's receipt check decodes and verifies its whole chunk, whose commitments grow with the listing (a
#: position per instrument, a witness per option): an options chain of 81 instruments checks a receipt in 0.65 s
#: with chunks of 16 and 0.26 s with chunks of 4 (docs/performance.md, "One position vector per node").
MANY_INSTRUMENTS = 16


def default_chunk_bits(instrument_count: int) -> int:
    """The chunk size exponent ``zkclear init`` chooses when not told: 4 (chunks of 16), or 2 (chunks of 4) for a
    listing of more than :data:`MANY_INSTRUMENTS` instruments."""
    return 4 if instrument_count <= MANY_INSTRUMENTS else 2


def node_range_bits(level: int, equity_bits: int) -> int:
    """Width of the range proof of a node at ``level`` (leaves are level 0).

    A node at level l sums at most 2^l leaves, each proven in [0, 2^B) (B = ``equity_bits``), so
    its honest value is below 2^(B+l); the width is the smallest Bulletproofs size covering that,
    capped at 64 (an honest node never exceeds the total liabilities, which solvency bounds by the
    reserves < 2^64).
    """
    needed = min(equity_bits + level, 64)
    return next(width for width in RANGE_WIDTHS if width >= needed)


def account_tag(placement_key: bytes, account_id: str) -> bytes:
    """The PRF output that orders an account: HMAC-SHA256(key, domain || utf8(id))."""
    return hmac.new(placement_key, _ACCOUNT_TAG + account_id.encode("utf-8"), hashlib.sha256).digest()


def require_account_id(account_id: object, line: int) -> None:
    """InputError unless ``account_id`` (the ``line``-th) is a non-empty string."""
    if not isinstance(account_id, str) or not account_id:
        raise InputError("account id must be a non-empty string", line=line, field="account_id")


def duplicate_id_error(account_ids: Sequence[str], line: int) -> InputError:
    """The refusal of ``account_ids[line]``, the first id (in input order) that an earlier one repeats."""
    return InputError(f"duplicate account id {account_ids[line]!r}", line=line, field="account_id")


def _padding_tag(placement_key: bytes, chunk: int, index: int) -> bytes:
    return hmac.new(placement_key, _PAD_TAG + struct.pack(">QQ", chunk, index), hashlib.sha256).digest()


def _chunk_position_candidate(placement_key: bytes, chunk: int, attempt: int, upper_height: int) -> int:
    digest = hmac.new(
        placement_key, _CHUNK_POSITION + struct.pack(">QQ", chunk, attempt), hashlib.sha256
    ).digest()
    return int.from_bytes(digest, "big") % (1 << upper_height)


@dataclass(frozen=True, slots=True)
class Placement:
    """Result of placing an epoch's accounts.

    ``chunk_positions[k]`` is chunk k's index among level-c nodes; ``chunk_slots[k][s]`` is the
    index (into the caller's account list) of the account in slot s of chunk k, or None for a
    padding account. Chunks are listed in increasing position order.
    """

    config: TreeConfig
    chunk_positions: tuple[int, ...]
    chunk_slots: tuple[tuple[int | None, ...], ...]

    def leaf_index(self, chunk: int, slot: int) -> int:
        return (self.chunk_positions[chunk] << self.config.chunk_bits) | slot

    def account_locations(self) -> dict[int, tuple[int, int]]:
        """account list index -> (chunk, slot)."""
        return {
            account: (chunk, slot)
            for chunk, slots in enumerate(self.chunk_slots)
            for slot, account in enumerate(slots)
            if account is not None
        }


def place_accounts(account_ids: Sequence[str], config: TreeConfig, placement_key: bytes) -> Placement:
    """Place every account (ids must be distinct, non-empty strings) deterministically from the key (the
    placement of :func:`placement_arrays`, as tuples)."""
    positions, slots = placement_arrays(account_ids, config, placement_key)
    return Placement(config=config, chunk_positions=tuple(positions.tolist()),
                     chunk_slots=tuple(tuple(None if a < 0 else a for a in row) for row in slots.tolist()))


def placement_arrays(account_ids: Sequence[str], config: TreeConfig, placement_key: bytes) -> tuple[Any, Any]:
    """``(chunk positions, slots)`` as int64 arrays, chunks in increasing position order: ``slots[k, s]`` is the
    index in ``account_ids`` of the account in slot ``s`` of chunk ``k``, -1 for a padding account.

    The tags are one array of 32 bytes per account, ordered with numpy; what is held while placing is a few
    dozen bytes per account, not Python objects per account. Operator side only: numpy is imported here, not
    by the module, which the verifier (``TreeConfig``) imports without it."""
    import numpy as np

    for line, account_id in enumerate(account_ids):
        require_account_id(account_id, line)
    count = len(account_ids)
    tags = bytearray(32 * count)
    for index, account_id in enumerate(account_ids):
        tags[32 * index:32 * index + 32] = account_tag(placement_key, account_id)
    words = np.frombuffer(tags, dtype=">u8").reshape(count, 4)
    order = np.lexsort(words.T[::-1])  # by tag, bytewise; stable: equal tags (equal ids) stay in input order
    repeated = np.flatnonzero(np.all(words[order[1:]] == words[order[:-1]], axis=1)) + 1 if count > 1 else order[:0]
    if repeated.size:
        line = int(order[repeated].min())  # the first account, in input order, whose id came before
        raise duplicate_id_error(account_ids, line)
    del words
    n_chunks = config.chunk_count(count)
    slots = np.empty((n_chunks, config.chunk_size), dtype=np.int64)
    for chunk in range(n_chunks):  # rank r goes to chunk r mod n_chunks; slots in the order of the tags
        slots[chunk] = chunk_slot_order(placement_key, config, chunk,
                                        [(bytes(tags[32 * a:32 * a + 32]), a) for a in order[chunk::n_chunks].tolist()])
    del tags, order
    positions = chunk_positions(config, placement_key, n_chunks)
    by_position = np.argsort(positions, kind="stable")
    return positions[by_position], slots[by_position]


def chunk_slot_order(placement_key: bytes, config: TreeConfig, chunk: int,
                     occupants: list[tuple[bytes, int]]) -> list[int]:
    """Chunk ``chunk``'s slots (account indices, -1 for padding) from its occupants' ``(tag, account index)``:
    padding occupants are added with their tags, and the slots follow the order of the tags."""
    occupants = occupants + [(_padding_tag(placement_key, chunk, pad), -1)
                             for pad in range(config.chunk_size - len(occupants))]
    occupants.sort(key=lambda entry: entry[0])
    return [account for _, account in occupants]


def chunk_positions(config: TreeConfig, placement_key: bytes, n_chunks: int) -> Any:
    """Chunk k's position among the level-c nodes, for k in ``range(n_chunks)`` (an int64 array, in the order of
    the deal, not sorted): the first free PRF candidate when sparse, k when packed."""
    import numpy as np

    positions = np.arange(n_chunks, dtype=np.int64)
    if config.sparse:
        taken: set[int] = set()
        for chunk in range(n_chunks):
            attempt = 0
            while True:
                candidate = _chunk_position_candidate(placement_key, chunk, attempt, config.upper_height)
                if candidate not in taken:
                    break
                attempt += 1
            taken.add(candidate)
            positions[chunk] = candidate
    return positions
