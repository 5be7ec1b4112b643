#!/usr/bin/env python3
"""An independent verifier of a zkclear receipt, written from docs/protocol.md and docs/format.md alone.

It imports nothing from zkclear: only the standard library (hashlib, hmac, json) and py_ecc for the arithmetic of
BLS12-381 G1. It exists to show that the two documents say enough to check a participant's inclusion without the
project's code, and its test (tests/spec/test_independent_verifier.py) keeps the documents and the code in step.

What it checks (the sections of docs/protocol.md named in brackets):

- the container of every file (magic, kind, version, length, checksum) and a strict decoding of the public bundle,
  the epoch header and the receipt ["Bundle, audit data and receipt files" of docs/format.md];
- every point strictly decoded (flags, x < p, on the curve, in G1 by Scott's test) and every scalar < r
  ["Point encoding", "Subgroup membership test"];
- header binding: the receipt's epoch id and header digest are the bundle header's; the epoch hash (the value the
  venue posts) recomputed and, when given, compared with the posted one; the public risk data, the public inputs and
  the reserves list are the files the header binds, and the reserve totals are the header's ["Epoch header, contexts
  and chaining", "Reserves across chains in the epoch", "Public inputs"];
- owner binding: the receipt names the participant's own account id, its key is the pinned one (when given), the
  chunk is the leaf index's and the id hash at the leaf's slot is id_hash(own id, salt_e(k_u)) ["Leaf identity"];
- the opening: every committed variable of the account opens (v·G + γ·H) ["Pedersen commitments", "Encodings"];
- the leaf: C_leaf from the account's commitments (equity in a single-asset epoch; the settlement liability and
  the balances otherwise) and h_leaf ["Leaves and nodes"];
- the chunk's position vector: its equality proof against the sums of its leaves' position commitments
  ["Position vector of a chunk"];
- the path: the 2^c leaves folded to the chunk root, then with the H − c siblings to the root, compared with the
  bundle's root (C, V and h) ["Leaves and nodes"];
- the matched book: V_root = β·H ["Matched book"];
- the receipt's shape: H − c siblings, one group per band, every other group member inside its band's group and
  off the path ["Node proof groups", "Participant verification"];
- epoch chaining: epoch 1 is a genesis header; with the previous epoch's bundle, the header names its root digest
  and epoch hash ["Epoch header, contexts and chaining"];
- the reserve attestations' texts: every listed entry attested exactly once, over the 14 lines it must sign
  ["The attestation text"];
- with the audit data, the audit's tree checks: the tree rebuilt from every chunk's leaves and position vector, every
  padding node opening to zero, every published node the rebuilt one, the root the bundle's, one node proof per
  group ["Audit", "Leaves and nodes", "Node proof groups"; docs/format.md "Audit data body"].

What it does not check: any range proof (the chunk's collateralization proof, the node group proofs, the solvency
proof), the reserve attestations' signatures (each chain's signed-message scheme), the reserves list's rules beyond
its digest and totals (token registry, one block per chain, main networks, the configuration's assets), the
recomputation of the public data from the public inputs, the audit's chunk-count policy, marks and total file, and
the history checks across several receipts beyond one epoch's link.

One part could not be written from the documents as they stood: where a multi-asset leaf's settlement liability
C_{l_0} sits among an account's witness commitments (the order of the witnesses was not stated); it was taken from
the code, and docs/protocol.md now states it ("The account statement", "Commitment order").

Usage:
    independent_verifier.py --bundle epoch-N.bundle --receipt R.rcpt --account ID
        --public epoch-N.public.json [--inputs epoch-N.inputs.json] [--expect-header HEX] [--account-key HEX]
        [--previous-bundle epoch-(N-1).bundle] [--audit epoch-N.audit]

Exit status: 0 every check passed; 2 a check failed (one line naming it); 1 a file could not be read or decoded.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from py_ecc.bls.hash_to_curve import hash_to_G1
from py_ecc.optimized_bls12_381 import FQ, G1, Z1, add, eq, is_inf, multiply, neg, normalize

# --- Curve constants (docs/protocol.md, "Notation", "Parameters", "The GLV endomorphism") -------------------------

P = 0x1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB
R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
BLS_Z = -0xD201000000010000
GLV_BETA = 0x1A0111EA397FE699EC02408663D4DE85AA0D857D89759AD4897D29650FB85F9B409427EB4F49FFFD8BFD00000000AAAC
DST_GEN = b"zkclear-v1/generators/BLS12381G1_XMD:SHA-256_SSWU_RO_"
H_KNOWN_ANSWER = bytes.fromhex("b5f689a02f6ea1c13a4b061fca503865fbbec90f613f6b6e9068b62f50e014315bd011e9ae8bb3055c"
                               "224c8f60212f5e")

Point = tuple  # a py_ecc optimized (Jacobian) point


class BadInput(Exception):
    """A file that cannot be read or does not decode (exit status 1)."""


class CheckFailed(Exception):
    """A check that failed (exit status 2); ``reason`` is the protocol's reason code where it has one."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


# --- Points and scalars ------------------------------------------------------------------------------------------

def in_g1(point: Point) -> bool:
    """Scott's test (protocol "Subgroup membership test"): P ∈ G1 ⇔ φ₂(P) = [−z²]·P with φ₂(x, y) = (β²·x, y)."""
    if is_inf(point):
        return True
    x, y = normalize(point)
    phi2 = (x * (GLV_BETA * GLV_BETA % P), y, FQ.one())
    return eq(phi2, neg(multiply(point, BLS_Z * BLS_Z)))


def decode_point(data: bytes, where: str) -> Point:
    """The 48-byte compressed encoding, decoded with every rejection of protocol "Point encoding"."""
    if len(data) != 48:
        raise BadInput(f"{where}: a point is 48 bytes, got {len(data)}")
    point = _decode_point(bytes(data))
    if isinstance(point, str):
        raise BadInput(f"{where}: {point}")
    return point


@lru_cache(maxsize=1 << 16)
def _decode_point(data: bytes) -> Point | str:
    """The point, or why the bytes are not one (cached: a chunk's commitments recur in every receipt of it)."""
    flags = data[0]
    if not flags & 0x80:
        return "compression flag unset"
    if flags & 0x40:
        if data != b"\xc0" + bytes(47):
            return "non-canonical point at infinity"
        return Z1
    x = int.from_bytes(bytes([flags & 0x1F]) + data[1:], "big")
    if x >= P:
        return "x >= p"
    rhs = (pow(x, 3, P) + 4) % P
    y = pow(rhs, (P + 1) // 4, P)
    if y * y % P != rhs:
        return "x is not on the curve"
    if (y > (P - 1) // 2) != bool(flags & 0x20):
        y = P - y
    point = (FQ(x), FQ(y), FQ.one())
    if not in_g1(point):
        return "point not in G1"
    return point


def encode_point(point: Point) -> bytes:
    """The 48-byte compressed encoding (protocol "Point encoding")."""
    if is_inf(point):
        return b"\xc0" + bytes(47)
    x, y = normalize(point)
    out = bytearray(int(x).to_bytes(48, "big"))
    out[0] |= 0x80 | (0x20 if int(y) > (P - 1) // 2 else 0)
    return bytes(out)


def decode_scalar(data: bytes, where: str) -> int:
    value = int.from_bytes(data, "big")
    if len(data) != 32 or value >= R:
        raise BadInput(f"{where}: not a canonical scalar")
    return value


def scalar_bytes(value: int) -> bytes:
    return (value % R).to_bytes(32, "big")


def mul(point: Point, k: int) -> Point:
    k %= R
    return Z1 if k == 0 else multiply(point, k)


def point_sum(points) -> Point:
    total = Z1
    for point in points:
        total = add(total, point)
    return total


def same(p1: Point, p2: Point) -> bool:
    return eq(p1, p2)


@lru_cache(maxsize=1)
def pedersen_h() -> Point:
    """H = hash_to_curve(b"pedersen/H", DST_GEN), checked against the known answer (protocol "Generators")."""
    h = hash_to_G1(b"pedersen/H", DST_GEN, hashlib.sha256)
    if encode_point(h) != H_KNOWN_ANSWER:
        raise RuntimeError("hash-to-curve does not give the documented H")
    return h


def generator_vector(label: bytes, n: int) -> list[Point]:
    """generator_vector(label, n)[i] = hash_to_curve(label ‖ b"/" ‖ u32be(i), DST_GEN)."""
    return [_generator(label, i) for i in range(n)]


@lru_cache(maxsize=4096)
def _generator(label: bytes, i: int) -> Point:
    return hash_to_G1(label + b"/" + i.to_bytes(4, "big"), DST_GEN, hashlib.sha256)


# --- Byte reader ---------------------------------------------------------------------------------------------------

class Reader:
    """Strict big-endian reader of a body (docs/format.md, "Primitive fields")."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.offset, self.name = data, 0, name

    def take(self, n: int, field: str) -> bytes:
        if n < 0 or self.offset + n > len(self.data):
            raise BadInput(f"{self.name}: truncated: {field} needs {n} bytes at offset {self.offset}, "
                           f"{len(self.data) - self.offset} left")
        out = self.data[self.offset:self.offset + n]
        self.offset += n
        return out

    def uint(self, size: int, field: str) -> int:
        return int.from_bytes(self.take(size, field), "big")

    def blob(self, field: str) -> bytes:
        return self.take(self.uint(4, field + " length"), field)

    def text(self, field: str) -> str:
        raw = self.take(self.uint(2, field + " length"), field)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"{self.name}: {field}: invalid UTF-8") from exc

    def point(self, field: str) -> Point:
        return decode_point(self.take(48, field), f"{self.name}: {field}")

    def scalar(self, field: str) -> int:
        return decode_scalar(self.take(32, field), f"{self.name}: {field}")

    def position(self, field: str) -> tuple[int, int]:
        return self.uint(1, field + " level"), self.uint(8, field + " index")

    def end(self) -> None:
        if self.offset != len(self.data):
            raise BadInput(f"{self.name}: trailing bytes ({len(self.data) - self.offset})")


def open_container(data: bytes, kind: bytes, name: str) -> bytes:
    """Container: magic[8] ‖ kind[4] ‖ u16 version (6) ‖ u64 length ‖ body ‖ SHA-256 of everything before."""
    if len(data) < 22 + 32:
        raise BadInput(f"{name}: too short for a container")
    if data[:8] != b"ZKCLEAR\x00":
        raise BadInput(f"{name}: bad magic")
    if data[8:12] != kind:
        raise BadInput(f"{name}: kind {data[8:12]!r}, expected {kind!r}")
    version = int.from_bytes(data[12:14], "big")
    if version != 6:
        raise BadInput(f"{name}: unsupported format version {version}")
    length = int.from_bytes(data[14:22], "big")
    if len(data) != 22 + length + 32:
        raise BadInput(f"{name}: size {len(data)} is not 22 + {length} + 32")
    if hashlib.sha256(data[:-32]).digest() != data[-32:]:
        raise BadInput(f"{name}: checksum mismatch")
    return data[22:22 + length]


# --- Epoch header --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Header:
    raw: bytes
    epoch_id: int
    previous_root: bytes
    previous_epoch_hash: bytes
    public_data_digest: bytes
    public_inputs_digest: bytes
    reserves_digest: bytes
    instrument_count: int
    equity_bits: int
    height: int
    chunk_bits: int
    policy: int
    policy_param: int
    sparse: int
    reserves: tuple[int, ...]

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(b"zkclear/epoch-header/v5" + self.raw).digest()

    @property
    def asset_count(self) -> int:
        return len(self.reserves)

    def context(self, kind: bytes, *indices: int) -> bytes:
        """ctx(kind, i_1, …, i_k) = header_digest ‖ u8(len(kind)) ‖ kind ‖ u64be(i_1) ‖ … ‖ u64be(i_k)."""
        return self.digest + bytes([len(kind)]) + kind + b"".join(i.to_bytes(8, "big") for i in indices)


def decode_header(raw: bytes, name: str) -> Header:
    r = Reader(raw, name + " header")
    version = r.uint(2, "version")
    if version != 5:
        raise BadInput(f"{name}: unsupported epoch header version {version}")
    epoch_id = r.uint(8, "epoch_id")
    digests = [r.take(32, field) for field in ("previous_root", "previous_epoch_hash", "public_data_digest",
                                                 "public_inputs_digest", "reserves_digest")]
    instrument_count = r.uint(4, "instrument_count")
    equity_bits, height, chunk_bits, policy = (r.uint(1, f) for f in ("equity_bits", "H", "c", "policy"))
    policy_param = r.uint(8, "policy_param")
    sparse = r.uint(1, "sparse")
    asset_count = r.uint(2, "A")
    if not 1 <= asset_count <= 32:
        raise BadInput(f"{name}: header asset count {asset_count} outside 1..32")
    reserves = tuple(r.uint(8, f"reserves_{a}") for a in range(asset_count))
    r.end()
    if not (1 <= chunk_bits < height <= 64):
        raise BadInput(f"{name}: header tree shape H={height}, c={chunk_bits}")
    return Header(raw, epoch_id, *digests, instrument_count, equity_bits, height, chunk_bits, policy, policy_param,
                  sparse, reserves)


# --- Nodes, bundle, receipt ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    """A node at level c or above: A liability commitments, a digest, the position vector V."""
    liabilities: tuple[Point, ...]
    digest: bytes
    positions: Point


def read_node(r: Reader, asset_count: int, field: str) -> Node:
    liabilities = tuple(r.point(f"{field} C_{a}") for a in range(asset_count))
    digest = r.take(32, f"{field} digest")
    return Node(liabilities, digest, r.point(f"{field} V"))


@dataclass(frozen=True)
class ReserveEntry:
    chain: str
    asset: str
    address: str
    balance: int
    block_height: int
    block_hash: str
    chain_decimals: int
    token: str


@dataclass(frozen=True)
class Bundle:
    header: Header
    root: Node
    beta: int
    solvency_proof: bytes
    reserves_bytes: bytes
    venue: str
    assets: tuple[tuple[str, int], ...]
    entries: tuple[ReserveEntry, ...]
    attestations: tuple[tuple[str, str, str, str], ...]

    @property
    def epoch_hash(self) -> bytes:
        """SHA256(b"zkclear/epoch/v1" ‖ header_digest ‖ enc(C_root) ‖ h_root)."""
        return hashlib.sha256(b"zkclear/epoch/v1" + self.header.digest
                              + b"".join(map(encode_point, self.root.liabilities)) + self.root.digest).digest()


def decode_reserves(raw: bytes, name: str):
    r = Reader(raw, name + " reserves list")
    venue = r.text("venue")
    assets = tuple((r.text(f"asset[{i}] id"), r.uint(1, f"asset[{i}] decimals")) for i in range(r.uint(2, "assets")))
    entries = []
    for i in range(r.uint(4, "entries")):
        entries.append(ReserveEntry(r.text(f"entry[{i}] chain"), r.text(f"entry[{i}] asset"),
                                    r.text(f"entry[{i}] address"), r.uint(32, f"entry[{i}] balance"),
                                    r.uint(8, f"entry[{i}] block height"), r.text(f"entry[{i}] block hash"),
                                    r.uint(1, f"entry[{i}] chain decimals"), r.text(f"entry[{i}] token")))
    r.end()
    return venue, assets, tuple(entries)


def decode_bundle(data: bytes, name: str) -> Bundle:
    r = Reader(open_container(data, b"PUBL", name), name)
    header = decode_header(r.blob("header"), name)
    root = read_node(r, header.asset_count, "root")
    if (count := r.uint(4, "matched-book blindings")) != 1:
        raise BadInput(f"{name}: {count} matched-book blindings, expected 1")
    beta = r.scalar("beta")
    solvency_proof = r.blob("solvency_proof")
    reserves_bytes = r.blob("reserves")
    attestations = tuple((r.text(f"attestation[{i}] chain"), r.text(f"attestation[{i}] address"),
                          r.text(f"attestation[{i}] text"), r.text(f"attestation[{i}] signature"))
                         for i in range(r.uint(4, "attestations")))
    r.end()
    venue, assets, entries = decode_reserves(reserves_bytes, name)
    return Bundle(header, root, beta, solvency_proof, reserves_bytes, venue, assets, entries, attestations)


@dataclass(frozen=True)
class AccountCommitments:
    """AccountCommitments.to_bytes(): u8(2) ‖ u8(mode) ‖ u16(positions) ‖ u16(balances) ‖ u16(witnesses) ‖ points."""
    raw: bytes
    mode: int
    cash: Point
    positions: tuple[Point, ...]
    balances: tuple[Point, ...]
    witnesses: tuple[Point, ...]

    @property
    def points(self) -> tuple[Point, ...]:
        return (self.cash, *self.positions, *self.balances, *self.witnesses)


def _account_header(r: Reader, field: str) -> tuple[int, int, int, int]:
    if (version := r.uint(1, f"{field} version")) != 2:
        raise BadInput(f"{r.name}: {field}: unknown account encoding version {version}")
    mode = r.uint(1, f"{field} mode")
    if mode not in (0, 1):
        raise BadInput(f"{r.name}: {field}: unknown margin mode {mode}")
    return mode, r.uint(2, f"{field} positions"), r.uint(2, f"{field} balances"), r.uint(2, f"{field} witnesses")


def decode_account(raw: bytes, name: str) -> AccountCommitments:
    r = Reader(raw, name)
    mode, n_pos, n_bal, n_wit = _account_header(r, "account")
    cash = r.point("cash")
    positions = tuple(r.point(f"position[{j}]") for j in range(n_pos))
    balances = tuple(r.point(f"balance[{a}]") for a in range(n_bal))
    witnesses = tuple(r.point(f"witness[{k}]") for k in range(n_wit))
    r.end()
    return AccountCommitments(raw, mode, cash, positions, balances, witnesses)


@dataclass(frozen=True)
class AccountOpening:
    mode: int
    counts: tuple[int, int, int]
    values: tuple[int, ...]      # signed: a residue above r/2 is negative
    blindings: tuple[int, ...]


def decode_opening(raw: bytes, name: str) -> AccountOpening:
    r = Reader(raw, name)
    mode, n_pos, n_bal, n_wit = _account_header(r, "opening")
    values, blindings = [], []
    for k in range(1 + n_pos + n_bal + n_wit):
        value = r.scalar(f"variable[{k}] value")
        values.append(value - R if value > R // 2 else value)
        blindings.append(r.scalar(f"variable[{k}] blinding"))
    r.end()
    return AccountOpening(mode, (n_pos, n_bal, n_wit), tuple(values), tuple(blindings))


@dataclass(frozen=True)
class Chunk:
    position: int
    id_hashes: tuple[bytes, ...]
    accounts: tuple[AccountCommitments, ...]
    proof: bytes
    positions_blob: bytes


def read_chunk(r: Reader, chunk_size: int) -> Chunk:
    position = r.uint(8, "chunk position")
    if (slots := r.uint(2, "chunk slots")) != chunk_size:
        raise BadInput(f"{r.name}: chunk has {slots} slots, the header's chunk size is {chunk_size}")
    id_hashes, accounts = [], []
    for slot in range(slots):
        id_hashes.append(r.take(32, f"chunk slot {slot} id_hash"))
        accounts.append(decode_account(r.blob(f"chunk slot {slot} account"), f"{r.name}: chunk slot {slot} account"))
    return Chunk(position, tuple(id_hashes), tuple(accounts), r.blob("chunk proof"), r.blob("chunk positions"))


@dataclass(frozen=True)
class Group:
    others: tuple[tuple[tuple[int, int], tuple[Point, ...]], ...]
    proof: bytes


@dataclass(frozen=True)
class Receipt:
    epoch_id: int
    header_digest: bytes
    account_id: str
    account_key: bytes
    leaf_index: int
    opening_bytes: bytes
    chunk: Chunk
    siblings: tuple[Node, ...]
    groups: tuple[Group, ...]


def decode_receipt(data: bytes, name: str, header: Header) -> Receipt:
    """A receipt body, read with the chunk size 2^c and the asset count A of the header the reader holds."""
    r = Reader(open_container(data, b"RCPT", name), name)
    epoch_id = r.uint(8, "epoch_id")
    header_digest = r.take(32, "header_digest")
    account_id = r.text("account_id")
    account_key = r.take(32, "account_key")
    leaf_index = r.uint(8, "leaf_index")
    opening = r.blob("opening")
    chunk = read_chunk(r, 1 << header.chunk_bits)
    siblings = tuple(read_node(r, header.asset_count, f"sibling[{i}]") for i in range(r.uint(2, "siblings")))
    groups = []
    for g in range(r.uint(2, "groups")):
        others, previous = [], None
        for k in range(r.uint(2, f"group[{g}] others")):
            position = r.position(f"group[{g}] member[{k}]")
            if previous is not None and position <= previous:
                raise BadInput(f"{name}: group[{g}] members not in strictly increasing position order")
            previous = position
            others.append((position, tuple(r.point(f"group[{g}] member[{k}] C_{a}")
                                           for a in range(header.asset_count))))
        groups.append(Group(tuple(others), r.blob(f"group[{g}] proof")))
    r.end()
    return Receipt(epoch_id, header_digest, account_id, account_key, leaf_index, opening, chunk, siblings,
                   tuple(groups))


# --- Tree ----------------------------------------------------------------------------------------------------------

def sha256(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def encs(points) -> bytes:
    return b"".join(encode_point(p) for p in points)


def leaf_salt(account_key: bytes, epoch_id: int) -> bytes:
    """salt_e = HMAC-SHA256(k_u, b"zkclear/leaf-salt/v1" ‖ u64be(e))."""
    return hmac.new(account_key, b"zkclear/leaf-salt/v1" + epoch_id.to_bytes(8, "big"), hashlib.sha256).digest()


def id_hash(account_id: str, salt: bytes) -> bytes:
    """SHA256(b"zkclear/tree/account-id/v1" ‖ u32be(len(salt_e)) ‖ salt_e ‖ utf8(id))."""
    return sha256(b"zkclear/tree/account-id/v1", len(salt).to_bytes(4, "big"), salt, account_id.encode("utf-8"))


def _reduced_denominator(line: list[int]) -> int:
    return line[3] // math.gcd(*line)


def witness_names(public: list, mode: int) -> list[str]:
    """The committed witnesses of a margin mode's statement, in commitment order (protocol "The account
    statement", "Collateral assets": the order of the witness commitments)."""
    instruments, scenario = public[4], public[5]
    assets = public[6] if len(public) > 6 else []
    names = []
    if mode == 0:  # standard
        scale = 1
        for instrument in instruments:
            for line in instrument[2]:
                scale = math.lcm(scale, _reduced_denominator(line))
        for j, instrument in enumerate(instruments):
            effective = [line for line in instrument[2] if line[0] or line[1] or line[2] < 0]
            if not effective:
                continue
            names.append(f"long[{j}]")
            if len(effective) > 1 or all(line[2] > 0 for line in effective):
                names.append(f"line_margin[{j}]")
        rounded = "requirement"
    else:  # portfolio
        if scenario is None:
            raise CheckFailed("account-shape", "a portfolio account in an epoch without a scenario table")
        names += [f"long[{j}]" for j, instrument in enumerate(instruments) if instrument[3] or instrument[4]]
        names += [f"scenario_worst[{g}]" for g in range(len(scenario[1]))]
        scale, rounded = scenario[0], "scenario_margin"
    for a in range(len(assets)):
        names += [f"value[{a}]", f"haircut[{a}]"]
    if assets:
        names.append("settlement_liability")
    if scale > 1:
        names.append(rounded)
    return names


def leaf_liabilities(account: AccountCommitments, public: list, asset_count: int) -> tuple[Point, ...]:
    """C_leaf: single asset, the equity C_cash + Σ_j v_j·C_{q_j}; else (C_{l_0}, C_{b_1}, …, C_{b_{A−1}})."""
    values = [instrument[1] for instrument in public[4]]
    assets = public[6] if len(public) > 6 else []
    names = witness_names(public, account.mode)
    if (len(account.positions), len(account.balances), len(account.witnesses)) != (len(values), len(assets),
                                                                                   len(names)):
        raise CheckFailed("account-shape", "the account's commitment counts are not its statement's")
    if len(assets) + 1 != asset_count:
        raise CheckFailed("public-data-mismatch", f"the public data has {len(assets)} collateral assets, the header "
                                                  f"{asset_count} assets")
    if not assets:
        return (point_sum([account.cash] + [mul(c, v) for c, v in zip(account.positions, values, strict=True) if v]),)
    return (account.witnesses[names.index("settlement_liability")], *account.balances)


def leaf_digest(id_hash_: bytes, liabilities, account: AccountCommitments) -> bytes:
    """SHA256(b"zkclear/tree/leaf/v1" ‖ id_hash ‖ enc(C_leaf) ‖ SHA256(account_bytes))."""
    return sha256(b"zkclear/tree/leaf/v1", id_hash_, encs(liabilities), sha256(account.raw))


def add_points(a, b_) -> tuple[Point, ...]:
    return tuple(add(x, y) for x, y in zip(a, b_, strict=True))


def chunk_node(level: int, left, right) -> tuple[tuple[Point, ...], bytes]:
    """Node inside a chunk, 1 ≤ l ≤ c: SHA256(b"zkclear/tree/node/v1" ‖ u8(l) ‖ enc(C_L) ‖ h_L ‖ enc(C_R) ‖ h_R)."""
    (c_l, h_l), (c_r, h_r) = left, right
    return add_points(c_l, c_r), sha256(b"zkclear/tree/node/v1", bytes([level]), encs(c_l), h_l, encs(c_r), h_r)


def positions_digest(v: Point) -> bytes:
    """p_X = SHA256(b"zkclear/tree/positions/v1" ‖ u16be(1) ‖ enc(V_X))."""
    return sha256(b"zkclear/tree/positions/v1", (1).to_bytes(2, "big"), encode_point(v))


def upper_node(level: int, left: Node, right: Node) -> Node:
    """Upper node, c < l ≤ H: SHA256(b"zkclear/tree/node/v2" ‖ u8(l) ‖ enc(C_L) ‖ p_L ‖ h_L ‖ enc(C_R) ‖ p_R ‖ h_R)."""
    digest = sha256(b"zkclear/tree/node/v2", bytes([level]), encs(left.liabilities), positions_digest(left.positions),
                    left.digest, encs(right.liabilities), positions_digest(right.positions), right.digest)
    return Node(add_points(left.liabilities, right.liabilities), digest, add(left.positions, right.positions))


# --- Fiat–Shamir transcript (protocol "Fiat–Shamir transcript") ------------------------------------------------------

def frame(label: bytes, data: bytes) -> bytes:
    return len(label).to_bytes(4, "big") + label + len(data).to_bytes(4, "big") + data


class Transcript:
    def __init__(self, protocol_label: bytes) -> None:
        self.t = frame(b"zkclear-transcript-v1", b"") + frame(b"dom-sep", protocol_label)

    def append_message(self, label: bytes, data: bytes) -> None:
        self.t += frame(label, data)

    def append_point(self, label: bytes, point: Point) -> None:
        self.append_message(label, encode_point(point))

    def append_points(self, label: bytes, points) -> None:
        self.append_message(label + b"/len", len(points).to_bytes(8, "big"))
        for point in points:
            self.append_point(label, point)

    def append_u64(self, label: bytes, n: int) -> None:
        self.append_message(label, n.to_bytes(8, "big"))

    def append_scalar(self, label: bytes, value: int) -> None:
        self.append_message(label, scalar_bytes(value))

    def challenge_bytes(self, label: bytes) -> bytes:
        out = hashlib.sha512(self.t + frame(b"challenge", label)).digest()
        self.t += frame(b"challenge-out", out)
        return out

    def challenge_scalar(self, label: bytes) -> int:
        return int.from_bytes(self.challenge_bytes(label), "big") % R


def verify_position_vector(header: Header, chunk: Chunk, h: Point) -> Point:
    """The chunk's position-vector equality proof (protocol "Position vector of a chunk"); returns V. Cached by the
    bytes it depends on (the header, the chunk's position, commitments and proof): every receipt of a chunk holds it."""
    return _verify_position_vector(header, chunk.position, tuple(a.raw for a in chunk.accounts), chunk.positions_blob)


@lru_cache(maxsize=256)
def _verify_position_vector(header: Header, position: int, accounts_raw: tuple[bytes, ...], blob: bytes) -> Point:
    chunk = Chunk(position, (), tuple(decode_account(raw, "account") for raw in accounts_raw), b"", blob)
    h = pedersen_h()
    n = header.instrument_count
    if len(blob) != 144 + 32 * (n + 2):
        raise CheckFailed("chunk-position-vector", f"positions blob of {len(blob)} bytes, not 144 + 32·(n + 2)")
    try:
        v, a_point, b_point = (decode_point(blob[48 * k:48 * k + 48], f"chunk positions point {k}") for k in range(3))
        scalars = [decode_scalar(blob[144 + 32 * k:176 + 32 * k], f"chunk positions scalar {k}") for k in range(n + 2)]
    except BadInput as exc:
        raise CheckFailed("chunk-position-vector", str(exc)) from exc
    w, u, z = scalars[0], scalars[1], scalars[2:]
    if any(len(account.positions) != n for account in chunk.accounts):
        raise CheckFailed("account-shape", "an account of the chunk does not have one position per instrument")
    sums = [point_sum(account.positions[j] for account in chunk.accounts) for j in range(n)]
    ctx = header.context(b"collateral-chunk", chunk.position)
    t = Transcript(b"zkclear/chunk-positions/v1")
    t.append_message(b"context", ctx)
    t.append_points(b"position-sums", sums)
    t.append_point(b"vector", v)
    gamma = t.challenge_scalar(b"gamma")
    t.append_point(b"A", a_point)
    t.append_point(b"B", b_point)
    e = t.challenge_scalar(b"e")
    generators = generator_vector(b"zkclear/positions/G", n)
    powers = [pow(gamma, j, R) for j in range(n)]
    lhs1 = point_sum([mul(g, zj) for g, zj in zip(generators, z, strict=True)]
                     + [mul(h, u), neg(a_point), neg(mul(v, e))])
    weighted_z = sum(p * zj for p, zj in zip(powers, z, strict=True)) % R
    weighted_sums = point_sum(mul(s, p) for s, p in zip(sums, powers, strict=True))
    lhs2 = point_sum([mul(G1, weighted_z), mul(h, w), neg(b_point), neg(mul(weighted_sums, e))])
    if not (is_inf(lhs1) and is_inf(lhs2)):
        raise CheckFailed("chunk-position-vector", f"the position vector of chunk {chunk.position} does not verify")
    return v


# --- The checks ----------------------------------------------------------------------------------------------------

def bands(header: Header) -> list[tuple[int, int]]:
    """(lo, hi) of every band of levels lo … hi − 1 over c … H−1, bottom first; b levels each, b the largest ≤ 4
    with (2^(b+1) − 2)·A ≤ 64, at least 1 (protocol "Node proof groups")."""
    width = max([b_ for b_ in range(1, 5) if (2 ** (b_ + 1) - 2) * header.asset_count <= 64] or [1])
    return [(lo, min(lo + width, header.height)) for lo in range(header.chunk_bits, header.height, width)]


def check_group_members(header: Header, receipt: Receipt) -> None:
    """Every other member of the group the path crosses in a band lies in that band under its anchor
    (hi, leaf_index >> hi) and is neither a path node nor a sibling (protocol "Participant verification", 6)."""
    for (lo, hi), group in zip(bands(header), receipt.groups, strict=True):
        anchor = receipt.leaf_index >> hi
        for level, index in (position for position, _ in group.others):
            on_path = index == receipt.leaf_index >> level
            sibling = index == (receipt.leaf_index >> level) ^ 1
            if not lo <= level < hi or index >> (hi - level) != anchor or on_path or sibling:
                raise CheckFailed("receipt-malformed", f"({level}, {index}) is not another member of the group "
                                                       f"anchored at ({hi}, {anchor})")


def check_chain(previous: Bundle | None, bundle: Bundle) -> None:
    """Epoch chaining (protocol "Epoch header, contexts and chaining"): epoch e+1's header names epoch e's root
    digest and epoch hash; epoch 1 is a genesis header (32 zero bytes in both)."""
    header = bundle.header
    if previous is None:
        if header.epoch_id == 1 and (header.previous_root, header.previous_epoch_hash) != (bytes(32), bytes(32)):
            raise CheckFailed("epoch-chain-broken", "epoch 1 is not a genesis header")
        return
    if (header.epoch_id != previous.header.epoch_id + 1 or header.previous_root != previous.root.digest
            or header.previous_epoch_hash != previous.epoch_hash):
        raise CheckFailed("epoch-chain-broken", f"epoch {header.epoch_id} does not follow epoch "
                                                f"{previous.header.epoch_id}")


def check_reserves(bundle: Bundle) -> None:
    """The reserves list is the header's (digest) and its per-asset totals are the header's."""
    header = bundle.header
    if sha256(b"zkclear/reserves/v3", bundle.reserves_bytes) != header.reserves_digest:
        raise CheckFailed("reserves-mismatch", "the reserves list is not the one the header binds")
    if len(bundle.assets) != header.asset_count:
        raise CheckFailed("reserves-mismatch", f"{len(bundle.assets)} assets listed, the header has "
                                               f"{header.asset_count}")
    decimals = dict(bundle.assets)
    totals = dict.fromkeys(decimals, 0)
    for entry in bundle.entries:
        if entry.asset not in decimals:
            raise CheckFailed("reserves-mismatch", f"{entry.address}: asset {entry.asset} is not the venue's")
        totals[entry.asset] += entry.balance * 10 ** decimals[entry.asset] // 10 ** entry.chain_decimals
    for (asset, _), expected in zip(bundle.assets, header.reserves, strict=True):
        if totals[asset] != expected:
            raise CheckFailed("reserves-mismatch", f"{asset}: the entries sum to {totals[asset]}, the header says "
                                                   f"{expected}")


_TEXT_LINE_REASONS = {"venue": "attestation-wrong-venue", "epoch": "attestation-replayed-epoch",
                      "header hash": "attestation-wrong-header", "root": "attestation-wrong-root",
                      "chain": "attestation-wrong-chain", "address": "attestation-wrong-address",
                      "asset": "attestation-wrong-asset", "token": "attestation-wrong-asset",
                      "decimals": "attestation-balance-mismatch", "balance": "attestation-balance-mismatch",
                      "block height": "attestation-block-mismatch", "slot": "attestation-block-mismatch",
                      "block hash": "attestation-block-mismatch"}


def attestation_text(bundle: Bundle, entry: ReserveEntry) -> str:
    """The 14 lines an entry's custodian signs (protocol "The attestation text", version 2)."""
    return "\n".join([
        "zkclear reserve attestation v2",
        "I control this address. At this block it held this balance of this token for this venue's liabilities in "
        "this epoch.",
        f"venue: {bundle.venue}", f"epoch: {bundle.header.epoch_id}", f"header hash: {bundle.epoch_hash.hex()}",
        f"root: {bundle.root.digest.hex()}", f"chain: {entry.chain}", f"address: {entry.address}",
        f"asset: {entry.asset}", f"token: {entry.token or 'native'}", f"decimals: {entry.chain_decimals}",
        f"balance: {entry.balance}", f"{'slot' if entry.chain == 'solana' else 'block height'}: {entry.block_height}",
        f"block hash: {entry.block_hash}"])


def check_attestation_texts(bundle: Bundle) -> None:
    """Every reserve entry is attested exactly once, over the text it must sign, and nothing else is (the
    signatures themselves are not checked here)."""
    expected = {(entry.chain, entry.address, entry.asset): attestation_text(bundle, entry) for entry in bundle.entries}
    seen = set()
    for chain, address, text, _signature in bundle.attestations:
        asset = next((line[len("asset: "):] for line in text.split("\n") if line.startswith("asset: ")), None)
        key = (chain, address, asset)
        if key not in expected:
            raise CheckFailed("attestation-unlisted", f"{address} on {chain} ({asset}) is not a listed entry")
        if key in seen:
            raise CheckFailed("attestation-duplicate", f"{address} on {chain} ({asset}) is attested twice")
        seen.add(key)
        if text != expected[key]:
            lines, wanted = text.split("\n"), expected[key].split("\n")
            if len(lines) != len(wanted):
                raise CheckFailed("attestation-text-malformed", f"{address}: {len(lines)} lines, not 14")
            differing = next(w for got, w in zip(lines, wanted, strict=True) if got != w)
            field = differing.split(":")[0]
            raise CheckFailed(_TEXT_LINE_REASONS.get(field, "attestation-text-malformed"),
                              f"{address}: the signed text's {field!r} line is not the epoch's")
    for key in expected.keys() - seen:
        raise CheckFailed("attestation-missing", f"{key[1]} on {key[0]} ({key[2]}) is not attested")


def verify(bundle_bytes: bytes, receipt_bytes: bytes, own_id: str, public_bytes: bytes, *,
           inputs_bytes: bytes | None = None, expect_header: bytes | None = None,
           account_key: bytes | None = None, previous_bundle: bytes | None = None,
           names: tuple[str, str] = ("bundle", "receipt")) -> dict:
    """Every check listed in the module docstring; returns a summary, raises CheckFailed or BadInput."""
    bundle = decode_bundle(bundle_bytes, names[0])
    header = bundle.header
    receipt = decode_receipt(receipt_bytes, names[1], header)
    h = pedersen_h()

    # 1. header
    if expect_header is not None and bundle.epoch_hash != expect_header:
        raise CheckFailed("header-mismatch", f"the bundle's header hash is {bundle.epoch_hash.hex()}, "
                                             f"the posted one {expect_header.hex()}")
    if hashlib.sha256(public_bytes).digest() != header.public_data_digest:
        raise CheckFailed("public-data-mismatch", "the public risk data is not the one the header binds")
    try:
        public = json.loads(public_bytes)
    except ValueError as exc:
        raise BadInput(f"public risk data: {exc}") from exc
    if len(public[4]) != header.instrument_count:
        raise CheckFailed("public-data-mismatch", "the public data's instruments are not the header's count")
    if inputs_bytes is not None and sha256(b"zkclear/public-inputs/v1", inputs_bytes) != header.public_inputs_digest:
        raise CheckFailed("public-data-mismatch", "the public inputs are not the ones the header binds")
    check_reserves(bundle)
    check_attestation_texts(bundle)
    check_chain(None if previous_bundle is None else decode_bundle(previous_bundle, "previous bundle"), bundle)

    # 2. identity
    if receipt.account_id != own_id:
        raise CheckFailed("receipt-owner", f"the receipt is account {receipt.account_id!r}'s, not {own_id!r}'s")
    if account_key is not None and receipt.account_key != account_key:
        raise CheckFailed("account-key-mismatch", "the receipt's account key is not the pinned one")
    if receipt.epoch_id != header.epoch_id or receipt.header_digest != header.digest:
        raise CheckFailed("receipt-epoch-mismatch", f"the receipt is of epoch {receipt.epoch_id}, the bundle of "
                                                    f"{header.epoch_id} (or their header digests differ)")
    c, height = header.chunk_bits, header.height
    if (len(receipt.siblings) != height - c or len(receipt.groups) != len(bands(header))
            or receipt.leaf_index >= 1 << height):
        raise CheckFailed("receipt-malformed", "sibling count, group count or leaf index out of shape")
    check_group_members(header, receipt)
    chunk = receipt.chunk
    slot = receipt.leaf_index & ((1 << c) - 1)
    if chunk.position != receipt.leaf_index >> c:
        raise CheckFailed("leaf-mismatch", f"the chunk at {chunk.position} is not leaf {receipt.leaf_index}'s")
    own_hash = id_hash(own_id, leaf_salt(receipt.account_key, header.epoch_id))
    if chunk.id_hashes[slot] != own_hash:
        raise CheckFailed("leaf-mismatch", f"slot {slot} does not carry {own_id!r}'s id hash")

    # 3. values: the opening opens the leaf's commitments
    account = chunk.accounts[slot]
    opening = decode_opening(receipt.opening_bytes, f"{names[1]}: opening")
    counts = (len(account.positions), len(account.balances), len(account.witnesses))
    if opening.mode != account.mode or opening.counts != counts:
        raise CheckFailed("opening-mismatch", "the opening does not have the shape of the leaf's commitments")
    for k, (point, value, blinding) in enumerate(zip(account.points, opening.values, opening.blindings, strict=True)):
        if not same(point, add(mul(G1, value), mul(h, blinding))):
            raise CheckFailed("opening-mismatch", f"variable {k} does not open")

    # 4. path: the chunk's leaves, its position vector, the siblings, the root
    level_nodes = []
    for account_i, id_hash_i in zip(chunk.accounts, chunk.id_hashes, strict=True):
        liabilities = leaf_liabilities(account_i, public, header.asset_count)
        level_nodes.append((liabilities, leaf_digest(id_hash_i, liabilities, account_i)))
    for level in range(1, c + 1):
        level_nodes = [chunk_node(level, level_nodes[2 * i], level_nodes[2 * i + 1])
                       for i in range(len(level_nodes) // 2)]
    (chunk_liabilities, chunk_digest), = level_nodes
    v_chunk = verify_position_vector(header, chunk, h)
    node = Node(chunk_liabilities, chunk_digest, v_chunk)
    for level, sibling in zip(range(c, height), receipt.siblings, strict=True):
        is_right = (receipt.leaf_index >> level) & 1
        node = upper_node(level + 1, sibling, node) if is_right else upper_node(level + 1, node, sibling)
    root = bundle.root
    if (node.digest != root.digest or not same(node.positions, root.positions)
            or not all(same(x, y) for x, y in zip(node.liabilities, root.liabilities, strict=True))):
        raise CheckFailed("path-root-mismatch", "the path folded with the siblings does not give the bundle's root")

    # 5. matched book
    if not same(root.positions, mul(h, bundle.beta)):
        raise CheckFailed("matched-book", "V_root is not beta·H")
    return {"epoch": header.epoch_id, "account": own_id, "leaf_index": receipt.leaf_index,
            "header_hash": bundle.epoch_hash.hex(), "opening": list(opening.values)}


@dataclass(frozen=True)
class AuditData:
    header_digest: bytes
    chunks: tuple[Chunk, ...]
    upper_nodes: dict[tuple[int, int], Node]
    node_proofs: dict[tuple[int, int], bytes]
    padding: dict[tuple[int, int], tuple[int, ...]]


def _positions_in_order(r: Reader, count_field: str, read_one) -> dict:
    out, previous = {}, None
    for k in range(r.uint(8, count_field)):
        position = r.position(f"{count_field}[{k}]")
        if previous is not None and position <= previous:
            raise BadInput(f"{r.name}: {count_field} not in strictly increasing position order")
        previous = position
        out[position] = read_one(k)
    return out


def decode_audit(data: bytes, name: str, header: Header) -> AuditData:
    """The AUDT body (docs/format.md "Audit data body"), read against the header the reader holds."""
    r = Reader(open_container(data, b"AUDT", name), name)
    header_digest = r.take(32, "header_digest")
    chunks = tuple(read_chunk(r, 1 << header.chunk_bits) for _ in range(r.uint(8, "chunks")))
    upper = _positions_in_order(r, "upper_nodes", lambda k: read_node(r, header.asset_count, f"upper node {k}"))
    proofs = _positions_in_order(r, "node_proofs", lambda k: r.blob(f"node proof {k}"))
    padding = _positions_in_order(r, "padding", lambda k: tuple(r.scalar(f"padding {k} blinding {a}")
                                                                for a in range(header.asset_count + 1)))
    r.end()
    return AuditData(header_digest, chunks, upper, proofs, padding)


def audit_tree(bundle_bytes: bytes, audit_bytes: bytes, public_bytes: bytes) -> dict:
    """The audit's checks without range proofs (protocol "Audit"): the tree rebuilt from the chunks' leaves and the
    published upper nodes — chunk roots, padding nodes opening to zero, every other node the sum and digest of its
    children, the root the bundle's — and every chunk's position vector."""
    bundle = decode_bundle(bundle_bytes, "bundle")
    header = bundle.header
    audit = decode_audit(audit_bytes, "audit data", header)
    if audit.header_digest != header.digest:
        raise CheckFailed("audit-epoch-mismatch", "the audit data is not the bundle's epoch")
    public = json.loads(public_bytes)
    h, c, height = pedersen_h(), header.chunk_bits, header.height
    positions = [chunk.position for chunk in audit.chunks]
    if positions != sorted(set(positions)) or any(p >= 1 << (height - c) for p in positions):
        raise CheckFailed("audit-structure", "chunk positions out of order, repeated or outside the tree")
    nodes: dict[tuple[int, int], Node] = {}
    chunk_roots = {(c, p) for p in positions}
    for position, blindings in audit.padding.items():
        node = audit.upper_nodes.get(position)
        if node is None or position in chunk_roots or not c <= position[0] < height:
            raise CheckFailed("audit-structure", f"padding opening at {position} for no published padding node")
        commitments = (*node.liabilities, node.positions)
        if not all(same(point, mul(h, rho)) for point, rho in zip(commitments, blindings, strict=True)):
            raise CheckFailed("padding-node-nonzero", f"the padding node at {position} does not commit to zero")
        nodes[position] = node
    seen_ids: set[bytes] = set()
    for chunk in audit.chunks:
        if seen_ids & set(chunk.id_hashes) or len(set(chunk.id_hashes)) != len(chunk.id_hashes):
            raise CheckFailed("duplicate-leaf", f"chunk {chunk.position} repeats an id hash")
        seen_ids |= set(chunk.id_hashes)
        level_nodes = []
        for account, id_hash_ in zip(chunk.accounts, chunk.id_hashes, strict=True):
            liabilities = leaf_liabilities(account, public, header.asset_count)
            level_nodes.append((liabilities, leaf_digest(id_hash_, liabilities, account)))
        for level in range(1, c + 1):
            level_nodes = [chunk_node(level, level_nodes[2 * i], level_nodes[2 * i + 1])
                           for i in range(len(level_nodes) // 2)]
        (liabilities, digest), = level_nodes
        nodes[(c, chunk.position)] = Node(liabilities, digest, verify_position_vector(header, chunk, h))
    for level in range(c, height):
        for (_, index) in sorted(p for p in nodes if p[0] == level):
            parent = (level + 1, index >> 1)
            if parent in nodes:
                continue
            left, right = nodes.get((level, index & ~1)), nodes.get((level, index | 1))
            if left is None or right is None:
                raise CheckFailed("padding-node-missing", f"no sibling for ({level}, {index})")
            nodes[parent] = upper_node(level + 1, left, right)
    for position, published in audit.upper_nodes.items():
        rebuilt = nodes.get(position)
        if rebuilt is None:
            raise CheckFailed("audit-structure", f"published node {position} is not in the rebuilt tree")
        if rebuilt.digest != published.digest or not same(rebuilt.positions, published.positions) or not all(
                same(x, y) for x, y in zip(rebuilt.liabilities, published.liabilities, strict=True)):
            raise CheckFailed("node-hash-mismatch", f"published node {position} is not the rebuilt one")
    if set(audit.upper_nodes) != set(nodes):
        raise CheckFailed("audit-structure", "the published upper nodes are not the rebuilt tree's")
    root = nodes[(height, 0)]
    if root.digest != bundle.root.digest or not same(root.positions, bundle.root.positions):
        raise CheckFailed("root-mismatch", "the rebuilt root is not the bundle's")
    anchors = {(hi, index >> (hi - level)) for (level, index) in nodes if level < height
               for lo, hi in bands(header) if lo <= level < hi}
    if set(audit.node_proofs) != anchors:
        raise CheckFailed("audit-structure", "the node proofs are not one per group")
    return {"chunks": len(audit.chunks), "nodes": len(nodes), "groups": len(anchors)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", required=True, type=Path)
    parser.add_argument("--receipt", required=True, type=Path)
    parser.add_argument("--account", required=True)
    parser.add_argument("--public", required=True, type=Path)
    parser.add_argument("--inputs", type=Path)
    parser.add_argument("--expect-header")
    parser.add_argument("--account-key")
    parser.add_argument("--previous-bundle", type=Path, help="the bundle of the epoch before, to check the chain")
    parser.add_argument("--audit", type=Path, help="the epoch's audit data: also rebuild the whole tree from it")
    args = parser.parse_args(argv)
    try:
        def hex32(text: str | None, option: str) -> bytes | None:
            if text is None:
                return None
            try:
                value = bytes.fromhex(text)
            except ValueError:
                value = b""
            if len(value) != 32:
                raise BadInput(f"{option}: 64 hex digits expected")
            return value

        def read(path: Path | None) -> bytes | None:
            if path is None:
                return None
            try:
                return path.read_bytes()
            except OSError as exc:
                raise BadInput(f"{path}: {exc.strerror}") from exc

        summary = verify(read(args.bundle), read(args.receipt), args.account, read(args.public),
                         inputs_bytes=read(args.inputs), expect_header=hex32(args.expect_header, "--expect-header"),
                         account_key=hex32(args.account_key, "--account-key"),
                         previous_bundle=read(args.previous_bundle),
                         names=(str(args.bundle), str(args.receipt)))
        if args.audit is not None:
            summary["audit"] = audit_tree(read(args.bundle), read(args.audit), read(args.public))
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except CheckFailed as exc:
        print(f"FAILED {exc}", file=sys.stderr)
        return 2
    print(f"OK epoch {summary['epoch']} account {summary['account']} leaf {summary['leaf_index']} "
          f"header hash {summary['header_hash']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
