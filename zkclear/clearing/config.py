"""Deployment configuration of the clearing engine (parsed from TOML by :mod:`zkclear.clearing.io`)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from zkclear.clearing.assets import (
    ASSET_IDENTIFIER,
    MAX_COLLATERAL_ASSETS,
    MAX_SETTLEMENT_DECIMALS,
    SETTLEMENT_ASSET_IDENTIFIER,
    CollateralAsset,
)
from zkclear.clearing.instruments import (
    DEFAULT_KINDS,
    OPTION_KIND_NAME,
    OPTION_STANDARD_MODEL,
    InstrumentKinds,
    InstrumentSpec,
    kinds_with_options,
    validate_instrument,
)
from zkclear.clearing.margin import DEFAULT_RISK_MODELS, RiskModels
from zkclear.clearing.money import PPM
from zkclear.clearing.options import OptionStandardModel
from zkclear.clearing.provable import (
    MAX_LISTED_INSTRUMENTS,
    MAX_MARGIN_LINES,
    MAX_SCENARIOS,
    ROUNDING_BITS,
    StatementLimits,
)
from zkclear.errors import ConfigurationError
from zkclear.risk.oracle import OracleConfig
from zkclear.risk.scenarios import ScenarioGrid

#: The clearing house's own accounts. They are ordinary rows of the state (they will be in the tree), but
#: user input may not open them and only the backstop may trade or hold positions.
INSURANCE_FUND = "CH:insurance"
FEE_ACCOUNT = "CH:fees"
BACKSTOP = "CH:backstop"
SYSTEM_ACCOUNTS = (BACKSTOP, FEE_ACCOUNT, INSURANCE_FUND)
SYSTEM_PREFIX = "CH:"

#: Account and instrument identifiers: 1-64 characters of letters, digits and ``_ . - :``.
IDENTIFIER = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")

DYNAMIC_MARGIN_METHODS = ("off", "ewma", "garch")
#: Every epoch's public inputs carry the price history (``dynamic_window`` marks per underlying group), read by a
#: verifier as lists of at most 2^16 items in a file of at most 64 MiB (zkclear.verifier.public_inputs): a longer
#: window, or more prices in all than fit beside the epoch's quotes, would make every epoch past it unpublishable.
MAX_DYNAMIC_WINDOW = 1 << 16
MAX_PRICE_HISTORY = 1 << 21
STANDARD_MODE = "standard"
PORTFOLIO_MODE = "portfolio"
MARGIN_MODES = (STANDARD_MODE, PORTFOLIO_MODE)
#: Default price band for fills: 10 % of the reference price beyond the range of the previous settlement price,
#: this epoch's mark and (oracle-marked epochs) the oracle median.
DEFAULT_FILL_PRICE_BAND_PPM = 100_000
MAX_FILL_PRICE_BAND_PPM = 100 * PPM
#: A fill's fee is at most this share of the fill's value at its price (an eighth: the most option venues charge,
#: as a share of the premium).
DEFAULT_FILL_FEE_CAP_PPM = 125_000
FUTURES_STYLE = "futures"
PREMIUM_STYLE = "premium"
OPTION_SETTLEMENTS = (FUTURES_STYLE, PREMIUM_STYLE)


@dataclass(frozen=True, slots=True)
class PortfolioMarginConfig:
    """Portfolio (scenario) margin of a deployment: the scenario grid of every underlying (the risk
    package's ``ScenarioGrid``: ``price_steps`` moves from ``-scan`` to ``+scan``, each with every volatility
    shift, plus two extreme moves of ``extreme_multiple * scan`` counted at ``extreme_weight / scale``), the
    short-option minimum (ppm of the forward per short lot) and the initial/maintenance ratio (ppm).
    Defaults are the risk package's: 9 moves -16 %..+16 % x vol {+25 %, 0, -25 %} = 27 scenarios + ±48 % at
    35 %."""

    scan_range_ppm: int = 160_000
    price_steps: int = 9
    volatility_shifts_ppm: tuple[int, ...] = (250_000, 0, -250_000)
    extreme_multiple: int = 3
    extreme_weight: int = 35
    scale: int = 100
    short_option_minimum_ppm: int = 10_000
    initial_to_maintenance_ppm: int = 1_250_000

    def __post_init__(self) -> None:
        for name in ("scan_range_ppm", "price_steps", "extreme_multiple", "extreme_weight", "scale",
                     "short_option_minimum_ppm", "initial_to_maintenance_ppm"):
            if type(getattr(self, name)) is not int:
                raise ConfigurationError(f"portfolio_margin.{name} must be an integer")
        if (not isinstance(self.volatility_shifts_ppm, tuple) or not self.volatility_shifts_ppm
                or any(type(v) is not int for v in self.volatility_shifts_ppm)):
            raise ConfigurationError("portfolio_margin.volatility_shifts_ppm must be a non-empty list of integers")
        if not 1 <= self.scale <= 1 << ROUNDING_BITS:  # the statements' rounding width (red team session 15)
            raise ConfigurationError(f"portfolio_margin.scale must be in [1, 2^{ROUNDING_BITS}] (the statements prove "
                                     f"the scenario margin's rounding in {ROUNDING_BITS} bits), got {self.scale}")
        if not 0 <= self.short_option_minimum_ppm <= PPM:
            raise ConfigurationError(f"portfolio_margin.short_option_minimum_ppm must be in [0, {PPM}]")
        if self.initial_to_maintenance_ppm < PPM:
            raise ConfigurationError(f"portfolio_margin.initial_to_maintenance_ppm must be >= {PPM}")
        try:
            self.grid()  # the risk package validates the grid itself
        except ConfigurationError as exc:
            raise ConfigurationError(f"portfolio_margin: scenario grid: {exc}") from None

    def grid(self) -> ScenarioGrid:
        """The risk package's ``ScenarioGrid`` of these parameters."""
        return ScenarioGrid(scan_range_ppm=self.scan_range_ppm, price_steps=self.price_steps,
                            volatility_shifts_ppm=self.volatility_shifts_ppm,
                            extreme_multiple=self.extreme_multiple, extreme_weight=self.extreme_weight,
                            scale=self.scale)


@dataclass(frozen=True, slots=True)
class OracleGuardConfig:
    """The oracle guard of a deployment (``zkclear.risk.oracle``; the fields and defaults of its ``OracleConfig``,
    and two the clearing engine applies across quotes and epochs, ``max_fallback_epochs`` and ``sources``): quotes
    older than ``max_staleness_seconds`` or more than ``max_future_seconds`` ahead of the epoch's close are dropped,
    so is a quote more than ``max_deviation_ppm`` from the median; fewer than
    ``min_sources`` left: the previous mark, flagged, liquidations paused — for at most ``max_fallback_epochs``
    epochs running (None: no bound), after which the epoch is refused; a move beyond ``circuit_breaker_ppm`` of the
    previous mark is clamped (liquidations continue unless ``pause_liquidations_on_breaker``). ``sources``, when
    set, names every source a quote may come from (None: any name)."""

    max_staleness_seconds: int = 60
    max_future_seconds: int = 5
    max_deviation_ppm: int = 20_000
    min_sources: int = 2
    circuit_breaker_ppm: int = 250_000
    pause_liquidations_on_breaker: bool = False
    #: the most consecutive epochs an instrument may be marked at its last good price (None: unbounded)
    max_fallback_epochs: int | None = None
    #: the sources a quote may name (None: any); at least ``min_sources`` of them, each 1-64 of A-Z a-z 0-9 _ . - :
    sources: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.sources is not None:
            if not isinstance(self.sources, (list, tuple)) or not all(
                    type(source) is str and IDENTIFIER.fullmatch(source) for source in self.sources):
                raise ConfigurationError("oracle.sources must be a list of source names (1-64 of A-Z a-z 0-9 _ . - :)")
            object.__setattr__(self, "sources", tuple(self.sources))
            if len(set(self.sources)) != len(self.sources) or len(self.sources) < self.min_sources:
                raise ConfigurationError(f"oracle.sources must name distinct sources, at least min_sources "
                                         f"({self.min_sources})")
        if self.max_fallback_epochs is not None and (type(self.max_fallback_epochs) is not int
                                                     or self.max_fallback_epochs < 0):
            raise ConfigurationError("oracle.max_fallback_epochs must be an integer >= 0")
        for name in ("max_staleness_seconds", "max_future_seconds", "max_deviation_ppm", "min_sources",
                     "circuit_breaker_ppm"):
            if type(getattr(self, name)) is not int:
                raise ConfigurationError(f"oracle.{name} must be an integer")
        if type(self.pause_liquidations_on_breaker) is not bool:
            raise ConfigurationError("oracle.pause_liquidations_on_breaker must be a bool")
        try:
            self.guard()
        except ConfigurationError as exc:
            raise ConfigurationError(f"oracle: {exc}") from None

    def guard(self) -> OracleConfig:
        """The risk package's ``OracleConfig`` of these settings."""
        return OracleConfig(self.max_staleness_seconds, self.max_future_seconds, self.max_deviation_ppm,
                            self.min_sources, self.circuit_breaker_ppm, self.pause_liquidations_on_breaker)


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
    - ``allow_self_trade``: whether a fill may have buyer == seller;
    - ``genesis_timestamp`` / ``epoch_seconds``: epoch ``e`` closes at ``genesis_timestamp + e *
      epoch_seconds`` (unix seconds); needed (``epoch_seconds > 0``) when options are listed: the option
      marks' time to expiry is measured from it;
    - ``portfolio_margin``: enables accounts with ``margin_mode = "portfolio"`` and the per-epoch scenario
      table (None: only standard accounts);
    - ``oracle``: enables epochs marked from oracle quotes (``oracle.csv``) through the guard (None: marks are
      given directly); needs ``epoch_seconds > 0`` (staleness is measured from the epoch's close);
    - ``dynamic_margin``: ``"ewma"`` / ``"garch"``: at every epoch's close the risk package's dynamic
      parameters are computed from the last ``dynamic_window`` marks of each underlying group and the next
      epoch's linear fractions are ``max(configured, dynamic)`` (``"off"``: the configured ones);
    - ``option_settlement``: ``"futures"`` (default: the trade price is settled against the mark and the mark
      change is variation margin, so cash is equity) or ``"premium"`` (the buyer pays ``price * size *
      multiplier`` at trade, no variation margin on options, the intrinsic value is paid at expiry, and an
      account's equity is ``cash + sum_j q_j * mark_j * multiplier_j`` over its option positions);
    - ``fill_price_band_ppm``: market integrity — a fill's price must lie within the range spanned by the
      instrument's previous settlement price, this epoch's mark and (oracle-marked epochs) the oracle median,
      widened by ``ceil(band * reference / PPM)`` ticks on each side, the reference being the top of that range
      (an option's: its underlying's); default 10 %, refused with file, line and field otherwise
      (docs/clearing.md "Market integrity");
    - ``fill_fee_cap_ppm``: market integrity — each fee of a fill is at most ``ceil(cap * size * price *
      multiplier / PPM)`` (its value at its price); a larger fee charged to a small account would bankrupt it into
      the insurance fund and the fee account (docs/clearing.md "Market integrity"); default 12.5 %;
    - ``backstop_margin_mode``: the margin mode of the backstop account, ``"standard"`` or ``"portfolio"``
      (which needs ``portfolio_margin``); default (None) ``"portfolio"`` when the deployment has portfolio
      margin and lists options — a hedged package the backstop takes over is then margined as a package —
      else ``"standard"``;
    - ``statement_limits``: the proving widths every committed epoch must fit (``proving.toml``
      ``position_bits``; ``zkclear.clearing.provable``): the engine refuses a fill that would make an
      epoch unprovable;
    - ``assets``: the collateral (non-settlement) assets, configuration order (``zkclear.clearing.assets``;
      empty: the settlement asset only, as before issue 13). ``settlement_asset`` is then an asset id
      (``[A-Z0-9]{1,16}``) different from theirs;
    - ``publish_insurance_fund``: every proven epoch publishes the insurance fund's receipt beside its bundle
      (``epoch-N.insurance-fund.rcpt``), which ``zkclear audit`` then requires and verifies like a participant's,
      printing the fund's balances (docs/format.md); default off.

    Listing an engine-marked option (``InstrumentSpec.engine_marked_option``) registers the ``"option"`` kind
    and the ``"option-standard"`` risk model automatically when the registries lack them.
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
    genesis_timestamp: int = 0
    epoch_seconds: int = 0
    portfolio_margin: PortfolioMarginConfig | None = None
    oracle: OracleGuardConfig | None = None
    dynamic_margin: str = "off"
    dynamic_window: int = 500
    option_settlement: str = FUTURES_STYLE
    statement_limits: StatementLimits = field(default_factory=StatementLimits)
    fill_price_band_ppm: int = DEFAULT_FILL_PRICE_BAND_PPM
    fill_fee_cap_ppm: int = DEFAULT_FILL_FEE_CAP_PPM
    backstop_margin_mode: str | None = None
    assets: tuple[CollateralAsset, ...] = ()
    publish_insurance_fund: bool = False

    def __post_init__(self) -> None:
        if not self.instruments:
            raise ConfigurationError("a deployment needs at least one instrument")
        if len(self.instruments) > MAX_LISTED_INSTRUMENTS:
            raise ConfigurationError(f"{len(self.instruments)} instruments exceed the {MAX_LISTED_INSTRUMENTS} "
                                     "a collateralization statement supports")
        if not isinstance(self.statement_limits, StatementLimits):
            raise ConfigurationError("statement_limits must be a StatementLimits")
        self._register_options()
        seen: set[str] = set()
        for spec in self.instruments:
            if not IDENTIFIER.fullmatch(spec.instrument_id):
                raise ConfigurationError(f"instrument id {spec.instrument_id!r} is not a valid identifier")
            if spec.instrument_id in seen:
                raise ConfigurationError(f"instrument {spec.instrument_id!r} is configured twice")
            seen.add(spec.instrument_id)
            validate_instrument(spec, self.kinds, self.risk_models.names())
            if max(len(spec.initial_tiers), len(spec.maintenance_tiers)) > MAX_MARGIN_LINES:
                raise ConfigurationError(f"instrument {spec.instrument_id!r}: at most {MAX_MARGIN_LINES} tiers "
                                         "(margin lines of a statement)")
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
        for name in ("genesis_timestamp", "epoch_seconds"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= 1 << 40:
                raise ConfigurationError(f"{name} must be an integer in [0, 2**40], got {value!r}")
        if self.portfolio_margin is not None and not isinstance(self.portfolio_margin, PortfolioMarginConfig):
            raise ConfigurationError("portfolio_margin must be a PortfolioMarginConfig")
        if self.dynamic_margin not in DYNAMIC_MARGIN_METHODS:
            raise ConfigurationError(f"dynamic_margin must be one of {DYNAMIC_MARGIN_METHODS}, "
                                     f"got {self.dynamic_margin!r}")
        if type(self.dynamic_window) is not int or not 2 <= self.dynamic_window <= MAX_DYNAMIC_WINDOW:
            raise ConfigurationError(f"dynamic_window must be an integer in [2, {MAX_DYNAMIC_WINDOW}], got "
                                     f"{self.dynamic_window!r}")
        groups = len(self.underlying_groups()) if self.dynamic_margin != "off" else 0
        if groups * self.dynamic_window > MAX_PRICE_HISTORY:  # red team session 14: a time bomb, see the constant
            raise ConfigurationError(f"dynamic_window must be at most {MAX_PRICE_HISTORY // groups} with {groups} "
                                     f"underlying groups: the price history every epoch publishes holds at most "
                                     f"{MAX_PRICE_HISTORY} prices (got {self.dynamic_window})")
        if self.option_settlement not in OPTION_SETTLEMENTS:
            raise ConfigurationError(f"option_settlement must be one of {OPTION_SETTLEMENTS}, "
                                     f"got {self.option_settlement!r}")
        if self.oracle is not None:
            if not isinstance(self.oracle, OracleGuardConfig):
                raise ConfigurationError("oracle must be an OracleGuardConfig")
            if self.epoch_seconds < 1:
                raise ConfigurationError("epoch_seconds must be >= 1 with an oracle (quote ages)")
        self._check_options()
        band = self.fill_price_band_ppm
        if type(band) is not int or not 0 <= band <= MAX_FILL_PRICE_BAND_PPM:
            raise ConfigurationError(f"fill_price_band_ppm must be an integer in [0, {MAX_FILL_PRICE_BAND_PPM}], "
                                     f"got {band!r}")
        if type(self.publish_insurance_fund) is not bool:
            raise ConfigurationError("publish_insurance_fund must be true or false, got "
                                     f"{self.publish_insurance_fund!r}")
        cap = self.fill_fee_cap_ppm
        if type(cap) is not int or not 0 <= cap <= PPM:
            raise ConfigurationError(f"fill_fee_cap_ppm must be an integer in [0, {PPM}], got {cap!r}")
        if self.backstop_margin_mode is None:
            lists_options = any(spec.kind == OPTION_KIND_NAME for spec in self.instruments)
            object.__setattr__(self, "backstop_margin_mode", PORTFOLIO_MODE if self.portfolio_margin is not None
                               and lists_options else STANDARD_MODE)
        if self.backstop_margin_mode not in MARGIN_MODES:
            raise ConfigurationError(f"backstop_margin_mode must be one of {MARGIN_MODES}, "
                                     f"got {self.backstop_margin_mode!r}")
        if self.backstop_margin_mode == PORTFOLIO_MODE and self.portfolio_margin is None:
            raise ConfigurationError("backstop_margin_mode 'portfolio' needs portfolio_margin")
        self._check_assets()
        # every deployment (with collateral assets _check_assets applied the stricter [[asset]] id rule)
        if type(self.settlement_asset) is not str or not SETTLEMENT_ASSET_IDENTIFIER.fullmatch(self.settlement_asset):
            raise ConfigurationError(f"settlement_asset {self.settlement_asset!r:.40} must be 1-16 characters of A-Z, "
                                     "0-9, '.', '-', '_' starting with a letter or digit (the asset id reserves.csv "
                                     "and the attestations name)")
        decimals = self.settlement_decimals
        if type(decimals) is not int or not 0 <= decimals <= MAX_SETTLEMENT_DECIMALS:
            raise ConfigurationError(f"settlement_decimals must be an integer in [0, {MAX_SETTLEMENT_DECIMALS}], "
                                     f"got {decimals!r}")
        if self.portfolio_margin is not None:
            grid = self.portfolio_margin
            scenarios = len(self.underlying_groups()) * (grid.price_steps * len(grid.volatility_shifts_ppm) + 2)
            if scenarios > MAX_SCENARIOS:
                raise ConfigurationError(f"portfolio_margin: {scenarios} scenarios ({len(self.underlying_groups())} "
                                         f"underlying groups) exceed the {MAX_SCENARIOS} a statement supports")

    def _check_assets(self) -> None:
        """The collateral assets: at most :data:`MAX_COLLATERAL_ASSETS`, distinct ids other than the settlement
        asset's, each priced by a listed perpetual (a kind that neither expires nor is an option: the price must
        outlive every balance)."""
        if not isinstance(self.assets, tuple) or any(not isinstance(a, CollateralAsset) for a in self.assets):
            raise ConfigurationError("assets must be a tuple of CollateralAsset")
        if not self.assets:
            return
        if len(self.assets) > MAX_COLLATERAL_ASSETS:
            raise ConfigurationError(f"{len(self.assets)} collateral assets exceed the {MAX_COLLATERAL_ASSETS} a "
                                     "statement supports")
        if not ASSET_IDENTIFIER.fullmatch(self.settlement_asset):
            raise ConfigurationError(f"settlement_asset {self.settlement_asset!r} must be an asset id (1-16 "
                                     "characters of A-Z and 0-9) when collateral assets are listed")
        seen = {self.settlement_asset}
        by_id = {spec.instrument_id: spec for spec in self.instruments}
        for asset in self.assets:
            where = f"asset {asset.asset_id!r}"
            if asset.asset_id in seen:
                raise ConfigurationError(f"{where}: id is listed twice (the settlement asset counts)")
            seen.add(asset.asset_id)
            spec = by_id.get(asset.price_instrument)
            if spec is None:
                raise ConfigurationError(f"{where}: price_instrument {asset.price_instrument!r} is not a listed "
                                         "instrument")
            kind = self.kinds.get(spec.kind)
            if kind.expires or spec.kind == OPTION_KIND_NAME:
                raise ConfigurationError(f"{where}: price_instrument {asset.price_instrument!r} is a {spec.kind}: "
                                         "an asset is priced by an instrument that never expires (a perpetual)")

    @property
    def asset_ids(self) -> tuple[str, ...]:
        """The collateral (non-settlement) assets' ids, configuration order."""
        return tuple(asset.asset_id for asset in self.assets)

    def asset_column(self, asset: CollateralAsset) -> int:
        """The instrument column whose mark prices ``asset``."""
        return self.instrument_ids.index(asset.price_instrument)

    def _register_options(self) -> None:
        if not any(spec.engine_marked_option for spec in self.instruments):
            return
        if OPTION_KIND_NAME not in self.kinds.kinds:
            object.__setattr__(self, "kinds", kinds_with_options(self.kinds))
        if OPTION_STANDARD_MODEL not in self.risk_models.models:
            object.__setattr__(self, "risk_models", self.risk_models.with_model(OptionStandardModel()))

    def _check_options(self) -> None:
        """Cross-instrument rules of engine-marked options (and of portfolio margin, which needs them)."""
        by_id = {spec.instrument_id: spec for spec in self.instruments}
        for spec in self.instruments:
            where = f"instrument {spec.instrument_id!r}"
            if not spec.engine_marked_option:
                if spec.kind == OPTION_KIND_NAME and self.portfolio_margin is not None:
                    raise ConfigurationError(f"{where}: portfolio margin needs every option engine-marked "
                                             "(underlying, option_type, strike)")
                continue
            if spec.margin_model in ("linear", "tiered"):
                # A fraction of the option's own mark: a short deep out of the money would carry almost no margin
                # against its tail (the underlying moving through the strike); the standard model charges a
                # fraction of the underlying, floored (docs/clearing.md "Options").
                raise ConfigurationError(f"{where}: an engine-marked option is margined with the "
                                         f"{OPTION_STANDARD_MODEL!r} model (or portfolio margin), not "
                                         f"{spec.margin_model!r}: that charges a fraction of the option's premium, "
                                         "not of its risk")
            underlying = by_id.get(spec.underlying or "")
            if underlying is None:
                raise ConfigurationError(f"{where}: underlying {spec.underlying!r} is not a listed instrument")
            if underlying.kind == OPTION_KIND_NAME:
                raise ConfigurationError(f"{where}: underlying {spec.underlying!r} must be a perpetual or "
                                         "future, not an option")
            if underlying.tick_size != spec.tick_size:
                raise ConfigurationError(f"{where}: tick_size must equal that of {underlying.instrument_id!r} "
                                         f"({underlying.tick_size}): strike and option prices are in its ticks")
            if underlying.expiry_epoch is not None and (spec.expiry_epoch or 0) > underlying.expiry_epoch:
                raise ConfigurationError(f"{where}: expiry_epoch must not be after the underlying's "
                                         f"({underlying.expiry_epoch})")
            if self.epoch_seconds < 1:
                raise ConfigurationError("epoch_seconds must be >= 1 when options are listed (time to expiry)")

    @property
    def max_fallback_epochs(self) -> int | None:
        """The oracle guard's bound on the consecutive epochs an instrument is marked at its last good price
        (None: no guard, or no bound). With a bound the state counts each instrument's running fallbacks."""
        return None if self.oracle is None else self.oracle.max_fallback_epochs

    def valuation_timestamp(self, epoch: int) -> int:
        """Unix time at which epoch ``epoch`` closes: ``genesis_timestamp + epoch * epoch_seconds``."""
        return self.genesis_timestamp + epoch * self.epoch_seconds

    def price_source(self, group: str, expired: tuple[bool, ...]) -> int | None:
        """Column whose mark is the price of the underlying ``group`` (dynamic margin): the first live linear
        instrument of the group in configuration order (None when none is live)."""
        for column, spec in enumerate(self.instruments):
            if (spec.kind != OPTION_KIND_NAME and not expired[column]
                    and self.scenario_underlying(spec) == group):
                return column
        return None

    def underlying_groups(self) -> tuple[str, ...]:
        """The portfolio/dynamic-margin groups of the linear instruments, in configuration order."""
        return tuple(dict.fromkeys(self.scenario_underlying(spec) for spec in self.instruments
                                   if spec.kind != OPTION_KIND_NAME))

    def scenario_underlying(self, spec: InstrumentSpec) -> str:
        """The portfolio-margin group of an instrument: its ``underlying`` label (default its own id); an
        option's is its underlying instrument's group."""
        if spec.engine_marked_option:
            spec = next(s for s in self.instruments if s.instrument_id == spec.underlying)
        return spec.underlying or spec.instrument_id

    @property
    def premium_style(self) -> bool:
        """Whether options are settled premium-style (their value is part of equity, not of cash)."""
        return self.option_settlement == PREMIUM_STYLE

    def premium_columns(self) -> tuple[int, ...]:
        """Columns of the options that are settled premium-style (empty for futures-style deployments)."""
        if not self.premium_style:
            return ()
        return tuple(c for c, spec in enumerate(self.instruments) if spec.kind == OPTION_KIND_NAME)

    @property
    def instrument_ids(self) -> tuple[str, ...]:
        return tuple(spec.instrument_id for spec in self.instruments)
