"""Classic db.json files with odd values: refused at load, naming the file, the record and
the field (the services answer 503), or served; never a 500 and never invalid JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forumdb.config import SettingsWatcher
from forumdb.ids import MAX_ID
from forumdb.legacy import LegacyFormatError, normalize_document
from forumdb_services.storage import StoreUnavailable
from forumdb_services.storage.jsonstore import JsonStore

WRITTEN = {"createdAt": "2025-01-01T00:00:00.000000Z", "updatedAt": "2025-01-01T00:00:00.000000Z"}

# (case, kind, the db.json text, what the error names: record and field)
REFUSED = [
    ("id past the dates", "users", '{"users": [{"id": 300000000000, "username": "x"}]}',
     r"users\[0\]\.createdAt \(record id 300000000000\)"),
    ("version not a number", "users", '{"users": [{"id": 1, "version": "abc"}]}',
     r"users\[0\]\.version \(record id 1\)"),
    ("version 0", "users", '{"users": [{"id": 1, "version": 0}]}', r"users\[0\]\.version"),
    ("version true", "users", '{"users": [{"id": 1, "version": true}]}', r"users\[0\]\.version"),
    ("NaN bio", "users", '{"users": [{"id": 1, "bio": NaN}]}', r"users\[0\]\.bio.*NaN"),
    ("Infinity deep inside", "threads",
     '{"threads": [{"id": 1}, {"id": 2, "meta": {"scores": [1, -Infinity]}}]}',
     r"threads\[1\]\.meta\.scores\[1\] \(record id 2\).*-Infinity"),
    ("lone surrogate", "users", '{"users": [{"id": 1, "bio": "a\\ud800b"}]}',
     r"users\[0\]\.bio.*surrogate"),
    ("lone surrogate in a field name", "users", '{"users": [{"id": 1, "\\udc00": 1}]}',
     r"users\[0\] field name.*surrogate"),
    ("surrogate as raw bytes", "users", b'{"users": [{"id": 1, "bio": "\xed\xa0\x80"}]}',
     r"utf-8"),
    ("negative id", "users", '{"users": [{"id": -3}]}', r"users\[0\]\.id"),
    ("id past MAX_ID", "threads", f'{{"threads": [{{"id": {MAX_ID + 1}}}]}}', r"threads\[0\]\.id"),
    ("reference past MAX_ID", "posts", '{"posts": [{"thread": 1, "user": 1e300}]}',
     r"posts\[0\]\.user"),
    ("createdAt a number", "threads", '{"threads": [{"id": 1, "createdAt": 5}]}',
     r"threads\[0\]\.createdAt"),
    ("createdAt too long for an index key", "posts",
     json.dumps({"posts": [{"id": 1, "thread": 1, "createdAt": "2" * 1025}]}),
     r"posts\[0\]\.createdAt.*1024 bytes"),
    ("e-mail not a string", "users", '{"users": [{"id": 1, "email": 5}]}', r"users\[0\]\.email"),
    ("nested past the reader", "users", '{"users": [{"id": 1, "x": ' + "[" * 50_000 + "]" * 50_000
     + "}]}", r"nested too deeply"),
]  # fmt: skip


def write_db(data: Path, kind: str, text: str | bytes) -> Path:
    folder = data / kind
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "db.json"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize(("case", "kind", "text", "names"), REFUSED, ids=[c[0] for c in REFUSED])
def test_the_store_is_refused_naming_file_record_and_field(
    tmp_path: Path, case: str, kind: str, text: str | bytes, names: str
) -> None:
    write_db(tmp_path, kind, text)
    collection = JsonStore(tmp_path).collection(kind)
    with pytest.raises(StoreUnavailable, match=names) as err:
        collection.list()
    assert f"{tmp_path / kind}: db.json cannot be read" in str(err.value)
    health = collection.health()
    assert not health.ok
    assert "db.json" in health.detail


@pytest.mark.parametrize(("case", "kind", "text", "names"), REFUSED, ids=[c[0] for c in REFUSED])
def test_the_reader_of_migrate_refuses_the_same(
    case: str, kind: str, text: str | bytes, names: str
) -> None:
    if case in ("surrogate as raw bytes", "nested past the reader"):
        pytest.skip("a parse error: forumctl reads the text itself")
    doc = json.loads(text)
    with pytest.raises(LegacyFormatError, match=names):
        list(normalize_document(kind, doc))  # type: ignore[arg-type]


def test_records_in_the_stores_own_form_are_checked_too(tmp_path: Path) -> None:
    """The fast path for records the services wrote still refuses NaN and surrogates."""
    for i, (value, names) in enumerate([("NaN", "NaN"), ('"\\udfff"', "surrogate")]):
        data = tmp_path / str(i)
        write_db(
            data,
            "users",
            '{"users": [{"id": 7, "version": 2, "createdAt": "2025-01-01T00:00:00.000000Z",'
            f' "updatedAt": "2025-01-01T00:00:00.000000Z", "bio": {value}}}]}}',
        )
        with pytest.raises(StoreUnavailable, match=rf"users\[0\]\.bio \(record id 7\).*{names}"):
            JsonStore(data).users.get(7)


def test_odd_but_servable_values_are_served(tmp_path: Path) -> None:
    write_db(
        tmp_path,
        "users",
        json.dumps(
            {
                "users": [
                    {"id": "2", "version": "3", "username": 5},
                    {"id": 4.0, "bio": "😀 \ud83d\ude00", "karma": 10**50, **WRITTEN},
                    {"id": MAX_ID, "createdAt": "2025-01-01T00:00:00.000000Z", "version": 1},
                ]
            }
        ),
    )
    store = JsonStore(tmp_path)
    assert store.users.get(2)["version"] == 3
    assert store.users.get(2)["username"] == 5
    assert store.users.get(4)["bio"] == "😀 😀"
    assert store.users.get(4)["karma"] == 10**50
    assert store.users.get(MAX_ID)["updatedAt"] == "2025-01-01T00:00:00.000000Z"


SERVICE_CASES = [c for c in REFUSED if c[1] == "users"]


@pytest.mark.parametrize(
    ("case", "kind", "text", "names"), SERVICE_CASES, ids=[c[0] for c in SERVICE_CASES]
)
def test_the_users_service_answers_503_never_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, kind: str, text: str, names: str
) -> None:
    from forumdb_services.api.app import create_app

    for name in ("FORUMDB_CONFIG_DIR", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(name, raising=False)
    write_db(tmp_path, kind, text)
    app = create_app("users", SettingsWatcher(STORAGE_MODE="json", DATA_DIR=str(tmp_path)))
    client = app.test_client()
    requests = [
        client.get("/api/users"),
        client.get("/api/users/1"),
        client.get("/api/users/300000000000"),
        client.put("/api/users/1", json={"username": "y"}),
        client.delete("/api/users/1"),
        client.post("/api/users", json={"username": "new"}),
        client.get("/readyz"),
    ]
    for response in requests:
        assert response.status_code == 503, (response.request.path, response.get_data())
        json.loads(response.get_data(), parse_constant=pytest.fail)  # strict JSON
