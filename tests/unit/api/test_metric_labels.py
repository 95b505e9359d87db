"""Every Prometheus label takes few values whatever clients send: invented methods count as
"other", paths as their route template (or `<unmatched>`), statuses as a code or a class."""

from __future__ import annotations

import random
import string

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from forumdb_services.api.observability import METHOD_LABELS, OTHER_LABEL, status_label

from .conftest import Forum

PATHS = ("/api/users", "/api/users/7", "/api/users/by-email/a@b.co", "/readyz", "/x/{n}")


def _label_sets(client: FlaskClient) -> set[tuple[tuple[str, str], ...]]:
    """The users service's series (the registry is the process's: other tests' apps too)."""
    text = client.get("/metrics").get_data(as_text=True)
    return {
        tuple(sorted(sample.labels.items()))
        for family in text_string_to_metric_families(text)
        if family.name.startswith("forumdb_http_")
        for sample in family.samples
        if sample.labels.get("service") == "users"
    }


def _invented_methods(seed: int, count: int) -> list[str]:
    rnd = random.Random(seed)
    return [
        "".join(rnd.choices(string.ascii_uppercase, k=rnd.randint(3, 12))) for _ in range(count)
    ]


def _send(client: FlaskClient, methods: list[str]) -> None:
    for i, method in enumerate(methods):
        path = PATHS[i % len(PATHS)].format(n=i)
        response = client.open(path, method=method)
        assert response.status_code in (404, 405), (method, path, response.status_code)


def test_invented_methods_share_one_label(json_forum: Forum) -> None:
    client = json_forum.users
    _send(client, _invented_methods(1, 250))
    client.get("/metrics")  # its own series, before the first reading
    first = _label_sets(client)
    methods = {dict(labels).get("method") for labels in first} - {None}
    assert methods <= {*METHOD_LABELS, OTHER_LABEL}
    assert OTHER_LABEL in methods
    routes = {dict(labels).get("route") for labels in first} - {None}
    rules = {rule.rule for rule in json_forum.apps["users"].url_map.iter_rules()}
    assert routes <= rules | {"<unmatched>"}
    # 250 more invented methods add no series at all.
    _send(client, _invented_methods(2, 250))
    assert _label_sets(client) == first


def test_status_labels_are_bounded() -> None:
    assert status_label(200) == "200"
    assert status_label(503) == "503"
    assert status_label(299) == "2xx"  # not a registered code: its class
    assert status_label(599) == "5xx"
    assert status_label(1000) == OTHER_LABEL
    assert status_label(42) == OTHER_LABEL
