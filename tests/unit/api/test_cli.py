"""`forum-service`: arguments to the server's options, and the metrics folder it prepares."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from forumdb_services.api import serve as cli
from forumdb_services.api.guard import RequestLimits
from forumdb_services.api.server import ServerOptions


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ServerOptions]]:
    """Starts of the server, recorded instead of serving."""
    runs: list[tuple[str, ServerOptions]] = []
    # forum-service sets PROMETHEUS_MULTIPROC_DIR in os.environ: have monkeypatch restore it.
    monkeypatch.setenv(cli.MULTIPROC_ENV, "unset-after-the-test")
    monkeypatch.delenv(cli.MULTIPROC_ENV)
    monkeypatch.setattr(cli, "run_server", lambda service, options: runs.append((service, options)))
    return runs


def test_defaults(captured: list, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORT", "WEB_CONCURRENCY", "LOG_LEVEL", cli.MULTIPROC_ENV):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli.main, ["users"])
    assert result.exit_code == 0, result.output
    ((service, options),) = captured
    assert service == "users"
    assert (options.host, options.port) == ("0.0.0.0", 8080)
    assert options.workers == 2
    assert options.keep_alive is True
    assert options.limits == RequestLimits()
    assert options == ServerOptions()


def test_options_and_port_from_env(captured: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9091")
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    result = CliRunner().invoke(
        cli.main, ["posts", "--host", "127.0.0.1", "--workers", "3", "--threads", "4"]
    )
    assert result.exit_code == 0, result.output
    ((service, options),) = captured
    assert service == "posts"
    assert (options.host, options.port) == ("127.0.0.1", 9091)
    assert options.workers == 3
    assert options.threads == 4
    assert (
        CliRunner().invoke(cli.main, ["threads", "--port", "7000", "--host", "::1"]).exit_code == 0
    )
    assert (captured[-1][1].host, captured[-1][1].port) == ("::1", 7000)
    assert CliRunner().invoke(cli.main, ["users"]).exit_code == 0
    assert captured[-1][1].workers == 5  # WEB_CONCURRENCY when --workers is not given


def test_serving_options(captured: list) -> None:
    argv = [
        "users",
        "--no-keep-alive",
        "--header-timeout",
        "5",
        "--body-timeout",
        "7.5",
        "--graceful-timeout",
        "9",
        "--max-request-line",
        "4094",
        "--max-header-bytes",
        "16384",
        "--max-headers",
        "50",
        "--max-connections",
        "300",
    ]
    result = CliRunner().invoke(cli.main, argv)
    assert result.exit_code == 0, result.output
    options = captured[-1][1]
    assert options.keep_alive is False
    assert options.header_timeout == 5
    assert options.graceful_timeout == 9
    assert options.max_connections == 300
    assert options.limits == RequestLimits(
        max_request_line=4094, max_header_bytes=16384, max_headers=50, body_timeout=7.5
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["comments"],
        ["users", "--port", "0"],
        ["users", "--port", "70000"],
        ["users", "--workers", "0"],
        ["users", "--threads", "0"],
        ["users", "--header-timeout", "0"],
        ["users", "--header-timeout", "61"],
        ["users", "--body-timeout", "0"],
        ["users", "--max-headers", "101"],
        ["users", "--max-request-line", "10"],
        ["users", "--max-connections", "1"],
        [],
    ],
)
def test_bad_arguments(captured: list, argv: list[str]) -> None:
    result = CliRunner().invoke(cli.main, argv)
    assert result.exit_code == 2
    assert captured == []
    if len(argv) > 1:
        assert argv[1] in result.output  # the option at fault is named


def test_metrics_folder_is_made_and_removed(
    captured: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cli.MULTIPROC_ENV, raising=False)
    seen: list[Path] = []

    def fake_run(service: str, options: ServerOptions) -> None:
        folder = Path(cli.os.environ[cli.MULTIPROC_ENV])
        assert folder.is_dir()
        seen.append(folder)

    monkeypatch.setattr(cli, "run_server", fake_run)
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
