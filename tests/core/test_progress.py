"""Progress lines: a log (not a terminal) gets a line when a step starts, at each quarter, every so many seconds and
at the end, with an ETA while the step runs; a terminal gets one line rewritten in place."""

from __future__ import annotations

import io

from zkclear.progress import ProgressLine, clock


def test_a_log_gets_a_line_per_quarter_of_each_step():
    lines: list[str] = []
    progress = ProgressLine(lines.append, stream=io.StringIO(), interactive=False)
    for done in range(9):
        progress.update("collateral proofs (chunks)", done, 8)
    progress.update("node range proofs (groups)", 0, 3)
    progress.update("node range proofs (groups)", 3, 3)
    progress.finish()
    steps = [line.split(":")[1].split("(")[0].strip() for line in lines]
    assert steps == ["0/8", "2/8", "4/8", "6/8", "8/8", "0/3", "3/3"]
    assert all(line.startswith("   collateral proofs (chunks): ") for line in lines[:5])


def test_a_long_step_gets_a_line_every_interval_and_an_eta_that_ignores_resumed_work(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("zkclear.progress.time.monotonic", lambda: now[0])
    lines: list[str] = []
    with ProgressLine(lines.append, stream=io.StringIO(), interactive=False, interval=10) as progress:
        progress.update("collateral proofs (chunks)", 40, 100)   # 40 resumed from disk, counted at once
        now[0] += 5
        progress.update("collateral proofs (chunks)", 41, 100)   # same quarter, within the interval: no line
        now[0] += 5
        progress.update("collateral proofs (chunks)", 45, 100)   # same quarter, but 10 s since the last line
        now[0] += 5
        progress.update("collateral proofs (chunks)", 50, 100)   # a new quarter: 10 proven in 15 s, 50 left
        now[0] += 45
        progress.update("collateral proofs (chunks)", 100, 100)
        progress.update("receipts", 0, 3)
    assert lines == [
        "   collateral proofs (chunks): 40/100 (0s)",
        "   collateral proofs (chunks): 45/100 (10s, ETA 0:01:50)",
        "   collateral proofs (chunks): 50/100 (15s, ETA 0:01:15)",
        "   collateral proofs (chunks): 100/100 (60s)",
        "   receipts: 0/3 (0s)",
    ]
    assert clock(3725) == "1:02:05"


def test_a_terminal_gets_one_line_rewritten_in_place():
    stream = io.StringIO()
    lines: list[str] = []
    progress = ProgressLine(lines.append, stream=stream, interactive=True)
    for done in range(3):
        progress.update("node range proofs (groups)", done, 2)
    progress.finish()
    assert lines == []
    # redrawn at a step's start and end, in between at most every 0.2 s (these updates come within microseconds)
    assert stream.getvalue().count("\r") == 2 and stream.getvalue().endswith("2/2 (0s)\n")
