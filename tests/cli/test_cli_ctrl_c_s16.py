"""Ctrl-C just after a command has done its work (session 16).

``epoch run`` commits its epoch, prints its summary and returns; the interpreter then joins its threads. A Ctrl-C in
that moment printed a ``KeyboardInterrupt`` traceback from ``threading._shutdown`` (2 runs out of 3 when the signal
followed the first line of the summary). The program's entry point (``zkclear.cli.run``) now ends the process with
the command's own exit status on a Ctrl-C after the command returned; one during the summary says ``aborted (epoch N
was committed before the interrupt)`` (exit 1): it said only ``aborted``, as if nothing had been done."""

from __future__ import annotations

import signal
import subprocess
import sys

from tests.cli.cli_helpers import zkclear
from zkclear.operator import Deployment
from zkclear.synthetic import MarketSpec, generate_market


def test_a_ctrl_c_after_the_epoch_is_committed_prints_no_traceback(tmp_path):
    config, epochs = generate_market(tmp_path / "market",
                                     MarketSpec(accounts=6, epochs=3, fills_per_epoch=20, seed=3, options=False))
    deployment = tmp_path / "venue"
    zkclear("init", deployment, "--config", config, "--height", 8, "--executor", "serial")
    for number, epoch in enumerate(epochs, start=1):
        process = subprocess.Popen([sys.executable, "-m", "zkclear.cli", "epoch", "run", epoch, "-d", deployment],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = process.stdout.readline()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        assert first.startswith(f"epoch {number} committed"), first + out + err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert process.returncode in (0, 1), (process.returncode, err)  # 1: "aborted" during the summary
        aborted = f"aborted (epoch {number} was committed before the interrupt)"
        assert process.returncode == 0 or err.strip() == aborted, err
        with Deployment(deployment).ledger() as ledger:
            assert ledger.head()[0] == number
