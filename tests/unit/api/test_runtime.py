"""StoreRuntime: a new store per settings generation; in-flight requests keep the old one."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from forumdb.config import Settings, SettingsWatcher
from forumdb_services.api import runtime as runtime_mod
from forumdb_services.api.runtime import StoreRuntime
from forumdb_services.storage import StoreUnavailable

from .stubs import StubStore


class Opener:
    """Records the settings each store was opened with; can be told to fail."""

    def __init__(self) -> None:
        self.opened: list[tuple[Settings, StubStore]] = []
        self.fail_with: Exception | None = None

    def __call__(self, settings: Settings) -> StubStore:
        if self.fail_with is not None:
            raise self.fail_with
        store = StubStore()
        self.opened.append((settings, store))
        return store


def _write(config_dir: Path, **values: str) -> None:
    for name, value in values.items():
        (config_dir / name).write_text(value)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    _write(folder, STORAGE_MODE="dynamodb", AWS_REGION="us-east-1")
    return folder


def test_opens_lazily_and_reuses_the_store(config_dir: Path) -> None:
    opener = Opener()
    runtime = StoreRuntime(SettingsWatcher(config_dir, interval=0), opener=opener)
    assert opener.opened == []
    first = runtime.acquire()
    first.release()
    second = runtime.acquire()
    second.release()
    assert second is first
    assert len(opener.opened) == 1
    assert opener.opened[0][0].aws_region == "us-east-1"


def test_new_generation_gets_a_new_store_and_in_flight_requests_keep_the_old(
    config_dir: Path,
) -> None:
    opener = Opener()
    runtime = StoreRuntime(SettingsWatcher(config_dir, interval=0), opener=opener)
    in_flight = runtime.acquire()
    old_store = in_flight.store

    _write(config_dir, AWS_REGION="us-west-2")  # the operator fails over
    after = runtime.acquire()
    assert after.store is not old_store
    assert after.number == in_flight.number + 1
    assert after.settings.aws_region == "us-west-2"
    assert runtime.settings.aws_region == "us-west-2"
    # The request that started before the switch still has its store, open.
    assert in_flight.store is old_store
    assert old_store.closed == 0
    in_flight.release()
    assert old_store.closed == 1
    after.release()
    assert after.store.closed == 0


def test_old_store_closes_at_once_when_idle(config_dir: Path) -> None:
    opener = Opener()
    runtime = StoreRuntime(SettingsWatcher(config_dir, interval=0), opener=opener)
    runtime.acquire().release()
    _write(config_dir, AWS_REGION="eu-west-1")
    runtime.acquire().release()
    (_, first), (_, second) = opener.opened
    assert first.closed == 1
    assert second.closed == 0
    runtime.close()
    assert second.closed == 1


def test_failed_reopen_stays_on_the_old_store_then_retries(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runtime_mod, "REOPEN_BACKOFF_SECONDS", 0.0)
    opener = Opener()
    runtime = StoreRuntime(SettingsWatcher(config_dir, interval=0), opener=opener)
    runtime.acquire().release()
    _write(config_dir, AWS_REGION="us-west-2")
    opener.fail_with = OSError("no route to us-west-2")
    with caplog.at_level(logging.ERROR, logger="forumdb.api.runtime"):
        held = runtime.acquire()
    assert held.settings.aws_region == "us-east-1"
    assert "staying on generation 0" in caplog.text
    held.release()
    opener.fail_with = None
    moved = runtime.acquire()
    assert moved.settings.aws_region == "us-west-2"
    moved.release()


def test_no_store_at_all_is_store_unavailable(config_dir: Path) -> None:
    opener = Opener()
    opener.fail_with = PermissionError("cannot create /data/users")
    runtime = StoreRuntime(SettingsWatcher(config_dir, interval=0), opener=opener)
    with pytest.raises(StoreUnavailable, match=r"dynamodb store.*cannot create /data/users"):
        runtime.acquire()


def test_given_store_serves_the_first_generation(config_dir: Path) -> None:
    opener = Opener()
    given = StubStore()
    runtime = StoreRuntime(SettingsWatcher(config_dir, interval=0), given, opener=opener)
    held = runtime.acquire()
    assert held.store is given
    held.release()
    _write(config_dir, AWS_REGION="ap-south-1")
    moved = runtime.acquire()
    assert moved.store is not given
    assert given.closed == 1
    moved.release()


def test_hold_current_holds_the_store_in_use_and_never_opens_one(config_dir: Path) -> None:
    # The edge cache asks on the event loop: it must never wait for a store to open.
    opener = Opener()
    runtime = StoreRuntime(SettingsWatcher(config_dir, interval=0), opener=opener)
    assert runtime.hold_current() is None  # nothing open yet
    assert opener.opened == []
    runtime.acquire().release()
    held = runtime.hold_current()
    assert held is not None
    assert held.store is opener.opened[0][1]

    _write(config_dir, AWS_REGION="us-west-2")
    assert runtime.hold_current() is None  # a switch is due: the app's path makes it
    assert len(opener.opened) == 1
    # The generation held before the change stays open until it is released.
    after = runtime.acquire()
    assert held.store.closed == 0
    held.release()
    assert held.store.closed == 1
    again = runtime.hold_current()
    assert again is after
    again.release()
    after.release()
