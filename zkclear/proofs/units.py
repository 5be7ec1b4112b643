"""The units of work of a streaming epoch close, as the tasks an executor runs (docs/protocol.md "Epoch close",
docs/performance.md "Scale-out").

Three kinds, each a module-level function of one picklable task that returns bytes (workers never write files):

- **chunk** (:func:`run_chunk_task`): one chunk's collateralization batch proof, its leaves' salted id hashes, its
  root and the sums the coordinator needs (liability opening, position values and blindings), encoded as a
  *chunk unit*; or, given a unit read back from the work store, the same unit after checking it (proof verified,
  openings open the commitments, every derived byte recomputed) or None;
- **subtree** (:func:`run_subtree_task`): levels ``low..high`` of the upper tree above some nodes at level ``low``
  (the chunk roots of about ``subtree_chunks`` neighbouring chunks), padding siblings included, with every node's
  liability opening, encoded as a *subtree unit* (deterministic and cheap: rebuilt on every run);
- **node group** (:func:`run_node_group_task`): the range proofs of up to ``NODE_PROOF_GROUP`` nodes of one level
  (``epoch_prover._prove_nodes``), or the check of a group read back from the store.

Encodings (big-endian; ``node`` as in the bundle format, with A liabilities (the header's asset count) and the
position vector; ``i128`` a 16-byte signed integer, ``scalar`` 32 bytes; an *opening* is A × (i128 value ‖ scalar
blinding), one per asset, settlement asset first; n is the instrument count):

    chunk unit    node root ‖ opening (L_a, ρ_a) ‖ n × i128 Σq_j ‖ scalar ρ_V (the position vector's blinding)
                  ‖ u32 len ‖ chunk record ‖ u16 slots ‖ slots × (u32 len ‖ account opening)
    subtree unit  node root ‖ opening ‖ scalar Σρ_V(padding) ‖ per level low..high-1:
                  u32 nodes ‖ nodes × (u64 index ‖ node ‖ opening)
                  ‖ u32 padding ‖ padding × (u64 index ‖ A × scalar ρ_a ‖ scalar ρ_V)
    node group    u16 count ‖ count × (u32 len ‖ proof)
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from provers.bulletproofs import batch_verify
from provers.bulletproofs_pp import BppRangeProof, BppRangeStatement
from zkclear.bundle.format import (
    decode_chunk_record,
    decode_node,
    encode_chunk_record,
    encode_node,
    node_size,
    padding_size,
)
from zkclear.crypto.field import R, scalar_from_bytes, scalar_to_bytes
from zkclear.crypto.pedersen import commit
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import EncodingError, VerificationError, ZkclearError
from zkclear.proofs.chunks import ChunkProofSystem
from zkclear.proofs.epoch_prover import _prove_chunk, _prove_nodes, chunk_positions, padding_node, slot_id_hash
from zkclear.tree.placement import TreeConfig
from zkclear.tree.receipts import ChunkRecord
from zkclear.tree.sum_tree import POSITION_POINTS, LiabilityOpening, PaddingOpening, chunk_levels, make_leaf

_I128 = 16


def i128(value: int) -> bytes:
    return value.to_bytes(_I128, "big", signed=True)


def _from_i128(data: bytes) -> int:
    return int.from_bytes(data, "big", signed=True)


def encode_opening(opening: LiabilityOpening) -> bytes:
    """A node's liability opening: ``(i128 value ‖ scalar blinding)`` per asset."""
    return b"".join(i128(value) + scalar_to_bytes(blinding) for value, blinding in opening)


def parse_opening(data: bytes, assets: int) -> LiabilityOpening:
    """The inverse of :func:`encode_opening` (``data`` holds exactly ``assets`` pairs)."""
    return tuple((_from_i128(data[48 * a:48 * a + _I128]), scalar_from_bytes(data[48 * a + _I128:48 * a + 48]))
                 for a in range(assets))


def canonical_bytes(value: Any) -> bytes:
    """An unambiguous encoding of a witness-like value (ints, strings, None, tuples, dataclasses) for content
    addresses: type-tagged and length-prefixed, so distinct values never share bytes."""
    if value is None:
        return b"N"
    if isinstance(value, bool):
        return b"B" + bytes([value])
    if isinstance(value, int):
        body = str(value).encode("ascii")
        return b"I" + struct.pack(">I", len(body)) + body
    if isinstance(value, str):
        body = value.encode("utf-8")
        return b"S" + struct.pack(">I", len(body)) + body
    if isinstance(value, bytes):
        return b"Y" + struct.pack(">I", len(value)) + value
    if isinstance(value, tuple | list):
        return b"T" + struct.pack(">I", len(value)) + b"".join(canonical_bytes(v) for v in value)
    if dataclasses.is_dataclass(value):
        name = type(value).__name__.encode("ascii")
        fields = [canonical_bytes(getattr(value, f.name)) for f in dataclasses.fields(value)]
        return b"D" + struct.pack(">I", len(name)) + name + struct.pack(">I", len(fields)) + b"".join(fields)
    raise TypeError(f"no canonical encoding for {type(value).__name__}")


# --------------------------------------------------------------------------------------------- chunks


@dataclass(frozen=True, slots=True)
class ChunkTask:
    """Everything one chunk's proof needs. ``account_ids[s]`` is None for a padding slot. With ``stored`` (a unit
    read back from the work store) the task checks it instead of proving."""

    system: ChunkProofSystem
    public: Any
    blindings: BlindingSource
    epoch_id: int
    position: int
    context: bytes
    account_ids: tuple[str | None, ...]
    witnesses: tuple[Any, ...]
    stored: bytes | None = None

    def work_parts(self) -> tuple[bytes, ...]:
        """The inputs that name this unit in the work store."""
        return (struct.pack(">Q", self.position), self.system.name.encode("ascii"),
                canonical_bytes(self.account_ids), canonical_bytes(self.witnesses))


@dataclass(frozen=True, slots=True)
class ChunkUnit:
    """A parsed chunk unit (slices of its bytes; nothing decoded into points)."""

    root: bytes
    liability: LiabilityOpening
    position_sums: tuple[int, ...]
    vector_blinding: int
    record: bytes
    openings: tuple[bytes, ...]

    @staticmethod
    def summary_size(count: int, assets: int) -> int:
        return node_size(assets) + 48 * assets + count * _I128 + 32

    @classmethod
    def parse(cls, body: bytes, count: int, assets: int, *, summary_only: bool = False) -> ChunkUnit:
        """EncodingError on anything malformed."""
        size = node_size(assets)
        end = cls.summary_size(count, assets)
        if len(body) < end + 4:
            raise EncodingError("chunk unit: truncated summary")
        root = body[:size]
        offset = size
        liability = parse_opening(body[offset:offset + 48 * assets], assets)
        offset += 48 * assets
        sums = []
        for _ in range(count):
            sums.append(_from_i128(body[offset:offset + _I128]))
            offset += _I128
        vector_blinding = scalar_from_bytes(body[offset:offset + 32])
        offset += 32
        if summary_only:
            return cls(root, liability, tuple(sums), vector_blinding, b"", ())
        (record_length,) = struct.unpack(">I", body[offset:offset + 4])
        offset += 4
        record = body[offset:offset + record_length]
        offset += record_length
        if len(record) != record_length or len(body) < offset + 2:
            raise EncodingError("chunk unit: truncated record")
        (slots,) = struct.unpack(">H", body[offset:offset + 2])
        offset += 2
        openings = []
        for _ in range(slots):
            if len(body) < offset + 4:
                raise EncodingError("chunk unit: truncated openings")
            (length,) = struct.unpack(">I", body[offset:offset + 4])
            openings.append(body[offset + 4:offset + 4 + length])
            offset += 4 + length
        if offset != len(body) or any(len(o) == 0 for o in openings):
            raise EncodingError("chunk unit: malformed openings")
        return cls(root, liability, tuple(sums), vector_blinding, record, tuple(openings))


def encode_chunk_unit(task: ChunkTask, proof: bytes, commitments: Sequence[Any], openings: Sequence[Any]) -> bytes:
    """The chunk unit of a proven chunk (see the module docstring)."""
    system, public = task.system, task.public
    assets = 1 + len(system.asset_ids(public))
    id_hashes = tuple(slot_id_hash(task.blindings, task.epoch_id, task.position, slot, account_id)
                      for slot, account_id in enumerate(task.account_ids))
    leaves = [make_leaf(id_hash, system.liabilities(c, public), system.encode_commitments(c))
              for id_hash, c in zip(id_hashes, commitments, strict=True)]
    positions = chunk_positions(system, public, commitments, openings, task.context, task.blindings)
    root = chunk_levels(leaves)[-1][0].with_positions((positions.proof.vector,))
    values, blindings = [0] * assets, [0] * assets
    for opening in openings:
        for a, (v, b) in enumerate(system.liability_openings(opening, public)):
            values[a], blindings[a] = values[a] + v, (blindings[a] + b) % R
    record = encode_chunk_record(ChunkRecord(task.position, id_hashes, tuple(commitments), proof,
                                             positions.proof.to_bytes()), system)
    parts = [encode_node(root), encode_opening(tuple(zip(values, blindings, strict=True)))]
    parts += [i128(q) for q in positions.totals]
    parts.append(scalar_to_bytes(positions.vector_blinding))
    parts += [struct.pack(">I", len(record)), record, struct.pack(">H", len(openings))]
    for opening in openings:
        encoded = system.encode_opening(opening)
        parts += [struct.pack(">I", len(encoded)), encoded]
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class ChunkBatch:
    """Several chunks' tasks in one executor task: fewer tasks for the coordinator and a Dask scheduler to hand
    out (each costs them milliseconds whatever its size) while every chunk's unit is still saved on its own."""

    tasks: tuple[ChunkTask, ...]


def run_chunk_batch(batch: ChunkBatch) -> tuple[bytes | None, ...]:
    """:func:`run_chunk_task` of every task of the batch, in order."""
    return tuple(run_chunk_task(task) for task in batch.tasks)


def run_chunk_task(task: ChunkTask) -> bytes | None:
    """Prove the chunk and return its unit; or, for a stored unit, return it if it checks, else None."""
    if task.stored is not None:
        return _check_chunk_unit(task)
    proof, commitments, openings = _prove_chunk(
        (task.system, list(task.witnesses), task.public, task.context, task.blindings))
    return encode_chunk_unit(task, proof, commitments, openings)


def _check_chunk_unit(task: ChunkTask) -> bytes | None:
    """The stored unit if its batch proof verifies against the chunk's statements, its openings open its
    commitments to this task's witnesses, and every derived byte (id hashes, root, sums) recomputes."""
    system, public = task.system, task.public
    stored = task.stored or b""
    try:
        unit = ChunkUnit.parse(stored, system.instrument_count(public), 1 + len(system.asset_ids(public)))
        chunk = decode_chunk_record(unit.record, system, public, len(task.witnesses))
        openings = [system.decode_opening(data, public) for data in unit.openings]
        if chunk.position != task.position or len(openings) != len(task.witnesses):
            return None
        for opening, commitments, witness in zip(openings, chunk.accounts, task.witnesses, strict=True):
            cash, positions = system.opening_values(opening)
            if ((cash, tuple(positions), system.opening_balances(opening))
                    != (witness.cash, tuple(witness.positions), tuple(witness.balances))):
                return None
            if not system.opening_matches(opening, commitments):
                return None
        batch_verify(system.statements(chunk.proof, list(chunk.accounts), public, task.context))
        again = encode_chunk_unit(task, chunk.proof, list(chunk.accounts), openings)
    except (ZkclearError, ValueError, TypeError, IndexError, struct.error):
        return None
    return again if again == stored else None


# --------------------------------------------------------------------------------------------- subtrees


@dataclass(frozen=True, slots=True)
class SubtreeTask:
    """Build levels ``low..high`` above ``base`` ((index at level low, node bytes, liability opening), in index
    order) of an epoch with ``assets`` assets; ``index`` is the subtree's root index at level ``high``."""

    config: TreeConfig
    blindings: BlindingSource
    epoch_id: int
    assets: int
    low: int
    high: int
    index: int
    base: tuple[tuple[int, bytes, LiabilityOpening], ...]


@dataclass(frozen=True, slots=True)
class LevelEntries:
    """One level of a subtree unit: (index, node bytes, liability opening) per node and (index, padding entry
    bytes without the position) per padding node, both in index order."""

    nodes: tuple[tuple[int, bytes, LiabilityOpening], ...]
    padding: tuple[tuple[int, bytes], ...]


@dataclass(frozen=True, slots=True)
class SubtreeUnit:
    root: bytes
    liability: LiabilityOpening
    padding_blinding_sums: tuple[int, ...]
    levels: tuple[LevelEntries, ...]

    @classmethod
    def parse(cls, body: bytes, assets: int, levels: int) -> SubtreeUnit:
        size = node_size(assets)
        root = body[:size]
        offset = size
        liability = parse_opening(body[offset:offset + 48 * assets], assets)
        offset += 48 * assets
        sums = tuple(scalar_from_bytes(body[offset + 32 * j:offset + 32 * j + 32]) for j in range(POSITION_POINTS))
        offset += 32 * POSITION_POINTS
        parsed = []
        entry = 8 + size + 48 * assets
        pad_entry = 8 + padding_size(assets)
        for _ in range(levels):
            (n_nodes,) = struct.unpack(">I", body[offset:offset + 4])
            offset += 4
            nodes = []
            for _ in range(n_nodes):
                raw = body[offset:offset + entry]
                nodes.append((struct.unpack(">Q", raw[:8])[0], raw[8:8 + size], parse_opening(raw[8 + size:], assets)))
                offset += entry
            (n_pad,) = struct.unpack(">I", body[offset:offset + 4])
            offset += 4
            padding = []
            for _ in range(n_pad):
                raw = body[offset:offset + pad_entry]
                padding.append((struct.unpack(">Q", raw[:8])[0], raw[8:]))
                offset += pad_entry
            parsed.append(LevelEntries(tuple(nodes), tuple(padding)))
        if offset != len(body):
            raise EncodingError("subtree unit: trailing bytes")
        return cls(root, liability, sums, tuple(parsed))


def run_subtree_task(task: SubtreeTask) -> bytes:
    """The subtree unit of ``task`` (see the module docstring)."""
    from zkclear.tree.sum_tree import build_span

    base = {index: decode_node(node, task.assets) for index, node, _ in task.base}
    base_openings = {index: opening for index, _, opening in task.base}

    def padding_source(level: int, index: int) -> tuple[Any, PaddingOpening]:
        return padding_node(task.blindings, task.epoch_id, task.assets, level, index)

    span = build_span(task.low, task.high, base, padding_source, base_openings)
    root = span.nodes[(task.high, task.index)] if task.high > task.low else base[task.index]
    root_opening = span.openings.get((task.high, task.index), base_openings.get(task.index))
    padding_sums = [0] * POSITION_POINTS
    for _, position_blindings in span.padding.values():
        for j, b in enumerate(position_blindings):
            padding_sums[j] = (padding_sums[j] + b) % R
    parts = [encode_node(root), encode_opening(root_opening)]
    parts += [scalar_to_bytes(b) for b in padding_sums]
    by_level: dict[int, list[tuple[int, bytes, LiabilityOpening]]] = {task.low: list(task.base)}
    for (level, index), node in span.nodes.items():
        if level < task.high:
            by_level.setdefault(level, []).append((index, encode_node(node), span.openings[(level, index)]))
    for level in range(task.low, task.high):
        nodes = sorted(by_level.get(level, []))
        parts.append(struct.pack(">I", len(nodes)))
        for index, node, opening in nodes:
            parts += [struct.pack(">Q", index), node, encode_opening(opening)]
        padding = sorted((index, opening) for (lvl, index), opening in span.padding.items() if lvl == level)
        parts.append(struct.pack(">I", len(padding)))
        for index, (liability_blindings, position_blindings) in padding:
            parts.append(struct.pack(">Q", index))
            parts += [scalar_to_bytes(b) for b in (*liability_blindings, *position_blindings)]
    return b"".join(parts)


# --------------------------------------------------------------------------------------------- node groups


@dataclass(frozen=True, slots=True)
class NodeGroupTask:
    """Aggregated range proofs of groups of nodes ``(values, blindings, n_bits, context)`` (one value per member
    and asset: ``epoch_prover.group_job``); with
    ``stored`` the group read back from the work store is checked instead (every proof against its statement, one
    batch)."""

    blindings: BlindingSource
    nodes: tuple[tuple[tuple[int, ...], tuple[int, ...], int, bytes], ...]
    stored: bytes | None = None

    def work_parts(self) -> tuple[bytes, ...]:
        return tuple(encode_opening(tuple(zip(values, blinds, strict=True))) + struct.pack(">H", n_bits)
                     + hashlib.sha256(context).digest() for values, blinds, n_bits, context in self.nodes)


def encode_node_group(proofs: Sequence[bytes]) -> bytes:
    return struct.pack(">H", len(proofs)) + b"".join(struct.pack(">I", len(p)) + p for p in proofs)


def parse_node_group(body: bytes) -> list[bytes]:
    """EncodingError on anything malformed."""
    if len(body) < 2:
        raise EncodingError("node group: truncated")
    (count,) = struct.unpack(">H", body[:2])
    offset, proofs = 2, []
    for _ in range(count):
        if len(body) < offset + 4:
            raise EncodingError("node group: truncated")
        (length,) = struct.unpack(">I", body[offset:offset + 4])
        proofs.append(body[offset + 4:offset + 4 + length])
        offset += 4 + length
    if offset != len(body):
        raise EncodingError("node group: trailing bytes")
    return proofs


def run_node_group_task(task: NodeGroupTask) -> bytes | None:
    """The group's proofs (encoded); for a stored group, itself if every proof verifies, else None."""
    if task.stored is None:
        return encode_node_group(_prove_nodes((task.blindings, list(task.nodes))))
    try:
        proofs = parse_node_group(task.stored)
        if len(proofs) != len(task.nodes):
            return None
        statements = [
            BppRangeStatement(BppRangeProof.from_bytes(proof, m=len(values), n_bits=n_bits),
                           tuple(commit(v, b) for v, b in zip(values, blinds, strict=True)), n_bits, context)
            for proof, (values, blinds, n_bits, context) in zip(proofs, task.nodes, strict=True)]
        batch_verify(statements)
    except (EncodingError, VerificationError, ValueError):
        return None
    return task.stored
