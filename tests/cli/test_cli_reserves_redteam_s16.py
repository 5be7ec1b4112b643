"""Red team (session 16) of the reserves across epochs: an operator who wants reserves to look larger than they are by
listing a chain at a block older than one it already published, every row true at its block and every signature
genuine.

Each test pinned a defect before its fix (named in its docstring)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.cli_helpers import zkclear
from tests.cli.conftest import KEYS, VENUE, holders
from zkclear.operator import Deployment
from zkclear.synthetic import DEMO_BLOCKS, reserves_csv


def test_a_chain_left_out_for_an_epoch_comes_back_at_no_older_block_than_it_was_published_at(
        venue, tmp_path: Path, capsys, monkeypatch):
    """Defect (fixed): the rule "no chain's reserves at an older block than the epoch before's" compared each epoch
    with the one before only. Epoch 1 lists Ethereum at block 19000000, epoch 2 lists no Ethereum entry, epoch 3 lists
    Ethereum at block 18999999 (a snapshot from before coins left, older than one already published): `epoch prove`
    proved it, and `audit` of the three epochs and `verify` of the three receipts said OK. Now a chain's block is
    compared with the latest earlier epoch that listed the chain (across a gap in the epochs given too:
    tests/chains/test_reserves_redteam_s16.py)."""
    deployment = tmp_path / "venue"
    zkclear("init", deployment, "--config", venue["config"], "--height", 10, "--executor", "serial", "--venue", VENUE)
    ethereum, solana = holders()
    height, _ = DEMO_BLOCKS["ethereum"]
    for number, (listed, keys) in enumerate((([ethereum, solana], venue["keys"]), ([solana], venue["keys"][1:]),
                                             ([ethereum, solana], venue["keys"])), start=1):
        zkclear("epoch", "run", venue["epochs"][number - 1], "-d", deployment)
        with Deployment(deployment).ledger() as ledger:
            liabilities = int(ledger.state(number).cash.sum())
        path = tmp_path / f"reserves-{number}.csv"
        text = reserves_csv(listed, {"USDC": liabilities + 1})
        path.write_text(text.replace(f",{height},", f",{height - 1},") if number == 3 else text)
        prove = ("epoch", "prove", "-d", deployment, "--epoch", number, "--reserves", path,
                 *(arg for key in keys for arg in ("--sign-with", key)))
        if number == 3:
            out = zkclear(*prove, expect=1)
            assert out.startswith(f"error: {path}:2: field 'block_height': ethereum is read at block {height - 1}, "
                                  f"before the block epoch 1's reserves were read at ({height}, ") and \
                out.count("\n") == 1, out
            assert not Deployment(deployment).is_proven(3)
            # A dishonest operator's own tool proves and attests it anyway.
            monkeypatch.setattr(Deployment, "require_blocks_advance", lambda *args, **kwargs: None)
        zkclear(*prove)
    epochs = [Deployment(deployment).epoch_dir(n) for n in (1, 2, 3)]
    out = zkclear("audit", *epochs, expect=2)
    assert "epoch 2: OK" in out and "epoch 3: OK" not in out, out
    assert "FAILED [reserves-mismatch]" in out and f"listed in epoch 3 at block {height - 1}" in out, out
    assert f"epoch 1 at block {height}" in out and KEYS[0].address.text in out, out
    account = "trader-0000"
    receipts = [arg for n in (1, 2, 3) for arg in ("--receipt", Deployment(deployment).receipt_path(n, account))]
    out = zkclear("verify", *epochs, *receipts, "--participant", Deployment(deployment).participant_path(account),
                  expect=2)
    assert "FAILED [reserves-mismatch]" in out and f"epoch 1 at block {height}" in out, out
