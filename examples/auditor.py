"""An auditor's check of published epochs with the Python API (what ``zkclear audit`` does).

    python examples/auditor.py venue/epochs/1 venue/epochs/2 ...

Checks, for each epoch: the public risk data recomputed from the public inputs with the clearing engine's own
code, the reserve attestations, every chunk's collateralization proof (every account covers its maintenance
margin), the rebuilt sum tree and every node's range proof, the matched book, the solvency proof, and that each
epoch's header chains to the previous one and its public inputs carry the previous one's configuration and start from
the state it leaves (the first from the genesis state when it is epoch 1).
"""

from __future__ import annotations

import sys
from pathlib import Path

from script_support import run

from zkclear.errors import VerificationError
from zkclear.proofs.recompute import check_inputs_chain, check_public_inputs
from zkclear.verifier.audit import audit_epoch
from zkclear.verifier.published import open_published
from zkclear.verifier.reasons import explain


def main(directories: list[str]) -> int:
    previous = previous_inputs = None
    for directory in directories:
        published = open_published(Path(directory))
        try:
            check_public_inputs(published.inputs, published.public, epoch=published.epoch)
            check_inputs_chain(previous_inputs, published.inputs)  # configuration and previous state carried over
            report = audit_epoch(published, published.audit_data(), previous=previous)
        except VerificationError as failure:
            print(f"{directory}: FAILED [{failure.reason}]: {failure.detail or explain(failure.reason, failure.index)}")
            return 2
        previous, previous_inputs = published.bundle.chain_link(), published.inputs
        reserves = ", ".join(f"{r.asset_id} {r.total}" for r in report.reserves)
        print(f"{directory}: epoch {report.epoch_id} OK — {report.leaves} leaves in {report.chunks} chunks, "
              f"reserves {reserves} cover the hidden totals; header hash {report.header_hash}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    run(lambda: main(sys.argv[1:]))
