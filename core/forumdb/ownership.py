"""Whose an AWS resource is: the ownership record the operator tags on what it makes
(forumdb.naming.owner_tags), and the backup plan of a name that carries it.

One rule for the operator (which adopts, changes and deletes only what carries the record) and
`forumctl verify` (which passes a backup plan only when it is the deployment's): the name alone
proves nothing, a person, another resource or another cluster may have used it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from forumdb.naming import TAG_CLUSTER, TAG_MANAGED_BY, TAG_OWNER, TAG_OWNER_UID, owner_value

# The ownership record's keys, in the order a person reads them.
RECORD_KEYS = (TAG_OWNER, TAG_OWNER_UID, TAG_CLUSTER, TAG_MANAGED_BY)


@dataclass(frozen=True)
class OwnerRecord:
    """NAMESPACE/NAME (owner_value), the resource's metadata.uid and the operator's cluster id
    ("" where there is none). None: not known to the caller and not compared (forumctl verify
    given only --owner knows no UID; the cluster id is in the plan's name, naming.base_name)."""

    owner: str
    uid: str | None = ""
    cluster: str | None = ""

    @classmethod
    def of(
        cls, namespace: str, name: str, uid: str | None = "", cluster: str | None = ""
    ) -> OwnerRecord:
        return cls(owner_value(namespace, name), uid, cluster)

    def matches(self, tags: Mapping[str, str]) -> bool:
        """The tags carry this record: owner, UID and cluster id all equal (a missing tag is
        ""), each one the caller knows."""
        return (
            tags.get(TAG_OWNER) == self.owner
            and (self.uid is None or tags.get(TAG_OWNER_UID, "") == self.uid)
            and (self.cluster is None or tags.get(TAG_CLUSTER, "") == self.cluster)
        )

    def as_tags(self) -> str:
        """KEY=VALUE of the record as known, for a hint that says how to tag a resource."""
        pairs = [(TAG_OWNER, self.owner), (TAG_OWNER_UID, self.uid), (TAG_CLUSTER, self.cluster)]
        return ", ".join(f"{k}={v}" for k, v in pairs if v)


def describe_owner(tags: Mapping[str, str]) -> str:
    """The owner as a person reads it: NAMESPACE/NAME (uid U, cluster C)."""
    extra = [
        f"{label} {tags[key]}"
        for label, key in (("uid", TAG_OWNER_UID), ("cluster", TAG_CLUSTER))
        if tags.get(key)
    ]
    owner = tags.get(TAG_OWNER, "?")
    return f"{owner} ({', '.join(extra)})" if extra else owner


def record_tags(tags: Mapping[str, str]) -> str:
    """The ownership tags among `tags` as KEY=VALUE, or that there are none."""
    found = [f"{k}={tags[k]}" for k in RECORD_KEYS if k in tags]
    return ", ".join(found) if found else "no owner tags"


@dataclass(frozen=True)
class ListedPlan:
    """A backup plan listed under a name, with its tags (backup:ListTags of its ARN)."""

    plan_id: str
    arn: str
    tags: dict[str, str]

    def whose(self) -> str:
        """ "plan ID owned by NS/NAME (uid U)", or that it has no owner tag."""
        if TAG_OWNER in self.tags:
            return f"plan {self.plan_id} owned by {describe_owner(self.tags)}"
        return f"plan {self.plan_id} has no {TAG_OWNER} tag"


def plans_named(
    listed: Iterable[Mapping[str, Any]],
    name: str,
    record: OwnerRecord,
    tags_of: Callable[[str], Mapping[str, str]],
) -> Iterator[tuple[ListedPlan, bool]]:
    """Each plan of ListBackupPlans called `name`, with whether its tags carry `record`.
    Lazy: `tags_of(arn)` is read for a plan only when the caller asks for the next one, so a
    caller that stops at its own plan reads no further tags."""
    for plan in listed:
        if plan.get("BackupPlanName") != name:
            continue
        arn = str(plan.get("BackupPlanArn") or "")
        tags = dict(tags_of(arn) or {})
        yield ListedPlan(str(plan.get("BackupPlanId") or ""), arn, tags), record.matches(tags)


def remembered_plan_holds(got: Mapping[str, Any] | None, name: str) -> bool:
    """GetBackupPlan of a remembered id (a status's planId) still answers the plan: it exists,
    is not deleted (AWS keeps answering a deleted plan's id, with a DeletionDate) and still has
    the name."""
    if not got or got.get("DeletionDate"):
        return False
    return (got.get("BackupPlan") or {}).get("BackupPlanName") == name
