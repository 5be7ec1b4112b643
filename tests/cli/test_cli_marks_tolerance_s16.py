"""``zkclear audit --tolerance-ticks`` (red team session 16): the ticks a mark may be off beyond ``--tolerance-bps``
(tests/verifier/test_marks_tolerance_s16.py has the rule; here, the option through the real entry point)."""

from __future__ import annotations

import json

from tests.cli.cli_helpers import zkclear


def test_the_audit_takes_a_ticks_term_besides_basis_points(proven, tmp_path, capsys):
    epoch_dir = proven["deployment"].epoch_dir(3)
    published = json.loads(zkclear("show", epoch_dir, "--json", capsys=capsys))["marks"]
    marks = tmp_path / "prices.csv"
    marks.write_text("instrument,price\n" + "".join(f"{i},{p + 1}\n" for i, p in published.items()))
    failure = json.loads(zkclear("audit", epoch_dir, "--marks", marks, "--tolerance-bps", 0, "--json", expect=2,
                                 capsys=capsys))
    assert failure["reason"] == "marks-beyond-tolerance" and "(1 ticks) apart" in failure["detail"]
    out = zkclear("audit", epoch_dir, "--marks", marks, "--tolerance-bps", 0, "--tolerance-ticks", 1, capsys=capsys)
    assert f"{len(published)} marks within 0 bps + 1 ticks of your prices" in out
