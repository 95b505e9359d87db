"""What only the DynamoDB backend has: which calls it makes, how AWS errors surface, a
concurrent writer between its read and its conditional write, cheap construction."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from forumdb import aws
from forumdb.config import Settings
from forumdb_services.storage import (
    AlreadyExists,
    NotFound,
    StoreUnavailable,
    VersionConflict,
    guards,
    open_store,
    posts_by_user,
    posts_in_thread,
    threads_newest_first,
    user_by_email,
)
from forumdb_services.storage.base import encode_cursor
from forumdb_services.storage.dynamodb import DynamoStore

from .conftest import REGION


@pytest.fixture
def calls(moto_client: Any) -> Iterator[list[str]]:
    """The names of the DynamoDB operations the client sends, in order."""
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(model.name)

    moto_client.meta.events.register("before-call.dynamodb", record)
    yield seen
    moto_client.meta.events.unregister("before-call.dynamodb", record)


def test_lookups_are_queries_never_scans(dynamodb_store: DynamoStore, calls: list[str]) -> None:
    store = dynamodb_store
    user = store.users.create({"username": "pb", "email": "pb@candy.example"})
    store.threads.create({"title": "t"})
    post = store.posts.create({"thread": 1, "user": user["id"], "text": "hi"})
    lookups = {
        "user by e-mail": lambda: user_by_email(store.users, "pb@candy.example"),
        "threads newest first": lambda: threads_newest_first(store.threads),
        "posts in a thread": lambda: posts_in_thread(store.posts, 1),
        "posts by a user": lambda: posts_by_user(store.posts, user["id"]),
        "post by id": lambda: store.posts.get(post["id"]),
    }
    for name, lookup in lookups.items():
        calls.clear()
        lookup()
        assert calls == ["Query"], name
    calls.clear()
    store.users.get(user["id"])
    assert calls == ["GetItem"]
    calls.clear()
    store.users.list()
    assert calls == ["Scan"]


def test_a_page_is_filled_by_as_few_calls_as_possible(
    dynamodb_store: DynamoStore, calls: list[str]
) -> None:
    for i in range(7):
        dynamodb_store.posts.create({"thread": 1, "text": str(i)})
    calls.clear()
    page = posts_in_thread(dynamodb_store.posts, 1, limit=5)
    assert len(page.items) == 5
    assert calls == ["Query"]


def test_a_missing_table_is_unavailable_naming_table_and_region(moto_client: Any) -> None:
    names = {"users": "nope-Users", "threads": "nope-Threads", "posts": "nope-Posts"}
    store = DynamoStore(names, region=REGION, client=moto_client)
    with pytest.raises(StoreUnavailable) as err:
        store.users.get(1)
    assert "nope-Users" in str(err.value)
    assert REGION in str(err.value)
    health = store.posts.health()
    assert not health.ok
    assert "nope-Posts" in health.detail
    assert REGION in health.detail


def test_health_describes_the_table(dynamodb_store: DynamoStore, calls: list[str]) -> None:
    health = dynamodb_store.threads.health()
    assert health.ok
    assert health.info["status"] == "ACTIVE"
    assert calls == ["DescribeTable"]


def test_no_region_is_unavailable_naming_the_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    store = DynamoStore({"users": "U", "threads": "T", "posts": "P"})
    with pytest.raises(StoreUnavailable, match=r"table T: .*region"):
        store.threads.list()
    assert not store.threads.health().ok


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_endpoint_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Credentials must exist for botocore to get as far as connecting.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    client = aws.client(
        "dynamodb",
        REGION,
        f"http://127.0.0.1:{_closed_port()}",
        config=aws.client_config(max_attempts=1, connect_timeout=1),
    )
    store = DynamoStore({"users": "U", "threads": "T", "posts": "P"}, client=client)
    with pytest.raises(StoreUnavailable, match=rf"table U in region {REGION}.*(onnect|refused)"):
        store.users.get(1)
    assert not store.users.health().ok


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def throttle(client: Any, times: int) -> list[int]:
    """Answer the next `times` HTTP attempts with a throttling error, below botocore's retry
    loop (a Stubber would answer above it); returns the attempt counter."""
    attempts: list[int] = []
    body = b'{"__type":"ProvisionedThroughputExceededException","message":"slow down"}'

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        attempts.append(1)
        if len(attempts) > times:
            return None
        return AWSResponse(request.url, 400, {"x-amzn-requestid": "t"}, _Body(body))

    client.meta.events.register_first("before-send.dynamodb", answer)
    return attempts


def test_throttling_is_retried_by_botocore_then_unavailable(
    moto_client: Any, table_names: dict[str, str]
) -> None:
    # botocore's `max_attempts` counts retries: 1 means two attempts in all.
    moto_client.put_item(TableName=table_names["users"], Item={"userId": {"N": "1"}})
    client = aws.client("dynamodb", REGION, config=aws.client_config(max_attempts=1))
    store = DynamoStore(table_names, client=client)
    attempts = throttle(client, 1)
    assert store.users.get(1) == {"id": 1}
    assert len(attempts) == 2

    client = aws.client("dynamodb", REGION, config=aws.client_config(max_attempts=1))
    store = DynamoStore(table_names, client=client)
    attempts = throttle(client, 2)
    with pytest.raises(StoreUnavailable, match=r"Users in region us-east-1.*ProvisionedThroughput"):
        store.users.get(1)
    assert len(attempts) == 2


def _interleave(store: DynamoStore, kind: str, meddle: Any) -> None:
    """Run `meddle` right after the next read of `kind`, as a concurrent writer would."""
    coll = store.collection(kind)
    real_find = coll._find

    def find_then_meddle(record_id: int) -> Any:
        found = real_find(record_id)
        coll._find = real_find  # once
        meddle()
        return found

    coll._find = find_then_meddle  # type: ignore[method-assign]


def test_a_concurrent_update_is_never_lost(
    dynamodb_store: DynamoStore, moto_client: Any, table_names: dict[str, str]
) -> None:
    user = dynamodb_store.users.create({"username": "finn"})
    other = DynamoStore(table_names, client=moto_client)
    _interleave(dynamodb_store, "users", lambda: other.users.update(user["id"], {"bio": "theirs"}))
    with pytest.raises(VersionConflict) as err:
        dynamodb_store.users.update(user["id"], {"bio": "mine"})
    assert (err.value.expected, err.value.actual) == (1, 2)
    assert dynamodb_store.users.get(user["id"])["bio"] == "theirs"


def test_a_concurrent_delete_is_reported(
    dynamodb_store: DynamoStore, moto_client: Any, table_names: dict[str, str]
) -> None:
    post = dynamodb_store.posts.create({"thread": 2, "text": "x"})
    other = DynamoStore(table_names, client=moto_client)
    _interleave(dynamodb_store, "posts", lambda: other.posts.delete(post["id"]))
    with pytest.raises(NotFound):
        dynamodb_store.posts.delete(post["id"])


def test_records_without_version_can_be_updated(
    dynamodb_store: DynamoStore, moto_client: Any, table_names: dict[str, str]
) -> None:
    moto_client.put_item(
        TableName=table_names["users"], Item={"userId": {"N": "3"}, "username": {"S": "old"}}
    )
    updated = dynamodb_store.users.update(3, {"bio": "b"})
    assert updated["version"] == 1
    assert dynamodb_store.users.get(3)["bio"] == "b"


def test_an_item_too_large_is_a_value_error(dynamodb_store: DynamoStore) -> None:
    with pytest.raises(ValueError, match="Users"):
        dynamodb_store.users.create({"username": "big", "bio": "x" * 500_000})


def test_from_settings_is_cheap_and_uses_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        STORAGE_MODE="dynamodb",
        TABLE_PREFIX="blue-",
        POSTS_TABLE="custom-posts",
        AWS_REGION="eu-west-1",
        AWS_ENDPOINT_URL="http://127.0.0.1:1",
    )
    made: list[Any] = []
    monkeypatch.setattr(aws, "client", lambda *a, **k: made.append(a) or object())
    store = open_store(settings)
    assert isinstance(store, DynamoStore)
    assert made == [], "no client, so no network call, until the store is used"
    assert store.users.table_name == "blue-Users"
    assert store.posts.table_name == "custom-posts"
    assert (store.region, store.endpoint_url) == ("eu-west-1", "http://127.0.0.1:1")


def test_service_clients_give_up_within_a_request_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # gunicorn kills a worker after 30 s; botocore's standard back-off caps at 20 s per retry.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    store = DynamoStore({"users": "U", "threads": "T", "posts": "P"}, region=REGION)
    config = store.client().meta.config
    attempts = config.retries["total_max_attempts"]  # botocore's normalised form
    assert attempts <= 4
    worst_case = attempts * (config.connect_timeout + config.read_timeout) + sum(
        min(2**n, 20) for n in range(attempts - 1)
    )
    assert worst_case < 30


@pytest.mark.parametrize(
    ("service", "route"),
    [
        ("users", "/api/users"),
        ("threads", "/api/threads"),
        ("posts", "/api/posts/in-thread/1"),
        ("posts", "/api/posts/by-user/1"),
    ],
)
@pytest.mark.parametrize(
    ("field", "value"),
    [("id", 10**39 + 7), ("r", "2" * 1100)],
    ids=["id-of-40-digits", "sort-key-of-1100-bytes"],
)
def test_a_forged_cursor_answers_400_on_every_list_route(
    dynamodb_store: DynamoStore,
    monkeypatch: pytest.MonkeyPatch,
    service: str,
    route: str,
    field: str,
    value: Any,
) -> None:
    """A real cursor of the route with its id (more digits than DynamoDB's 38) or its
    sort key (past DynamoDB's 1024 bytes) forged: a 400 naming the cursor, never a 500."""
    from forumdb.config import SettingsWatcher
    from forumdb_services.api.app import create_app

    for name in ("FORUMDB_CONFIG_DIR", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(name, raising=False)
    for i in (1, 2, 3):
        dynamodb_store.users.create({"id": i, "username": f"u{i}"})
        dynamodb_store.threads.create({"id": i, "title": f"t{i}", "createdBy": 1})
        dynamodb_store.posts.create({"id": i, "thread": 1, "user": 1, "text": f"p{i}"})
    app = create_app(service, SettingsWatcher(STORAGE_MODE="dynamodb"), store=dynamodb_store)
    client = app.test_client()
    first = client.get(f"{route}?limit=1")
    assert first.status_code == 200
    data = json.loads(base64.urlsafe_b64decode(first.headers["X-Next-Cursor"] + "=="))
    if field not in data["p"]:
        pytest.skip(f"{route}'s cursor has no {field!r}")
    data["p"][field] = value
    forged = encode_cursor(data["s"], data["p"])
    response = client.get(f"{route}?limit=1&cursor={forged}")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["field"] == "cursor"


def test_unique_values_are_written_with_their_guard_in_one_transaction(
    dynamodb_store: DynamoStore, calls: list[str]
) -> None:
    store = dynamodb_store
    steps = {
        "post": (lambda: store.posts.create({"id": 5, "thread": 1, "text": "x"}),
                 ["Query", "TransactWriteItems"]),
        "user without e-mail": (lambda: store.users.create({"id": 1}), ["PutItem"]),
        "user with e-mail": (lambda: store.users.create({"id": 2, "email": "a@ooo.example"}),
                             ["Query", "TransactWriteItems"]),
        "same e-mail": (lambda: store.users.update(2, {"bio": "b"}), ["GetItem", "PutItem"]),
        "new e-mail": (lambda: store.users.update(2, {"email": "b@ooo.example"}),
                       ["GetItem", "Query", "TransactWriteItems"]),
        "post delete": (lambda: store.posts.delete(5), ["Query", "TransactWriteItems"]),
        "user delete": (lambda: store.users.delete(2), ["GetItem", "TransactWriteItems"]),
    }  # fmt: skip
    for name, (step, expected) in steps.items():
        calls.clear()
        step()
        assert calls == expected, name


def raw_items(store: DynamoStore, kind: str) -> list[dict[str, Any]]:
    table = store.collection(kind).table_name
    return store.client().scan(TableName=table, ConsistentRead=True)["Items"]


def test_guards_are_invisible_to_every_read_of_the_store(dynamodb_store: DynamoStore) -> None:
    store = dynamodb_store
    users = [
        store.users.create({"username": f"u{i}", "email": f"u{i}@ooo.example"}) for i in range(4)
    ]
    posts = [
        store.posts.create({"thread": 1 + i % 2, "user": users[0]["id"], "text": str(i)})
        for i in range(7)
    ]
    for kind, made in (("users", users), ("posts", posts)):
        items = raw_items(store, kind)
        found = [i for i in items if guards.is_guard_item(i)]
        assert len(found) == len(made), f"one guard per {kind[:-1]}"
        table = store.collection(kind).table
        for guard in found:
            assert int(guard[table.hash_key.name]["N"]) < 0, "a key no record can have"
            for idx in table.indexes:  # an item lacking a key attribute is not in the GSI
                assert not {a.name for a in idx.key_attrs} <= set(guard), idx.name
        want = sorted(r["id"] for r in made)
        for limit in (1, 2, 3, 50):
            pages = all_pages(store.collection(kind).list, limit)
            assert sorted(r["id"] for r in pages) == want, (kind, limit)
    assert len(posts_in_thread(store.posts, 1).items) == 4
    assert len(posts_by_user(store.posts, users[0]["id"]).items) == 7
    assert user_by_email(store.users, "u1@ooo.example") == users[1]


def all_pages(fetch: Any, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = fetch(limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items


def test_a_guard_left_without_its_record_is_taken_over(dynamodb_store: DynamoStore) -> None:
    """forumctl (or a script) deletes a post or a user without their guard: the id and the
    e-mail are free all the same."""
    store = dynamodb_store
    client = store.client()
    store.posts.create({"id": 9, "thread": 1, "text": "a"})
    client.delete_item(
        TableName=store.posts.table_name, Key={"postId": {"N": "9"}, "threadId": {"N": "1"}}
    )
    assert store.posts.create({"id": 9, "thread": 2, "text": "b"})["thread"] == 2
    user = store.users.create({"username": "a", "email": "e@ooo.example"})
    client.delete_item(TableName=store.users.table_name, Key={"userId": {"N": str(user["id"])}})
    again = store.users.create({"username": "b", "email": "e@ooo.example"})
    assert user_by_email(store.users, "e@ooo.example")["id"] == again["id"]
    # Only one guard each, now the new records'.
    for kind in ("users", "posts"):
        assert len([i for i in raw_items(store, kind) if guards.is_guard_item(i)]) == 1
    with pytest.raises(AlreadyExists):
        store.posts.create({"id": 9, "thread": 3, "text": "c"})
    with pytest.raises(AlreadyExists):
        store.users.create({"username": "c", "email": "e@ooo.example"})


def test_a_user_whose_email_changed_behind_the_store_frees_it(
    dynamodb_store: DynamoStore,
) -> None:
    store = dynamodb_store
    user = store.users.create({"id": 3, "username": "a", "email": "e@ooo.example"})
    store.client().update_item(
        TableName=store.users.table_name,
        Key={"userId": {"N": "3"}},
        UpdateExpression="SET email = :e",
        ExpressionAttributeValues={":e": {"S": "other@ooo.example"}},
    )
    other = store.users.create({"username": "b", "email": "e@ooo.example"})
    assert other["id"] != user["id"]
