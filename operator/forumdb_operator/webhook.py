"""Optional validating admission webhook: the cross-field spec rules (what CEL would express,
which the 1.20 API server lacks) checked at `kubectl apply` time, with the same messages the
reconciler puts in the status, and the fields that may not change once tables exist
(spec.tablePrefix, spec.primaryRegion: forumdb_operator.immutable).

Off unless `forum-operator --webhook-port N --webhook-cert-dir DIR` with either
`--webhook-service NAMESPACE/NAME` (in a cluster: what the chart passes) or `--webhook-host HOST`
(an operator outside the cluster): Kopf serves HTTPS on N with DIR/tls.crt and DIR/tls.key (the
layout of a cert-manager Secret; DIR/ca.crt becomes the caBundle) and keeps the
ValidatingWebhookConfiguration (`--webhook-configuration`, default `forumdb.io`) pointing at the
Service NAMESPACE/NAME port N, or at https://HOST:N. A Service reference is what works in a
cluster: the API server finds the Service's endpoints itself, whereas a URL's host name is
resolved with the API server host's DNS, which knows no `*.svc` names (every call fails, and the
failure policy lets the request through). That policy is Ignore: while the operator is down,
writes are accepted and the reconciler reports a bad spec in the status instead.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import kopf

from forumdb import naming
from forumdb_operator import immutable
from forumdb_operator.spec import SpecInvalid, parse_spec

CONFIGURATION_NAME = naming.GROUP


def check_spec(
    new: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    allowed_regions: frozenset[str] | None,
) -> None:
    """Raise kopf.AdmissionError naming every invalid field of a new or changed spec."""
    if new is None:
        return
    if (new.get("metadata") or {}).get("deletionTimestamp"):
        return  # never block finalizer removal of a resource being deleted
    spec = new.get("spec") or {}
    if old is not None and (old.get("spec") or {}) == spec:
        return  # metadata/status-only changes are not the spec's business
    try:
        parse_spec(spec, allowed_regions=allowed_regions)
    except SpecInvalid as exc:
        raise kopf.AdmissionError("invalid spec: " + "; ".join(exc.errors), code=422) from None
    if old is not None:
        # Only a field this update changes: a pending refused change (made while the webhook
        # was down) must not block other writes, such as the operator's own failover.
        pending = {
            (c.field, c.new) for c in immutable.changes(old.get("spec") or {}, old.get("status"))
        }
        refused = [
            c for c in immutable.changes(spec, old.get("status")) if (c.field, c.new) not in pending
        ]
        if refused:
            raise kopf.AdmissionError("change refused: " + immutable.message(refused), code=422)


def register(allowed_regions: frozenset[str] | None) -> None:
    @kopf.on.validate(
        naming.GROUP,
        naming.VERSION,
        naming.PLURAL,
        id="spec",
        operations=["CREATE", "UPDATE"],
        ignore_failures=True,
    )
    def validate_spec(new: Any, old: Any, **_: Any) -> None:
        check_spec(new, old, allowed_regions)


class ServiceWebhookServer(kopf.WebhookServer):
    """Kopf's HTTPS webhook server, registered as a `service:` clientConfig (the Service in
    front of the pod, on the same port) instead of a URL; the CA bundle is kept."""

    def __init__(self, *, service_namespace: str, service_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service_namespace = service_namespace
        self.service_name = service_name

    async def __call__(self, fn: Any) -> AsyncIterator[Any]:
        async for config in super().__call__(fn):
            service = {
                "namespace": self.service_namespace,
                "name": self.service_name,
                "port": self.port,
                "path": (self.path or "").rstrip("/"),  # Kopf appends /<handler id>
            }
            registered: dict[str, Any] = {"service": service}
            if "caBundle" in config:
                registered["caBundle"] = config["caBundle"]
            yield registered


def parse_service(value: str) -> tuple[str, str]:
    """`NAMESPACE/NAME` -> (namespace, name); ValueError naming the expected form."""
    namespace, _, name = value.partition("/")
    if not namespace or not name or "/" in name:
        raise ValueError(f"expected NAMESPACE/NAME, got {value!r}")
    return namespace, name


def listen_addr(host: str, service: str = "") -> str:
    """Only the loopback interface when the API server reaches the webhook there (an operator
    on the API server's host, as in `forumctl dev up`): nothing else on the network may call
    it. Every interface otherwise: in a pod, the API server connects from outside."""
    if not service:
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(host).is_loopback:
                return host
    return "0.0.0.0"  # noqa: S104 - see above


def server(port: int, host: str, cert_dir: Path, service: str = "") -> kopf.WebhookServer:
    """The webhook server: registered by Service (`service` = NAMESPACE/NAME) or by URL."""
    ca = cert_dir / "ca.crt"
    tls: dict[str, Any] = {
        "addr": listen_addr(host, service),
        "port": port,
        "certfile": str(cert_dir / "tls.crt"),
        "pkeyfile": str(cert_dir / "tls.key"),
        "cafile": str(ca) if ca.exists() else str(cert_dir / "tls.crt"),
    }
    if service:
        namespace, name = parse_service(service)
        # host only names the certificate's subject for Kopf's logs; the Service is registered
        return ServiceWebhookServer(
            service_namespace=namespace,
            service_name=name,
            host=host or f"{name}.{namespace}.svc",
            **tls,
        )
    return kopf.WebhookServer(host=host, **tls)
