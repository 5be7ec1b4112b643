"""What every example script shares: bad arguments and bad files end in one line on stderr and exit status 1 (as
the ``zkclear`` command's do), never a traceback; a failed check is the script's own exit status 2."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable

from zkclear.errors import ZkclearError


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit status 1 (argparse's own: two lines, status 2,
    which the scripts keep for a failed check)."""

    def error(self, message: str):
        print(f"error: {message} (see: {self.prog} --help)", file=sys.stderr)
        raise SystemExit(1)


def at_least(minimum: int) -> Callable[[str], int]:
    """An argument type: a decimal integer not below ``minimum``."""

    def parse(text: str) -> int:
        if not re.fullmatch(r"-?[0-9]{1,19}", text) or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer of at least {minimum}, got {text!r}")
        return int(text)

    parse.__name__ = f"integer >= {minimum}"
    return parse


def run(main: Callable[[], int | None]) -> None:
    """Run ``main`` and exit with its status; a zkclear error or an unreadable file is one line, exit status 1."""
    try:
        status = main()
    except ZkclearError as exc:
        print(f"error: {exc}", file=sys.stderr)
        status = 1
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        status = 1
    raise SystemExit(status or 0)
