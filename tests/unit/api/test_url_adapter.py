"""ServiceFlask's URL adapters, made once per host and copied per request: each request
still routes on its own path, method and query, and builds URLs on its own host."""

from __future__ import annotations

from pathlib import Path

from flask import request, url_for

from forumdb_services.api.app import create_app

from .conftest import json_watcher


def test_each_request_routes_and_builds_on_its_own(tmp_path: Path) -> None:
    app = create_app("users", json_watcher(tmp_path / "data"))
    asks = [
        ("http://a.example", "/api/users/7", "GET", "users.get_user", {"record_id": "7"}),
        ("http://a.example", "/api/users/8", "PUT", "users.replace_user", {"record_id": "8"}),
        ("http://b.example:8080", "/api/users", "POST", "users.create_user", {}),
        ("https://a.example", "/api/users", "GET", "users.list_users", {}),
    ]
    for _ in range(3):  # the first round makes the adapters, the others copy them
        for base, path, method, endpoint, args in asks:
            with app.test_request_context(f"{path}?q={method}", base_url=base, method=method):
                assert request.view_args == args
                assert request.endpoint == endpoint
                assert request.host == base.split("://")[1]
                assert request.args["q"] == method
                assert url_for("users.get_user", record_id=5, _external=True) == (
                    f"{base}/api/users/5"
                )


def test_a_trusted_hosts_setting_is_still_enforced(tmp_path: Path) -> None:
    app = create_app("users", json_watcher(tmp_path / "data"))
    app.config["TRUSTED_HOSTS"] = ["good.example"]
    client = app.test_client()
    assert client.get("/healthz", base_url="http://good.example").status_code == 200
    assert client.get("/healthz", base_url="http://evil.example").status_code == 400
