"""Keccak-256 as Ethereum uses it (the original Keccak padding 0x01, not SHA3-256's 0x06).

``hashlib.sha3_256`` is *not* this function: FIPS 202 changed the padding byte, so the two differ on
every input. Keccak-256 is the sponge over Keccak-f[1600] with rate 1088 bits (136 bytes) and a
256-bit output. The round constants and rotation offsets are derived below from their definitions
(FIPS 202, sections 3.2.2 and 3.2.5) rather than listed, so they can be checked against the standard.
"""

from __future__ import annotations

RATE_BYTES = 136
_MASK = (1 << 64) - 1


def _round_constants() -> tuple[int, ...]:
    """RC[i] for the 24 rounds, from the degree-8 LFSR x^8 + x^6 + x^5 + x^4 + 1 (FIPS 202, rc(t))."""
    state = 1
    bits = []
    for _ in range(24 * 7):
        bits.append(state & 1)
        state <<= 1
        if state & 0x100:
            state ^= 0x171
    constants = []
    for round_index in range(24):
        value = 0
        for j in range(7):
            if bits[7 * round_index + j]:
                value |= 1 << ((1 << j) - 1)
        constants.append(value)
    return tuple(constants)


def _rotation_offsets() -> tuple[tuple[int, ...], ...]:
    """offset[x][y] of the rho step: (t+1)(t+2)/2 mod 64 along the walk (x, y) -> (y, 2x + 3y)."""
    offsets = [[0] * 5 for _ in range(5)]
    x, y = 1, 0
    for t in range(24):
        offsets[x][y] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    return tuple(tuple(column) for column in offsets)


ROUND_CONSTANTS = _round_constants()
ROTATION_OFFSETS = _rotation_offsets()
assert ROUND_CONSTANTS[0] == 1 and ROUND_CONSTANTS[23] == 0x8000000080008008


# rho and pi as one table: lane (x, y) moves to (y, 2x + 3y) rotated left by ROTATION_OFFSETS[x][y].
_RHO_PI = tuple(
    (x + 5 * y, y + 5 * ((2 * x + 3 * y) % 5), ROTATION_OFFSETS[x][y]) for x in range(5) for y in range(5)
)


def keccak_f1600(lanes: list[int]) -> None:
    """Permute the 25 lanes in place; lane (x, y) is ``lanes[x + 5*y]`` (FIPS 202, section 3.3)."""
    mask = _MASK
    moved = [0] * 25
    for round_constant in ROUND_CONSTANTS:
        # theta: xor each lane with the parities of two neighbouring columns
        parity = [lanes[x] ^ lanes[x + 5] ^ lanes[x + 10] ^ lanes[x + 15] ^ lanes[x + 20] for x in range(5)]
        for x in range(5):
            right = parity[(x + 1) % 5]
            effect = parity[(x - 1) % 5] ^ (((right << 1) | (right >> 63)) & mask)
            for index in range(x, 25, 5):
                lanes[index] ^= effect
        # rho and pi
        for source, target, count in _RHO_PI:
            lane = lanes[source]
            moved[target] = ((lane << count) | (lane >> (64 - count))) & mask if count else lane
        # chi: a non-linear mix along each row
        for y in range(0, 25, 5):
            b0, b1, b2, b3, b4 = moved[y:y + 5]
            lanes[y] = b0 ^ (~b1 & b2)
            lanes[y + 1] = b1 ^ (~b2 & b3)
            lanes[y + 2] = b2 ^ (~b3 & b4)
            lanes[y + 3] = b3 ^ (~b4 & b0)
            lanes[y + 4] = b4 ^ (~b0 & b1)
        # iota
        lanes[0] ^= round_constant


def keccak256(data: bytes) -> bytes:
    """Keccak-256 of ``data`` (32 bytes), as in Ethereum addresses and EIP-191."""
    padded = bytearray(data)
    padded.append(0x01)
    padded.extend(b"\x00" * (-len(padded) % RATE_BYTES))
    padded[-1] |= 0x80
    lanes = [0] * 25
    for offset in range(0, len(padded), RATE_BYTES):
        block = padded[offset:offset + RATE_BYTES]
        for i in range(RATE_BYTES // 8):
            lanes[i] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        keccak_f1600(lanes)
    return b"".join(lane.to_bytes(8, "little") for lane in lanes[:4])
