"""JSON from files a verifier did not write: bounded in size and depth, integers only, no duplicate keys.

``json.loads`` recurses once per nesting level in C; a file of a few hundred thousand ``[`` overflows the C
stack when the recursion limit has been raised (py_ecc raises it to 100,000 at import), and kills the process
with a signal instead of an exception. :func:`load_json` counts the nesting first, outside the parser, and
refuses anything deeper than ``max_depth`` before ``json.loads`` sees it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from zkclear.errors import EncodingError

#: Deepest nesting any zkclear JSON file uses is 5; 32 leaves room and refuses pathological input.
MAX_DEPTH = 32
#: Largest JSON file a verifier reads (the public risk data of 512 instruments × 512 scenarios is ~6 MB).
MAX_BYTES = 64 << 20

#: A JSON string; an unterminated one runs to the end (the parser stops there too), so the scan never restarts
#: inside it: linear time (matching only closed strings rescanned the rest from every escaped quote).
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def _refuse_float(text: str) -> Any:
    raise ValueError(f"numbers must be integers, got {text}")


def _refuse_constant(text: str) -> Any:
    raise ValueError(f"{text} is not allowed")


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for ``json.loads``: ValueError naming a key given twice in one object."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (brackets inside strings do not count)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def load_json(data: bytes, *, what: str, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> Any:
    """Parse ``data`` as strict JSON (UTF-8, integers only, no NaN, no duplicate keys, nesting at most
    ``max_depth``); EncodingError naming ``what`` otherwise."""
    if not isinstance(data, bytes | bytearray):
        raise EncodingError(f"{what}: expected bytes")
    if len(data) > max_bytes:
        raise EncodingError(f"{what}: {len(data)} bytes is larger than the {max_bytes}-byte limit")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingError(f"{what}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    depth = nesting_depth(text)
    if depth > max_depth:
        raise EncodingError(f"{what}: JSON nested {depth} levels deep (at most {max_depth} allowed)")
    try:
        return json.loads(text, parse_float=_refuse_float, parse_constant=_refuse_constant,
                          object_pairs_hook=no_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        raise EncodingError(f"{what}: not valid JSON ({exc})") from None
