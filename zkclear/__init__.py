"""zkclear: a derivatives clearing house with zero-knowledge proofs of collateralization and solvency."""

from zkclear.errors import (
    ClearingError,
    ConfigurationError,
    EncodingError,
    InputError,
    LedgerError,
    ProvingError,
    VerificationError,
    ZkclearError,
)

__version__ = "0.1.0"

__all__ = [
    "ClearingError",
    "ConfigurationError",
    "EncodingError",
    "InputError",
    "LedgerError",
    "ProvingError",
    "VerificationError",
    "ZkclearError",
    "__version__",
]
