"""Names and tags of everything the operator creates for a ForumDatabase.

One place, so the operator, `forumctl verify` and the tests agree on what belongs to which
resource. Table names come from forumdb.tables (prefix + logical name); every other AWS name is
derived from the resource's namespace and name, shortened with a stable hash where AWS limits
the length, so two ForumDatabases never share a vault, plan, topic or alarm.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from forumdb.tables import KINDS, Kind, table_name

# CRD coordinates.
GROUP = "forumdb.io"
VERSION = "v1alpha1"
KIND = "ForumDatabase"
PLURAL = "forumdatabases"
SHORT_NAME = "forumdb"
API_VERSION = f"{GROUP}/{VERSION}"

# Tags on every AWS resource the operator creates or adopts.
TAG_OWNER = "forumdb.io/owner"  # "NAMESPACE/NAME" of the ForumDatabase (bounded, see owner_value)
# The ForumDatabase's metadata.uid: a resource deleted and created again under the same name,
# or the same name in another cluster, is another owner.
TAG_OWNER_UID = "forumdb.io/owner-uid"
# The operator's --cluster-id, where set: two clusters sharing one AWS account.
TAG_CLUSTER = "forumdb.io/cluster"
TAG_MANAGED_BY = "forumdb.io/managed-by"
TAG_TABLE_KIND = "forumdb.io/table"  # users | threads | posts (tables only)
MANAGED_BY = "forumdb-operator"

# Kubernetes names.
CONFIGMAP_PREFIX = "forumdb-"
FINALIZER = "forumdb.io/finalizer"
LABEL_OWNER_NAME = "forumdb.io/forumdatabase"
# Any new value wakes the resource's reconcile loop now (status.lastReconcileRequest echoes it).
ANNOTATION_RECONCILE_REQUESTED = "forumdb.io/reconcile-requested"
# Set by `forumctl failover` with spec.activeRegion: a new value hands the active region back to
# the spec after an automatic failover, even when spec.activeRegion already named that region.
ANNOTATION_FAILOVER_REQUESTED = "forumdb.io/failover-requested"

# AWS Backup vault/plan names: 1-50 of [A-Za-z0-9_-]; CloudWatch alarm names up to 255 chars
# (PutMetricAlarm API reference); SNS topic names up to 256 of [A-Za-z0-9_-]; tag values up to
# 256 characters (DynamoDB TagResource, AWS Backup and CloudWatch tagging limits).
_VAULT_MAX = 50
_PLAN_MAX = 50
_TOPIC_MAX = 256
_TAG_VALUE_MAX = 256
_ALARM_MAX = 255
# The alarm prefix stays short enough that every alarm name under it fits in _ALARM_MAX.
_ALARM_PREFIX_MAX = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# --cluster-id: lower-case letters, digits and '-', so it fits every AWS name it joins.
CLUSTER_ID_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:8]


def _cut(value: str, limit: int) -> str:
    """`value` if it fits, else cut and suffixed with a hash of the whole (stays distinct)."""
    if len(value) <= limit:
        return value
    return f"{value[: limit - 9]}-{_digest(value)}"


def owner_value(namespace: str, name: str) -> str:
    """The owner tag's value: NAMESPACE/NAME (a namespace of 63 and a name of 253 characters
    would pass the 256 of a tag value: then cut with a hash)."""
    return _cut(f"{namespace}/{name}", _TAG_VALUE_MAX)


def _bounded(base: str, limit: int) -> str:
    """`base` with unsafe characters replaced; if too long, cut and suffixed with a hash of
    the full value so distinct inputs stay distinct."""
    safe = _UNSAFE.sub("-", base)
    if len(safe) <= limit:
        return safe
    return f"{safe[: limit - 9]}-{_digest(base)}"


def configmap_name(name: str) -> str:
    return f"{CONFIGMAP_PREFIX}{name}"


def base_name(namespace: str, name: str, cluster: str = "") -> str:
    """With a cluster id, names of two clusters sharing an account never collide."""
    return f"forumdb-{cluster}-{namespace}-{name}" if cluster else f"forumdb-{namespace}-{name}"


def vault_name(namespace: str, name: str, override: str | None = None, cluster: str = "") -> str:
    """The backup vault's name, the same in the primary and the copy region."""
    return override or _bounded(base_name(namespace, name, cluster), _VAULT_MAX)


def plan_name(namespace: str, name: str, cluster: str = "") -> str:
    return _bounded(base_name(namespace, name, cluster), _PLAN_MAX)


def selection_name(namespace: str, name: str, cluster: str = "") -> str:
    return _bounded(f"{base_name(namespace, name, cluster)}-tables", _PLAN_MAX)


def topic_name(namespace: str, name: str, cluster: str = "") -> str:
    return _bounded(f"{base_name(namespace, name, cluster)}-alarms", _TOPIC_MAX)


def alarm_prefix(namespace: str, name: str, cluster: str = "") -> str:
    """Every alarm of one resource starts with this (so DescribeAlarms by prefix finds them)."""
    base = f"forumdb/{cluster}/{namespace}/{name}" if cluster else f"forumdb/{namespace}/{name}"
    return _cut(base, _ALARM_PREFIX_MAX - 1) + "/"


def _alarm(prefix: str, tail: str) -> str:
    return prefix + _cut(tail, _ALARM_MAX - len(prefix))


def table_alarm_name(namespace: str, name: str, table: str, metric: str, cluster: str = "") -> str:
    return _alarm(alarm_prefix(namespace, name, cluster), f"{table}/{metric}")


def index_alarm_name(
    namespace: str, name: str, table: str, index: str, metric: str, cluster: str = ""
) -> str:
    """An alarm on one global secondary index of a table (its own throttle metrics)."""
    return _alarm(alarm_prefix(namespace, name, cluster), f"{table}/{index}/{metric}")


def account_alarm_name(namespace: str, name: str, metric: str, cluster: str = "") -> str:
    """The per-resource account-level alarm of earlier versions (now shared_alarm_name): the
    operator removes it where it finds it under the resource's prefix."""
    return _alarm(alarm_prefix(namespace, name, cluster), f"account/{metric}")


# The account-level alarms (UserErrors has no table dimension): one per account, region and
# operator cluster id, shared by every ForumDatabase there. Outside every resource's alarm prefix
# ("forumdb/..."), so no resource takes it for one of its own.
SHARED_ALARM_ROOT = "forumdb-account/"
# One tag per ForumDatabase using a shared alarm: this prefix + a digest of its ownership record
# (CloudWatch tag keys up to 128 characters, values 256, 50 tags per alarm).
TAG_ALARM_USER = "forumdb.io/user/"


def shared_alarm_name(metric: str, cluster: str = "") -> str:
    """The account-level alarm of `metric`, shared by the resources of one operator cluster."""
    return f"{SHARED_ALARM_ROOT}{cluster}/{metric}" if cluster else SHARED_ALARM_ROOT + metric


def alarm_user_key(namespace: str, name: str, cluster: str = "") -> str:
    """The tag key that records one resource as a user of a shared alarm: by NAMESPACE/NAME
    (one object of that name at a time in a cluster; the UID would leave a key behind when a
    resource first learns it)."""
    record = f"{cluster}/{namespace}/{name}"
    return TAG_ALARM_USER + hashlib.sha256(record.encode()).hexdigest()[:16]


def replication_alarm_name(
    namespace: str, name: str, table: str, replica_region: str, cluster: str = ""
) -> str:
    return _alarm(
        alarm_prefix(namespace, name, cluster), f"{table}/ReplicationLatency/{replica_region}"
    )


def owner_tags(namespace: str, name: str, uid: str = "", cluster: str = "") -> dict[str, str]:
    """The ownership record: NAMESPACE/NAME, and the resource's UID and the cluster id where
    known (a recreated resource, or one of the same name in another cluster, is not the owner)."""
    tags = {TAG_OWNER: owner_value(namespace, name), TAG_MANAGED_BY: MANAGED_BY}
    if uid:
        tags[TAG_OWNER_UID] = uid
    if cluster:
        tags[TAG_CLUSTER] = cluster
    return tags


def table_tags(
    namespace: str, name: str, kind: Kind, uid: str = "", cluster: str = ""
) -> dict[str, str]:
    return {**owner_tags(namespace, name, uid, cluster), TAG_TABLE_KIND: kind}


@dataclass(frozen=True)
class ResourceNames:
    """Every name of one ForumDatabase, for callers that want them all (forumctl verify)."""

    namespace: str
    name: str
    table_prefix: str
    vault_override: str | None = None
    cluster: str = ""

    @property
    def tables(self) -> dict[Kind, str]:
        return {k: table_name(k, self.table_prefix) for k in KINDS}

    @property
    def configmap(self) -> str:
        return configmap_name(self.name)

    @property
    def vault(self) -> str:
        return vault_name(self.namespace, self.name, self.vault_override, self.cluster)

    @property
    def plan(self) -> str:
        return plan_name(self.namespace, self.name, self.cluster)

    @property
    def selection(self) -> str:
        return selection_name(self.namespace, self.name, self.cluster)

    @property
    def topic(self) -> str:
        return topic_name(self.namespace, self.name, self.cluster)

    @property
    def alarm_prefix(self) -> str:
        return alarm_prefix(self.namespace, self.name, self.cluster)

    @property
    def tags(self) -> dict[str, str]:
        return owner_tags(self.namespace, self.name, cluster=self.cluster)
