"""The proof system that proves one tree chunk's leaves (one collateralization batch).

The tree only needs, of a chunk proof: (a) every leaf's liability commitments (one per asset, settlement asset
first) are proven in [0, 2^B) (B = ``equity_bits``), and (b) its range statements, so that participants and the
auditor can batch them with the tree's node proofs. :class:`ChunkProofSystem` is that seam.

- :class:`CollateralChunks` is the production system: issue 6's ``provers.collateral`` (every account
  collateralized: equity >= maintenance margin, all variables range-bounded, equity >= 0).
- :class:`EquityOnlyChunks` proves only (a) — each account's equity and collateral balances in [0, 2^B) with one
  aggregated Bulletproof — over plain Pedersen commitments to cash, positions and balances. It exists so that the
  tree, solvency and bundle machinery can be tested and benchmarked on their own (the tree
  benchmark's "collateral mocked" figures). It does not prove margin requirements.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from zkclear.crypto.field import R, scalar_from_bytes, scalar_to_bytes
from zkclear.crypto.group import G1Point, msm
from zkclear.crypto.pedersen import commit
from zkclear.crypto.randomness import BlindingSource
from zkclear.errors import EncodingError, ProvingError, VerificationError


class ChunkProofSystem(Protocol):
    """What the tree needs from a collateralization batch prover."""

    name: str

    def public_digest(self, public: Any) -> bytes: ...
    def equity_bits(self, public: Any) -> int: ...
    def instrument_count(self, public: Any) -> int: ...
    def instrument_ids(self, public: Any) -> tuple[str, ...]: ...
    def asset_ids(self, public: Any) -> tuple[str, ...]: ...
    def margin_mode(self, opening: Any) -> str: ...
    def account_margin(self, opening: Any, public: Any) -> tuple[int, int]: ...
    def collateral(self, opening: Any, public: Any) -> tuple[tuple[int, int], ...]: ...
    def witness_liabilities(self, witness: Any, public: Any) -> tuple[int, ...]: ...
    def padding_witness(self, public: Any) -> Any: ...
    def prove(
        self, witnesses: Sequence[Any], public: Any, context: bytes, blindings: BlindingSource
    ) -> tuple[bytes, list[Any], list[Any]]: ...
    def statements(
        self, proof: bytes, commitments: Sequence[Any], public: Any, context: bytes, *,
        encoded: Sequence[bytes] | None = None,
    ) -> list[Any]: ...
    def liabilities(self, commitments: Any, public: Any) -> tuple[G1Point, ...]: ...
    def liability_openings(self, opening: Any, public: Any) -> tuple[tuple[int, int], ...]: ...
    def position_commitments(self, commitments: Any) -> tuple[G1Point, ...]: ...
    def position_blindings(self, opening: Any) -> tuple[int, ...]: ...
    def opening_values(self, opening: Any) -> tuple[int, tuple[int, ...]]: ...
    def opening_balances(self, opening: Any) -> tuple[int, ...]: ...
    def opening_matches(self, opening: Any, commitments: Any) -> bool: ...
    def encode_commitments(self, commitments: Any) -> bytes: ...
    def check_shape(self, commitments: Any, public: Any) -> None: ...
    def decode_commitments(self, data: bytes, public: Any) -> Any: ...
    def encode_opening(self, opening: Any) -> bytes: ...
    def decode_opening(self, data: bytes, public: Any) -> Any: ...


# ---------------------------------------------------------------------------------------------
# Stand-in: equity-only chunk proofs over plain Pedersen commitments.


@dataclass(frozen=True, slots=True)
class PlainPublicData:
    """Public data of the equity-only system: value per lot of each instrument, equity bound B and the ids of the
    collateral assets (none: single-asset; each account then holds one balance per asset, its liability in that
    asset, the equity being the settlement asset's)."""

    value_per_lot: tuple[int, ...]
    equity_bits: int = 32
    asset_ids: tuple[str, ...] = ()

    def digest(self) -> bytes:
        body = struct.pack(">II", self.equity_bits, len(self.value_per_lot)) + b"".join(
            struct.pack(">q", v) for v in self.value_per_lot
        )
        if self.asset_ids:
            body += b"".join(struct.pack(">H", len(a)) + a.encode() for a in self.asset_ids)
        return hashlib.sha256(b"zkclear/plain-public-data/v1" + body).digest()


@dataclass(frozen=True, slots=True)
class PlainAccount:
    """Private values of an account: cash, one position (lots, signed) per instrument and one balance per
    collateral asset."""

    cash: int
    positions: tuple[int, ...]
    balances: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class PlainCommitments:
    cash: G1Point
    positions: tuple[G1Point, ...]
    balances: tuple[G1Point, ...] = ()

    def equity(self, public: PlainPublicData) -> G1Point:
        """C_cash + Σ v_j·C_{q_j}."""
        held = [(v, c) for v, c in zip(public.value_per_lot, self.positions, strict=True) if v]
        if not held:
            return self.cash
        return self.cash + msm([c for _, c in held], [v for v, _ in held])

    def to_bytes(self) -> bytes:
        return (
            struct.pack(">I", len(self.positions))
            + self.cash.to_bytes()
            + b"".join(c.to_bytes() for c in (*self.positions, *self.balances))
        )


@dataclass(frozen=True, slots=True)
class PlainOpening:
    cash: int
    cash_blinding: int
    positions: tuple[int, ...]
    position_blindings: tuple[int, ...]
    balances: tuple[int, ...] = ()
    balance_blindings: tuple[int, ...] = ()

    def liability_openings(self, public: PlainPublicData) -> tuple[tuple[int, int], ...]:
        """(value, blinding) of the equity, then of each balance."""
        return (self.equity_opening(public), *zip(self.balances, self.balance_blindings, strict=True))

    def equity_opening(self, public: PlainPublicData) -> tuple[int, int]:
        value = self.cash + sum(v * q for v, q in zip(public.value_per_lot, self.positions, strict=True))
        blinding = (
            self.cash_blinding
            + sum(v * b for v, b in zip(public.value_per_lot, self.position_blindings, strict=True))
        ) % R
        return value, blinding

    def __repr__(self) -> str:
        return "PlainOpening(<secret>)"


class EquityOnlyChunks:
    """Stand-in chunk system: proves every account's equity in [0, 2^B) (no margin requirement)."""

    name = "equity-only"

    def public_digest(self, public: PlainPublicData) -> bytes:
        return public.digest()

    def equity_bits(self, public: PlainPublicData) -> int:
        return public.equity_bits

    def instrument_count(self, public: PlainPublicData) -> int:
        return len(public.value_per_lot)

    def instrument_ids(self, public: PlainPublicData) -> tuple[str, ...]:
        return tuple(f"instrument-{j}" for j in range(len(public.value_per_lot)))

    def asset_ids(self, public: PlainPublicData) -> tuple[str, ...]:
        return tuple(public.asset_ids)

    def margin_mode(self, opening: PlainOpening) -> str:
        return "equity-only"

    def account_margin(self, opening: PlainOpening, public: PlainPublicData) -> tuple[int, int]:
        """(equity, requirement): this stand-in proves no requirement (0)."""
        return opening.equity_opening(public)[0], 0

    def collateral(self, opening: PlainOpening, public: PlainPublicData) -> tuple[tuple[int, int], ...]:
        """(balance, haircut value) per collateral asset: this stand-in credits no collateral (0)."""
        return tuple((balance, 0) for balance in opening.balances)

    def witness_liabilities(self, witness: PlainAccount, public: PlainPublicData) -> tuple[int, ...]:
        equity = witness.cash + sum(v * q for v, q in zip(public.value_per_lot, witness.positions, strict=True))
        return (equity, *witness.balances)

    def padding_witness(self, public: PlainPublicData) -> PlainAccount:
        return PlainAccount(0, (0,) * len(public.value_per_lot), (0,) * len(public.asset_ids))

    def commit_accounts(
        self,
        witnesses: Sequence[PlainAccount],
        public: PlainPublicData,
        context: bytes,
        blindings: BlindingSource,
    ) -> tuple[list[PlainCommitments], list[PlainOpening]]:
        """Commitments and openings of a chunk's accounts (blindings derived from the chunk context)."""
        commitments: list[PlainCommitments] = []
        openings: list[PlainOpening] = []
        key = hashlib.sha256(context).digest()
        for slot, witness in enumerate(witnesses):
            if len(witness.positions) != len(public.value_per_lot) or len(witness.balances) != len(public.asset_ids):
                raise ProvingError(
                    f"account in slot {slot} has {len(witness.positions)} positions and {len(witness.balances)} "
                    f"balances, expected {len(public.value_per_lot)} and {len(public.asset_ids)}"
                )
            cash_blinding = blindings.scalar("zkclear/chunk/cash", key, slot)
            pos_blindings = tuple(
                blindings.scalars(len(witness.positions), "zkclear/chunk/position", key, slot)
            )
            balance_blindings = tuple(blindings.scalars(len(witness.balances), "zkclear/chunk/balance", key, slot))
            commitments.append(
                PlainCommitments(
                    commit(witness.cash, cash_blinding),
                    tuple(commit(q, b) for q, b in zip(witness.positions, pos_blindings, strict=True)),
                    tuple(commit(v, b) for v, b in zip(witness.balances, balance_blindings, strict=True)),
                )
            )
            openings.append(
                PlainOpening(witness.cash, cash_blinding, tuple(witness.positions), pos_blindings,
                             tuple(witness.balances), balance_blindings)
            )
        return commitments, openings

    def prove(
        self,
        witnesses: Sequence[PlainAccount],
        public: PlainPublicData,
        context: bytes,
        blindings: BlindingSource,
    ) -> tuple[bytes, list[PlainCommitments], list[PlainOpening]]:
        from provers.bulletproofs import prove_range

        commitments, openings = self.commit_accounts(witnesses, public, context, blindings)
        liabilities = [pair for opening in openings for pair in opening.liability_openings(public)]
        values, blinds = [v for v, _ in liabilities], [b for _, b in liabilities]
        proof, _ = prove_range(values, blinds, public.equity_bits, context,
                               rng=blindings.nonces(context, *values, *blinds))
        return proof.to_bytes(), commitments, openings

    def statements(
        self, proof: bytes, commitments: Sequence[PlainCommitments], public: PlainPublicData, context: bytes, *,
        encoded: Sequence[bytes] | None = None,
    ) -> list[Any]:
        """The range statement of the chunk's equities (``encoded`` is not needed: nothing here hashes the
        accounts)."""
        from provers.bulletproofs import RangeProof, RangeStatement

        values = [point for c in commitments for point in self.liabilities(c, public)]
        try:
            decoded = RangeProof.from_bytes(proof, n_bits=public.equity_bits, m=len(values))
        except EncodingError as exc:
            raise VerificationError("chunk-collateral-proof") from exc
        return [RangeStatement(decoded, tuple(values), public.equity_bits, context)]

    def liabilities(self, commitments: PlainCommitments, public: PlainPublicData) -> tuple[G1Point, ...]:
        return (commitments.equity(public), *commitments.balances)

    def liability_openings(self, opening: PlainOpening, public: PlainPublicData) -> tuple[tuple[int, int], ...]:
        return opening.liability_openings(public)

    def position_commitments(self, commitments: PlainCommitments) -> tuple[G1Point, ...]:
        return commitments.positions

    def position_blindings(self, opening: PlainOpening) -> tuple[int, ...]:
        return opening.position_blindings

    def opening_values(self, opening: PlainOpening) -> tuple[int, tuple[int, ...]]:
        return opening.cash, opening.positions

    def opening_balances(self, opening: PlainOpening) -> tuple[int, ...]:
        return tuple(opening.balances)

    def opening_matches(self, opening: PlainOpening, commitments: PlainCommitments) -> bool:
        if len(opening.positions) != len(commitments.positions) or len(opening.balances) != len(commitments.balances):
            return False
        return commit(opening.cash, opening.cash_blinding) == commitments.cash and all(
            commit(v, b) == c
            for v, b, c in zip(
                (*opening.positions, *opening.balances), (*opening.position_blindings, *opening.balance_blindings),
                (*commitments.positions, *commitments.balances), strict=True
            )
        )

    def encode_commitments(self, commitments: PlainCommitments) -> bytes:
        return commitments.to_bytes()

    def check_shape(self, commitments: PlainCommitments, public: PlainPublicData) -> None:
        if len(commitments.positions) != len(public.value_per_lot) or len(commitments.balances) != len(
                public.asset_ids):
            raise VerificationError("account-shape", detail="an account's position or balance count differs from "
                                                            "the listing's")

    def decode_commitments(self, data: bytes, public: PlainPublicData) -> PlainCommitments:
        n, a = len(public.value_per_lot), len(public.asset_ids)
        if len(data) != 4 + 48 * (n + a + 1) or struct.unpack(">I", data[:4])[0] != n:
            raise EncodingError("account commitments: wrong length for the instrument count")
        points = [G1Point.from_bytes(data[4 + 48 * i : 52 + 48 * i]) for i in range(n + a + 1)]
        return PlainCommitments(points[0], tuple(points[1:n + 1]), tuple(points[n + 1:]))

    def encode_opening(self, opening: PlainOpening) -> bytes:
        return (
            struct.pack(">I", len(opening.positions))
            + _int_bytes(opening.cash)
            + scalar_to_bytes(opening.cash_blinding)
            + b"".join(_int_bytes(q) for q in (*opening.positions, *opening.balances))
            + b"".join(scalar_to_bytes(b) for b in (*opening.position_blindings, *opening.balance_blindings))
        )

    def decode_opening(self, data: bytes, public: PlainPublicData) -> PlainOpening:
        n, a = len(public.value_per_lot), len(public.asset_ids)
        if len(data) != 4 + 48 * (n + a + 1) or struct.unpack(">I", data[:4])[0] != n:
            raise EncodingError("account opening: wrong length for the instrument count")
        cash = _int_from(data[4:20])
        cash_blinding = scalar_from_bytes(data[20:52])
        base = 52
        values = tuple(_int_from(data[base + 16 * i : base + 16 * i + 16]) for i in range(n + a))
        base += 16 * (n + a)
        blindings = tuple(scalar_from_bytes(data[base + 32 * i : base + 32 * i + 32]) for i in range(n + a))
        return PlainOpening(cash, cash_blinding, values[:n], blindings[:n], values[n:], blindings[n:])


def _int_bytes(value: int) -> bytes:
    return value.to_bytes(16, "big", signed=True)


def _int_from(data: bytes) -> int:
    return int.from_bytes(data, "big", signed=True)


# ---------------------------------------------------------------------------------------------
# Production: issue 6's collateralization batch proofs.


def _collateral() -> Any:
    # Imported on use: provers.collateral is a separate layer-4 package, and a module object
    # kept on the instance would make the chunk system unpicklable for process executors.
    import provers.collateral as collateral

    return collateral


class CollateralChunks:
    """Chunk proofs by ``provers.collateral`` (equity >= maintenance margin, equity >= 0, bounds).

    ``public`` is a ``circuits.public_data.PublicRiskData``; accounts are ``AccountWitness``.
    """

    name = "collateral"

    def public_digest(self, public: Any) -> bytes:
        return public.digest()

    def equity_bits(self, public: Any) -> int:
        return int(_collateral().max_equity_bits(public))

    def instrument_count(self, public: Any) -> int:
        return len(public.instruments)

    def instrument_ids(self, public: Any) -> tuple[str, ...]:
        return tuple(public.instrument_ids)

    def asset_ids(self, public: Any) -> tuple[str, ...]:
        return tuple(public.asset_ids)

    def margin_mode(self, opening: Any) -> str:
        return str(opening.margin_mode)

    def account_margin(self, opening: Any, public: Any) -> tuple[int, int]:
        """(equity, maintenance requirement) computed from the opening's cash and positions with the epoch's
        public risk data (the same statement the proofs use; requirements round up)."""
        from circuits.account_statement import account_statement
        from circuits.public_data import AccountWitness

        statement = account_statement(public, opening.margin_mode)
        values = statement.assign(AccountWitness(int(opening.cash), tuple(int(q) for q in opening.positions),
                                                 opening.margin_mode, tuple(int(b) for b in opening.balances)))
        return statement.equity.evaluate(values), statement.requirement.evaluate(values)

    def collateral(self, opening: Any, public: Any) -> tuple[tuple[int, int], ...]:
        """(balance, haircut value) per collateral asset, computed from the opening with the epoch's public data
        (what the account's equity counts it for)."""
        return tuple((int(b), asset.haircut_value(int(b))) for asset, b in zip(public.assets, opening.balances,
                                                                               strict=True))

    def witness_liabilities(self, witness: Any, public: Any) -> tuple[int, ...]:
        """The account's liabilities per asset from its witness (for the check before proving)."""
        from circuits.account_statement import account_statement

        statement = account_statement(public, witness.margin_mode)
        values = statement.assign(witness)
        return tuple(form.evaluate(values) for form in statement.liabilities)

    def padding_witness(self, public: Any) -> Any:
        from circuits.public_data import AccountWitness

        return AccountWitness(0, (0,) * len(public.instruments), _collateral().DEFAULT_MARGIN_MODE,
                              (0,) * len(public.assets))

    def prove(
        self, witnesses: Sequence[Any], public: Any, context: bytes, blindings: BlindingSource
    ) -> tuple[bytes, list[Any], list[Any]]:
        proof, commitments, openings = _collateral().prove_collateral_batch(
            witnesses, public, context, blindings
        )
        return proof.to_bytes(), list(commitments), list(openings)

    def statements(self, proof: bytes, commitments: Sequence[Any], public: Any, context: bytes, *,
                   encoded: Sequence[bytes] | None = None) -> list[Any]:
        """The batch's range statements; ``encoded``, when given, must be :meth:`encode_commitments` of each of
        ``commitments`` (the verifier's own encodings, reused for the transcripts' digest)."""
        collateral = _collateral()
        modes = [getattr(account, "margin_mode", None) for account in commitments]
        # the expected layout lets the decoder refuse a proof of the wrong shape before decoding any point; an
        # account of an unsupported mode is refused by collateral_statements (no layout to expect then)
        layout = (collateral.proof_layout(public, modes) if commitments and all(
            mode in public.margin_modes for mode in modes) else None)
        try:
            decoded = collateral.CollateralBatchProof.from_bytes(proof, layout=layout)
        except EncodingError as exc:
            raise VerificationError("chunk-collateral-proof") from exc
        return list(collateral.collateral_statements(decoded, list(commitments), public, context, encoded=encoded))

    def liabilities(self, commitments: Any, public: Any) -> tuple[G1Point, ...]:
        return tuple(commitments.liabilities(public))

    def liability_openings(self, opening: Any, public: Any) -> tuple[tuple[int, int], ...]:
        return tuple((int(value), int(blinding) % R) for value, blinding in opening.liability_openings(public))

    def position_commitments(self, commitments: Any) -> tuple[G1Point, ...]:
        return tuple(commitments.positions)

    def position_blindings(self, opening: Any) -> tuple[int, ...]:
        return tuple(opening.position_blindings)

    def opening_values(self, opening: Any) -> tuple[int, tuple[int, ...]]:
        return opening.cash, tuple(opening.positions)

    def opening_balances(self, opening: Any) -> tuple[int, ...]:
        return tuple(opening.balances)

    def opening_matches(self, opening: Any, commitments: Any) -> bool:
        return bool(opening.matches(commitments))

    def encode_commitments(self, commitments: Any) -> bytes:
        return commitments.to_bytes()

    def decode_commitments(self, data: bytes, public: Any) -> Any:
        return _collateral().AccountCommitments.from_bytes(data)

    def check_shape(self, commitments: Any, public: Any) -> None:
        """VerificationError("account-shape") unless the account's margin mode is one this epoch supports and
        its commitments have that mode's statement shape (checked before any arithmetic on them)."""
        from circuits.account_statement import account_statement

        mode = commitments.margin_mode
        if mode not in public.margin_modes:
            raise VerificationError("account-shape", detail=f"an account is on {mode} margin, which this epoch's "
                                                            f"public data does not support {public.margin_modes}")
        statement = account_statement(public, mode)
        if (len(commitments.positions) != len(statement.positions)
                or len(commitments.balances) != len(statement.balances)
                or len(commitments.witnesses) != len(statement.witnesses)):
            raise VerificationError(
                "account-shape",
                detail=f"an account has {len(commitments.positions)} position, {len(commitments.balances)} balance "
                       f"and {len(commitments.witnesses)} witness commitments; the {mode} statement has "
                       f"{len(statement.positions)}, {len(statement.balances)} and {len(statement.witnesses)}")

    def encode_opening(self, opening: Any) -> bytes:
        return opening.to_bytes()

    def decode_opening(self, data: bytes, public: Any) -> Any:
        return _collateral().AccountOpening.from_bytes(data)


def default_chunk_system() -> ChunkProofSystem:
    """The collateralization prover (issue 6)."""
    return CollateralChunks()
