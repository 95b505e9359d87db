"""forum-operator: run the ForumDatabase operator.

    forum-operator [--namespace NS]... | [--all-namespaces]   (default: all namespaces)
                   [--health-port 8080] [--metrics-port 9090]
                   [--peering NAME | --standalone] [--drift-interval SECONDS]

AWS endpoints, region and credentials come from boto3's standard settings (AWS_ENDPOINT_URL,
AWS_REGION, the credential chain); Kubernetes from the in-cluster service account or KUBECONFIG.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
import kopf
import kubernetes
from kubernetes.client import CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException
from prometheus_client import start_http_server

from forumdb import naming
from forumdb.logs import configure_logging
from forumdb_operator import handlers, health, webhook
from forumdb_operator.awsclients import Clients
from forumdb_operator.reconcile import Reconciler

log = logging.getLogger("forumdb_operator.main")

PEERING_GROUP = "kopf.dev"
PEERING_VERSION = "v1"


def load_kube_config() -> None:
    """In-cluster service account, else KUBECONFIG / ~/.kube/config; neither: a one-line
    error (click prints it and exits 1), not a traceback."""
    try:
        kubernetes.config.load_incluster_config()
        return
    except kubernetes.config.ConfigException:
        pass
    try:
        kubernetes.config.load_kube_config()
    except (kubernetes.config.ConfigException, OSError) as exc:
        where = os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise click.ClickException(
            f"cannot reach Kubernetes: not running in a cluster and no usable kubeconfig "
            f"({where}): {exc}; set KUBECONFIG or run in a pod with a service account"
        ) from None


def ensure_peering(custom: CustomObjectsApi, name: str, namespaces: tuple[str, ...]) -> None:
    """Kopf pauses until its peering object exists: create it where it is missing (the chart
    usually installs it; creating needs RBAC create on clusterkopfpeerings/kopfpeerings)."""
    api_version = f"{PEERING_GROUP}/{PEERING_VERSION}"
    targets: list[str | None] = list(namespaces) or [None]
    for ns in targets:
        try:
            if ns is None:
                custom.get_cluster_custom_object(
                    PEERING_GROUP, PEERING_VERSION, "clusterkopfpeerings", name
                )
            else:
                custom.get_namespaced_custom_object(
                    PEERING_GROUP, PEERING_VERSION, ns, "kopfpeerings", name
                )
            continue
        except ApiException as exc:
            if exc.status != 404:
                log.warning(
                    "cannot read the peering object",
                    extra={"peering": name, "namespace": ns, "cause": f"{exc.status} {exc.reason}"},
                )
                continue
        try:
            if ns is None:
                body = {"apiVersion": api_version, "kind": "ClusterKopfPeering"}
                custom.create_cluster_custom_object(
                    PEERING_GROUP,
                    PEERING_VERSION,
                    "clusterkopfpeerings",
                    {**body, "metadata": {"name": name}},
                )
            else:
                body = {"apiVersion": api_version, "kind": "KopfPeering"}
                custom.create_namespaced_custom_object(
                    PEERING_GROUP,
                    PEERING_VERSION,
                    ns,
                    "kopfpeerings",
                    {**body, "metadata": {"name": name, "namespace": ns}},
                )
            log.info("created the peering object", extra={"peering": name, "namespace": ns})
        except ApiException as exc:
            if exc.status != 409:  # 409: another copy created it meanwhile
                log.warning(
                    "could not create the peering object; create it or run with --standalone",
                    extra={"peering": name, "namespace": ns, "cause": f"{exc.status} {exc.reason}"},
                )


# Attributes Kopf adds to its log records (its whole settings object among them): not for logs.
_KOPF_EXTRAS = ("settings", "k8s_skip", "k8s_ref")


def _drop_kopf_extras(record: logging.LogRecord) -> bool:
    ref = getattr(record, "k8s_ref", None)
    for key in _KOPF_EXTRAS:
        record.__dict__.pop(key, None)
    if isinstance(ref, dict) and "resource" not in record.__dict__:
        record.resource = f"{ref.get('namespace')}/{ref.get('name')}"
    return True


def _configure_kopf(settings: kopf.OperatorSettings, **_: Any) -> None:
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


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--namespace", "namespaces", multiple=True, help="Watch this namespace (repeatable).")
@click.option("--all-namespaces", is_flag=True, help="Watch every namespace (the default).")
@click.option("--health-port", type=int, default=8080, show_default=True, help="Liveness /healthz.")
@click.option(
    "--metrics-port", type=int, default=9090, show_default=True, help="Prometheus /metrics."
)
@click.option("--peering", "peering_name", default="forumdb", show_default=True)
@click.option("--standalone", is_flag=True, help="No peering (one operator, tests).")
@click.option(
    "--drift-interval",
    type=float,
    default=300.0,
    show_default=True,
    envvar="FORUMDB_DRIFT_INTERVAL",
    help="Seconds between drift checks of a resource that is in shape.",
)
@click.option(
    "--workers",
    type=int,
    default=8,
    show_default=True,
    envvar="FORUMDB_OPERATOR_WORKERS",
    help="Threads for AWS and Kubernetes calls (reconciles running at once).",
)
@click.option(
    "--allowed-regions",
    default="",
    envvar="FORUMDB_ALLOWED_REGIONS",
    help="Comma-separated regions a spec may use (default: every DynamoDB region).",
)
@click.option(
    "--webhook-port",
    type=int,
    default=0,
    envvar="FORUMDB_WEBHOOK_PORT",
    help="Serve the validating admission webhook on this port (0: no webhook).",
)
@click.option(
    "--webhook-host",
    default="",
    envvar="FORUMDB_WEBHOOK_HOST",
    help="Host name the API server uses to reach the webhook (e.g. the Service's DNS name).",
)
@click.option(
    "--webhook-cert-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FORUMDB_WEBHOOK_CERT_DIR",
    help="Folder with tls.crt, tls.key (and ca.crt) for the webhook's HTTPS.",
)
@click.option("--log-level", default="INFO", envvar="LOG_LEVEL", show_default=True)
def cli(
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    health_port: int,
    metrics_port: int,
    peering_name: str,
    standalone: bool,
    drift_interval: float,
    workers: int,
    allowed_regions: str,
    webhook_port: int,
    webhook_host: str,
    webhook_cert_dir: Path | None,
    log_level: str,
) -> None:
    """Run the ForumDatabase operator."""
    if all_namespaces and namespaces:
        raise click.UsageError("--all-namespaces and --namespace exclude each other")
    if drift_interval <= 0:
        raise click.BadParameter("must be > 0", param_hint="--drift-interval")
    if webhook_port and not (webhook_host and webhook_cert_dir):
        raise click.UsageError("--webhook-port needs --webhook-host and --webhook-cert-dir")
    configure_logging(log_level)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_drop_kopf_extras)
    load_kube_config()
    custom = CustomObjectsApi()
    allowed = frozenset(r.strip() for r in allowed_regions.split(",") if r.strip()) or None
    handlers.configure(
        handlers.Runtime(
            reconciler=Reconciler(
                Clients(os.environ.get("AWS_ENDPOINT_URL") or None), allowed_regions=allowed
            ),
            core=CoreV1Api(),
            custom=custom,
            pool=ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reconcile"),
            drift_interval=drift_interval,
            health_pool=ThreadPoolExecutor(max_workers=workers, thread_name_prefix="health"),
            probe_clients=Clients(
                os.environ.get("AWS_ENDPOINT_URL") or None, config=health.probe_config(5.0)
            ),
            allowed_regions=allowed,
        )
    )
    kopf.on.startup()(_configure_kopf)
    if webhook_port and webhook_cert_dir is not None:
        webhook.register(allowed)
        admission_server = webhook.server(webhook_port, webhook_host, webhook_cert_dir)

        def _configure_admission(settings: kopf.OperatorSettings, **_: Any) -> None:
            settings.admission.server = admission_server
            settings.admission.managed = webhook.CONFIGURATION_NAME

        kopf.on.startup()(_configure_admission)
    if metrics_port:
        start_http_server(metrics_port)
    if not standalone:
        ensure_peering(custom, peering_name, namespaces)
    log.info(
        "starting",
        extra={
            "namespaces": list(namespaces) or "all",
            "peering": None if standalone else peering_name,
            "drift_interval": drift_interval,
            "health_port": health_port,
            "metrics_port": metrics_port,
        },
    )
    kopf.run(
        clusterwide=not namespaces,
        namespaces=list(namespaces),
        standalone=standalone,
        peering_name=None if standalone else peering_name,
        liveness_endpoint=f"http://0.0.0.0:{health_port}/healthz" if health_port else None,
    )


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
