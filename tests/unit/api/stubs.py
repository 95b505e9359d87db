"""A store whose every call fails (or reports a given health), for error-path tests."""

from __future__ import annotations

from typing import Any

from forumdb.tables import table_def
from forumdb_services.storage import Collection, Health, Page, Store


class StubCollection(Collection):
    def __init__(self, kind: str, error: Exception | None, health: Health) -> None:
        self.table = table_def(kind)
        self._error = error
        self._health = health

    def _fail(self) -> Any:
        if self._error is not None:
            raise self._error
        return Page([])

    def get(self, record_id: int) -> dict[str, Any]:
        return self._fail()

    def create(self, record: Any) -> dict[str, Any]:
        return self._fail()

    def update(self, record_id: int, changes: Any, expected_version: int | None = None) -> Any:
        return self._fail()

    def delete(self, record_id: int, expected_version: int | None = None) -> Any:
        return self._fail()

    def list(self, limit: int = 50, cursor: str | None = None) -> Page:
        return self._fail()

    def query(
        self,
        index: str,
        value: Any,
        limit: int = 50,
        cursor: str | None = None,
        newest_first: bool = True,
    ) -> Page:
        return self._fail()

    def health(self) -> Health:
        return self._health


class StubStore(Store):
    mode = "json"

    def __init__(self, error: Exception | None = None, health: Health | None = None) -> None:
        self._error = error
        self._health = health or Health(True, "stub")
        self.closed = 0

    def collection(self, kind: str) -> Collection:
        return StubCollection(kind, self._error, self._health)

    def close(self) -> None:
        self.closed += 1
