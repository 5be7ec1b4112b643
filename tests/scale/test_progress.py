"""Progress of a long command: done/total, elapsed and an ETA, as lines when the output is not a terminal."""

from __future__ import annotations

import io

from zkclear.progress import ProgressReporter, clock


def test_lines_show_counts_and_an_eta_that_ignores_resumed_work(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("zkclear.progress.time.monotonic", lambda: now[0])
    out = io.StringIO()
    with ProgressReporter(out, interval=10, terminal=False) as progress:
        progress.update("collateral proofs (chunks)", 40, 100)   # 40 resumed from disk, counted at once
        now[0] += 5
        progress.update("collateral proofs (chunks)", 41, 100)   # within the interval: no line
        now[0] += 5
        progress.update("collateral proofs (chunks)", 50, 100)   # 10 proven in 10 s: 50 left, ETA 50 s
        now[0] += 50
        progress.update("collateral proofs (chunks)", 100, 100)
        progress.update("receipts", 0, 3)
    lines = out.getvalue().splitlines()
    assert lines[0] == "  collateral proofs (chunks)  40/100 (40%), elapsed 0:00:00, ETA unknown"
    assert lines[1] == "  collateral proofs (chunks)  50/100 (50%), elapsed 0:00:10, ETA 0:00:50"
    assert lines[2] == "  collateral proofs (chunks)  100/100 (100%), elapsed 0:01:00, done"
    assert lines[3].startswith("  receipts  0/3 (0%)") and len(lines) == 5  # the unfinished step's last line
    assert clock(3725) == "1:02:05"


def test_a_terminal_gets_one_line_redrawn_in_place():
    out = io.StringIO()
    with ProgressReporter(out, terminal=True) as progress:
        progress.update("node range proofs (groups)", 0, 2)
        progress.update("node range proofs (groups)", 2, 2)
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and "2/2 (100%)" in text
