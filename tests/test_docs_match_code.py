"""The documents name what the code has: every reason code in docs/protocol.md's table is one the verifiers report and
every one they report is in it, and zkclear/ raises every one and no other; every reason the threat model says
catches an attack exists; the README's CLI table has a row for every command, and each row names every option of its
command; ``epoch run --help`` names every input file; the contents list of docs/protocol.md, format.md and
performance.md names their sections; every CSV header docs/format.md shows is the one the code reads; and every
``zkclear ...`` the README and docs show names a command and options it has."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click
import pytest

from zkclear.cli import cli
from zkclear.verifier.reasons import REASONS

ROOT = Path(__file__).resolve().parents[1]
KEBAB = re.compile(r"[a-z]+(?:-[a-z0-9]+)+")


def _section(path: Path, title: str) -> str:
    """The text of the level-2 section ``## title`` of ``path`` (up to the next level-2 heading)."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def _table_rows(section: str) -> list[list[str]]:
    """The cells of every table body row of ``section`` (``\\|`` inside a cell is not a separator)."""
    rows = []
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_the_reason_table_lists_exactly_the_reasons_the_verifiers_report():
    rows = _table_rows(_section(ROOT / "docs" / "protocol.md", "Reason codes"))
    listed = {code for row in rows[1:] for code in re.findall(r"`([^`]+)`", row[0])}
    assert listed - set(REASONS) == set(), "in docs/protocol.md's table, not in zkclear/verifier/reasons.py"
    assert set(REASONS) - listed == set(), "in zkclear/verifier/reasons.py, not in docs/protocol.md's table"


_RAISERS = ("VerificationError", "_fail", "failure")  # failure: zkclear.chains.reasons, an attestation's error


def _reason_of(node: ast.expr) -> str | None:
    """The reason code ``node`` spells: a string literal, or ``Reason.NAME`` (zkclear.chains.reasons)."""
    from zkclear.chains.reasons import Reason

    if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEBAB.fullmatch(node.value):
        return node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Reason":
        return Reason[node.attr].value
    return None


def _raised_reasons() -> set[str]:
    """Every reason code zkclear/ raises: the first argument of ``VerificationError(...)``, ``_fail(...)`` or
    ``failure(...)``; a ``reason = ...`` chosen between literals; the reason of a ``(reason, index, statement)``
    triple batch-verified by ``verify_named``, or of a ``(reason, what, expected, found)`` attestation check."""
    raised = set()
    for path in (ROOT / "zkclear").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in _RAISERS and node.args:
                candidates = [node.args[0]]
            elif isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["reason"]:
                value = node.value
                candidates = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
            elif isinstance(node, ast.Tuple) and len(node.elts) in (3, 4) and not isinstance(node.ctx, ast.Store):
                first = node.elts[0]
                named = len(node.elts) == 3 and isinstance(node.elts[2], ast.Call)
                candidates = [first] if named or isinstance(first, ast.Attribute) else []
            else:
                continue
            raised |= {reason for reason in map(_reason_of, candidates) if reason is not None}
    return raised


def test_every_documented_reason_is_raised_and_every_raised_one_documented():
    raised = _raised_reasons()
    assert set(REASONS) - raised == set(), "documented in zkclear/verifier/reasons.py, raised nowhere in zkclear/"
    assert raised - set(REASONS) == set(), "raised in zkclear/, not in zkclear/verifier/reasons.py"


def test_every_reason_the_threat_model_names_exists():
    rows = _table_rows(_section(ROOT / "docs" / "protocol.md", "Threat model"))
    named = {token for row in rows if len(row) == 3 for token in re.findall(r"`([^`]+)`", row[1])
             if KEBAB.fullmatch(token)}
    assert named, "the threat model's table names no reason code"
    assert named - set(REASONS) == set()


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


def _readme_cli_rows() -> dict[tuple[str, ...], str]:
    """README's CLI table: the command path each row documents -> the row's text."""
    rows = {}
    for cells in _table_rows(_section(ROOT / "README.md", "CLI"))[1:]:
        usage = re.match(r"`zkclear ([^`]*)`", cells[0])
        assert usage, cells[0]
        words = usage.group(1).split()
        path = tuple(_command_words(words))
        rest = words[len(path):]
        if rest and rest[0].startswith("{"):  # a group's subcommands listed as {a,b,c} (or a suite argument)
            subcommands = rest[0].strip("{}").split(",")
            command = cli.get_command(click.Context(cli), path[0]) if len(path) == 1 else None
            if isinstance(command, click.Group):
                for name in subcommands:
                    rows[(*path, name)] = " | ".join(cells)
                continue
        rows[path] = " | ".join(cells)
    return rows


def _command_words(words: list[str]) -> list[str]:
    """The leading command words of a usage line (lower-case names, before arguments and options)."""
    taken = []
    for word in words:
        if not re.fullmatch(r"[a-z]+", word):
            break
        taken.append(word)
    return taken


def test_the_readme_cli_table_has_every_command_and_every_option():
    rows = _readme_cli_rows()
    commands = _commands(cli)
    assert {path for path, _ in commands} == set(rows), "README's CLI table and zkclear/cli.py list other commands"
    for path, command in commands:
        if path[0] == "keys":  # one row for the test-key tools; their options are in `zkclear keys ... --help`
            continue
        for param in command.params:
            if not isinstance(param, click.Option) or param.name == "help":
                continue
            assert any(re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", rows[path]) for opt in param.opts), (
                f"README's row for zkclear {' '.join(path)} does not name {'/'.join(param.opts)}")


def test_epoch_run_help_names_every_input_file():
    from click.testing import CliRunner

    from zkclear.clearing.io import EPOCH_FILES

    shown = " ".join(CliRunner().invoke(cli, ["epoch", "run", "--help"], terminal_width=1000).output.split())
    assert [name for name in EPOCH_FILES if name not in shown] == []


@pytest.mark.parametrize("name", ["protocol.md", "format.md", "performance.md"])
def test_a_documents_contents_list_every_section(name):
    text = (ROOT / "docs" / name).read_text(encoding="utf-8")
    contents = text[text.index("Contents:"):text.index("\n## ")]
    listed = [line.removeprefix("- ") for line in contents.splitlines() if line.startswith("- ")]
    assert listed == re.findall(r"^## (.+)$", text, flags=re.MULTILINE)


def _csv_examples(path: Path) -> dict[str, list[str]]:
    """The first line of every code block that directly follows a heading naming a CSV file in ``path``
    (``#### `fills.csv```, ``### `reserves.csv` v2``): file name -> the headers its examples show."""
    found: dict[str, list[str]] = {}
    pattern = r"^#{3,4} `([a-z_]+\.csv)`[^\n]*\n+```[a-z]*\n([^\n]*)\n"
    for name, first in re.findall(pattern, path.read_text(encoding="utf-8"), flags=re.MULTILINE):
        found.setdefault(name, []).append(first)
    return found


def test_every_csv_header_docs_format_shows_is_the_one_the_code_reads():
    from zkclear.chains.reserves import HEADER as RESERVES_HEADER
    from zkclear.clearing import io

    headers = {"fills.csv": io.FILLS_HEADER, "prices.csv": io.PRICES_HEADER, "transfers.csv": io.TRANSFERS_HEADER,
               "accounts.csv": io.ACCOUNTS_HEADER, "margins.csv": io.MARGINS_HEADER, "vols.csv": io.VOLS_HEADER,
               "oracle.csv": io.ORACLE_HEADER, "funding.csv": io.FUNDING_HEADER,
               "operator_actions.csv": io.OPERATOR_ACTIONS_HEADER, "reserves.csv": RESERVES_HEADER}
    shown = _csv_examples(ROOT / "docs" / "format.md")
    epoch_csvs = {name for name in io.EPOCH_FILES if name.endswith(".csv")}
    assert epoch_csvs - set(shown) == set(), "an epoch input file without its header in docs/format.md"
    assert set(shown) - set(headers) == set(), "docs/format.md shows the header of a file this test does not know"
    for name, firsts in shown.items():
        assert firsts == [",".join(headers[name])] * len(firsts), name


def _documented_invocations(text: str) -> list[str]:
    """Every ``zkclear ...`` the text shows: inline code (`zkclear verify --participant FILE`), console lines
    (``$ zkclear epoch run ...``) and shell lines of the installed script (``.venv/bin/zkclear ...``)."""
    return (re.findall(r"`(zkclear [^`\n]+)`", text) + re.findall(r"^\$ (zkclear [^\n#]+)", text, flags=re.MULTILINE)
            + re.findall(r"^\.venv/bin/(zkclear [^\n#]+)", text, flags=re.MULTILINE))


def _check_invocation(invocation: str, where: str) -> None:
    """``invocation`` (``zkclear epoch run DIR --epoch N``) names a command of the CLI and only options it has."""
    words = invocation.split()[1:]
    command: click.Command = cli
    taken = 0
    while isinstance(command, click.Group) and taken < len(words) and words[taken] in command.commands:
        command = command.commands[words[taken]]
        taken += 1
    if not taken:  # `zkclear reserve attestation v2` is the attestation text's first line, not a command
        assert words[:2] == ["reserve", "attestation"], f"{where}: {invocation!r} names no command"
        return
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"-h", "--help"}
    given = re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", " ".join(words[taken:]))
    assert [opt for opt in given if opt not in options] == [], f"{where}: {invocation!r}"


@pytest.mark.parametrize("name", ["README.md", "docs/protocol.md", "docs/clearing.md", "docs/format.md",
                                  "docs/performance.md"])
def test_every_zkclear_invocation_the_documents_show_names_a_command_and_its_options(name):
    shown = _documented_invocations((ROOT / name).read_text(encoding="utf-8"))
    assert shown
    for invocation in shown:
        _check_invocation(invocation, name)


def test_every_help_example_names_a_command_and_its_options():
    groups = [cli, *(command for command in cli.commands.values() if isinstance(command, click.Group))]
    examples = [example for command in [*groups, *(command for _path, command in _commands(cli))]
                for line in re.findall(r"Example: (zkclear [^\n]+)", command.help or "")
                for example in line.split(" && ")]
    assert len(examples) >= len(_commands(cli))
    for example in examples:
        _check_invocation(example, "--help")


@pytest.mark.parametrize("name", ["README.md", "docs/protocol.md", "docs/clearing.md", "docs/format.md",
                                  "docs/performance.md"])
def test_every_test_the_documents_cite_exists(name):
    """A threat-model row's "caught by" cites tests (``tests/verifier/test_redteam_s11.py``, ``test_an_account_...``):
    each file is there and each test name is defined (a name ending in ``_`` stands for the tests it begins)."""
    text = (ROOT / name).read_text(encoding="utf-8")
    test_files = list((ROOT / "tests").rglob("*.py"))
    defined = {test for path in test_files
               for test in re.findall(r"^\s*(?:async )?def (test_\w+)", path.read_text(encoding="utf-8"), re.MULTILINE)}
    modules = {path.stem for path in test_files}
    cited_files = set(re.findall(r"\btests/[\w/.-]+\.py\b", text))
    assert [path for path in sorted(cited_files) if not (ROOT / path).is_file()] == []
    cited_tests = set(re.findall(r"\btest_\w+", text)) - modules
    assert [test for test in sorted(cited_tests) if not (test in defined or (test.endswith("_")
                                                          and any(d.startswith(test) for d in defined)))] == []
