"""The canonical encoding of an epoch's inputs, written as a stream.

``EpochInputs.canonical_bytes()`` builds the encoding in memory; an epoch whose fills are read in batches
(:class:`~zkclear.clearing.inputs.FillSource`) is encoded here instead, into a file, holding one batch at a
time. The bytes are the same (tests check it): sorted keys put ``epoch`` first and ``fills`` second, the fills
object is eight columns in key order, and each column is the comma-joined encoding of its values, so each
column is spilled batch by batch into a file of its own and the files are joined.

    {"epoch":E,"fills":{"buyer":[...],"buyer_fee":[...],"fill_id":[...],"instrument":[...],"price":[...],
     "seller":[...],"seller_fee":[...],"size":[...]},<the other keys, sorted>}

The opening records and the transfers (as many as the accounts an epoch opens or funds) are written the same
way, a block of records at a time: the other keys are encoded with both arrays empty, and each ``[]`` is filled
with the comma-joined encodings of its records' blocks.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from zkclear.clearing.inputs import EpochInputs, Fills, opens_canonical, transfers_canonical
from zkclear.clearing.state import canonical_json

#: the fills object's keys, in the order the canonical encoding writes them
FILL_COLUMNS = ("buyer", "buyer_fee", "fill_id", "instrument", "price", "seller", "seller_fee", "size")
_TEXT_COLUMNS = frozenset(("buyer", "fill_id", "instrument", "seller"))
_BLOCK = 1 << 20
#: opening records or transfers encoded at a time
_RECORDS = 4096


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
    others = inputs.canonical_without_records()
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
        out.write(b"},")
        _write_others(out, canonical_json(others)[1:], inputs)
        length = out.tell()
    for name in FILL_COLUMNS:
        (folder / f"fills-{name}.part").unlink()
    return EncodedInputs(target, length, fills, volume)


def _write_others(out: BinaryIO, encoded: bytes, inputs: EpochInputs) -> None:
    """Write ``encoded`` (the keys after ``fills``, with ``opens`` and ``transfers`` empty) with the two arrays
    filled in, block by block. A ``"`` inside a JSON string is escaped, so each empty member is found once."""
    opens, transfers = b',"opens":[]', b',"transfers":[]}'
    at_opens, at_transfers = encoded.find(opens), encoded.find(transfers)
    if at_opens < 0 or at_transfers != len(encoded) - len(transfers):  # the layout above relies on it
        raise AssertionError("the canonical inputs' opens and transfers are not where the layout puts them")
    out.write(encoded[:at_opens] + opens[:-1])
    _write_records(out, inputs.opens, opens_canonical)
    out.write(b"]" + encoded[at_opens + len(opens):at_transfers] + transfers[:-2])
    _write_records(out, inputs.transfers, transfers_canonical)
    out.write(b"]}")


def _write_records(out: BinaryIO, records: Sequence, encode: Callable[[Sequence], list]) -> None:
    for start in range(0, len(records), _RECORDS):
        out.write((b"," if start else b"") + canonical_json(encode(records[start:start + _RECORDS]))[1:-1])


def _column(batch: Fills, name: str) -> bytes:
    """The comma-joined canonical encoding of one column of a batch."""
    values = getattr(batch, name)
    return canonical_json(list(values) if name in _TEXT_COLUMNS else values.tolist())[1:-1]
