"""Keep a folder in step with a ConfigMap, one file per key: what the kubelet does for a
ConfigMap mounted as a volume, but within a second of each change instead of about a minute
(the kubelet's sync period), which dominates the time a regional failover takes to reach
the services (they reload the folder: forumdb.config.SettingsWatcher).

    python -m forumdb_services.configsync --namespace NS --name CM --dir DIR \
        [--kubeconfig KC] [--once]

Watches the ConfigMap and rewrites the folder on every change. Each file is replaced
atomically; keys gone from the ConfigMap are removed; a deleted ConfigMap leaves the folder as
it was (the services keep their last settings). Ends on SIGTERM.

`--once` (an init container): waits, for at most --timeout seconds, until the ConfigMap
exists, writes the folder and exits 0; exits 1 with one error line if it never appears.

Credentials: --kubeconfig if given, else the pod's in-cluster ServiceAccount token, else the
default kubeconfig ($KUBECONFIG or ~/.kube/config). Used by the Helm chart
(database.configSync) and by `forumctl dev up`.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import kubernetes
import urllib3
from kubernetes import watch
from kubernetes.client import CoreV1Api
from kubernetes.client.exceptions import ApiException
from kubernetes.config import ConfigException

from forumdb.logs import configure_logging

log = logging.getLogger("forumdb.configsync")
RETRY_SECONDS = 2.0
# While --once waits for the ConfigMap, say so at most this often (not on every poll).
WAITING_LOG_SECONDS = 15.0
REQUEST_TIMEOUT_SECONDS = 10


class ConfigSyncError(Exception):
    """The ConfigMap could not be read or written; the message names it and the cause."""


def write_folder(folder: Path, data: Mapping[str, str]) -> bool:
    """Make `folder` hold exactly `data` (key -> file); True if anything changed."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = False
    for key, value in data.items():
        path = folder / key
        if path.is_file() and path.read_text() == value:
            continue
        tmp = folder / f".{key}.part"
        tmp.write_text(value)
        os.replace(tmp, path)
        changed = True
    for stale in folder.iterdir():
        if stale.is_file() and not stale.name.startswith(".") and stale.name not in data:
            stale.unlink()
            changed = True
    return changed


def describe_error(exc: BaseException) -> str:
    """The cause of a failed API call, in words an operator can act on."""
    if isinstance(exc, ApiException):
        hints = {
            401: "the API server refused the credentials",
            403: "forbidden: the ServiceAccount may not read it (RBAC: get/list/watch on it)",
            404: "it does not exist",
        }
        hint = hints.get(exc.status or 0, str(exc.reason or "").lower() or "API error")
        return f"HTTP {exc.status}: {hint}"
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return f"cannot reach the Kubernetes API: {exc}"
    return f"{type(exc).__name__}: {exc}"


def load_api(kubeconfig: str | None) -> CoreV1Api:
    """A client from --kubeconfig, else the pod's ServiceAccount, else the default kubeconfig."""
    if kubeconfig:
        kubernetes.config.load_kube_config(config_file=kubeconfig)
        return CoreV1Api()
    try:
        kubernetes.config.load_incluster_config()
    except ConfigException:
        kubernetes.config.load_kube_config()
    return CoreV1Api()


def sync_once(api: CoreV1Api, namespace: str, name: str, folder: Path) -> None:
    """Watch the ConfigMap until the stream ends (the server closes it now and then).

    A field selector on the name, so that RBAC restricted to this one ConfigMap allows it."""
    stream = watch.Watch().stream(
        api.list_namespaced_config_map,
        namespace,
        field_selector=f"metadata.name={name}",
        timeout_seconds=300,
    )
    for event in stream:
        obj: Any = event["object"]
        if event["type"] in ("ADDED", "MODIFIED") and write_folder(folder, obj.data or {}):
            log.info(
                "ConfigMap written to the folder",
                extra={"configmap": f"{namespace}/{name}", "folder": str(folder)},
            )


def wait_and_write(
    api: CoreV1Api, namespace: str, name: str, folder: Path, *, timeout: float
) -> None:
    """Write the folder from the ConfigMap once it exists; ConfigSyncError after `timeout`."""
    where = {"configmap": f"{namespace}/{name}", "folder": str(folder)}
    deadline = time.monotonic() + timeout
    last_said = float("-inf")
    while True:
        try:
            cm: Any = api.read_namespaced_config_map(
                name, namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
        except Exception as exc:  # retried until the deadline, then named
            cause = describe_error(exc)
            if time.monotonic() >= deadline:
                raise ConfigSyncError(
                    f"ConfigMap {name} in namespace {namespace} not readable after "
                    f"{timeout:g}s: {cause}"
                ) from exc
            if time.monotonic() - last_said >= WAITING_LOG_SECONDS:
                missing = isinstance(exc, ApiException) and exc.status == 404
                said = "does not exist yet; waiting" if missing else "unreadable; retrying"
                log.info(
                    f"ConfigMap {name} in namespace {namespace} {said}",
                    extra={**where, "cause": cause},
                )
                last_said = time.monotonic()
            time.sleep(RETRY_SECONDS)
            continue
        write_folder(folder, cm.data or {})
        log.info("ConfigMap written to the folder", extra=where)
        return


@click.command()
@click.option(
    "--kubeconfig",
    type=click.Path(exists=True, dir_okay=False),
    help="Kubeconfig file; default: the pod's ServiceAccount, else the default kubeconfig.",
)
@click.option("--namespace", required=True)
@click.option("--name", required=True, help="The ConfigMap.")
@click.option("--dir", "folder", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--once", is_flag=True, help="Wait for the ConfigMap, write DIR once and exit.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    help="With --once: seconds to wait for the ConfigMap before failing.",
)
def main(
    kubeconfig: str | None, namespace: str, name: str, folder: Path, once: bool, timeout: float
) -> None:
    """Keep DIR in step with the ConfigMap NAME, one file per key."""
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    where = {"configmap": f"{namespace}/{name}", "folder": str(folder)}
    try:
        api = load_api(kubeconfig)
    except (ConfigException, OSError) as exc:
        log.error(
            f"ConfigMap {name} in namespace {namespace}: no Kubernetes API credentials "
            "(not in a pod with a ServiceAccount token, no kubeconfig)",
            extra={**where, "cause": str(exc)},
        )
        sys.exit(1)
    if once:
        try:
            wait_and_write(api, namespace, name, folder, timeout=timeout)
        except ConfigSyncError as exc:
            log.error(str(exc), extra=where)
            sys.exit(1)
        except OSError as exc:
            log.error(
                f"ConfigMap {name} in namespace {namespace}: cannot write {folder}: {exc}",
                extra=where,
            )
            sys.exit(1)
        return
    while True:
        try:
            sync_once(api, namespace, name, folder)
        except Exception as exc:  # the apiserver restarting must not end the sync
            log.warning(
                f"watching ConfigMap {name} in namespace {namespace} failed; retrying",
                extra={**where, "cause": describe_error(exc)},
            )
            time.sleep(RETRY_SECONDS)


if __name__ == "__main__":
    main()
