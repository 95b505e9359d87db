"""Post ids and e-mails stay unique in DynamoDB mode under real concurrency: threads lined up
on a barrier create one post id in different threads, or give users one e-mail, at once.

Against the emulator in-process (`mock_aws_ext`) and as a server on 127.0.0.1 (`aws`); both
run each request whole before the next (the extension holds one lock around moto's handling
of a call), and moto implements TransactWriteItems as all-or-nothing with its conditions
checked against the table as it is, which is what the guards rely on (AWS: transactions
are serializable with every other write to their items, Amazon DynamoDB Developer Guide,
"Amazon DynamoDB Transactions: How it works").
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from forumdb import aws as forumdb_aws
from forumdb.tables import KINDS, create_table_request, table_def, table_name
from forumdb_emulator import mock_aws_ext
from forumdb_services.storage import AlreadyExists, user_by_email
from forumdb_services.storage.dynamodb import DynamoStore

REGION = "us-east-1"
WRITERS = 6
ROUNDS = 12


@pytest.fixture(params=["in-process", "server"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoStore]:
    if request.param == "server":
        server = request.getfixturevalue("aws")
        client = server.client("dynamodb")
        yield _with_tables(client)
        client.close()
        return
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws_ext():
        client = forumdb_aws.client("dynamodb", REGION)
        yield _with_tables(client)
        client.close()


def _with_tables(client: Any) -> DynamoStore:
    names = {kind: table_name(kind, "race-") for kind in KINDS}
    for kind, name in names.items():
        client.create_table(**create_table_request(table_def(kind), name))
    return DynamoStore(names, region=REGION, client=client)


def race(action: Callable[[int], Any]) -> list[tuple[str, Any]]:
    """`action(i)` in WRITERS threads released together: ("ok", result) or ("exists",
    the AlreadyExists) each; any other error fails the test."""
    barrier = threading.Barrier(WRITERS)
    outcomes: list[tuple[str, Any]] = [("missing", None)] * WRITERS

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = ("ok", action(i))
        except AlreadyExists as exc:
            outcomes[i] = ("exists", exc)
        except Exception as exc:  # reported below, with the others
            outcomes[i] = ("error", exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [o for o in outcomes if o[0] not in ("ok", "exists")] == []
    return outcomes


def posts_with_id(store: DynamoStore, post_id: int) -> list[dict[str, Any]]:
    return store.client().query(
        TableName=store.posts.table_name,
        KeyConditionExpression="postId = :id",
        ExpressionAttributeValues={":id": {"N": str(post_id)}},
        ConsistentRead=True,
    )["Items"]


def test_one_post_id_created_in_many_threads_at_once_is_made_once(store: DynamoStore) -> None:
    for round_ in range(ROUNDS):
        post_id = 1000 + round_
        outcomes = race(
            lambda i, post_id=post_id: store.posts.create(
                {"id": post_id, "thread": i + 1, "text": f"from writer {i}"}
            )
        )
        made = [result for kind, result in outcomes if kind == "ok"]
        assert len(made) == 1, f"round {round_}: {len(made)} creates of post {post_id} succeeded"
        assert all(exc.field == "id" for kind, exc in outcomes if kind == "exists")
        (stored,) = posts_with_id(store, post_id)
        assert stored["threadId"] == {"N": str(made[0]["thread"])}
        assert store.posts.get(post_id) == made[0]


def test_one_email_given_to_many_new_users_at_once_goes_to_one(store: DynamoStore) -> None:
    for round_ in range(ROUNDS):
        email = f"race{round_}@ooo.example"
        outcomes = race(
            lambda i, email=email: store.users.create({"username": f"w{i}", "email": email})
        )
        made = [result for kind, result in outcomes if kind == "ok"]
        assert len(made) == 1, f"round {round_}: {len(made)} users got {email}"
        refused = [exc for kind, exc in outcomes if kind == "exists"]
        assert all(exc.field == "email" and exc.value == email for exc in refused)
        holders = store.users.query("EmailIndex", email, limit=10).items
        assert [u["id"] for u in holders] == [made[0]["id"]]


def test_one_email_taken_by_many_users_at_once_goes_to_one(store: DynamoStore) -> None:
    ids = [
        store.users.create({"username": f"u{i}", "email": f"u{i}@ooo.example"})["id"]
        for i in range(WRITERS)
    ]
    for round_ in range(ROUNDS):
        email = f"wanted{round_}@ooo.example"
        outcomes = race(lambda i, email=email: store.users.update(ids[i], {"email": email}))
        made = [result for kind, result in outcomes if kind == "ok"]
        assert len(made) == 1, f"round {round_}: {len(made)} users took {email}"
        assert user_by_email(store.users, email)["id"] == made[0]["id"]
        assert all(exc.field == "email" for kind, exc in outcomes if kind == "exists")
    # Every e-mail given up is free again: each user takes their first one back.
    for i, user_id in enumerate(ids):
        store.users.update(user_id, {"email": f"u{i}@ooo.example"})
        assert user_by_email(store.users, f"u{i}@ooo.example")["id"] == user_id


def test_a_guard_left_behind_is_taken_over_by_one_writer(store: DynamoStore) -> None:
    """Posts deleted behind the store's back leave their guards; writers racing to reuse
    one of those ids take the guard over one at a time: one wins."""
    client = store.client()
    for round_ in range(ROUNDS):
        post_id = 2000 + round_
        store.posts.create({"id": post_id, "thread": 99, "text": "old"})
        client.delete_item(
            TableName=store.posts.table_name,
            Key={"postId": {"N": str(post_id)}, "threadId": {"N": "99"}},
        )
        outcomes = race(
            lambda i, post_id=post_id: store.posts.create(
                {"id": post_id, "thread": i + 1, "text": f"from writer {i}"}
            )
        )
        made = [result for kind, result in outcomes if kind == "ok"]
        assert len(made) == 1, f"round {round_}: {len(made)} creates of post {post_id} succeeded"
        assert len(posts_with_id(store, post_id)) == 1
