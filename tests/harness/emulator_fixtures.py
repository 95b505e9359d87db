"""Fixtures for the emulator's own tests: every behaviour runs in-process (`mock_aws_ext`) and
through a server process of its own (`python -m forumdb_emulator.server`).

A conftest takes them with `from harness.emulator_fixtures import *` (the session `moto_server`
fixture of tests/conftest.py is the harness's; these start their own to test the server
module itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore.retries.standard
import pytest

from forumdb.aws import client as aws_client
from forumdb.aws import client_config
from forumdb_emulator import ExtControl, mock_aws_ext
from harness.emulator_support import EAST, ServerProcess, start_server

__all__ = ["ExtEnv", "_aws_env", "_quick_backoff", "ext", "ext_server"]


@pytest.fixture(scope="session")
def ext_server() -> Iterator[ServerProcess]:
    server = start_server()
    yield server
    server.stop()


@dataclass
class ExtEnv:
    """One way of running the extension: in-process or through the server."""

    mode: str
    control: ExtControl
    endpoint_url: str | None

    def client(self, service: str, region: str = EAST, *, retries: int = 8) -> Any:
        """A boto3 client as forumdb builds them (botocore standard retry mode)."""
        cache_key = (self.endpoint_url, service, region, retries)
        if cache_key not in _CLIENTS:
            # clients are reused across tests: loading a service model costs ~0.1 s each time
            _CLIENTS[cache_key] = aws_client(
                service, region, self.endpoint_url, client_config(max_attempts=retries)
            )
        return _CLIENTS[cache_key]


_CLIENTS: dict[tuple[str | None, str, str, int], Any] = {}


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": EAST,
        "AWS_REGION": EAST,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep botocore's retries (what is tested) but not its exponential sleeps."""
    monkeypatch.setattr(
        botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0.001
    )


@pytest.fixture(params=["inprocess", "server"])
def ext(request: pytest.FixtureRequest) -> Iterator[ExtEnv]:
    if request.param == "inprocess":
        with mock_aws_ext() as control:
            yield ExtEnv("inprocess", control, None)
        return
    server: ServerProcess = request.getfixturevalue("ext_server")
    control = ExtControl(server.url)
    control.reset()
    yield ExtEnv("server", control, server.url)
    control.reset()
