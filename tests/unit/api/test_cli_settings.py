"""`forum-service` checks the settings before the server starts: a bad value is one line on
stderr naming the variable, its value and what is allowed, and exit code 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from forumdb.config import CONFIG_DIR_ENV
from forumdb_services.api import serve as cli
from forumdb_services.api.server import ServerOptions


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[ServerOptions]:
    """The server options of each start; nothing is served or bound."""
    runs: list[ServerOptions] = []
    monkeypatch.setenv(cli.MULTIPROC_ENV, "unset-after-the-test")
    monkeypatch.delenv(cli.MULTIPROC_ENV)
    monkeypatch.setattr(cli, "run_server", lambda service, options: runs.append(options))
    return runs


def _run(argv: list[str]) -> Any:
    return CliRunner().invoke(cli.main, argv)


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("STORAGE_MODE", "mongo", "'json' or 'dynamodb'"),
        ("PORT", "abc", "valid integer"),
        ("PORT", "0", "greater than or equal to 1"),
        ("MAX_REQUEST_BYTES", "12", "greater than or equal to 1024"),
        ("LOG_LEVEL", "loud", "debug, info, warning, error, critical"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    started: list, monkeypatch: pytest.MonkeyPatch, name: str, value: str, allowed: str
) -> None:
    monkeypatch.setenv(name, value)
    result = _run(["users", "--port", "8081"])
    assert result.exit_code == 2, result.output
    assert started == []
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert f"{name}={value!r}" in lines[0]
    assert "the environment" in lines[0]
    assert allowed in lines[0]
    assert "Traceback" not in result.output


def test_a_bad_setting_in_the_config_folder_names_its_file(
    started: list, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "STORAGE_MODE").write_text("cassandra")
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path))
    result = _run(["threads"])
    assert result.exit_code == 2
    assert f"STORAGE_MODE='cassandra' (from file {tmp_path / 'STORAGE_MODE'})" in result.output
    assert started == []


def test_port_and_log_level_come_from_the_settings(
    started: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", "9092")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    assert _run(["users"]).exit_code == 0
    assert (started[-1].host, started[-1].port) == ("0.0.0.0", 9092)
    assert started[-1].log_level == "warning"
    # The command line wins over the settings.
    assert _run(["users", "--port", "7001", "--log-level", "debug"]).exit_code == 0
    assert started[-1].port == 7001
    assert started[-1].log_level == "debug"
