"""Whether an observed table belongs to a resource: the one rule deletion, the status and the
ConfigMap share."""

from __future__ import annotations

from dataclasses import replace

from forumdb import naming
from forumdb_operator.desired import DesiredState
from forumdb_operator.diff.model import Action
from forumdb_operator.observed import Observed, ObservedTable


def owner_of(o: ObservedTable) -> str | None:
    return (o.tags or {}).get(naming.TAG_OWNER)


def _record_matches(d: DesiredState, tags: dict[str, str]) -> bool:
    """The whole ownership record is this resource's: name, UID and cluster id."""
    return d.owns_record(tags)


def unrecorded_uid(d: DesiredState, o: ObservedTable) -> bool:
    """Tagged with this resource's name and cluster but no UID (an operator version before the
    UID joined the record, or a resource of the same name deleted with Retain)."""
    tags = o.tags or {}
    return (
        bool(d.uid)
        and tags.get(naming.TAG_OWNER) == d.owner
        and naming.TAG_OWNER_UID not in tags
        and tags.get(naming.TAG_CLUSTER, "") == d.cluster
    )


def awaiting_tags(d: DesiredState, o: ObservedTable, obs: Observed) -> bool:
    """A table this resource created or tagged moments ago whose tags DynamoDB does not list
    yet: right after CreateTable/TagResource, ListTagsOfResource may answer the previous (empty)
    set for a few seconds (TagResource API reference)."""
    return owner_of(o) is None and o.region == d.primary_region and o.name in obs.claimed


def owns(d: DesiredState, o: ObservedTable, obs: Observed) -> bool:
    """The table's ownership record (name, UID, cluster id) is this resource's, or it made or
    tagged the table and the tags are not listed yet, or the record lacks only the UID and this
    resource's own status says it provisioned these tables (made before the UID was recorded).
    Another owner's record always wins."""
    tags = o.tags or {}
    return (
        _record_matches(d, tags)
        or awaiting_tags(d, o, obs)
        or (unrecorded_uid(d, o) and obs.provisioned_here)
    )


def foreign_record(d: DesiredState, o: ObservedTable) -> bool:
    """The table carries another resource's ownership record: an owner tag that is neither
    this resource's whole record nor its name and cluster without a UID."""
    tags = o.tags or {}
    return owner_of(o) is not None and not _record_matches(d, tags) and not unrecorded_uid(d, o)


def earlier_self(d: DesiredState, tags: dict[str, str]) -> bool:
    """The record of an earlier resource of this name and cluster (another UID): one deleted
    with deletionPolicy Retain and created again."""
    return (
        bool(d.uid)
        and tags.get(naming.TAG_OWNER) == d.owner
        and tags.get(naming.TAG_CLUSTER, "") == d.cluster
        and tags.get(naming.TAG_OWNER_UID, "") not in ("", d.uid)
    )


def owns_replica(d: DesiredState, primary: ObservedTable, replica: ObservedTable) -> bool:
    """A table in a replica region belongs to the resource that owns (or adopts in this plan)
    `primary` (the caller's check) when the primary lists its region among its replicas (one
    global table) and it carries no other resource's ownership record. A replica is made
    without tags (each is a table of its own in its region), so no tag is no sign of a foreign
    table here. A replica still tagged by an earlier resource of the same name and cluster
    (deleted with Retain, created again, its primaries adopted) is this resource's too: the
    primary's ownership decides, and the replica is re-tagged with this resource's record."""
    if replica.region not in primary.replicas:
        return False
    return not foreign_record(d, replica) or earlier_self(d, replica.tags or {})


def stands_apart(d: DesiredState, primary: ObservedTable, seen: ObservedTable) -> bool:
    """`seen`, a table of the primary's name in another region, is a table of its own: the
    primary does not list its region among its replicas. AWS refuses a replica there ("...
    because one or more replicas already existed as tables.", DDB-TABLE-225, -203), and it is
    no replica of the resource's, so nothing of the resource's is done to it."""
    return seen.region != d.primary_region and seen.region not in primary.replicas


def claims(names: set[str], applied: list[Action], region: str | None = None) -> set[str]:
    """`names` plus the tables `applied` created or tagged (in `region`, the primary region,
    where given: a replica's tags are claimed apart, diff.replica_tags)."""
    out = set(names)
    for a in applied:
        if region is not None and a.region != region:
            continue
        if a.operation == "create_table":
            out.add(str(a.params["TableName"]))
        elif a.operation == "tag_resource" and a.service == "dynamodb":
            out.add(str(a.params["ResourceArn"]).rsplit("/", 1)[-1])
    return out


def unconfirmed(d: DesiredState, obs: Observed, claimed: set[str]) -> list[str]:
    """The claims still to keep: tables that exist with no owner tag listed yet (or whose
    tags were taken as sent, not listed: obs.tags_trusted)."""
    keep = []
    for t in d.tables:
        o = obs.table(t.kind, d.primary_region)
        if t.name not in claimed or o is None:
            continue
        if owner_of(o) is None or t.name in obs.tags_trusted:
            keep.append(t.name)
    return keep


def foreign_kinds(d: DesiredState, obs: Observed, plan_actions: list[Action]) -> set[str]:
    """Kinds whose primary table exists but is not this resource's and is not being adopted
    by this plan (another resource's owner tag, or an existing table adoption refused)."""
    tagging = {
        str(a.params["ResourceArn"])
        for a in plan_actions
        if a.operation == "tag_resource" and a.service == "dynamodb"
    }
    out = set()
    for t in d.tables:
        o = obs.table(t.kind, d.primary_region)
        if o is not None and not owns(d, o, obs) and o.arn not in tagging:
            out.add(t.kind)
    return out


def without_kinds(obs: Observed, kinds: set[str]) -> Observed:
    """A view of `obs` without the tables (every region) and PITR of `kinds`: what the status
    may show of a resource whose tables belong to someone else."""
    if not kinds:
        return obs
    return replace(
        obs,
        tables={k: v for k, v in obs.tables.items() if k[0] not in kinds},
        pitr={k: v for k, v in obs.pitr.items() if k[0] not in kinds},
    )
