"""The root statements of a public bundle: cheap enough for every participant to check.

- **Matched book**: the root carries, per instrument j, the sum P_j of every position commitment in the tree
  (bound by the root digest, so a participant who folded their path to the root has these very sums); the
  bundle publishes β_j and the check is ``P_j = 0·G + β_j·H``: every instrument's positions sum to zero
  [matched-book, naming the instrument].
- **Solvency**: the aggregated range proof over ``reserves_a·G − C_root,a`` for every asset (its statement is
  returned for batching) [solvency-proof].
- **Reserves**: the reserves list is the one the header binds, its assets are the epoch's and every asset's total
  is the header's [reserves-mismatch, naming the asset or address]; every listed address attested this epoch
  with its chain's own signed message over the attestation text (zkclear.chains, standard library only)
  [attestation-* and reserves-duplicate-address, naming the address].
"""

from __future__ import annotations

from collections.abc import Sequence

from zkclear.bundle.model import PublicBundle
from zkclear.chains import verify_attestations
from zkclear.crypto.pedersen import commit
from zkclear.errors import VerificationError
from zkclear.proofs.reserves import check_reserve_book
from zkclear.proofs.solvency import solvency_statement

Named = tuple[str, int, object]


def check_matched_book(bundle: PublicBundle, instrument_ids: Sequence[str]) -> None:
    """Every instrument's position sum at the root opens to zero with its published blinding sum."""
    sums = bundle.root.positions or ()
    count = bundle.header.instrument_count
    if len(sums) != count or len(bundle.matched_book) != count or len(instrument_ids) != count:
        raise VerificationError("matched-book", detail=f"the bundle carries {len(sums)} position sums and "
                                                       f"{len(bundle.matched_book)} blinding sums for {count} "
                                                       "instruments")
    for j, (total, beta) in enumerate(zip(sums, bundle.matched_book, strict=True)):
        if total != commit(0, beta):
            raise VerificationError("matched-book", index=j,
                                    detail=f"the positions in {instrument_ids[j]} do not sum to zero: the book is "
                                           "not matched (an account may be missing or altered)")


def check_reserves(bundle: PublicBundle, collateral_ids: Sequence[str]) -> tuple[int, ...]:
    """The reserves list is the header's with the epoch's assets and totals, and every address attested;
    returns the attested reserves per asset (settlement first)."""
    header = bundle.header
    check_reserve_book(bundle.reserves, header.reserves_digest, header.reserve_totals, collateral_ids)
    verify_attestations(bundle.reserves.entries, bundle.attestations, bundle.attestation_context())
    return header.reserve_totals


def check_root_statements(bundle: PublicBundle, instrument_ids: Sequence[str],
                          collateral_ids: Sequence[str] = ()) -> tuple[int, ...]:
    """Matched book and reserves (the solvency proof is batch-verified with the caller's other proofs);
    returns the attested reserves per asset."""
    check_matched_book(bundle, instrument_ids)
    return check_reserves(bundle, collateral_ids)


def solvency_named(bundle: PublicBundle) -> Named:
    """The solvency proof's statement, named for :func:`zkclear.verifier.statements.verify_named`."""
    header = bundle.header
    try:
        statement = solvency_statement(bundle.solvency_proof, header.reserve_totals, bundle.root.liabilities,
                                       header.context(b"solvency"))
    except VerificationError:
        raise VerificationError("solvency-proof", detail="the solvency proof does not decode") from None
    return ("solvency-proof", 0, statement)
