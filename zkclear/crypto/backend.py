"""The seam between the public group API (:mod:`zkclear.crypto.group`) and a group engine.

A backend works on its own opaque point representation ("raw" points). Callers never see
raw points: they use :class:`zkclear.crypto.group.G1Point`. The backend is chosen once, at
import, from the ``ZKCLEAR_BACKEND`` environment variable: ``pure`` (the default engine in
:mod:`zkclear.crypto.pure_g1`), ``arkworks`` (native, optional extra ``zkclear[native]``) or
``auto`` (arkworks when installed, else pure). The default is ``auto``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

from zkclear.errors import ConfigurationError

Raw = Any


class FixedBaseTable(Protocol):
    """Precomputed multiples of one base point, for repeated multiplication by that base."""

    def mul(self, scalar: int) -> Raw: ...


class GroupBackend(Protocol):
    """Operations on BLS12-381 G1 points in the backend's raw representation.

    Scalars are Python ints; a backend reduces them mod R itself. Affine coordinates are
    ints in [0, P); ``None`` stands for the point at infinity. Every raw point a backend
    receives is in G1 except the argument of ``in_subgroup``.
    """

    name: str

    def identity(self) -> Raw: ...
    def generator(self) -> Raw: ...
    def add(self, a: Raw, b: Raw) -> Raw: ...
    def double(self, a: Raw) -> Raw: ...
    def neg(self, a: Raw) -> Raw: ...
    def mul(self, a: Raw, scalar: int) -> Raw: ...
    def msm(self, points: Sequence[Raw], scalars: Sequence[int]) -> Raw: ...
    def fold(self, lo: Sequence[Raw], hi: Sequence[Raw], k: int) -> list[Raw]:
        """[lo[i] + k·hi[i] for i]: many points times one scalar (the inner-product prover's fold)."""
        ...

    def prepare_msm_bases(self, points: Sequence[Raw]) -> None:
        """Precompute for points that many MSMs will multiply (may do nothing); results never change."""
        ...

    def combine(self, vectors: Sequence[Sequence[Raw]], scalars: Sequence[int]) -> list[Raw]:
        """[Σ_j scalars[j]·vectors[j][i] for i]: a few vectors, each times one shared scalar."""
        ...

    def eq(self, a: Raw, b: Raw) -> bool: ...
    def is_identity(self, a: Raw) -> bool: ...
    def to_affine(self, a: Raw) -> tuple[int, int] | None: ...
    def batch_to_affine(self, points: Sequence[Raw]) -> list[tuple[int, int] | None]: ...
    def from_affine(self, xy: tuple[int, int] | None) -> Raw:
        """The raw point for affine coordinates already checked to lie on the curve (no subgroup check)."""
        ...

    def in_subgroup(self, a: Raw) -> bool:
        """Whether a point of the curve lies in the prime-order subgroup G1."""
        ...

    def fixed_base_table(self, a: Raw) -> FixedBaseTable: ...

    def fixed_base_sums(self, tables: Sequence[FixedBaseTable], rows: Sequence[Sequence[int]]) -> list[Raw]:
        """[Σ_i row[i]·base_i for row in rows] where tables[i] holds base_i; scalars in [0, R)."""
        ...


def _load(name: str) -> GroupBackend:
    if name == "pure":
        from zkclear.crypto.pure_fold import FoldingPureBackend

        return FoldingPureBackend()
    if name == "arkworks":
        try:
            from zkclear.crypto.arkworks_g1 import ArkworksBackend
        except ImportError as exc:  # the optional extra is not installed
            raise ConfigurationError(
                "ZKCLEAR_BACKEND=arkworks needs the 'native' extra: pip install 'zkclear[native]'"
            ) from exc
        return ArkworksBackend()
    raise ConfigurationError(f"unknown ZKCLEAR_BACKEND {name!r}: expected pure, arkworks or auto")


def select_backend(name: str | None = None) -> GroupBackend:
    """The backend named ``name`` (or by ``ZKCLEAR_BACKEND``); ``auto`` prefers the native one."""
    choice = (name or os.environ.get("ZKCLEAR_BACKEND") or "auto").strip().lower()
    if choice == "auto":
        try:
            return _load("arkworks")
        except ConfigurationError:
            return _load("pure")
    return _load(choice)
