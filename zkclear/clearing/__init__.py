"""The clearing engine: fixed-point money, instruments, epoch inputs, novation and netting, funding and
variation margin, cross-margin requirements, liquidation and the default waterfall, and the SQLite ledger.

It imports no cryptography (ARCHITECTURE.md layering). The pure transition is
:func:`~zkclear.clearing.engine.apply_epoch`; :class:`~zkclear.clearing.ledger.Ledger` persists it. The
public risk data that the ZK layer reads is :class:`~zkclear.clearing.margin.RiskParameters`
(``EpochReport.risk``) and each :class:`~zkclear.clearing.margin.RiskModel`'s linear forms. Mechanics:
docs/clearing.md.
"""

from zkclear.clearing.assets import AssetRisk, CollateralAsset, HaircutTier
from zkclear.clearing.book import ConversionEvent
from zkclear.clearing.config import (
    BACKSTOP,
    FEE_ACCOUNT,
    INSURANCE_FUND,
    ClearingConfig,
    DeficitResolution,
    OracleGuardConfig,
    PortfolioMarginConfig,
)
from zkclear.clearing.engine import (
    EpochReport,
    OperatorActionOutcome,
    WithdrawalOutcome,
    apply_epoch,
    option_equity_values,
    risk_parameters,
    scenario_table,
)
from zkclear.clearing.inputs import (
    AccountOpen,
    EpochInputs,
    Fill,
    Fills,
    FundingRate,
    ImpliedVol,
    MarkPrice,
    OperatorAction,
    OracleQuote,
    Transfer,
)
from zkclear.clearing.instruments import (
    DEFAULT_KINDS,
    InstrumentKind,
    InstrumentKinds,
    InstrumentSpec,
    MarginTier,
)
from zkclear.clearing.margin import (
    DEFAULT_RISK_MODELS,
    InstrumentRisk,
    LinearMarginForm,
    LinearRiskModel,
    MarginLevel,
    RiskModel,
    RiskModels,
    RiskParameters,
    TieredRiskModel,
)
from zkclear.clearing.state import EpochState

__all__ = [
    "BACKSTOP",
    "DEFAULT_KINDS",
    "DEFAULT_RISK_MODELS",
    "FEE_ACCOUNT",
    "INSURANCE_FUND",
    "AccountOpen",
    "AssetRisk",
    "ClearingConfig",
    "CollateralAsset",
    "ConversionEvent",
    "DeficitResolution",
    "EpochInputs",
    "EpochReport",
    "EpochState",
    "Fill",
    "Fills",
    "FundingRate",
    "HaircutTier",
    "ImpliedVol",
    "InstrumentKind",
    "InstrumentKinds",
    "InstrumentRisk",
    "InstrumentSpec",
    "LinearMarginForm",
    "LinearRiskModel",
    "MarginLevel",
    "MarginTier",
    "MarkPrice",
    "OperatorAction",
    "OperatorActionOutcome",
    "OracleGuardConfig",
    "OracleQuote",
    "PortfolioMarginConfig",
    "RiskModel",
    "RiskModels",
    "RiskParameters",
    "TieredRiskModel",
    "Transfer",
    "WithdrawalOutcome",
    "apply_epoch",
    "option_equity_values",
    "risk_parameters",
    "scenario_table",
]
