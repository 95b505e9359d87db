"""Optional validating admission webhook: the cross-field spec rules (what CEL would express,
which the 1.20 API server lacks) checked at `kubectl apply` time, with the same messages the
reconciler puts in the status, and the fields that may not change once tables exist
(spec.tablePrefix, spec.primaryRegion: forumdb_operator.immutable).

Off unless `forum-operator --webhook-port N --webhook-host HOST --webhook-cert-dir DIR`: Kopf
serves HTTPS on N with DIR/tls.crt and DIR/tls.key (the layout of a cert-manager Secret; DIR/ca.crt
becomes the caBundle) and keeps the ValidatingWebhookConfiguration `forumdb.io` pointing at
https://HOST:N. Its failure policy is Ignore: while the operator is down, writes are accepted
and the reconciler reports a bad spec in the status instead.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def server(port: int, host: str, cert_dir: Path) -> kopf.WebhookServer:
    ca = cert_dir / "ca.crt"
    return kopf.WebhookServer(
        addr="0.0.0.0",  # noqa: S104 - the API server connects from outside the pod
        port=port,
        host=host,
        certfile=str(cert_dir / "tls.crt"),
        pkeyfile=str(cert_dir / "tls.key"),
        cafile=str(ca) if ca.exists() else str(cert_dir / "tls.crt"),
    )
