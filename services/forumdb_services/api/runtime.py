"""One store per configuration generation.

The operator may rewrite the mounted ConfigMap at run time (a region failover), which the
`SettingsWatcher` turns into a new `generation`. The next request after such a change opens a
new store with the new settings and every later request uses it; requests already running
keep the store they started with, and the old store is closed when the last of them ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app

from forumdb.config import Settings, SettingsWatcher
from forumdb_services.api.observability import report_storage_region
from forumdb_services.storage import Store, StoreUnavailable, open_store

log = logging.getLogger("forumdb.api.runtime")

# After a failed open of a new generation's store, wait this long before trying again
# (requests meanwhile stay on the previous store).
REOPEN_BACKOFF_SECONDS = 2.0
EXTENSION_KEY = "forumdb.runtime"


@dataclass
class Generation:
    """A store opened for one generation of the settings, with its in-flight requests."""

    number: int
    settings: Settings
    store: Store
    _inflight: int = 0
    _retired: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _acquire(self) -> None:
        with self._lock:
            self._inflight += 1

    def release(self) -> None:
        with self._lock:
            self._inflight -= 1
            close = self._retired and self._inflight == 0
        if close:
            self._close()

    def _retire(self) -> None:
        with self._lock:
            self._retired = True
            close = self._inflight == 0
        if close:
            self._close()

    def _close(self) -> None:
        try:
            self.store.close()
        except Exception:
            log.exception("closing the store of settings generation %d failed", self.number)


class StoreRuntime:
    """Hands each request the store of the current settings generation."""

    def __init__(
        self,
        watcher: SettingsWatcher,
        store: Store | None = None,
        opener: Callable[[Settings], Store] = open_store,
    ) -> None:
        self.watcher = watcher
        self._opener = opener
        self._lock = threading.Lock()
        self._active: Generation | None = None
        self._next_attempt = 0.0
        if store is not None:
            self._active = Generation(watcher.generation, watcher.current(), store)
        # The region last set to 1 in the gauge: a switch sets it back to 0, even the first
        # switch of a worker whose settings changed before its first request.
        self._reported_region = _region(self.settings)
        report_storage_region(self._reported_region)

    @property
    def settings(self) -> Settings:
        """The settings of the store in use (or about to be opened)."""
        return self._active.settings if self._active else self.watcher.current()

    def acquire(self) -> Generation:
        """The current generation, held until `release()`; opens a new store when the
        settings changed. Raises StoreUnavailable when no store can be opened at all."""
        settings = self.watcher.current()
        number = self.watcher.generation
        with self._lock:
            active = self._active
            if active is None or (
                active.number != number and time.monotonic() >= self._next_attempt
            ):
                active = self._switch(active, number, settings)
            active._acquire()
            return active

    def hold_current(self) -> Generation | None:
        """The generation in use, held until `release()`, when it is the current settings'
        one; None when a switch is due or under way (the next `acquire()` makes it). Never
        opens a store and never waits for a thread that does: an event loop may ask."""
        self.watcher.current()
        number = self.watcher.generation
        if not self._lock.acquire(blocking=False):
            return None
        try:
            active = self._active
            if active is None or active.number != number:
                return None
            active._acquire()
            return active
        finally:
            self._lock.release()

    def _switch(self, old: Generation | None, number: int, settings: Settings) -> Generation:
        try:
            store = self._opener(settings)
        except Exception as exc:
            self._next_attempt = time.monotonic() + REOPEN_BACKOFF_SECONDS
            where = settings.aws_region or settings.data_dir
            if old is None:
                raise StoreUnavailable(
                    f"cannot open the {settings.storage_mode} store ({where}): {exc}"
                ) from exc
            log.error(
                "cannot open the store for settings generation %d; staying on generation %d",
                number,
                old.number,
                extra={"mode": settings.storage_mode, "where": str(where), "error": str(exc)},
            )
            return old
        new = Generation(number, settings, store)
        self._active = new
        report_storage_region(_region(settings), self._reported_region)
        self._reported_region = _region(settings)
        if old is not None:
            log.info(
                "settings generation %d: switched store",
                number,
                extra={
                    "mode": settings.storage_mode,
                    "region": settings.aws_region,
                    "previous_region": old.settings.aws_region,
                },
            )
            old._retire()
        return new

    def close(self) -> None:
        with self._lock:
            if self._active is not None:
                self._active._retire()
                self._active = None


def _region(settings: Settings) -> str | None:
    return settings.aws_region if settings.storage_mode == "dynamodb" else None


def current_runtime() -> StoreRuntime:
    """The StoreRuntime of the app handling the current request."""
    return current_app.extensions[EXTENSION_KEY]
