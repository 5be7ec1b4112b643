"""Run the real ``zkclear`` entry point in-process, as the CLI tests do."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys

from zkclear.cli import main


def zkclear_streams(*args: object) -> tuple[int, str, str]:
    """Run ``zkclear ARGS`` in-process; return (exit status, stdout, stderr) without asserting."""
    out, err = io.StringIO(), io.StringIO()
    old = sys.argv
    sys.argv = ["zkclear", *map(str, args)]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code or 0
    finally:
        sys.argv = old
    return code, out.getvalue(), err.getvalue()


def zkclear_status(*args: object) -> tuple[int, str]:
    """Run ``zkclear ARGS`` in-process; return (exit status, stdout + stderr) without asserting."""
    code, out, err = zkclear_streams(*args)
    return code, out + err


def zkclear(*args: object, expect: int = 0, capsys=None) -> str:
    """Run ``zkclear ARGS`` through the console entry point; return stdout (+stderr); check the exit status.
    ``capsys`` is accepted for the callers that pass it (output is captured here either way)."""
    code, output = zkclear_status(*args)
    assert code == expect, f"zkclear {' '.join(map(str, args))} exited {code}, expected {expect}:\n{output}"
    return output


def zkclear_as_the_quick_start(*args: object, expect: int = 0) -> str:
    """Run ``zkclear ARGS`` in a fresh process on the group engine the quick start installs (``ZKCLEAR_BACKEND=auto``:
    the native one when its wheel is installed, as with the test extra); return stdout + stderr, checking the exit
    status. For the demo's end-to-end walks: the rest of the suite runs in-process on the pure reference engine,
    which the backend tests cross-check the native one against."""
    result = subprocess.run([sys.executable, "-m", "zkclear.cli", *map(str, args)], capture_output=True, text=True,
                            env=dict(os.environ, ZKCLEAR_BACKEND="auto"), timeout=900, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == expect, f"zkclear {' '.join(map(str, args))} exited {result.returncode}:\n{output}"
    return output
