"""CHECK_REFERENCES: on by default (a create naming a missing thread or user is a 422); off
where a service sees only its own kind, as in the chart's JSON mode, one folder per pod."""

from __future__ import annotations

from pathlib import Path

from forumdb_services.api.app import create_app
from forumdb_services.storage import open_store

from .conftest import json_watcher

BODY = {"thread": 1, "user": 1, "text": "hi"}


def posts_app(data_dir: Path, **overrides: str):
    watcher = json_watcher(data_dir, **overrides)
    return create_app("posts", watcher, open_store(watcher.current())).test_client()


def test_a_post_naming_a_missing_thread_is_refused_by_default(tmp_path: Path) -> None:
    response = posts_app(tmp_path).post("/api/posts", json=BODY)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "unknown_reference"


def test_with_checks_off_a_service_with_only_its_own_folder_still_takes_posts(
    tmp_path: Path,
) -> None:
    client = posts_app(tmp_path, CHECK_REFERENCES="false")
    response = client.post("/api/posts", json=BODY)
    assert response.status_code == 201, response.get_json()
    assert client.get("/api/posts/in-thread/1").get_json()[0]["text"] == "hi"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["posts"], "only its own folder"
    # Bad input is still refused: only the existence of other kinds is not checked.
    assert (
        client.post("/api/posts", json={"thread": "x", "user": 1, "text": "hi"}).status_code == 422
    )


def test_readiness_counts_only_the_folders_the_service_reads(tmp_path: Path) -> None:
    # As in a chart pod: only posts/ is the service's own; the others cannot be made (here
    # files stand in the way, since root ignores a read-only mode).
    (tmp_path / "posts").mkdir()
    for other in ("threads", "users"):
        (tmp_path / other).write_text("not a folder")
    ready = posts_app(tmp_path, CHECK_REFERENCES="false").get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert set(ready.get_json()["checks"]) == {"posts"}
    # With references checked, the service does read threads and users: not ready.
    checked = posts_app(tmp_path).get("/readyz")
    assert checked.status_code == 503
    assert set(checked.get_json()["checks"]) == {"posts", "threads", "users"}
