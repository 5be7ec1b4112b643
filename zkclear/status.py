"""``zkclear status``: where a deployment stands — its ledger head, which epochs are committed, proven and
attested, the clearing house's own balances, and the head epoch's liabilities per asset (what the tree will sum:
the least reserves each asset needs for that epoch to prove).

An epoch is *proven* when ``epochs/N/epoch-N.bundle`` exists, and *attested* when that bundle carries an
attestation for every reserve address it lists. The bundle is only read for those two lists (the addresses of
its reserves and of its attestations); the signatures themselves are checked by ``zkclear audit``. A bundle that
does not decode is reported as such, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkclear.bundle.format import decode_public_bundle, read_file
from zkclear.clearing.config import BACKSTOP, FEE_ACCOUNT, INSURANCE_FUND
from zkclear.errors import LedgerError, ZkclearError
from zkclear.operator import Deployment


@dataclass(frozen=True, slots=True)
class EpochStatus:
    """One committed epoch: ``proven`` (its bundle exists), ``attested`` (every reserve entry signed),
    ``signed`` of ``reserves`` entries (address and asset); ``problem`` says why a bundle could not be read."""

    epoch: int
    proven: bool
    attested: bool
    signed: int = 0
    reserves: int = 0
    problem: str = ""
    header_hash: str = ""


@dataclass(frozen=True, slots=True)
class FundBalance:
    """One of the clearing house's accounts after the head epoch: cash and non-zero positions (lots)."""

    account: str
    cash: int
    positions: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class DeploymentStatus:
    head_epoch: int
    head_hash: str
    accounts: int
    epochs: tuple[EpochStatus, ...]
    funds: tuple[FundBalance, ...]
    liabilities: tuple[tuple[str, int], ...] = ()
    liabilities_problem: str = ""

    def to_json(self) -> dict:
        return {"head_epoch": self.head_epoch, "head_hash": self.head_hash, "accounts": self.accounts,
                "epochs": [{"epoch": e.epoch, "proven": e.proven, "attested": e.attested, "signed": e.signed,
                            "reserves": e.reserves, "problem": e.problem, "header_hash": e.header_hash}
                           for e in self.epochs],
                "funds": {f.account: {"cash": f.cash, "positions": dict(f.positions)} for f in self.funds},
                "liabilities": dict(self.liabilities), "liabilities_problem": self.liabilities_problem}

    def lines(self) -> list[str]:
        """The human-readable report."""
        out = [f"ledger head: epoch {self.head_epoch} ({self.head_hash[:16]}...), {self.accounts} accounts"]
        if not self.epochs:
            out.append("no epoch committed yet")
        proven = [e.epoch for e in self.epochs if e.proven]
        attested = [e.epoch for e in self.epochs if e.attested]
        out.append(f"committed: {_ranges([e.epoch for e in self.epochs]) or 'none'}")
        out.append(f"proven:    {_ranges(proven) or 'none'}")
        out.append(f"attested:  {_ranges(attested) or 'none'}")
        for e in self.epochs:
            if e.problem:
                out.append(f"  epoch {e.epoch}: {e.problem}")
            elif e.proven and not e.attested:
                out.append(f"  epoch {e.epoch}: {e.signed} of {e.reserves} reserve entries signed")
        latest = next((e for e in reversed(self.epochs) if e.header_hash), None)
        if latest is not None:
            out.append(f"header hash of epoch {latest.epoch} (post it): {latest.header_hash}")
        for fund in self.funds:
            held = ", ".join(f"{i} {q}" for i, q in fund.positions)
            out.append(f"{fund.account:>13}: {fund.cash}" + (f"  positions: {held}" if held else ""))
        if self.liabilities:
            owed = ", ".join(f"{asset} {amount}" for asset, amount in self.liabilities)
            out.append(f"liabilities of epoch {self.head_epoch} (smallest units; reserves must cover each): {owed}")
        elif self.liabilities_problem:
            out.append(f"liabilities of epoch {self.head_epoch}: not computed ({self.liabilities_problem})")
        return out


def _ranges(epochs: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``."""
    runs: list[list[int]] = []
    for epoch in epochs:
        if runs and runs[-1][1] == epoch - 1:
            runs[-1][1] = epoch
        else:
            runs.append([epoch, epoch])
    return ", ".join(str(first) if first == last else f"{first}-{last}" for first, last in runs)


def epoch_status(deployment: Deployment, epoch: int) -> EpochStatus:
    """Proven and attested state of one committed epoch, from its published bundle."""
    path = deployment.epoch_dir(epoch) / f"epoch-{epoch}.bundle"
    if not path.is_file():
        return EpochStatus(epoch, proven=False, attested=False)
    try:
        bundle = decode_public_bundle(read_file(path))
    except (ZkclearError, OSError) as exc:
        return EpochStatus(epoch, proven=True, attested=False, problem=f"bundle does not decode: {exc}")
    reserves = {entry.key for entry in bundle.reserves.entries}
    signed = {attestation.key for attestation in bundle.attestations} & reserves
    return EpochStatus(epoch, proven=True, attested=bool(reserves) and signed == reserves, signed=len(signed),
                       reserves=len(reserves), header_hash=bundle.epoch_hash().hex())


def deployment_status(deployment: Deployment) -> DeploymentStatus:
    """The status of ``deployment`` (LedgerError when its ledger is missing, like every command). The head state
    is never held: its instruments, account count and the clearing house's three accounts are read in one pass
    over the stored state, the liabilities in another (:meth:`Deployment.liabilities`, streamed, nothing
    written), a block at a time."""
    house = (INSURANCE_FUND, FEE_ACCOUNT, BACKSTOP)
    with deployment.ledger() as ledger:
        head, head_hash = ledger.head()
        header, count, rows = ledger.header_and_named(head, house)
        instruments = header.instruments
    missing = [account for account in house if account not in rows]
    if missing:  # the engine never drops them: an edited or damaged state
        raise LedgerError(f"stored state after epoch {head} has no account {', '.join(missing)} (damaged or edited)")
    funds = []
    for account in house:
        cash, positions = rows[account]
        held = tuple((i, q) for i, q in zip(instruments, positions, strict=True) if q)
        funds.append(FundBalance(account, cash, held))
    liabilities: tuple[tuple[str, int], ...] = ()
    problem = ""
    if head >= 1:  # what the epoch's statements would sum; a problem there must not hide the rest of the status
        try:
            liabilities = tuple(deployment.liabilities(head).items())
        except (ZkclearError, OSError) as exc:
            problem = str(exc)
    return DeploymentStatus(head, head_hash.hex(), count,
                            tuple(epoch_status(deployment, epoch) for epoch in range(1, head + 1)), tuple(funds),
                            liabilities, problem)
