"""Red team, session 13: what a participant relies on — ``zkclear verify`` and the verification page (its bridge on
CPython, and the page itself in Chromium where the JavaScript side decides what is shown).

Found and fixed here:

- the public risk data's validation and digest are cached by value, and Python counts ``False == 0``: a risk data
  file with ``false`` for a ``0`` was refused on its own but accepted, as the file the header binds, once the
  honest file had been read in the same process — which the page's worker is, for every check of a session
  (a file the CLI refused, the page accepted);
- the page showed the participant neither their collateral balances nor their liabilities per asset (the CLI
  prints both): the threat model's "else only the owner reading the values shown" did not hold in the browser;
  and its caption presented the public inputs' marks for comparison without saying they are not the ones checked.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.cli.cli_helpers import zkclear_status
from zkclear.errors import EncodingError
from zkclear.verifier.published import decode_risk_data
from zkclear.web.bridge import EpochRequest, verify

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "trader-0002"


def _with_false_for_zero(web_deployment, tmp_path: Path) -> Path:
    """A copy of epoch 2's folder whose risk data spells BTC-PERP's value per lot (0) ``false``."""
    folder = tmp_path / "2"
    shutil.copytree(web_deployment.folder(2), folder)
    path = folder / "epoch-2.public.json"
    text = path.read_text(encoding="ascii")
    assert '["BTC-PERP",0,' in text
    path.write_text(text.replace('["BTC-PERP",0,', '["BTC-PERP",false,', 1), encoding="ascii")
    return folder


def test_a_risk_data_file_with_false_for_zero_is_refused_even_after_the_honest_file_was_read(web_deployment,
                                                                                               tmp_path):
    """Before: the second check passed (``ok``), its risk data taken for the one the header binds."""
    receipt = web_deployment.receipt_path(2, ACCOUNT)
    honest = verify(ACCOUNT, [EpochRequest(web_deployment.folder(2), receipt)])
    assert honest["ok"] is True
    folder = _with_false_for_zero(web_deployment, tmp_path)
    result = verify(ACCOUNT, [EpochRequest(folder, receipt)])  # the same process: the page's worker
    assert result["ok"] is False and result["epochs"] == []
    assert result["error"] == f"{folder / 'epoch-2.public.json'}: not a public risk data file (true or false where a " \
                              "number is expected)"
    with pytest.raises(EncodingError, match="true or false where a number is expected"):
        decode_risk_data((folder / "epoch-2.public.json").read_bytes())
    # zkclear verify says the same (one line, exit 1), as it did in a fresh process before the fix
    code, output = zkclear_status("verify", folder, "--receipt", receipt, "--account", ACCOUNT)
    assert code == 1 and "true or false where a number is expected" in output, output


def test_the_honest_risk_data_still_decodes(web_deployment):
    for epoch in (1, 2):
        path = web_deployment.folder(epoch) / f"epoch-{epoch}.public.json"
        assert decode_risk_data(path.read_bytes()).label == f"epoch-{epoch}"
