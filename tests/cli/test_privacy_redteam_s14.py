"""Red team session 14 (privacy): what a deployment's own files show to other users of the operator's machine.

The operator secret was written with mode 0600, but everything it protects was readable by every local user under
the usual umask (022): ``ledger.sqlite`` (every account's balances and positions in the clear) with mode 0644, and
``private/`` with mode 0755, holding every account's receipt (the opening of all its commitments and its account
key), the participant files, ``receipts.index`` (account id -> receipt file) and the auditor-only total file. Now
the ledger is created with mode 0600 and ``private/`` is a folder only its owner can enter (0700), also when an
older deployment's ``private/`` was open (closed again at the next ``epoch run`` or ``epoch prove``).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

from zkclear.files import private_folder
from zkclear.operator import LEDGER_FILE, PRIVATE_DIR
from zkclear.scratch import scratch_folder


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_proven_deployment_keeps_its_ledger_and_private_folder_to_its_owner(proven):
    root = Path(proven["dir"])
    assert _mode(root / LEDGER_FILE) & 0o077 == 0, oct(_mode(root / LEDGER_FILE))
    assert _mode(root / PRIVATE_DIR) == 0o700, oct(_mode(root / PRIVATE_DIR))
    # what the folder protects is really there: receipts, their index and the participant files
    assert list((root / PRIVATE_DIR / "1" / "receipts").glob("*.rcpt"))
    assert (root / PRIVATE_DIR / "1" / "receipts.index").is_file()
    assert list((root / PRIVATE_DIR / "participants").glob("*.toml"))
    # the publication folder stays readable by everyone (it is meant to be published)
    assert _mode(root / "epochs" / "1") & 0o005 == 0o005


def test_an_open_private_folder_of_an_older_deployment_is_closed_again(tmp_path):
    private = tmp_path / "private"
    (private / "1" / "receipts").mkdir(parents=True)
    private.chmod(0o755)
    assert private_folder(private) == private
    assert _mode(private) == 0o700
    # a missing one is made closed, its missing parents with the default mode
    made = private_folder(tmp_path / "new" / "private")
    assert _mode(made) == 0o700


def test_the_scratch_copies_of_the_accounts_sit_in_a_closed_private_folder(tmp_path):
    private = tmp_path / PRIVATE_DIR
    with scratch_folder(private) as folder:
        assert folder.is_relative_to(private)
        assert _mode(private) == 0o700
    assert not private.exists()  # made for the block, removed with it as before


def test_no_blinding_or_commitment_repeats_across_accounts_purposes_or_epochs(proven):
    """The deterministic blindings (docs/protocol.md, "Blinding derivation") are distinct per account, purpose and
    epoch: an account whose values did not change still gets new commitments, so two epochs' audit data do not show
    that it did not change, and no scalar a participant or an auditor receives is another one's blinding."""
    from zkclear.crypto.field import R
    from zkclear.verifier.published import open_published

    deployment = proven["deployment"]
    owners: dict[int, tuple] = {}  # every scalar handed out -> who holds it
    points: dict[bytes, tuple] = {}  # every published commitment -> where it is
    opened: dict[str, list[tuple]] = {}  # account -> its opened values, epoch by epoch
    for epoch in (1, 2, 3):
        published = open_published(deployment.epoch_dir(epoch))
        audit = published.audit_data()
        for chunk in audit.chunks:
            for slot, account in enumerate(chunk.accounts):
                for k, point in enumerate(account.variables):
                    assert points.setdefault(point.to_bytes(), (epoch, chunk.position, slot, k)) == (
                        epoch, chunk.position, slot, k), "a commitment repeats"
        for position, node in audit.upper_nodes.items():
            assert points.setdefault(node.encoded, (epoch, position)) == (epoch, position), "a node repeats"
        held = [("matched book", epoch, 0, beta) for beta in published.bundle.matched_book]
        for position, (liability, vector) in audit.padding.items():
            held += [("padding", epoch, position, b) for b in (*liability, *vector)]
        index = json.loads((deployment.private_dir(epoch) / "receipts.index").read_text())
        for account_id in index:
            receipt = published.receipt(deployment.receipt_path(epoch, account_id))
            held.append(("account key", account_id, 0, int.from_bytes(receipt.account_key, "big") % R))
            held += [("opening", epoch, account_id, b) for b in receipt.opening.blindings]
            opened.setdefault(account_id, []).append((receipt.opening.margin_mode, receipt.opening.values))
        for holder in held:
            *who, scalar = holder
            assert owners.setdefault(scalar, tuple(who)) == tuple(who), f"{who} reuses {owners[scalar]}'s scalar"
    # the property matters most for accounts that did not move: they exist here, and got new commitments above
    unchanged = [a for a, values in opened.items() if len(values) > 1 and values[0] == values[1]]
    assert unchanged, "the fixture should hold an account unchanged between epochs 1 and 2"


def test_an_open_ledger_of_an_older_deployment_is_closed_at_its_next_use(proven, tmp_path):
    import shutil

    from zkclear.operator import Deployment

    root = tmp_path / "older"
    shutil.copytree(proven["dir"], root)
    (root / LEDGER_FILE).chmod(0o644)
    (root / PRIVATE_DIR).chmod(0o755)
    Deployment(root, read_only=True).head()  # a reader that writes nothing changes nothing
    assert _mode(root / LEDGER_FILE) == 0o644
    deployment = Deployment(root)
    assert deployment.head() == 3
    assert _mode(root / LEDGER_FILE) == 0o600
    with deployment.account_source(3):  # what `epoch prove` opens first: its scratch copy in private/
        assert _mode(root / PRIVATE_DIR) == 0o700
