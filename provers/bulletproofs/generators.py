"""The generators of the range proof: Pedersen bases G, H and the vectors G_i, H_i.

docs/protocol.md, "Range proof", section "Generators":

- ``G``, ``H`` are :func:`zkclear.crypto.generators.pedersen_generators` (value and blinding
  base of every commitment ``V = v·G + γ·H``);
- ``G_i = generator_vector(b"bulletproofs/G", N)[i]`` and
  ``H_i = generator_vector(b"bulletproofs/H", N)[i]`` for ``N = n·M`` (hash-to-curve, so no
  discrete-log relation among any of these points is known).

Both vectors are prefix-stable, so a proof over N values uses the first N of any longer
vector; the derivation runs once per process (the crypto core memoizes it, and this module
caches the tuples per size).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from zkclear.crypto.generators import generator_vector, pedersen_generators
from zkclear.crypto.group import G1Point

#: Hash-to-curve label of the vector G_i.
G_VECTOR_LABEL = b"bulletproofs/G"
#: Hash-to-curve label of the vector H_i.
H_VECTOR_LABEL = b"bulletproofs/H"


@dataclass(frozen=True, slots=True)
class PedersenBases:
    """The Pedersen bases G (value) and H (blinding).

    Products with them (V_j, T1, T2 and Q = w·G) go through :func:`zkclear.crypto.pedersen.commit`,
    which keeps the fixed-base tables of G and H (one copy per process).
    """

    G: G1Point
    H: G1Point


@cache
def pedersen_bases() -> PedersenBases:
    """The process-wide Pedersen bases of the range proof."""
    G, H = pedersen_generators()
    return PedersenBases(G=G, H=H)


@cache
def vector_generators(count: int) -> tuple[tuple[G1Point, ...], tuple[G1Point, ...]]:
    """``(G_0..G_{count-1}, H_0..H_{count-1})``, derived once per process and count.

    Guaranteed: the result for ``count`` is the prefix of the result for any larger count.
    """
    return tuple(generator_vector(G_VECTOR_LABEL, count)), tuple(generator_vector(H_VECTOR_LABEL, count))
