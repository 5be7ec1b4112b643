"""The canonical encoding of an epoch's inputs, written as a stream.

``EpochInputs.canonical_bytes()`` builds the encoding in memory; an epoch whose fills are read in batches
(:class:`~zkclear.clearing.inputs.FillSource`) is encoded here instead, into a file, holding one batch at a
time. The bytes are the same (tests check it): sorted keys put ``epoch`` first and ``fills`` second, the fills
object is eight columns in key order, and each column is the comma-joined encoding of its values, so each
column is spilled batch by batch into a file of its own and the files are joined.

    {"epoch":E,"fills":{"buyer":[...],"buyer_fee":[...],"fill_id":[...],"instrument":[...],"price":[...],
     "seller":[...],"seller_fee":[...],"size":[...]},<the other keys, sorted>}
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from zkclear.clearing.inputs import EpochInputs, Fills
from zkclear.clearing.state import canonical_json

#: the fills object's keys, in the order the canonical encoding writes them
FILL_COLUMNS = ("buyer", "buyer_fee", "fill_id", "instrument", "price", "seller", "seller_fee", "size")
_TEXT_COLUMNS = frozenset(("buyer", "fill_id", "instrument", "seller"))
_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class EncodedInputs:
    """The canonical inputs written to ``path`` (``length`` bytes), with the count and volume (lots) of the
    fills they hold."""

    path: Path
    length: int
    fills: int
    volume: int


def write_canonical_inputs(inputs: EpochInputs, folder: Path) -> EncodedInputs:
    """Write ``inputs``'s canonical encoding to ``folder/inputs.json`` (scratch files beside it), one batch of
    fills at a time."""
    folder = Path(folder)
    others = inputs.canonical_without_fills()
    epoch = others.pop("epoch")
    if any(key <= "fills" for key in others):  # the layout above relies on it
        raise AssertionError("a canonical inputs key sorts before 'fills'")
    spills = {name: (folder / f"fills-{name}.part").open("wb") for name in FILL_COLUMNS}
    written = dict.fromkeys(FILL_COLUMNS, False)
    fills = volume = 0
    try:
        for batch in inputs.fills.batches():
            if not len(batch):
                continue
            fills += len(batch)
            volume += int(batch.size.sum())
            for name in FILL_COLUMNS:
                spills[name].write((b"," if written[name] else b"") + _column(batch, name))
                written[name] = True
    finally:
        for handle in spills.values():
            handle.close()
    target = folder / "inputs.json"
    with target.open("wb") as out:
        out.write(canonical_json({"epoch": epoch})[:-1] + b',"fills":{')
        for k, name in enumerate(FILL_COLUMNS):
            out.write((b"," if k else b"") + f'"{name}":['.encode("ascii"))
            with (folder / f"fills-{name}.part").open("rb") as part:
                shutil.copyfileobj(part, out, _BLOCK)
            out.write(b"]")
        out.write(b"}," + canonical_json(others)[1:])
        length = out.tell()
    for name in FILL_COLUMNS:
        (folder / f"fills-{name}.part").unlink()
    return EncodedInputs(target, length, fills, volume)


def _column(batch: Fills, name: str) -> bytes:
    """The comma-joined canonical encoding of one column of a batch."""
    values = getattr(batch, name)
    return canonical_json(list(values) if name in _TEXT_COLUMNS else values.tolist())[1:-1]
