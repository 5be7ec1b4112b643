"""The operator's TOML integers in plain decimal only: every other spelling TOML reads as an integer is refused by
line and key; strings, comments, floats, dates and times are left alone."""

from __future__ import annotations

import tomllib

import pytest

from zkclear.errors import InputError
from zkclear.toml_integers import check_decimal_integers

LEFT_ALONE = '''# a comment with 0x10, +5 and 1_000
a = 5
b = -3
c = 0
d = 1.5
e = 1979-05-27T07:32:00Z
f = 07:32:00
g = 6.02e+23
h = "0x10 +5 1_000 \\" -0"
i = """several
lines 0x10 "" +5
"""
j = 'literal 007'
k = [1, -2, 3]
l = -1.5e-3
m = inf
n = {x = 1, y = -2}

[[instrument]]
id = "BTC-PERP2"
tiers = [[1, 2], [3, 4]]
'''


def test_plain_decimal_integers_and_everything_that_is_not_an_integer_pass():
    tomllib.loads(LEFT_ALONE)
    check_decimal_integers(LEFT_ALONE, path="ok.toml")


@pytest.mark.parametrize(("text", "line", "field", "number"), [
    ("a = +5", 1, "a", "+5"), ("a = -0", 1, "a", "-0"), ("a = +0", 1, "a", "+0"), ("a = 1_000", 1, "a", "1_000"),
    ("a = 0x1F", 1, "a", "0x1F"), ("a = 0o17", 1, "a", "0o17"), ("a = 0b101", 1, "a", "0b101"),
    ("a = [1, +2]", 1, "a", "+2"), ("x = 1\nn = {y = 0x2}", 2, "n", "0x2"), ("k = [\n 1,\n 1_0,\n]", 3, None, "1_0"),
])
def test_every_other_integer_spelling_is_refused_by_line_and_key(text, line, field, number):
    assert isinstance(tomllib.loads(text), dict)  # TOML itself accepts it
    with pytest.raises(InputError) as caught:
        check_decimal_integers(text, path="c.toml")
    assert (caught.value.path, caught.value.line, caught.value.field) == ("c.toml", line, field)
    assert caught.value.detail == f"must be a plain decimal integer, got {number!r}"
