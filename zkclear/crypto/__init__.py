"""Layer 1, the cryptographic core: scalar field, BLS12-381 G1, Pedersen commitments, transcript.

It knows nothing of finance. See docs/protocol.md for every definition used here.
"""
