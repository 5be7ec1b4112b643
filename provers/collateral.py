"""Collateralization proofs: every account of a batch is collateralized, with one aggregated proof.

Protocol (docs/protocol.md, "Collateralization proofs"):

1. Each account commits to its statement's variables (:mod:`circuits.account_statement`):
   ``C_x = x·G + γ_x·H`` for cash, every listed position and the margin witnesses.
2. Every range constraint of every account is a *form* ``F = constant + Σ c_i·x_i``; its commitment
   ``C_F = constant·G + Σ c_i·C_{x_i}`` is derived homomorphically by prover and verifier alike,
   with blinding ``γ_F = Σ c_i·γ_{x_i}``.
3. The forms of the batch are grouped by bit width (32 and 64 in the shipped statements); each
   group is split into power-of-two chunks (so no proof pays for padding) and each chunk is one
   aggregated Bulletproofs++ range proof (docs/protocol.md, "Bulletproofs++ range proof"; proof
   version 4 — versions 1-3 used the aggregated Bulletproofs of provers/bulletproofs). The proof's
   *layout* (width, count per part) is a function of the public data and the accounts' margin modes;
   the verifier recomputes and checks it.
4. The range-proof context of part ``k`` is
   ``SHA-256("zkclear-v1/collateral/range" || u32(len(context)) || context || public.digest() ||
   commitments_digest || u8(n_bits) || u32(k) || u32(parts))`` where ``commitments_digest`` is
   SHA-256 over ``u32(accounts) || AccountCommitments.to_bytes()`` of every account in order. So
   the epoch context, every public price, parameter and scenario entry, and every commitment of
   the batch are bound in every challenge.
5. ``assert_zero`` constraints (none in the shipped statements) are proven by a Schnorr proof of
   knowledge of ``γ_F`` with ``C_F = γ_F·H``.

The soundness of the integer reading of these proofs is the bit budget of :mod:`circuits.budget`.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from circuits.account_statement import AccountStatement, account_statement
from circuits.constraint_system import Constraint
from circuits.linear_combination import LinearCombination
from circuits.public_data import MARGIN_MODES, PORTFOLIO, STANDARD, AccountWitness, PublicRiskData
from provers.bulletproofs import CommitmentForm, batch_verify
from provers.bulletproofs_pp import MAX_VALUES, BppBoundRangeStatement, BppRangeProof, prove_bound_range_pp
from zkclear.crypto.field import R, scalar_from_bytes, scalar_to_bytes
from zkclear.crypto.generators import pedersen_generators
from zkclear.crypto.group import POINT_BYTES, G1Point, encode_many, msm
from zkclear.crypto.pedersen import commit, commit_many
from zkclear.crypto.randomness import BlindingSource
from zkclear.crypto.transcript import Transcript
from zkclear.errors import EncodingError, ProvingError, VerificationError

#: The margin mode of padding accounts (and of accounts that do not choose one).
DEFAULT_MARGIN_MODE = STANDARD
#: Domain prefix of every collateralization hash and blinding derivation.
DOMAIN = b"zkclear-v1/collateral"
#: Largest n·M one aggregated range proof (a *part*) may cover. Batch verification costs about 2·N for the
#: largest part's shared generators plus a few points per part, so a participant checking their chunk pays
#: for the largest part, not for the chunk: capping parts at 2^12 bits made a receipt check of a 16-account
#: chunk 2-8x cheaper for about 5 % more proving than parts of up to 2^14 bits, and 2^11 took another
#: 15-20 % off a receipt check (docs/performance.md, "Epoch close"). Version 1 proofs had parts of up to
#: 2^18 bits, version 2 of up to 2^12.
MAX_PROOF_BITS = 1 << 11

_MODE_CODES = {mode: code for code, mode in enumerate(MARGIN_MODES)}
_PROOF_MAGIC = b"ZKCB"
#: 4: Bulletproofs++ parts of at most MAX_PROOF_BITS bits and MAX_VALUES forms; 3: Bulletproofs parts of at most
#: 2^11 bits (2: 2^12, 1: 2^18). Only version 4 is read.
_PROOF_VERSION = 4
#: Version 2 (issue 13): a u16 count of collateral-asset balances after the position count.
_ACCOUNT_VERSION = 2
_ACCOUNT_HEADER = struct.Struct(">BBHHH")


def max_equity_bits(public: PublicRiskData) -> int:
    """B such that every proven equity lies in [0, 2^B) (the ``equity`` constraint's width)."""
    return public.money_bits


def _signed_to_bytes(value: int) -> bytes:
    return scalar_to_bytes(value % R)


def _signed_from_bytes(data: bytes) -> int:
    value = scalar_from_bytes(data)
    return value - R if value > R // 2 else value


# ---------------------------------------------------------------------------------------------
# Commitments and openings


def _decode_header(data: bytes, what: str) -> tuple[str, int, int, int]:
    """(mode, positions, balances, witnesses) of an account encoding's header; EncodingError otherwise."""
    if len(data) < _ACCOUNT_HEADER.size:
        raise EncodingError(f"{what}: truncated header")
    version, mode_code, n_positions, n_balances, n_witnesses = _ACCOUNT_HEADER.unpack(data[:_ACCOUNT_HEADER.size])
    if version != _ACCOUNT_VERSION:
        raise EncodingError(f"{what}: unsupported version {version} (this reader knows {_ACCOUNT_VERSION})")
    if mode_code >= len(MARGIN_MODES):
        raise EncodingError(f"{what}: unknown margin mode {mode_code}")
    return MARGIN_MODES[mode_code], n_positions, n_balances, n_witnesses


@dataclass(frozen=True, slots=True)
class AccountCommitments:
    """The public commitments of one account: cash, one position per listed instrument (0 when not
    held), the margin and collateral witnesses, the account's margin mode (public: it selects the
    statement) and one balance per collateral asset of the epoch (none in a single-asset epoch)."""

    cash: G1Point
    positions: tuple[G1Point, ...]
    witnesses: tuple[G1Point, ...]
    margin_mode: str = STANDARD
    balances: tuple[G1Point, ...] = ()

    @property
    def variables(self) -> tuple[G1Point, ...]:
        """The commitments in the statement's variable order: cash, positions, balances, witnesses."""
        return (self.cash, *self.positions, *self.balances, *self.witnesses)

    def equity(self, public: PublicRiskData) -> G1Point:
        """``C_cash + Σ v_j·C_{q_j} + Σ_a C_{h_a}``: the commitment to the account's equity."""
        return _combine(account_statement(public, self.margin_mode).equity, self.variables)

    def liabilities(self, public: PublicRiskData) -> tuple[G1Point, ...]:
        """The account's liability commitments, one per asset (settlement first): what the tree's leaf carries.
        The equity commitment in a single-asset epoch; otherwise ``C_{l_0}`` and each balance ``C_{b_a}``."""
        statement = account_statement(public, self.margin_mode)
        return tuple(_combine(form, self.variables) for form in statement.liabilities)

    def to_bytes(self) -> bytes:
        """``u8(version 2) || u8(mode) || u16(positions) || u16(balances) || u16(witnesses) || 48-byte points``."""
        header = _ACCOUNT_HEADER.pack(_ACCOUNT_VERSION, _MODE_CODES[self.margin_mode], len(self.positions),
                                      len(self.balances), len(self.witnesses))
        return header + b"".join(encode_many(self.variables))

    @classmethod
    def from_bytes(cls, data: bytes) -> AccountCommitments:
        """Strict decoding (every point checked on the curve and in the subgroup); EncodingError otherwise."""
        data = bytes(data)
        mode, n_positions, n_balances, n_witnesses = _decode_header(data, "account commitments")
        count = 1 + n_positions + n_balances + n_witnesses
        start = _ACCOUNT_HEADER.size
        if len(data) != start + count * POINT_BYTES:
            raise EncodingError(f"account commitments: expected {start + count * POINT_BYTES} bytes, "
                                f"got {len(data)}")
        points = [G1Point.from_bytes(data[start + k * POINT_BYTES: start + (k + 1) * POINT_BYTES])
                  for k in range(count)]
        b = 1 + n_positions
        w = b + n_balances
        return cls(points[0], tuple(points[1:b]), tuple(points[w:]), mode, tuple(points[b:w]))


@dataclass(frozen=True, slots=True)
class AccountOpening:
    """The secrets behind :class:`AccountCommitments` (the private receipt carries them)."""

    margin_mode: str
    cash: int
    cash_blinding: int
    positions: tuple[int, ...]
    position_blindings: tuple[int, ...]
    witnesses: tuple[int, ...]
    witness_blindings: tuple[int, ...]
    balances: tuple[int, ...] = ()
    balance_blindings: tuple[int, ...] = ()

    @property
    def values(self) -> tuple[int, ...]:
        return (self.cash, *self.positions, *self.balances, *self.witnesses)

    @property
    def blindings(self) -> tuple[int, ...]:
        return (self.cash_blinding, *self.position_blindings, *self.balance_blindings, *self.witness_blindings)

    def equity_opening(self, public: PublicRiskData) -> tuple[int, int]:
        """(equity, its blinding): the opening of :meth:`AccountCommitments.equity`."""
        equity = account_statement(public, self.margin_mode).equity
        return equity.evaluate(self.values), _form_blinding(equity, self.blindings)

    def liability_openings(self, public: PublicRiskData) -> tuple[tuple[int, int], ...]:
        """(value, blinding) of each of :meth:`AccountCommitments.liabilities`."""
        values, blindings = self.values, self.blindings
        return tuple((form.evaluate(values), _form_blinding(form, blindings))
                     for form in account_statement(public, self.margin_mode).liabilities)

    def matches(self, commitments: AccountCommitments) -> bool:
        """True iff every commitment opens to this opening's value and blinding (same margin mode, and as many
        positions, balances and witnesses: a value opening the right point under another name does not match)."""
        return (commitments.margin_mode == self.margin_mode
                and (len(commitments.positions), len(commitments.balances), len(commitments.witnesses))
                == (len(self.positions), len(self.balances), len(self.witnesses))
                and all(c == commit(v, b)
                        for c, v, b in zip(commitments.variables, self.values, self.blindings, strict=True)))

    def to_bytes(self) -> bytes:
        """``u8(version 2) || u8(mode) || u16(positions) || u16(balances) || u16(witnesses)`` then, per variable,
        the value (signed, as a 32-byte scalar mod r) and the 32-byte blinding."""
        header = _ACCOUNT_HEADER.pack(_ACCOUNT_VERSION, _MODE_CODES[self.margin_mode], len(self.positions),
                                      len(self.balances), len(self.witnesses))
        body = b"".join(_signed_to_bytes(v) + scalar_to_bytes(b) for v, b in zip(self.values, self.blindings,
                                                                              strict=True))
        return header + body

    @classmethod
    def from_bytes(cls, data: bytes) -> AccountOpening:
        data = bytes(data)
        mode, n_positions, n_balances, n_witnesses = _decode_header(data, "account opening")
        count = 1 + n_positions + n_balances + n_witnesses
        start = _ACCOUNT_HEADER.size
        if len(data) != start + 64 * count:
            raise EncodingError(f"account opening: expected {start + 64 * count} bytes, got {len(data)}")
        values, blindings = [], []
        for k in range(count):
            chunk = data[start + 64 * k: start + 64 * (k + 1)]
            values.append(_signed_from_bytes(chunk[:32]))
            blindings.append(scalar_from_bytes(chunk[32:]))
        b = 1 + n_positions
        w = b + n_balances
        return cls(mode, values[0], blindings[0], tuple(values[1:b]), tuple(blindings[1:b]), tuple(values[w:]),
                   tuple(blindings[w:]), tuple(values[b:w]), tuple(blindings[b:w]))

    def __repr__(self) -> str:
        return f"AccountOpening(<secret>, margin_mode={self.margin_mode!r})"


# ---------------------------------------------------------------------------------------------
# The batch proof


@dataclass(frozen=True, slots=True)
class ProofPart:
    """One aggregated range proof of the batch: ``m`` forms of ``n_bits`` bits."""

    n_bits: int
    m: int
    proof: BppRangeProof


@dataclass(frozen=True, slots=True)
class CollateralBatchProof:
    """The proof of one batch: its range-proof parts (in layout order) and the zero-constraint proofs
    (``(T, z)`` Schnorr pairs, in account then constraint order; empty for the shipped statements)."""

    parts: tuple[ProofPart, ...]
    zero_proofs: tuple[tuple[G1Point, int], ...] = ()

    @property
    def layout(self) -> tuple[tuple[int, int], ...]:
        return tuple((p.n_bits, p.m) for p in self.parts)

    def to_bytes(self) -> bytes:
        """``"ZKCB" || u8(version) || u16(parts)``, per part ``u8(n_bits) || u32(m) || u32(len) || proof``,
        then ``u32(zero proofs)`` and per zero proof ``T (48 bytes) || z (32 bytes)``."""
        out = [_PROOF_MAGIC, struct.pack(">BH", _PROOF_VERSION, len(self.parts))]
        for part in self.parts:
            body = part.proof.to_bytes()
            out.append(struct.pack(">BII", part.n_bits, part.m, len(body)))
            out.append(body)
        out.append(struct.pack(">I", len(self.zero_proofs)))
        for T, z in self.zero_proofs:
            out.append(T.to_bytes() + scalar_to_bytes(z))
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes, *, layout: Sequence[tuple[int, int]] | None = None,
                   **_ignored: object) -> CollateralBatchProof:
        """Strict decoding of :meth:`to_bytes` (the layout is self-described; the verifier checks it
        against the one it expects). With ``layout`` (the ``(n_bits, m)`` of every part, :func:`proof_layout`)
        the part count and every part header must match it before any range proof is decoded, so a proof of
        the wrong shape costs no point decoding. Extra keyword arguments are accepted and ignored."""
        data = bytes(data)
        if data[:4] != _PROOF_MAGIC or len(data) < 7:
            raise EncodingError("not a collateral batch proof")
        version, count = struct.unpack(">BH", data[4:7])
        if version != _PROOF_VERSION:
            raise EncodingError(f"unknown collateral proof version {version}")
        expected = None if layout is None else tuple(layout)
        if expected is not None and count != len(expected):
            raise EncodingError(f"collateral proof has {count} parts, the batch's layout {len(expected)}")
        offset, parts = 7, []
        for index in range(count):
            if len(data) < offset + 9:
                raise EncodingError("collateral proof: truncated part header")
            n_bits, m, length = struct.unpack(">BII", data[offset:offset + 9])
            if expected is not None and (n_bits, m) != expected[index]:
                raise EncodingError(f"collateral proof part {index} is ({n_bits} bits, {m} forms), the batch's "
                                    f"layout says {expected[index]}")
            offset += 9
            if len(data) < offset + length:
                raise EncodingError("collateral proof: truncated range proof")
            body = data[offset:offset + length]
            parts.append(ProofPart(n_bits, m, BppRangeProof.from_bytes(body, m=m, n_bits=n_bits)))
            offset += length
        if len(data) < offset + 4:
            raise EncodingError("collateral proof: truncated zero-proof count")
        (zero_count,) = struct.unpack(">I", data[offset:offset + 4])
        offset += 4
        if len(data) != offset + zero_count * (POINT_BYTES + 32):
            raise EncodingError("collateral proof: wrong length")
        zeros = []
        for _ in range(zero_count):
            T = G1Point.from_bytes(data[offset:offset + POINT_BYTES])
            z = scalar_from_bytes(data[offset + POINT_BYTES:offset + POINT_BYTES + 32])
            zeros.append((T, z))
            offset += POINT_BYTES + 32
        return cls(tuple(parts), tuple(zeros))


# ---------------------------------------------------------------------------------------------
# Shared by prover and verifier


def _form_blinding(form: LinearCombination, blindings: Sequence[int]) -> int:
    return sum(c * blindings[i] for i, c in form.terms) % R


def _sum_scaled(pairs: list[tuple[G1Point, int]]) -> G1Point:
    if len(pairs) == 1 and pairs[0][1] == 1:
        return pairs[0][0]
    return msm([p for p, _ in pairs], [c for _, c in pairs])


def _combine(form: LinearCombination, points: Sequence[G1Point]) -> G1Point:
    """``constant·G + Σ c_i·points[i]``. Negative coefficients are subtracted as positive multiples, so
    every scalar stays as short as the coefficient (a negative scalar mod r would be 255 bits)."""
    positive = [(points[i], c) for i, c in form.terms if c > 0]
    negative = [(points[i], -c) for i, c in form.terms if c < 0]
    result = _sum_scaled(positive) if positive else G1Point.identity()
    if negative:
        result = result - _sum_scaled(negative)
    if form.constant > 0:
        result = result + commit(form.constant, 0)
    elif form.constant < 0:
        result = result - commit(-form.constant, 0)
    return result


def _chunk_sizes(count: int, n_bits: int) -> list[int]:
    """Powers of two summing to ``count``, largest first, each within the range-proof limits."""
    cap = min(MAX_VALUES, MAX_PROOF_BITS // n_bits)
    sizes = []
    while count:
        size = min(cap, 1 << (count.bit_length() - 1))
        sizes.append(size)
        count -= size
    return sizes


@lru_cache(maxsize=256)
def _layout(public: PublicRiskData,
            modes: tuple[str, ...]) -> tuple[tuple[int, tuple[tuple[int, int], ...]], ...]:
    """The batch's parts: (n_bits, ((account, constraint index), ...)) in proof order."""
    statements = [account_statement(public, mode).statement for mode in modes]
    widths = sorted({c.bits for s in statements for c in s.constraints if c.bits is not None})
    parts = []
    for width in widths:
        entries = [(i, k) for i, s in enumerate(statements)
                   for k, c in enumerate(s.constraints) if c.bits == width]
        offset = 0
        for size in _chunk_sizes(len(entries), width):
            parts.append((width, tuple(entries[offset:offset + size])))
            offset += size
    return tuple(parts)


def proof_layout(public: PublicRiskData, modes: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """(n_bits, m) of every part of the batch proof for accounts with these margin modes."""
    return tuple((width, len(entries)) for width, entries in _layout(public, tuple(modes)))


def _commitments_digest(commitments: Sequence[AccountCommitments], encoded: Sequence[bytes] | None = None) -> bytes:
    """Step 4's digest; ``encoded``, when given, is each account's ``to_bytes()`` already computed."""
    if encoded is not None and len(encoded) != len(commitments):
        raise ValueError(f"{len(encoded)} encodings for {len(commitments)} accounts")
    h = hashlib.sha256(DOMAIN + b"/commitments")
    h.update(struct.pack(">I", len(commitments)))
    for data in encoded if encoded is not None else (account.to_bytes() for account in commitments):
        h.update(data)
    return h.digest()


def part_context(context: bytes, public: PublicRiskData, commitments_digest: bytes, n_bits: int, index: int,
                 parts: int) -> bytes:
    """The ``context`` handed to the range proof of part ``index`` (module docstring, step 4)."""
    return _part_context(context, public.digest(), commitments_digest, n_bits, index, parts)


def _part_context(context: bytes, public_digest: bytes, commitments_digest: bytes, n_bits: int, index: int,
                  parts: int) -> bytes:
    h = hashlib.sha256(DOMAIN + b"/range")
    h.update(struct.pack(">I", len(context)) + context)
    h.update(public_digest)
    h.update(commitments_digest)
    h.update(struct.pack(">BII", n_bits, index, parts))
    return h.digest()


def _zero_challenge(context: bytes, account: int, constraint: int, C: G1Point, T: G1Point) -> int:
    transcript = Transcript(DOMAIN + b"/zero")
    transcript.append_message(b"context", context)
    transcript.append_u64(b"account", account)
    transcript.append_u64(b"constraint", constraint)
    transcript.append_point(b"C", C)
    transcript.append_point(b"T", T)
    return transcript.challenge_scalar(b"e")


# ---------------------------------------------------------------------------------------------
# Proving


def _violation_message(index: int | str, statement: AccountStatement, constraint: Constraint, value: int,
                       values: Sequence[int]) -> str:
    account = f"account {index} ({statement.mode} margin)"
    if value < 0 and constraint.name == "maintenance":
        equity = statement.equity.evaluate(values)
        return (f"{account} is undercollateralized: equity {equity} is {-value} below its maintenance "
                "requirement")
    if value < 0 and constraint.name == "equity":
        return f"{account} has negative equity {value}"
    if value < 0 and constraint.name.startswith("balance["):
        asset = statement.public.assets[int(constraint.name[len("balance["):-1])].asset_id
        return f"{account} has a negative {asset} balance {value}"
    if value < 0:
        return f"{account} violates {constraint.name!r} (value {value} < 0)"
    if constraint.bits is None:
        return f"{account} violates the zero constraint {constraint.name!r} (value {value})"
    return (f"{account}: {constraint.name!r} is {value}, which needs more than {constraint.bits} bits "
            "(outside the statement's bit budget)")


def assign_account(index: int | str, witness: AccountWitness, public: PublicRiskData) -> tuple[int, ...]:
    """The account's variable values; ProvingError if it does not satisfy its statement. ``index`` names the
    account in the error (its position in the batch, or its id)."""
    if not isinstance(witness, AccountWitness):
        raise ProvingError(f"account {index}: expected an AccountWitness, got {type(witness).__name__}")
    statement = account_statement(public, witness.margin_mode)
    values = statement.assign(witness)
    violations = statement.statement.violations(values)
    if violations:
        constraint, value = violations[0]
        more = f" (and {len(violations) - 1} more constraints)" if len(violations) > 1 else ""
        raise ProvingError(_violation_message(index, statement, constraint, value, values) + more)
    return values


def derive_blindings(blindings: BlindingSource, context: bytes, public: PublicRiskData, index: int,
                     mode: str) -> tuple[int, ...]:
    """Blinding of every variable of account ``index``: ``blindings.scalar(DOMAIN, context, public digest,
    index, variable name)`` (deterministic sources give reproducible epochs)."""
    digest = public.digest()
    names = account_statement(public, mode).statement.variables
    return tuple(blindings.scalar(DOMAIN, context, digest, index, name) for name in names)


def prove_rows(
    public: PublicRiskData, context: bytes, modes: Sequence[str], value_rows: Sequence[Sequence[int]],
    blinding_rows: Sequence[Sequence[int]], nonces: BlindingSource | None = None,
) -> tuple[CollateralBatchProof, list[AccountCommitments]]:
    """Commit and prove a batch from already-checked values and blindings (the part that runs in workers).

    ``nonces`` (default: fresh randomness) supplies the provers' internal random scalars; a deterministic
    source makes the proof a function of (secret, context, witness) — see BlindingSource.nonces."""
    source = nonces if nonces is not None else BlindingSource.random()
    modes = tuple(modes)
    statements = [account_statement(public, mode) for mode in modes]
    commitments = []
    for statement, values, blinds in zip(statements, value_rows, blinding_rows, strict=True):
        points = commit_many(values, blinds)
        b = 1 + len(statement.positions)
        w = b + len(statement.balances)
        commitments.append(AccountCommitments(points[0], tuple(points[1:b]), tuple(points[w:]), statement.mode,
                                              tuple(points[b:w])))
    digest = _commitments_digest(commitments)
    layout = _layout(public, modes)
    parts = []
    for part_index, (width, entries) in enumerate(layout):
        values, blinds = [], []
        for account, k in entries:
            form = statements[account].statement.constraints[k].form
            values.append(form.evaluate(value_rows[account]))
            blinds.append(_form_blinding(form, blinding_rows[account]))
        ctx = part_context(context, public, digest, width, part_index, len(layout))
        proof = prove_bound_range_pp(values, blinds, width, ctx, rng=source.nonces(ctx, *values, *blinds))
        parts.append(ProofPart(width, len(values), proof))
    zero_proofs = []
    H = pedersen_generators()[1]
    for account, statement in enumerate(statements):
        for k, constraint in enumerate(statement.statement.constraints):
            if constraint.bits is not None:
                continue
            gamma = _form_blinding(constraint.form, blinding_rows[account])
            nonce = source.nonces(digest + context, account, k, gamma)()
            T = H * nonce
            e = _zero_challenge(digest + context, account, k, H * gamma, T)
            zero_proofs.append((T, (nonce + e * gamma) % R))
    return CollateralBatchProof(tuple(parts), tuple(zero_proofs)), commitments


def prove_collateral_batch(witnesses: Sequence[AccountWitness], public: PublicRiskData, context: bytes,
                           blindings: BlindingSource) -> tuple[CollateralBatchProof, list[AccountCommitments],
                                                              list[AccountOpening]]:
    """One proof that every account of the batch is collateralized (equity >= maintenance requirement,
    equity >= 0, every variable range-bounded) under ``public`` in ``context``.

    Raises ProvingError (naming the account) if an account does not satisfy its statement, and
    ConfigurationError if ``public`` breaks the bit budget; never emits a proof that cannot verify.
    """
    if not witnesses:
        raise ProvingError("a collateral batch needs at least one account")
    if not isinstance(context, bytes | bytearray):
        raise ProvingError("context must be bytes")
    context = bytes(context)
    public.check_budget()
    value_rows = [assign_account(i, w, public) for i, w in enumerate(witnesses)]
    modes = [w.margin_mode for w in witnesses]
    blinding_rows = [derive_blindings(blindings, context, public, i, mode) for i, mode in enumerate(modes)]
    proof, commitments = prove_rows(public, context, modes, value_rows, blinding_rows, blindings)
    openings = [_opening(public, mode, values, blinds)
                for mode, values, blinds in zip(modes, value_rows, blinding_rows, strict=True)]
    return proof, commitments, openings


def _opening(public: PublicRiskData, mode: str, values: Sequence[int],
             blinds: Sequence[int]) -> AccountOpening:
    b = 1 + len(public.instruments)
    w = b + len(public.assets)
    return AccountOpening(mode, values[0], blinds[0], tuple(values[1:b]), tuple(blinds[1:b]), tuple(values[w:]),
                          tuple(blinds[w:]), tuple(values[b:w]), tuple(blinds[b:w]))


# ---------------------------------------------------------------------------------------------
# Verifying


def _check_commitments(commitments: Sequence[AccountCommitments], public: PublicRiskData) -> None:
    if not commitments:
        raise VerificationError("a collateral batch needs at least one account")
    modes = public.margin_modes
    # one statement per mode (each look-up hashes the whole public data: 44 µs for an 81-instrument listing)
    statements = {mode: account_statement(public, mode) for mode in modes}
    for index, account in enumerate(commitments):
        if not isinstance(account, AccountCommitments) or account.margin_mode not in modes:
            raise VerificationError("malformed account commitments or unsupported margin mode", index=index)
        statement = statements[account.margin_mode]
        if (len(account.positions) != len(statement.positions) or len(account.balances) != len(statement.balances)
                or len(account.witnesses) != len(statement.witnesses)):
            raise VerificationError("account commitments do not match the listing / statement shape",
                                    index=index)


def _form_of(form: LinearCombination, points: Sequence[G1Point]) -> CommitmentForm:
    """The commitment of ``form`` over an account's variable commitments, as its definition (the range proof's
    verifier multiplies it out inside its one MSM; :func:`_combine` computes the point)."""
    return CommitmentForm(tuple(points[i] for i, _ in form.terms), tuple(c for _, c in form.terms), form.constant)


def collateral_statements(proof: CollateralBatchProof, commitments: Sequence[AccountCommitments],
                          public: PublicRiskData, context: bytes, *,
                          encoded: Sequence[bytes] | None = None) -> list[BppBoundRangeStatement]:
    """The range statements that, all verified (e.g. by one ``batch_verify`` across batches), prove the
    batch. Checks the layout and the zero-constraint proofs now; raises VerificationError on failure.
    ``encoded``: ``to_bytes()`` of each account when the caller has computed it from these very commitments (the
    context must hash the points the forms use: other bytes would bind other accounts)."""
    public.check_budget()
    context = bytes(context)
    commitments = list(commitments)
    _check_commitments(commitments, public)
    if not isinstance(proof, CollateralBatchProof):
        raise VerificationError(f"expected a CollateralBatchProof, got {type(proof).__name__}")
    modes = tuple(account.margin_mode for account in commitments)
    layout = _layout(public, modes)
    if proof.layout != tuple((width, len(entries)) for width, entries in layout):
        raise VerificationError("collateral proof layout does not match the batch's statements")
    by_mode = {mode: account_statement(public, mode).statement for mode in set(modes)}
    statements = [by_mode[mode] for mode in modes]
    variables = [account.variables for account in commitments]
    digest = _commitments_digest(commitments, encoded)
    public_digest = public.digest()
    result = []
    for part_index, ((width, entries), part) in enumerate(zip(layout, proof.parts, strict=True)):
        forms = tuple(_form_of(statements[a].constraints[k].form, variables[a]) for a, k in entries)
        ctx = _part_context(context, public_digest, digest, width, part_index, len(layout))
        result.append(BppBoundRangeStatement(proof=part.proof, forms=forms, n_bits=width, context=ctx))
    zeros = [(a, k, c) for a, s in enumerate(statements)
             for k, c in enumerate(s.constraints) if c.bits is None]
    if len(zeros) != len(proof.zero_proofs):
        raise VerificationError("wrong number of zero-constraint proofs")
    H = pedersen_generators()[1]
    for (account, k, constraint), (T, z) in zip(zeros, proof.zero_proofs, strict=True):
        C = _combine(constraint.form, variables[account])
        if H * z != T + C * _zero_challenge(digest + context, account, k, C, T):
            raise VerificationError(f"zero constraint {constraint.name!r} does not hold", index=account)
    return result


def verify_collateral_batch(proof: CollateralBatchProof, commitments: Sequence[AccountCommitments],
                            public: PublicRiskData, context: bytes) -> None:
    """Check that every committed account of the batch is collateralized under ``public`` in ``context``.

    Returns None; raises VerificationError on any failure.
    """
    batch_verify(collateral_statements(proof, commitments, public, context))


# ---------------------------------------------------------------------------------------------
# Many batches


@dataclass(frozen=True, slots=True)
class CollateralBatch:
    """One proven batch: its proof, and per account the commitments and openings."""

    proof: CollateralBatchProof
    commitments: tuple[AccountCommitments, ...]
    openings: tuple[AccountOpening, ...]


def batch_context(context: bytes, index: int) -> bytes:
    """The context of batch ``index`` of an epoch proven by :func:`prove_collateral`:
    ``context || "/collateral-batch/" || u32(index)``."""
    return bytes(context) + b"/collateral-batch/" + struct.pack(">I", index)


def _prove_job(job: tuple) -> tuple[bytes, list[bytes]]:
    public, context, modes, value_rows, blinding_rows = job
    proof, commitments = prove_rows(public, context, modes, value_rows, blinding_rows)
    return proof.to_bytes(), [c.to_bytes() for c in commitments]


def prove_collateral(witnesses: Sequence[AccountWitness], public: PublicRiskData, context: bytes,
                     blindings: BlindingSource, *, batch_size: int = 64,
                     executor: object | None = None) -> list[CollateralBatch]:
    """Prove many accounts in batches of ``batch_size`` (the last one may be smaller), batch ``i`` in
    :func:`batch_context` ``(context, i)``, fanned out over ``executor`` (``zkclear.executor``; serial
    when None). Every account is checked before any proving starts (ProvingError names it)."""
    if batch_size < 1:
        raise ProvingError("batch_size must be at least 1")
    public.check_budget()
    context = bytes(context)
    jobs, rows = [], []
    for start in range(0, len(witnesses), batch_size):
        batch = list(witnesses[start:start + batch_size])
        ctx = batch_context(context, start // batch_size)
        values = [assign_account(start + i, w, public) for i, w in enumerate(batch)]
        modes = tuple(w.margin_mode for w in batch)
        blinds = [derive_blindings(blindings, ctx, public, i, mode) for i, mode in enumerate(modes)]
        jobs.append((public, ctx, modes, values, blinds))
        rows.append((modes, values, blinds))
    results = [_prove_job(job) for job in jobs] if executor is None else executor.map(_prove_job, jobs)
    batches = []
    for (proof_bytes, commitment_bytes), (modes, values, blinds) in zip(results, rows, strict=True):
        batches.append(CollateralBatch(
            CollateralBatchProof.from_bytes(proof_bytes),
            tuple(AccountCommitments.from_bytes(data) for data in commitment_bytes),
            tuple(_opening(public, mode, v, b) for mode, v, b in zip(modes, values, blinds, strict=True))))
    return batches


def verify_collateral(batches: Sequence[tuple[CollateralBatchProof, Sequence[AccountCommitments]]],
                      public: PublicRiskData, context: bytes) -> None:
    """Verify batches proven by :func:`prove_collateral` with one batch verification of all range proofs."""
    statements: list[BppBoundRangeStatement] = []
    for index, (proof, commitments) in enumerate(batches):
        statements += collateral_statements(proof, commitments, public, batch_context(context, index))
    batch_verify(statements)


__all__ = [
    "DEFAULT_MARGIN_MODE",
    "PORTFOLIO",
    "STANDARD",
    "AccountCommitments",
    "AccountOpening",
    "CollateralBatch",
    "CollateralBatchProof",
    "ProofPart",
    "batch_context",
    "collateral_statements",
    "max_equity_bits",
    "proof_layout",
    "prove_collateral",
    "prove_collateral_batch",
    "verify_collateral",
    "verify_collateral_batch",
]
