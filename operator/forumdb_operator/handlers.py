"""Kopf handlers: the decorators that tie ForumDatabase events to forumdb_operator.loops.

Per resource: a reconcile loop and a health loop (two daemons sharing the resource's memo), a
wake-up on spec changes, and a finalizer for deletion; at start, Kopf's settings. What the
handlers share (forumdb_operator.runtime.Runtime) comes in Kopf's memo from main().
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from forumdb import naming
from forumdb_operator import backoff, loops, runtime, webhook
from forumdb_operator.reconcile import Event

log = logging.getLogger("forumdb_operator.handlers")
ADMISSION_KEY = "admission_server"  # memo: the webhook's kopf.WebhookServer, when served
CONFIGURATION_KEY = "admission_configuration"  # memo: name of the managed configurations


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.finalizer = naming.FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=naming.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=naming.GROUP, key="last-handled-configuration"
    )
    # Kopf would post every INFO log line as an event; the operator posts its own events.
    settings.posting.level = logging.WARNING
    settings.networking.error_backoffs = [1, 2, 5, 10, 20]
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    if memo.get(ADMISSION_KEY) is not None:
        settings.admission.server = memo[ADMISSION_KEY]
        settings.admission.managed = memo.get(CONFIGURATION_KEY) or webhook.CONFIGURATION_NAME


def _post(body: Mapping[str, Any], events: list[Event]) -> None:
    for e in events:
        kopf.event(dict(body), type=e.type, reason=e.reason, message=e.message)


@kopf.on.create(naming.GROUP, naming.VERSION, naming.PLURAL)
@kopf.on.update(naming.GROUP, naming.VERSION, naming.PLURAL, field="spec")
async def spec_changed(
    memo: kopf.Memo, name: str, namespace: str, meta: kopf.Meta, **_: Any
) -> None:
    """The reconcile loop does the work; a new spec only wakes it up (and the health loop)."""
    loops.wake(memo, meta.get("generation"))
    log.info("spec changed", extra={"resource": f"{namespace}/{name}"})


@kopf.daemon(naming.GROUP, naming.VERSION, naming.PLURAL, cancellation_timeout=60.0)
async def reconcile_loop(
    stopped: kopf.DaemonStopped,
    name: str,
    namespace: str,
    body: kopf.Body,
    spec: kopf.Spec,
    meta: kopf.Meta,
    status: kopf.Status,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    live = loops.Live(name, namespace, body, spec, meta, status)
    await loops.reconcile_loop(runtime.from_memo(memo), memo, live, stopped, _post)


@kopf.daemon(naming.GROUP, naming.VERSION, naming.PLURAL, id="health", cancellation_timeout=30.0)
async def health_loop(
    stopped: kopf.DaemonStopped,
    name: str,
    namespace: str,
    body: kopf.Body,
    spec: kopf.Spec,
    meta: kopf.Meta,
    status: kopf.Status,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    live = loops.Live(name, namespace, body, spec, meta, status)
    await loops.health_loop(runtime.from_memo(memo), memo, live, stopped, _post)


@kopf.on.delete(naming.GROUP, naming.VERSION, naming.PLURAL)
async def on_delete(
    name: str,
    namespace: str,
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: kopf.Memo,
    retry: int,
    **_: Any,
) -> None:
    live = loops.Live(name, namespace, body, spec, body.meta, status)
    outcome = await loops.delete_step(runtime.from_memo(memo), memo, live)
    _post(body, outcome.events)
    for key, value in outcome.status.items():
        patch.status[key] = value
    if not outcome.done:
        # Kopf counts the retries of this handler: the waits double (with jitter) from there.
        raise kopf.TemporaryError(
            outcome.status.get("message", "deleting"),
            delay=backoff.delay(outcome.requeue_after or 5.0, retry),
        )
