"""Progress lines: a log (not a terminal) gets a line when a step starts, at each quarter and at the end;
a terminal gets one line rewritten in place."""

from __future__ import annotations

import io

from zkclear.progress import ProgressLine


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


def test_a_terminal_gets_one_line_rewritten_in_place():
    stream = io.StringIO()
    lines: list[str] = []
    progress = ProgressLine(lines.append, stream=stream, interactive=True)
    for done in range(3):
        progress.update("node range proofs (groups)", done, 2)
    progress.finish()
    assert lines == []
    assert stream.getvalue().count("\r") == 3 and stream.getvalue().endswith("2/2 (0s)\n")
