"""The public G1 group API: :class:`G1Point`, :func:`msm`, :class:`FixedBase`.

Every caller in zkclear, circuits and provers uses this module; the engine behind it is
the backend selected in :mod:`zkclear.crypto.backend`. Points are immutable values.
Encoding is the standard 48-byte compressed form (ZCash serialization, as used by
py-ecc, blst and arkworks); see docs/protocol.md, "Curve, fields and encodings".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from zkclear.crypto.backend import GroupBackend, Raw, select_backend
from zkclear.crypto.field import P, R, fp_sqrt
from zkclear.errors import EncodingError

BACKEND: GroupBackend = select_backend()

POINT_BYTES = 48
_FLAG_COMPRESSED = 0x80
_FLAG_INFINITY = 0x40
_FLAG_SIGN = 0x20
_HALF_P = (P - 1) // 2


class G1Point:
    """An element of the prime-order subgroup of BLS12-381 G1 (immutable)."""

    __slots__ = ("_encoded", "_raw")

    def __init__(self, raw: Raw, encoded: bytes | None = None) -> None:
        object.__setattr__(self, "_raw", raw)
        # The compressed encoding when the point was decoded from it (decoding is strict, so it is the
        # point's one encoding): re-encoding a received point then costs nothing.
        object.__setattr__(self, "_encoded", encoded)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("G1Point is immutable")

    @property
    def raw(self) -> Raw:
        """The backend's representation (for engines and benchmarks only)."""
        return self._raw

    @classmethod
    def generator(cls) -> G1Point:
        """The standard BLS12-381 G1 generator."""
        return cls(BACKEND.generator())

    @classmethod
    def identity(cls) -> G1Point:
        """The point at infinity."""
        return cls(BACKEND.identity())

    def is_identity(self) -> bool:
        return BACKEND.is_identity(self._raw)

    def __add__(self, other: G1Point) -> G1Point:
        return G1Point(BACKEND.add(self._raw, other._raw))

    def __sub__(self, other: G1Point) -> G1Point:
        return G1Point(BACKEND.add(self._raw, BACKEND.neg(other._raw)))

    def __neg__(self) -> G1Point:
        return G1Point(BACKEND.neg(self._raw))

    def double(self) -> G1Point:
        return G1Point(BACKEND.double(self._raw))

    def __mul__(self, scalar: int) -> G1Point:
        if not isinstance(scalar, int):
            return NotImplemented
        return G1Point(BACKEND.mul(self._raw, scalar % R))

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, G1Point):
            return NotImplemented
        return BACKEND.eq(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        return f"G1Point({self.to_bytes().hex()})"

    def affine(self) -> tuple[int, int] | None:
        """Affine coordinates (x, y), or None for the point at infinity."""
        return BACKEND.to_affine(self._raw)

    @classmethod
    def from_affine(cls, xy: tuple[int, int] | None) -> G1Point:
        """The point with these affine coordinates; raises EncodingError unless it is in G1.

        Checks 0 <= x, y < P, the curve equation and membership of the prime-order subgroup.
        """
        if xy is None:
            return cls.identity()
        x, y = xy
        if not (0 <= x < P and 0 <= y < P) or (y * y - x * x * x - 4) % P != 0:
            raise EncodingError("point is not on the curve y^2 = x^3 + 4")
        raw = BACKEND.from_affine((x, y))
        if not BACKEND.in_subgroup(raw):
            raise EncodingError("point is on the curve but not in the prime-order subgroup")
        return cls(raw)

    def to_bytes(self) -> bytes:
        """The 48-byte compressed encoding."""
        if self._encoded is not None:
            return self._encoded
        return encode_affine(self.affine())

    @classmethod
    def from_bytes(cls, data: bytes) -> G1Point:
        """Decode a compressed point, rejecting every malformed or non-canonical input."""
        point = cls.from_affine(decode_affine(data))
        # Only a canonical encoding decodes, so ``data`` is the point's encoding.
        return cls(point._raw, bytes(data))

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Raw points of a native backend do not pickle; affine coordinates always do. Pickles
        # are trusted input (as everywhere in Python), so no subgroup check on the way back.
        return (_from_trusted_affine, (self.affine(),))


def _from_trusted_affine(xy: tuple[int, int] | None) -> G1Point:
    return G1Point(BACKEND.from_affine(xy))


def encode_affine(xy: tuple[int, int] | None) -> bytes:
    """Compressed encoding of affine coordinates (None = infinity)."""
    if xy is None:
        return bytes([_FLAG_COMPRESSED | _FLAG_INFINITY]) + bytes(POINT_BYTES - 1)
    x, y = xy
    out = bytearray(x.to_bytes(POINT_BYTES, "big"))
    out[0] |= _FLAG_COMPRESSED
    if y > _HALF_P:
        out[0] |= _FLAG_SIGN
    return bytes(out)


def decode_affine(data: bytes) -> tuple[int, int] | None:
    """Affine coordinates from a compressed encoding; checks length, flags, x < P, on-curve.

    The subgroup check is done by :meth:`G1Point.from_affine`.
    """
    if not isinstance(data, bytes | bytearray) or len(data) != POINT_BYTES:
        size = len(data) if isinstance(data, bytes | bytearray) else type(data).__name__
        raise EncodingError(f"a G1 point is {POINT_BYTES} bytes, got {size}")
    flags = data[0] & 0xE0
    if not flags & _FLAG_COMPRESSED:
        raise EncodingError("compression flag not set (uncompressed points are not accepted)")
    body = bytes([data[0] & 0x1F]) + bytes(data[1:])
    x = int.from_bytes(body, "big")
    if flags & _FLAG_INFINITY:
        if flags & _FLAG_SIGN or x != 0:
            raise EncodingError("non-canonical encoding of the point at infinity")
        return None
    if x >= P:
        raise EncodingError("x coordinate is not reduced (x >= p)")
    y = fp_sqrt(x * x * x + 4)
    if y is None:
        raise EncodingError("x is not the x coordinate of a point on the curve")
    if (y > _HALF_P) != bool(flags & _FLAG_SIGN):
        y = P - y
    return (x, y)


def msm(points: Sequence[G1Point], scalars: Sequence[int]) -> G1Point:
    """Σ scalars[i]·points[i] (scalars reduced mod R)."""
    if len(points) != len(scalars):
        raise ValueError(f"msm: {len(points)} points but {len(scalars)} scalars")
    return G1Point(BACKEND.msm([p._raw for p in points], [s % R for s in scalars]))


def fold_points(lo: Sequence[G1Point], hi: Sequence[G1Point], scalar: int) -> list[G1Point]:
    """``[lo[i] + scalar·hi[i] for i]``: many points times one scalar, in one engine call (the pure engine
    runs every point's chain in lock step with batched affine arithmetic)."""
    if len(lo) != len(hi):
        raise ValueError(f"fold_points: {len(lo)} low points but {len(hi)} high points")
    return [G1Point(raw) for raw in BACKEND.fold([p._raw for p in lo], [p._raw for p in hi], scalar % R)]


def prepare_msm_bases(points: Sequence[G1Point]) -> None:
    """Let the engine precompute for points that many MSMs will multiply (a prover's generators): later MSMs
    over them give the same results, faster on the pure engine (window rows of each point), unchanged natively."""
    BACKEND.prepare_msm_bases([p._raw for p in points])


def combine_points(vectors: Sequence[Sequence[G1Point]], scalars: Sequence[int]) -> list[G1Point]:
    """``[Σ_j scalars[j]·vectors[j][i] for i]``: a few vectors of equal length, each times one scalar shared by
    all its points, in one engine call (the pure engine runs every index's chain in lock step)."""
    if len(vectors) != len(scalars) or not vectors or any(len(v) != len(vectors[0]) for v in vectors):
        raise ValueError("combine_points: needs one scalar per vector and vectors of one length")
    raw = BACKEND.combine([[p._raw for p in column] for column in vectors], [s % R for s in scalars])
    return [G1Point(point) for point in raw]


def batch_affine(points: Iterable[G1Point]) -> list[tuple[int, int] | None]:
    """Affine coordinates of many points with one field inversion."""
    return BACKEND.batch_to_affine([p._raw for p in points])


def encode_many(points: Sequence[G1Point]) -> list[bytes]:
    """The compressed encodings of many points: a decoded point's own bytes, the others' affine coordinates
    found with one field inversion."""
    pending = [p for p in points if p._encoded is None]
    fresh = iter([encode_affine(xy) for xy in batch_affine(pending)] if pending else [])
    return [p._encoded if p._encoded is not None else next(fresh) for p in points]


class FixedBase:
    """Precomputed multiples of one point, for fast repeated ``scalar·base``.

    Building the table costs about 35 ms and 8 MB with the pure engine (6 ms with arkworks):
    use it for bases that are multiplied many times (the Pedersen generators), not for
    one-off products.
    """

    __slots__ = ("_table", "base")

    def __init__(self, base: G1Point) -> None:
        self.base = base
        self._table = BACKEND.fixed_base_table(base._raw)

    def mul(self, scalar: int) -> G1Point:
        """scalar·base (scalar reduced mod R)."""
        return G1Point(self._table.mul(scalar % R))

    def mul_many(self, scalars: Sequence[int]) -> list[G1Point]:
        """[s·base for s in scalars], computed in one batch (scalars reduced mod R)."""
        return fixed_base_msm_many([self], [[s] for s in scalars])


def fixed_base_msm(tables: Sequence[FixedBase], scalars: Sequence[int]) -> G1Point:
    """Σ scalars[i]·tables[i].base, e.g. a Pedersen commitment v·G + r·H from the tables of G and H."""
    return fixed_base_msm_many(tables, [scalars])[0]


def fixed_base_msm_many(tables: Sequence[FixedBase], rows: Sequence[Sequence[int]]) -> list[G1Point]:
    """[Σ_i row[i]·tables[i].base for row in rows] (scalars reduced mod R), in one batch.

    For many Pedersen commitments: ``fixed_base_msm_many([G_table, H_table], [(v, r), ...])``.
    """
    raw_tables = [t._table for t in tables]
    for row in rows:
        if len(row) != len(raw_tables):
            raise ValueError(f"fixed_base_msm_many: {len(raw_tables)} tables but a row of {len(row)} scalars")
    reduced = [[s % R for s in row] for row in rows]
    return [G1Point(raw) for raw in BACKEND.fixed_base_sums(raw_tables, reduced)]
