"""The operator's validating admission webhook in the dev stack, as the chart runs it in a
cluster: `kubectl apply` of a spec with cross-field mistakes is refused at once, not only
reported in the status.

The operator runs on the API server's host, so the webhook is registered by URL
(`--webhook-host 127.0.0.1`) with a serving certificate for 127.0.0.1 signed by a CA of its own
(STATE_DIR/webhook/: ca.crt becomes the caBundle). The ValidatingWebhookConfiguration lives in
the stack's etcd, so `dev down` removes it with the rest of the state folder.

The configuration's failure policy is Ignore (an unreachable webhook lets writes through), so
a registered configuration proves nothing by itself: `dev up` waits until a server-side dry run
of a spec with a known mistake is refused by the webhook.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from forumctl.dev.procs import GiveUp, ToolError, wait_for
from forumdb import naming

# forumdb_operator.webhook.CONFIGURATION_NAME (forumctl may not import the operator)
CONFIGURATION = naming.GROUP
HOST = "127.0.0.1"
CERT_NAME = "forum-operator-webhook"
PROBE_NAME = "forumdb-webhook-probe"
# A mistake only the webhook finds (the CRD's schema accepts it): an active region that is
# neither the primary nor a replica. The probe takes the first of these the example leaves free.
_PROBE_REGIONS = ("eu-north-1", "ap-southeast-2", "sa-east-1")
PROBE_FIELD = "spec.activeRegion"
DENIED = "denied the request"  # kube-apiserver's words for a webhook's refusal

KubectlCall = Callable[..., Any]


class WebhookRecord(BaseModel):
    """What `dev status` shows of the webhook (the operator process serves it)."""

    configuration: str
    url: str
    cert_dir: Path


def url(port: int) -> str:
    return f"https://{HOST}:{port}"


def write_certs(folder: Path) -> Path:
    """ca.crt, tls.crt and tls.key for https://127.0.0.1:PORT, in `folder`."""
    # Imported here: `cryptography` comes with the `dev` extra, needed for the full stack only.
    from forumctl.dev.pki import write_serving_cert

    write_serving_cert(folder, CERT_NAME, ips=(HOST,), dns_names=("localhost",))
    return folder


def operator_args(port: int, cert_dir: Path) -> list[str]:
    """forum-operator's options that turn the webhook on, reached by URL on 127.0.0.1."""
    return [
        *("--webhook-port", str(port), "--webhook-host", HOST),
        *("--webhook-cert-dir", str(cert_dir), "--webhook-configuration", CONFIGURATION),
    ]


def probe_manifest(example: dict[str, Any]) -> dict[str, Any]:
    """The example ForumDatabase under another name, with spec.activeRegion set to a region
    that is neither its primary nor one of its replicas: the webhook must refuse it."""
    probe = copy.deepcopy(example)
    probe["metadata"] = {"name": PROBE_NAME}
    spec = probe.setdefault("spec", {})
    # replicaRegions unset means unmanaged replicas: any active region could then be one
    spec["replicaRegions"] = list(spec.get("replicaRegions") or [])
    taken = {spec.get("primaryRegion"), *spec["replicaRegions"]}
    spec["activeRegion"] = next(r for r in _PROBE_REGIONS if r not in taken)
    return probe


def registered_url(kubectl: KubectlCall) -> str | None:
    """The URL of the configuration's first webhook, or None while there is none."""
    try:
        out = kubectl("get", "validatingwebhookconfiguration", CONFIGURATION, "-o", "json")
    except ToolError:
        return None
    hooks = json.loads(out.stdout).get("webhooks") or []
    return (hooks[0].get("clientConfig") or {}).get("url") if hooks else None


def refusal(kubectl: KubectlCall, probe_file: Path, namespace: str) -> str | None:
    """The webhook's message when a server-side dry run of the probe is refused; None when it
    was accepted (the webhook was not reached, and the Ignore policy let it through)."""
    try:
        kubectl("apply", "--dry-run=server", "-n", namespace, "-f", str(probe_file))
    except ToolError as exc:
        message = (exc.stderr or "").strip()
        if DENIED in message and PROBE_FIELD in message:
            return message
        raise  # another failure: wait_for keeps it as the last error seen
    return None


def await_webhook(
    kubectl: KubectlCall,
    *,
    port: int,
    probe_file: Path,
    namespace: str,
    operator_alive: Callable[[], bool],
    timeout: float,
) -> str:
    """Wait until the configuration points at https://127.0.0.1:PORT and the webhook refuses
    the probe; returns its message. TimeoutError names the step it stopped at; GiveUp when the
    operator exits."""
    expected = url(port)  # Kopf registers BASE/<handler id>

    def check(step: Callable[[], Any]) -> Callable[[], Any]:
        def predicate() -> Any:
            if not operator_alive():
                raise GiveUp("forum-operator exited")
            return step()

        return predicate

    wait_for(
        check(lambda: (registered_url(kubectl) or "").startswith(f"{expected}/")),
        timeout=timeout,
        interval=0.2,
        what=f"ValidatingWebhookConfiguration {CONFIGURATION} to point at {expected}",
    )
    return wait_for(
        check(lambda: refusal(kubectl, probe_file, namespace)),
        timeout=timeout,
        interval=0.2,
        what=f"the webhook at {expected} to refuse {PROBE_FIELD} of {probe_file.name}",
    )
