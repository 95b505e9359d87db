"""A record as GET gives it can go back in a PUT or PATCH: read-only fields (`id`,
`createdAt`, `updatedAt`, a thread's `createdBy`, a post's `thread` and `user`) are taken
when unchanged, and refused by name when changed (400; a stale `updatedAt` is 409)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import Forum


def _records(forum: Forum) -> dict[str, tuple[FlaskClient, dict[str, Any]]]:
    user = forum.user("finn", name="Finn", email="finn@ooo.land")
    thread = forum.thread(user["id"])
    post = forum.post(thread["id"], user["id"])
    return {
        "users": (forum.users, user),
        "threads": (forum.threads, thread),
        "posts": (forum.posts, post),
    }


# The field a client edits in each kind, and a new value for it.
EDIT = {"users": ("bio", "Adventurer"), "threads": ("title", "Party!"), "posts": ("text", "Yes")}
READ_ONLY = {
    "users": ("id", "createdAt", "updatedAt"),
    "threads": ("id", "createdAt", "updatedAt", "createdBy"),
    "posts": ("id", "createdAt", "updatedAt", "thread", "user"),
}


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_get_then_write_back_succeeds(forum: Forum, method: str) -> None:
    for kind, (client, made) in _records(forum).items():
        url = f"/api/{kind}/{made['id']}"
        body = client.get(url).get_json()
        field, value = EDIT[kind]
        body[field] = value
        response = client.open(url, method=method, json=body)
        assert response.status_code == 200, (kind, response.get_json())
        updated = response.get_json()
        assert updated[field] == value
        assert updated["version"] == made["version"] + 1
        for name in READ_ONLY[kind]:
            if name != "updatedAt":
                assert updated[name] == made[name], (kind, name)


def test_a_changed_read_only_field_is_a_400_naming_it(forum: Forum) -> None:
    records = _records(forum)
    changes: dict[str, Any] = {
        "id": 999,
        "createdAt": "2001-01-01T00:00:00.000000Z",
        "createdBy": 424242,
        "thread": 424242,
        "user": 424242,
    }
    for kind, (client, made) in records.items():
        url = f"/api/{kind}/{made['id']}"
        for name in READ_ONLY[kind]:
            if name == "updatedAt":
                continue
            body = {**client.get(url).get_json(), name: changes[name]}
            response = client.put(url, json=body)
            assert response.status_code == 400, (kind, name, response.get_json())
            error = response.get_json()["error"]
            assert error["code"] == "read_only_field"
            assert error["field"] == name
            assert error["message"].startswith(f"{name}: is read-only")
        assert client.get(url).get_json() == made  # nothing written


def test_true_is_not_the_id_one(forum: Forum) -> None:
    client, made = _records(forum)["users"]
    body = {**client.get(f"/api/users/{made['id']}").get_json(), "id": True}
    response = client.put(f"/api/users/{made['id']}", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "id"


def test_a_stale_updated_at_is_a_conflict(forum: Forum) -> None:
    client, made = _records(forum)["users"]
    url = f"/api/users/{made['id']}"
    stale = client.get(url).get_json()
    assert client.patch(url, json={"bio": "changed meanwhile"}).status_code == 200
    del stale["version"]  # the version alone would say it too
    response = client.put(url, json={**stale, "bio": "mine"})
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"]["field"] == "updatedAt"
    assert client.get(url).get_json()["bio"] == "changed meanwhile"


def test_fields_the_record_does_not_have_stay_unknown(forum: Forum) -> None:
    client, made = _records(forum)["users"]
    url = f"/api/users/{made['id']}"
    response = client.put(url, json={**client.get(url).get_json(), "nickname": "x"})
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "nickname"


def test_a_write_back_to_a_missing_record_is_404(forum: Forum) -> None:
    client, made = _records(forum)["users"]
    body = client.get(f"/api/users/{made['id']}").get_json()
    assert client.put("/api/users/987654", json=body).status_code == 404
