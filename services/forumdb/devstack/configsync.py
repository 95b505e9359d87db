"""Keep a folder in step with a ConfigMap, one file per key: what the kubelet does for a
ConfigMap mounted as a volume, for services that run outside a cluster (FORUMDB_CONFIG_DIR).

    python -m forumdb.devstack.configsync --kubeconfig KC --namespace NS --name CM --dir DIR

Watches the ConfigMap and rewrites the folder on every change (so an operator's region switch
reaches the running services, which reload it: forumdb.config.SettingsWatcher). Each file is
replaced atomically; keys gone from the ConfigMap are removed. Ends on SIGTERM.
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
from kubernetes import watch
from kubernetes.client import CoreV1Api

from forumdb.logs import configure_logging

log = logging.getLogger("forumdb.devstack.configsync")
RETRY_SECONDS = 2.0


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


def _sync_once(api: CoreV1Api, namespace: str, name: str, folder: Path) -> None:
    """Watch the ConfigMap until the stream ends (the server closes it now and then)."""
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


@click.command()
@click.option("--kubeconfig", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--namespace", required=True)
@click.option("--name", required=True, help="The ConfigMap.")
@click.option("--dir", "folder", required=True, type=click.Path(file_okay=False, path_type=Path))
def main(kubeconfig: str, namespace: str, name: str, folder: Path) -> None:
    """Keep DIR in step with the ConfigMap NAME, one file per key."""
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    kubernetes.config.load_kube_config(config_file=kubeconfig)
    api = CoreV1Api()
    while True:
        try:
            _sync_once(api, namespace, name, folder)
        except Exception as exc:  # the apiserver restarting must not end the sync
            log.warning(
                "watching the ConfigMap failed; retrying",
                extra={"configmap": f"{namespace}/{name}", "cause": repr(exc)},
            )
            time.sleep(RETRY_SECONDS)


if __name__ == "__main__":
    main()
