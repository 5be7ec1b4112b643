"""Nothing-up-my-sleeve generators of G1, derived by hash-to-curve (no trusted setup).

Definitions (docs/protocol.md, "Generators"):

- ``DST = b"zkclear-v1/generators/BLS12381G1_XMD:SHA-256_SSWU_RO_"``;
- Pedersen value base ``G`` = the standard BLS12-381 G1 generator;
- Pedersen blinding base ``H = hash_to_curve(b"pedersen/H", DST)``;
- vector generators ``generator_vector(label, n)[i] = hash_to_curve(label || b"/" || u32be(i), DST)``.

hash_to_curve is RFC 9380's ``BLS12381G1_XMD:SHA-256_SSWU_RO_`` (:mod:`zkclear.crypto.hash_to_curve`),
a random oracle into the prime-order subgroup, so nobody knows a discrete-log relation among
these points. Messages of the vector generators are ``len(label) + 5`` bytes with ``b"/"`` at
offset ``len(label)``; ``b"pedersen/H"`` has ``b"s"`` at offset 5, so H never collides with a
vector generator whatever the label.
"""

from __future__ import annotations

import struct
import threading
from functools import cache

from zkclear.crypto import generator_cache
from zkclear.crypto.generator_digests import PEDERSEN_H_AFFINE
from zkclear.crypto.group import BACKEND, G1Point, batch_affine

#: Domain-separation tag of every zkclear generator.
GENERATOR_DST = b"zkclear-v1/generators/BLS12381G1_XMD:SHA-256_SSWU_RO_"
#: The hash-to-curve message of the Pedersen blinding base H.
PEDERSEN_H_MESSAGE = b"pedersen/H"
#: Indices are encoded as u32be, so one label yields at most 2^32 generators.
MAX_GENERATORS_PER_LABEL = 1 << 32

# Memo: label -> the longest vector computed so far in this process. A vector is a pure
# function of (label, index), so a shorter request is a prefix of the stored one. The lock
# keeps threads from extending the same entry twice.
_vectors: dict[bytes, list[G1Point]] = {}
_vectors_lock = threading.Lock()


def hash_to_curve(message: bytes, dst: bytes) -> G1Point:
    """:func:`zkclear.crypto.hash_to_curve.hash_to_curve`, imported on first use: a process that finds its
    generators in the cache never loads it (its imports cost about 0.7 s)."""
    from zkclear.crypto.hash_to_curve import hash_to_curve as derive

    return derive(message, dst)


def generator_message(label: bytes, index: int) -> bytes:
    """The hash-to-curve message of generator ``index`` of vector ``label``: label || "/" || u32be(index)."""
    return label + b"/" + struct.pack(">I", index)


@cache
def pedersen_generators() -> tuple[G1Point, G1Point]:
    """(G, H): the value base (standard generator) and the blinding base (hash-to-curve of "pedersen/H").

    Guaranteed: both in the prime-order subgroup, H != G, H not the identity; same points in every
    process and on every machine.
    """
    # H's coordinates are pinned (the tests re-derive them): a verifier that finds its generators in the
    # cache then never loads the hash-to-curve machinery (about 0.7 s of imports).
    return G1Point.generator(), G1Point(BACKEND.from_affine(PEDERSEN_H_AFFINE))


def generator_vector(label: bytes, count: int) -> list[G1Point]:
    """``count`` independent generators for ``label`` (a fresh list; the points are shared, immutable).

    Guaranteed: deterministic; prefix-stable (the first k of a longer vector equal the vector of
    length k); computed once per (label, index) in a process.
    """
    if not isinstance(label, bytes | bytearray):
        raise TypeError(f"generator label must be bytes, got {type(label).__name__}")
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError(f"generator count must be an int, got {type(count).__name__}")
    if not 0 <= count <= MAX_GENERATORS_PER_LABEL:
        raise ValueError(f"generator count {count} out of range [0, 2^32]")
    label = bytes(label)
    with _vectors_lock:
        known = _vectors.setdefault(label, [])
        while len(known) < count:
            _extend(label, known, count)
        return known[:count]


def _extend(label: bytes, known: list[G1Point], count: int) -> None:
    """Grow ``known`` toward ``count`` by at most one cache block: from the disk cache when the block is
    there and matches its pinned digest, else by hash-to-curve (only the generators asked for; a block
    completed this way is written to the cache). See :mod:`zkclear.crypto.generator_cache`."""
    size = generator_cache.BLOCK_SIZE
    block, offset = divmod(len(known), size)
    cached = generator_cache.load_block(label, block)
    if cached is not None:
        known.extend(G1Point(BACKEND.from_affine(xy)) for xy in cached[offset:])
        return
    stop = min(count, (block + 1) * size)
    known.extend(hash_to_curve(generator_message(label, index), GENERATOR_DST)
                 for index in range(len(known), stop))
    if stop == (block + 1) * size and generator_cache.pinned_digest(label, block) is not None:
        generator_cache.store_block(label, block, batch_affine(known[block * size:stop]))


def install(label: bytes, points: list[G1Point]) -> None:
    """Make ``points`` the first ``len(points)`` generators of ``label`` without deriving them (points from a
    file whose digest the caller has checked against a pinned one: ``zkclear.web.generators``). Longer vectors
    are derived beyond them as usual; a vector already known to be at least as long is kept."""
    with _vectors_lock:
        known = _vectors.setdefault(bytes(label), [])
        if len(known) < len(points):
            known[:] = points
