"""Every route of the three services through Flask's test client, in both storage modes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import Forum

RECORD_META = {"id", "createdAt", "updatedAt", "version"}


def _next_link(response) -> str | None:
    link = response.headers.get("Link")
    if link is None:
        return None
    assert link.endswith('>; rel="next"')
    return link[1 : link.index(">")]


def test_greetings_and_health(forum: Forum) -> None:
    for service in ("users", "threads", "posts"):
        client = forum.client(service)
        api = client.get("/api/")
        assert api.status_code == 200
        assert api.get_data(as_text=True) == "API ready to receive requests"
        assert api.mimetype == "text/plain"
        assert client.get("/").get_data(as_text=True) == "Ready to receive requests"
        assert client.get("/healthz").get_json() == {"status": "ok", "service": service}


def test_user_crud(forum: Forum) -> None:
    created = forum.users.post(
        "/api/users",
        json={"username": "finn", "name": "Finn Mertens", "bio": "hero", "email": "finn@ooo.land"},
    )
    assert created.status_code == 201
    user = created.get_json()
    assert set(user) == RECORD_META | {"username", "name", "bio", "email"}
    assert user["version"] == 1
    assert isinstance(user["id"], int)
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"/api/users/{user['id']}"

    got = forum.users.get(f"/api/users/{user['id']}")
    assert got.status_code == 200
    assert got.get_json() == user
    assert got.headers["ETag"] == '"1"'

    patched = forum.users.patch(f"/api/users/{user['id']}", json={"bio": "adventurer"})
    assert patched.status_code == 200
    assert patched.get_json()["bio"] == "adventurer"
    assert patched.get_json()["name"] == "Finn Mertens"
    assert patched.get_json()["version"] == 2
    assert patched.headers["ETag"] == '"2"'

    # PUT replaces: the optional fields it leaves out are gone.
    replaced = forum.users.put(f"/api/users/{user['id']}", json={"username": "finn2"})
    assert replaced.status_code == 200
    body = replaced.get_json()
    assert body["username"] == "finn2"
    assert "name" not in body
    assert "bio" not in body
    assert "email" not in body
    assert body["version"] == 3

    # PATCH with null removes an optional field.
    forum.users.patch(f"/api/users/{user['id']}", json={"name": "N"})
    nulled = forum.users.patch(f"/api/users/{user['id']}", json={"name": None})
    assert "name" not in nulled.get_json()

    deleted = forum.users.delete(f"/api/users/{user['id']}")
    assert deleted.status_code == 204
    assert deleted.get_data() == b""
    assert forum.users.get(f"/api/users/{user['id']}").status_code == 404


def test_user_lookup_by_email(forum: Forum) -> None:
    finn = forum.user("finn", email="finn@ooo.land")
    forum.user("jake", email="jake@ooo.land")
    by_path = forum.users.get("/api/users/by-email/finn@ooo.land")
    assert by_path.status_code == 200
    assert by_path.get_json() == finn
    by_query = forum.users.get("/api/users", query_string={"email": "finn@ooo.land"})
    assert by_query.status_code == 200
    assert by_query.get_json() == [finn]
    assert forum.users.get("/api/users", query_string={"email": "no@ooo.land"}).get_json() == []
    missing = forum.users.get("/api/users/by-email/no@ooo.land")
    assert missing.status_code == 404
    assert "no@ooo.land" in missing.get_json()["error"]["message"]


def test_email_must_be_unique(forum: Forum) -> None:
    finn = forum.user("finn", email="finn@ooo.land")
    jake = forum.user("jake", email="jake@ooo.land")
    dup = forum.users.post("/api/users", json={"username": "x", "email": "finn@ooo.land"})
    assert dup.status_code == 409
    assert dup.get_json()["error"]["field"] == "email"
    taken = forum.users.patch(f"/api/users/{jake['id']}", json={"email": "finn@ooo.land"})
    assert taken.status_code == 409
    # Keeping one's own address is not a conflict.
    same = forum.users.put(
        f"/api/users/{finn['id']}", json={"username": "f", "email": "finn@ooo.land"}
    )
    assert same.status_code == 200


def test_user_list_paginates(forum: Forum) -> None:
    made = {forum.user(f"user{i}")["id"] for i in range(7)}
    seen: list[int] = []
    url: str | None = "/api/users?limit=3"
    pages = 0
    while url:
        response = forum.users.get(url)
        assert response.status_code == 200
        body = response.get_json()
        assert isinstance(body, list)
        assert len(body) <= 3
        seen += [u["id"] for u in body]
        url = _next_link(response)
        if url:
            assert response.headers["X-Next-Cursor"] == parse_qs(urlsplit(url).query)["cursor"][0]
            assert parse_qs(urlsplit(url).query)["limit"] == ["3"]
        pages += 1
    assert pages == 3
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(made)


def test_default_page_is_50(json_forum: Forum) -> None:
    for i in range(51):
        json_forum.user(f"u{i}")
    first = json_forum.users.get("/api/users")
    assert len(first.get_json()) == 50
    assert "X-Next-Cursor" in first.headers
    rest = json_forum.users.get(_next_link(first))
    assert len(rest.get_json()) == 1
    assert "Link" not in rest.headers
    assert "X-Next-Cursor" not in rest.headers


def test_thread_crud_and_newest_first(forum: Forum) -> None:
    jake = forum.user("jake")
    first = forum.thread(jake["id"], "first")
    second = forum.thread(jake["id"], "second")
    third = forum.thread(jake["id"], "third")
    assert set(first) == RECORD_META | {"title", "createdBy"}
    listed = forum.threads.get("/api/threads").get_json()
    assert [t["id"] for t in listed] == [third["id"], second["id"], first["id"]]
    page = forum.threads.get("/api/threads?limit=2")
    assert [t["id"] for t in page.get_json()] == [third["id"], second["id"]]
    rest = forum.threads.get(_next_link(page))
    assert [t["id"] for t in rest.get_json()] == [first["id"]]

    got = forum.threads.get(f"/api/threads/{second['id']}")
    assert got.get_json() == second
    renamed = forum.threads.put(f"/api/threads/{second['id']}", json={"title": "renamed"})
    assert renamed.get_json()["title"] == "renamed"
    assert renamed.get_json()["createdBy"] == jake["id"]
    patched = forum.threads.patch(f"/api/threads/{second['id']}", json={"title": "again"})
    assert patched.get_json()["version"] == 3
    assert forum.threads.delete(f"/api/threads/{second['id']}").status_code == 204
    listed = forum.threads.get("/api/threads").get_json()
    assert [t["id"] for t in listed] == [third["id"], first["id"]]


def test_post_crud_and_lookups(forum: Forum) -> None:
    finn, jake = forum.user("finn"), forum.user("jake")
    lich = forum.thread(jake["id"], "lich")
    party = forum.thread(finn["id"], "party")
    p1 = forum.post(lich["id"], jake["id"], "anyone?")
    p2 = forum.post(lich["id"], finn["id"], "tomorrow")
    p3 = forum.post(party["id"], finn["id"], "party!")
    assert set(p1) == RECORD_META | {"thread", "user", "text"}
    assert (p1["thread"], p1["user"]) == (lich["id"], jake["id"])

    in_thread = forum.posts.get(f"/api/posts/in-thread/{lich['id']}").get_json()
    assert [p["id"] for p in in_thread] == [p1["id"], p2["id"]]  # oldest first
    by_user = forum.posts.get(f"/api/posts/by-user/{finn['id']}").get_json()
    assert [p["id"] for p in by_user] == [p3["id"], p2["id"]]  # newest first
    assert forum.posts.get("/api/posts/in-thread/999").get_json() == []
    assert forum.posts.get("/api/posts/by-user/999").get_json() == []
    paged = forum.posts.get(f"/api/posts/by-user/{finn['id']}?limit=1")
    assert [p["id"] for p in paged.get_json()] == [p3["id"]]
    assert [p["id"] for p in forum.posts.get(_next_link(paged)).get_json()] == [p2["id"]]
    everything = forum.posts.get("/api/posts").get_json()
    assert sorted(p["id"] for p in everything) == sorted([p1["id"], p2["id"], p3["id"]])

    assert forum.posts.get(f"/api/posts/{p2['id']}").get_json() == p2
    edited = forum.posts.patch(f"/api/posts/{p2['id']}", json={"text": "today"})
    assert edited.get_json()["text"] == "today"
    assert edited.get_json()["thread"] == lich["id"]
    replaced = forum.posts.put(f"/api/posts/{p2['id']}", json={"text": "now"})
    assert replaced.get_json()["version"] == 3
    assert forum.posts.delete(f"/api/posts/{p2['id']}").status_code == 204
    in_thread = forum.posts.get(f"/api/posts/in-thread/{lich['id']}").get_json()
    assert [p["id"] for p in in_thread] == [p1["id"]]


def test_create_with_given_id(forum: Forum) -> None:
    made = forum.users.post("/api/users", json={"id": 42, "username": "given"})
    assert made.status_code == 201
    assert made.get_json()["id"] == 42
    again = forum.users.post("/api/users", json={"id": 42, "username": "other"})
    assert again.status_code == 409
    assert again.get_json()["error"] == {
        "code": "already_exists",
        "message": "users 42 already exists",
        "field": "id",
    }


@pytest.mark.parametrize("how", ["if-match", "body"])
def test_optimistic_concurrency(forum: Forum, how: str) -> None:
    user = forum.user("finn")
    url = f"/api/users/{user['id']}"

    def conditional_patch(version: int, bio: str):
        if how == "if-match":
            return forum.users.patch(url, json={"bio": bio}, headers={"If-Match": f'"{version}"'})
        return forum.users.patch(url, json={"bio": bio, "version": version})

    assert conditional_patch(1, "first").status_code == 200
    stale = conditional_patch(1, "lost update")
    assert stale.status_code == 409
    assert stale.get_json()["error"]["code"] == "version_conflict"
    assert forum.users.get(url).get_json()["bio"] == "first"

    if how == "if-match":
        stale_delete = forum.users.delete(url, headers={"If-Match": '"1"'})
        ok_delete = lambda: forum.users.delete(url, headers={"If-Match": '"2"'})  # noqa: E731
    else:
        stale_delete = forum.users.delete(url, json={"version": 1})
        ok_delete = lambda: forum.users.delete(url, json={"version": 2})  # noqa: E731
    assert stale_delete.status_code == 409
    assert forum.users.get(url).status_code == 200
    assert ok_delete().status_code == 204


def test_if_match_star_and_weak_tags(forum: Forum) -> None:
    user = forum.user("finn")
    url = f"/api/users/{user['id']}"
    assert forum.users.patch(url, json={"bio": "a"}, headers={"If-Match": "*"}).status_code == 200
    weak = forum.users.patch(url, json={"bio": "b"}, headers={"If-Match": 'W/"2"'})
    assert weak.status_code == 200


def test_if_none_match_gives_304(forum: Forum) -> None:
    user = forum.user("finn")
    url = f"/api/users/{user['id']}"
    cached = forum.users.get(url, headers={"If-None-Match": '"1"'})
    assert cached.status_code == 304
    assert cached.headers["ETag"] == '"1"'
    # Weak comparison, as If-None-Match asks for.
    assert forum.users.get(url, headers={"If-None-Match": 'W/"1"'}).status_code == 304
    forum.users.patch(url, json={"bio": "changed"})
    assert forum.users.get(url, headers={"If-None-Match": '"1"'}).status_code == 200


def test_services_serve_only_their_own_kind(forum: Forum) -> None:
    assert forum.users.get("/api/threads").status_code == 404
    assert forum.threads.get("/api/posts/in-thread/1").status_code == 404
    assert forum.posts.get("/api/users").status_code == 404
