"""Deployment configuration of the clearing engine (parsed from TOML by :mod:`zkclear.clearing.io`)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from zkclear.clearing.instruments import DEFAULT_KINDS, InstrumentKinds, InstrumentSpec, validate_instrument
from zkclear.clearing.margin import DEFAULT_RISK_MODELS, RiskModels
from zkclear.clearing.money import PPM
from zkclear.errors import ConfigurationError

#: The clearing house's own accounts. They are ordinary rows of the state (they will be in the tree), but
#: user input may not open them and only the backstop may trade or hold positions.
INSURANCE_FUND = "CH:insurance"
FEE_ACCOUNT = "CH:fees"
BACKSTOP = "CH:backstop"
SYSTEM_ACCOUNTS = (BACKSTOP, FEE_ACCOUNT, INSURANCE_FUND)
SYSTEM_PREFIX = "CH:"

#: Account and instrument identifiers: 1-64 characters of letters, digits and ``_ . - :``.
IDENTIFIER = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")

MARGIN_MODES = ("standard",)


class DeficitResolution(enum.Enum):
    """What covers a bankrupt account's deficit once the insurance fund is empty."""

    ADL = "adl"
    SOCIALIZED_LOSS = "socialized_loss"


@dataclass(frozen=True, slots=True)
class ClearingConfig:
    """Everything an epoch needs besides its inputs and the previous state.

    - ``liquidation_penalty_ppm``: charged on the notional a liquidation closes, paid to the insurance fund;
    - ``liquidation_buffer_ppm``: partial liquidation stops once equity >= maintenance * (1 + buffer);
    - ``funding_clamp_ppm``: funding rates are clamped to ``[-clamp, +clamp]`` per epoch;
    - ``deficit_resolution``: ADL or socialized loss once the insurance fund is exhausted;
    - ``liquidators``: accounts that opted in to take over liquidated positions (tried in id order);
    - ``allow_self_trade``: whether a fill may have buyer == seller.
    """

    instruments: tuple[InstrumentSpec, ...]
    liquidation_penalty_ppm: int = 10_000
    liquidation_buffer_ppm: int = 100_000
    funding_clamp_ppm: int = 10_000
    deficit_resolution: DeficitResolution = DeficitResolution.ADL
    liquidators: tuple[str, ...] = ()
    allow_self_trade: bool = False
    settlement_asset: str = "USD"
    settlement_decimals: int = 6
    kinds: InstrumentKinds = field(default=DEFAULT_KINDS)
    risk_models: RiskModels = field(default=DEFAULT_RISK_MODELS)

    def __post_init__(self) -> None:
        if not self.instruments:
            raise ConfigurationError("a deployment needs at least one instrument")
        seen: set[str] = set()
        for spec in self.instruments:
            if not IDENTIFIER.fullmatch(spec.instrument_id):
                raise ConfigurationError(f"instrument id {spec.instrument_id!r} is not a valid identifier")
            if spec.instrument_id in seen:
                raise ConfigurationError(f"instrument {spec.instrument_id!r} is configured twice")
            seen.add(spec.instrument_id)
            validate_instrument(spec, self.kinds, self.risk_models.names())
        for name in ("liquidation_penalty_ppm", "liquidation_buffer_ppm", "funding_clamp_ppm"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= PPM:
                raise ConfigurationError(f"{name} must be an integer in [0, {PPM}], got {value!r}")
        if not isinstance(self.deficit_resolution, DeficitResolution):
            raise ConfigurationError("deficit_resolution must be a DeficitResolution")
        if list(self.liquidators) != sorted(set(self.liquidators)):
            raise ConfigurationError("liquidators must be distinct and listed in id order")
        for account in self.liquidators:
            if not IDENTIFIER.fullmatch(account) or account.startswith(SYSTEM_PREFIX):
                raise ConfigurationError(f"liquidator {account!r} is not a valid user account id")

    @property
    def instrument_ids(self) -> tuple[str, ...]:
        return tuple(spec.instrument_id for spec in self.instruments)
