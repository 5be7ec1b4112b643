"""The README and docs/format.md against the code (docs-truth review, session 16).

Pinned here, beside tests/test_docs_match_code.py (which checks that every option of a command is in its README row):

- every option a row of the README's CLI table names, in any of its cells, is an option of that row's command;
- the defaults the README states (audit's volatility tolerance, the fills read at a time, the demo's folder, the
  tree height, the page's port, the progress interval) are the code's;
- every reason code the README names is one the verifiers report;
- the publication folder and the private folder of a proven epoch hold exactly the files docs/format.md's table lists
  (those it marks as conditional aside), and the README's list of published files is format.md's (the insurance
  fund's receipt, published since this session, was missing from the README's);
- ``zkclear --help`` listed `epoch attest` under the operator, `show` under the auditor and `bench` under everyone;
  the README's table (the custodian, anyone, the operator) is now what it lists;
- `init --help` called its default configuration "the demo market's": it is the market generator's default (no
  collateral assets, no published fund);
- the Layout named neither `bench/` nor five modules of `zkclear/`;
- with --json, a failed check is one JSON object on stdout in place of its FAILED line (the README said "as well").
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from tests.cli.cli_helpers import zkclear_streams
from tests.test_docs_match_code import _readme_cli_rows, _section, _table_rows
from zkclear.cli import cli
from zkclear.verifier.published import EpochFiles
from zkclear.verifier.reasons import REASONS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for word in path:
        assert isinstance(command, click.Group), path
        command = command.commands[word]
    return command


def _options(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def test_every_option_a_readme_cli_row_names_is_one_its_command_has():
    for path, row in _readme_cli_rows().items():
        # another command's invocation in the row (`zkclear show --attestation-text A`) is checked against that one
        own = re.sub(rf"`zkclear (?!{re.escape(' '.join(path))}\b)[^`]*`", "", row)
        named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", own))
        assert named - _options(_command(path)) == set(), f"README's row for zkclear {' '.join(path)}"


def _default(path: tuple[str, ...], name: str) -> object:
    return next(param.default for param in _command(path).params if param.name == name)


def test_the_defaults_the_readme_states_are_the_codes():
    from zkclear.clearing.inputs import DEFAULT_BATCH_FILLS
    from zkclear.progress import DEFAULT_INTERVAL

    assert f"(`--vols`, default within {_default(('audit',), 'vol_tolerance_bps')} bps)" in README
    assert f"(`--batch-fills`, default {DEFAULT_BATCH_FILLS:,})" in README
    help_text = " ".join(next(param.help for param in _command(("epoch", "run")).params
                              if param.name == "batch_fills").split())
    assert f"(default {DEFAULT_BATCH_FILLS}," in help_text
    assert f"written to `{_default(('demo',), 'out_dir')}/` unless `--out` says" in README
    assert f"tree height {_default(('init',), 'height')}, chunks of 16" in README  # init's default, as shown
    assert f"http://127.0.0.1:{_default(('serve',), 'port')}/" in README
    assert f"`ZKCLEAR_PROGRESS_SECONDS` (default {DEFAULT_INTERVAL:g};" in README


def test_the_figures_the_readme_states_are_the_codes():
    from provers.collateral import MAX_PROOF_BITS
    from zkclear.bundle.format import FORMAT_VERSION
    from zkclear.clearing.provable import MAX_LISTED_INSTRUMENTS
    from zkclear.executor import DASK_NO_WORKER_SECONDS, POOL_REBUILDS
    from zkclear.proofs.streaming import StreamSettings
    from zkclear.tree.node_groups import MAX_BAND_LEVELS

    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
    text = " ".join(README.split())
    assert f"containers of format version {FORMAT_VERSION}," in text
    assert f"Listings are bounded at {MAX_LISTED_INSTRUMENTS} instruments" in text
    assert f"in parts of at most 2^{MAX_PROOF_BITS.bit_length() - 1} bits" in text
    assert f"per band of up to {words[MAX_BAND_LEVELS]} levels" in text
    assert f"up to {words[StreamSettings().chunks_per_task]} chunks per task" in text
    assert f"for {DASK_NO_WORKER_SECONDS:g} s while tasks wait" in text
    assert f"killed {words[POOL_REBUILDS + 1]} times in a row" in text


def test_every_reason_code_the_readme_names_is_one_the_verifiers_report():
    named = set(re.findall(r"`([a-z]+(?:-[a-z0-9]+)+)`", README)) | set(re.findall(r"\[([a-z]+(?:-[a-z0-9]+)+)\]",
                                                                                   README))
    assert named, "the README names no reason code"
    assert named - set(REASONS) == set()


def _deployment_files(prefix: str) -> dict[str, str]:
    """docs/format.md's deployment table: every path under ``prefix`` -> its "written by" cell."""
    rows = _table_rows(_section(ROOT / "docs" / "format.md",
                                "Deployment, proving settings, reserves, keys, public data"))
    return {path: cells[1] for cells in rows for path in re.findall(r"^`([^`]+)`$", cells[0])
            if path.startswith(prefix) and path != prefix}


def _conditional(written_by: str) -> bool:
    """A row whose file is written only under a setting (``when``/``with`` ...) or only while a command runs."""
    return bool(re.search(r"\b(when|with|while)\b", written_by))


def test_a_proven_epochs_folders_hold_exactly_the_files_docs_format_lists(proven):
    deployment = proven["deployment"]
    public = _deployment_files("epochs/N/")
    private = _deployment_files("private/N/")
    assert public and private
    for number in (1, 2):
        names = {path.name for path in deployment.epoch_dir(number).iterdir()}
        listed = {path.removeprefix("epochs/N/").replace("epoch-N.", f"epoch-{number}.")
                  for path, by in public.items() if not _conditional(by)}
        assert names == listed, number
        entries = {path.name for path in deployment.private_dir(number).iterdir()}
        listed = {path.removeprefix("private/N/").split("/")[0].replace("epoch-N.", f"epoch-{number}.")
                  for path, by in private.items() if not _conditional(by)}
        assert entries == listed, number
    # the conditional public file: the insurance fund's receipt, under the name the code writes
    fund = [path for path, by in public.items() if _conditional(by)]
    assert fund == [f"epochs/N/{EpochFiles(Path('.'), 0).insurance_fund.name.replace('epoch-0.', 'epoch-N.')}"]
    assert "publish_insurance_fund = true" in public[fund[0]]


def test_the_readmes_list_of_published_files_is_docs_formats():
    sentence = re.search(r"Each proven epoch\s+publishes (.+?); each participant", README, flags=re.DOTALL)
    assert sentence, "README, \"Input formats\": the sentence listing the published files"
    shown = re.findall(r"`(epoch-N\.[a-z.-]+)`", sentence.group(1))
    assert sorted(shown) == sorted(path.removeprefix("epochs/N/") for path in _deployment_files("epochs/N/"))


def test_a_failed_check_with_json_is_one_object_on_stdout_in_place_of_its_failed_line(proven):
    """README, "Exit status": with --json an error is one JSON object on stdout beside its line on stderr, and a
    failed check is one in place of its FAILED line."""
    deployment = proven["deployment"]
    index = json.loads((deployment.private_dir(1) / "receipts.index").read_text(encoding="utf-8"))
    owner, other = sorted(account for account in index if not account.startswith("CH:"))[:2]
    args = ["verify", deployment.epoch_dir(1), "--receipt", deployment.receipt_path(1, owner), "--account", other]
    code, out, err = zkclear_streams(*args)
    assert (code, out) == (2, "") and err.startswith("FAILED [receipt-owner]: ") and err.count("\n") == 1, err
    code, out, err = zkclear_streams(*args, "--json")
    assert (code, err) == (2, "")
    assert json.loads(out)["reason"] == "receipt-owner" and out.count("\n") == 1
    code, out, err = zkclear_streams("verify", deployment.epoch_dir(1), "--receipt", deployment.epoch_dir(1) / "none",
                                     "--account", other, "--json")
    assert code == 1 and err.startswith("error: ") and json.loads(out)["error"] == "input"


def test_the_roles_zkclear_help_lists_are_the_readme_tables():
    """``zkclear --help`` lists the commands by role; the README's CLI table says who runs each (they differed on
    `epoch attest`, `show` and `bench`)."""
    readme_word = {"Operator": "operator", "Custodian": "custodian", "Participant": "participant",
                   "Auditor": "auditor", "Everyone": "anyone"}
    rows = _readme_cli_rows()
    code, out, err = zkclear_streams("--help")
    assert (code, err) == (0, "")
    listed = re.findall(r"^\s+(Operator|Custodian|Participant|Auditor|Everyone):\s+(.+)$", out, flags=re.MULTILINE)
    assert [role for role, _ in listed] == list(readme_word)
    seen = set()
    for role, line in listed:
        for words in re.findall(r"zkclear ([a-z ]+?)(?=,| \(|$)", line):
            paths = [path for path in rows if path[:len(words.split())] == tuple(words.split())]
            assert paths, words
            for path in paths:
                who = rows[path].split(" | ")[1]
                assert readme_word[role] in who, (path, role, who)
                seen.add(path)
    assert seen == set(rows), "a command zkclear --help lists under no role"


def test_the_layout_names_every_module_and_package_of_zkclear():
    layout = _section(ROOT / "README.md", "Layout")
    entries = sorted(path.name + ("/" if path.is_dir() else "") for path in (ROOT / "zkclear").iterdir()
                     if path.name != "__init__.py" and not path.name.startswith((".", "__"))
                     and (path.suffix == ".py" or (path / "__init__.py").exists()))
    assert entries and [entry for entry in entries if not re.search(rf"(?<![\w/]){re.escape(entry)}", layout)] == []


def test_every_repository_path_the_readme_names_exists():
    named = set(re.findall(r"`((?:zkclear|tests|docs|examples|provers|circuits|\.ci)/[^`\s]*)`", README))
    named |= set(re.findall(r"\]\((docs/[^)#]+)\)", README))
    assert len(named) > 5
    assert sorted(path for path in named if not (ROOT / path.rstrip("/")).exists()) == []


def test_every_section_the_readme_cites_is_a_heading_of_its_document():
    cited = re.findall(r"(docs/[a-z]+\.md)\)?(?:\]\(docs/[a-z]+\.md\))?,? \(?\"([^\"]+)\"", README)
    assert len(cited) > 3
    for document, title in cited:
        headings = re.findall(r"^#+ (.+)$", (ROOT / document).read_text(encoding="utf-8"), flags=re.MULTILINE)
        assert any(heading == title or heading.startswith(f"{title} (") for heading in headings), (document, title)


def test_every_environment_variable_the_readme_names_is_one_the_code_reads():
    named = set(re.findall(r"\bZKCLEAR_[A-Z_]+\b", README))
    code = " ".join(path.read_text(encoding="utf-8") for path in (ROOT / "zkclear").rglob("*.py"))
    assert named and sorted(name for name in named if f'"{name}"' not in code) == []


def test_init_without_a_configuration_takes_the_market_generators_default_not_the_demos(tmp_path):
    """``init --help`` said the default configuration was "the demo market's"; the demo's settles in USDC with BTC
    and ETH collateral and publishes its insurance fund, the default has neither."""
    from zkclear.demo import market_spec
    from zkclear.synthetic import MarketSpec, config_toml

    code, _out, err = zkclear_streams("init", tmp_path / "venue", "--height", 8)
    assert (code, err) == (0, "")
    written = (tmp_path / "venue" / "zkclear.toml").read_text(encoding="utf-8")
    assert written == config_toml(MarketSpec(epochs=4, collateral=False))  # market_generator.py's defaults
    demo = config_toml(market_spec(26, 2))
    assert "[[asset]]" in demo and "publish_insurance_fund = true" in demo
    assert "[[asset]]" not in written and "publish_insurance_fund" not in written
    assert "with its default options (settled in USDC alone; not the demo's)" in " ".join(
        next(param.help for param in _command(("init",)).params if param.name == "config_path").split())


def test_the_readme_lists_exactly_the_bench_suites():
    suites = next(param for param in _command(("bench",)).params if isinstance(param, click.Argument))
    listed = re.search(r"`zkclear bench \{([a-z,]+)\}", README)
    assert listed and listed.group(1).split(",") == list(suites.type.choices)
