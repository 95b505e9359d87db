"""The two backends side by side: random sequences of operations (hypothesis' stateful
testing) run on a JSON store and a DynamoDB store (moto) must give the same results and
the same errors. Explicit ids and a small pool of timestamps make the outcomes comparable
(auto ids and `updatedAt` differ by nature) and make index ties frequent."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from forumdb_services.storage import posts_by_user, posts_in_thread, user_by_email
from forumdb_services.storage.base import Store
from forumdb_services.storage.dynamodb import DynamoStore
from forumdb_services.storage.jsonstore import JsonStore

from .conftest import REGION, make_tables

USER_IDS = st.integers(1, 4)
POST_IDS = st.integers(1, 8)
IDS = st.integers(1, 8)
THREADS = st.integers(1, 2)
STAMPS = st.sampled_from([f"2025-01-0{d}T00:00:00.000000Z" for d in (1, 2, 3)])
EMAILS = st.sampled_from(["a@ooo.example", "b@ooo.example"])
VERSIONS = st.none() | st.integers(1, 3)


def outcome(call: Any) -> tuple[str, Any]:
    try:
        result = call()
    except Exception as exc:
        return ("error", type(exc).__name__)
    return ("ok", comparable(result))


def comparable(result: Any) -> Any:
    if isinstance(result, dict):
        return {k: v for k, v in result.items() if k != "updatedAt"}
    if isinstance(result, list):
        return [comparable(r) for r in result]
    return result


def every_page(fetch: Any, limit: int) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page = fetch(limit=limit, cursor=cursor)
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items


class BackendsAgree(RuleBasedStateMachine):
    def __init__(self, json_store: Store, dynamo_store: Store) -> None:
        super().__init__()
        self.stores = (json_store, dynamo_store)

    def both(self, call: Any) -> tuple[str, Any]:
        json_result, dynamo_result = (outcome(lambda s=s: call(s)) for s in self.stores)
        assert json_result == dynamo_result
        return json_result

    @rule(record_id=USER_IDS, email=st.none() | EMAILS, stamp=STAMPS)
    def create_user(self, record_id: int, email: str | None, stamp: str) -> None:
        record = {"id": record_id, "username": f"u{record_id}", "email": email, "createdAt": stamp}
        self.both(lambda s: s.users.create(record))

    @rule(
        posts=st.lists(
            st.tuples(POST_IDS, THREADS, st.none() | USER_IDS, STAMPS), min_size=1, max_size=4
        )
    )
    def create_posts(self, posts: list[tuple[int, int, int | None, str]]) -> None:
        for record_id, thread, user, stamp in posts:
            record = {"id": record_id, "thread": thread, "user": user, "createdAt": stamp}
            self.both(lambda s, record=record: s.posts.create(record))

    @rule(
        kind=st.sampled_from(["users", "posts"]),
        record_id=IDS,
        changes=st.fixed_dictionaries(
            {},
            optional={
                "email": st.none() | EMAILS,
                "user": st.none() | USER_IDS,
                "createdAt": st.none() | STAMPS,
                "text": st.text(max_size=5),
                "thread": THREADS,
            },
        ),
        expected=VERSIONS,
    )
    def update(self, kind: str, record_id: int, changes: dict, expected: int | None) -> None:
        if kind == "users":
            changes.pop("thread", None)
        self.both(
            lambda s: s.collection(kind).update(record_id, changes, expected_version=expected)
        )

    @rule(kind=st.sampled_from(["users", "posts"]), record_id=IDS, expected=VERSIONS)
    def delete(self, kind: str, record_id: int, expected: int | None) -> None:
        self.both(lambda s: s.collection(kind).delete(record_id, expected_version=expected))

    @rule(kind=st.sampled_from(["users", "posts"]), record_id=IDS)
    def get(self, kind: str, record_id: int) -> None:
        self.both(lambda s: s.collection(kind).get(record_id))

    @rule(thread=THREADS, limit=st.integers(1, 4), newest_first=st.booleans())
    def read_thread(self, thread: int, limit: int, newest_first: bool) -> None:
        self.both(
            lambda s: every_page(
                lambda limit, cursor: posts_in_thread(s.posts, thread, limit, cursor, newest_first),
                limit,
            )
        )

    @rule(user=USER_IDS, limit=st.integers(1, 4))
    def read_user_posts(self, user: int, limit: int) -> None:
        self.both(lambda s: every_page(lambda **kw: posts_by_user(s.posts, user, **kw), limit))

    @rule(email=EMAILS)
    def find_user(self, email: str) -> None:
        self.both(lambda s: user_by_email(s.users, email))

    @rule(kind=st.sampled_from(["users", "posts"]), limit=st.integers(1, 4))
    def list_all(self, kind: str, limit: int) -> None:
        # List order is each backend's own (id order, Scan order): compare as sets.
        def ids(s: Store) -> list[int]:
            found = [r["id"] for r in every_page(s.collection(kind).list, limit)]
            assert len(found) == len(set(found))
            return sorted(found)

        self.both(ids)


def test_backends_agree(tmp_path: Path, moto_client: Any) -> None:
    runs = itertools.count()

    def machine() -> BackendsAgree:
        n = next(runs)
        json_store = JsonStore(tmp_path / f"run{n}")
        names = make_tables(moto_client, f"agree{n}-")
        return BackendsAgree(json_store, DynamoStore(names, region=REGION, client=moto_client))

    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
