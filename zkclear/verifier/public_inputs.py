"""The epoch's public inputs: everything the statements' public data is derived from (docs/format.md,
"epoch-N.inputs.json"), so that nothing the proofs are sound about is trusted because the operator computed it.

The file is canonical JSON (sorted keys, no whitespace, ASCII, integers only)::

    {"format": "zkclear/public-inputs/v2",
     "epoch": N, "label": "epoch-N", "position_bits": 32,
     "config": "<the deployment's zkclear.toml, verbatim>",
     "previous": {"epoch": N-1,
                  "instruments": [[id, settlement_price, funding_index, expired], ...],   # config order
                  "price_history": [[group, [ticks, ...]], ...],
                  "dynamic_parameters": [[group, effective_epoch, method, observations, vol, mm, im, scan], ...]},
     "inputs": {"marks": [[id, ticks, funding_rate_ppm | null], ...],      # prices.csv / prices.json
                "oracle_quotes": [[id, source, ticks, unix_time], ...],    # oracle.csv
                "funding_rates": [[id, ppm], ...],                         # funding.csv
                "implied_vols": [[id, ppm], ...],                          # vols.csv
                "margin_overrides": [[id, initial_ppm, maintenance_ppm], ...]},   # margins.csv
     "derived": {"marks": [[id, ticks], ...],                # every instrument's price this epoch
                 "fractions": [[id, initial_ppm, maintenance_ppm], ...],
                 "implied_vols": [[id, ppm], ...],
                 "option_values": [[id, value_per_lot], ...],
                 "scan_ranges": [[group, ppm], ...],
                 "oracle_decisions": [{...}, ...],
                 "paused_instruments": [id, ...],
                 "assets": [[id, price_ticks, [[slope, constant], ...], denominator, cap], ...]}}

A deployment whose oracle guard bounds its fallback (``oracle.max_fallback_epochs``, red team session 16) writes
format v3: the same with ``previous.oracle_fallbacks = [[id, epochs], ...]``, the instruments (configuration order)
whose mark at the previous close was the guard's fallback and for how many epochs running; other deployments keep
writing v2 (their files, digests and headers unchanged).

``derived.assets`` (format v2, issue 13) lists every collateral asset with its price this epoch (its price
instrument's mark) and its haircut lines in the value: ``h = ⌊min_t (slope_t · V + constant_t) / denominator⌋``
with ``V = ⌊b · price · num / den⌋`` (empty without collateral assets). A v1 file (written before issue 13) has
no ``assets`` key and is still read; it is recomputed as v1.

``derived`` is what the operator's engine computed from the rest; an auditor recomputes it with the
project's own code (``zkclear.proofs.recompute``) and requires equality, and a participant's ``verify``
shows its marks. The header binds ``SHA-256("zkclear/public-inputs/v1" || file bytes)`` (the domain tag is a hash
domain separator and stays ``v1`` for every format version; the bytes carry their format).

This module only reads and writes the file (standard library only); it computes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from zkclear.errors import EncodingError
from zkclear.jsonsafe import load_json

FORMAT = "zkclear/public-inputs/v2"
#: the format of a deployment that bounds its oracle fallback: v2 with ``previous.oracle_fallbacks``
FORMAT_V3 = "zkclear/public-inputs/v3"
#: the format before issue 13 (no ``derived.assets``): still decoded and recomputed as such
FORMAT_V1 = "zkclear/public-inputs/v1"
DOMAIN = b"zkclear/public-inputs/v1"
#: Bounds on what a public-inputs file may hold (a listing of at most 512 instruments).
MAX_ITEMS = 1 << 16
MAX_TEXT = 1 << 20
MAX_ID = 128
_INT_BOUND = 1 << 64

INT, STR, ID, BOOL, ANY = "int", "str", "id", "bool", "any"


def _opt(spec: Any) -> tuple:
    return ("optional", spec)


def _list(item: Any, limit: int = MAX_ITEMS) -> tuple:
    return ("list", item, limit)


def _row(*items: Any) -> tuple:
    return ("row", items)


_SCHEMA: dict[str, Any] = {
    "format": STR,
    "epoch": INT,
    "label": ID,
    "position_bits": INT,
    "config": STR,
    "previous": {
        "epoch": INT,
        "instruments": _list(_row(ID, INT, INT, BOOL)),
        "price_history": _list(_row(ID, _list(INT))),
        "dynamic_parameters": _list(_row(ID, INT, ID, INT, INT, INT, INT, INT)),
    },
    "inputs": {
        "marks": _list(_row(ID, INT, _opt(INT))),
        "oracle_quotes": _list(_row(ID, ID, INT, INT)),
        "funding_rates": _list(_row(ID, INT)),
        "implied_vols": _list(_row(ID, INT)),
        "margin_overrides": _list(_row(ID, INT, INT)),
    },
    "derived": {
        "marks": _list(_row(ID, INT)),
        "fractions": _list(_row(ID, INT, INT)),
        "implied_vols": _list(_row(ID, INT)),
        "option_values": _list(_row(ID, INT)),
        "scan_ranges": _list(_row(ID, INT)),
        "oracle_decisions": _list(ANY),
        "paused_instruments": _list(ID),
    },
}
_SCHEMA_V2: dict[str, Any] = {**_SCHEMA, "derived": {
    **_SCHEMA["derived"], "assets": _list(_row(ID, INT, _list(_row(INT, INT)), INT, INT))}}
_SCHEMA_V3: dict[str, Any] = {**_SCHEMA_V2, "previous": {
    **_SCHEMA_V2["previous"], "oracle_fallbacks": _list(_row(ID, INT))}}
_SCHEMAS = {FORMAT_V1: _SCHEMA, FORMAT: _SCHEMA_V2, FORMAT_V3: _SCHEMA_V3}


def _check(value: Any, spec: Any, where: str) -> None:
    """Raise EncodingError unless ``value`` has the shape ``spec``."""
    if spec == INT:
        if type(value) is not int or not -_INT_BOUND < value < _INT_BOUND:
            raise EncodingError(f"{where}: expected an integer below 2^64 in magnitude, got {value!r:.60}")
    elif spec in (STR, ID):
        limit = MAX_TEXT if spec == STR else MAX_ID
        # an identifier is printed to the participant's terminal: printable ASCII only (no escape sequence)
        if (type(value) is not str or len(value) > limit
                or (spec == ID and not (value.isascii() and value.isprintable()))):
            raise EncodingError(f"{where}: expected {'text' if spec == STR else 'a printable ASCII identifier'} "
                                f"of at most {limit} characters")
    elif spec == BOOL:
        if type(value) is not bool:
            raise EncodingError(f"{where}: expected true or false")
    elif spec == ANY:
        return
    elif isinstance(spec, dict):
        if type(value) is not dict or set(value) != set(spec):
            found = sorted(value) if type(value) is dict else type(value).__name__
            raise EncodingError(f"{where}: expected an object with keys {sorted(spec)}, got {found}")
        for key, item in spec.items():
            _check(value[key], item, f"{where}.{key}" if where else key)
    elif spec[0] == "optional":
        if value is not None:
            _check(value, spec[1], where)
    elif spec[0] == "list":
        if type(value) is not list or len(value) > spec[2]:
            raise EncodingError(f"{where}: expected a list of at most {spec[2]} items")
        for k, item in enumerate(value):
            _check(item, spec[1], f"{where}[{k}]")
    elif spec[0] == "row":
        if type(value) is not list or len(value) != len(spec[1]):
            raise EncodingError(f"{where}: expected a list of {len(spec[1])} fields")
        for k, (item, item_spec) in enumerate(zip(value, spec[1], strict=True)):
            _check(item, item_spec, f"{where}[{k}]")
    else:  # pragma: no cover - a schema typo
        raise AssertionError(spec)


@dataclass(frozen=True, slots=True)
class PublicInputs:
    """A validated public-inputs document (see the module docstring); ``document`` is its JSON object."""

    document: dict

    @property
    def epoch(self) -> int:
        return self.document["epoch"]

    @property
    def config_text(self) -> str:
        return self.document["config"]

    @property
    def derived(self) -> dict:
        return self.document["derived"]

    def marks(self) -> dict[str, int]:
        """Every listed instrument's price of the epoch (ticks), as the operator derived it."""
        return {instrument: ticks for instrument, ticks in self.document["derived"]["marks"]}

    def assets(self) -> dict[str, tuple[int, tuple[tuple[int, int], ...], int, int]]:
        """Every collateral asset's ``(price_ticks, haircut lines, denominator, cap)`` of the epoch, as the
        operator derived it (empty for a v1 file or a deployment without collateral assets)."""
        return {asset: (price, tuple((slope, constant) for slope, constant in lines), denominator, cap)
                for asset, price, lines, denominator, cap in self.document["derived"].get("assets", [])}

    def to_bytes(self) -> bytes:
        return encode_public_inputs(self.document)

    def digest(self) -> bytes:
        return public_inputs_digest(self.to_bytes())


def _schema(document: Any) -> dict[str, Any]:
    """The schema of the document's format; EncodingError for an unknown one."""
    found = document.get("format") if type(document) is dict else None
    if type(found) is not str or found not in _SCHEMAS:  # a list or object there is unhashable (fuzz s15)
        raise EncodingError(f"format: {found!r:.40} is not one of {sorted(_SCHEMAS)}")
    return _SCHEMAS[found]


def encode_public_inputs(document: dict) -> bytes:
    """The canonical bytes of a public-inputs document (validated first)."""
    _check(document, _schema(document), "")
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def public_inputs_digest(data: bytes) -> bytes:
    """What the epoch header binds: ``SHA-256("zkclear/public-inputs/v1" || file bytes)``."""
    return hashlib.sha256(DOMAIN + bytes(data)).digest()


def decode_public_inputs(data: bytes, *, what: str = "public inputs") -> PublicInputs:
    """Strictly decode a public-inputs file: shape, types, bounds and canonical form; EncodingError naming
    the field otherwise."""
    document = load_json(data, what=what)
    try:
        _check(document, _schema(document), "")
    except EncodingError as exc:
        raise EncodingError(f"{what}: {exc}") from None
    if encode_public_inputs(document) != bytes(data):
        raise EncodingError(f"{what}: not in canonical form (sorted keys, no whitespace, ASCII)")
    return PublicInputs(document)
