"""Pure-Python BLS12-381 G1 engine: Jacobian arithmetic, GLV, Pippenger MSM, fixed-base tables.

Curve E: y^2 = x^3 + 4 over GF(P); G1 is its subgroup of prime order R (cofactor h1).
Raw points are Jacobian tuples ``(X, Y, Z)`` for the affine point ``(X/Z^2, Y/Z^3)``;
``Z == 0`` is the point at infinity. Hot loops work on affine pairs ``(x, y)`` and add
many independent pairs at once, sharing one field inversion (Montgomery's trick).

Coordinates are gmpy2 ``mpz`` when gmpy2 is installed, plain ints otherwise; both give the
same results. Measured on the 2-core dev box (Xeon, Python 3.11, gmpy2 2.3), 381-bit operands:
``a*b % P`` 129 ns (mpz) vs 474 ns (int); inversion 1.1 µs (gmpy2.invert) vs 19 µs
(``pow(a, -1, P)``); one batched affine addition (the MSM inner loop) 1.28 µs (mpz) vs
2.6 µs (int). The math is in docs/protocol.md, "Curve, fields and encodings".
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter, sub

from zkclear.crypto.field import P, R

try:  # numpy does the MSM's index bookkeeping; without it (a browser, on Pyodide) plain lists do the same
    import numpy as np
except ImportError:  # tests/crypto/test_backends.py runs this path in a subprocess
    np = None

try:
    import gmpy2

    _mpz = gmpy2.mpz
    _invert = gmpy2.invert
except ImportError:  # tests/crypto/test_backends.py runs this path in a subprocess
    _mpz = int

    def _invert(a: int, modulus: int) -> int:
        return pow(a, -1, modulus)

B = 4
GENERATOR_X = 0x17F1D3A73197D7942695638C4FA9AC0FC3688C4F9774B905A14E3A3F171BAC586C55E83FF97A1AEFFB3AF00ADB22C6BB
GENERATOR_Y = 0x08B3F481E3AAA0F1A09E30ED741D8AE4FCF5E095D5D00AF600DB18CB2C04B3EDD03CC744A2888AE40CAA232946C5E7E1

#: The BLS parameter z (the curve family seed); R = z^4 - z^2 + 1.
BLS_Z = -0xD201000000010000
#: GLV eigenvalue: LAMBDA^2 + LAMBDA + 1 = 0 mod R, and phi(x, y) = (BETA·x, y) acts on G1 as [LAMBDA].
GLV_LAMBDA = BLS_Z * BLS_Z - 1
#: A primitive cube root of unity in GF(P), paired with GLV_LAMBDA (checked in the tests).
GLV_BETA = 0x1A0111EA397FE699EC02408663D4DE85AA0D857D89759AD4897D29650FB85F9B409427EB4F49FFFD8BFD00000000AAAC
#: BETA^2: phi2(x, y) = (BETA^2·x, y) acts on G1 as [-z^2] (Scott's subgroup check uses it).
GLV_BETA_SQUARED = GLV_BETA * GLV_BETA % P

JacobianPoint = tuple[int, int, int]
AffinePoint = tuple[int, int]

_P = _mpz(P)
_ZERO = _mpz(0)
_ONE = _mpz(1)
_BETA = _mpz(GLV_BETA)
_BETA_SQUARED = _mpz(GLV_BETA_SQUARED)
INFINITY: JacobianPoint = (_ONE, _ONE, _ZERO)
#: Half-scalars of the GLV split are below 2^128; signed digits need one extra bit.
_GLV_HALF_BITS = 129

assert (GENERATOR_Y * GENERATOR_Y - GENERATOR_X**3 - B) % P == 0, "generator is not on the curve"
assert (GLV_LAMBDA * GLV_LAMBDA + GLV_LAMBDA + 1) % R == 0, "GLV lambda is not a cube root of 1 mod R"
assert pow(GLV_BETA, 3, P) == 1 and GLV_BETA != 1, "GLV beta is not a cube root of 1 mod P"


# ---------------------------------------------------------------------------------------
# Jacobian arithmetic (formulas from the Explicit-Formulas Database, a = 0)
# ---------------------------------------------------------------------------------------


def jacobian_double(p1: JacobianPoint) -> JacobianPoint:
    """2·P1 (dbl-2009-l, with D = 4·X·Y^2 computed directly: fewer interpreted operations)."""
    X1, Y1, Z1 = p1
    if not Z1 or not Y1:
        return INFINITY
    p = _P
    A = X1 * X1 % p
    YY = Y1 * Y1 % p
    C = YY * YY % p
    D = 4 * X1 * YY % p
    E = 3 * A
    X3 = (E * E - 2 * D) % p
    return (X3, (E * (D - X3) - 8 * C) % p, 2 * Y1 * Z1 % p)


def jacobian_add(p1: JacobianPoint, p2: JacobianPoint) -> JacobianPoint:
    """P1 + P2 (add-2007-bl), correct for every input including equal and opposite points."""
    X1, Y1, Z1 = p1
    X2, Y2, Z2 = p2
    if not Z1:
        return p2
    if not Z2:
        return p1
    p = _P
    Z1Z1 = Z1 * Z1 % p
    Z2Z2 = Z2 * Z2 % p
    U1 = X1 * Z2Z2 % p
    U2 = X2 * Z1Z1 % p
    S1 = Y1 * Z2 * Z2Z2 % p
    S2 = Y2 * Z1 * Z1Z1 % p
    H = (U2 - U1) % p
    r = 2 * (S2 - S1) % p
    if not H:
        return jacobian_double(p1) if not r else INFINITY
    I = 4 * H * H % p
    J = H * I % p
    V = U1 * I % p
    X3 = (r * r - J - 2 * V) % p
    Y3 = (r * (V - X3) - 2 * S1 * J) % p
    Z1_plus_Z2 = Z1 + Z2
    Z3 = (Z1_plus_Z2 * Z1_plus_Z2 - Z1Z1 - Z2Z2) * H % p
    return (X3, Y3, Z3)


def jacobian_add_affine(p1: JacobianPoint, x2: int, y2: int) -> JacobianPoint:
    """P1 + (x2, y2) for a finite affine point (madd-2007-bl), correct for every input."""
    X1, Y1, Z1 = p1
    if not Z1:
        return (x2, y2, _ONE)
    p = _P
    Z1Z1 = Z1 * Z1 % p
    H = (x2 * Z1Z1 - X1) % p
    r = 2 * (y2 * Z1 * Z1Z1 - Y1) % p
    if not H:
        return jacobian_double(p1) if not r else INFINITY
    HH = H * H % p
    I = 4 * HH
    J = H * I % p
    V = X1 * I % p
    X3 = (r * r - J - 2 * V) % p
    return (X3, (r * (V - X3) - 2 * Y1 * J) % p, 2 * Z1 * H % p)  # (Z1 + H)^2 - Z1Z1 - HH


def jacobian_neg(p1: JacobianPoint) -> JacobianPoint:
    """-P1."""
    X1, Y1, Z1 = p1
    return (X1, (-Y1) % _P, Z1)


def jacobian_eq(p1: JacobianPoint, p2: JacobianPoint) -> bool:
    """Whether two Jacobian triples represent the same point."""
    X1, Y1, Z1 = p1
    X2, Y2, Z2 = p2
    if not Z1 or not Z2:
        return not Z1 and not Z2
    p = _P
    Z1Z1 = Z1 * Z1 % p
    Z2Z2 = Z2 * Z2 % p
    return (X1 * Z2Z2 - X2 * Z1Z1) % p == 0 and (Y1 * Z2 * Z2Z2 - Y2 * Z1 * Z1Z1) % p == 0


def jacobian_mul_unreduced(p1: JacobianPoint, scalar: int) -> JacobianPoint:
    """scalar·P1 by plain double-and-add for any scalar >= 0, valid for any curve point.

    Not reduced mod R and without the endomorphism, so it is correct also outside G1
    (tests use it as the naive order check ``[R]·P == O``). Slow; never on a hot path.
    """
    acc = INFINITY
    for bit in bin(scalar)[2:] if scalar else "":
        acc = jacobian_double(acc)
        if bit == "1":
            acc = jacobian_add(acc, p1)
    return acc


def to_affine(p1: JacobianPoint) -> AffinePoint | None:
    """Affine coordinates (plain ints) or None for infinity."""
    X1, Y1, Z1 = p1
    if not Z1:
        return None
    if Z1 == 1:
        return (int(X1), int(Y1))
    zinv = _invert(Z1, _P)
    zinv2 = zinv * zinv % _P
    return (int(X1 * zinv2 % _P), int(Y1 * zinv2 * zinv % _P))


def batch_to_affine(points: Sequence[JacobianPoint]) -> list[AffinePoint | None]:
    """Affine coordinates of many points (mpz or int) with one inversion; None for infinity."""
    p = _P
    todo = [i for i, (_, _, Z) in enumerate(points) if Z and Z != 1]
    inverses = _batch_invert([points[i][2] for i in todo])
    out: list[AffinePoint | None] = [None if not Z else (X, Y) for X, Y, Z in points]
    for i, zinv in zip(todo, inverses, strict=True):
        X, Y, _ = points[i]
        zinv2 = zinv * zinv % p
        out[i] = (X * zinv2 % p, Y * zinv2 * zinv % p)
    return out


def _batch_invert(values: Sequence[int]) -> list[int]:
    """Inverses mod P of non-zero values with one inversion (Montgomery's trick)."""
    p = _P
    prefix = []
    acc = _ONE
    for v in values:
        prefix.append(acc)
        acc = acc * v % p
    inv = _invert(acc, p) if values else _ONE
    out = []
    for v, before in zip(reversed(values), reversed(prefix), strict=True):
        out.append(inv * before % p)
        inv = inv * v % p
    out.reverse()
    return out


# ---------------------------------------------------------------------------------------
# Batched affine addition: the inner loop of the MSM and of table building
# ---------------------------------------------------------------------------------------


#: Additions per shared inversion: blocks this small keep the loop's working set in cache,
#: 1.22 µs per addition against 1.35-1.48 µs for one block of 16384 (inversion: 1.1 µs per block).
_BATCH_BLOCK = 256


def batch_add_xy(
    x1s: Sequence[int], y1s: Sequence[int], x2s: Sequence[int], y2s: Sequence[int]
) -> tuple[list[int], list[int], list[int]]:
    """Coordinates of (x1s[i], y1s[i]) + (x2s[i], y2s[i]) for finite affine points.

    Returns (xs, ys, cancelled): ``cancelled`` lists the indices whose sum is the point at
    infinity (their coordinates are placeholders). Every input is handled correctly.
    """
    if len(x1s) <= _BATCH_BLOCK:
        return _batch_add_block(x1s, y1s, x2s, y2s)
    xs: list[int] = []
    ys: list[int] = []
    cancelled: list[int] = []
    for start in range(0, len(x1s), _BATCH_BLOCK):
        block = slice(start, start + _BATCH_BLOCK)
        block_x, block_y, block_cancelled = _batch_add_block(x1s[block], y1s[block], x2s[block], y2s[block])
        cancelled += (start + i for i in block_cancelled)
        xs += block_x
        ys += block_y
    return xs, ys, cancelled


def _batch_add_block(
    x1s: Sequence[int], y1s: Sequence[int], x2s: Sequence[int], y2s: Sequence[int]
) -> tuple[list[int], list[int], list[int]]:
    """:func:`batch_add_xy` with one inversion for the whole block (Montgomery's trick).

    Pairs with equal x (a doubling or a cancellation) take a slow path outside the shared
    inversion. The loop costs about 1.2 µs per addition with gmpy2 (2.6 µs with plain ints).
    """
    p = _P
    dens = list(map(sub, x2s, x1s))  # the x-differences (~5% faster than a comprehension)
    special = [] if all(dens) else [i for i, d in enumerate(dens) if not d]
    for i in special:
        dens[i] = _ONE
    prefix = []
    acc = _ONE
    for d in dens:
        prefix.append(acc)
        acc = acc * d % p
    inv = _invert(acc, p)
    xs: list[int] = []
    ys: list[int] = []
    for x1, y1, x2, y2, d, before in zip(
        reversed(x1s), reversed(y1s), reversed(x2s), reversed(y2s), reversed(dens), reversed(prefix),
        strict=True,
    ):
        lam = (y2 - y1) * inv * before % p
        inv = inv * d % p
        x3 = (lam * lam - x1 - x2) % p
        xs.append(x3)
        ys.append((lam * (x1 - x3) - y1) % p)
    xs.reverse()
    ys.reverse()
    cancelled = []
    for i in special:
        total = _add_same_x((x1s[i], y1s[i]), (x2s[i], y2s[i]))
        if total is None:
            cancelled.append(i)
            xs[i] = ys[i] = _ZERO
        else:
            xs[i], ys[i] = total
    return xs, ys, cancelled


def batch_add_affine(lefts: Sequence[AffinePoint], rights: Sequence[AffinePoint]) -> list[AffinePoint | None]:
    """``[a + b for a, b in zip(lefts, rights)]`` for finite affine points (None = infinity)."""
    if len(lefts) != len(rights):
        raise ValueError("batch_add_affine: lengths differ")
    if not lefts:
        return []
    x1s, y1s = zip(*lefts, strict=True)
    x2s, y2s = zip(*rights, strict=True)
    xs, ys, cancelled = batch_add_xy(x1s, y1s, x2s, y2s)
    out: list[AffinePoint | None] = list(zip(xs, ys, strict=True))
    for i in cancelled:
        out[i] = None
    return out


def _add_same_x(a: AffinePoint, b: AffinePoint) -> AffinePoint | None:
    """a + b when a and b share x: 2a if they are equal, else infinity."""
    x1, y1 = a
    if y1 != b[1] or not y1:
        return None
    p = _P
    lam = 3 * x1 * x1 * _invert(2 * y1 % p, p) % p
    x3 = (lam * lam - 2 * x1) % p
    return (x3, (lam * (x1 - x3) - y1) % p)


def sum_affine(xs: Sequence[int], ys: Sequence[int]) -> JacobianPoint:
    """Σ (xs[i], ys[i]) over finite affine points, by mixed additions.

    For a few dozen points this chain (~2 µs per point) beats batched rounds, whose fixed
    costs (an inversion and a call per round) need longer inputs to pay off.
    """
    acc = INFINITY
    for x, y in zip(xs, ys, strict=True):
        acc = jacobian_add_affine(acc, x, y)
    return acc


# ---------------------------------------------------------------------------------------
# Scalars: GLV split and signed-digit recoding
# ---------------------------------------------------------------------------------------


def glv_split(k: int) -> tuple[int, int]:
    """(k1, k2) with k = k1 + k2·LAMBDA (mod R) and 0 <= k1, k2 < 2^128, for 0 <= k < R.

    LAMBDA = z^2 - 1 is itself ~2^128 and R = LAMBDA^2 + LAMBDA + 1, so plain division
    already gives two half-size parts (no lattice reduction is needed on this curve).
    """
    k2, k1 = divmod(k, GLV_LAMBDA)
    return k1, k2


def signed_digits(k: int, window_bits: int, count: int) -> list[int]:
    """Digits d_j in [-2^(w-1), 2^(w-1)] with k = Σ d_j·2^(w·j), least significant first.

    ``count`` digits must suffice: k < 2^(w·count - 1).
    """
    full = 1 << window_bits
    half = full >> 1
    mask = full - 1
    digits = []
    for _ in range(count):
        d = k & mask
        k >>= window_bits
        if d > half:
            d -= full
            k += 1
        digits.append(d)
    if k:
        raise ValueError("signed_digits: scalar too large for the digit count")
    return digits


def endomorphism(point: AffinePoint) -> AffinePoint:
    """phi(x, y) = (BETA·x, y), which equals [LAMBDA]·(x, y) on G1."""
    return (_BETA * point[0] % _P, point[1])


# ---------------------------------------------------------------------------------------
# Variable-base scalar multiplication
# ---------------------------------------------------------------------------------------

_MUL_WINDOW = 5


def _multiples(point: AffinePoint, count: int) -> list[AffinePoint]:
    """[1·point, 2·point, ..., count·point] in affine form, for a point of order > count."""
    jacobian = [(point[0], point[1], _ONE)]
    for _ in range(count - 1):
        jacobian.append(jacobian_add_affine(jacobian[-1], *point))
    return batch_to_affine(jacobian)  # type: ignore[return-value]


def glv_mul(p1: JacobianPoint, scalar: int) -> JacobianPoint:
    """scalar·P1 for P1 in G1 (scalar reduced mod R), via GLV and signed 5-bit windows."""
    k = scalar % R
    affine = batch_to_affine([p1])[0]
    if affine is None or not k:
        return INFINITY
    k1, k2 = glv_split(k)
    count = -(-_GLV_HALF_BITS // _MUL_WINDOW)
    digits1 = signed_digits(k1, _MUL_WINDOW, count)
    digits2 = signed_digits(k2, _MUL_WINDOW, count)
    table = _multiples(affine, 1 << (_MUL_WINDOW - 1))
    table_phi = [endomorphism(pt) for pt in table]
    acc = INFINITY
    for d1, d2 in zip(reversed(digits1), reversed(digits2), strict=True):
        for _ in range(_MUL_WINDOW):
            acc = jacobian_double(acc)
        if d1:
            x, y = table[abs(d1) - 1]
            acc = jacobian_add_affine(acc, x, y if d1 > 0 else _P - y)
        if d2:
            x, y = table_phi[abs(d2) - 1]
            acc = jacobian_add_affine(acc, x, y if d2 > 0 else _P - y)
    return acc


# ---------------------------------------------------------------------------------------
# Multi-scalar multiplication (Pippenger with GLV and batched affine bucket additions)
# ---------------------------------------------------------------------------------------


def msm_window_bits(point_count: int) -> int:
    """The Pippenger window c minimizing the estimated number of affine additions.

    Per window: about ``point_count`` additions into the 2^(c-1) buckets, then about 2^c to
    weight the buckets (running sums, then summing them). All are batched affine additions
    of about the same cost.
    """

    def cost(c: int) -> int:
        return -(-_GLV_HALF_BITS // c) * (point_count + (1 << c))

    return min(range(2, 20), key=cost)


def msm(points: Sequence[JacobianPoint], scalars: Sequence[int]) -> JacobianPoint:
    """Σ scalars[i]·points[i] for points in G1 (scalars reduced mod R)."""
    affine = batch_to_affine(points)
    terms = [(pt, k % R) for pt, k in zip(affine, scalars, strict=True) if pt is not None and k % R]
    if len(terms) <= _MSM_DIRECT_MAX:
        total = INFINITY
        for (x, y), k in terms:
            total = jacobian_add(total, glv_mul((x, y, _ONE), k))
        return total
    xs: list[int] = []
    ys: list[int] = []
    halves: list[int] = []
    p = _P
    beta = _BETA
    for (x, y), k in terms:
        k1, k2 = glv_split(k)
        xs += (x, beta * x % p)  # P and phi(P) = [LAMBDA]P
        ys += (y, y)
        halves += (k1, k2)
    return pippenger(xs, ys, halves, _GLV_HALF_BITS)


#: Up to this many terms an MSM is a sum of GLV multiplications (the batched machinery's fixed
#: costs, ~1 ms of numpy calls, dominate below it).
_MSM_DIRECT_MAX = 4


def pippenger(xs: list[int], ys: list[int], scalars: list[int], scalar_bits: int) -> JacobianPoint:
    """Σ scalars[i]·(xs[i], ys[i]) for finite affine points and 0 <= scalars[i] < 2^(scalar_bits-1).

    Buckets: window j and digit d != 0 put the point (negated when d < 0) into bucket
    (j, |d|). Each bucket is summed by rounds of batched affine additions over runs of a
    sorted key array; numpy does the bookkeeping so that Python loops only do field arithmetic.
    """
    n = len(xs)
    c = msm_window_bits(n)
    windows = -(-scalar_bits // c)
    buckets_per_window = 1 << (c - 1)
    if np is None:
        keys, sources = _bucket_entries(scalars, c, windows)
    else:
        digits = _signed_digit_matrix(scalars, c, windows).ravel()  # window-major
        entries = np.flatnonzero(digits)
        entry_digits = digits[entries]
        keys = (entries // n) * buckets_per_window + np.abs(entry_digits) - 1
        sources = entries % n + n * (entry_digits < 0)
        # 16-bit keys sort by radix: 3 ms instead of 27 ms for the 360 000 entries of a 2^14 MSM
        sortable = keys.astype(np.uint16) if windows * buckets_per_window <= 1 << 16 else keys
        order = np.argsort(sortable, kind="stable")
        keys, sources = keys[order], sources[order]
    p = _P
    negated_ys = [p - y for y in ys]
    bucket_keys, bucket_x, bucket_y = sum_runs(keys, xs + xs, ys + negated_ys, sources)
    window_sums = _window_sums(bucket_keys, bucket_x, bucket_y, windows, buckets_per_window)
    acc = INFINITY
    for window_sum in reversed(window_sums):
        for _ in range(c):
            acc = jacobian_double(acc)
        acc = jacobian_add(acc, window_sum)
    return acc


def _bucket_entries(scalars: list[int], c: int, windows: int) -> tuple[list[int], list[int]]:
    """The bucket entries of :func:`pippenger` without numpy: (keys, sources), sorted by key.

    Key j·M + |d| - 1 (M = 2^(c-1)) for digit d != 0 of scalars[i] in window j; source i, or
    n + i when d < 0 (the negated point). The same entries, in the same order, as the numpy path.
    """
    n = len(scalars)
    buckets_per_window = 1 << (c - 1)
    buckets: list[list[int]] = [[] for _ in range(windows * buckets_per_window)]
    for i, k in enumerate(scalars):
        if k >> 128:
            raise ValueError("_bucket_entries: scalars must be below 2^128")
        for j, d in enumerate(signed_digits(k, c, windows)):
            if d > 0:
                buckets[j * buckets_per_window + d - 1].append(i)
            elif d < 0:
                buckets[j * buckets_per_window - d - 1].append(n + i)
    keys = [key for key, bucket in enumerate(buckets) for _ in bucket]
    sources = [source for bucket in buckets for source in bucket]
    return keys, sources


def _signed_digit_matrix(scalars: list[int], c: int, windows: int) -> np.ndarray:
    """digits[j, i] in [-2^(c-1), 2^(c-1)] with scalars[i] = Σ_j digits[j, i]·2^(c·j) (scalars < 2^128)."""
    low = np.array([k & _LIMB_MASK for k in scalars], dtype=np.uint64)
    high = np.array([k >> 64 for k in scalars], dtype=np.uint64)
    if len(scalars) and int(high.max()) >> 64:
        raise ValueError("_signed_digit_matrix: scalars must be below 2^128")
    mask = np.uint64((1 << c) - 1)
    half = 1 << (c - 1)
    digits = np.empty((windows, len(scalars)), dtype=np.int64)
    carry = np.zeros(len(scalars), dtype=np.int64)
    for j in range(windows):
        shift = c * j
        if shift >= 128:
            field = np.zeros(len(scalars), dtype=np.uint64)
        elif shift >= 64:
            field = (high >> np.uint64(shift - 64)) & mask
        else:
            field = low >> np.uint64(shift)
            if shift + c > 64:
                field |= high << np.uint64(64 - shift)
            field &= mask
        digit = field.astype(np.int64) + carry
        carry = (digit > half).astype(np.int64)
        digits[j] = digit - (carry << c)
    if carry.any():
        raise ValueError("_signed_digit_matrix: too few windows for the scalars")
    return digits


_LIMB_MASK = (1 << 64) - 1


def _gather(indices: np.ndarray | list[int], *columns: list) -> list[list]:
    """[[column[i] for i in indices] for column in columns], at C speed."""
    if len(indices) == 0:
        return [[] for _ in columns]
    if len(indices) == 1:
        return [[column[int(indices[0])]] for column in columns]
    getter = itemgetter(*_as_list(indices))
    return [list(getter(column)) for column in columns]


def _as_list(values: np.ndarray | list[int]) -> list[int]:
    """Python ints of an index array (numpy path) or the list itself (list path)."""
    return values if isinstance(values, list) else values.tolist()


def sum_runs(
    keys: np.ndarray, xs: list[int], ys: list[int], index: np.ndarray | None = None
) -> tuple[np.ndarray, list[int], list[int]]:
    """Sum the points of each run of equal keys (``keys`` sorted); drop sums at infinity.

    Entry i is the point (xs[index[i]], ys[index[i]]), or (xs[i], ys[i]) without ``index``
    (an index spares the caller from gathering the points into key order first). Each round
    adds the point at each even rank of a run to its right neighbour, all runs in one batch,
    halving every run; it stops when all runs have one point. numpy computes the indices;
    coordinates stay in lists (numpy object arrays of mpz are slow to build: ~0.8 µs each).
    Without numpy, ``keys`` and ``index`` are lists and :func:`_sum_runs_lists` does the same rounds.
    """
    if np is None:
        return _sum_runs_lists(keys, xs, ys, index)
    if index is None:
        index = np.arange(len(keys))
    while len(keys) > 1:
        size = len(keys)
        run_start = np.empty(size, dtype=bool)
        run_start[0] = True
        np.not_equal(keys[1:], keys[:-1], out=run_start[1:])
        starts = np.flatnonzero(run_start)
        run_index = np.cumsum(run_start) - 1
        rank = np.arange(size) - starts[run_index]
        run_length = np.diff(np.append(starts, size))[run_index]
        kept = np.flatnonzero((rank & 1) == 0)  # even ranks: left of a pair, or a run's odd one out
        paired = rank[kept] + 1 < run_length[kept]
        left = kept[paired]
        if not len(left):
            break
        sum_x, sum_y, cancelled = _add_pairs(xs, ys, index[left], index[left + 1])
        # The next round's points: the sums, then the odd ones out (at most one per run). Only
        # the index is kept in key order, so no round copies the points it does not add.
        lone = kept[~paired]
        lone_x, lone_y = _gather(index[lone], xs, ys)
        xs, ys = sum_x + lone_x, sum_y + lone_y
        index = np.empty(len(kept), dtype=np.int64)
        index[paired] = np.arange(len(left))
        index[~paired] = len(left) + np.arange(len(lone))
        keys = keys[kept]
        if cancelled:
            alive = np.ones(len(kept), dtype=bool)
            alive[np.flatnonzero(paired)[cancelled]] = False
            keys, index = keys[alive], index[alive]
    xs, ys = _gather(index, xs, ys)
    return keys, xs, ys


def _sum_runs_lists(
    keys: list[int], xs: list[int], ys: list[int], index: list[int] | None = None
) -> tuple[list[int], list[int], list[int]]:
    """:func:`sum_runs` on lists: the same rounds (each run's even ranks added to their right
    neighbours in one batch, sums at infinity dropped) with the bookkeeping in plain Python."""
    if index is not None:
        xs, ys = _gather(index, xs, ys)
    while len(keys) > 1:
        lefts: list[int] = []
        plan: list[tuple[int, int]] = []  # next round in key order: (key, pair number) or (key, ~lone index)
        size = len(keys)
        start = 0
        while start < size:
            key = keys[start]
            end = start + 1
            while end < size and keys[end] == key:
                end += 1
            for left in range(start, end - 1, 2):
                plan.append((key, len(lefts)))
                lefts.append(left)
            if (end - start) & 1:
                plan.append((key, ~(end - 1)))
            start = end
        if not lefts:
            break
        sum_x, sum_y, cancelled = _add_pairs(xs, ys, lefts, [left + 1 for left in lefts])
        gone = set(cancelled)
        keys, next_x, next_y = [], [], []
        for key, source in plan:
            if source >= 0:
                if source in gone:
                    continue
                next_x.append(sum_x[source])
                next_y.append(sum_y[source])
            else:
                next_x.append(xs[~source])
                next_y.append(ys[~source])
            keys.append(key)
        xs, ys = next_x, next_y
    return keys, xs, ys


def _add_pairs(
    xs: list[int], ys: list[int], left: np.ndarray | list[int], right: np.ndarray | list[int]
) -> tuple[list[int], list[int], list[int]]:
    """:func:`batch_add_xy` of the points at indices ``left`` and ``right``.

    Gathers block by block, right before adding: the gather touches every point (cache misses
    on scattered objects), and the block's additions then find them in cache (measured ~3%
    faster than gathering everything first).
    """
    sum_x: list[int] = []
    sum_y: list[int] = []
    cancelled: list[int] = []
    for start in range(0, len(left), _BATCH_BLOCK):
        end = start + _BATCH_BLOCK
        lefts, rights = _gather(left[start:end], xs, ys), _gather(right[start:end], xs, ys)
        block_x, block_y, block_cancelled = _batch_add_block(*lefts, *rights)
        cancelled += (start + i for i in block_cancelled)
        sum_x += block_x
        sum_y += block_y
    return sum_x, sum_y, cancelled


def _window_sums(
    keys: np.ndarray, xs: list[int], ys: list[int], windows: int, buckets_per_window: int
) -> list[JacobianPoint]:
    """For each window j, Σ_m m·S_(j,m) over its bucket sums (key j·M + m - 1 holds S_(j,m)).

    With suffix sums U_m = Σ_(m' >= m) S_m', Σ_m m·S_m = Σ_m U_m. The M buckets of a window
    are cut into K lanes of L = M/K buckets. Lane t's local suffix sums sum to
    Σ_i (i + 1)·S_(tL+i+1); what they miss is L·t·T_t, T_t being the lane's total, so
    Σ_m m·S_m = Σ (all local suffix sums) + L·Σ_t t·T_t.
    """
    lanes_per_window = 1 << ((buckets_per_window.bit_length() - 1) // 2)
    lane_length = buckets_per_window // lanes_per_window
    lanes = windows * lanes_per_window
    suffix_lanes, suffix_x, suffix_y, totals = _lane_suffix_sums(keys, xs, ys, lanes, lane_length)
    if np is None:
        window_list = [lane // lanes_per_window for lane in suffix_lanes]
        order = sorted(range(len(window_list)), key=window_list.__getitem__)  # stable, as argsort below
        window_of = [window_list[i] for i in order]
    else:
        window_array = np.array(suffix_lanes, dtype=np.int64) // lanes_per_window
        order = np.argsort(window_array, kind="stable")
        window_of = window_array[order]
    inner_keys, inner_x, inner_y = sum_runs(window_of, *_gather(order, suffix_x, suffix_y))
    sums = [INFINITY] * windows
    for j, x, y in zip(_as_list(inner_keys), inner_x, inner_y, strict=True):
        sums[j] = (x, y, _ONE)
    for j in range(windows):
        weighted = _weighted_by_index(totals[j * lanes_per_window : (j + 1) * lanes_per_window])
        for _ in range(lane_length.bit_length() - 1):  # times L, a power of two
            weighted = jacobian_double(weighted)
        sums[j] = jacobian_add(sums[j], weighted)
    return sums


def _lane_suffix_sums(
    keys: np.ndarray, xs: list[int], ys: list[int], lanes: int, lane_length: int
) -> tuple[list[int], list[int], list[int], list[AffinePoint | None]]:
    """Every non-infinite local suffix sum of every lane, and each lane's total.

    Lane ``l`` holds the points with keys l·L .. l·L + L - 1 (missing keys are empty buckets).
    All lanes step down from position L - 1 to 0 together, one batched addition per step.
    Returns (lane of each suffix sum, their x, their y, totals by lane).
    """
    grid_x: list[int | None] = [None] * (lanes * lane_length)
    grid_y: list[int | None] = [None] * (lanes * lane_length)
    for key, x, y in zip(_as_list(keys), xs, ys, strict=True):
        grid_x[key] = x
        grid_y[key] = y
    run_x: list = [None] * lanes
    run_y: list = [None] * lanes
    seen_lanes: list[int] = []
    seen_x: list[int] = []
    seen_y: list[int] = []
    for i in range(lane_length - 1, -1, -1):
        cells = range(i, lanes * lane_length, lane_length)  # position i of every lane
        adding = []
        for lane, cell in enumerate(cells):
            if grid_x[cell] is None:
                continue
            if run_x[lane] is None:
                run_x[lane], run_y[lane] = grid_x[cell], grid_y[cell]
            else:
                adding.append(lane)
        if adding:
            sum_x, sum_y, cancelled = batch_add_xy(
                [run_x[lane] for lane in adding], [run_y[lane] for lane in adding],
                [grid_x[cells[lane]] for lane in adding], [grid_y[cells[lane]] for lane in adding],
            )
            for lane, x, y in zip(adding, sum_x, sum_y, strict=True):
                run_x[lane], run_y[lane] = x, y
            for position in cancelled:
                run_x[adding[position]] = run_y[adding[position]] = None
        for lane in range(lanes):
            if run_x[lane] is not None:
                seen_lanes.append(lane)
                seen_x.append(run_x[lane])
                seen_y.append(run_y[lane])
    totals = [None if x is None else (x, y) for x, y in zip(run_x, run_y, strict=True)]
    return seen_lanes, seen_x, seen_y, totals


def _weighted_by_index(points: list[AffinePoint | None]) -> JacobianPoint:
    """Σ_t t·points[t] (None = infinity) by a running sum from the last index down to 1."""
    weighted = INFINITY
    suffix = INFINITY
    for point in reversed(points[1:]):
        if point is not None:
            suffix = jacobian_add_affine(suffix, *point)
        weighted = jacobian_add(weighted, suffix)
    return weighted


# ---------------------------------------------------------------------------------------
# Fixed-base tables
# ---------------------------------------------------------------------------------------

#: Window of the fixed-base tables: 11 GLV windows x 2^11 affine points (7.6 MB per base).
FIXED_BASE_WINDOW = 12


class FixedBaseTable:
    """All signed-digit multiples of one G1 point needed to multiply it without doublings.

    ``rows_x[j][m - 1], rows_y[j][m - 1]`` are the affine coordinates of m·2^(c·j)·base for m in
    1..2^(c-1); the GLV split lets the same rows serve the second half-scalar through the
    endomorphism (one multiplication by BETA). Coordinates live in flat lists of numbers, which
    the garbage collector does not scan (tuples of them would slow every collection).
    """

    __slots__ = ("_rows_x", "_rows_y", "_window", "_windows")

    def __init__(self, base: JacobianPoint, window_bits: int = FIXED_BASE_WINDOW) -> None:
        self._window = window_bits
        self._windows = -(-_GLV_HALF_BITS // window_bits)
        affine = batch_to_affine([base])[0]
        if affine is None:
            self._rows_x: list[list[int]] = []
            self._rows_y: list[list[int]] = []
        else:
            self._rows_x, self._rows_y = _fixed_base_rows(affine, window_bits, self._windows)

    def terms(self, scalar: int) -> tuple[list[int], list[int]]:
        """Coordinates (xs, ys) of affine points whose sum is scalar·base."""
        k = scalar % R
        xs: list[int] = []
        ys: list[int] = []
        if not self._rows_x or not k:
            return xs, ys
        p = _P
        beta = _BETA
        k1, k2 = glv_split(k)
        for half, endomorphic in ((k1, False), (k2, True)):
            if not half:  # k2 = 0 whenever k < LAMBDA, e.g. a 64-bit committed value
                continue
            digits = signed_digits(half, self._window, self._windows)
            for row_x, row_y, d in zip(self._rows_x, self._rows_y, digits, strict=True):
                if d:
                    x = row_x[abs(d) - 1]
                    y = row_y[abs(d) - 1]
                    xs.append(beta * x % p if endomorphic else x)
                    ys.append(y if d > 0 else p - y)
        return xs, ys

    def mul(self, scalar: int) -> JacobianPoint:
        """scalar·base."""
        return sum_affine(*self.terms(scalar))


def _fixed_base_rows(base: AffinePoint, c: int, windows: int) -> tuple[list[list[int]], list[list[int]]]:
    """Coordinates of rows[j] = [m·2^(c·j)·base for m in 1..2^(c-1)], built level by level in batches."""
    row_bases = [base]
    for _ in range(windows - 1):
        acc = (row_bases[-1][0], row_bases[-1][1], _ONE)
        for _ in range(c):
            acc = jacobian_double(acc)
        row_bases.append(batch_to_affine([acc])[0])  # type: ignore[arg-type]
    rows_x = [[x] for x, _ in row_bases]
    rows_y = [[y] for _, y in row_bases]
    size = 1 << (c - 1)
    # Level by level every row grows from [1..L]·b to [1..2L]·b as (m + L)·b = m·b + L·b,
    # one batched addition per level for all rows (m = L is a doubling: the slow path).
    while len(rows_x[0]) < size:
        length = len(rows_x[0])
        grow = min(length, size - length)
        x1s = [x for row in rows_x for x in row[:grow]]
        y1s = [y for row in rows_y for y in row[:grow]]
        x2s = [row[length - 1] for row in rows_x for _ in range(grow)]
        y2s = [row[length - 1] for row in rows_y for _ in range(grow)]
        sum_x, sum_y, _ = batch_add_xy(x1s, y1s, x2s, y2s)  # never cancels: m + L < R
        for j in range(windows):
            rows_x[j] += sum_x[j * grow : (j + 1) * grow]
            rows_y[j] += sum_y[j * grow : (j + 1) * grow]
    return rows_x, rows_y


# ---------------------------------------------------------------------------------------
# Subgroup membership
# ---------------------------------------------------------------------------------------


def _mul_by_abs_z(p1: JacobianPoint) -> JacobianPoint:
    """|z|·P1 by double-and-add (|z| has 6 set bits), correct for any curve point."""
    acc = p1
    for bit in bin(-BLS_Z)[3:]:
        acc = jacobian_double(acc)
        if bit == "1":
            acc = jacobian_add(acc, p1)
    return acc


def in_g1(point: AffinePoint) -> bool:
    """Whether a point of E (affine, on the curve) lies in the order-R subgroup G1.

    Scott's test (ePrint 2021/1130, as in blst): P is in G1 iff phi2(P) == [-z^2]·P, where
    phi2(x, y) = (BETA^2·x, y). Cost: about 128 doublings instead of 255 for [R]·P == O.
    """
    x, y = _mpz(point[0]), _mpz(point[1])
    z2p = _mul_by_abs_z(_mul_by_abs_z((x, y, _ONE)))  # [z^2]·P since z^2 = |z|^2
    return jacobian_eq(z2p, (_BETA_SQUARED * x % _P, (-y) % _P, _ONE))


# ---------------------------------------------------------------------------------------
# Backend object
# ---------------------------------------------------------------------------------------


class PureBackend:
    """The pure-Python engine behind :mod:`zkclear.crypto.group` (gmpy2 where installed)."""

    name = "pure"

    def identity(self) -> JacobianPoint:
        return INFINITY

    def generator(self) -> JacobianPoint:
        return (_mpz(GENERATOR_X), _mpz(GENERATOR_Y), _ONE)

    add = staticmethod(jacobian_add)
    double = staticmethod(jacobian_double)
    neg = staticmethod(jacobian_neg)
    mul = staticmethod(glv_mul)
    msm = staticmethod(msm)
    eq = staticmethod(jacobian_eq)
    to_affine = staticmethod(to_affine)

    def is_identity(self, a: JacobianPoint) -> bool:
        return not a[2]

    def batch_to_affine(self, points: Sequence[JacobianPoint]) -> list[AffinePoint | None]:
        return [None if pt is None else (int(pt[0]), int(pt[1])) for pt in batch_to_affine(points)]

    def from_affine(self, xy: AffinePoint | None) -> JacobianPoint:
        return INFINITY if xy is None else (_mpz(xy[0]), _mpz(xy[1]), _ONE)

    def fold(self, lo: Sequence[JacobianPoint], hi: Sequence[JacobianPoint], k: int) -> list[JacobianPoint]:
        """[lo[i] + k·hi[i]], point by point (zkclear.crypto.pure_fold does it in lock step)."""
        return [jacobian_add(a, glv_mul(b, k)) for a, b in zip(lo, hi, strict=True)]

    def in_subgroup(self, a: JacobianPoint) -> bool:
        xy = to_affine(a)
        return xy is None or in_g1(xy)

    def fixed_base_table(self, a: JacobianPoint) -> FixedBaseTable:
        return FixedBaseTable(a)

    def fixed_base_sums(
        self, tables: Sequence[FixedBaseTable], rows: Sequence[Sequence[int]]
    ) -> list[JacobianPoint]:
        if len(rows) == 1:
            return [self._fixed_base_sum(tables, rows[0])]
        keys: list[int] = []
        xs: list[int] = []
        ys: list[int] = []
        for index, row in enumerate(rows):
            for table, k in zip(tables, row, strict=True):
                term_x, term_y = table.terms(k)
                xs += term_x
                ys += term_y
                keys += [index] * len(term_x)
        run_keys, sum_x, sum_y = sum_runs(keys if np is None else np.array(keys, dtype=np.int64), xs, ys)
        sums = [INFINITY] * len(rows)
        for index, x, y in zip(_as_list(run_keys), sum_x, sum_y, strict=True):
            sums[index] = (x, y, _ONE)
        return sums

    @staticmethod
    def _fixed_base_sum(tables: Sequence[FixedBaseTable], row: Sequence[int]) -> JacobianPoint:
        xs: list[int] = []
        ys: list[int] = []
        for table, k in zip(tables, row, strict=True):
            term_x, term_y = table.terms(k)
            xs += term_x
            ys += term_y
        return sum_affine(xs, ys)

