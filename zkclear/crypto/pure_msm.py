"""Multi-scalar multiplication for the pure engine: Pippenger over the GLV half-scalars, with every bucket summed by
rounds of batched affine additions (docs/performance.md, "What the pure engine does, and why")."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

from zkclear.crypto.field import R
from zkclear.crypto.pure_curve import (
    BATCH_BLOCK,
    GLV_HALF_BITS,
    INFINITY,
    MPZ_BETA,
    MPZ_ONE,
    MPZ_P,
    AffinePoint,
    JacobianPoint,
    batch_add_block,
    batch_add_xy,
    batch_double_xy,
    batch_to_affine,
    jacobian_add,
    jacobian_add_affine,
    jacobian_double,
)
from zkclear.crypto.pure_scalar_mul import glv_mul, glv_split, signed_digits

try:  # numpy does the MSM's index bookkeeping; without it (a browser, on Pyodide) plain lists do the same
    import numpy as np
except ImportError:  # tests/crypto/test_backends.py runs this path in a subprocess
    np = None


def msm_window_bits(point_count: int) -> int:
    """The Pippenger window c minimizing the estimated number of affine additions.

    Per window: about ``point_count`` additions into the 2^(c-1) buckets, then about 2^c to
    weight the buckets (running sums, then summing them). All are batched affine additions
    of about the same cost.
    """

    def cost(c: int) -> int:
        return -(-GLV_HALF_BITS // c) * (point_count + (1 << c))

    return min(range(2, 20), key=cost)


def msm(points: Sequence[JacobianPoint], scalars: Sequence[int]) -> JacobianPoint:
    """Σ scalars[i]·points[i] for points in G1 (scalars reduced mod R)."""
    affine = batch_to_affine(points)
    terms = [(pt, k % R) for pt, k in zip(affine, scalars, strict=True) if pt is not None and k % R]
    if len(terms) > _MSM_DIRECT_MAX:
        grouped = _group_equal_scalars(terms)
        if grouped is not None:
            return msm(*grouped)
    if _fixed_rows and np is not None and len(terms) >= _FIXED_MIN_TERMS:
        fixed = [(rows, k) for point, k in terms if (rows := _fixed_rows.get(point)) is not None]
        if len(fixed) >= _FIXED_MIN_TERMS:
            rest = [((x, y, MPZ_ONE), k) for (x, y), k in terms if (x, y) not in _fixed_rows]
            total = _fixed_base_msm(fixed)
            if rest:
                total = jacobian_add(total, msm([point for point, _ in rest], [k for _, k in rest]))
            return total
    if len(terms) <= _MSM_DIRECT_MAX:
        total = INFINITY
        for (x, y), k in terms:
            total = jacobian_add(total, glv_mul((x, y, MPZ_ONE), k))
        return total
    xs: list[int] = []
    ys: list[int] = []
    halves: list[int] = []
    p = MPZ_P
    beta = MPZ_BETA
    for (x, y), k in terms:
        k1, k2 = glv_split(k)
        xs += (x, beta * x % p)  # P and phi(P) = [LAMBDA]P
        ys += (y, y)
        halves += (k1, k2)
    return pippenger(xs, ys, halves, GLV_HALF_BITS)


#: Window (bits) of the precomputed rows of :func:`prepare_fixed_bases`, and their count for a GLV half.
_FIXED_WINDOW = 10
_FIXED_WINDOWS = -(-GLV_HALF_BITS // _FIXED_WINDOW)
#: An MSM takes the fixed-base path when at least this many of its terms have prepared bases.
_FIXED_MIN_TERMS = 32
#: Prepared bases by affine coordinates: the rows (x_j, y_j, β·x_j) of 2^(c·j)·P for j < _FIXED_WINDOWS. A
#: per-process cache (like the generator cache): the provers' generators, a few hundred KB per hundred points.
_fixed_rows: dict[tuple[int, int], tuple[list[int], list[int], list[int]]] = {}


def prepare_fixed_bases(points: Sequence[JacobianPoint]) -> None:
    """Precompute 2^(c·j)·P for points that many MSMs will multiply (the range provers' generators): an MSM
    whose terms are mostly such points then needs one set of buckets for all its windows (no per-window
    reduction, no doublings; :func:`_fixed_base_msm`). Costs about 12 batched doublings per point per window."""
    if np is None:  # the fixed-base path uses numpy's bookkeeping; without it MSMs take the plain path
        return
    fresh: dict[tuple[int, int], None] = {}
    for point in batch_to_affine(points):
        if point is not None and point not in _fixed_rows:
            fresh[point] = None
    if not fresh:
        return
    xs = [x for x, _ in fresh]
    ys = [y for _, y in fresh]
    rows_x, rows_y = [xs], [ys]
    for _ in range(_FIXED_WINDOWS - 1):
        for _ in range(_FIXED_WINDOW):
            xs, ys = batch_double_xy(xs, ys)
        rows_x.append(xs)
        rows_y.append(ys)
    p, beta = MPZ_P, MPZ_BETA
    for i, point in enumerate(fresh):
        row_x = [row[i] for row in rows_x]
        _fixed_rows[point] = (row_x, [row[i] for row in rows_y], [beta * x % p for x in row_x])


def _fixed_base_msm(terms: list[tuple[tuple[list[int], list[int], list[int]], int]]) -> JacobianPoint:
    """Σ k·P over prepared bases (their rows) and scalars in [1, R): the signed digit of window j of either
    GLV half puts 2^(c·j)·P (or its image under φ) into the bucket of the digit, one bucket set for every
    window; then Σ_m m·S_m as in :func:`_window_sums` with one window."""
    halves: list[int] = []
    for _, k in terms:
        halves += glv_split(k)
    digits = _signed_digit_matrix(halves, _FIXED_WINDOW, _FIXED_WINDOWS).ravel()  # window-major, as below
    xs: list[int] = []
    ys: list[int] = []
    for j in range(_FIXED_WINDOWS):
        for (row_x, row_y, row_phi), _ in terms:
            xs += (row_x[j], row_phi[j])
            ys += (row_y[j], row_y[j])
    entries = np.flatnonzero(digits)
    entry_digits = digits[entries]
    keys = np.abs(entry_digits) - 1
    sources = entries + len(xs) * (entry_digits < 0)
    order = np.argsort(keys.astype(np.uint16), kind="stable")
    p = MPZ_P
    bucket_keys, bucket_x, bucket_y = sum_runs(keys[order], xs + xs, ys + [p - y for y in ys], sources[order])
    return _window_sums(bucket_keys, bucket_x, bucket_y, 1, 1 << (_FIXED_WINDOW - 1))[0]


def _group_equal_scalars(terms: list[tuple[AffinePoint, int]]) -> tuple[list[JacobianPoint], list[int]] | None:
    """(sums, scalars) with Σ k·P over ``terms`` = Σ scalars[j]·sums[j], sums[j] the sum of the points whose
    scalar is scalars[j]; None when fewer than half of the terms share a scalar with another.

    A range proof's commitments to base-16 digits (scalars below 16) and to their reciprocals 1/(e + d) (16
    distinct values) carry hundreds of points but a few dozen distinct scalars: summing each group costs one
    batched affine addition per point, where a Pippenger term costs tens of them.
    """
    groups: dict[int, list[AffinePoint]] = {}
    for point, k in terms:
        groups.setdefault(k, []).append(point)
    if 2 * len(groups) > len(terms):
        return None
    keys = [key for key, points in enumerate(groups.values()) for _ in points]
    xs = [x for points in groups.values() for x, _ in points]
    ys = [y for points in groups.values() for _, y in points]
    return sum_keyed(keys, xs, ys, len(groups)), list(groups)


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
    p = MPZ_P
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
    for start in range(0, len(left), BATCH_BLOCK):
        end = start + BATCH_BLOCK
        lefts, rights = _gather(left[start:end], xs, ys), _gather(right[start:end], xs, ys)
        block_x, block_y, block_cancelled = batch_add_block(*lefts, *rights)
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
        sums[j] = (x, y, MPZ_ONE)
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



def sum_keyed(keys: list[int], xs: list[int], ys: list[int], count: int) -> list[JacobianPoint]:
    """``sums[k]`` = Σ of the finite affine points (xs[i], ys[i]) with keys[i] == k, for k < ``count``; ``keys``
    sorted (infinity where a key has no point or its points cancel)."""
    run_keys, sum_x, sum_y = sum_runs(keys if np is None else np.array(keys, dtype=np.int64), xs, ys)
    sums = [INFINITY] * count
    for index, x, y in zip(_as_list(run_keys), sum_x, sum_y, strict=True):
        sums[index] = (x, y, MPZ_ONE)
    return sums
