"""The root statements of a public bundle: cheap enough for every participant to check.

- **Matched book**: the root carries the position vector V of the whole tree, one commitment to every
  instrument's net position (bound by the root digest, so a participant who folded their path to the root has this
  very vector); the bundle publishes β and the check is ``V = 0·G_1 + ... + 0·G_n + β·H``: every instrument's
  positions sum to zero [matched-book].
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
from zkclear.tree.sum_tree import POSITION_POINTS

Named = tuple[str, int, object]


def check_matched_book(bundle: PublicBundle, instrument_ids: Sequence[str]) -> None:
    """The root's position vector opens to the zero vector with the published blinding sum."""
    vectors = bundle.root.positions or ()
    count = bundle.header.instrument_count
    if len(vectors) != POSITION_POINTS or len(bundle.matched_book) != POSITION_POINTS or len(instrument_ids) != count:
        raise VerificationError("matched-book", detail=f"the bundle carries {len(vectors)} position vectors and "
                                                       f"{len(bundle.matched_book)} blinding sums for "
                                                       f"{len(instrument_ids)} instruments (the header says {count})")
    if vectors[0] != commit(0, bundle.matched_book[0]):
        raise VerificationError("matched-book", detail="the positions of some instrument do not sum to zero: the book "
                                                       "is not matched (an account may be missing or altered)")


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
