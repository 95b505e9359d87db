"""forum-operator: run the ForumDatabase operator.

    forum-operator [--namespace NS]... | [--all-namespaces]   (default: all namespaces)
                   [--health-port 8080] [--metrics-port 9090]
                   [--peering NAME | --standalone] [--drift-interval SECONDS]
                   [--cluster-id ID]

AWS endpoints, region and credentials come from boto3's standard settings (AWS_ENDPOINT_URL,
AWS_REGION, the credential chain); Kubernetes from the in-cluster service account or KUBECONFIG.
This module is the command line only: the handlers are in handlers.py, what they share is
built here and handed to Kopf in its memo (kopf.run(memo=...)).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

import click
import kopf
from prometheus_client import start_http_server

from forumdb import naming
from forumdb.logs import configure_logging
from forumdb_operator import handlers, kube, webhook
from forumdb_operator.runtime import MEMO_KEY, Runtime, default_region, warm_clients

log = logging.getLogger("forumdb_operator.main")


# Attributes Kopf adds to its log records (its whole settings object among them): not for logs.
_KOPF_EXTRAS = ("settings", "k8s_skip", "k8s_ref")


def _drop_kopf_extras(record: logging.LogRecord) -> bool:
    ref = getattr(record, "k8s_ref", None)
    for key in _KOPF_EXTRAS:
        record.__dict__.pop(key, None)
    if isinstance(ref, dict) and "resource" not in record.__dict__:
        record.resource = f"{ref.get('namespace')}/{ref.get('name')}"
    return True


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
    "--webhook-service",
    default="",
    envvar="FORUMDB_WEBHOOK_SERVICE",
    help="NAMESPACE/NAME of the Service in front of the webhook: registered as a `service:` "
    "clientConfig (in a cluster; instead of --webhook-host).",
)
@click.option(
    "--webhook-configuration",
    default=webhook.CONFIGURATION_NAME,
    show_default=True,
    envvar="FORUMDB_WEBHOOK_CONFIGURATION",
    help="Name of the Validating/MutatingWebhookConfiguration the operator keeps up to date.",
)
@click.option(
    "--webhook-cert-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FORUMDB_WEBHOOK_CERT_DIR",
    help="Folder with tls.crt, tls.key (and ca.crt) for the webhook's HTTPS.",
)
@click.option(
    "--cluster-id",
    default="",
    envvar="FORUMDB_CLUSTER_ID",
    help="This cluster's id (lower-case letters, digits, '-'; up to 32): recorded in the owner "
    "tags and the names of what the operator makes, so clusters sharing an AWS account never "
    "manage each other's tables, alarms or backup plans.",
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
    webhook_service: str,
    webhook_configuration: str,
    webhook_cert_dir: Path | None,
    cluster_id: str,
    log_level: str,
) -> None:
    """Run the ForumDatabase operator."""
    if all_namespaces and namespaces:
        raise click.UsageError("--all-namespaces and --namespace exclude each other")
    if drift_interval <= 0:
        raise click.BadParameter("must be > 0", param_hint="--drift-interval")
    _check_webhook_options(webhook_port, webhook_host, webhook_service, webhook_cert_dir)
    if cluster_id and not naming.CLUSTER_ID_PATTERN.match(cluster_id):
        raise click.BadParameter(
            f"{cluster_id!r}: use 1-32 lower-case letters, digits and '-' (not at either end)",
            param_hint="--cluster-id",
        )
    configure_logging(log_level)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_drop_kopf_extras)
    try:
        kube.load_config()
    except kube.Unreachable as exc:
        raise click.ClickException(str(exc)) from None
    cluster = kube.Kube.connect()
    allowed = frozenset(r.strip() for r in allowed_regions.split(",") if r.strip()) or None
    runtime = Runtime.build(
        cluster,
        drift_interval=drift_interval,
        workers=workers,
        allowed_regions=allowed,
        cluster_id=cluster_id,
    )
    # While Kopf starts and lists the resources: the first reconcile finds its clients built.
    warm_regions = sorted(allowed) if allowed else [r for r in [default_region()] if r]
    threading.Thread(
        target=warm_clients, args=(runtime, warm_regions), daemon=True, name="warm-clients"
    ).start()
    memo = kopf.Memo({MEMO_KEY: runtime, handlers.ADMISSION_KEY: None})
    if webhook_port and webhook_cert_dir is not None:
        webhook.register(allowed)
        memo[handlers.ADMISSION_KEY] = webhook.server(
            webhook_port, webhook_host, webhook_cert_dir, webhook_service
        )
        memo[handlers.CONFIGURATION_KEY] = webhook_configuration
    if metrics_port:
        start_http_server(metrics_port)
    if not standalone:
        cluster.ensure_peering(peering_name, namespaces)
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
        memo=memo,
    )
    exit_now(runtime)


def _check_webhook_options(port: int, host: str, service: str, cert_dir: Path | None) -> None:
    if port and not ((host or service) and cert_dir):
        raise click.UsageError(
            "--webhook-port needs --webhook-service (or --webhook-host) and --webhook-cert-dir"
        )
    if service:
        try:
            webhook.parse_service(service)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--webhook-service") from None


def exit_now(runtime: Runtime) -> None:
    """End the process once Kopf has stopped (on SIGTERM/SIGINT) and cleaned up.

    The daemons are cancelled by then, but a blocking AWS or Kubernetes call they started keeps
    running in its pool thread, and the interpreter joins every pool thread before it exits:
    with botocore's timeouts and retries that held a pod 12-60 s past SIGTERM. Whatever such a
    call was doing, the next operator's reconcile does again (reconciles converge), so the
    pools are abandoned and the process exits at once."""
    for pool in (runtime.pool, runtime.health_pool):
        pool.shutdown(wait=False, cancel_futures=True)
    log.info("stopped")
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
