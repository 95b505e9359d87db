"""Response bodies: written by orjson, the way Flask's own provider writes them."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from forumdb_services.api.app import ForumJSONProvider, create_app

from .conftest import json_watcher


def _app(tmp_path: Path) -> Flask:
    app = create_app("users", json_watcher(tmp_path / "data"))
    assert isinstance(app.json, ForumJSONProvider)
    return app


def test_bodies_read_as_flask_would_write_them(tmp_path: Path) -> None:
    app = _app(tmp_path)
    provider = app.json
    value = {
        "b": [1, 2.5, None, True, "zoë"],
        "a": {"nested": Decimal("3"), "ratio": Decimal("0.25")},
        "at": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    }
    ours = provider.dumps(value)
    flask_default = DefaultJSONProvider(app)
    flask_default.default = ForumJSONProvider.default  # type: ignore[method-assign]
    assert json.loads(ours) == json.loads(flask_default.dumps(value))
    assert list(json.loads(ours)) == ["a", "at", "b"]  # keys sorted
    assert json.loads(provider.dumps({7: "an int key"})) == {"7": "an int key"}
    assert json.loads(ours)["a"] == {"nested": 3, "ratio": 0.25}
    assert json.loads(ours)["at"] == "Fri, 02 Jan 2026 03:04:05 GMT"


def test_integers_past_64_bits_fall_back_to_the_standard_library(tmp_path: Path) -> None:
    app = _app(tmp_path)
    provider = app.json
    huge = Decimal("12345678901234567890123456789012345678")  # DynamoDB's 38 digits
    assert json.loads(provider.dumps({"n": huge})) == {"n": int(huge)}
    with app.app_context():
        response = provider.response({"n": huge})
    assert json.loads(response.get_data()) == {"n": int(huge)}
    assert response.get_data().endswith(b"\n")
    assert response.mimetype == "application/json"
