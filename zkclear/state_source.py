"""The accounts of a committed state as ``epoch prove`` reads them (:class:`zkclear.proofs.streaming.AccountSource`):
from a private scratch copy (:mod:`zkclear.clearing.scratch_accounts`), one account at a time, one witness built
per account when its chunk is submitted. Nothing is held per account."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from circuits.public_data import AccountWitness
from zkclear.clearing.scratch_accounts import ScratchAccounts
from zkclear.clearing.state import EpochState
from zkclear.proofs.epoch_prover import AccountInput


class StateSource:
    """The accounts of ``copied``; ``scratch`` is the private folder it lives in (the placement is kept there
    too)."""

    def __init__(self, copied: ScratchAccounts, scratch: Path) -> None:
        self._copied = copied
        self.scratch = scratch

    def __len__(self) -> int:
        return len(self._copied)

    def account_ids(self) -> Sequence[str]:
        return _CopiedIds(self._copied)

    def sorted_account_ids(self) -> Iterator[str]:
        """The ids in ``sorted`` order (sorted on disk)."""
        return self._copied.sorted_account_ids()

    def witness(self, index: int) -> AccountWitness:
        # balances: the collateral assets' in the configuration's order, which is the public data's (issue 13)
        _, mode, cash, _, positions, balances = self._copied.row(index)
        return AccountWitness(cash, positions, mode, balances=balances)

    def accounts_at(self, indices: Sequence[int]) -> list[tuple[str, AccountWitness]]:
        """``(account id, witness)`` of the accounts at ``indices``, in that order, read in one query."""
        return [(account, AccountWitness(cash, positions, mode, balances=balances))
                for account, mode, cash, _, positions, balances in self._copied.rows(indices)]

    def inputs(self) -> Iterator[AccountInput]:
        for index in range(len(self._copied)):
            account, mode, cash, _, positions, balances = self._copied.row(index)
            yield AccountInput(account, AccountWitness(cash, positions, mode, balances=balances))


def row_inputs(rows: Iterable[tuple[str, str, int, int, tuple[int, ...], tuple[int, ...]]]) -> Iterator[AccountInput]:
    """Accounts as :meth:`~zkclear.clearing.ledger.Ledger.account_rows` streams them, as witnesses."""
    for account, mode, cash, _, positions, balances in rows:
        yield AccountInput(account, AccountWitness(cash, positions, mode, balances=balances))


def state_inputs(state: EpochState) -> Iterator[AccountInput]:
    """The accounts of a state already held in memory, as :meth:`StateSource.inputs` reads them from a scratch copy
    (same witnesses, in the state's order): for a reader that has the state and must write nothing."""
    for row, account in enumerate(state.accounts):
        balances = tuple(int(b) for b in state.asset_balances[row].tolist())
        yield AccountInput(account, AccountWitness(int(state.cash[row]), tuple(int(q) for q in
                                                                              state.positions[row].tolist()),
                                                   state.margin_modes[row], balances=balances))


class _CopiedIds(Sequence[str]):
    """The account ids of a copied state, each read when asked for; iterated in order by one query."""

    def __init__(self, copied: ScratchAccounts) -> None:
        self._copied = copied

    def __len__(self) -> int:
        return len(self._copied)

    def __iter__(self) -> Iterator[str]:
        return self._copied.account_ids()

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self._copied.account_id(k) for k in range(*index.indices(len(self._copied)))]
        if index < 0:
            index += len(self._copied)
        if not 0 <= index < len(self._copied):
            raise IndexError(index)
        return self._copied.account_id(index)
