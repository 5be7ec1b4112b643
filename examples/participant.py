"""A participant's check of their own account with the Python API (what ``zkclear verify`` does).

    python examples/participant.py EPOCH_DIR RECEIPT --account YOUR_ID [--cash N] [--crowd-audit K]

The check is made for the account id *you* give, never the one in the receipt: the receipt must be yours, its
leaf must carry your id salted with your account key, its values must be the ones you expect; then the path is
folded to the published root, the root statements (matched book, reserves) are checked and the siblings' range
proofs, your chunk's collateralization proof and the solvency proof verified in one batch; the public risk data (so
the marks and the requirement shown) is recomputed from the published inputs with the clearing engine's own code.
With --crowd-audit, K more chunks chosen with local randomness are verified too.
"""

from __future__ import annotations

from pathlib import Path

from script_support import Parser, at_least, run

from zkclear.errors import VerificationError
from zkclear.proofs.recompute import check_inputs_chain, check_public_inputs
from zkclear.verifier.audit_on_disk import open_audit_file
from zkclear.verifier.published import open_published
from zkclear.verifier.reasons import explain
from zkclear.verifier.receipt import Expected, crowd_audit, verify_receipt


def main() -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("epoch_dir", type=Path)
    parser.add_argument("receipt", type=Path)
    parser.add_argument("--account", required=True)
    parser.add_argument("--cash", type=at_least(-(1 << 63)))
    parser.add_argument("--crowd-audit", type=at_least(0), default=0)
    args = parser.parse_args()
    published = open_published(args.epoch_dir)
    receipt = published.receipt(args.receipt)
    try:
        check = verify_receipt(published, receipt, args.account, expected=Expected(cash=args.cash))
        check_public_inputs(published.inputs, published.public, epoch=published.epoch)
        check_inputs_chain(None, published.inputs)  # epoch 1 starts from the genesis state
        # the audit file is read in pieces, only what the drawn chunks need (it can be gigabytes)
        chunks = crowd_audit(published, open_audit_file(published), args.crowd_audit) if args.crowd_audit else []
    except VerificationError as failure:
        print(f"FAILED [{failure.reason}]: {failure.detail or explain(failure.reason, failure.index)}")
        return 2
    positions = dict(zip(published.public.instrument_ids, check.positions, strict=True))
    print(f"epoch {check.epoch_id}: account {check.account_id} is at leaf {check.leaf_index}; cash {check.cash}, "
          f"positions {positions}; equity {check.equity} >= maintenance {check.requirement}; "
          f"header hash {check.header_hash}")
    for asset, balance, haircut_value in check.collateral:
        print(f"  {asset}: balance {balance} (smallest units), haircut value {haircut_value} (settlement units)")
    if chunks:
        print(f"crowd audit: chunks {chunks} verified")
    return 0


if __name__ == "__main__":
    run(main)
