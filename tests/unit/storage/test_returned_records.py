"""A record the store hands out is the caller's own: changing it, or the record a caller
passed in, never changes what the store holds (both backends; the JSON one keeps its
records in memory and hands out copies, flat ones cheaply: `_memview.detached`)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from forumdb_services.storage import posts_in_thread, user_by_email
from forumdb_services.storage._memview import detached
from forumdb_services.storage.base import Store

NESTED = {"flags": [True, False], "profile": {"years": [1, 2], "bass": "axe"}}


def _vandalise(record: dict[str, Any]) -> None:
    """Every change a careless caller could make to a record it was given."""
    record["username"] = "changed"
    record["version"] = 99
    record.pop("createdAt", None)
    record["extra"] = "added"
    if "flags" in record:
        record["flags"].append("added")
        record["flags"][0] = "changed"
    if "profile" in record:
        record["profile"]["years"].append(3)
        record["profile"]["bass"] = "changed"
        record["profile"]["new"] = {"deep": True}


def _user(store: Store, **fields: Any) -> dict[str, Any]:
    return store.users.create({"username": "marceline", "email": "mq@ooo.example", **fields})


READS: dict[str, Callable[[Store, int], list[dict[str, Any]]]] = {
    "get": lambda store, rid: [store.users.get(rid)],
    "list": lambda store, rid: store.users.list(limit=10).items,
    "query": lambda store, rid: store.users.query("EmailIndex", "mq@ooo.example").items,
    "user_by_email": lambda store, rid: [user_by_email(store.users, "mq@ooo.example")],
}


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
@pytest.mark.parametrize("read", list(READS))
def test_changing_a_read_record_leaves_the_store_alone(
    store: Store, read: str, nested: bool
) -> None:
    created = _user(store, **(copy.deepcopy(NESTED) if nested else {}))
    before = copy.deepcopy(store.users.get(created["id"]))
    for record in READS[read](store, created["id"]):
        _vandalise(record)
    assert store.users.get(created["id"]) == before
    assert READS[read](store, created["id"]) == [before]


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
def test_changing_what_a_write_returned_leaves_the_store_alone(store: Store, nested: bool) -> None:
    created = _user(store, **(copy.deepcopy(NESTED) if nested else {}))
    rid = created["id"]
    expected_created = copy.deepcopy(created)
    _vandalise(created)
    assert store.users.get(rid) == expected_created

    updated = store.users.update(rid, {"bio": "queen"})
    expected_updated = copy.deepcopy(updated)
    _vandalise(updated)
    assert store.users.get(rid) == expected_updated


def test_changing_what_a_caller_passed_in_leaves_the_store_alone(store: Store) -> None:
    given = {"username": "pb", **copy.deepcopy(NESTED)}
    rid = store.users.create(given)["id"]
    changes = {"profile": {"years": [7], "bass": "none"}}
    store.users.update(rid, changes)
    stored = store.users.get(rid)
    given["flags"].append("later")
    changes["profile"]["years"].append(8)
    assert store.users.get(rid) == stored
    assert stored["flags"] == [True, False]
    assert stored["profile"]["years"] == [7]


def test_changing_a_deleted_record_or_a_post_page_leaves_the_store_alone(store: Store) -> None:
    thread = store.threads.create({"title": "t", "createdBy": 1})
    post = store.posts.create(
        {"thread": thread["id"], "user": 1, "text": "hi", **copy.deepcopy(NESTED)}
    )
    expected = copy.deepcopy(post)
    (listed,) = posts_in_thread(store.posts, thread["id"]).items
    _vandalise(listed)
    assert store.posts.get(post["id"]) == expected
    gone = store.users.delete(_user(store)["id"])
    _vandalise(gone)
    assert store.users.list().items == []


@pytest.mark.parametrize("record", [{"a": 1, "b": "x", "c": None, "d": 2.5, "e": True}, NESTED])
def test_detached_is_an_equal_record_sharing_nothing_mutable(record: dict[str, Any]) -> None:
    copied = detached(record)
    assert copied == record
    assert copied is not record
    for key, value in record.items():
        if isinstance(value, dict | list):
            assert copied[key] is not value
