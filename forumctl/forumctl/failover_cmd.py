"""`forumctl failover --to REGION --forumdb NAME`: move a deployment's services to another
region (failover) or back to the primary (failback), through the operator.

It sets the ForumDatabase's spec.activeRegion and the forumdb.io/failover-requested annotation
(a new value each time: it hands the choice back to the spec after an automatic failover, which
the operator keeps in status, even when spec.activeRegion already named REGION); the operator
then rewrites the ConfigMap's AWS_REGION, which the services pick up without a restart. With
--wait (the default) the command returns once the status and the ConfigMap both name the new
region.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import click
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from rich.console import Console

from forumctl.context import output_option
from forumctl.errors import CheckFailed, UsageProblem
from forumctl.kube import KubeNotFound, api_clients, kube_call
from forumctl.output import Output, print_table, table
from forumdb.naming import ANNOTATION_FAILOVER_REQUESTED, GROUP, PLURAL, VERSION

POLL_SECONDS = 0.5


class FailoverResult(BaseModel):
    # JSON keys in camelCase, like every other forumctl document (activeRegion, dryRun, ...).
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    forumdb: str
    namespace: str
    previous_region: str | None
    requested_region: str
    active_region: str | None
    configmap_region: str | None
    dry_run: bool
    waited_seconds: float | None = None


class _Kube:
    """The two API groups the command needs, from the kubeconfig."""

    def __init__(self, kubeconfig: str | None) -> None:
        self.custom, self.core, self.default_namespace = api_clients(
            kubeconfig, hint="set KUBECONFIG or pass --kubeconfig"
        )

    def forumdb(self, name: str, ns: str) -> dict[str, Any]:
        return kube_call(
            f"reading ForumDatabase {ns}/{name}",
            self.custom.get_namespaced_custom_object,
            *(GROUP, VERSION, ns, PLURAL, name),
        )

    def configmap_region(self, name: str, ns: str) -> str | None:
        try:
            cm = kube_call(
                f"reading ConfigMap {ns}/{name}", self.core.read_namespaced_config_map, name, ns
            )
        except KubeNotFound:
            return None
        return (cm.data or {}).get("AWS_REGION")


def allowed_regions(obj: dict[str, Any]) -> list[str]:
    """The primary and the replica regions (the spec's, else those the operator observed)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    replicas = spec.get("replicaRegions")
    if replicas is None:
        replicas = [r["region"] for r in status.get("regions") or [] if r.get("role") == "replica"]
    return [spec.get("primaryRegion", ""), *replicas]


def unhealthy_reason(obj: dict[str, Any], region: str) -> str | None:
    for item in (obj.get("status") or {}).get("regionHealth") or []:
        if item.get("region") == region and item.get("healthy") is False:
            failures = item.get("consecutiveFailures", "?")
            return f"{region} failed its last {failures} health checks: {item.get('lastError')}"
    return None


def _human(result: FailoverResult) -> Any:
    def show(console: Console) -> None:
        rows = [
            ("ForumDatabase", f"{result.namespace}/{result.forumdb}"),
            ("previous region", result.previous_region),
            ("requested region", result.requested_region),
            ("status.activeRegion", result.active_region),
            ("ConfigMap AWS_REGION", result.configmap_region),
        ]
        if result.waited_seconds is not None:
            rows.append(("waited", f"{result.waited_seconds:.1f} s"))
        title = "failover (dry run: nothing changed)" if result.dry_run else "failover"
        print_table(console, table(title, None, rows))

    return show


@click.command("failover")
@click.option("--to", "to_region", required=True, metavar="REGION", help="Region to switch to.")
@click.option("--forumdb", "name", required=True, metavar="NAME", help="The ForumDatabase.")
@click.option("--namespace", "-n", help="Its namespace (default: the kubeconfig context's).")
@click.option("--kubeconfig", help="Kubeconfig (default: KUBECONFIG, ~/.kube/config).")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until the operator has switched the status and the ConfigMap.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    help="Seconds to wait for the switch (with --wait).",
)
@click.option("--force", is_flag=True, help="Switch even to a region failing its health checks.")
@click.option("--dry-run", is_flag=True, help="Check and show the switch; change nothing.")
@output_option
def failover(
    to_region: str,
    name: str,
    namespace: str | None,
    kubeconfig: str | None,
    wait: bool,
    timeout: float,
    force: bool,
    dry_run: bool,
    output_mode: str,
) -> None:
    """Switch the services of a ForumDatabase to REGION (spec.activeRegion).

    REGION is the primary (a failback) or one of its replica regions. Exit 1 when the operator
    has not switched within --timeout.
    """
    out = Output(output_mode)
    kube = _Kube(kubeconfig)
    ns = namespace or kube.default_namespace
    obj = kube.forumdb(name, ns)
    regions = allowed_regions(obj)
    if to_region not in regions:
        raise UsageProblem(
            f"{to_region} is not a region of ForumDatabase {ns}/{name}",
            hint=f"choose the primary or a replica region: {', '.join(r for r in regions if r)}",
        )
    problem = unhealthy_reason(obj, to_region)
    if problem and not force:
        raise CheckFailed(
            f"not switching {ns}/{name}: {problem}", hint="wait for it to recover, or use --force"
        )
    status = obj.get("status") or {}
    cm_name = status.get("configMap") or f"forumdb-{name}"
    result = FailoverResult(
        forumdb=name,
        namespace=ns,
        previous_region=status.get("activeRegion"),
        requested_region=to_region,
        active_region=status.get("activeRegion"),
        configmap_region=kube.configmap_region(cm_name, ns),
        dry_run=dry_run,
    )
    if not dry_run:
        kube_call(
            f"setting spec.activeRegion of ForumDatabase {ns}/{name}",
            kube.custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            ns,
            PLURAL,
            name,
            {
                "metadata": {"annotations": {ANNOTATION_FAILOVER_REQUESTED: _request(to_region)}},
                "spec": {"activeRegion": to_region},
            },
        )
        if problem:
            out.note(f"warning: {problem}")
        if wait:
            result = _wait(kube, result, cm_name, timeout)
    out.emit(result.model_dump(mode="json", by_alias=True), _human(result))
    if wait and not dry_run and not _switched(result):
        raise CheckFailed(
            f"the operator has not switched {ns}/{name} to {to_region} within {timeout:g} s "
            f"(status.activeRegion {result.active_region}, ConfigMap AWS_REGION "
            f"{result.configmap_region})",
            hint="check that forum-operator runs (`kubectl get forumdb`, its logs and events)",
        )


def _request(region: str) -> str:
    """A new annotation value per request (the region and the time)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{region}@{stamp}"


def _switched(result: FailoverResult) -> bool:
    return result.active_region == result.configmap_region == result.requested_region


def _wait(kube: _Kube, result: FailoverResult, cm_name: str, timeout: float) -> FailoverResult:
    started = time.monotonic()
    while True:
        status = kube.forumdb(result.forumdb, result.namespace).get("status") or {}
        result = result.model_copy(
            update={
                "active_region": status.get("activeRegion"),
                "configmap_region": kube.configmap_region(cm_name, result.namespace),
                "waited_seconds": round(time.monotonic() - started, 2),
            }
        )
        if _switched(result) or time.monotonic() - started >= timeout:
            return result
        time.sleep(POLL_SECONDS)
