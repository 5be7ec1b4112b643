"""Red team session 14 (privacy): what a deployment's own files show to other users of the operator's machine.

The operator secret was written with mode 0600, but everything it protects was readable by every local user under
the usual umask (022): ``ledger.sqlite`` (every account's balances and positions in the clear) with mode 0644, and
``private/`` with mode 0755, holding every account's receipt (the opening of all its commitments and its account
key), the participant files, ``receipts.index`` (account id -> receipt file) and the auditor-only total file. Now
the ledger is created with mode 0600 and ``private/`` is a folder only its owner can enter (0700), also when an
older deployment's ``private/`` was open (closed again at the next ``epoch run`` or ``epoch prove``).
"""

from __future__ import annotations

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
