"""Routes every service has: the sample's greetings, liveness, readiness and metrics.

/readyz answers anyone who can reach the port, so it says what a probe and an operator need
(ready or not, the mode, the region, which settings generation and a fingerprint of the
settings) and nothing of the internals: no data folder, table name, endpoint or error text.
Those go to the log, under the request id the answer gives.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify

from forumdb.config import Settings
from forumdb_services.api.observability import metrics_response
from forumdb_services.api.runtime import current_runtime
from forumdb_services.storage import StoreUnavailable

bp = Blueprint("probes", __name__)
log = logging.getLogger("forumdb.api.probes")

# What of a collection's Health.info a client may see (a table's status: ACTIVE, UPDATING).
_PUBLIC_HEALTH_INFO = ("status",)

# Endpoints that must answer without a store: a broken store must not make the kubelet
# restart a healthy process, and /readyz reports the failure itself.
STORELESS_ENDPOINTS = frozenset(
    {"probes.root", "probes.api_root", "probes.healthz", "probes.readyz", "probes.metrics"}
)

# The collections each service reads: its own, and those its creates check references in.
SERVICE_COLLECTIONS: dict[str, tuple[str, ...]] = {
    "users": ("users",),
    "threads": ("threads", "users"),
    "posts": ("posts", "threads", "users"),
}


def _checked_kinds(service: str, settings: Settings) -> tuple[str, ...]:
    """The collections readiness depends on: with CHECK_REFERENCES off (the chart's JSON
    mode, one folder per pod) the service never reads the others, so they must not count."""
    kinds = SERVICE_COLLECTIONS[service]
    return kinds if settings.check_references else (service,)


def _waiting_for_config(config_dir: Path | None) -> str | None:
    """Why the settings are not there yet, or None. The chart mounts the operator's ConfigMap
    as an optional volume, so a pod starts before the operator has written it; until the kubelet
    fills the folder the service would run on the environment's defaults, not its tables."""
    if config_dir is None:
        return None
    if config_dir.is_dir() and any(
        not e.name.startswith(".") and e.is_file() for e in config_dir.iterdir()
    ):
        return None
    return (
        "no settings in FORUMDB_CONFIG_DIR yet: waiting for the operator's "
        "ConfigMap (is the ForumDatabase applied, and the operator running?)"
    )


def settings_fingerprint(settings: Settings) -> str:
    """A digest of the settings in use: it changes when they do (a reload, a region switch)
    and shows two processes agree, without telling what they are."""
    return hashlib.sha256(settings.model_dump_json().encode()).hexdigest()[:16]


def _hidden(what: str, detail: str, **fields: Any) -> str:
    """Logs `detail` under this request's id; the client's text names only the id."""
    request_id = g.get("request_id")
    log.warning("readiness: %s: %s", what, detail, extra={"request_id": request_id, **fields})
    return f"{what}; the service log has the cause (request id {request_id})"


def _text(body: str) -> Response:
    return Response(body, mimetype="text/plain")


@bp.get("/")
def root() -> Response:
    return _text("Ready to receive requests")


# `/api` answers too, rather than werkzeug's redirect to `/api/` (an HTML page).
@bp.get("/api")
@bp.get("/api/")
def api_root() -> Response:
    return _text("API ready to receive requests")


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok", "service": current_app.config["FORUMDB_SERVICE"]})


def _storage_info(settings: Settings) -> dict[str, Any]:
    info: dict[str, Any] = {"mode": settings.storage_mode}
    if settings.storage_mode == "dynamodb":
        info["region"] = settings.aws_region
    return info


@bp.get("/readyz")
def readyz() -> Response:
    runtime = current_runtime()
    service = current_app.config["FORUMDB_SERVICE"]
    body: dict[str, Any] = {"service": service}
    config_dir = runtime.watcher.config_dir
    waiting = _waiting_for_config(config_dir)
    if waiting is not None:
        log.info(waiting, extra={"config_dir": str(config_dir)})
        body.update(status="unavailable", checks={"config": {"ok": False, "detail": waiting}})
        response = jsonify(body)
        response.status_code = 503
        return response
    try:
        generation = runtime.acquire()
    except StoreUnavailable as exc:
        detail = _hidden("the store cannot be opened", str(exc))
        body.update(
            status="unavailable",
            storage=_storage_info(runtime.settings),
            checks={"store": {"ok": False, "detail": detail}},
        )
        response = jsonify(body)
        response.status_code = 503
        return response
    kinds = _checked_kinds(service, generation.settings)
    try:
        checks: dict[str, dict[str, Any]] = {}
        regions = set()
        for kind in kinds:
            health = generation.store.collection(kind).health()
            check: dict[str, Any] = {"ok": health.ok}
            check.update((k, health.info[k]) for k in _PUBLIC_HEALTH_INFO if k in health.info)
            if not health.ok:
                what = f"the {kind} store is not ready"
                check["detail"] = _hidden(what, health.detail, kind=kind)
            checks[kind] = check
            if health.info.get("region"):
                regions.add(health.info["region"])
    finally:
        generation.release()
    storage = _storage_info(generation.settings)
    # The store knows best which region its client really talks to.
    if storage["mode"] == "dynamodb" and len(regions) == 1:
        storage["region"] = regions.pop()
    ready = all(c["ok"] for c in checks.values())
    body.update(
        status="ready" if ready else "unavailable",
        generation=generation.number,
        config=settings_fingerprint(generation.settings),
        storage=storage,
        checks=checks,
    )
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    return response


@bp.get("/metrics")
def metrics() -> Response:
    return metrics_response()
