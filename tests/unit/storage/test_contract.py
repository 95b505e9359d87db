"""The storage contract (forumdb/storage/base.py), the same tests for both backends.

`store` runs each test on the JSON backend (files in tmp_path) and on the DynamoDB backend
(moto's in-process mock_aws, tables from forumdb.tables.create_table_request).
"""

from __future__ import annotations

import base64
import importlib
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from forumdb import ids
from forumdb.ids import legacy_created_at
from forumdb.legacy import normalize_document
from forumdb.tables import table_def
from forumdb_services.storage import (
    AlreadyExists,
    InvalidCursor,
    NotFound,
    VersionConflict,
    _records,
    posts_by_user,
    posts_in_thread,
    threads_newest_first,
    user_by_email,
)
from forumdb_services.storage._dynamo_codec import serialize_item
from forumdb_services.storage.base import Collection, Store, encode_cursor
from forumdb_services.storage.dynamodb import DynamoStore
from forumdb_services.storage.jsonstore import JsonStore

SAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sample-data"

TS = "2025-01-01T00:00:{:02d}.000000Z"


def all_pages(fetch, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Every record of a paged list, and the number of pages it took."""
    items: list[dict[str, Any]] = []
    cursor = None
    for pages in itertools.count(1):
        page = fetch(limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items, pages
        assert page.items, "a page with a cursor must not be empty"


def written_by_another_tool(store: Store, kind: str, records: list[dict[str, Any]]) -> None:
    """Records put behind the store's back, without its checks (and, in DynamoDB, without
    guards): a db.json file dropped in, or items put by a migration, say. Call it first."""
    full = [
        {"createdAt": TS.format(0), "updatedAt": TS.format(0), "version": 1, **r} for r in records
    ]
    if isinstance(store, JsonStore):
        folder = store.data_dir / kind
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "db.json").write_text(json.dumps({kind: full}))
        return
    assert isinstance(store, DynamoStore)
    coll = store.collection(kind)
    for record in full:
        store.client().put_item(
            TableName=coll.table_name, Item=serialize_item(coll.table.to_item(record))
        )


def make_posts(store: Store, thread: int, stamps: list[int], user: int = 7) -> list[dict]:
    return [
        store.posts.create(
            {"thread": thread, "user": user, "text": f"p{i}", "createdAt": TS.format(s)}
        )
        for i, s in enumerate(stamps)
    ]


# -- create / get ------------------------------------------------------------------------------


def test_create_fills_id_timestamps_and_version(store: Store) -> None:
    created = store.users.create({"username": "finn", "email": "finn@ooo.example"})
    assert isinstance(created["id"], int)
    assert 0 < created["id"] <= ids.MAX_ID
    assert created["version"] == 1
    assert created["createdAt"] == created["updatedAt"]
    assert created["createdAt"].endswith("Z")
    assert store.users.get(created["id"]) == created


def test_create_keeps_given_id_and_timestamps(store: Store) -> None:
    created = store.threads.create(
        {"id": 42, "title": "t", "createdAt": TS.format(1), "version": 9}
    )
    assert created["id"] == 42
    assert created["createdAt"] == TS.format(1)
    assert created["version"] == 1, "version always starts at 1"
    assert store.threads.get(42)["title"] == "t"


def test_create_never_overwrites(store: Store) -> None:
    store.users.create({"id": 5, "username": "first"})
    with pytest.raises(AlreadyExists) as err:
        store.users.create({"id": 5, "username": "second"})
    assert err.value.record_id == 5
    assert store.users.get(5)["username"] == "first"


def test_post_id_is_unique_across_threads(store: Store) -> None:
    store.posts.create({"id": 9, "thread": 1, "text": "a"})
    with pytest.raises(AlreadyExists):
        store.posts.create({"id": 9, "thread": 2, "text": "b"})
    assert store.posts.get(9)["thread"] == 1


def test_a_deleted_post_frees_its_id(store: Store) -> None:
    store.posts.create({"id": 9, "thread": 1, "text": "a"})
    store.posts.delete(9)
    assert store.posts.create({"id": 9, "thread": 2, "text": "b"})["thread"] == 2
    assert store.posts.get(9)["text"] == "b"


def test_a_post_id_another_tool_wrote_is_taken(store: Store) -> None:
    written_by_another_tool(store, "posts", [{"id": 9, "thread": 1, "text": "migrated"}])
    with pytest.raises(AlreadyExists):
        store.posts.create({"id": 9, "thread": 2, "text": "b"})
    assert [p["thread"] for p in store.posts.list().items] == [1]


def test_email_is_unique_among_users(store: Store) -> None:
    first = store.users.create({"username": "a", "email": "e@ooo.example"})
    with pytest.raises(AlreadyExists) as err:
        store.users.create({"username": "b", "email": "e@ooo.example"})
    assert (err.value.field, err.value.value, err.value.record_id) == (
        "email",
        "e@ooo.example",
        first["id"],
    )
    assert "e@ooo.example" in str(err.value)
    second = store.users.create({"username": "b", "email": "f@ooo.example"})
    with pytest.raises(AlreadyExists) as err:
        store.users.update(second["id"], {"email": "e@ooo.example"})
    assert err.value.field == "email"
    assert store.users.get(second["id"])["email"] == "f@ooo.example"
    # Keeping one's own e-mail is no clash; giving it up or leaving frees it.
    store.users.update(first["id"], {"bio": "same e-mail", "email": "e@ooo.example"})
    store.users.update(first["id"], {"email": "g@ooo.example"})
    store.users.update(second["id"], {"email": "e@ooo.example"})
    store.users.delete(first["id"])
    third = store.users.create({"username": "c", "email": "g@ooo.example"})
    store.users.update(second["id"], {"email": None})
    store.users.update(third["id"], {"email": "e@ooo.example"})
    assert user_by_email(store.users, "e@ooo.example")["id"] == third["id"]
    assert user_by_email(store.users, "e@ooo.example") == store.users.get(third["id"])


def test_an_email_another_tool_wrote_is_taken(store: Store) -> None:
    written_by_another_tool(store, "users", [{"id": 1, "email": "e@ooo.example"}])
    with pytest.raises(AlreadyExists) as err:
        store.users.create({"username": "b", "email": "e@ooo.example"})
    assert (err.value.field, err.value.record_id) == ("email", 1)


def test_duplicate_emails_another_tool_wrote_stay_usable(store: Store) -> None:
    written_by_another_tool(store, "users", [{"id": i, "email": "dup@ooo.example"} for i in (1, 2)])
    assert store.users.update(1, {"bio": "still here"})["bio"] == "still here"
    store.users.update(2, {"email": "own@ooo.example"})
    store.users.delete(1)
    assert store.users.create({"username": "n", "email": "dup@ooo.example"})["id"] > 2


def test_auto_id_collision_is_retried(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = store.users.create({"username": "a"})["id"]
    backend = importlib.import_module(type(store).__module__)
    fresh = iter([taken, taken, taken + 1])
    monkeypatch.setattr(backend, "new_id", lambda: next(fresh))
    created = store.users.create({"username": "b"})
    assert created["id"] == taken + 1
    assert store.users.get(taken)["username"] == "a"


def test_unknown_fields_and_values_round_trip(store: Store) -> None:
    record = {
        "username": "marceline",
        "bio": "vampire queen — 1000 years",
        "score": 2.5,
        "count": 3,
        "flags": [True, False],
        "profile": {"bass": "axe", "years": [1, 2.25], "empty": ""},
    }
    created = store.users.create(record)
    got = store.users.get(created["id"])
    for key, value in record.items():
        assert got[key] == value
    assert type(got["count"]) is int
    assert type(got["score"]) is float


def test_none_fields_are_not_stored(store: Store) -> None:
    created = store.users.create({"username": "a", "email": None})
    assert "email" not in store.users.get(created["id"])


@pytest.mark.parametrize(
    ("kind", "record", "field"),
    [
        ("users", {"username": "a", "email": 5}, "email"),
        ("users", {"username": "a", "email": ""}, "email"),
        ("users", {"id": "7", "username": "a"}, "id"),
        ("users", {"id": -1, "username": "a"}, "id"),
        ("posts", {"text": "no thread"}, "thread"),
        ("posts", {"thread": "one", "text": "x"}, "thread"),
        ("posts", {"thread": 1, "user": True, "text": "x"}, "user"),
        ("threads", {"title": "t", "createdAt": 12}, "createdAt"),
        ("users", {"username": "a", "weight": float("nan")}, "JSON"),
        ("users", {"username": "a", "bio": "x\ud800"}, "surrogate"),
        ("threads", {"title": "t", "createdBy": -1}, "createdBy"),
        ("posts", {"thread": 1, "user": 1.5, "text": "x"}, "user"),
        ("users", {"username": "a", "createdAt": ""}, "createdAt"),
        ("users", {"username": "a", "updatedAt": 5}, "updatedAt"),
        ("posts", {"thread": 1, "text": "x", "createdAt": "2" * 1025}, "createdAt"),
        ("users", {"username": "a", "\udc00": 1}, "surrogate"),
    ],
)
def test_invalid_records_are_refused(store: Store, kind: str, record: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        store.collection(kind).create(record)
    assert store.collection(kind).list().items == []


@pytest.mark.parametrize("bad_id", [123456, "1", None, 1.5, True, -3])
def test_get_unknown_or_malformed_id_is_not_found(store: Store, bad_id: Any) -> None:
    store.users.create({"id": 1, "username": "a"})
    with pytest.raises(NotFound):
        store.users.get(bad_id)


def test_get_post_by_id_alone(store: Store) -> None:
    post = store.posts.create({"thread": 3, "user": 1, "text": "hi"})
    assert store.posts.get(post["id"]) == post


# -- update ------------------------------------------------------------------------------------


def test_update_bumps_version_and_merges(store: Store) -> None:
    user = store.users.create({"username": "jake", "bio": "dog", "email": "j@ooo.example"})
    updated = store.users.update(user["id"], {"bio": "magic dog", "email": None, "age": 28})
    assert updated["version"] == 2
    assert updated["bio"] == "magic dog"
    assert updated["age"] == 28
    assert "email" not in updated
    assert updated["username"] == "jake"
    assert updated["createdAt"] == user["createdAt"]
    assert updated["updatedAt"] >= user["updatedAt"]
    assert store.users.get(user["id"]) == updated


def test_update_with_expected_version(store: Store) -> None:
    user = store.users.create({"username": "pb"})
    store.users.update(user["id"], {"bio": "one"}, expected_version=1)
    with pytest.raises(VersionConflict) as err:
        store.users.update(user["id"], {"bio": "two"}, expected_version=1)
    assert (err.value.expected, err.value.actual) == (1, 2)
    assert store.users.get(user["id"])["bio"] == "one"


def test_update_ignores_store_managed_fields(store: Store) -> None:
    user = store.users.create({"username": "pb"})
    updated = store.users.update(user["id"], {"version": 99, "bio": "b"})
    assert updated["version"] == 2


@pytest.mark.parametrize(
    ("kind", "record", "changes"),
    [
        ("users", {"username": "a"}, {"id": 777}),
        ("users", {"username": "a"}, {"id": None}),
        ("posts", {"thread": 1, "text": "a"}, {"thread": 2}),
    ],
)
def test_key_fields_cannot_change(store: Store, kind: str, record: dict, changes: dict) -> None:
    coll = store.collection(kind)
    created = coll.create(record)
    with pytest.raises(ValueError, match="key"):
        coll.update(created["id"], changes)
    assert coll.get(created["id"]) == created


def test_update_with_unchanged_key_fields_is_allowed(store: Store) -> None:
    post = store.posts.create({"thread": 4, "text": "a"})
    updated = store.posts.update(post["id"], {"id": post["id"], "thread": 4, "text": "b"})
    assert updated["text"] == "b"


def test_update_missing_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        store.threads.update(31337, {"title": "x"})


# -- delete ------------------------------------------------------------------------------------


def test_delete_returns_the_record(store: Store) -> None:
    thread = store.threads.create({"title": "bye"})
    assert store.threads.delete(thread["id"]) == thread
    with pytest.raises(NotFound):
        store.threads.get(thread["id"])
    with pytest.raises(NotFound):
        store.threads.delete(thread["id"])


def test_delete_is_conditional_on_version(store: Store) -> None:
    post = store.posts.create({"thread": 1, "text": "a"})
    store.posts.update(post["id"], {"text": "b"})
    with pytest.raises(VersionConflict):
        store.posts.delete(post["id"], expected_version=1)
    assert store.posts.get(post["id"])["text"] == "b"
    assert store.posts.delete(post["id"], expected_version=2)["text"] == "b"


# -- lists and cursors ---------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "limit", "pages"), [(0, 10, 1), (20, 10, 2), (57, 10, 6)])
def test_list_pages_cover_everything_once(store: Store, count: int, limit: int, pages: int) -> None:
    made = {store.users.create({"username": f"u{i}"})["id"] for i in range(count)}
    items, taken = all_pages(store.users.list, limit)
    ids_seen = [r["id"] for r in items]
    assert len(ids_seen) == len(set(ids_seen)), "no duplicates"
    assert set(ids_seen) == made, "no gaps"
    assert taken == pages, "the last full page carries no cursor"


def test_list_order_is_stable_across_calls(store: Store) -> None:
    for i in range(15):
        store.posts.create({"thread": i % 3, "text": str(i)})
    first, _ = all_pages(store.posts.list, 4)
    second, _ = all_pages(store.posts.list, 7)
    assert [r["id"] for r in first] == [r["id"] for r in second]


def test_list_survives_writes_between_pages(store: Store) -> None:
    made = [store.users.create({"username": f"u{i}"})["id"] for i in range(12)]
    page = store.users.list(limit=5)
    last = page.items[-1]["id"]
    store.users.delete(last)  # the cursor's own record goes away
    rest, _ = all_pages(
        lambda limit, cursor: store.users.list(limit, cursor or page.next_cursor), 5
    )
    seen = [r["id"] for r in page.items + rest]
    assert len(seen) == len(set(seen))
    assert set(seen) == set(made)


def _forged(scope: str, position: dict) -> str:
    return encode_cursor(scope, position)


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "",
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _forged("list:threads", {"id": 1}),
        _forged("list:users", {"id": "1"}),
        _forged("list:users", {}),
        _forged("list:users", {"id": True}),
    ],
)
def test_bad_list_cursors(store: Store, cursor: str) -> None:
    for i in range(3):
        store.users.create({"username": f"u{i}"})
    with pytest.raises(InvalidCursor):
        store.users.list(limit=2, cursor=cursor)


# A forged number with more significant digits than DynamoDB's 38, and a string past
# DynamoDB's 1024 bytes for a sort key: a bad cursor, never an error of the backend.
TOO_MANY_DIGITS = 10**39 + 7
TOO_LONG = "2025-01-01T00:00:00.000000Z" + "9" * 1000


def _thread_scope(thread: int) -> str:
    posts = table_def("posts")
    return _records.query_scope(posts, posts.index("ThreadIndex"), thread, False)


FORGED_POSITIONS = [
    ("users list", "list:users", {"id": TOO_MANY_DIGITS}),
    ("users list", "list:users", {"id": -1}),
    ("users list", "list:users", {"id": ids.MAX_ID + 1}),
    ("posts list", "list:posts", {"id": 1, "thread": TOO_MANY_DIGITS}),
    ("posts in thread", _thread_scope(1), {"id": TOO_MANY_DIGITS, "thread": 1, "r": TS.format(1)}),
    ("posts in thread", _thread_scope(1), {"id": 1, "thread": 1, "r": TOO_LONG}),
    ("posts in thread", _thread_scope(1), {"id": 1, "thread": 1, "r": "2025\ud800"}),
    ("posts in thread", _thread_scope(1), {"id": 1, "thread": 1, "r": 10**39 + 7}),
    ("by e-mail", 'query:users:EmailIndex:"a@ooo.example":desc', {"id": TOO_MANY_DIGITS}),
    ("threads", 'query:threads:CreatedAtIndex:"thread":desc', {"id": 1, "r": TOO_LONG}),
]


@pytest.mark.parametrize(
    ("route", "scope", "position"), FORGED_POSITIONS, ids=[f[0] for f in FORGED_POSITIONS]
)
def test_forged_cursor_numbers_and_keys_are_bad_cursors(
    store: Store, route: str, scope: str, position: dict
) -> None:
    store.users.create({"id": 1, "username": "a", "email": "a@ooo.example"})
    store.threads.create({"id": 1, "title": "t"})
    make_posts(store, 1, [1, 2])
    fetch = {
        "users list": lambda cursor: store.users.list(cursor=cursor),
        "posts list": lambda cursor: store.posts.list(cursor=cursor),
        "posts in thread": lambda cursor: posts_in_thread(store.posts, 1, cursor=cursor),
        "by e-mail": lambda cursor: store.users.query("EmailIndex", "a@ooo.example", 5, cursor),
        "threads": lambda cursor: threads_newest_first(store.threads, cursor=cursor),
    }[route]
    fetch(None)  # the scope is right: only the position is forged
    with pytest.raises(InvalidCursor):
        fetch(_forged(scope, position))


def test_a_cursor_only_fits_its_own_list(store: Store) -> None:
    written_by_another_tool(
        store,
        "users",
        [{"id": i, "username": f"u{i}", "email": "same@ooo.example"} for i in (1, 2, 3)],
    )
    make_posts(store, 1, [1, 2, 3])
    list_cursor = store.users.list(limit=1).next_cursor
    query_cursor = store.users.query("EmailIndex", "same@ooo.example", limit=1).next_cursor
    thread_cursor = posts_in_thread(store.posts, 1, limit=1).next_cursor
    assert list_cursor is not None
    assert query_cursor is not None
    assert thread_cursor is not None
    with pytest.raises(InvalidCursor):
        store.users.query("EmailIndex", "same@ooo.example", cursor=list_cursor)
    with pytest.raises(InvalidCursor):
        store.users.query("EmailIndex", "other@ooo.example", cursor=query_cursor)
    with pytest.raises(InvalidCursor):
        store.threads.list(cursor=list_cursor)
    with pytest.raises(InvalidCursor):
        posts_in_thread(store.posts, 2, cursor=thread_cursor)
    with pytest.raises(InvalidCursor):  # the other direction is another list
        posts_in_thread(store.posts, 1, cursor=thread_cursor, newest_first=True)
    with pytest.raises(InvalidCursor):
        posts_in_thread(
            store.posts,
            1,
            cursor=_forged("query:posts:ThreadIndex:1:asc", {"id": 1, "thread": 1, "r": 5}),
        )


@pytest.mark.parametrize("limit", [0, -1, 1001, "5", True, 2.0])
def test_bad_limits(store: Store, limit: Any) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.users.list(limit=limit)
    with pytest.raises(ValueError, match="limit"):
        store.users.query("EmailIndex", "a@b.example", limit=limit)


# -- secondary indexes ------------------------------------------------------------------------


def test_query_rejects_unknown_index_and_wrong_value_type(store: Store) -> None:
    with pytest.raises(ValueError, match="NoSuchIndex"):
        store.users.query("NoSuchIndex", "x")
    with pytest.raises(ValueError, match="ThreadIndex"):
        store.posts.query("ThreadIndex", "1")
    with pytest.raises(ValueError, match="EmailIndex"):
        store.users.query("EmailIndex", 5)


def test_user_by_email(store: Store) -> None:
    store.users.create({"username": "nomail"})
    bubble = store.users.create({"username": "pb", "email": "pb@candy.example"})
    assert user_by_email(store.users, "pb@candy.example") == bubble
    with pytest.raises(NotFound):
        user_by_email(store.users, "nobody@candy.example")


def test_an_index_without_range_key_pages_by_id(store: Store) -> None:
    # Only e-mails are looked up by it, unique in what the store writes: the duplicates
    # come from another tool.
    written_by_another_tool(
        store, "users", [{"id": i, "email": "shared@ooo.example"} for i in (3, 1, 2)]
    )
    for newest_first, expected in ((True, [3, 2, 1]), (False, [1, 2, 3])):
        found, pages = all_pages(
            lambda limit, cursor, newest_first=newest_first: store.users.query(
                "EmailIndex", "shared@ooo.example", limit, cursor, newest_first
            ),
            1,
        )
        assert [u["id"] for u in found] == expected
        assert pages == 3


def test_indexes_are_sparse(store: Store) -> None:
    store.users.create({"username": "nomail"})
    anonymous = store.posts.create({"thread": 1, "text": "no user"})
    signed = store.posts.create({"thread": 1, "user": 3, "text": "signed"})
    assert [p["id"] for p in posts_by_user(store.posts, 3).items] == [signed["id"]]
    in_thread = {p["id"] for p in posts_in_thread(store.posts, 1).items}
    assert in_thread == {anonymous["id"], signed["id"]}
    # A record whose range key is removed leaves the index, and comes back with it.
    thread = store.threads.create({"title": "t"})
    store.threads.update(thread["id"], {"createdAt": None})
    assert threads_newest_first(store.threads).items == []
    store.threads.update(thread["id"], {"createdAt": TS.format(3)})
    assert [t["id"] for t in threads_newest_first(store.threads).items] == [thread["id"]]


def test_index_follows_updates_and_deletes(store: Store) -> None:
    user = store.users.create({"username": "a", "email": "old@ooo.example"})
    store.users.update(user["id"], {"email": "new@ooo.example"})
    assert store.users.query("EmailIndex", "old@ooo.example").items == []
    assert user_by_email(store.users, "new@ooo.example")["id"] == user["id"]
    store.users.delete(user["id"])
    assert store.users.query("EmailIndex", "new@ooo.example").items == []


def test_threads_newest_first(store: Store) -> None:
    made = [
        store.threads.create({"title": f"t{s}", "createdAt": TS.format(s)}) for s in (5, 1, 9, 3)
    ]
    newest = [t["title"] for t in threads_newest_first(store.threads).items]
    assert newest == ["t9", "t5", "t3", "t1"]
    assert len(made) == 4


def test_query_order_and_ties_across_pages(store: Store) -> None:
    """Range key order, ties by id (as a GSI orders them), reversed as a whole for
    newest-first; pages join up with no duplicate and no gap."""
    stamps = [3, 1, 2, 3, 1, 2, 3, 1, 2, 2, 2, 5, 4, 1, 3, 3, 0, 5, 2, 1, 4, 4, 3]
    posts = make_posts(store, 8, stamps)
    make_posts(store, 9, [1, 2, 3])  # another thread, never in the results
    oldest_first = [p["id"] for p in sorted(posts, key=lambda p: (p["createdAt"], p["id"]))]
    for limit in (1, 5, 50):
        forward, _ = all_pages(
            lambda limit, cursor: posts_in_thread(store.posts, 8, limit, cursor), limit
        )
        assert [p["id"] for p in forward] == oldest_first
        backward, _ = all_pages(
            lambda limit, cursor: posts_in_thread(store.posts, 8, limit, cursor, newest_first=True),
            limit,
        )
        assert [p["id"] for p in backward] == oldest_first[::-1]


def test_posts_by_user_newest_first(store: Store) -> None:
    mine = make_posts(store, 1, [1, 4], user=5) + make_posts(store, 2, [2, 3], user=5)
    make_posts(store, 1, [9], user=6)
    got = [p["text"] + p["createdAt"][17:19] for p in posts_by_user(store.posts, 5).items]
    assert got == ["p104", "p103", "p002", "p001"]
    assert len(mine) == 4


def test_query_cursor_survives_a_deleted_anchor(store: Store) -> None:
    posts = make_posts(store, 1, list(range(10)))
    page = posts_in_thread(store.posts, 1, limit=4)
    store.posts.delete(page.items[-1]["id"])
    rest = posts_in_thread(store.posts, 1, limit=50, cursor=page.next_cursor)
    assert [p["id"] for p in rest.items] == [p["id"] for p in posts[4:]]


# -- the sample's files (JSON backend: forumctl migrate brings them to DynamoDB) -------------


def test_json_serves_the_sample_files_as_migrate_reads_them(tmp_path: Path) -> None:
    sample_dir = tmp_path / "data"
    shutil.copytree(SAMPLE, sample_dir, ignore=shutil.ignore_patterns("*.md"))
    store = JsonStore(sample_dir)
    for kind in ("users", "threads", "posts"):
        expected = list(
            normalize_document(kind, json.loads((sample_dir / kind / "db.json").read_text()))
        )
        assert store.collection(kind).list(limit=100).items == expected
    assert store.posts.get(6)["createdAt"] == legacy_created_at(6)
    assert store.users.get(4)["username"] == "jake"
    assert [p["id"] for p in posts_in_thread(store.posts, 2).items] == [3, 4, 5]
    assert [t["id"] for t in threads_newest_first(store.threads).items] == [3, 2, 1]


# -- health --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["users", "threads", "posts"])
def test_health_ok(store: Store, kind: str) -> None:
    health = store.collection(kind).health()
    assert health.ok, health.detail


def test_unknown_kind(store: Store) -> None:
    with pytest.raises(ValueError, match="users"):
        store.collection("comments")


def test_collections_are_the_same_objects(store: Store) -> None:
    assert isinstance(store.users, Collection)
    assert store.users is store.collection("users")
    assert json.dumps(store.users.list().items) == "[]"
