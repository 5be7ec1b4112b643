"""Integers of the operator's TOML files in one spelling, plain decimal (``0|-?[1-9][0-9]*``), as in every other
zkclear input (docs/format.md).

TOML also reads ``+5``, ``-0``, ``1_000``, ``0x1F``, ``0o17`` and ``0b101`` as integers, and tomllib does not say how
a number was written: :func:`check_decimal_integers` looks at the text itself, outside strings and comments. Run it
on text tomllib has parsed (it relies on the strings being closed).
"""

from __future__ import annotations

import re

from zkclear.errors import InputError

#: Strings and comments (skipped whole, so that nothing inside them counts), or an integer: a run of digits (or a
#: prefixed hex, octal or binary number) that is not part of a key, a float, a date or a time.
_TOKENS = re.compile(r'''
      """(?:[^\\]|\\[\s\S])*?"{3,5}
    | \'\'\'[\s\S]*?\'{3,5}
    | "(?:[^"\\\n]|\\.)*"
    | '[^'\n]*'
    | \#[^\n]*
    | (?<![0-9A-Za-z_.:+-])(?P<number>[+-]?(?:0[xob][0-9A-Fa-f_]+|[0-9][0-9_]*))(?![0-9A-Za-z_.:+-])
''', re.VERBOSE)
_DECIMAL = re.compile(r"0|-?[1-9][0-9]*")
_KEY = re.compile(r"\s*([A-Za-z0-9_.\-]+)\s*=")


def check_decimal_integers(text: str, *, path: str) -> None:
    """InputError naming the line (and the key on it) of the first integer of ``text`` not written in plain
    decimal."""
    for match in _TOKENS.finditer(text):
        number = match.group("number")
        if number is None or _DECIMAL.fullmatch(number):
            continue
        line = text.count("\n", 0, match.start()) + 1
        key = _KEY.match(text.splitlines()[line - 1])
        raise InputError(f"must be a plain decimal integer, got {number[:24]!r}", path=path, line=line,
                         field=key.group(1) if key else None)
