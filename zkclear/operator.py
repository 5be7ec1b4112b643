"""The operator's workflow over a deployment directory: init, clear an epoch, prove it, publish.

A deployment directory holds::

    zkclear.toml      clearing configuration (instruments, risk parameters, deficit resolution) — docs/format.md
    proving.toml      tree shape and proving settings ([tree] height, chunk_bits, padding; [proving] ...)
    operator.secret   32 random bytes (hex): the key every blinding, salt and leaf placement is derived from
    ledger.sqlite     the clearing ledger (one transaction per epoch)
    epochs/N/         what ``epoch prove`` publishes for epoch N:
        epoch-N.bundle        public bundle (header, root, matched book, solvency proof, reserves, attestations)
        epoch-N.public.json   the epoch's public risk data (prices, margin lines, scenario table) the proofs bind
        epoch-N.audit         audit data (every chunk and node with its proofs; no balances)
        receipts/*.rcpt       one private receipt per account (file name: a hash of the account id)
        receipts.index        account id -> receipt file (operator side; hand each receipt to its owner)

Re-proving an epoch with the same secret produces byte-identical files (deterministic blindings).
"""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from circuits.public_data import AccountWitness, PublicRiskData
from provers.collateral import assign_account
from zkclear.bundle.format import (
    decode_audit_data,
    decode_public_bundle,
    decode_receipt,
    encode_public_bundle,
    read_file,
    write_epoch_files,
    write_file,
)
from zkclear.bundle.model import AuditData, PublicBundle
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import ConfigurationError, EncodingError, InputError, LedgerError
from zkclear.executor import Executor, get_executor
from zkclear.proofs.attestations import ReserveSet, sign_attestation
from zkclear.proofs.chunks import CollateralChunks
from zkclear.proofs.epoch_prover import AccountInput, EpochArtifacts, prove_epoch
from zkclear.proofs.header import ChainLink
from zkclear.tree.placement import CHUNK_PADDING_POLICIES, TreeConfig
from zkclear.tree.receipts import Receipt

if TYPE_CHECKING:  # the clearing engine (numpy) is imported where it runs: reading a published epoch needs none
    from zkclear.clearing.config import ClearingConfig
    from zkclear.clearing.engine import EpochReport
    from zkclear.clearing.ledger import CommitResult, Ledger

CONFIG_FILE = "zkclear.toml"
PROVING_FILE = "proving.toml"
SECRET_FILE = "operator.secret"
LEDGER_FILE = "ledger.sqlite"
EPOCHS_DIR = "epochs"

CHUNK_SYSTEM = CollateralChunks()

_PROVING_KEYS = {
    "tree": {"height": int, "chunk_bits": int, "chunk_padding": str, "chunk_padding_param": int, "sparse": bool},
    "proving": {"position_bits": int, "disclose_total": bool, "executor": str},
}


@dataclass(frozen=True, slots=True)
class ProvingSettings:
    """How an epoch is proven: the tree shape, the position width of the statements, whether the
    auditor receives the opening of the total, and which executor runs the proofs."""

    tree: TreeConfig = field(default_factory=TreeConfig)
    position_bits: int = 32
    disclose_total: bool = True
    executor: str = "process"

    def to_toml(self) -> str:
        t = self.tree
        return (
            "# zkclear proving settings (docs/format.md, \"proving.toml\")\n"
            "[tree]\n"
            f"height = {t.height}              # leaf capacity 2^height\n"
            f"chunk_bits = {t.chunk_bits}            # 2^chunk_bits accounts per collateral batch (a tree chunk)\n"
            f"chunk_padding = \"{t.chunk_padding}\"  # one of {', '.join(CHUNK_PADDING_POLICIES)}\n"
            f"chunk_padding_param = {t.chunk_padding_param}\n"
            f"sparse = {'true' if t.sparse else 'false'}           # chunk roots at PRF positions (hides the count)\n"
            "\n[proving]\n"
            f"position_bits = {self.position_bits}        # |position| < 2^position_bits lots (8, 16 or 32)\n"
            f"disclose_total = {'true' if self.disclose_total else 'false'}    # audit data opens the total\n"
            f"executor = \"{self.executor}\"     # serial, process or dask\n"
        )


def load_proving_settings(path: Path) -> ProvingSettings:
    """Parse ``proving.toml`` strictly: unknown tables or keys and wrong types are InputErrors."""
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=str(path)) from exc
    for table, value in data.items():
        if table not in _PROVING_KEYS or not isinstance(value, dict):
            raise InputError(f"unknown table [{table}]", path=str(path), line=_line_of(text, table), field=table)
        for key, item in value.items():
            expected = _PROVING_KEYS[table].get(key)
            if expected is None:
                raise InputError("unknown key", path=str(path), line=_line_of(text, key), field=f"{table}.{key}")
            if type(item) is not expected:
                raise InputError(f"must be {expected.__name__}, got {type(item).__name__}", path=str(path),
                                 line=_line_of(text, key), field=f"{table}.{key}")
    tree_values = data.get("tree", {})
    proving = data.get("proving", {})
    try:
        tree = TreeConfig(**tree_values)
        settings = ProvingSettings(tree=tree, **proving)
    except ConfigurationError as exc:
        raise InputError(str(exc), path=str(path)) from exc
    if settings.position_bits not in (8, 16, 32):
        raise InputError("must be 8, 16 or 32", path=str(path), line=_line_of(text, "position_bits"),
                         field="proving.position_bits")
    if settings.executor not in ("serial", "process", "dask"):
        raise InputError("must be serial, process or dask", path=str(path), line=_line_of(text, "executor"),
                         field="proving.executor")
    return settings


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith((key, f"[{key}]")):
            return number
    return None


@dataclass(frozen=True, slots=True)
class EpochFiles:
    """Where one proven epoch's files are."""

    directory: Path
    bundle: Path
    public: Path
    audit: Path
    receipts: dict[str, Path]


class Deployment:
    """One deployment directory (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        from zkclear.clearing.io import load_config

        self.root = Path(root)
        config_path = self.root / CONFIG_FILE
        if not config_path.exists():
            raise ConfigurationError(f"{self.root} is not a zkclear deployment (no {CONFIG_FILE}); "
                                     "create one with `zkclear init`")
        self.config: ClearingConfig = load_config(config_path)
        self.proving = load_proving_settings(self.root / PROVING_FILE)
        self._secret = bytes.fromhex((self.root / SECRET_FILE).read_text().strip())

    # -- creation ----------------------------------------------------------------------------

    @classmethod
    def init(cls, root: Path, config_text: str, proving: ProvingSettings, *,
             source: str | None = None) -> Deployment:
        """Create a deployment: validate the configuration, write it, a fresh operator secret and an empty
        ledger. Refuses a directory that already holds a deployment. ``source`` names the configuration
        file in error messages (the text is validated before anything is written)."""
        from zkclear.clearing.io import load_config

        root = Path(root)
        if (root / CONFIG_FILE).exists() or (root / LEDGER_FILE).exists():
            raise ConfigurationError(f"{root} already holds a deployment")
        root.mkdir(parents=True, exist_ok=True)
        staging = root / (CONFIG_FILE + ".new")
        staging.write_text(config_text, encoding="utf-8")
        try:
            load_config(staging)  # validate before anything else is written
        except InputError as exc:
            staging.unlink()
            raise InputError(exc.detail, path=source or exc.path, line=exc.line, field=exc.field) from None
        except BaseException:
            staging.unlink()
            raise
        staging.replace(root / CONFIG_FILE)
        (root / PROVING_FILE).write_text(proving.to_toml(), encoding="utf-8")
        secret_path = root / SECRET_FILE
        fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        deployment = cls(root)
        with deployment.ledger():
            pass
        return deployment

    # -- clearing ----------------------------------------------------------------------------

    def ledger(self) -> Ledger:
        from zkclear.clearing.ledger import Ledger

        return Ledger(self.root / LEDGER_FILE, self.config)

    def head(self) -> int:
        with self.ledger() as ledger:
            return ledger.head()[0]

    def run_epoch(self, inputs_dir: Path, epoch: int | None = None) -> CommitResult:
        """Parse and validate the epoch's input files, clear, and commit atomically (a no-op that says so
        when this exact epoch is already committed)."""
        from zkclear.clearing.io import load_epoch

        with self.ledger() as ledger:
            number = epoch if epoch is not None else ledger.head()[0] + 1
            inputs = load_epoch(Path(inputs_dir), number, self.config)
            return ledger.commit(inputs)

    def report(self, epoch: int) -> EpochReport:
        """The report of a committed epoch (recomputed deterministically from the ledger)."""
        from zkclear.clearing.engine import apply_epoch

        with self.ledger() as ledger:
            head = ledger.head()[0]
            if not 1 <= epoch <= head:
                raise LedgerError(f"epoch {epoch} is not committed (the ledger is at epoch {head})")
            return apply_epoch(ledger.state(epoch - 1), ledger.inputs(epoch), self.config)[1]

    # -- proving -----------------------------------------------------------------------------

    def public_data(self, epoch: int) -> PublicRiskData:
        """The epoch's public risk data, the statements' public input."""
        from zkclear.clearing.engine import option_equity_values

        report = self.report(epoch)
        # Equity = cash + Σ v_j·q_j: v_j is an option's value per lot under premium-style settlement, and 0
        # for everything whose mark changes settle into cash (futures, perpetuals, futures-style options).
        # The scenario table is there when portfolio margin is on.
        return PublicRiskData.from_epoch(report.risk, self.config.risk_models,
                                         scenario_table=getattr(report.risk, "scenario_table", None),
                                         equity_values=option_equity_values(self.config, report.risk),
                                         position_bits=self.proving.position_bits, label=f"epoch-{epoch}")

    def accounts(self, epoch: int) -> list[AccountInput]:
        """Every account of the state after ``epoch`` (the clearing house's own included) as a witness."""
        with self.ledger() as ledger:
            state = ledger.state(epoch)
        return [AccountInput(account, AccountWitness(int(cash), tuple(int(q) for q in row), mode))
                for account, mode, cash, row in zip(state.accounts, state.margin_modes, state.cash.tolist(),
                                                    state.positions.tolist(), strict=True)]

    def epoch_dir(self, epoch: int) -> Path:
        return self.root / EPOCHS_DIR / str(epoch)

    def previous_link(self, epoch: int) -> ChainLink | None:
        if epoch <= 1:
            return None
        path = self.epoch_dir(epoch - 1) / f"epoch-{epoch - 1}.bundle"
        if not path.exists():
            raise LedgerError(f"epoch {epoch - 1} has not been proven: prove epochs in order")
        return decode_public_bundle(read_file(path)).chain_link()

    def prove(self, epoch: int, reserves: ReserveSet, *, reserve_keys: Sequence[bytes] = (),
              executor: Executor | None = None,
              progress: Callable[[str, int, int], None] | None = None) -> tuple[EpochFiles, EpochArtifacts]:
        """Prove epoch ``epoch``: commitments, tree, every proof, bundle, audit data, all receipts.

        ``reserve_keys`` (optional) sign the attestation at once — for a demo or a single-custodian setup;
        otherwise custodians sign later with ``zkclear epoch attest``. ``executor`` (default: the one
        proving.toml names, closed afterwards) runs the proofs; ``progress(step, done, total)`` is told
        as chunks and nodes are proven.
        """
        public = self.public_data(epoch)
        accounts = self.accounts(epoch)
        check_collateralized(accounts, public)
        own_executor = executor is None
        run = executor if executor is not None else get_executor(self.proving.executor)
        try:
            artifacts = prove_epoch(
                accounts, public, reserves, epoch_id=epoch, previous=self.previous_link(epoch),
                config=self.proving.tree, blindings=BlindingSource.deterministic(self._secret),
                chunk_system=CHUNK_SYSTEM, executor=run, disclose_total=self.proving.disclose_total,
                progress=progress)
        finally:
            if own_executor:
                run.close()
        if reserve_keys:
            message = artifacts.bundle.attestation_message()
            artifacts.bundle = artifacts.bundle.with_attestations(
                tuple(sign_attestation(key, message) for key in reserve_keys))
        files = self.publish(epoch, artifacts, public)
        return files, artifacts

    def publish(self, epoch: int, artifacts: EpochArtifacts, public: PublicRiskData) -> EpochFiles:
        directory = self.epoch_dir(epoch)
        paths = write_epoch_files(directory, artifacts.bundle, artifacts.audit, artifacts.receipts, CHUNK_SYSTEM)
        public_path = directory / f"epoch-{epoch}.public.json"
        write_file(public_path, encode_public_data(public))
        index = {account: path.name for account, path in sorted(paths.items())}
        write_file(directory / "receipts.index", json.dumps(index, indent=1).encode("utf-8"))
        return epoch_files(directory, epoch, paths)

    def attest(self, epoch: int, key: bytes) -> PublicBundle:
        """Add one reserve key's attestation to a published bundle (idempotent for the same key)."""
        path = self.epoch_dir(epoch) / f"epoch-{epoch}.bundle"
        bundle = decode_public_bundle(read_file(path))
        attestation = sign_attestation(key, bundle.attestation_message())
        kept = tuple(a for a in bundle.attestations if a.signature != attestation.signature)
        bundle = bundle.with_attestations((*kept, attestation))
        write_file(path, encode_public_bundle(bundle))
        return bundle

    def receipt_path(self, epoch: int, account: str) -> Path:
        index = json.loads(read_file(self.epoch_dir(epoch) / "receipts.index"))
        if account not in index:
            raise InputError(f"no receipt for account {account!r} in epoch {epoch}")
        return self.epoch_dir(epoch) / "receipts" / index[account]


def check_collateralized(accounts: Sequence[AccountInput], public: PublicRiskData) -> None:
    """ProvingError naming the first account (by id) whose values do not satisfy its statement — before any
    proving starts. The engine leaves no account below maintenance, except on an instrument whose liquidations
    the oracle guard paused (docs/clearing.md); such an epoch cannot be proven until the pause lifts."""
    for account in accounts:
        assign_account(account.account_id, account.witness, public)


def epoch_files(directory: Path, epoch: int, receipts: dict[str, Path] | None = None) -> EpochFiles:
    directory = Path(directory)
    return EpochFiles(directory, directory / f"epoch-{epoch}.bundle", directory / f"epoch-{epoch}.public.json",
                      directory / f"epoch-{epoch}.audit", receipts or {})


# -- the published public risk data -------------------------------------------------------------

def encode_public_data(public: PublicRiskData) -> bytes:
    """The public risk data as the canonical JSON whose SHA-256 is the header's public-data digest."""
    return json.dumps(public.canonical(), separators=(",", ":"), ensure_ascii=True).encode("ascii")


def decode_public_data(data: bytes, *, path: str = "<public data>") -> PublicRiskData:
    """Rebuild the public risk data from its canonical JSON; EncodingError on anything malformed."""
    from circuits.public_data import MarginLine, PublicInstrument, ScenarioMargin

    try:
        tag, label, position_bits, money_bits, instruments, scenario = json.loads(data)
        listed = tuple(
            PublicInstrument(instrument_id, value, tuple(MarginLine(*line) for line in lines), long_c, short_c)
            for instrument_id, value, lines, long_c, short_c in instruments)
        scenario_margin = None
        if scenario is not None:
            scale, groups, rows = scenario
            scenario_margin = ScenarioMargin(scale, tuple(tuple(g) for g in groups),
                                             tuple(tuple(r) for r in rows))
        public = PublicRiskData(listed, scenario_margin, position_bits=position_bits, money_bits=money_bits,
                                label=label)
    except (ValueError, TypeError) as exc:
        raise EncodingError(f"{path}: not a public risk data file ({exc})") from exc
    if public.canonical()[0] != tag or encode_public_data(public) != bytes(data).strip():
        raise EncodingError(f"{path}: public risk data is not in canonical form")
    try:
        public.check_budget()
    except ConfigurationError as exc:
        raise EncodingError(f"{path}: public risk data breaks the soundness budget ({exc})") from exc
    return public


# -- reading a published epoch (participants and auditors need no deployment) ---------------------

@dataclass(frozen=True, slots=True)
class PublishedEpoch:
    """A published epoch as a verifier reads it: the bundle and the public data it binds."""

    bundle: PublicBundle
    public: PublicRiskData
    files: EpochFiles

    def audit_data(self) -> AuditData:
        return decode_audit_data(read_file(self.files.audit), self.bundle.header, self.public, CHUNK_SYSTEM)

    def receipt(self, path: Path) -> Receipt:
        return decode_receipt(read_file(path), self.public, CHUNK_SYSTEM,
                              chunk_size=self.bundle.header.tree.chunk_size)


def open_published(directory: Path, epoch: int | None = None) -> PublishedEpoch:
    """Open ``epoch-N.bundle`` and ``epoch-N.public.json`` in ``directory`` (N found when not given)."""
    directory = Path(directory)
    if epoch is None:
        bundles = sorted(directory.glob("epoch-*.bundle"))
        if len(bundles) != 1:
            raise InputError(f"expected exactly one epoch-N.bundle in {directory}, found {len(bundles)}")
        epoch = int(bundles[0].name.split("-")[1].split(".")[0])
    files = epoch_files(directory, epoch)
    for path in (files.bundle, files.public):
        if not path.exists():
            raise InputError("file not found", path=str(path))
    bundle = decode_public_bundle(read_file(files.bundle))
    public = decode_public_data(read_file(files.public), path=str(files.public))
    return PublishedEpoch(bundle, public, files)
