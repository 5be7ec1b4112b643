"""The README followed literally, and the CLI given bad input (docs-truth review, session 14).

Findings pinned here:

- ``zkclear``, ``zkclear epoch`` and ``zkclear keys`` with no subcommand printed their whole help as one escaped
  ``error:`` line and exited 1 (click 8.2 raises its "no arguments is help" as a usage error): they print their
  help, as ``--help`` does, and exit 0.
- ``init``: a tree height or chunk size out of range, or a combination of them that cannot be, was refused without
  naming the option (``tree height must be in [2, 64]``, ``chunk_bits must be in [1, height)``); ``proving.toml``
  likewise named neither key nor line. ``init ""`` (an unset variable) made the current directory a deployment.
- ``epoch run --batch-fills`` above its documented most (16777216) was refused without naming the option.
- ``show --chain``/``--asset`` without ``--attestation-text`` were ignored without a word (they filter nothing);
  ``--workers`` with ``--scheduler`` (``epoch prove``, ``audit``) or with the serial executor likewise.
- ``audit --marks``: an instrument the epoch does not list was refused naming neither the file nor its line, and
  only after the whole audit (of every earlier epoch given too, each printed OK first); a file that prices nothing
  of the second epoch given was likewise refused after the first was printed OK.
- A byte that is not UTF-8 in the marks file, a participant file or reserves.csv was reported with Python's codec
  message (or a 0-based byte) and no line: it is named by its line, as in every other input file.
- ``keys sign`` of a text saved with Windows line ends said "expected 14 lines" of a 14-line text.
- ``zkclear bench`` without a suite printed click's list of choices as escaped ``\\n\\t`` sequences.
- A typo in ``ZKCLEAR_EXECUTOR`` (the audit's executor, now in the README) was "unknown executor 'x'", naming no
  variable.
"""

from __future__ import annotations

import pytest

from tests.cli.cli_helpers import zkclear_streams
from zkclear.cli import MAX_BATCH_FILLS, cli


@pytest.mark.parametrize("words", [(), ("epoch",), ("keys",)])
def test_a_group_without_a_subcommand_prints_its_help(words):
    code, out, err = zkclear_streams(*words)
    assert (code, err) == (0, "")
    assert out.startswith("Usage: ") and "Example: zkclear" in out and "Commands:" in out
    helped = zkclear_streams(*words, "--help")
    assert helped == (0, out, "")


def _refused(*args: object) -> str:
    code, out, err = zkclear_streams(*args)
    assert code == 1 and out == "", (code, out, err)
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


@pytest.mark.parametrize(("options", "named"), [
    (["--height", "65"], "'--height'"),
    (["--chunk-bits", "9"], "'--chunk-bits'"),
    (["--height", "3"], "field '--height': must be above 4"),  # the default chunks of 16 need height 5
    (["--height", "4", "--chunk-bits", "4"], "field '--chunk-bits': must be below --height 4"),
    (["--height", "8", "--chunk-padding", "capacity", "--chunk-padding-param", "17"],
     "field '--chunk-padding-param'"),
])
def test_init_names_the_option_of_a_tree_that_cannot_be(tmp_path, options, named):
    target = tmp_path / "venue"
    assert named in _refused("init", target, *options)
    assert not target.exists()


def test_batch_fills_above_its_most_is_refused_by_option(tmp_path):
    from zkclear.clearing.inputs import MAX_BATCH_FILLS as ENGINE_MOST

    assert MAX_BATCH_FILLS == ENGINE_MOST
    assert str(MAX_BATCH_FILLS) in " ".join(zkclear_streams("epoch", "run", "--help")[1].split())
    err = _refused("epoch", "run", tmp_path, "-d", tmp_path / "nowhere", "--batch-fills", MAX_BATCH_FILLS + 1)
    assert "'--batch-fills'" in err and f"above the maximum {MAX_BATCH_FILLS}" in err


@pytest.mark.parametrize("option", ["--chain", "--asset"])
def test_show_refuses_a_filter_without_attestation_text(tmp_path, option):
    assert f"field '{option}'" in _refused("show", tmp_path, option, "ethereum")


def test_a_participant_file_that_is_not_utf8_is_named_by_line(tmp_path):
    participant = tmp_path / "me.toml"
    participant.write_bytes(b'account = "alice"\naccount_key = "\xff"\n')
    err = _refused("verify", tmp_path, "--receipt", tmp_path / "r.rcpt", "--participant", participant)
    assert err == f"error: {participant}:2: not UTF-8 (byte 34 of the file is 0xff)\n"


def test_a_reserves_file_that_is_not_utf8_is_named_by_line(tmp_path):
    deployment = tmp_path / "venue"
    zkclear_streams("init", deployment, "--height", 8, "--venue", "Docs Venue")
    reserves = tmp_path / "reserves.csv"
    reserves.write_bytes(b"chain,asset,address,balance,block_height,block_hash\nbitcoin,BTC,bc1\xe9,1,1,00\n")
    err = _refused("epoch", "prove", "-d", deployment, "--reserves", reserves)
    assert err == f"error: {reserves}:2: not UTF-8 (byte 68 of the file is 0xe9)\n"


def test_a_marks_file_that_is_not_utf8_is_named_by_line(tmp_path):
    marks = tmp_path / "marks.csv"
    marks.write_bytes(b"instrument,price\nBTC\xff,1\n")
    err = _refused("audit", tmp_path, "--marks", marks)
    assert err == f"error: {marks}:2: not UTF-8 (byte 21 of the file is 0xff)\n"


def test_the_marks_file_is_checked_against_every_epoch_before_any_is_audited(proven, tmp_path):
    epochs = [proven["dir"] / "epochs" / str(number) for number in (1, 2)]
    unlisted = tmp_path / "unlisted.csv"
    unlisted.write_text("epoch,instrument,price\n1,BTC-PERP,60000\n2,BTC-PERP,60000\n2,DOGE-PERP,7\n")
    code, out, err = zkclear_streams("audit", *epochs, "--marks", unlisted)
    assert (code, out) == (1, "")
    assert err == f"error: {unlisted}:4: field 'instrument': instrument 'DOGE-PERP' is not listed in epoch 2\n"
    partial = tmp_path / "partial.csv"
    partial.write_text("epoch,instrument,price\n1,BTC-PERP,60000\n")
    code, out, err = zkclear_streams("audit", *epochs, "--marks", partial)
    assert (code, out) == (1, "")
    assert err == f"error: {partial}: the marks file prices no instrument of epoch 2\n"


def test_every_command_help_has_an_example():
    """README, "CLI": every command has --help with an example."""
    import click

    def walk(group: click.Group, words: tuple[str, ...] = ()):
        for name, command in group.commands.items():
            yield (*words, name)
            if isinstance(command, click.Group):
                yield from walk(command, (*words, name))

    for words in [(), *walk(cli)]:
        code, out, err = zkclear_streams(*words, "--help")
        assert (code, err) == (0, "") and "Example: zkclear" in out, words


def test_an_unknown_executor_variable_is_named(tmp_path, monkeypatch):
    """`zkclear audit` takes its executor from ZKCLEAR_EXECUTOR (README, "Proving on a Dask cluster"); a typo there
    was refused as "unknown executor 'x'", which names no option the user gave."""
    from zkclear.errors import ConfigurationError
    from zkclear.executor import get_executor

    monkeypatch.setenv("ZKCLEAR_EXECUTOR", "proces")
    with pytest.raises(ConfigurationError, match=r"^ZKCLEAR_EXECUTOR='proces': unknown executor: expected one of "):
        get_executor()
    monkeypatch.setenv("ZKCLEAR_EXECUTOR", "serial")
    run = get_executor()
    try:
        assert run.workers == 1
    finally:
        run.close()


def test_workers_that_would_be_ignored_are_refused(tmp_path):
    """README: ``[--workers N | --scheduler tcp://HOST:PORT]``; with a scheduler the cluster's own workers ran the tasks
    and --workers was ignored without a word (and so, in epoch prove, with the serial executor)."""
    scheduler = ["--scheduler", "tcp://127.0.0.1:9"]  # never contacted: refused before
    for args in (["epoch", "prove", "-d", tmp_path, "--reserves", __file__, "--workers", 2, *scheduler],
                 ["audit", tmp_path, "--workers", 2, *scheduler]):
        err = _refused(*args)
        assert err.startswith("error: field '--workers': --workers sets local processes; with --scheduler"), err
    err = _refused("epoch", "prove", "-d", tmp_path, "--reserves", __file__, "--workers", 2, "--executor", "serial")
    assert err.startswith("error: field '--workers'") and "the serial executor" in err


def test_keys_sign_names_the_carriage_return_of_a_text_saved_with_windows_line_ends(tmp_path):
    """`keys sign --text-file` of the text `show --attestation-text` prints, saved by a Windows editor, was refused as
    "expected 14 lines starting with ...": it has 14 lines; their line ends are what is wrong."""
    from tests.cli.conftest import KEYS
    from zkclear.chains import write_key

    key = tmp_path / "custodian.key"
    write_key(key, KEYS[0])
    text = tmp_path / "attestation.txt"
    text.write_bytes(b"zkclear reserve attestation v2\r\nI control this address.\r\n")
    err = _refused("keys", "sign", key, "--text-file", text)
    assert err.startswith(f"error: {text}:1: this line holds a carriage return (a Windows line end?)"), err


def test_a_missing_choice_lists_the_choices_on_its_one_line():
    """`zkclear bench` without a suite: click lays the choices out on indented lines, which the one-line error
    printed as escaped ``\\n\\t`` sequences."""
    err = _refused("bench")
    assert "Choose from: group, rangeproof, clearing," in err and "\\n" not in err and "\\t" not in err, err


def test_a_tree_proving_toml_cannot_have_is_named_by_key_and_line(tmp_path):
    """docs/format.md: proving.toml's values are "refused with the key's line"; a tree shape out of range was refused
    naming neither (``proving.toml: chunk_bits must be in [1, height), got 9``)."""
    deployment = tmp_path / "venue"
    code, _out, err = zkclear_streams("init", deployment, "--height", 8)
    assert code == 0, err
    proving = deployment / "proving.toml"
    text = proving.read_text(encoding="utf-8")
    lines = text.splitlines()
    number = next(k for k, line in enumerate(lines, start=1) if line.startswith("chunk_bits = "))
    proving.write_text(text.replace("\nchunk_bits = 4", "\nchunk_bits = 9"), encoding="utf-8")
    err = _refused("status", "-d", deployment)
    assert err.startswith(f"error: {proving}:{number}: field 'tree.chunk_bits': chunk_bits must be in [1, height)"), err


def test_init_refuses_an_empty_directory_argument(tmp_path, monkeypatch):
    """``zkclear init "$DIR"`` with DIR unset made the current directory a deployment (Path("") is "."), beside
    whatever it held."""
    monkeypatch.chdir(tmp_path)
    err = _refused("init", "")
    assert "'DIRECTORY': is empty (an unset variable?)" in err
    assert list(tmp_path.iterdir()) == []
