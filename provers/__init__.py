"""Layer 4, proof systems over Pedersen commitments (no trusted setup).

Each prover lives in its own package and depends on the crypto core (:mod:`zkclear.crypto`)
only. :mod:`provers.bulletproofs` proves that committed values lie in ``[0, 2^n)``.
"""
