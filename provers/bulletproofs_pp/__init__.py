"""Bulletproofs++ range proofs over BLS12-381 G1: an experimental lever, used by no statement.

docs/protocol.md, "Bulletproofs++ range proof (experimental, not used by any statement)". Modules,
one job each: :mod:`.wnla` (the weighted norm linear argument), :mod:`.parameters` (base, digits,
vector lengths), :mod:`.range_proof` (the reciprocal range proof: prover and verifier),
:mod:`.encoding` (the proof and its bytes).
"""
