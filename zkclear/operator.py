"""The operator's workflow over a deployment directory: init, clear an epoch, prove it, publish.

A deployment directory holds::

    zkclear.toml      clearing configuration (instruments, risk parameters, deficit resolution) — docs/format.md
    proving.toml      tree shape and proving settings ([tree] height, chunk_bits, padding; [proving] ...)
    operator.secret   32 random bytes (hex): the key every blinding, account key, salt and placement is derived from
    ledger.sqlite     the clearing ledger (one transaction per epoch; mode 0600: balances in the clear)
    epochs/N/         PUBLISH THIS FOLDER: what everyone may download for epoch N
        epoch-N.bundle        public bundle (header, root, matched book, solvency proof, reserves, attestations)
        epoch-N.public.json   the statements' public risk data (coefficients the proofs bind)
        epoch-N.inputs.json   the public inputs it is recomputed from (configuration, marks, oracle, vols, ...)
        epoch-N.audit         audit data (every chunk and node with its proofs; no balance, no total)
    private/N/        NEVER PUBLISH: what goes to single recipients (private/ is mode 0700: its owner's only)
        receipts/*.rcpt       one receipt per account, for its owner only (file names keyed: unguessable,
                              unlinkable across epochs)
        receipts.index        account id -> receipt file (operator only)
        epoch-N.total         the total liabilities' opening, for the auditor only (when disclose_total is on)
        ledger-epoch-hash     the ledger's epoch hash of N when N was proven: the next prove refuses a ledger
                              with another history (operator only)
        work/                 while `epoch prove` runs: finished proofs, so that an interrupted prove resumes
                              (zkclear.proofs.work_store); removed when the epoch's files are all written
    private/participants/*.toml   each account's participant file (account id and account key), handed to its
                              owner at account opening; the same every epoch

Re-proving an epoch with the same secret produces byte-identical files (deterministic blindings).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import signal
import sqlite3
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from circuits.public_data import PublicRiskData
from provers.collateral import assign_account
from zkclear.bundle.format import (
    decode_public_bundle,
    encode_public_bundle,
    encode_receipt,
    encode_total_opening,
    read_file,
    write_file,
)
from zkclear.bundle.model import PublicBundle
from zkclear.chains import DemoKey, ReserveEntry, attest_reserves, check_signers, controls, parse_address
from zkclear.clearing.config import INSURANCE_FUND, ClearingConfig
from zkclear.clearing.engine import EpochReport, apply_epoch
from zkclear.clearing.inputs import DEFAULT_BATCH_FILLS
from zkclear.clearing.io import load_config, load_epoch, parse_config
from zkclear.clearing.ledger import CommitResult, Ledger
from zkclear.clearing.provable import StatementLimits
from zkclear.clearing.state import EpochState
from zkclear.crypto.field import scalar_to_bytes
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import ConfigurationError, EncodingError, InputError, LedgerError, VerificationError
from zkclear.executor import Executor, get_executor
from zkclear.files import (
    check_regular_file,
    close_to_others,
    naming_write_errors,
    new_file,
    private_folder,
    require_no_link,
)
from zkclear.locks import deployment_lock, prove_lock
from zkclear.proofs.epoch_prover import (
    AccountInput,
    EpochArtifacts,
    make_header,
    require_reserves_cover,
    total_liabilities,
)
from zkclear.proofs.header import ChainLink, EpochHeader
from zkclear.proofs.recompute import public_inputs_of_epoch, recompute
from zkclear.proofs.reserves import ReserveBook, build_reserve_book, listed_entry, older_block, venue_assets
from zkclear.proofs.streaming import ClosedEpoch, StreamSettings, close_epoch
from zkclear.proving_settings import ProvingSettings, load_proving_settings
from zkclear.scratch import scratch_folder
from zkclear.state_source import StateSource, row_inputs, state_inputs
from zkclear.tree.identity import ACCOUNT_KEY_LABEL
from zkclear.verifier.public_inputs import PublicInputs
from zkclear.verifier.published import CHUNK_SYSTEM, MAX_RECEIPT_BYTES, EpochFiles, encode_risk_data

CONFIG_FILE = "zkclear.toml"
PROVING_FILE = "proving.toml"
SECRET_FILE = "operator.secret"
LEDGER_FILE = "ledger.sqlite"
EPOCHS_DIR = "epochs"
PRIVATE_DIR = "private"
#: Written first and removed last by ``zkclear init``: while it is there, the deployment is an interrupted init
#: (killed, or a write failed), which no command opens and the same ``zkclear init`` run again clears and redoes.
INIT_MARKER = ".zkclear-init-incomplete"
#: What an init writes (the ledger with SQLite's side files): all that an interrupted one can have left.
_INIT_FILES = (CONFIG_FILE, CONFIG_FILE + ".new", PROVING_FILE, SECRET_FILE, LEDGER_FILE, LEDGER_FILE + "-wal",
               LEDGER_FILE + "-shm", LEDGER_FILE + "-journal")
#: In ``private/N/``: the ledger's epoch hash of epoch N when N was proven (hex;
#: :meth:`Deployment.require_proven_history`).
LEDGER_HASH_FILE = "ledger-epoch-hash"
DOMAIN_RECEIPT_FILE = b"zkclear/receipt-file/v2"
#: Test hook: ``receipts:N`` (SIGKILL itself after the N-th receipt) or ``bundle`` (just before the bundle) while
#: ``epoch prove`` writes its files. Used by the resume tests; unset in production.
PROVE_CRASH_HOOK_ENV = "ZKCLEAR_TEST_PROVE_CRASH"
#: Threads writing receipt files while the coordinator assembles the next ones.
RECEIPT_WRITERS = 4

@dataclass(frozen=True, slots=True)
class ProvenEpoch:
    """Where one proven epoch's files went: the folder to publish and the private files for single
    recipients (receipts by account id, the auditor's total file when written)."""

    publish: EpochFiles
    private: Path
    receipts: Mapping[str, Path]
    total: Path | None


class ReceiptFiles(Mapping[str, Path]):
    """Account id -> receipt path of one proven epoch, read from ``receipts.index`` when iterated (nothing held
    per account)."""

    def __init__(self, deployment: Deployment, epoch: int, accounts: int) -> None:
        self._deployment, self._epoch, self._accounts = deployment, epoch, accounts

    def __getitem__(self, account: str) -> Path:
        path = self._deployment.private_dir(self._epoch) / "receipts" / self._deployment.receipt_file_name(
            self._epoch, account)
        if not path.is_file():
            raise KeyError(account)
        return path

    def __iter__(self) -> Iterator[str]:
        index = json.loads(read_file(self._deployment.private_dir(self._epoch) / "receipts.index"))
        return iter(index)

    def __len__(self) -> int:
        return self._accounts


class Deployment:
    """One deployment directory (see the module docstring)."""

    def __init__(self, root: Path, *, read_only: bool = False, _creating: bool = False) -> None:
        """Open the deployment at ``root``. ``read_only``: for a reader that writes nothing (``zkclear status``): its
        ledger opens also in a folder that cannot be written (:class:`~zkclear.clearing.ledger.Ledger`)."""
        self.root = Path(root)
        self.read_only = read_only
        config_path = self.root / CONFIG_FILE
        if not self.root.is_dir():
            raise ConfigurationError(f"{self.root} is not a zkclear deployment (no such directory); create one with "
                                     "`zkclear init`")
        if not _creating and (self.root / INIT_MARKER).exists():  # not a deployment yet: its ledger may not even exist
            raise ConfigurationError(f"{self.root} is not a deployment yet: a `zkclear init` is creating it, or was "
                                     f"interrupted (it holds {INIT_MARKER}): run the same zkclear init again")
        for name in (CONFIG_FILE, PROVING_FILE):  # a market folder has a zkclear.toml too (secret: below)
            if not (self.root / name).exists():
                raise ConfigurationError(f"{self.root} is not a zkclear deployment (no {name}); "
                                         "create one with `zkclear init`")
        self.proving = load_proving_settings(self.root / PROVING_FILE)
        # The engine refuses what the statements could not prove (docs/clearing.md "Provable by construction").
        self.config: ClearingConfig = replace(load_config(config_path),
                                              statement_limits=StatementLimits(self.proving.position_bits))
        self._secret = _read_secret(self.root / SECRET_FILE)

    # -- creation ----------------------------------------------------------------------------

    @classmethod
    def init(cls, root: Path, config_text: str, proving: ProvingSettings, *,
             source: str | None = None) -> Deployment:
        """Create a deployment: validate the configuration, write it, a fresh operator secret and an empty
        ledger. Refuses a directory that already holds a deployment. ``source`` names the configuration
        file in error messages (the text is validated before anything is written)."""
        root = Path(root)
        cls._refuse_existing(root, clear=False)
        # validated before anything is written (a refused init leaves no directory behind)
        parse_config(config_text, path=source or str(root / CONFIG_FILE))
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create the deployment directory {root}: {exc.strerror}") from None
        with deployment_lock(root):  # one init at a time: a second one waits, then finds the deployment made
            cls._refuse_existing(root, clear=True)
            marker = root / INIT_MARKER
            try:
                _write_synced(marker, "zkclear init is writing this deployment: if it was interrupted, run it again\n")
            except OSError as exc:
                marker.unlink(missing_ok=True)
                raise ConfigurationError(f"cannot write in {root}: {exc.strerror or exc}") from None
            try:
                staging = root / (CONFIG_FILE + ".new")
                staging.write_text(config_text, encoding="utf-8")
                staging.replace(root / CONFIG_FILE)
                (root / PROVING_FILE).write_text(proving.to_toml(), encoding="utf-8")
                secret_path = root / SECRET_FILE
                fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_hex(32) + "\n")
                deployment = cls(root, _creating=True)
                # the ledger holds every account's balances in the clear: readable by the operator only, like the
                # secret (SQLite gives its -wal and -shm files the database file's mode)
                os.close(os.open(root / LEDGER_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                with Ledger(root / LEDGER_FILE, deployment.config):  # the one place a ledger is created
                    pass
                marker.unlink()  # the deployment exists from here on
            except BaseException as exc:  # a full disk, an interrupt: leave no half-made deployment behind
                with contextlib.suppress(OSError, ConfigurationError):
                    _clear_interrupted_init(root)
                if isinstance(exc, OSError):
                    raise ConfigurationError(f"cannot create the deployment in {root}: {exc.strerror or exc}") from None
                raise
        return deployment

    @staticmethod
    def _refuse_existing(root: Path, *, clear: bool) -> None:
        """ConfigurationError if ``root`` holds a deployment or an earlier one's files. With ``clear`` (only under
        the init lock: the marker may be a running init's) what an interrupted init left is cleared first
        (:func:`_clear_interrupted_init`); without, a folder holding the marker is left to that check."""
        if (root / INIT_MARKER).exists():  # an earlier init was killed or failed: what it wrote goes, nothing else
            if not clear:
                return
            _clear_interrupted_init(root)
        if (root / CONFIG_FILE).exists() or (root / LEDGER_FILE).exists():
            raise ConfigurationError(f"{root} already holds a deployment")
        leftovers = [name for name in (SECRET_FILE, EPOCHS_DIR, PRIVATE_DIR) if (root / name).exists()]
        if leftovers:  # an earlier deployment's: its proven epochs would pass for this one's (status, attest)
            raise ConfigurationError(f"{root} holds {', '.join(leftovers)} of an earlier deployment: create the "
                                     "deployment in a new directory, or move them away first")

    # -- clearing ----------------------------------------------------------------------------

    def ledger(self) -> Ledger:
        """The deployment's ledger; LedgerError if ``ledger.sqlite`` has gone missing (never recreated empty:
        that would silently restart the deployment from genesis)."""
        path = self.root / LEDGER_FILE
        if not path.is_file():
            raise LedgerError(f"{path} is missing: this deployment's ledger is gone; restore it from a backup "
                              "(an empty one would restart the deployment from genesis)")
        if not self.read_only:  # a ledger made before red team session 14 was open to every local user
            for name in (LEDGER_FILE, LEDGER_FILE + "-wal", LEDGER_FILE + "-shm"):
                close_to_others(self.root / name)
        return Ledger(path, self.config, create=False, read_only=self.read_only)

    def head(self) -> int:
        with self.ledger() as ledger:
            return ledger.head()[0]

    def run_epoch(self, inputs_dir: Path, epoch: int | None = None, *,
                  batch_fills: int = DEFAULT_BATCH_FILLS) -> CommitResult:
        """Parse and validate the epoch's input files, clear, and commit atomically (a no-op that says so
        when this exact epoch is already committed, or — without ``epoch`` — when an earlier epoch committed
        the same files). ``fills.csv`` is read in batches of ``batch_fills`` fills from a private copy: the
        memory the clearing takes is set by it and the number of accounts, not by the number of fills (the
        result does not depend on it)."""
        with self.ledger() as ledger, scratch_folder(self.root / PRIVATE_DIR) as scratch:
            # the ledger first: a missing or damaged ledger is refused before anything is written
            (scratch / "commit").mkdir()
            number = epoch if epoch is not None else ledger.head()[0] + 1
            inputs = load_epoch(Path(inputs_dir), number, self.config, batch_fills=batch_fills, scratch=scratch)
            # provable_only: an epoch no statement could prove would stop every later epoch's proof
            return ledger.commit(inputs, once_per_folder=epoch is None, scratch=scratch / "commit",
                                 provable_only=True)

    def _require_committed(self, ledger: Ledger, epoch: int) -> None:
        head = ledger.head()[0]
        if not 1 <= epoch <= head:
            raise LedgerError(f"epoch {epoch} is not committed (the ledger is at epoch {head})")

    def report(self, epoch: int) -> EpochReport:
        """The report of a committed epoch (recomputed deterministically from the ledger)."""
        with self.ledger() as ledger:
            self._require_committed(ledger, epoch)
            return apply_epoch(ledger.state(epoch - 1), ledger.inputs(epoch), self.config)[1]

    # -- proving -----------------------------------------------------------------------------

    def public_inputs(self, epoch: int) -> PublicInputs:
        """The epoch's public inputs (what its public risk data is recomputed from)."""
        with self.ledger() as ledger:
            self._require_committed(ledger, epoch)
            state_before = ledger.state_without_accounts(epoch - 1)
            inputs = ledger.inputs(epoch, public_only=True)
        text = (self.root / CONFIG_FILE).read_text(encoding="utf-8")
        return public_inputs_of_epoch(text, state_before, inputs, position_bits=self.proving.position_bits)

    def public_data(self, epoch: int, inputs: PublicInputs | None = None) -> PublicRiskData:
        """The epoch's public risk data, the statements' public input: recomputed from the public inputs with
        the same code an auditor runs (zkclear.proofs.recompute)."""
        return recompute(inputs if inputs is not None else self.public_inputs(epoch)).public_data

    @contextlib.contextmanager
    def account_source(self, epoch: int) -> Iterator[StateSource]:
        """The accounts of the state after ``epoch`` (the clearing house's own included), read one at a time from
        a private scratch copy (``private/scratch/``) that exists until the block ends."""
        with scratch_folder(self.root / PRIVATE_DIR) as scratch:
            with self.ledger() as ledger:
                self._require_committed(ledger, epoch)
                copied = ledger.copy_accounts(epoch, scratch / "accounts.sqlite")
            try:
                yield StateSource(copied, scratch)
            finally:
                copied.close()

    def account_count(self, epoch: int) -> int:
        """How many accounts the state after ``epoch`` holds (the clearing house's own included)."""
        with self.ledger() as ledger:
            self._require_committed(ledger, epoch)
            return ledger.account_count(epoch)

    def accounts(self, epoch: int) -> list[AccountInput]:
        """Every account of the state after ``epoch`` (the clearing house's own included) as a witness."""
        with self.account_source(epoch) as source:
            return list(source.inputs())

    def config_text(self) -> str:
        """The deployment's clearing configuration (zkclear.toml) as written at init."""
        return (self.root / CONFIG_FILE).read_text(encoding="utf-8")

    def liabilities(self, epoch: int, state: EpochState | None = None) -> dict[str, int]:
        """What the tree of ``epoch`` will sum per asset (the settlement asset first, each in its smallest unit):
        the least reserves each asset needs for the epoch to prove (docs/protocol.md, "Per-asset solvency").
        ``state``: the state after ``epoch`` when the caller holds it already (summed as it is); else the accounts
        are streamed from the ledger's stored state (:meth:`Ledger.account_rows`). Nothing is written either way."""
        public = self.public_data(epoch)
        assets = [asset.asset_id for asset in venue_assets(self.config_text())]
        if state is not None:
            if state.epoch != epoch:
                raise ValueError(f"the state given is after epoch {state.epoch}, not {epoch}")
            return dict(zip(assets, total_liabilities(state_inputs(state), public, CHUNK_SYSTEM, len(assets)),
                            strict=True))
        with self.ledger() as ledger:
            self._require_committed(ledger, epoch)
            owed = total_liabilities(row_inputs(ledger.account_rows(epoch)), public, CHUNK_SYSTEM, len(assets))
        return dict(zip(assets, owed, strict=True))

    def epoch_dir(self, epoch: int) -> Path:
        """The folder to publish for ``epoch``."""
        return self.root / EPOCHS_DIR / str(epoch)

    def private_dir(self, epoch: int) -> Path:
        """The operator's private files of ``epoch`` (receipts, index, the auditor's total)."""
        return self.root / PRIVATE_DIR / str(epoch)

    def bundle_path(self, epoch: int) -> Path:
        return EpochFiles(self.epoch_dir(epoch), epoch).bundle

    def is_proven(self, epoch: int) -> bool:
        return self.bundle_path(epoch).exists()

    def ledger_epoch_hash(self, epoch: int) -> bytes:
        """The ledger's hash of its history up to ``epoch`` (``epoch_hash_e``, zkclear/clearing/ledger.py)."""
        with self.ledger() as ledger:
            hashes = ledger.epoch_hashes()
        if not 1 <= epoch <= len(hashes):
            raise LedgerError(f"epoch {epoch} is not in the ledger (its last epoch is {len(hashes)})")
        return hashes[epoch - 1]

    def require_proven_history(self, epoch: int) -> None:
        """Refuse to prove ``epoch`` from a ledger whose history is not the one the epochs already proven were proven
        from: each prove records the ledger's epoch hash (``private/N/ledger-epoch-hash``), and epoch N−1's and N's
        records must equal the ledger's hashes now (one hash covers the whole history up to its epoch). A
        ``ledger.sqlite`` restored from another deployment or another history would otherwise be proven as the
        continuation of the published chain. Epochs proven before the record existed are not checked, nor a record
        whose epoch has no bundle (a prove stopped before the bundle: nothing of that epoch was published, and the
        ledger may have been restored to clear it again)."""
        for proven in (epoch - 1, epoch):
            path = self.private_dir(proven) / LEDGER_HASH_FILE if proven >= 1 else None
            if path is None or not path.is_file() or not self.is_proven(proven):
                continue
            recorded = read_file(path).decode("ascii", "replace").strip()
            current = self.ledger_epoch_hash(proven).hex()
            if recorded != current:
                raise LedgerError(f"{self.root / LEDGER_FILE}: its history up to epoch {proven} is not the one epoch "
                                  f"{proven} was proven from (ledger epoch hash {current[:16]}..., recorded "
                                  f"{recorded[:16]}... in {path}): a ledger from another history (a restored "
                                  "backup?) is not proven as the continuation of the published chain; nothing was "
                                  "written")

    def _record_ledger_history(self, epoch: int) -> None:
        path = self.private_dir(epoch) / LEDGER_HASH_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, (self.ledger_epoch_hash(epoch).hex() + "\n").encode("ascii"))

    def previous_link(self, epoch: int) -> ChainLink | None:
        if epoch <= 1:
            return None
        path = self.bundle_path(epoch - 1)
        if not path.exists():
            raise LedgerError(f"epoch {epoch - 1} has not been proven: prove epochs in order")
        return _decode_bundle(path).chain_link()

    def account_key(self, account: str) -> bytes:
        """The account's key (issued at opening, never rotated): what its leaf salts derive from."""
        return scalar_to_bytes(BlindingSource.deterministic(self._secret).scalar(ACCOUNT_KEY_LABEL, account))

    def reserve_book(self, entries: Sequence[ReserveEntry], *, path: str | None = None) -> ReserveBook:
        """The epoch's reserves list from reserves.csv v2 entries: the venue's name (proving.toml ``[reserves]
        venue``), its assets and decimals (zkclear.toml) and each entry's chain decimals; InputError naming the
        file, line and field of what cannot be used."""
        if not self.proving.venue:
            raise InputError("required to prove an epoch: the venue's public name, which every custodian's "
                             "attestation text names (e.g. venue = \"Acme Clearing\")",
                             path=str(self.root / PROVING_FILE), field="reserves.venue")
        config_path = self.root / CONFIG_FILE
        assets = venue_assets(config_path.read_text(encoding="utf-8"), path=str(config_path))
        tokens = {(chain, asset): (contract, decimals) for chain, asset, contract, decimals in self.proving.tokens}
        return build_reserve_book(self.proving.venue, assets, entries, tokens=tokens, path=path)

    def require_blocks_advance(self, epoch: int, book: ReserveBook, *, path: str | None = None) -> None:
        """InputError naming the reserves.csv line (entry ``i`` is on line ``i + 2``) of a chain read at a lower
        block than the latest proven epoch before ``epoch`` that listed the chain (the epoch before, or an earlier
        one when the chain was left out since): what every auditor of both epochs refuses
        (zkclear.proofs.reserves.check_blocks_advance)."""
        history: dict[str, tuple[int, ReserveEntry]] = {}
        chains = {entry.chain for entry in book.entries}
        for earlier in range(epoch - 1, 0, -1):  # newest first, until every chain of the book is found
            if chains <= history.keys():
                break
            if self.is_proven(earlier):
                for entry in self._published_bundle(earlier).reserves.entries:
                    history.setdefault(entry.chain, (earlier, entry))
        older = older_block(history, book)
        if older is not None:
            index, entry, earlier, old = older
            if entry.block_height == old.block_height:
                raise InputError(f"{entry.chain} is read at block {entry.block_height} ({entry.block_hash}), epoch "
                                 f"{earlier}'s reserves at the same height under another hash ({old.block_hash}): "
                                 "one of them is not on the chain", path=path, line=index + 2, field="block_hash")
            raise InputError(f"{entry.chain} is read at block {entry.block_height}, before the block epoch "
                             f"{earlier}'s reserves were read at ({old.block_height}, {old.block_hash}): a reserves "
                             "snapshot older than the previous epoch's to list the chain", path=path, line=index + 2,
                             field="block_height")

    def require_no_prove_running(self) -> None:
        """InputError when another ``epoch prove`` runs on this deployment (:meth:`prove` checks again and holds
        the lock): a second prove is refused before it reaches or starts a Dask cluster, not once it has."""
        with prove_lock(self.root / LEDGER_FILE):
            pass

    def prove(self, epoch: int, reserves: Sequence[ReserveEntry] | ReserveBook, *,
              reserve_keys: Sequence[DemoKey] = (), reserves_path: str | None = None,
              executor: Executor | None = None, scheduler: str | None = None, workers: int | None = None,
              progress: Callable[[str, int, int], None] | None = None) -> tuple[ProvenEpoch, ClosedEpoch]:
        """Prove epoch ``epoch``: commitments, tree, every proof, bundle, audit data, all receipts, in bounded
        memory (:mod:`zkclear.proofs.streaming`). Finished work goes to ``private/N/work/`` as it arrives: a prove
        that was interrupted resumes from it (after checking it) and writes the same bytes.

        ``reserves`` are the entries of reserves.csv v2 (``reserves_path`` names it in errors) or a ready
        reserve book. ``reserve_keys`` (optional; zkclear.chains test keys) attest at once — for a demo or a
        single-custodian setup; otherwise custodians sign later with ``zkclear epoch attest``. Before any proving:
        a key that controls no listed address, an address two keys would sign, a chain read at an older block than
        in the latest earlier epoch that listed it (:meth:`require_blocks_advance`), an account that is not
        collateralized and reserves that do not cover some asset's liabilities are refused. ``executor``
        (default: the one proving.toml names, with ``workers`` processes or the Dask ``scheduler`` given, closed
        afterwards) runs the proofs; ``progress(step, done, total)`` is told as chunks and nodes are proven and
        receipts written.
        """
        book = reserves if isinstance(reserves, ReserveBook) else self.reserve_book(reserves, path=reserves_path)
        self._require_no_private_link(epoch)  # before any proving
        check_signers(reserve_keys, book.entries)
        self.require_blocks_advance(epoch, book, path=reserves_path)
        inputs = self.public_inputs(epoch)
        public = self.public_data(epoch, inputs)
        with prove_lock(self.root / LEDGER_FILE), self.account_source(epoch) as source:  # the copy: removed when done
            return self._prove_accounts(epoch, source, book, inputs, public, reserve_keys=reserve_keys,
                                        reserves_path=reserves_path, executor=executor, scheduler=scheduler,
                                        workers=workers, progress=progress)

    def _require_no_private_link(self, epoch: int) -> None:
        """InputError naming a symbolic link where this epoch's receipts or the participant files go (a link
        planted in ``private/`` while it was open to others would receive every account's receipt or key)."""
        for folder in (self.private_dir(epoch) / "receipts", self.root / PRIVATE_DIR / "participants"):
            require_no_link(folder, under=self.root / PRIVATE_DIR)

    def _prove_accounts(self, epoch: int, source: StateSource, book: ReserveBook, inputs: PublicInputs,
                        public: PublicRiskData, *, reserve_keys: Sequence[DemoKey], reserves_path: str | None,
                        executor: Executor | None, scheduler: str | None, workers: int | None,
                        progress: Callable[[str, int, int], None] | None) -> tuple[ProvenEpoch, ClosedEpoch]:
        """:meth:`prove` once the accounts are copied to ``source``; the placement is kept next to them."""
        check_collateralized(source.inputs(), public)
        self.require_proven_history(epoch)
        previous = self.previous_link(epoch)
        existing = self._published_bundle(epoch) if self.is_proven(epoch) else None
        if existing is not None and existing.header.reserves_digest != book.digest():
            require_reserves_cover(source.inputs(), public, book, CHUNK_SYSTEM)  # that refusal first, as unproven
            raise InputError(f"epoch {epoch} is already proven (header hash {existing.epoch_hash().hex()}) with "
                             "other reserves: a proven epoch is not proven again with different inputs (its header "
                             "hash may already be posted)", path=reserves_path)
        if existing is not None:
            _require_same_header(epoch, existing, make_header(epoch, previous, public, book, self.proving.tree,
                                                              CHUNK_SYSTEM, inputs.digest()))
        own_executor = executor is None
        run = executor if executor is not None else get_executor(
            "dask" if scheduler else self.proving.executor, workers, scheduler)
        try:
            closed = close_epoch(
                source, public, book, epoch_id=epoch, previous=previous, config=self.proving.tree,
                blindings=BlindingSource.deterministic(self._secret), chunk_system=CHUNK_SYSTEM, executor=run,
                work_folder=self.private_dir(epoch) / "work", public_inputs_digest=inputs.digest(),
                settings=StreamSettings(self.proving.window or None, self.proving.subtree_chunks,
                                        self.proving.node_group), progress=progress, scratch=source.scratch)
        finally:
            if own_executor:
                run.close()
        context = closed.bundle.attestation_context()
        # A re-run of a proven epoch writes the same header: the custodians' signatures already on it stay (those
        # of the keys given here are made again, deterministically). The bundle is read again under the
        # deployment's lock, so a signature an `epoch attest` added meanwhile is kept too.
        signing = {entry.key for key in reserve_keys for entry in book.entries
                   if controls(key, parse_address(entry.chain, entry.address))}
        with deployment_lock(self.root):
            current = self._published_bundle(epoch) if self.is_proven(epoch) else None
            if current is not None and current.epoch_hash() != closed.bundle.epoch_hash():
                closed.discard_work()
                raise LedgerError(f"epoch {epoch} is already proven (header hash {current.epoch_hash().hex()}); "
                                  f"proving it again gives another root ({closed.bundle.epoch_hash().hex()}): the "
                                  f"operator secret ({SECRET_FILE}) changed since; nothing was written")
            # Its bundle lost, an epoch the next one is proven on is proven again only as it was (red team session 14:
            # with other reserves it was written, and the published chain forked at the next epoch).
            following = self._published_bundle(epoch + 1) if self.is_proven(epoch + 1) else None
            if following is not None and following.header.previous_epoch_hash != closed.bundle.epoch_hash():
                closed.discard_work()
                raise LedgerError(f"epoch {epoch + 1} is proven on epoch {epoch} of header hash "
                                  f"{following.header.previous_epoch_hash.hex()}; proving epoch {epoch} now gives "
                                  f"{closed.bundle.epoch_hash().hex()} (other reserves, settings or inputs than it was "
                                  f"proven with): its header hash may already be posted, and epoch {epoch + 1} names "
                                  "it; nothing was written")
            attestations: list = [] if current is None else [
                attestation for attestation in current.attestations if attestation.key not in signing]
            for key in reserve_keys:
                attestations += attest_reserves(key, context, book.entries, attestations)
            closed.bundle = closed.bundle.with_attestations(tuple(attestations))
            self._record_ledger_history(epoch)  # before the bundle: a bundle on disk has its record
            proven = self._publish_closed(epoch, closed, public, inputs, progress)
        closed.discard_work()
        closed.close()
        return proven, closed

    def _publish_closed(self, epoch: int, closed: ClosedEpoch, public: PublicRiskData, inputs: PublicInputs,
                        progress: Callable[[str, int, int], None] | None) -> ProvenEpoch:
        """Write a streamed epoch's files (the same bytes :meth:`publish` writes for the same epoch): receipts
        and participant files as they are assembled, then the index, the total, the public files, the audit
        data, and the bundle last after one sync (a bundle on disk means the epoch is complete and durable)."""
        import time

        files = EpochFiles(self.epoch_dir(epoch), epoch)
        private = self.private_dir(epoch)
        private_folder(self.root / PRIVATE_DIR)
        self._require_no_private_link(epoch)
        (private / "receipts").mkdir(parents=True, exist_ok=True)
        files.directory.mkdir(parents=True, exist_ok=True)
        for stale in [*private.glob("receipts/*.tmp"), *files.directory.glob("*.tmp")]:
            stale.unlink(missing_ok=True)
        started = time.perf_counter()
        participants = self.root / PRIVATE_DIR / "participants"
        participants.mkdir(parents=True, exist_ok=True)
        step = "receipts"
        if progress is not None:
            progress(step, 0, closed.accounts)
        crash = os.environ.get(PROVE_CRASH_HOOK_ENV, "")

        def write_one(account: str, key: bytes, data: bytes) -> None:
            _write_unsynced(private / "receipts" / self.receipt_file_name(epoch, account), data)
            self._write_participant_file(participants, account, key)

        # Receipts are assembled here, in tree order, and written by a few threads (file system calls and
        # hashing release the GIL): a bounded number in flight, so memory does not grow with the accounts.
        with ThreadPoolExecutor(max_workers=RECEIPT_WRITERS) as writers:
            in_flight: deque = deque()
            for written, (account, key, data) in enumerate(closed.receipts(), start=1):
                in_flight.append(writers.submit(write_one, account, key, data))
                if len(in_flight) >= 8 * RECEIPT_WRITERS:
                    in_flight.popleft().result()
                if crash == f"receipts:{written}":
                    while in_flight:
                        in_flight.popleft().result()
                    os.kill(os.getpid(), signal.SIGKILL)
                if progress is not None and (written % 256 == 0 or written == closed.accounts):
                    progress(step, written, closed.accounts)
            while in_flight:
                in_flight.popleft().result()
        _write_index(private / "receipts.index",
                     ((account, self.receipt_file_name(epoch, account))
                      for account in closed._source.sorted_account_ids()))  # sorted by SQLite, on disk
        closed.timings["receipts"] = time.perf_counter() - started
        total = None
        if self.proving.disclose_total:
            total = private / f"epoch-{epoch}.total"
            write_file(total, encode_total_opening(closed.bundle.header.digest(), closed.total_opening))
        write_file(files.public, encode_risk_data(public))
        write_file(files.inputs, inputs.to_bytes())
        self._publish_fund_receipt(epoch, files, private)
        closed.write_audit(files.audit, private / "work" / "audit-sections")
        os.sync()  # receipts and participant files were written without one fsync each
        if crash == "bundle":
            os.kill(os.getpid(), signal.SIGKILL)
        write_file(files.bundle, encode_public_bundle(closed.bundle))
        return ProvenEpoch(files, private, ReceiptFiles(self, epoch, closed.accounts), total)

    def _publish_fund_receipt(self, epoch: int, files: EpochFiles, private: Path) -> None:
        """With ``publish_insurance_fund``, a copy of the insurance fund's receipt in the publication folder (before
        the bundle: a bundle on disk means its epoch's files are all there); nothing otherwise."""
        if self.config.publish_insurance_fund:
            source = private / "receipts" / self.receipt_file_name(epoch, INSURANCE_FUND)
            write_file(files.insurance_fund, read_file(source, limit=MAX_RECEIPT_BYTES))

    def receipt_file_name(self, epoch: int, account: str) -> str:
        """A receipt's file name: keyed by the operator secret, so it is neither guessable from the account id
        nor linkable across epochs by anyone who sees the files."""
        key = hashlib.sha256(b"zkclear/receipt-file-key/v1" + self._secret).digest()
        tag = hmac.new(key, DOMAIN_RECEIPT_FILE + struct.pack(">Q", epoch) + account.encode("utf-8"),
                       hashlib.sha256).hexdigest()
        return tag[:32] + ".rcpt"

    def publish(self, epoch: int, artifacts: EpochArtifacts, public: PublicRiskData,
                inputs: PublicInputs) -> ProvenEpoch:
        """Write the publication folder and the private files. Private files first, the bundle last: a bundle
        on disk means the epoch is complete."""
        files = EpochFiles(self.epoch_dir(epoch), epoch)
        private = self.private_dir(epoch)
        private_folder(self.root / PRIVATE_DIR)
        self._require_no_private_link(epoch)
        (private / "receipts").mkdir(parents=True, exist_ok=True)
        files.directory.mkdir(parents=True, exist_ok=True)
        receipts = {}
        for account, receipt in artifacts.receipts.items():
            path = private / "receipts" / self.receipt_file_name(epoch, account)
            write_file(path, encode_receipt(receipt, CHUNK_SYSTEM))
            receipts[account] = path
        index = {account: path.name for account, path in sorted(receipts.items())}
        write_file(private / "receipts.index", json.dumps(index, indent=1).encode("utf-8"))
        self._write_participant_files(artifacts.receipts)
        total = None
        if self.proving.disclose_total:
            total = private / f"epoch-{epoch}.total"
            write_file(total, encode_total_opening(artifacts.bundle.header.digest(), artifacts.total_opening))
        from zkclear.bundle.format import encode_audit_data

        write_file(files.public, encode_risk_data(public))
        write_file(files.inputs, inputs.to_bytes())
        self._publish_fund_receipt(epoch, files, private)
        write_file(files.audit, encode_audit_data(artifacts.audit, CHUNK_SYSTEM))
        self._record_ledger_history(epoch)
        write_file(files.bundle, encode_public_bundle(artifacts.bundle))
        return ProvenEpoch(files, private, receipts, total)

    def _write_participant_files(self, receipts: dict) -> None:
        folder = self.root / PRIVATE_DIR / "participants"
        folder.mkdir(parents=True, exist_ok=True)
        for account, receipt in receipts.items():
            self._write_participant_file(folder, account, receipt.account_key)

    def _write_participant_file(self, folder: Path, account: str, account_key: bytes) -> None:
        path = folder / self.receipt_file_name(0, account).replace(".rcpt", ".toml")
        data = participant_toml(account, account_key).encode("utf-8")
        try:
            # compared as bytes, and only a regular file of the right size is read: a damaged file (not UTF-8) was an
            # internal error in every later prove, a named pipe hung it; each is now written anew
            unchanged = path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data
        except OSError:
            unchanged = False
        if not unchanged:
            write_file(path, data)

    def attest(self, epoch: int, key: DemoKey) -> tuple[PublicBundle, tuple[str, ...]]:
        """Add the attestations of every listed entry (address and asset) ``key`` controls to a published bundle;
        returns the bundle and the addresses signed. Entries already attested are left as they are; InputError,
        naming the address, when the key controls no listed address or every entry it controls is already attested
        (a duplicate signature)."""
        path = self.bundle_path(epoch)
        with deployment_lock(self.root):  # concurrent custodians: each signature lands (no lost update)
            bundle = self._published_bundle(epoch)
            added = attest_reserves(key, bundle.attestation_context(), bundle.reserves.entries, bundle.attestations)
            bundle = bundle.with_attestations((*bundle.attestations, *added))
            write_file(path, encode_public_bundle(bundle))
        return bundle, tuple(dict.fromkeys(attestation.address for attestation in added))

    def _published_bundle(self, epoch: int) -> PublicBundle:
        path = self.bundle_path(epoch)
        if not path.exists():
            raise LedgerError(f"epoch {epoch} has not been proven yet: run `zkclear epoch prove --epoch {epoch}` "
                              "first")
        return _decode_bundle(path)

    def add_signature(self, epoch: int, address: str, signature: str, *, chain: str | None = None,
                      asset: str | None = None) -> PublicBundle:
        """Add a custodian's signature made with its own wallet over the attestation text of a listed address
        (``zkclear show --attestation-text``; ``asset`` when the address is listed for several); it is verified
        first (VerificationError naming the address), and an entry already attested is refused (InputError: a
        duplicate signature)."""
        from zkclear.chains import Attestation, render_attestation_text, verify_attestation
        from zkclear.chains.reasons import Reason

        with deployment_lock(self.root):
            bundle = self._published_bundle(epoch)
            entry = listed_entry(bundle.reserves, address, chain, asset)
            if any(a.key == entry.key for a in bundle.attestations):
                raise InputError(f"address {entry.address} on {entry.chain} is already attested for {entry.asset} "
                                 "(duplicate signature)", field="--address")
            attestation = Attestation(entry.chain, entry.address,
                                      render_attestation_text(bundle.attestation_context(), entry), signature)
            try:
                verify_attestation(entry, attestation, bundle.attestation_context())
            except VerificationError as exc:  # a signature that does not even decode is bad input, not a failed check
                if exc.reason in (Reason.SIGNATURE_MALFORMED, Reason.SIGNATURE_NON_CANONICAL):
                    raise InputError(exc.detail or str(exc), field="--signature") from None
                raise
            bundle = bundle.with_attestations((*bundle.attestations, attestation))
            write_file(self.bundle_path(epoch), encode_public_bundle(bundle))
        return bundle

    def receipt_path(self, epoch: int, account: str) -> Path:
        index_path = self.private_dir(epoch) / "receipts.index"
        index = json.loads(read_file(index_path))
        if account not in index:
            raise InputError(f"no receipt for account {account!r} in epoch {epoch}", path=str(index_path))
        return self.private_dir(epoch) / "receipts" / index[account]

    def participant_path(self, account: str) -> Path:
        return self.root / PRIVATE_DIR / "participants" / self.receipt_file_name(0, account).replace(".rcpt", ".toml")


def _decode_bundle(path: Path) -> PublicBundle:
    """The published bundle at ``path``; EncodingError naming the file when it does not decode (a damaged disk)."""
    try:
        return decode_public_bundle(read_file(path))
    except EncodingError as exc:
        raise EncodingError(f"{path}: {exc}") from None


def _require_same_header(epoch: int, existing: PublicBundle, header: EpochHeader) -> None:
    """InputError unless re-proving a proven epoch gives its published header (the header hash may already be
    posted, and the next epoch names it): the fields that changed are named."""
    if header == existing.header:
        return
    changed = [name for name in ("previous_epoch_hash", "public_data_digest", "public_inputs_digest", "reserve_totals",
                                 "instrument_count", "equity_bits", "tree")
               if getattr(header, name) != getattr(existing.header, name)]
    raise InputError(f"epoch {epoch} is already proven (header hash {existing.epoch_hash().hex()}) and the "
                     f"deployment now gives it another header ({', '.join(changed) or 'header'} changed since: "
                     f"{PROVING_FILE}, {CONFIG_FILE} or an earlier epoch): a proven epoch is not proven again with "
                     "different inputs")


def _write_unsynced(path: Path, data: bytes) -> None:
    """Write atomically (temporary file, rename) without an fsync: for the many receipt files, which the caller
    makes durable with one sync before it writes the bundle."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with naming_write_errors(path), open(new_file(tmp), "wb") as handle:
            handle.write(data)
    except BaseException:  # a full disk: no half-written temporary file is left among the receipts
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def _write_index(path: Path, entries: Iterator[tuple[str, str]]) -> None:
    """``receipts.index``: the bytes of ``json.dumps(dict(entries), indent=1)``, written as the entries come."""
    tmp = path.with_name(path.name + ".tmp")
    with naming_write_errors(path), open(new_file(tmp), "w", encoding="utf-8") as handle:
        first = True
        handle.write("{")
        for account, name in entries:
            handle.write(("\n " if first else ",\n ") + json.dumps(account) + ": " + json.dumps(name))
            first = False
        handle.write("}" if first else "\n}")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def participant_toml(account: str, account_key: bytes) -> str:
    """A participant file: the account id and the account key its leaves are salted with (docs/format.md)."""
    return ("# zkclear participant file: keep it; `zkclear verify --participant THIS_FILE` checks your receipts\n"
            f"account = {json.dumps(account)}\n"
            f"account_key = \"{account_key.hex()}\"\n")


def _write_synced(path: Path, text: str) -> None:
    """``text`` in a new file ``path``, on disk (the file and its directory entry) before this returns."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    with contextlib.suppress(OSError):  # some file systems cannot sync a directory: the file itself is synced
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _clear_interrupted_init(root: Path) -> None:
    """Remove what an interrupted ``zkclear init`` wrote in ``root`` (:data:`_INIT_FILES`, then its marker) and
    nothing else. Refuses, touching nothing, if ``root`` looks used since: published or private folders, or a
    ledger with a committed epoch (only init writes the marker, and no command opens a deployment that has it: a
    marker there means a copied or edited folder)."""
    ledger = root / LEDGER_FILE
    used = [name for name in (EPOCHS_DIR, PRIVATE_DIR) if (root / name).exists()]
    if ledger.is_file() and ledger.stat().st_size:
        try:
            # read as every command reads it (its write-ahead log included: a read-only open would not see epochs
            # committed there); nothing is written
            with contextlib.closing(sqlite3.connect(ledger)) as db:
                if db.execute("SELECT 1 FROM epochs LIMIT 1").fetchone() is not None:
                    used.append(f"{LEDGER_FILE} with committed epochs")
        except sqlite3.Error:  # no epochs table, or a ledger whose creation was cut short: nothing committed
            pass
    if used:
        raise ConfigurationError(f"{root} holds {INIT_MARKER} and {', '.join(used)}: not an interrupted init; "
                                 "move it aside and check the folder by hand")
    for name in _INIT_FILES:
        with contextlib.suppress(FileNotFoundError):
            (root / name).unlink()
    (root / INIT_MARKER).unlink(missing_ok=True)


#: An operator secret file is 64 hexadecimal digits and a line feed: a longer file is not one (read no further).
_SECRET_FILE_BYTES = 4096


def _read_secret(path: Path) -> bytes:
    try:
        # a named pipe would block the read (forever: nothing writes to it), a device would never end
        check_regular_file(path, limit=_SECRET_FILE_BYTES)
        text = path.read_text(encoding="ascii").strip()
    except InputError as exc:
        raise ConfigurationError(f"cannot read the operator secret {path}: {exc.detail}") from None
    except FileNotFoundError:
        raise ConfigurationError(f"{path} is missing: the operator secret derives every blinding and account key; "
                                 "restore it from your backup (a new secret cannot re-prove or extend this "
                                 "deployment's epochs)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the operator secret {path}: {exc}") from None
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != 32:
        raise ConfigurationError(f"{path} is not an operator secret (64 hexadecimal digits)")
    return secret


def check_collateralized(accounts: Iterable[AccountInput], public: PublicRiskData) -> None:
    """ProvingError naming the first account (by id) whose values do not satisfy its statement — before any
    proving starts. The engine leaves no account below maintenance, except on an instrument whose liquidations
    the oracle guard paused (docs/clearing.md); such an epoch cannot be proven until the pause lifts."""
    for account in accounts:
        assign_account(account.account_id, account.witness, public)
