"""Reading a ForumDatabase and the ConfigMap its operator publishes, through the kubeconfig.

The ConfigMap (`status.configMap`, by default `forumdb-NAME`) carries the fixed contract keys
(TABLE_PREFIX, USERS_TABLE, THREADS_TABLE, POSTS_TABLE, AWS_REGION, REPLICA_REGIONS), so the
CLI targets exactly what the services use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from forumctl.errors import AwsError
from forumdb.naming import GROUP, PLURAL, VERSION


class ForumDbTarget(BaseModel):
    name: str
    namespace: str
    uid: str = ""  # metadata.uid: part of the ownership record on what the operator made
    phase: str | None = None
    config: dict[str, str] = Field(default_factory=dict)
    status: dict[str, Any] = Field(default_factory=dict)
    spec: dict[str, Any] = Field(default_factory=dict)


_NAME_HINT = "check the name with `kubectl get forumdb -A`, or pass --namespace"
_FLAGS_HINT = (
    "set KUBECONFIG or pass --kubeconfig, or give tables/region by flags instead of --forumdb"
)


def api_clients(kubeconfig: str | None, hint: str = _FLAGS_HINT) -> tuple[Any, Any, str]:
    """(CustomObjectsApi, CoreV1Api, the context's namespace) from the kubeconfig."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    try:
        config.load_kube_config(config_file=kubeconfig)
        _, active = config.list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, FileNotFoundError, TypeError) as exc:
        raise AwsError(
            f"cannot load the kubeconfig ({kubeconfig or 'KUBECONFIG or ~/.kube/config'}): {exc}",
            hint=hint,
        ) from None
    namespace = (active or {}).get("context", {}).get("namespace") or "default"
    return client.CustomObjectsApi(), client.CoreV1Api(), namespace


class KubeNotFound(AwsError):
    """The Kubernetes API answered 404 for the object named in the message."""


def kube_call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` against the Kubernetes API, its failures as AwsError naming
    `what` (e.g. "reading ForumDatabase NS/NAME"): 404 as KubeNotFound, any other status with
    its reason, an unreachable API server as such."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        return fn(*args, **kwargs)
    except ApiException as exc:
        if exc.status == 404:
            raise KubeNotFound(f"{what}: not found", hint=_NAME_HINT) from None
        raise AwsError(f"{what}: {exc.status} {exc.reason}") from None
    except HTTPError as exc:
        raise AwsError(f"{what}: cannot reach the Kubernetes API: {exc}") from None


def read_forumdb(name: str, namespace: str | None, kubeconfig: str | None) -> ForumDbTarget:
    custom, core, default_ns = api_clients(kubeconfig)
    ns = namespace or default_ns
    try:
        obj = kube_call(
            f"reading ForumDatabase {ns}/{name}",
            custom.get_namespaced_custom_object,
            *(GROUP, VERSION, ns, PLURAL, name),
        )
    except KubeNotFound:
        missing = f"ForumDatabase {name} not found in namespace {ns}"
        raise AwsError(missing, hint=_NAME_HINT) from None
    status = obj.get("status") or {}
    cm_name = status.get("configMap") or f"forumdb-{name}"
    try:
        cm = kube_call(
            f"reading ConfigMap {ns}/{cm_name}", core.read_namespaced_config_map, cm_name, ns
        )
    except KubeNotFound:
        raise AwsError(
            f"ForumDatabase {ns}/{name} has no ConfigMap {cm_name} yet "
            f"(phase {status.get('phase', 'unknown')})",
            hint="wait until the operator has provisioned it (`kubectl get forumdb`)",
        ) from None
    return ForumDbTarget(
        name=name,
        namespace=ns,
        uid=str((obj.get("metadata") or {}).get("uid") or ""),
        phase=status.get("phase"),
        config=dict(cm.data or {}),
        status=status,
        spec=obj.get("spec") or {},
    )
