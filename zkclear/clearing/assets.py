"""Collateral assets: their configuration, their price and the haircut value of a balance (docs/clearing.md,
"Collateral assets").

A deployment has one *settlement* asset (PnL, fees, funding, premiums and variation margin settle in it; its
smallest unit is the engine's amount unit) and optionally other *collateral* assets. A collateral balance ``b``
(smallest units of the asset) is priced by an instrument's mark ``p`` (ticks), so the oracle guard and its
decisions apply to it as to the instrument, and ``unit_value = num / den`` settlement units per (smallest asset
unit x price tick) gives its value, rounded down:

    V(b) = ⌊b · p · num / den⌋                                 (settlement units)

The collateral it provides is the tiered, concave piecewise-linear haircut value (Binance's "tiered collateral
ratio"): tiers ``(upper_t, ratio_t)`` by value, ``lower_t`` the previous tier's upper bound (0 first), the last
tier unbounded, ratios non-increasing::

    H(V) = Σ_t ratio_t · (min(V, upper_t) − lower_t)⁺ / PPM

and the engine credits ``h(b) = ⌊H(V(b))⌋``: both roundings are down (collateral credit rounds against the
account), the value first — exactly the figure the statements prove (circuits.public_data.PublicAsset). Because the
ratios do not increase, ``H`` is the minimum of one line per tier,

    PPM · H(V) = min_t (ratio_t · V + C_t),   C_t = Σ_{s<t} (ratio_s − ratio_t) · (upper_s − lower_s) ≥ 0,

published as :attr:`AssetRisk.haircut_lines` ``(k_t, c_t)`` over :attr:`AssetRisk.haircut_denominator` ``D``
(``(ratio_t, C_t)`` over ``PPM`` divided by their common gcd): ``h = ⌊min_t (k_t · V + c_t) / D⌋``, the form the
statements prove ``h ≤ line_t(V)`` against, like the margin tiers but flipped. The lines do not depend on the price.

Pure integer arithmetic; imports nothing above the money module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from zkclear.clearing.money import MAX_AMOUNT, PPM, ceil_div
from zkclear.errors import ConfigurationError

#: Asset identifiers: 1-16 upper-case letters and digits (``USDC``, ``BTC``, ``WETH2``).
ASSET_IDENTIFIER = re.compile(r"[A-Z0-9]{1,16}")
#: Most decimals an asset's smallest unit may have (``10^-18``: an EVM token's wei).
MAX_DECIMALS = 18
#: The settlement asset of a deployment without ``[[asset]]`` tables (``settlement_asset``): what the reserve book
#: and the attestation texts accept for an asset id (zkclear.chains.reserves.check_asset: 1-16 of A-Z 0-9 . - _,
#: starting with a letter or digit), and at most as many decimals as they accept (chains.reserves.MAX_DECIMALS).
#: Checked when the configuration is read, so a deployment that could never be proven is never created.
SETTLEMENT_ASSET_IDENTIFIER = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,15}")
MAX_SETTLEMENT_DECIMALS = 36
#: Most haircut lines per asset in a statement (circuits.public_data.MAX_HAIRCUT_LINES): one per tier, and one
#: more for a cap (the statements bound the credit by the cap's haircut value).
MAX_HAIRCUT_LINES = 16
#: Most collateral (non-settlement) assets a deployment lists (circuits.public_data.MAX_COLLATERAL_ASSETS): each
#: adds committed values to every account and a liability to every tree node; 31 so that a pair of sibling
#: nodes (2·32 liabilities) fits one node-group proof of at most 64 values.
MAX_COLLATERAL_ASSETS = 31
#: Largest public coefficient of a statement (a haircut line's slope or constant).
MAX_LINE_COEFFICIENT = (1 << 64) - 1
#: Default conversion penalty: 1 % of the converted value, as the default liquidation penalty.
DEFAULT_CONVERSION_PENALTY_PPM = 10_000
_INT63 = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class HaircutTier:
    """One tier of a collateral ratio table: value up to ``upper_bound`` settlement units (0 = no bound, the
    last tier only) counts at ``ratio_ppm`` (1,000,000 = 100 %)."""

    upper_bound: int
    ratio_ppm: int


@dataclass(frozen=True, slots=True)
class CollateralAsset:
    """A non-settlement collateral asset of a deployment (``[[asset]]`` in zkclear.toml).

    - ``asset_id``: ``[A-Z0-9]{1,16}``; ``decimals``: its smallest unit is ``10^-decimals`` (a label for the
      reserves side; the engine counts smallest units);
    - ``price_instrument``: the listed perpetual whose mark prices it (oracle guard included);
    - ``unit_value``: ``(num, den)`` settlement units per (smallest unit x tick of the price instrument);
    - ``haircut``: the tiers (:class:`HaircutTier`), by value, ratios non-increasing, the last unbounded;
    - ``cap``: the most an account may hold, smallest units (0: no cap): a deposit beyond it is refused;
    - ``conversion_penalty_ppm``: charged on the value converted at liquidation, paid to the insurance fund.
    """

    asset_id: str
    decimals: int
    price_instrument: str
    unit_value: tuple[int, int]
    haircut: tuple[HaircutTier, ...]
    cap: int = 0
    conversion_penalty_ppm: int = DEFAULT_CONVERSION_PENALTY_PPM

    def __post_init__(self) -> None:
        where = f"asset {self.asset_id!r}"
        if type(self.asset_id) is not str or not ASSET_IDENTIFIER.fullmatch(self.asset_id):
            raise ConfigurationError(f"{where}: id must be 1-16 characters of A-Z and 0-9")
        if type(self.decimals) is not int or not 0 <= self.decimals <= MAX_DECIMALS:
            raise ConfigurationError(f"{where}: decimals must be an integer in [0, {MAX_DECIMALS}]")
        if type(self.price_instrument) is not str or not self.price_instrument:
            raise ConfigurationError(f"{where}: price_instrument must name a listed instrument")
        unit_value = tuple(self.unit_value)
        if len(unit_value) != 2 or any(type(v) is not int or not 1 <= v <= MAX_AMOUNT for v in unit_value):
            raise ConfigurationError(f"{where}: unit_value must be [numerator, denominator], integers in "
                                     "[1, 2**62 - 1]")
        object.__setattr__(self, "unit_value", unit_value)
        tiers = tuple(self.haircut)
        object.__setattr__(self, "haircut", tiers)
        validate_haircut(tiers, where)
        if type(self.cap) is not int or not 0 <= self.cap <= MAX_AMOUNT:
            raise ConfigurationError(f"{where}: cap must be an integer in [0, 2**62 - 1] (0: no cap)")
        if len(tiers) + (1 if self.cap else 0) > MAX_HAIRCUT_LINES:
            raise ConfigurationError(f"{where}: haircut has {len(tiers)} tiers and a cap: a statement takes at most "
                                     f"{MAX_HAIRCUT_LINES} lines (one per tier, one for the cap)")
        lines, _ = haircut_lines(tiers)
        if any(constant > MAX_LINE_COEFFICIENT for _, constant in lines):
            raise ConfigurationError(f"{where}: haircut tiers too wide for a statement: a line's constant "
                                     f"{max(c for _, c in lines)} exceeds 2^64 − 1 (use fewer, narrower tiers or "
                                     "ratios with a larger common factor)")
        penalty = self.conversion_penalty_ppm
        if type(penalty) is not int or not 0 <= penalty <= PPM:
            raise ConfigurationError(f"{where}: conversion_penalty_ppm must be an integer in [0, {PPM}]")


def validate_haircut(tiers: tuple[HaircutTier, ...], where: str) -> None:
    """:class:`ConfigurationError` unless ``tiers`` is a concave table: 1 to :data:`MAX_HAIRCUT_TIERS` tiers,
    bounds in ``[1, 2^62 − 1]`` strictly increasing, the last tier unbounded (0) and only the last, ratios in
    ``[0, PPM]`` never increasing. Messages name ``haircut[k]``. (:data:`MAX_HAIRCUT_LINES` tiers at most.)"""
    if not 1 <= len(tiers) <= MAX_HAIRCUT_LINES:
        raise ConfigurationError(f"{where}: haircut needs 1 to {MAX_HAIRCUT_LINES} tiers")
    previous_bound, previous_ratio = 0, PPM
    for k, tier in enumerate(tiers):
        label = f"{where}: haircut[{k}]"
        if not isinstance(tier, HaircutTier) or type(tier.upper_bound) is not int or type(tier.ratio_ppm) is not int:
            raise ConfigurationError(f"{label} must be [upper_bound, ratio_ppm], two integers")
        last = k == len(tiers) - 1
        if last and tier.upper_bound != 0:
            raise ConfigurationError(f"{label}: the last tier must be unbounded (upper_bound 0)")
        if not last and not previous_bound < tier.upper_bound <= MAX_AMOUNT:
            raise ConfigurationError(f"{label}: upper_bound must exceed the previous tier's ({previous_bound}) and "
                                     "be at most 2**62 - 1 (0 only for the last tier)")
        if not 0 <= tier.ratio_ppm <= previous_ratio:
            raise ConfigurationError(f"{label}: ratio_ppm must be in [0, {previous_ratio}] (ratios never increase "
                                     "with value: the collateral value is concave)")
        previous_bound, previous_ratio = tier.upper_bound, tier.ratio_ppm


def haircut_lines(tiers: Sequence[HaircutTier]) -> tuple[tuple[tuple[int, int], ...], int]:
    """``((k_t, c_t), ...), D``: the tiers' lines ``(ratio_t, C_t)`` over ``PPM`` divided by their common gcd
    (module docstring), so that ``h = ⌊min_t (k_t · V + c_t) / D⌋``."""
    lines = [(tier.ratio_ppm, constant) for tier, constant in zip(tiers, tier_constants(tiers), strict=True)]
    common = math.gcd(PPM, *(value for line in lines for value in line))
    return tuple((k // common, c // common) for k, c in lines), PPM // common


def tier_constants(tiers: Sequence[HaircutTier]) -> tuple[int, ...]:
    """``C_t = Σ_{s<t} (ratio_s − ratio_t) · width_s`` (ppm x settlement units) of every tier (module
    docstring): ``PPM · H(V) = min_t (ratio_t · V + C_t)``."""
    constants, lower = [], 0
    widths: list[tuple[int, int]] = []  # (ratio, width) of the tiers below
    for tier in tiers:
        constants.append(sum((ratio - tier.ratio_ppm) * width for ratio, width in widths))
        if tier.upper_bound:
            widths.append((tier.ratio_ppm, tier.upper_bound - lower))
            lower = tier.upper_bound
    return tuple(constants)


@dataclass(frozen=True, slots=True)
class AssetRisk:
    """The public data of one collateral asset in one epoch (read by the ZK layer; all integers).

    ``price_ticks``: its price instrument's mark this epoch; ``unit_value``: ``(num, den)``; ``haircut_lines``:
    per tier ``(k_t, c_t)`` so that ``h = ⌊min_t (k_t · V + c_t) / haircut_denominator⌋`` for the balance's value
    ``V = ⌊b · p · num / den⌋`` (module docstring); ``cap`` (0: none) bounds a balance (a deposit above it is
    refused, so a cap line ``(0, D · h(cap))`` never binds); ``conversion_penalty_ppm`` applies at liquidation."""

    asset_id: str
    decimals: int
    price_instrument: str
    price_ticks: int
    unit_value_num: int
    unit_value_den: int
    haircut_tiers: tuple[HaircutTier, ...]
    cap: int = 0
    conversion_penalty_ppm: int = DEFAULT_CONVERSION_PENALTY_PPM
    haircut_lines: tuple[tuple[int, int], ...] = field(default=(), compare=False)
    haircut_denominator: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        lines, denominator = haircut_lines(self.haircut_tiers)
        object.__setattr__(self, "haircut_lines", lines)
        object.__setattr__(self, "haircut_denominator", denominator)

    @property
    def unit_value(self) -> tuple[int, int]:
        """``(num, den)``: settlement units per (smallest unit x tick)."""
        return self.unit_value_num, self.unit_value_den

    @staticmethod
    def of(asset: CollateralAsset, price_ticks: int) -> AssetRisk:
        """The public data of ``asset`` at ``price_ticks``."""
        return AssetRisk(asset.asset_id, asset.decimals, asset.price_instrument, price_ticks, asset.unit_value[0],
                         asset.unit_value[1], asset.haircut, asset.cap, asset.conversion_penalty_ppm)

    # -- one balance (Python ints) ---------------------------------------------------------------

    def value(self, balance: int) -> int:
        """``⌊b · p · num / den⌋``: the balance's value at the mark (settlement units, rounded down)."""
        return balance * self.price_ticks * self.unit_value_num // self.unit_value_den

    def haircut_value(self, balance: int) -> int:
        """``h(b) = ⌊H(V(b))⌋``: the collateral the balance provides (settlement units; the value rounded down,
        then the haircut value)."""
        return self.haircut_of_value(self.value(balance)) if balance > 0 else 0

    def haircut_of_value(self, value: int) -> int:
        """``⌊min_t (k_t · V + c_t) / D⌋`` of a value ``V >= 0`` (settlement units)."""
        return min(k * value + c for k, c in self.haircut_lines) // self.haircut_denominator

    def marginal_ratio_ppm(self, balance: int) -> int:
        """The ratio of the tier the balance's value is in (a value on a bound is in the lower tier): what
        the last unit of the balance counts for."""
        value = self.value(balance)
        for tier in self.haircut_tiers:
            if not tier.upper_bound or value <= tier.upper_bound:
                return tier.ratio_ppm
        return self.haircut_tiers[-1].ratio_ppm  # pragma: no cover - the last tier is unbounded

    def units_for_value(self, value: int) -> int:
        """The smallest balance whose exact value reaches ``value`` settlement units: ``⌈value · den / (p ·
        num)⌉``."""
        return ceil_div(value * self.unit_value_den, self.price_ticks * self.unit_value_num)

    def conversion(self, amount: int) -> tuple[int, int]:
        """``(proceeds, penalty)`` of converting ``amount`` smallest units at the mark: proceeds ``G = ⌊amount ·
        p · num / den⌋`` (rounded down), penalty ``⌈G · conversion_penalty_ppm / PPM⌉`` (rounded up); the
        account is credited ``G − penalty``, the insurance fund ``penalty``."""
        proceeds = self.value(amount)
        return proceeds, ceil_div(proceeds * self.conversion_penalty_ppm, PPM)

    # -- every account (int64 arrays) ------------------------------------------------------------

    def values(self, balances: np.ndarray) -> list[int]:
        """:meth:`value` of every balance (Python ints: a value may exceed int64 before the bounds refuse it)."""
        factor, den = self.price_ticks * self.unit_value_num, self.unit_value_den
        return [b * factor // den if b else 0 for b in balances.tolist()]

    def haircut_values(self, balances: np.ndarray) -> np.ndarray:
        """:meth:`haircut_value` of every balance (``>= 0``) as int64. The caller has bounded every value by
        ``2^62 − 1`` (``provable.collateral_breaches``): then every ``h <= value`` fits. int64 where no product
        can exceed it, Python ints otherwise."""
        largest = int(balances.max()) if balances.size else 0
        if largest == 0:
            return np.zeros(balances.shape, dtype=np.int64)
        factor = self.price_ticks * self.unit_value_num
        top = largest * factor // self.unit_value_den
        if largest * factor <= _INT63 and max(k * top + c for k, c in self.haircut_lines) <= _INT63:
            values = balances * factor // self.unit_value_den
            return np.minimum.reduce([k * values + c for k, c in self.haircut_lines]) // self.haircut_denominator
        return np.array([self.haircut_value(b) for b in balances.tolist()], dtype=np.int64)


def order_for_conversion(risks: Sequence[AssetRisk], balances: Sequence[int]) -> list[int]:
    """The order in which an account's collateral is converted at liquidation: the largest haircut first —
    the lowest :meth:`AssetRisk.marginal_ratio_ppm` at the account's balance (the ratio the first converted
    units free) — ties in configuration order; assets it does not hold are left out."""
    held = [k for k, balance in enumerate(balances) if balance > 0]
    return sorted(held, key=lambda k: (risks[k].marginal_ratio_ppm(balances[k]), k))
