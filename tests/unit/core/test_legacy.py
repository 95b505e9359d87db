"""Reading the classic sample's db.json files: deterministic ids and timestamps."""

from types import SimpleNamespace

import pytest

from forumdb import ids as ids_module
from forumdb.ids import MAX_ID, legacy_created_at, new_id
from forumdb.legacy import LegacyFormatError, normalize_document

SAMPLE_POSTS = {
    "posts": [
        {"thread": 1, "text": "first", "user": 4},
        {"thread": "1", "text": "second", "user": 2},
    ]
}


def test_posts_without_ids_get_their_position():
    posts = list(normalize_document("posts", SAMPLE_POSTS))
    assert [p["id"] for p in posts] == [1, 2]
    assert posts[1]["thread"] == 1  # numeric strings become integers
    assert posts[0]["createdAt"] == legacy_created_at(1) < posts[1]["createdAt"]
    assert posts[0]["version"] == 1


def test_normalising_twice_gives_the_same_records():
    assert list(normalize_document("posts", SAMPLE_POSTS)) == list(
        normalize_document("posts", SAMPLE_POSTS)
    )


def test_unknown_fields_are_kept_and_given_fields_win():
    doc = {
        "users": [
            {
                "id": 1,
                "username": "a",
                "name": "A",
                "bio": "b",
                "karma": 3,
                "createdAt": "2020-01-01T00:00:00.000000Z",
            }
        ]
    }
    (user,) = normalize_document("users", doc)
    assert user["karma"] == 3
    assert user["createdAt"] == "2020-01-01T00:00:00.000000Z"


@pytest.mark.parametrize(
    ("kind", "doc", "message"),
    [
        ("users", {"users": [{"username": "x"}]}, r"users\[0\]: field 'id' is missing"),
        ("threads", {"threads": [{"id": 1, "createdBy": "bob"}]}, r"threads\[0\].createdBy"),
        ("users", {"people": []}, "top-level key 'users'"),
        ("posts", {"posts": {"thread": 1}}, "expected a list"),
        ("posts", {"posts": ["text"]}, r"posts\[0\]: expected an object"),
        ("users", {"users": [{"id": True}]}, r"users\[0\].id"),
        # str.isdigit() takes a superscript two; int() does not
        ("users", {"users": [{"id": "\u00b2"}]}, r"users\[0\].id: expected an integer"),
        # a field named like a key attribute would re-key the record in DynamoDB
        ("users", {"users": [{"id": 900, "userId": 901}]}, r"users\[0\].userId \(record id 900\)"),
        ("posts", {"posts": [{"id": 1, "thread": 1, "threadId": 2}]}, r"posts\[0\].threadId"),
        ("threads", {"threads": [{"id": 1, "entity": "x"}]}, r"threads\[0\].entity"),
    ],
)
def test_bad_files_name_the_position_and_field(kind, doc, message):
    with pytest.raises(LegacyFormatError, match=message):
        list(normalize_document(kind, doc))


def test_new_ids_are_safe_integers_and_time_ordered():
    ids = [new_id() for _ in range(2000)]  # many share a millisecond
    assert all(0 < i <= MAX_ID for i in ids)
    assert ids == sorted(set(ids)), "one process's ids strictly increase"


def test_new_ids_keep_increasing_when_the_clock_steps_back(monkeypatch):
    first = new_id()
    # Only the ids module's clock goes back (to 2020-09), not the whole time module.
    monkeypatch.setattr(ids_module, "time", SimpleNamespace(time=lambda: 1_600_000_000.0))
    later = [new_id() for _ in range(50)]
    assert first < later[0]
    assert later == sorted(set(later))


def test_records_written_by_the_services_keep_their_ids_and_timestamps():
    rid = new_id()
    doc = {
        "threads": [
            {
                "id": rid,
                "title": "t",
                "createdBy": 1,
                "createdAt": "2026-11-25T10:00:00.000000Z",
                "version": 3,
            }
        ]
    }
    (thread,) = normalize_document("threads", doc)
    assert (thread["id"], thread["createdAt"], thread["version"]) == (
        rid,
        "2026-11-25T10:00:00.000000Z",
        3,
    )
    assert thread["updatedAt"] == thread["createdAt"]
