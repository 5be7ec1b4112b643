"""A participant's check of their own account with the Python API (what ``zkclear verify`` does).

    python examples/participant.py EPOCH_DIR RECEIPT [--cash N] [--crowd-audit K]

The receipt opens the participant's own commitments only; the check recomputes their leaf, folds the
path to the published root, verifies the siblings' range proofs and their chunk's collateralization
proof in one batch, and (with --crowd-audit) verifies K more chunks chosen with local randomness.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zkclear.errors import VerificationError
from zkclear.operator import CHUNK_SYSTEM, open_published
from zkclear.tree.inclusion import crowd_audit, verify_receipt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("epoch_dir", type=Path)
    parser.add_argument("receipt", type=Path)
    parser.add_argument("--cash", type=int)
    parser.add_argument("--crowd-audit", type=int, default=0)
    args = parser.parse_args()
    published = open_published(args.epoch_dir)
    receipt = published.receipt(args.receipt)
    try:
        check = verify_receipt(published.bundle, receipt, published.public, chunk_system=CHUNK_SYSTEM,
                               expected_cash=args.cash)
        chunks = crowd_audit(published.bundle, published.audit_data(), published.public, args.crowd_audit,
                             chunk_system=CHUNK_SYSTEM) if args.crowd_audit else []
    except VerificationError as failure:
        print(f"FAILED: {failure.reason}")
        return 2
    positions = dict(zip(published.public.instrument_ids, check.positions, strict=True))
    print(f"epoch {check.epoch_id}: your account is at leaf {check.leaf_index}; cash {check.cash}, "
          f"positions {positions}; collateralization and inclusion verified")
    if chunks:
        print(f"crowd audit: chunks {chunks} verified")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
