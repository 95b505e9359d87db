"""aws.endpointUrl and aws.region across the chart: a restricted NetworkPolicy lets the
services reach the endpoint's port, and dynamodb mode without an operator needs a region."""

from __future__ import annotations

import pytest
from chartkit import SERVICE_NAMES, named

RESTRICTED = {"networkPolicy": {"enabled": True, "allowExternalEgress": False}}


def egress_ports(objects, name: str) -> list[int]:
    policy = named(objects, "NetworkPolicy", f"forum-{name}")
    return sorted(p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"])


@pytest.mark.parametrize(
    ("endpoint", "ports"),
    [
        ("", [53, 53, 443]),
        ("http://moto.moto.svc:5000", [53, 53, 443, 5000]),
        ("http://dynamodb-local", [53, 53, 80, 443]),
        ("https://dynamodb.example.internal", [53, 53, 443]),
        ("https://dynamodb.example.internal:8443", [53, 53, 443, 8443]),
    ],
)
def test_restricted_egress_opens_the_endpoints_port(render, endpoint: str, ports: list[int]):
    values = {
        **RESTRICTED,
        "database": {"mode": "dynamodb", "forumDatabase": "forum"},
        "aws": {"endpointUrl": endpoint},
    }
    objects = render(values)
    for name in SERVICE_NAMES:
        assert egress_ports(objects, name) == ports


def test_dynamodb_without_an_operator_needs_a_region(render, render_error):
    plain = {"database": {"mode": "dynamodb", "forumDatabase": ""}}
    error = render_error(plain)
    assert "needs aws.region" in error
    render({**plain, "aws": {"region": "eu-west-1"}})
    render({**plain, "services": {"extraEnv": [{"name": "AWS_REGION", "value": "eu-west-1"}]}})
