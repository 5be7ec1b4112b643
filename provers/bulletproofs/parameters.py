"""Parameters of the aggregated range proof and the sizes they imply.

A proof covers ``m`` values of ``n`` bits. The prover pads the m values to
``M = next_power_of_two(m)`` with values 0 and blindings 0, whose commitments are the
identity point; the verifier reconstructs those padding commitments itself, so they are
never sent. The inner-product argument then runs over ``N = n·M`` elements in
``log2(N)`` rounds.
"""

from __future__ import annotations

#: The supported bit widths n.
BIT_SIZES = (8, 16, 32, 64)
#: The largest number of values in one aggregated proof (N = n·M stays below 2^19).
MAX_AGGREGATION = 1 << 12


def check_parameters(n_bits: int, m: int, error: type[Exception]) -> None:
    """Raise ``error`` unless n_bits is supported and 1 <= m <= MAX_AGGREGATION."""
    if isinstance(n_bits, bool) or n_bits not in BIT_SIZES:
        raise error(f"bit size n must be one of {BIT_SIZES}, got {n_bits!r}")
    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= MAX_AGGREGATION:
        raise error(f"number of values m must be in [1, {MAX_AGGREGATION}], got {m!r}")


def padded_count(m: int) -> int:
    """M: the number of values after padding, the least power of two >= m."""
    return 1 << (m - 1).bit_length()


def inner_product_rounds(n_bits: int, m: int) -> int:
    """log2(n·M): the number of (L_k, R_k) pairs in a proof."""
    return (n_bits * padded_count(m)).bit_length() - 1
