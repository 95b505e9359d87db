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
TAG_OWNER = "forumdb.io/owner"  # "NAMESPACE/NAME" of the ForumDatabase
TAG_MANAGED_BY = "forumdb.io/managed-by"
TAG_TABLE_KIND = "forumdb.io/table"  # users | threads | posts (tables only)
MANAGED_BY = "forumdb-operator"

# Kubernetes names.
CONFIGMAP_PREFIX = "forumdb-"
FINALIZER = "forumdb.io/finalizer"
LABEL_OWNER_NAME = "forumdb.io/forumdatabase"
# Any new value wakes the resource's reconcile loop now (status.lastReconcileRequest echoes it).
ANNOTATION_RECONCILE_REQUESTED = "forumdb.io/reconcile-requested"

# AWS Backup vault/plan names: 1-50 of [A-Za-z0-9_-]; CloudWatch alarm names up to 255 chars;
# SNS topic names up to 256 of [A-Za-z0-9_-].
_VAULT_MAX = 50
_PLAN_MAX = 50
_TOPIC_MAX = 256
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def owner_value(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def _bounded(base: str, limit: int) -> str:
    """`base` with unsafe characters replaced; if too long, cut and suffixed with a hash of
    the full value so distinct inputs stay distinct."""
    safe = _UNSAFE.sub("-", base)
    if len(safe) <= limit:
        return safe
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return f"{safe[: limit - 9]}-{digest}"


def configmap_name(name: str) -> str:
    return f"{CONFIGMAP_PREFIX}{name}"


def base_name(namespace: str, name: str) -> str:
    return f"forumdb-{namespace}-{name}"


def vault_name(namespace: str, name: str, override: str | None = None) -> str:
    """The backup vault's name, the same in the primary and the copy region."""
    return override or _bounded(base_name(namespace, name), _VAULT_MAX)


def plan_name(namespace: str, name: str) -> str:
    return _bounded(base_name(namespace, name), _PLAN_MAX)


def selection_name(namespace: str, name: str) -> str:
    return _bounded(f"{base_name(namespace, name)}-tables", _PLAN_MAX)


def topic_name(namespace: str, name: str) -> str:
    return _bounded(f"{base_name(namespace, name)}-alarms", _TOPIC_MAX)


def alarm_prefix(namespace: str, name: str) -> str:
    """Every alarm of one resource starts with this (so DescribeAlarms by prefix finds them)."""
    return f"forumdb/{namespace}/{name}/"


def table_alarm_name(namespace: str, name: str, table: str, metric: str) -> str:
    return f"{alarm_prefix(namespace, name)}{table}/{metric}"


def account_alarm_name(namespace: str, name: str, metric: str) -> str:
    return f"{alarm_prefix(namespace, name)}account/{metric}"


def replication_alarm_name(namespace: str, name: str, table: str, replica_region: str) -> str:
    return f"{alarm_prefix(namespace, name)}{table}/ReplicationLatency/{replica_region}"


def owner_tags(namespace: str, name: str) -> dict[str, str]:
    return {TAG_OWNER: owner_value(namespace, name), TAG_MANAGED_BY: MANAGED_BY}


def table_tags(namespace: str, name: str, kind: Kind) -> dict[str, str]:
    return {**owner_tags(namespace, name), TAG_TABLE_KIND: kind}


@dataclass(frozen=True)
class ResourceNames:
    """Every name of one ForumDatabase, for callers that want them all (forumctl verify)."""

    namespace: str
    name: str
    table_prefix: str
    vault_override: str | None = None

    @property
    def tables(self) -> dict[Kind, str]:
        return {k: table_name(k, self.table_prefix) for k in KINDS}

    @property
    def configmap(self) -> str:
        return configmap_name(self.name)

    @property
    def vault(self) -> str:
        return vault_name(self.namespace, self.name, self.vault_override)

    @property
    def plan(self) -> str:
        return plan_name(self.namespace, self.name)

    @property
    def selection(self) -> str:
        return selection_name(self.namespace, self.name)

    @property
    def topic(self) -> str:
        return topic_name(self.namespace, self.name)

    @property
    def alarm_prefix(self) -> str:
        return alarm_prefix(self.namespace, self.name)

    @property
    def tags(self) -> dict[str, str]:
        return owner_tags(self.namespace, self.name)
