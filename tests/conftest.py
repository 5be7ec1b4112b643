"""Shared fixtures: py-ecc as the reference oracle for BLS12-381 G1.

The suite runs on the pure-Python engine unless ZKCLEAR_BACKEND says otherwise: it is the reference engine,
and the native one (installed with the test extra) is cross-checked against it by the backend tests, which
instantiate it directly. This must be set before zkclear.crypto.group is first imported (it picks its engine
at import); subprocesses started by tests inherit it.
"""

from __future__ import annotations

import os

os.environ.setdefault("ZKCLEAR_BACKEND", "pure")

import pytest


class G1Oracle:
    """py_ecc.optimized_bls12_381 behind affine-int inputs and outputs (None = infinity).

    Slow (~10 ms per scalar multiplication): tests use it for a handful of cases each.
    """

    def __init__(self) -> None:
        from py_ecc import optimized_bls12_381 as curve

        self._curve = curve

    def _point(self, xy: tuple[int, int] | None):
        FQ = self._curve.FQ
        return self._curve.Z1 if xy is None else (FQ(xy[0]), FQ(xy[1]), FQ.one())

    def _affine(self, point) -> tuple[int, int] | None:
        if self._curve.is_inf(point):
            return None
        x, y = self._curve.normalize(point)
        return (int(x), int(y))

    def generator(self) -> tuple[int, int]:
        return self._affine(self._curve.G1)  # type: ignore[return-value]

    def mul_generator(self, k: int) -> tuple[int, int] | None:
        return self._affine(self._curve.multiply(self._curve.G1, k))

    def mul(self, xy: tuple[int, int] | None, k: int) -> tuple[int, int] | None:
        return self._affine(self._curve.multiply(self._point(xy), k))

    def add(self, a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
        return self._affine(self._curve.add(self._point(a), self._point(b)))

    def double(self, a: tuple[int, int] | None) -> tuple[int, int] | None:
        return self._affine(self._curve.double(self._point(a)))

    def neg(self, a: tuple[int, int] | None) -> tuple[int, int] | None:
        return self._affine(self._curve.neg(self._point(a)))

    def compress(self, a: tuple[int, int] | None) -> bytes:
        from py_ecc.bls.point_compression import compress_G1

        return int(compress_G1(self._point(a))).to_bytes(48, "big")

    def decompress(self, data: bytes) -> tuple[int, int] | None:
        from py_ecc.bls.point_compression import decompress_G1

        return self._affine(decompress_G1(int.from_bytes(data, "big")))


@pytest.fixture(scope="session")
def g1_oracle() -> G1Oracle:
    """The py-ecc reference implementation of G1, on affine int coordinates."""
    return G1Oracle()


@pytest.fixture(params=["pure", "arkworks"])
def each_backend(request, monkeypatch):
    """Run a test of the public G1 API once per engine, by swapping ``group.BACKEND``.

    The arkworks run is skipped where py-arkworks-bls12381 is not installed (CI); the pure
    run always happens, whatever ``ZKCLEAR_BACKEND`` selected at import.
    """
    from zkclear.crypto import group

    if request.param == "pure":
        from zkclear.crypto.pure_g1 import PureBackend

        backend = PureBackend()
    else:
        pytest.importorskip("py_arkworks_bls12381")
        from zkclear.crypto.arkworks_g1 import ArkworksBackend

        backend = ArkworksBackend()
    monkeypatch.setattr(group, "BACKEND", backend)
    return backend
