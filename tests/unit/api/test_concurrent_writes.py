"""Writers racing on one record, in both storage modes.

Without If-Match a client asked for no version check, so every one of its writes applies
(the service runs its read-modify-write again after losing a race); with If-Match, losing
the race is a 409.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

from forumdb_services.api import resources
from forumdb_services.storage import VersionConflict
from forumdb_services.storage.dynamodb import DynamoCollection
from forumdb_services.storage.jsonstore import JsonCollection

from .conftest import Forum

WRITERS = 16


@pytest.fixture
def racing(forum: Forum, monkeypatch: pytest.MonkeyPatch) -> Forum:
    """In DynamoDB mode, every writer thread's first read waits until all writers have read: all
    start from the same version, so they race every time, not by chance. And moto's writes
    are made atomic, as DynamoDB's are (moto checks a condition and writes without a lock).
    The JSON store runs a whole read-modify-write under its lock, so there writers simply
    run at once."""
    if forum.mode != "dynamodb":
        return forum
    moto_lock = threading.RLock()
    for name in ("put_item", "delete_item", "update_item"):
        real = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
            with moto_lock:
                return _real(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)

    barrier = threading.Barrier(WRITERS)
    first_read = threading.local()
    real_find = DynamoCollection._find

    def find(self: DynamoCollection, record_id: int) -> Any:
        found = real_find(self, record_id)
        writer = threading.current_thread() is not threading.main_thread()
        if writer and self.kind == "users" and not getattr(first_read, "done", False):
            first_read.done = True
            barrier.wait(timeout=60)  # only reached on a deadlock
        return found

    monkeypatch.setattr(DynamoCollection, "_find", find)
    return forum


def _all_at_once(request: Callable[[int], Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        return list(pool.map(request, range(WRITERS)))


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_writes_without_if_match_all_apply(racing: Forum, method: str) -> None:
    user = racing.user("finn")
    path = f"/api/users/{user['id']}"

    def write(i: int) -> Any:
        body = {"bio": f"bio {i}"} if method == "PATCH" else {"username": f"finn{i}"}
        return racing.users.open(path, method=method, json=body)

    responses = _all_at_once(write)
    assert [r.status_code for r in responses] == [200] * WRITERS, [
        r.get_json() for r in responses if r.status_code != 200
    ]
    # Each write applied on top of another: none was lost.
    assert sorted(r.get_json()["version"] for r in responses) == list(range(2, WRITERS + 2))
    final = racing.users.get(path).get_json()
    assert final["version"] == WRITERS + 1


def test_writes_with_if_match_still_conflict(racing: Forum) -> None:
    user = racing.user("finn")
    path = f"/api/users/{user['id']}"

    def write(i: int) -> Any:
        return racing.users.patch(path, json={"bio": f"bio {i}"}, headers={"If-Match": '"1"'})

    responses = _all_at_once(write)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (WRITERS - 1)
    for response in responses:
        if response.status_code == 409:
            error = response.get_json()["error"]
            assert (error["code"], error["field"]) == ("version_conflict", "version")
    assert racing.users.get(path).get_json()["version"] == 2


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_retries_are_bounded(
    json_forum: Forum, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    user = json_forum.user("finn")
    calls: list[int] = []

    def always_conflict(self: JsonCollection, record_id: int, *args: Any, **kw: Any) -> Any:
        calls.append(record_id)
        raise VersionConflict("users", record_id, None, 99)

    monkeypatch.setattr(JsonCollection, "update", always_conflict)
    monkeypatch.setattr(JsonCollection, "delete", always_conflict)
    monkeypatch.setattr(resources, "_pause", lambda attempt: None)
    path = f"/api/users/{user['id']}"
    body = {"bio": "x"} if method == "PATCH" else None
    response = json_forum.users.open(path, method=method, json=body)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "version_conflict"
    assert len(calls) == resources.MAX_WRITE_ATTEMPTS

    calls.clear()
    response = json_forum.users.open(
        path, method=method, json=body, headers={"If-Match": f'"{user["version"]}"'}
    )
    assert response.status_code == 409
    assert len(calls) == 1
