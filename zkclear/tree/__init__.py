"""The sparse Merkle sum tree of liability commitments, leaf placement, receipts, participant checks.

Modules: :mod:`.placement` (keyed-PRF placement, tree shape), :mod:`.sum_tree` (nodes, hashing,
building), :mod:`.receipts` (the private receipt), :mod:`.inclusion` (participant verification
and crowd audit). See docs/protocol.md, "Merkle sum tree".
"""
