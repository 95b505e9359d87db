"""5xx bodies and /readyz tell a client nothing of the internals (exception text, file paths,
endpoint URLs, table names, AWS messages with ARNs): a stable message and the request id,
with the cause in the log under that id."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from forumdb.config import Settings, SettingsWatcher
from forumdb_services.api.app import create_app
from forumdb_services.api.probes import settings_fingerprint
from forumdb_services.api.runtime import EXTENSION_KEY, StoreRuntime
from forumdb_services.storage import Health, StoreUnavailable

from .conftest import dynamo_watcher, json_watcher
from .stubs import StubStore

SECRET = (
    "DynamoDB table forum-Users: query failed (AccessDeniedException: User: "
    "arn:aws:sts::123456789012:assumed-role/forum-services/i-0abc is not authorized, "
    "endpoint http://10.0.0.7:4566, file /srv/forum/data/users/db.json)"
)
LEAKS = ("arn:aws", "123456789012", "10.0.0.7", "/srv/forum", "forum-Users", "AccessDenied")


def _no_leak(text: str) -> None:
    for fragment in LEAKS:
        assert fragment not in text, (fragment, text)


def _logged_with(caplog: pytest.LogCaptureFixture, request_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "request_id", None) == request_id]


def test_a_503_names_the_request_id_and_logs_the_cause(caplog: pytest.LogCaptureFixture) -> None:
    store = StubStore(error=StoreUnavailable(SECRET))
    client = create_app("users", SettingsWatcher(), store).test_client()
    with caplog.at_level(logging.WARNING, logger="forumdb.api"):
        response = client.get("/api/users/1")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    _no_leak(response.get_data(as_text=True))
    error = response.get_json()["error"]
    request_id = response.headers["X-Request-Id"]
    assert error["code"] == "store_unavailable"
    assert error["requestId"] == request_id
    assert request_id in error["message"]
    (record,) = _logged_with(caplog, request_id)
    assert SECRET in record.getMessage()


def test_a_500_names_the_request_id_and_logs_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = StubStore(error=FileNotFoundError(SECRET))
    client = create_app("users", SettingsWatcher(), store).test_client()
    with caplog.at_level(logging.ERROR, logger="forumdb.api"):
        response = client.get("/api/users", headers={"X-Request-Id": "trace-42"})
    assert response.status_code == 500
    _no_leak(response.get_data(as_text=True))
    assert "FileNotFoundError" not in response.get_data(as_text=True)
    assert response.get_json()["error"]["requestId"] == "trace-42"
    (record,) = _logged_with(caplog, "trace-42")
    assert record.exc_info is not None
    assert SECRET in caplog.text


def test_a_store_that_cannot_open_tells_only_the_log(caplog: pytest.LogCaptureFixture) -> None:
    def broken_opener(_settings: Settings) -> None:
        raise PermissionError(SECRET)

    app = create_app("users", SettingsWatcher())
    app.extensions[EXTENSION_KEY] = StoreRuntime(SettingsWatcher(), opener=broken_opener)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="forumdb.api"):
        for path in ("/api/users", "/readyz"):
            response = client.get(path)
            assert response.status_code == 503, path
            _no_leak(response.get_data(as_text=True))
            assert _logged_with(caplog, response.headers["X-Request-Id"]), path
    assert SECRET in caplog.text


def test_readyz_of_an_unhealthy_store_logs_the_detail(caplog: pytest.LogCaptureFixture) -> None:
    store = StubStore(health=Health(False, SECRET, {"path": "/srv/forum/data/users"}))
    client = create_app("users", SettingsWatcher(), store).test_client()
    with caplog.at_level(logging.WARNING, logger="forumdb.api"):
        response = client.get("/readyz")
    assert response.status_code == 503
    _no_leak(response.get_data(as_text=True))
    check = response.get_json()["checks"]["users"]
    assert check["ok"] is False
    assert response.headers["X-Request-Id"] in check["detail"]
    (record,) = _logged_with(caplog, response.headers["X-Request-Id"])
    assert SECRET in record.getMessage()


def test_readyz_in_json_mode_shows_no_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "very-private-folder"
    watcher = json_watcher(data)
    client = create_app("posts", watcher).test_client()
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert "very-private-folder" not in response.get_data(as_text=True)
    body = response.get_json()
    assert body["storage"] == {"mode": "json"}
    assert body["checks"] == {kind: {"ok": True} for kind in ("posts", "threads", "users")}
    assert body["config"] == settings_fingerprint(watcher.current())


@pytest.mark.usefixtures("mocked_aws")
def test_readyz_and_503_in_dynamodb_mode_show_no_table_or_aws_message() -> None:
    # No tables were made: DescribeTable and every call fail with AWS's ResourceNotFound,
    # whose message names the table.
    client = create_app("users", dynamo_watcher()).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    text = ready.get_data(as_text=True)
    for fragment in ("apitest-", "Users", "ResourceNotFound"):
        assert fragment not in text
    assert ready.get_json()["storage"] == {"mode": "dynamodb", "region": "us-east-1"}
    failed = client.get("/api/users")
    assert failed.status_code == 503
    text = failed.get_data(as_text=True)
    for fragment in ("apitest-", "ResourceNotFound"):
        assert fragment not in text


def test_the_fingerprint_follows_the_settings_and_hides_them() -> None:
    first = Settings(STORAGE_MODE="json", DATA_DIR="/srv/a")
    again = Settings(STORAGE_MODE="json", DATA_DIR="/srv/a")
    other = Settings(STORAGE_MODE="json", DATA_DIR="/srv/b")
    assert settings_fingerprint(first) == settings_fingerprint(again)
    assert settings_fingerprint(first) != settings_fingerprint(other)
    assert "srv" not in settings_fingerprint(first)
