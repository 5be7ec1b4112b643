"""Run the real ``zkclear`` entry point in-process, as the CLI tests do."""

from __future__ import annotations

import sys

from zkclear.cli import main


def zkclear(*args: object, expect: int = 0, capsys=None) -> str:
    """Run ``zkclear ARGS`` through the console entry point; return stdout (+stderr); check the exit status."""
    argv = ["zkclear", *map(str, args)]
    old = sys.argv
    sys.argv = argv
    try:
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code or 0
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert code == expect, f"zkclear {' '.join(argv[1:])} exited {code}, expected {expect}:\n{output}"
    return output


def zkclear_status(*args: object) -> tuple[int, str]:
    """Run ``zkclear ARGS`` in-process; return (exit status, stdout + stderr) without asserting."""
    import contextlib
    import io

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
    return code, out.getvalue() + err.getvalue()
