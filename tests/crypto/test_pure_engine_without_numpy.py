"""The pure engine without numpy (a browser on Pyodide): list bookkeeping gives the numpy path's results."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import numpy as np
import pytest

from zkclear.crypto import pure_curve, pure_g1, pure_msm
from zkclear.crypto.field import R

ENGINE = pure_g1.PureBackend()


@pytest.fixture
def without_numpy(monkeypatch):
    """Every pure_msm function reads the module's ``np`` when called: None selects the list path."""
    monkeypatch.setattr(pure_msm, "np", None)


def _points(count: int, seed: int) -> list:
    rng = random.Random(seed)
    g = ENGINE.generator()
    return [ENGINE.mul(g, rng.randrange(1, R)) for _ in range(count)]


def test_bucket_entries_are_the_numpy_paths_in_the_same_order():
    rng = random.Random(1)
    scalars = [rng.randrange(1 << 128) for _ in range(37)] + [0, 1, (1 << 128) - 1]
    for c in (3, 5, 8):
        windows = -(-129 // c)
        keys, sources = pure_msm._bucket_entries(scalars, c, windows)
        digits = pure_msm._signed_digit_matrix(scalars, c, windows).ravel()
        entries = np.flatnonzero(digits)
        n = len(scalars)
        np_keys = (entries // n) * (1 << (c - 1)) + np.abs(digits[entries]) - 1
        np_sources = entries % n + n * (digits[entries] < 0)
        order = np.argsort(np_keys, kind="stable")
        assert keys == np_keys[order].tolist()
        assert sources == np_sources[order].tolist()
    with pytest.raises(ValueError):
        pure_msm._bucket_entries([1 << 128], 5, 26)


def test_sum_runs_on_lists_equals_the_numpy_rounds_with_cancellations():
    affine = [ENGINE.to_affine(p) for p in _points(12, 2)]
    p = pure_curve.P
    # in key order: runs of 1, 2, 3, 5 points; the run of key 9 cancels (a point and its negative)
    keys = [0, 1, 1, 2, 2, 2, 5, 5, 5, 5, 5, 9, 9, 11]
    entries = [affine[i] for i in range(11)] + [affine[11], (affine[11][0], p - affine[11][1]), affine[0]]
    # the points are stored shuffled; index[i] says where the i-th entry in key order is
    storage = list(range(len(keys)))
    random.Random(3).shuffle(storage)
    xs = [0] * len(keys)
    ys = [0] * len(keys)
    for position, (x, y) in zip(storage, entries, strict=True):
        xs[position], ys[position] = x, y
    np_result = pure_msm.sum_runs(np.array(keys), xs, ys, np.array(storage))
    list_result = pure_msm._sum_runs_lists(keys, xs, ys, storage)
    assert list_result[0] == np_result[0].tolist() == [0, 1, 2, 5, 11]
    assert [int(x) for x in list_result[1]] == [int(x) for x in np_result[1]]
    assert [int(y) for y in list_result[2]] == [int(y) for y in np_result[2]]
    run_of_three = pure_curve.sum_affine([x for x, _ in entries[3:6]], [y for _, y in entries[3:6]])
    assert ENGINE.to_affine(run_of_three) == (list_result[1][2], list_result[2][2])


@pytest.mark.parametrize("count", [5, 64, 300])
def test_msm_without_numpy_equals_msm_with_it(count, monkeypatch):
    rng = random.Random(count)
    points = _points(16, 3)
    points = [points[i % 16] for i in range(count)]
    scalars = [rng.randrange(R) for _ in range(count)]
    scalars[:3] = [1, 1, R - 1]  # equal digits (shared buckets) and a large scalar
    points[3] = ENGINE.neg(points[4])
    scalars[3] = scalars[4]  # a pair that cancels
    expected = ENGINE.to_affine(ENGINE.msm(points, scalars))
    monkeypatch.setattr(pure_msm, "np", None)
    assert ENGINE.to_affine(ENGINE.msm(points, scalars)) == expected


def test_fixed_base_sums_without_numpy_equal_the_numpy_path(monkeypatch):
    bases = _points(3, 4)
    tables = [ENGINE.fixed_base_table(b) for b in bases]
    rows = [[5, 7, 11], [0, 0, 0], [R - 1, 1, 2**100], [3, R - 3, 9]]
    expected = [ENGINE.to_affine(s) for s in ENGINE.fixed_base_sums(tables, rows)]
    monkeypatch.setattr(pure_msm, "np", None)
    assert [ENGINE.to_affine(s) for s in ENGINE.fixed_base_sums(tables, rows)] == expected
    assert expected[1] is None


def test_msm_without_numpy_matches_py_ecc(without_numpy, g1_oracle):
    points = _points(9, 5)
    scalars = [random.Random(6).randrange(R) for _ in range(9)]
    expected = None
    for point, k in zip(points, scalars, strict=True):
        expected = g1_oracle.add(expected, g1_oracle.mul(ENGINE.to_affine(point), k))
    assert ENGINE.to_affine(ENGINE.msm(points, scalars)) == expected


_BLOCKED = """
import importlib.abc, sys
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("numpy", "gmpy2", "galois", "numba", "py_ecc", "coincurve"):
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Blocker())
from zkclear.crypto import pure_curve, pure_g1, pure_msm
from zkclear.crypto.generators import generator_vector
assert pure_msm.np is None and pure_curve.mpz is int
b = pure_g1.PureBackend()
points = [g.raw for g in generator_vector(b"zkclear/test/no-numpy", 40)]
print(b.to_affine(b.msm(points, [k * 7919 + 3 for k in range(40)])))
"""


def test_engine_and_hash_to_curve_run_with_numpy_gmpy2_and_py_ecc_blocked():
    env = {**os.environ, "ZKCLEAR_BACKEND": "pure"}
    result = subprocess.run([sys.executable, "-c", _BLOCKED], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    from zkclear.crypto.generators import generator_vector

    points = [g.raw for g in generator_vector(b"zkclear/test/no-numpy", 40)]
    expected = ENGINE.to_affine(ENGINE.msm(points, [k * 7919 + 3 for k in range(40)]))
    assert result.stdout.strip() == str(expected)
