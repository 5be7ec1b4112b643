"""With --json, a command that ends in an error still prints one JSON object on stdout (a program reading it must not
have to parse the human line on stderr), and the same line on stderr; without --json stdout stays empty."""

from __future__ import annotations

import json

from tests.cli.cli_helpers import zkclear_streams as _run


def _json_error(stdout: str) -> dict:
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    document = json.loads(lines[0])
    assert document["ok"] is False
    return document


def test_status_of_a_missing_deployment_is_a_json_input_error(tmp_path):
    code, out, err = _run("status", "-d", tmp_path / "nowhere", "--json")
    assert code == 1
    document = _json_error(out)
    assert document["error"] == "input" and "nowhere" in document["detail"]
    assert err.count("\n") == 1 and err.startswith("error: ")


def test_verify_of_a_folder_without_an_epoch_is_json(tmp_path):
    code, out, err = _run("verify", tmp_path, "--receipt", tmp_path / "no-such.rcpt", "--account", "someone", "--json")
    assert code == 1
    document = _json_error(out)
    assert document["error"] == "input" and "epoch-N.bundle" in document["detail"]
    assert err.count("\n") == 1


def test_audit_of_a_folder_that_is_not_an_epoch_is_json(tmp_path):
    code, out, _ = _run("audit", tmp_path, "--json")
    assert code == 1
    assert _json_error(out)["error"] == "input"


def test_without_json_an_error_leaves_stdout_empty(tmp_path):
    code, out, err = _run("status", "-d", tmp_path / "nowhere")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1


def test_a_json_error_does_not_leak_into_the_next_command(tmp_path):
    _run("status", "-d", tmp_path / "nowhere", "--json")
    code, out, _ = _run("status", "-d", tmp_path / "nowhere")
    assert code == 1 and out == ""


def test_a_usage_error_found_before_json_is_read_is_json_too(tmp_path):
    for args in (("audit", tmp_path, "--json", "--bogus"), ("status", "--json", "-d")):
        code, out, err = _run(*args)
        assert code == 1
        assert _json_error(out)["error"] == "usage"
        assert err.startswith("error: ") and err.count("\n") == 1
