"""The admission check: the same messages as the reconciler, never in the way of deletion."""

from __future__ import annotations

import kopf
import pytest
from op_factories import spec

from forumdb_operator.webhook import check_spec


def body(raw_spec, **meta):
    return {"metadata": {"name": "forum", **meta}, "spec": raw_spec}


def test_valid_spec_is_admitted():
    check_spec(body(spec()), None, None)


def test_cross_field_error_is_rejected_naming_the_field():
    with pytest.raises(kopf.AdmissionError) as info:
        check_spec(body(spec(replicaRegions=["us-east-1"])), None, None)
    assert "spec.replicaRegions[0]: us-east-1 is the primary region" in str(info.value)
    assert info.value.code == 422


def test_unchanged_spec_and_deletion_are_not_blocked():
    bad = body(spec(replicaRegions=["us-east-1"]))
    check_spec(bad, bad, None)  # e.g. a finalizer or label change on an old, invalid object
    check_spec(body(bad["spec"], deletionTimestamp="2026-01-01T00:00:00Z"), None, None)


def test_allowed_regions_apply_at_admission():
    with pytest.raises(kopf.AdmissionError, match="allowed regions"):
        check_spec(body(spec()), None, frozenset({"us-east-1"}))


def test_unknown_spec_fields_are_refused_with_their_path():
    """What newer API servers do with field validation: a misspelt or unknown field is named,
    at any depth (the 1.20 API server would prune it silently)."""
    raw = spec(retention=30, backups={"schedule": "cron(0 5 * * ? *)", "retentionDay": 3})
    with pytest.raises(kopf.AdmissionError) as info:
        check_spec(body(raw), None, None)
    assert "spec.retention: unknown field" in str(info.value)
    assert "spec.backups.retentionDay: unknown field" in str(info.value)


def test_the_crd_keeps_unknown_spec_fields_for_the_webhook_to_name():
    """The API server prunes unknown fields before admission, so the webhook sees them only
    where the schema preserves them: every object of spec does (the webhook, or else the
    reconciler's status, names them)."""
    import yaml
    from op_factories import ROOT

    crd = yaml.safe_load((ROOT / "crds" / "forumdatabase.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    closed = []

    def walk(node, path):
        if node.get("type") == "object" and "properties" in node:
            if not node.get("x-kubernetes-preserve-unknown-fields"):
                closed.append(path)
            for key, child in node["properties"].items():
                walk(child, f"{path}.{key}")
        elif node.get("type") == "array" and isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")

    walk(schema, "spec")
    assert closed == []


def test_service_server_registers_the_service_with_the_ca_bundle(monkeypatch, tmp_path):
    """In a cluster the webhook is registered by Service (the API server resolves no `*.svc`
    names with its host's DNS): Kopf's URL is replaced, its CA bundle kept."""
    import asyncio

    from forumdb_operator import webhook

    async def kopf_serves(self, fn):
        yield {"url": "https://forum-operator-webhook.ns1.svc:9443", "caBundle": "Q0E="}

    monkeypatch.setattr(kopf.WebhookServer, "__call__", kopf_serves)
    for name in ("tls.crt", "tls.key"):
        (tmp_path / name).write_text("")
    server = webhook.server(9443, "", tmp_path, "ns1/forum-operator-webhook")

    async def first():
        async for config in server(lambda *a, **k: None):
            return config

    assert asyncio.run(first()) == {
        "service": {"namespace": "ns1", "name": "forum-operator-webhook", "port": 9443, "path": ""},
        "caBundle": "Q0E=",
    }


def test_service_must_be_namespace_and_name():
    from forumdb_operator.webhook import parse_service

    assert parse_service("ns1/svc") == ("ns1", "svc")
    for bad in ("svc", "/svc", "ns1/", "a/b/c"):
        with pytest.raises(ValueError, match="NAMESPACE/NAME"):
            parse_service(bad)


def test_a_webhook_reached_on_loopback_listens_on_loopback_only(tmp_path):
    # `forumctl dev up`: the API server on the same host calls https://127.0.0.1:N; nothing
    # else on the network may. In a pod (a Service, or a host name) every interface.
    from forumdb_operator import webhook

    for name in ("tls.crt", "tls.key"):
        (tmp_path / name).write_text("")
    assert webhook.server(9443, "127.0.0.1", tmp_path).addr == "127.0.0.1"
    assert webhook.server(9443, "::1", tmp_path).addr == "::1"
    assert webhook.server(9443, "operator.example.com", tmp_path).addr == "0.0.0.0"
    assert webhook.server(9443, "10.0.0.5", tmp_path).addr == "0.0.0.0"
    assert webhook.server(9443, "", tmp_path, "ns1/forum-operator-webhook").addr == "0.0.0.0"
