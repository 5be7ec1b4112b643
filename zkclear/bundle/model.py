"""What an epoch publishes: the public bundle and the audit data (receipts: zkclear.tree.receipts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from zkclear.chains import Attestation, AttestationContext
from zkclear.proofs.header import ChainLink, EpochHeader, epoch_hash
from zkclear.proofs.reserves import ReserveBook, attestation_context
from zkclear.tree.receipts import ChunkRecord
from zkclear.tree.sum_tree import PaddingOpening, Position, TreeNode


@dataclass(frozen=True, slots=True)
class PublicBundle:
    """Small and public: header, root, matched-book blinding sums β_j, the solvency proof (every asset's), the
    reserves list and its attestations (each chain's own signed messages). Reveals no balance and no total
    liabilities."""

    header: EpochHeader
    root: TreeNode
    matched_book: tuple[int, ...]
    solvency_proof: bytes
    reserves: ReserveBook
    attestations: tuple[Attestation, ...] = ()

    def epoch_hash(self) -> bytes:
        return epoch_hash(self.header.digest(), self.root.encoded, self.root.digest)

    def chain_link(self) -> ChainLink:
        """What the next epoch's header must carry."""
        return ChainLink(self.header.epoch_id, self.root.digest, self.epoch_hash())

    def attestation_context(self) -> AttestationContext:
        """What every custodian's attestation text names: the venue, the epoch, its header hash and root."""
        return attestation_context(self.reserves.venue, self.header.epoch_id, self.epoch_hash(), self.root.digest)

    def with_attestations(self, attestations: tuple[Attestation, ...]) -> PublicBundle:
        return replace(self, attestations=tuple(attestations))


@dataclass(frozen=True, slots=True)
class AuditData:
    """Large, reveals no balance and not the total: every chunk (leaves and collateral proof), every node at
    levels c..H with its position sums and its range proof (levels c..H-1), and the padding nodes' openings
    (so the auditor sees they commit to zero). Crowd-auditing participants download it too."""

    header_digest: bytes
    chunks: Sequence[ChunkRecord]
    upper_nodes: Mapping[Position, TreeNode]
    node_proofs: Mapping[Position, bytes]
    padding: Mapping[Position, PaddingOpening]

    def chunk_positions(self) -> Sequence[int]:
        """Each listed chunk's position (its index at level c), in list order."""
        return [chunk.position for chunk in self.chunks]
