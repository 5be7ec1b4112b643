"""The one exception hierarchy of zkclear.

Every error zkclear raises on purpose derives from :class:`ZkclearError`, so a caller
(the CLI, a service) can catch the package's errors without catching programming bugs.
"""

from __future__ import annotations


class ZkclearError(Exception):
    """Root of every error zkclear raises deliberately."""


class EncodingError(ZkclearError):
    """Bytes that do not decode to a valid value (point, scalar, proof, bundle)."""


class VerificationError(ZkclearError):
    """A proof or a statement failed to verify.

    ``reason`` is the stable reason code (docs/protocol.md, "Reason codes"); ``index`` the item it concerns
    (a chunk, a level, a reserve entry) when there is one; ``detail`` says in plain words what failed, with
    the values involved. ``str(error)`` is the detail followed by the reason code in brackets.
    """

    def __init__(self, reason: str, *, index: int | None = None, detail: str | None = None) -> None:
        where = "" if index is None else f" (item {index})"
        super().__init__(f"{detail} [{reason}]" if detail else f"{reason}{where}")
        self.reason = reason
        self.index = index
        self.detail = detail


class ProvingError(ZkclearError):
    """The prover refuses: the witness does not satisfy the statement (it never emits a bad proof)."""


class ConfigurationError(ZkclearError):
    """A deployment or parameter set that is invalid, e.g. one that breaks the soundness bit budget."""


class InputError(ZkclearError):
    """A bad input record. The message names the file, line and field in one line."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        where = ":".join(str(part) for part in (path, line) if part is not None)
        prefix = f"{where}: " if where else ""
        field_part = f"field '{field}': " if field else ""
        super().__init__(f"{prefix}{field_part}{message}")
        self.path = path
        self.line = line
        self.field = field
        self.detail = message


class ClearingError(ZkclearError):
    """The clearing engine cannot apply an epoch (an invariant failed, an epoch out of order, ...)."""


class LedgerError(ZkclearError):
    """The persistent store is inconsistent or refuses an operation."""
