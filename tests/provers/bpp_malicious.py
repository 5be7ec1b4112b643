"""A malicious Bulletproofs++ prover's digits, shared by the attack tests of the proof and of the epoch."""

from __future__ import annotations

from zkclear.crypto.field import R


def lying_digits(padded_values: list[int], count: int) -> list[int]:
    """Per value: its honest digits when in range; a digit 16 for exactly 2^n; otherwise digit 0 chosen so that
    the digits sum to the value mod r (a non-digit, e.g. r − x for a negative value)."""
    out = []
    for v in padded_values:
        honest = [(v >> (4 * i)) & 15 for i in range(count)]
        if v < 1 << (4 * count):
            out += honest
        elif v == 1 << (4 * count):
            out += [0] * (count - 1) + [16]
        else:
            rest = sum(16**i * d for i, d in enumerate(honest) if i)
            out += [(v - rest) % R, *honest[1:]]
    return out
