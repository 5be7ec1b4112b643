"""The range-proof generators a receipt check needs, precomputed for the page, with a pinned digest.

Deriving G_i and H_i (RFC 9380 hash-to-curve, :mod:`zkclear.crypto.generators`) is most of a receipt check's
time on the standard library alone (docs/performance.md, "The verifier on the standard library and in the browser"),
and Pyodide has no gmpy2. So ``zkclear serve`` derives the first :data:`COUNT` of each vector once (cached
beside the vendored Pyodide), checks the file against :data:`PINNED_SHA256`, and serves it; the page's Python
checks the digest again before :func:`preload` puts the points where the derivation would have put them. A
longer vector than the file holds is derived as usual beyond it (the vectors are prefix-stable), so a file never
changes a result: at worst the check is slower.

File format (docs/format.md, "Generators file"): ``b"ZKGENS01"``, ``u32be count``, then ``count`` points of
``G_i`` and ``count`` points of ``H_i``, each as 48-byte big-endian affine x then y. No subgroup checks on load:
the pinned digest fixes every byte, and tests/web/test_generators_file.py pins the digest to the derivation.
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

#: Generators per vector in the file: 8,192, four times what a receipt's chunk proof needs since parts are capped at
#: 2^11 bits (collateral proof v3; the file predates the cap and its digest is pinned). A proof uses the file's prefix.
COUNT = 8192
FILE_NAME = f"bulletproofs-generators-{COUNT}.bin"
#: SHA-256 of the file for COUNT (hex); a change of derivation or format must change it, deliberately.
PINNED_SHA256 = "65a0dd10dff94a5da400869ec769d81ecaba6da5dbfa04b88995a6473d5598b6"
_MAGIC = b"ZKGENS01"
_COORDINATE = 48


def encode(count: int = COUNT) -> bytes:
    """The file for the first ``count`` generators of each vector (derives them: seconds)."""
    out = [_MAGIC, struct.pack(">I", count)]
    for label in (G_VECTOR_LABEL, H_VECTOR_LABEL):
        for x, y in BACKEND.batch_to_affine([p.raw for p in crypto_generators.generator_vector(label, count)]):
            out.append(x.to_bytes(_COORDINATE, "big") + y.to_bytes(_COORDINATE, "big"))
    return b"".join(out)


def decode(data: bytes) -> tuple[list[G1Point], list[G1Point]]:
    """The two vectors of a file whose digest is the pinned one; EncodingError otherwise."""
    if hashlib.sha256(data).hexdigest() != PINNED_SHA256:
        raise EncodingError("the generators file is not the pinned one (SHA-256 differs)")
    count = struct.unpack(">I", data[len(_MAGIC) : len(_MAGIC) + 4])[0]
    body = memoryview(data)[len(_MAGIC) + 4 :]
    points = []
    for i in range(2 * count):
        x = int.from_bytes(body[2 * _COORDINATE * i : 2 * _COORDINATE * i + _COORDINATE], "big")
        y = int.from_bytes(body[2 * _COORDINATE * i + _COORDINATE : 2 * _COORDINATE * (i + 1)], "big")
        points.append(G1Point(BACKEND.from_affine((x, y))))
    return points[:count], points[count:]


def preload(data: bytes) -> int:
    """Hand a pinned file's points to the crypto core (:func:`zkclear.crypto.generators.install`); returns the
    count per vector."""
    g_vector, h_vector = decode(data)
    for label, points in ((G_VECTOR_LABEL, g_vector), (H_VECTOR_LABEL, h_vector)):
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
