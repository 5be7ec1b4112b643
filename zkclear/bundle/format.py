"""The on-disk format of the public bundle, the audit data and receipts (docs/format.md, "Bundle").

Every file is one *container*::

    magic    8 bytes   b"ZKCLEAR\\x00"
    kind     4 bytes   b"PUBL" (public bundle) | b"AUDT" (audit data) | b"RCPT" (receipt)
                       | b"TOTL" (the total liabilities' opening, for an auditor only)
    version  u16       FORMAT_VERSION (6)
    length   u64       byte length of body
    body     length bytes
    checksum 32 bytes  SHA-256 of everything before it

Integers are big-endian; ``blob`` = u32 length || bytes; ``text`` = u16 length || UTF-8; ``point`` = 48-byte
compressed G1 (strictly decoded: on curve, in subgroup, canonical); ``scalar`` = 32 bytes < r;
``node`` = A points (its liabilities, A = the header's asset count) || 32-byte digest || 1 point (its position
vector: the position sums of every instrument as one commitment, :mod:`zkclear.proofs.position_vector`);
positions ``(u8 level, u64 index)`` appear in strictly increasing
order. Decoding is strict: a wrong magic, kind, version, length or checksum, a truncated or overlong
body, a non-canonical field or an out-of-order position raises one :class:`EncodingError` that
names the field.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from zkclear.bundle.model import AuditData, PublicBundle
from zkclear.chains import Attestation, ReserveEntry
from zkclear.crypto.field import scalar_from_bytes, scalar_to_bytes
from zkclear.crypto.group import G1Point
from zkclear.errors import EncodingError, ZkclearError
from zkclear.files import naming_write_errors, new_file
from zkclear.files import read_file as read_file  # the readers of zkclear files import it from here
from zkclear.proofs.chunks import ChunkProofSystem
from zkclear.proofs.header import MAX_ASSETS, EpochHeader
from zkclear.proofs.reserves import ReserveBook, VenueAsset
from zkclear.tree.receipts import ChunkRecord, Receipt
from zkclear.tree.sum_tree import POSITION_POINTS, Position, TreeNode

MAGIC = b"ZKCLEAR\x00"
FORMAT_VERSION = 6
KIND_PUBLIC = b"PUBL"
KIND_AUDIT = b"AUDT"
KIND_RECEIPT = b"RCPT"
KIND_TOTAL = b"TOTL"
_PREFIX = struct.Struct(">8s4sHQ")
_CHECKSUM = 32


# --------------------------------------------------------------------------------- primitives


class _Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def raw(self, data: bytes) -> None:
        self.parts.append(data)

    def u8(self, v: int) -> None:
        self.parts.append(struct.pack(">B", v))

    def u16(self, v: int) -> None:
        self.parts.append(struct.pack(">H", v))

    def u32(self, v: int) -> None:
        self.parts.append(struct.pack(">I", v))

    def u64(self, v: int) -> None:
        self.parts.append(struct.pack(">Q", v))

    def blob(self, data: bytes) -> None:
        self.u32(len(data))
        self.parts.append(data)

    def text(self, value: str) -> None:
        data = value.encode("utf-8")
        self.u16(len(data))
        self.parts.append(data)

    def node(self, node: TreeNode) -> None:
        if node.positions_encoded is None:
            raise EncodingError("an upper tree node must carry its position vector")
        self.parts.append(node.encoded)
        self.parts.append(node.digest)
        self.parts.append(node.positions_encoded)

    def position(self, pos: Position) -> None:
        self.u8(pos[0])
        self.u64(pos[1])

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.offset = 0

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.offset + size > len(self.data):
            raise EncodingError(
                f"truncated: {what} needs {size} bytes at offset {self.offset}, "
                f"{len(self.data) - self.offset} left"
            )
        out = bytes(self.data[self.offset : self.offset + size])
        self.offset += size
        return out

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return struct.unpack(">H", self.take(2, what))[0]

    def u32(self, what: str) -> int:
        return struct.unpack(">I", self.take(4, what))[0]

    def u64(self, what: str) -> int:
        return struct.unpack(">Q", self.take(8, what))[0]

    def blob(self, what: str) -> bytes:
        return self.take(self.u32(what + " length"), what)

    def text(self, what: str) -> str:
        data = self.take(self.u16(what + " length"), what)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EncodingError(f"{what}: not valid UTF-8") from exc

    def point(self, what: str) -> G1Point:
        return _field(what, G1Point.from_bytes, self.take(48, what))

    def scalar(self, what: str) -> int:
        return _field(what, scalar_from_bytes, self.take(32, what))

    def node(self, what: str, assets: int = 1) -> TreeNode:
        encoded = self.take(48 * assets, what)
        liabilities = tuple(_field(f"{what} liability {a}", G1Point.from_bytes, encoded[48 * a:48 * a + 48])
                            for a in range(assets))
        digest = self.take(32, what + " digest")
        vector_encoded = self.take(48 * POSITION_POINTS, what + " position vector")
        vector = _field(f"{what} position vector", G1Point.from_bytes, vector_encoded)
        return TreeNode(liabilities, encoded, digest, (vector,), vector_encoded)

    def count(self, what: str, item_size: int) -> int:
        """A u64 item count, refused when the remaining bytes cannot hold that many items."""
        n = self.u64(what)
        if n * item_size > len(self.data) - self.offset:
            raise EncodingError(f"truncated: {what} says {n} items, more than the file holds")
        return n

    def count32(self, what: str, item_size: int) -> int:
        """A u32 item count, refused when the remaining bytes cannot hold that many items."""
        n = self.u32(what)
        if n * item_size > len(self.data) - self.offset:
            raise EncodingError(f"truncated: {what} says {n} items, more than the file holds")
        return n

    def positions(self, what: str, item_size: int, read_item: Callable[[str], Any]) -> dict[Position, Any]:
        out: dict[Position, Any] = {}
        last: Position | None = None
        for i in range(self.count(what, item_size + 9)):
            pos = (self.u8(f"{what}[{i}] level"), self.u64(f"{what}[{i}] index"))
            if last is not None and pos <= last:
                raise EncodingError(f"{what}[{i}]: positions must be strictly increasing")
            last = pos
            out[pos] = read_item(f"{what}[{i}]")
        return out

    def finish(self, what: str) -> None:
        if self.offset != len(self.data):
            raise EncodingError(f"{what}: {len(self.data) - self.offset} unexpected trailing bytes")


def _field(what: str, decode: Callable[[bytes], Any], data: bytes) -> Any:
    """Run a nested decoder, turning whatever it raises on bad bytes into one EncodingError."""
    try:
        return decode(data)
    except EncodingError as exc:
        raise EncodingError(f"{what}: {exc}") from exc
    except ZkclearError as exc:  # e.g. an InputError from a reserves entry: still bad bytes here
        raise EncodingError(f"{what}: {exc}") from exc
    except (ValueError, TypeError, IndexError, KeyError, struct.error, ArithmeticError) as exc:
        raise EncodingError(f"{what}: malformed ({exc})") from exc


def _container(kind: bytes, body: bytes) -> bytes:
    head = _PREFIX.pack(MAGIC, kind, FORMAT_VERSION, len(body)) + body
    return head + hashlib.sha256(head).digest()


def container_body_length(head: bytes, kind: bytes, total_size: int) -> int:
    """Check a container's prefix (``head``, its first 22 bytes: magic, kind, version) against the file's total
    size; returns the body length (EncodingError naming what is wrong)."""
    if total_size < _PREFIX.size + _CHECKSUM or len(head) < _PREFIX.size:
        raise EncodingError(f"truncated: {total_size} bytes is shorter than an empty container")
    magic, found_kind, version, length = _PREFIX.unpack(bytes(head[: _PREFIX.size]))
    if magic != MAGIC:
        raise EncodingError("not a zkclear file (bad magic)")
    if found_kind != kind:
        raise EncodingError(f"expected a {kind.decode()} file, got {found_kind!r}")
    if version != FORMAT_VERSION:
        raise EncodingError(f"unsupported format version {version} (this reader knows {FORMAT_VERSION})")
    if total_size != _PREFIX.size + length + _CHECKSUM:
        raise EncodingError(
            f"length mismatch: header says a {length}-byte body, file holds "
            f"{total_size - _PREFIX.size - _CHECKSUM}"
        )
    return length


def _open_container(data: bytes, kind: bytes) -> _Reader:
    if not isinstance(data, bytes | bytearray):
        raise EncodingError("expected bytes")
    container_body_length(bytes(data[: _PREFIX.size]), kind, len(data))
    if hashlib.sha256(bytes(data[:-_CHECKSUM])).digest() != bytes(data[-_CHECKSUM:]):
        raise EncodingError("checksum mismatch: the file is corrupted")
    return _Reader(bytes(data[_PREFIX.size : -_CHECKSUM]))


# --------------------------------------------------------------------------------- public bundle


def encode_public_bundle(bundle: PublicBundle) -> bytes:
    w = _Writer()
    w.blob(bundle.header.to_bytes())
    w.node(bundle.root)
    w.u32(len(bundle.matched_book))
    for beta in bundle.matched_book:
        w.raw(scalar_to_bytes(beta))
    w.blob(bundle.solvency_proof)
    w.blob(bundle.reserves.to_bytes())
    w.u32(len(bundle.attestations))
    for attestation in bundle.attestations:
        w.text(attestation.chain)
        w.text(attestation.address)
        w.text(attestation.text)
        w.text(attestation.signature)
    return _container(KIND_PUBLIC, w.getvalue())


def _ascii(r: _Reader, what: str) -> str:
    value = r.text(what)
    if not value.isascii():
        raise EncodingError(f"{what}: not ASCII")
    return value


def decode_reserve_book(data: bytes) -> ReserveBook:
    """The reserves list of :meth:`ReserveBook.to_bytes`, strictly (every entry re-validated for its chain)."""
    r = _Reader(data)
    venue = _ascii(r, "reserves venue")
    assets = []
    for i in range(r.u16("reserves asset count")):
        asset_id = _ascii(r, f"reserves asset[{i}] id")
        decimals = r.u8(f"reserves asset[{i}] decimals")
        assets.append(_field(f"reserves asset[{i}]", lambda _, a=asset_id, d=decimals: VenueAsset(a, d), b""))
    entries = []
    for i in range(r.count32("reserves entry count", 2 + 2 + 2 + 32 + 8 + 2 + 1 + 2)):
        what = f"reserves entry[{i}]"
        chain, asset, address = (_ascii(r, f"{what} chain"), _ascii(r, f"{what} asset"), _ascii(r, f"{what} address"))
        balance = int.from_bytes(r.take(32, f"{what} balance"), "big")
        height = r.u64(f"{what} block height")
        block_hash = _ascii(r, f"{what} block hash")
        decimals = r.u8(f"{what} chain decimals")
        token = _ascii(r, f"{what} token")
        entries.append(_field(what, lambda _, v=(chain, asset, address, balance, height, block_hash, token, decimals):
                              ReserveEntry(*v), b""))
    r.finish("reserves")
    return _field("reserves", lambda _: ReserveBook(venue, tuple(assets), tuple(entries)), b"")


def decode_public_bundle(data: bytes) -> PublicBundle:
    r = _open_container(data, KIND_PUBLIC)
    header = _field("header", EpochHeader.from_bytes, r.blob("header"))
    root = r.node("root", header.asset_count)
    n_betas = r.u32("matched_book count")
    if n_betas != POSITION_POINTS:
        raise EncodingError(f"matched_book: {n_betas} blindings, the position vector has exactly one")
    betas = (r.scalar("matched_book[0]"),)
    solvency = r.blob("solvency_proof")
    reserves = _field("reserves", decode_reserve_book, r.blob("reserves"))
    attestations = []
    for i in range(r.count32("attestations count", 8)):
        what = f"attestations[{i}]"
        attestations.append(Attestation(_ascii(r, f"{what} chain"), _ascii(r, f"{what} address"),
                                        _ascii(r, f"{what} text"), _ascii(r, f"{what} signature")))
    r.finish("public bundle")
    return PublicBundle(header, root, betas, solvency, reserves, tuple(attestations))


# --------------------------------------------------------------------------------- chunks, audit


def _write_chunk(w: _Writer, chunk: ChunkRecord, system: ChunkProofSystem) -> None:
    w.u64(chunk.position)
    w.u16(len(chunk.id_hashes))
    for id_hash, account in zip(chunk.id_hashes, chunk.accounts, strict=True):
        w.raw(id_hash)
        w.blob(system.encode_commitments(account))
    w.blob(chunk.proof)
    w.blob(chunk.positions_proof)


def _read_chunk(r: _Reader, what: str, system: ChunkProofSystem, public: Any, chunk_size: int) -> ChunkRecord:
    position = r.u64(what + " position")
    slots = r.u16(what + " slots")
    if slots != chunk_size:
        raise EncodingError(f"{what}: {slots} slots, the header says {chunk_size}")
    id_hashes, accounts = [], []
    for s in range(slots):
        id_hashes.append(r.take(32, f"{what} slot {s} id hash"))
        blob = r.blob(f"{what} slot {s} account")
        accounts.append(
            _field(f"{what} slot {s} account", lambda b: system.decode_commitments(b, public), blob)
        )
    proof = r.blob(what + " proof")
    return ChunkRecord(position, tuple(id_hashes), tuple(accounts), proof, r.blob(what + " position vector proof"))


def encode_chunk_record(chunk: ChunkRecord, system: ChunkProofSystem) -> bytes:
    """One chunk as it appears in the audit data and in a receipt (position, slots, leaves, proof, position vector
    proof)."""
    w = _Writer()
    _write_chunk(w, chunk, system)
    return w.getvalue()


def decode_chunk_record(data: bytes, system: ChunkProofSystem, public: Any, chunk_size: int) -> ChunkRecord:
    """The inverse of :func:`encode_chunk_record` (strict: the bytes must be exactly one chunk)."""
    r = _Reader(data)
    chunk = _read_chunk(r, "chunk", system, public, chunk_size)
    r.finish("chunk")
    return chunk


def node_size(asset_count: int) -> int:
    """Bytes of an encoded upper ``node``: A liabilities, the digest, the position vector."""
    return 48 * asset_count + 32 + 48 * POSITION_POINTS


def padding_size(asset_count: int) -> int:
    """Bytes of a padding entry's blindings (after its position): A liability blindings, the position vector's."""
    return 32 * (asset_count + POSITION_POINTS)


def encode_node(node: TreeNode) -> bytes:
    """``node``: the liabilities, the digest and the position sums (an upper node, as every file writes it)."""
    w = _Writer()
    w.node(node)
    return w.getvalue()


def decode_node(data: bytes, asset_count: int) -> TreeNode:
    """The inverse of :func:`encode_node` (strict)."""
    r = _Reader(data)
    node = r.node("node", asset_count)
    r.finish("node")
    return node


def encode_node_entry(pos: Position, node: TreeNode) -> bytes:
    """``position || node``: one entry of the audit data's upper-node list."""
    w = _Writer()
    w.position(pos)
    w.node(node)
    return w.getvalue()


def encode_proof_entry(pos: Position, proof: bytes) -> bytes:
    """``position || blob``: one entry of the audit data's node-proof list."""
    w = _Writer()
    w.position(pos)
    w.blob(proof)
    return w.getvalue()


def encode_padding_entry(pos: Position, liability_blindings: tuple[int, ...], position_blindings: tuple[int, ...]
                         ) -> bytes:
    """``position || A scalars ρ_a || scalar ρ_V``: one entry of the audit data's padding list."""
    return struct.pack(">BQ", *pos) + b"".join(scalar_to_bytes(b) for b in (*liability_blindings, *position_blindings))


def encode_audit_data(audit: AuditData, system: ChunkProofSystem) -> bytes:
    w = _Writer()
    w.raw(audit.header_digest)
    w.u64(len(audit.chunks))
    for chunk in audit.chunks:
        w.raw(encode_chunk_record(chunk, system))
    w.u64(len(audit.upper_nodes))
    for pos in sorted(audit.upper_nodes):
        w.raw(encode_node_entry(pos, audit.upper_nodes[pos]))
    w.u64(len(audit.node_proofs))
    for pos in sorted(audit.node_proofs):
        w.raw(encode_proof_entry(pos, audit.node_proofs[pos]))
    w.u64(len(audit.padding))
    for pos in sorted(audit.padding):
        w.raw(encode_padding_entry(pos, *audit.padding[pos]))
    return _container(KIND_AUDIT, w.getvalue())


def decode_audit_data(data: bytes, header: EpochHeader, public: Any, system: ChunkProofSystem) -> AuditData:
    """Decode audit data for the epoch of ``header`` (whose tree shape fixes the chunk size and whose asset count the
    number of liabilities)."""
    r = _open_container(data, KIND_AUDIT)
    assets = header.asset_count
    header_digest = r.take(32, "header digest")
    n_chunks = r.count("chunk count", 8 + 2 + 4)
    chunks = tuple(
        _read_chunk(r, f"chunk[{i}]", system, public, header.tree.chunk_size) for i in range(n_chunks)
    )
    upper = r.positions("upper nodes", node_size(assets), lambda what: r.node(what, assets))
    proofs = r.positions("node proofs", 4, lambda what: r.blob(what))
    padding = r.positions(
        "padding", padding_size(assets),
        lambda what: (tuple(r.scalar(f"{what} liability {a}") for a in range(assets)),
                      tuple(r.scalar(f"{what} position vector") for _ in range(POSITION_POINTS))))
    r.finish("audit data")
    return AuditData(header_digest, chunks, upper, proofs, padding)


# --------------------------------------------------------------------------------- total opening


def encode_total_opening(header_digest: bytes, openings: tuple[tuple[int, int], ...]) -> bytes:
    """The auditor-only file: ``header digest || u16(A) || (u64(L_a) || scalar(ρ_a))*`` with
    C_root,a = L_a·G + ρ_a·H for every asset a (settlement asset first)."""
    w = _Writer()
    w.raw(header_digest)
    w.u16(len(openings))
    for total, blinding in openings:
        w.u64(total)
        w.raw(scalar_to_bytes(blinding))
    return _container(KIND_TOTAL, w.getvalue())


def decode_total_opening(data: bytes) -> tuple[bytes, tuple[tuple[int, int], ...]]:
    """(header digest, ((L_a, ρ_a) per asset)) from an auditor-only total file."""
    r = _open_container(data, KIND_TOTAL)
    digest = r.take(32, "header digest")
    assets = r.u16("asset count")
    if not 1 <= assets <= MAX_ASSETS:
        raise EncodingError(f"asset count: {assets} is not in [1, {MAX_ASSETS}]")
    openings = tuple((r.u64(f"total liabilities[{a}]"), r.scalar(f"root blinding[{a}]")) for a in range(assets))
    r.finish("total opening")
    return digest, openings


# --------------------------------------------------------------------------------- receipts


def encode_receipt(receipt: Receipt, system: ChunkProofSystem) -> bytes:
    return receipt_from_parts(
        receipt.epoch_id, receipt.header_digest, receipt.account_id, receipt.account_key, receipt.leaf_index,
        system.encode_opening(receipt.opening), encode_chunk_record(receipt.chunk, system),
        [encode_path_entry(sibling) for sibling in receipt.upper_siblings],
        [encode_group_entry([(pos, b"".join(p.to_bytes() for p in liabilities)) for pos, liabilities in extras],
                            proof)
         for extras, proof in zip(receipt.group_extras, receipt.group_proofs, strict=True)])


def encode_path_entry(sibling: TreeNode) -> bytes:
    """``node``: one sibling of a receipt's path."""
    w = _Writer()
    w.node(sibling)
    return w.getvalue()


def encode_group_entry(extras: list[tuple[Position, bytes]], proof: bytes) -> bytes:
    """``u16 count || (u8 level || u64 index || A points)* || blob proof``: one band's group proof in a receipt,
    with the liabilities (already encoded) of the group's members that are neither on the path nor siblings."""
    w = _Writer()
    w.u16(len(extras))
    for pos, liabilities in extras:
        w.position(pos)
        w.raw(liabilities)
    w.blob(proof)
    return w.getvalue()


def receipt_from_parts(epoch_id: int, header_digest: bytes, account_id: str, account_key: bytes, leaf_index: int,
                       opening: bytes, chunk: bytes, path: list[bytes], groups: list[bytes]) -> bytes:
    """A receipt file from its already-encoded parts (the opening, :func:`encode_chunk_record`, one
    :func:`encode_path_entry` per level c..H-1, one :func:`encode_group_entry` per band): what a streaming epoch
    close writes per account."""
    w = _Writer()
    w.u64(epoch_id)
    w.raw(header_digest)
    w.text(account_id)
    w.raw(account_key)
    w.u64(leaf_index)
    w.blob(opening)
    w.raw(chunk)
    w.u16(len(path))
    w.parts.extend(path)
    w.u16(len(groups))
    w.parts.extend(groups)
    return _container(KIND_RECEIPT, w.getvalue())


def receipt_epoch(data: bytes) -> int:
    """The epoch a receipt file is for, read before its epoch's public files are at hand (a participant with
    several receipts finds which publication folder each one needs); EncodingError if the bytes are not an
    intact receipt file. The receipt itself is checked against that epoch's header by the verifier."""
    return _open_container(data, KIND_RECEIPT).u64("epoch id")


def decode_receipt(data: bytes, public: Any, system: ChunkProofSystem, *, chunk_size: int,
                   asset_count: int = 1) -> Receipt:
    """Decode a receipt; ``chunk_size`` (2^c) and ``asset_count`` come from the epoch header the participant
    holds."""
    r = _open_container(data, KIND_RECEIPT)
    epoch_id = r.u64("epoch id")
    header_digest = r.take(32, "header digest")
    account_id = r.text("account id")
    account_key = r.take(32, "account key")
    leaf_index = r.u64("leaf index")
    opening = _field("opening", lambda b: system.decode_opening(b, public), r.blob("opening"))
    chunk = _read_chunk(r, "chunk", system, public, chunk_size)
    siblings = [r.node(f"sibling[{level}]", asset_count)
                for level in range(r.u16("sibling count"))]
    extras, proofs = [], []
    for band in range(r.u16("group count")):
        members: list[tuple[Position, tuple[G1Point, ...]]] = []
        for k in range(r.u16(f"group[{band}] node count")):
            pos = (r.u8(f"group[{band}] node[{k}] level"), r.u64(f"group[{band}] node[{k}] index"))
            if members and pos <= members[-1][0]:
                raise EncodingError(f"group[{band}] node[{k}]: positions must be strictly increasing")
            members.append((pos, tuple(r.point(f"group[{band}] node[{k}] liability {a}")
                                       for a in range(asset_count))))
        extras.append(tuple(members))
        proofs.append(r.blob(f"group[{band}] proof"))
    r.finish("receipt")
    return Receipt(epoch_id, header_digest, account_id, account_key, leaf_index, opening, chunk, tuple(siblings),
                   tuple(proofs), tuple(extras))


# --------------------------------------------------------------------------------- files


def write_file(path: str | Path, data: bytes) -> None:
    """Write atomically (temporary file, fsync, rename): a reader never sees a half-written file."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        with naming_write_errors(target), open(new_file(tmp), "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:  # a full disk: no half-written temporary file is left beside the published ones
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)


def write_container(path: str | Path, kind: bytes, length: int, parts: Iterable[bytes]) -> None:
    """Write a container whose body (``length`` bytes) arrives in ``parts``, never held whole: the checksum is
    computed as the parts go by. Atomic like :func:`write_file`; ValueError if the parts do not add up to
    ``length`` (the temporary file is then removed)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    digest = hashlib.sha256()
    written = 0
    try:
        with naming_write_errors(target), open(new_file(tmp), "wb") as handle:
            head = _PREFIX.pack(MAGIC, kind, FORMAT_VERSION, length)
            digest.update(head)
            handle.write(head)
            for part in parts:
                digest.update(part)
                handle.write(part)
                written += len(part)
            if written != length:
                raise ValueError(f"container body: {written} bytes written, {length} announced")
            handle.write(digest.digest())
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
