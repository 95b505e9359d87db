"""Shared fixtures of the operator's unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from forumdb_emulator import mock_aws_ext


@pytest.fixture
def ext(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in-process with the forumdb extension (global tables, AWS Backup, faults), with
    fake credentials and us-east-1 as the default region; yields the extension's control.
    AWS's rules are the emulator's strict defaults."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    with mock_aws_ext() as control:
        yield control
