"""One spelling per integer (standard library only): the rule every integer a person types or an input file holds
follows, wherever it is read — the operator's CSV files, the participant's and the auditor's options, the web
bridge's fields (docs/format.md, "Clearing input files").

Canonical: ASCII digits, a ``-`` only before a non-zero value, no ``+``, no leading zeros, no spaces, separators,
decimal points or exponents (``0|-?[1-9][0-9]*``). ``-0`` and ``007`` are refused: two spellings of one value would
let a person believe they checked what they typed when the program read something else, and would let one file
hash two ways."""

from __future__ import annotations

import re

_CANONICAL = re.compile(r"0|-?[1-9][0-9]*")
#: What a refusal says the rule is (after "must be ").
RULE = "a plain decimal integer (ASCII digits; no '+', '-0', leading zeros or spaces)"


def is_canonical_int(text: object) -> bool:
    """Whether ``text`` is the one spelling of an integer (any number of digits: bound the length separately)."""
    return isinstance(text, str) and _CANONICAL.fullmatch(text) is not None


def parse_canonical_int(text: str, *, max_digits: int) -> int:
    """The value of ``text`` when it is canonical with at most ``max_digits`` digits; otherwise ValueError saying
    what is wrong in a phrase that follows the name of what was read (the caller names the option or field)."""
    if not is_canonical_int(text):
        raise ValueError(f"must be {RULE}, got {text!r:.40}")
    if len(text.removeprefix("-")) > max_digits:  # before int(): Python refuses to convert more than 4,300 digits
        raise ValueError(f"must have at most {max_digits} digits, got {text[:24]}... ({len(text)} characters)")
    return int(text)
