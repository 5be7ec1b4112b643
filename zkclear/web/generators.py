"""The generators a receipt check needs (range proofs, position vectors), precomputed for the page, pinned.

Deriving G_i and H_i (RFC 9380 hash-to-curve, :mod:`zkclear.crypto.generators`) is most of a receipt check's
time on the standard library alone (docs/performance.md, "The verifier on the standard library and in the browser"),
and Pyodide has no gmpy2. So ``zkclear serve`` derives the first :data:`COUNT` of each vector once (cached
beside the vendored Pyodide), checks the file against :data:`PINNED_SHA256`, and serves it; the page's Python
checks the digest again before :func:`preload` puts the points where the derivation would have put them. A
longer vector than the file holds is derived as usual beyond it (the vectors are prefix-stable), so a file never
changes a result: at worst the check is slower.

File format (docs/format.md, "Generators file"): ``b"ZKGENS02"``, ``u32be count``, then ``count`` points of
``G_i`` and ``count`` points of ``H_i``, then ``u32be positions`` and that many points of the position vectors'
``G_j`` (:mod:`zkclear.proofs.position_vector`), each as 48-byte big-endian affine x then y. No subgroup checks on
load: the pinned digest fixes every byte, and tests/web/test_generators_file.py pins the digest to the derivation.
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

from provers.bulletproofs.generators import G_VECTOR_LABEL, H_VECTOR_LABEL
from zkclear.crypto import generators as crypto_generators
from zkclear.crypto.group import BACKEND, G1Point
from zkclear.errors import EncodingError
from zkclear.proofs.position_vector import GENERATOR_LABEL as POSITION_VECTOR_LABEL

#: Generators per vector in the file: 8,192, four times what a receipt's chunk proof needs since parts are capped at
#: 2^11 bits (collateral proof v3; the file predates the cap and its digest is pinned). A proof uses the file's prefix.
COUNT = 8192
#: Position-vector generators in the file: one per instrument, for listings of up to 256 instruments.
POSITION_COUNT = 256
FILE_NAME = f"zkclear-generators-v2-{COUNT}.bin"
#: SHA-256 of the file for COUNT and POSITION_COUNT (hex); a change of derivation or format must change it,
#: deliberately.
PINNED_SHA256 = "61bc4d117ca733f27f381a0b00ebba12ac7518c1d626da42abbd0e0b476e0332"
_MAGIC = b"ZKGENS02"
_COORDINATE = 48


def _points(label: bytes, count: int) -> list[bytes]:
    return [x.to_bytes(_COORDINATE, "big") + y.to_bytes(_COORDINATE, "big")
            for x, y in BACKEND.batch_to_affine([p.raw for p in crypto_generators.generator_vector(label, count)])]


def encode(count: int = COUNT, positions: int = POSITION_COUNT) -> bytes:
    """The file for the first ``count`` generators of each range-proof vector and the first ``positions`` of the
    position vectors (derives them: seconds)."""
    out = [_MAGIC, struct.pack(">I", count), *_points(G_VECTOR_LABEL, count), *_points(H_VECTOR_LABEL, count),
           struct.pack(">I", positions), *_points(POSITION_VECTOR_LABEL, positions)]
    return b"".join(out)


def decode(data: bytes) -> tuple[list[G1Point], list[G1Point], list[G1Point]]:
    """The three vectors (G_i, H_i, position G_j) of a file whose digest is the pinned one; EncodingError
    otherwise."""
    if hashlib.sha256(data).hexdigest() != PINNED_SHA256:
        raise EncodingError("the generators file is not the pinned one (SHA-256 differs)")
    view = memoryview(data)
    offset = len(_MAGIC)

    def read(count: int) -> list[G1Point]:
        nonlocal offset
        points = []
        for _ in range(count):
            x = int.from_bytes(view[offset:offset + _COORDINATE], "big")
            y = int.from_bytes(view[offset + _COORDINATE:offset + 2 * _COORDINATE], "big")
            points.append(G1Point(BACKEND.from_affine((x, y))))
            offset += 2 * _COORDINATE
        return points

    count = struct.unpack(">I", view[offset:offset + 4])[0]
    offset += 4
    g_vector, h_vector = read(count), read(count)
    positions = struct.unpack(">I", view[offset:offset + 4])[0]
    offset += 4
    return g_vector, h_vector, read(positions)


def preload(data: bytes) -> int:
    """Hand a pinned file's points to the crypto core (:func:`zkclear.crypto.generators.install`); returns the
    count per range-proof vector."""
    g_vector, h_vector, position_vector = decode(data)
    for label, points in ((G_VECTOR_LABEL, g_vector), (H_VECTOR_LABEL, h_vector),
                          (POSITION_VECTOR_LABEL, position_vector)):
        crypto_generators.install(label, points)
    return len(g_vector)


def ensure_file(folder: Path) -> bytes:
    """The pinned file, from ``folder`` or derived there once; EncodingError if the derivation disagrees."""
    path = Path(folder) / FILE_NAME
    if path.is_file():
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() == PINNED_SHA256:
            return data
    data = encode()
    if hashlib.sha256(data).hexdigest() != PINNED_SHA256:
        raise EncodingError("the derived generators do not match the pinned digest: refusing to serve them")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # servers starting together do not share it
    tmp.write_bytes(data)
    tmp.replace(path)
    return data
