"""The full audit of an epoch from its public bundle and audit data (docs/protocol.md, "Audit").

Checks, each failure a VerificationError with the reason in brackets and a message naming what failed:

1. bindings: the audit data, risk data and public inputs belong to the header [audit-epoch-mismatch,
   public-data-mismatch]; the header follows the previous epoch when given, and is a genesis header when it is
   epoch 1 [epoch-chain-broken];
2. root statements: the reserves list is the header's, with the epoch's assets and each asset's total, and every
   listed address attested with its chain's signed message [reserves-mismatch, attestation-*,
   reserves-duplicate-address]; the root's position vector opens to zero [matched-book]; the assets and decimals the
   reserves are converted with are the published configuration's [reserves-mismatch];
3. the number of chunks is one the header's padding policy produces [chunk-count-policy]; no two leaves carry
   the same id hash [duplicate-leaf]; the tree, rebuilt from the chunks' leaves: every chunk's position vector
   commits to its leaves' positions [chunk-position-vector], every chunk root [chunk-root-mismatch], every missing
   sibling on a populated path is a published padding node [padding-node-missing] whose liabilities and position
   vector commit to zero [padding-node-nonzero], every
   published node is the sum [node-sum-mismatch] and hash [node-hash-mismatch] of its children, nothing else
   is published [audit-structure], and the rebuilt root is the bundle's [root-mismatch];
4. exactly one range proof per group of nodes at levels c..H-1 (``zkclear.tree.node_groups``) [audit-structure],
   each over all of its members' liabilities [node-range-proof], every chunk's
   collateralization proof [chunk-collateral-proof], and the solvency proof of every asset [solvency-proof],
   batch-verified.

The recomputation of the public data from the public inputs (which needs the clearing engine) is the
separate check :func:`zkclear.proofs.recompute.check_public_inputs`; the auditor-only total opening is
:func:`check_total_opening`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from zkclear.bundle.model import AuditData, PublicBundle
from zkclear.crypto.group import G1Point
from zkclear.crypto.pedersen import all_commit_to_zero, commit
from zkclear.errors import VerificationError
from zkclear.executor import Executor, get_executor
from zkclear.proofs.chunks import ChunkProofSystem
from zkclear.proofs.header import ChainLink, check_chain, check_first
from zkclear.proofs.position_vector import PositionVectorCheck
from zkclear.proofs.reserves import check_venue_assets
from zkclear.tree.node_groups import band_levels, group_positions
from zkclear.tree.sum_tree import Position, TreeNode, combine_level
from zkclear.verifier.published import CHUNK_SYSTEM, PublishedEpoch
from zkclear.verifier.root import check_root_statements, solvency_named
from zkclear.verifier.statements import (
    check_position_vectors,
    chunk_root_unchecked,
    chunk_statements,
    node_group_statement,
    verify_named,
)


@dataclass(frozen=True, slots=True)
class AssetReserves:
    """One asset's attested reserves: its id, decimals, total (smallest units) and the part on each chain."""

    asset_id: str
    decimals: int
    total: int
    by_chain: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class AuditReport:
    """A passed audit: sizes checked and the attested reserves of every asset (settlement first)."""

    epoch_id: int
    header_hash: str
    chunks: int
    leaves: int
    upper_nodes: int
    reserves: tuple[AssetReserves, ...]
    timings: dict[str, float] = field(default_factory=dict)


def asset_reserves(bundle: PublicBundle) -> tuple[AssetReserves, ...]:
    """The bundle's reserves per asset and chain (after :func:`check_root_statements` passed)."""
    book = bundle.reserves
    table = book.by_chain()
    return tuple(AssetReserves(asset.asset_id, asset.decimals, total, tuple(table[asset.asset_id].items()))
                 for asset, total in zip(book.assets, bundle.header.reserve_totals, strict=True))


def _fail(reason: str, detail: str, index: int | None = None) -> None:
    raise VerificationError(reason, index=index, detail=detail)


def _blindings_fit(node: TreeNode, liability_blindings: Sequence[int], position_blindings: Sequence[int]) -> bool:
    return (len(node.liabilities) == len(liability_blindings)
            and len(node.positions or ()) == len(position_blindings))


def commits_to_zero(node: TreeNode, liability_blindings: Sequence[int], position_blindings: Sequence[int]) -> bool:
    """Whether a padding node's liabilities (one per asset) and position sums are commitments to zero with these
    blindings (exact: one comparison per point; :func:`first_nonzero_padding` checks many nodes at a time)."""
    sums = node.positions or ()
    return (_blindings_fit(node, liability_blindings, position_blindings)
            and all(c == commit(0, b) for c, b in zip(node.liabilities, liability_blindings, strict=True))
            and all(p == commit(0, b) for p, b in zip(sums, position_blindings, strict=True)))


#: Commitments per batched zero check of padding nodes (one MSM each). An MSM of a few thousand points costs per
#: point a third (native) or two thirds (pure) of the fixed-base product the exact check pays (docs/performance.md,
#: "The auditor's padding check, batched"; on the pure engine an MSM of one node's hundred points would cost more
#: than the exact check); the bound keeps what a check holds beyond the nodes themselves to one batch.
PADDING_CHECK_POINTS = 4096

Key = TypeVar("Key")
PaddingItem = tuple[Key, TreeNode, Sequence[int], Sequence[int]]


def first_nonzero_padding(nodes: Iterable[PaddingItem[Key]], *, points: int = PADDING_CHECK_POINTS) -> Key | None:
    """The key of the first padding node (in the order of ``nodes``: key, node, liability blindings, position
    blindings) that does not commit to zero with its blindings, or None when every one does.

    The nodes are checked together, about ``points`` commitments at a time, each batch with one random linear
    combination (:func:`zkclear.crypto.pedersen.all_commit_to_zero`: a batch holding a node that does not commit to
    zero passes with probability ≤ 2^-128). A batch that fails is re-checked node by node with the exact
    :func:`commits_to_zero`; a node with the wrong number of blindings is named once the nodes before it passed.
    So the node named is the one a node-by-node check names. ``nodes`` is consumed lazily, one batch at a time.
    """
    pending: list[PaddingItem[Key]] = []
    commitments: list[G1Point] = []
    blindings: list[int] = []

    def first_failing_pending() -> Key | None:
        found = None
        if commitments and not all_commit_to_zero(commitments, blindings):
            found = next((key for key, node, ls, ps in pending if not commits_to_zero(node, ls, ps)), None)
        pending.clear()
        commitments.clear()
        blindings.clear()
        return found

    for item in nodes:
        key, node, liability_blindings, position_blindings = item
        if not _blindings_fit(node, liability_blindings, position_blindings):
            found = first_failing_pending()
            return key if found is None else found
        pending.append(item)
        commitments.extend((*node.liabilities, *(node.positions or ())))
        blindings.extend((*liability_blindings, *position_blindings))
        if len(commitments) >= points:
            found = first_failing_pending()
            if found is not None:
                return found
    return first_failing_pending()


def _all_padding_zero(audit: AuditData) -> bool:
    """Whether every published padding opening with a published node opens it to zero (batched; when not, the
    tree walk checks each padding node it needs on its own, so the failure it names is unchanged)."""
    return first_nonzero_padding((pos, audit.upper_nodes[pos], *audit.padding[pos])
                                 for pos in sorted(audit.padding) if pos in audit.upper_nodes) is None


def _padding_node(audit: AuditData, pos: Position, known_zero: bool) -> TreeNode:
    level, index = pos
    if pos not in audit.padding or pos not in audit.upper_nodes:
        _fail("padding-node-missing", f"the node at level {level}, index {index} is needed on a populated path "
                                      "but is neither built from chunks nor published as padding", level)
    node = audit.upper_nodes[pos]
    if not known_zero and not commits_to_zero(node, *audit.padding[pos]):
        _fail("padding-node-nonzero", f"the padding node at level {level}, index {index} does not commit to zero",
              level)
    return node


def rebuild_upper_tree(bundle: PublicBundle, audit: AuditData, chunk_roots: dict[int, TreeNode]) -> set[Position]:
    """Check the published upper tree against the chunk roots and padding nodes; return the positions visited
    (VerificationError on the first inconsistency)."""
    config = bundle.header.tree
    c, height = config.chunk_bits, config.height
    visited: set[Position] = set()
    padding_seen: set[Position] = set()
    level_nodes = dict(chunk_roots)
    for index, node in level_nodes.items():
        if audit.upper_nodes.get((c, index)) != node:
            _fail("chunk-root-mismatch", f"the chunk at position {index}: its leaves do not give its published root",
                  index)
        visited.add((c, index))
    padding_zero = _all_padding_zero(audit)
    for level in range(c, height):
        for index in sorted(level_nodes):
            sibling = index ^ 1
            if sibling in level_nodes:
                continue
            level_nodes[sibling] = _padding_node(audit, (level, sibling), padding_zero)
            visited.add((level, sibling))
            padding_seen.add((level, sibling))
        parent_indices = sorted({index >> 1 for index in level_nodes})
        try:
            parents = combine_level(level + 1, [(level_nodes[2 * p], level_nodes[2 * p + 1]) for p in parent_indices])
        except ValueError:
            _fail("audit-structure", f"nodes at level {level} carry different numbers of liabilities or position "
                                     "vectors", level)
        for p, node in zip(parent_indices, parents, strict=True):
            published = audit.upper_nodes.get((level + 1, p))
            if published is None:
                _fail("audit-structure", f"the node at level {level + 1}, index {p} is not published", level + 1)
            if published.encoded != node.encoded or published.positions_encoded != node.positions_encoded:
                _fail("node-sum-mismatch", f"the node at level {level + 1}, index {p} is not the sum of its children",
                      level + 1)
            if published.digest != node.digest:
                _fail("node-hash-mismatch", f"the node at level {level + 1}, index {p} does not hash its children",
                      level + 1)
            visited.add((level + 1, p))
        level_nodes = dict(zip(parent_indices, parents, strict=True))
    root = level_nodes[0]
    if (root.digest != bundle.root.digest or root.encoded != bundle.root.encoded
            or root.positions_encoded != bundle.root.positions_encoded):
        _fail("root-mismatch", "the tree rebuilt from the audit data does not give the bundle's root")
    extra = (set(audit.upper_nodes) - visited) | (set(audit.padding) - padding_seen)
    if extra:
        level, index = min(extra)
        _fail("audit-structure", f"the audit data publishes a node at level {level}, index {index} that is on no "
                                 "populated path")
    return visited


def check_bindings(published: PublishedEpoch, header_digest: bytes, system: ChunkProofSystem,
                   previous: ChainLink | None) -> None:
    """Checks 1 and 2 of the module docstring: the audit data (whose header digest is ``header_digest``), the risk
    data and the public inputs belong to the header, the header follows ``previous`` (None: is a genesis header if
    it is epoch 1), and the root statements and reserves are the epoch's (shared by :func:`audit_epoch` and the
    streaming audit)."""
    bundle = published.bundle
    header = bundle.header
    if header_digest != header.digest():
        _fail("audit-epoch-mismatch", f"the audit data is for header {header_digest.hex()[:16]}..., not for "
                                      f"epoch {header.epoch_id}'s header {header.digest().hex()[:16]}...")
    published.check_bound(system)
    if previous is not None:
        check_chain(previous, header)
    else:
        check_first(header)
    check_root_statements(bundle, system.instrument_ids(published.public), system.asset_ids(published.public))
    check_venue_assets(bundle.reserves, published.inputs.config_text)


def audit_epoch(published: PublishedEpoch, audit: AuditData, *, chunk_system: ChunkProofSystem = CHUNK_SYSTEM,
                previous: ChainLink | None = None, executor: Executor | None = None) -> AuditReport:
    """Run every check of the module docstring; returns the report or raises VerificationError.

    Proof batches fan out over ``executor`` (default: ``zkclear.executor.get_executor()``)."""
    system = chunk_system
    run = executor or get_executor()
    bundle, public = published.bundle, published.public
    header = bundle.header
    config = header.tree
    timings: dict[str, float] = {}
    started = time.perf_counter()
    check_bindings(published, audit.header_digest, system, previous)
    timings["bindings"] = time.perf_counter() - started

    started = time.perf_counter()
    if not config.allows_chunk_count(len(audit.chunks)):
        # the chunk count must be one the padding policy produces (else the count of accounts leaks)
        _fail("chunk-count-policy", f"{len(audit.chunks)} chunks is not a count the padding policy "
                                    f"{config.chunk_padding!r} produces")
    chunk_roots: dict[int, TreeNode] = {}
    seen_ids: set[bytes] = set()
    previous = -1
    # The chunks' position vectors are checked together after the loop (one MSM); a failure met in the loop first
    # checks those of the chunks before it, so the failure named is the one a chunk-by-chunk check names.
    pending: list[tuple[int, PositionVectorCheck]] = []
    encodings: dict[int, tuple[bytes, ...]] = {}  # each chunk's accounts, encoded once for leaves and transcripts
    try:
        for number, chunk in enumerate(audit.chunks):
            if chunk.position <= previous or not 0 <= chunk.position < 1 << config.upper_height:
                _fail("audit-structure", f"chunk {number} sits at position {chunk.position}, which is taken, out of "
                                         "order (chunks are listed in increasing position order) or outside the tree",
                      number)
            previous = chunk.position
            for id_hash in chunk.id_hashes:
                if id_hash in seen_ids:
                    _fail("duplicate-leaf", f"two leaves carry the same id hash {id_hash.hex()[:16]}... (chunk "
                                            f"{number})", number)
                seen_ids.add(id_hash)
            chunk_roots[chunk.position], check, encodings[number] = chunk_root_unchecked(system, bundle.header,
                                                                                        chunk, public)
            pending.append((chunk.position, check))
    except VerificationError:
        check_position_vectors(pending)
        raise
    check_position_vectors(pending)
    rebuild_upper_tree(bundle, audit, chunk_roots)
    timings["tree"] = time.perf_counter() - started

    started = time.perf_counter()
    groups = group_positions([pos for pos in audit.upper_nodes if pos[0] < config.height], config.chunk_bits,
                             config.height, band_levels(header.asset_count))
    if set(audit.node_proofs) != set(groups):
        _fail("audit-structure", "the node range proofs published are not exactly one per group of nodes below the "
                                 "root")
    named = [("node-range-proof", anchor[0],
              node_group_statement(header, anchor, [(pos, audit.upper_nodes[pos].liabilities) for pos in members],
                                   audit.node_proofs.get(anchor), "node-range-proof"))
             for anchor, members in groups.items()]
    for number, chunk in enumerate(audit.chunks):
        named.extend(("chunk-collateral-proof", number, s)
                     for s in chunk_statements(system, header, chunk, public, encodings[number]))
    named.append(solvency_named(bundle))
    verify_named(named, run)
    timings["proofs"] = time.perf_counter() - started
    return AuditReport(header.epoch_id, bundle.epoch_hash().hex(), len(audit.chunks),
                       len(audit.chunks) * config.chunk_size, len(audit.upper_nodes), asset_reserves(bundle), timings)


def check_total_opening(bundle: PublicBundle,
                        opening: tuple[bytes, tuple[tuple[int, int], ...]]) -> tuple[int, ...]:
    """Auditor-only: the disclosed totals (L_a, ρ_a per asset) are for this epoch, open the root's liabilities and
    are within each asset's reserves; returns the L_a."""
    header_digest, openings = opening
    header = bundle.header
    if header_digest != header.digest():
        _fail("total-liabilities-opening", "the total-liabilities file is for another epoch's header")
    if len(openings) != header.asset_count:
        _fail("total-liabilities-opening", f"the total-liabilities file holds {len(openings)} totals, the epoch has "
                                           f"{header.asset_count} assets")
    assets = bundle.reserves.asset_ids
    for asset, commitment, (total, blinding), reserves in zip(assets, bundle.root.liabilities, openings,
                                                               header.reserve_totals, strict=True):
        if commitment != commit(total, blinding):
            _fail("total-liabilities-opening", f"the disclosed total {total} of {asset} does not open the root's "
                                               f"{asset} liability")
        if not 0 <= total <= reserves:
            _fail("total-liabilities-opening", f"the disclosed total {total} of {asset} exceeds its reserves "
                                               f"{reserves}")
    return tuple(total for total, _ in openings)
