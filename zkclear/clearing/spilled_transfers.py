"""An epoch's transfers kept on disk while it is cleared (issue 15: the clearing's memory).

``transfers.csv`` of a first epoch is as long as the accounts (every account funded). ``epoch run`` parses it a
block at a time (``zkclear.clearing.io.parse_transfers`` with a spill folder) and writes each parsed block into
its private scratch folder as ``.npz`` (no pickles: numbers as int64, each text column as its UTF-8 values joined
by line feeds — identifiers are printable, none holds one). :class:`SpilledTransfers` is the sequence of those
records read back a block at a time: every pass over the transfers (the canonical encoding, validation, the
ledger's id checks) holds one block, not the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import overload

import numpy as np

from zkclear.clearing.inputs import RecordColumns, Transfer, Transfers
from zkclear.files import naming_write_errors

_TEXT = ("transfer_id", "kind", "account", "asset")
_NUMBERS = ("amount", "lines")


def save_block(path: Path, block: Transfers) -> None:
    """Write one parsed block (``asset`` empty when the file has no asset column)."""
    texts = {name: np.frombuffer("\n".join(getattr(block, name)).encode("utf-8"), dtype=np.uint8) for name in _TEXT}
    with naming_write_errors(path), path.open("wb") as handle:  # a full disk names the scratch file
        np.savez(handle, **texts, **{name: getattr(block, name) for name in _NUMBERS},
                 has_asset=np.array(bool(block.asset)))


def load_block(path: Path, shown_as: str) -> Transfers:
    with np.load(path, allow_pickle=False) as data:
        count = len(data["amount"])
        texts = {name: tuple(data[name].tobytes().decode("utf-8").split("\n")) if count else () for name in _TEXT}
        if not bool(data["has_asset"]):
            texts["asset"] = ()
        return Transfers(**texts, amount=data["amount"], lines=data["lines"], path=shown_as)


@dataclass(frozen=True, slots=True, eq=False)
class SpilledTransfers(RecordColumns[Transfer]):
    """The transfers of ``transfers.csv`` (``path``) saved as blocks ``0.npz``, ``1.npz``, … in ``folder``, ``sizes``
    records each; a sequence of :class:`Transfer` in file order (equal to a tuple of them), read a block at a time.
    The folder is private scratch (the run's), removed with it."""

    folder: Path
    sizes: tuple[int, ...]
    path: str

    def __len__(self) -> int:
        return sum(self.sizes)

    @property
    def scratch(self) -> Path:
        """Where the transfer-id check keeps its database (:class:`~zkclear.clearing.inputs.TransferSource`)."""
        return self.folder

    def batches(self) -> Iterator[Transfers]:
        for k in range(len(self.sizes)):
            yield load_block(self.folder / f"{k}.npz", self.path)

    def __iter__(self) -> Iterator[Transfer]:
        for block in self.batches():
            yield from block

    @overload
    def __getitem__(self, k: int) -> Transfer: ...

    @overload
    def __getitem__(self, k: slice) -> Transfers: ...

    def __getitem__(self, k: int | slice) -> Transfer | Transfers:
        if isinstance(k, int):
            index = k + len(self) if k < 0 else k
            if not 0 <= index < len(self):
                raise IndexError("transfer index out of range")
            return self[index:index + 1][0]
        start, stop, step = k.indices(len(self))
        if step != 1:
            raise ValueError("spilled transfers are sliced with step 1")
        parts, offset = [], 0
        for number, size in enumerate(self.sizes):  # the blocks the slice overlaps, read once each
            if offset < stop and start < offset + size:
                block = load_block(self.folder / f"{number}.npz", self.path)
                parts.append(block[max(start - offset, 0):stop - offset])
            offset += size
        return joined_transfers(parts, self.path)


def joined_transfers(blocks: Sequence[Transfers], path: str) -> Transfers:
    """Consecutive blocks of one file's transfers as one :class:`Transfers`."""
    if len(blocks) == 1:
        return blocks[0]

    def joined(name: str) -> tuple[str, ...]:
        return tuple(chain.from_iterable(getattr(block, name) for block in blocks))

    def numbers(name: str) -> np.ndarray:
        return np.concatenate([getattr(block, name) for block in blocks] or [np.zeros(0, dtype=np.int64)])

    return Transfers(joined("transfer_id"), joined("kind"), joined("account"), numbers("amount"), numbers("lines"),
                     joined("asset"), path)
