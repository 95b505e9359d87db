"""`forum-service`: arguments to gunicorn settings, and the metrics folder it prepares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from forumdb_services.api import serve as cli


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Runs of ServiceApplication, recorded instead of serving."""
    runs: list[tuple[str, dict[str, Any]]] = []
    # forum-service sets PROMETHEUS_MULTIPROC_DIR in os.environ: have monkeypatch restore it.
    monkeypatch.setenv(cli.MULTIPROC_ENV, "unset-after-the-test")
    monkeypatch.delenv(cli.MULTIPROC_ENV)

    def fake_run(self: cli.ServiceApplication) -> None:
        runs.append((self.service, dict(self.options)))

    monkeypatch.setattr(cli.ServiceApplication, "run", fake_run)
    monkeypatch.setattr(cli.ServiceApplication, "__init__", _init_without_gunicorn)
    return runs


def _init_without_gunicorn(self: cli.ServiceApplication, service: str, options: dict) -> None:
    self.service, self.options = service, options


def test_defaults(captured: list, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORT", "WEB_CONCURRENCY", "LOG_LEVEL", cli.MULTIPROC_ENV):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli.main, ["users"])
    assert result.exit_code == 0, result.output
    ((service, options),) = captured
    assert service == "users"
    assert options["bind"] == "0.0.0.0:8080"
    assert options["workers"] == 2
    assert options["worker_class"] == "sync"
    assert options["accesslog"] is None


def test_options_and_port_from_env(captured: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9091")
    result = CliRunner().invoke(
        cli.main, ["posts", "--host", "127.0.0.1", "--workers", "3", "--threads", "4"]
    )
    assert result.exit_code == 0, result.output
    ((service, options),) = captured
    assert service == "posts"
    assert options["bind"] == "127.0.0.1:9091"
    assert options["workers"] == 3
    assert options["worker_class"] == "gthread"
    assert options["threads"] == 4
    result = CliRunner().invoke(cli.main, ["threads", "--port", "7000", "--host", "::1"])
    assert captured[-1][1]["bind"] == "[::1]:7000"


@pytest.mark.parametrize(
    "argv",
    [
        ["comments"],
        ["users", "--port", "0"],
        ["users", "--port", "70000"],
        ["users", "--workers", "0"],
        [],
    ],
)
def test_bad_arguments(captured: list, argv: list[str]) -> None:
    result = CliRunner().invoke(cli.main, argv)
    assert result.exit_code == 2
    assert captured == []


def test_metrics_folder_is_made_and_removed(
    captured: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cli.MULTIPROC_ENV, raising=False)
    seen: list[Path] = []

    def fake_run(self: cli.ServiceApplication) -> None:
        folder = Path(cli.os.environ[cli.MULTIPROC_ENV])
        assert folder.is_dir()
        seen.append(folder)

    monkeypatch.setattr(cli.ServiceApplication, "run", fake_run)
    assert CliRunner().invoke(cli.main, ["users"]).exit_code == 0
    assert not seen[0].exists()


def test_given_metrics_folder_is_emptied_of_old_samples(
    captured: list, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "counter_123.db").write_bytes(b"stale")
    (tmp_path / "keep.txt").write_text("not ours")
    monkeypatch.setenv(cli.MULTIPROC_ENV, str(tmp_path))
    assert CliRunner().invoke(cli.main, ["users"]).exit_code == 0
    assert not (tmp_path / "counter_123.db").exists()
    assert (tmp_path / "keep.txt").exists()
    assert tmp_path.is_dir()
