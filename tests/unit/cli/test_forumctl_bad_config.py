"""Bad configuration never ends in a traceback: every command exits 3 with a message naming
the variable or option, its bad value and what is allowed (and, with -o json, one JSON error
document on stdout). Paths that cannot work are refused before any AWS call."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_DIR, forumctl

from forumctl.errors import ConfigError, ExitCode, path_error
from forumctl.main import translate

BAD_SETTINGS = [
    ("STORAGE_MODE", "mongo", "one of json, dynamodb"),
    ("USE_DYNAMODB", "maybe", "true or false"),
    ("PORT", "abc", "a whole number from 1 to 65535"),
    ("MAX_REQUEST_BYTES", "10", "a whole number of at least 1024"),
]


COMMANDS: dict[str, list[str]] = {
    "tables-create": ["tables", "create"],
    "tables-list": ["tables", "list"],
    "tables-delete": ["tables", "delete", "--yes"],
    "migrate": ["migrate", "--from", str(SAMPLE_DIR)],
    "seed": ["seed", "--users", "2", "--threads", "2", "--posts", "2"],
    "backup": ["backup", "--out", "{tmp}/out.jsonl"],
    "restore": ["restore", "--from", "{backup}"],
    "verify": ["verify"],
    "restore-drill": ["restore-drill", "--dry-run"],
}


@pytest.fixture(params=list(COMMANDS))
def command(request: pytest.FixtureRequest, moto: Any, tmp_path: Path) -> list[str]:
    """Each command's arguments; restore's backup file is made while the configuration is
    still good (restore reads the file first)."""
    backup = tmp_path / "valid.jsonl"
    if request.param == "restore":
        forumctl("tables", "create", "--no-pitr", "--no-wait")
        forumctl("backup", "--out", str(backup))
    return [a.format(tmp=tmp_path, backup=backup) for a in COMMANDS[request.param]]


def _bad_setting_is_explained(args: list[str], name: str, value: str, allowed: str) -> None:
    run = forumctl(*args, expect=ExitCode.AWS)
    assert "Traceback" not in run.stderr
    assert f"{name}={value!r}" in run.stderr
    assert allowed in run.stderr
    assert f"set {name} to" in run.stderr  # says what to do
    doc = forumctl(*args, "-o", "json", expect=ExitCode.AWS).json
    assert doc["exitCode"] == ExitCode.AWS
    assert f"{name}={value!r}" in doc["error"]
    assert allowed in doc["hint"]


def test_every_command_explains_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("STORAGE_MODE", "mongo")
    _bad_setting_is_explained(command, "STORAGE_MODE", "mongo", "one of json, dynamodb")


@pytest.mark.parametrize(
    ("name", "value", "allowed"), BAD_SETTINGS, ids=[b[0] for b in BAD_SETTINGS]
)
def test_each_bad_setting_is_named_with_what_is_allowed(
    monkeypatch: pytest.MonkeyPatch, moto: Any, name: str, value: str, allowed: str
) -> None:
    monkeypatch.setenv(name, value)
    _bad_setting_is_explained(["tables", "list"], name, value, allowed)


def test_every_bad_setting_is_named_at_once(monkeypatch: pytest.MonkeyPatch, moto: Any) -> None:
    monkeypatch.setenv("STORAGE_MODE", "mongo")
    monkeypatch.setenv("PORT", "abc")
    err = forumctl("tables", "list", "-o", "json", expect=ExitCode.AWS).json["error"]
    assert "STORAGE_MODE='mongo'" in err
    assert "PORT='abc'" in err


def test_a_bad_setting_from_the_config_folder_names_its_file(
    monkeypatch: pytest.MonkeyPatch, moto: Any, tmp_path: Path
) -> None:
    (tmp_path / "STORAGE_MODE").write_text("mongo")
    monkeypatch.setenv("FORUMDB_CONFIG_DIR", str(tmp_path))
    run = forumctl("tables", "list", expect=ExitCode.AWS)
    assert str(tmp_path / "STORAGE_MODE") in run.stderr
    assert "one of json, dynamodb" in run.stderr


def test_a_bad_endpoint_option_is_exit_3_naming_it(moto: Any) -> None:
    args = ["migrate", "--from", str(SAMPLE_DIR), "--endpoint-url", "notaurl"]
    run = forumctl(*args, expect=ExitCode.AWS)
    assert "--endpoint-url='notaurl' is not an endpoint URL" in run.stderr
    assert "http://" in run.stderr
    doc = forumctl(*args, "-o", "json", expect=ExitCode.AWS).json
    assert "--endpoint-url='notaurl'" in doc["error"]
    assert doc["exitCode"] == ExitCode.AWS


def test_a_bad_endpoint_variable_is_exit_3_naming_it(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "notaurl")
    doc = forumctl(*command, "-o", "json", expect=ExitCode.AWS).json
    assert "AWS_ENDPOINT_URL='notaurl' is not an endpoint URL" in doc["error"]


def test_botocores_own_endpoint_refusal_is_translated_too() -> None:
    err = translate(ValueError("Invalid endpoint: notaurl"), "us-east-1")
    assert isinstance(err, ConfigError)
    assert err.code == ExitCode.AWS
    assert "'notaurl'" in err.message
    assert "AWS_ENDPOINT_URL" in err.message


def test_other_value_errors_are_not_swallowed() -> None:
    assert translate(ValueError("something else"), None) is None


def test_backup_into_a_missing_folder_fails_before_any_aws_call(moto: Any, tmp_path: Path) -> None:
    # No tables exist: had forumctl asked AWS first, it would complain about them instead.
    out = tmp_path / "missing" / "x.jsonl"
    run = forumctl("backup", "--out", str(out), expect=ExitCode.AWS)
    assert f"--out {out}" in run.stderr
    assert "does not exist" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "missing").exists()
    doc = forumctl("backup", "--out", str(out), "-o", "json", expect=ExitCode.AWS).json
    assert str(out) in doc["error"]
    assert doc["exitCode"] == ExitCode.AWS


def test_backup_under_a_file_says_it_is_not_a_folder(moto: Any, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "x.jsonl"
    run = forumctl("backup", "--out", str(out), "--dry-run", expect=ExitCode.AWS)
    assert "is not a folder" in run.stderr


@pytest.mark.parametrize("how", ["option", "variable"])
def test_seed_into_a_data_dir_under_a_file_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str
) -> None:
    (tmp_path / "file").write_text("")
    data_dir = tmp_path / "file" / "sub"
    args = ["seed", "--storage-mode", "json", "--users", "1", "--threads", "1", "--posts", "1"]
    if how == "option":
        args += ["--data-dir", str(data_dir)]
    else:
        monkeypatch.setenv("DATA_DIR", str(data_dir))
    run = forumctl(*args, expect=ExitCode.AWS)
    assert "Traceback" not in run.stderr
    assert str(data_dir) in run.stderr
    assert "--data-dir / DATA_DIR" in run.stderr
    doc = json.loads(forumctl(*args, "-o", "json", expect=ExitCode.AWS).stdout)
    assert "--data-dir / DATA_DIR" in doc["error"]
    assert doc["exitCode"] == ExitCode.AWS


@pytest.mark.parametrize(
    ("code", "says"),
    [
        (errno.ENOENT, "create the missing folder"),
        (errno.ENOTDIR, "is a file, not a folder"),
        (errno.EACCES, "permissions"),
    ],
)
def test_path_errors_say_what_to_do(code: int, says: str) -> None:
    err = path_error(OSError(code, "why", "/some/path"), "--out")
    assert err.code == ExitCode.AWS
    assert "/some/path (from --out): why" in err.message
    assert says in (err.hint or "")


def test_a_usage_error_found_by_the_command_is_a_json_document_too(moto: Any) -> None:
    run = forumctl("tables", "create", "--read-capacity", "5", "-o", "json", expect=2)
    assert run.json["exitCode"] == ExitCode.USAGE
    assert "--billing-mode PROVISIONED" in run.json["error"]
    assert "--billing-mode PROVISIONED" in run.stderr  # click's own text stays
