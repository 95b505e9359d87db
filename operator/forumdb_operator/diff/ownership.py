"""Whether an observed table belongs to a resource: the one rule deletion, the status and the
ConfigMap share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from forumdb import naming
from forumdb_operator.arns import table_of
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


def claim_holds(d: DesiredState, o: ObservedTable, obs: Observed) -> bool:
    """This resource claims `o` itself, not only its name: the claim's TableId is the one
    DescribeTable answers now. A table of the name deleted and made again (by another resource,
    a person, forumctl) has another TableId: it is judged by its own tags, never by the claim.
    An unbound claim (an earlier status's bare name) holds for the table seen, as it did then;
    it is bound to that table's TableId when kept (unconfirmed)."""
    return o.region == d.primary_region and _bound_to(obs.claimed, o)


def _bound_to(claimed: Mapping[str, str], o: ObservedTable) -> bool:
    if o.name not in claimed:
        return False
    return not claimed[o.name] or claimed[o.name] == o.table_id


def awaiting_tags(d: DesiredState, o: ObservedTable, obs: Observed) -> bool:
    """A table this resource created or tagged moments ago whose tags DynamoDB does not list
    yet: right after CreateTable/TagResource, ListTagsOfResource may answer the previous (empty)
    set for a few seconds (TagResource API reference)."""
    return owner_of(o) is None and claim_holds(d, o, obs)


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


# status.claimedTables: {name, tableId} entries; table name -> TableId ("" unbound).
Claims = dict[str, str]


def from_status(raw: Any) -> Claims:
    """status.claimedTables as claims: {name, tableId} entries; a bare name (the status of an
    operator before claims were bound to a TableId) is an unbound claim: its tags are read,
    never taken as sent."""
    out: Claims = {}
    for entry in raw or []:
        if isinstance(entry, str) and entry:
            out.setdefault(entry, "")
        elif isinstance(entry, Mapping) and entry.get("name"):
            out[str(entry["name"])] = str(entry.get("tableId") or "")
    return out


def as_status(claims: Mapping[str, str]) -> list[dict[str, str]]:
    """Claims as status.claimedTables, by table name (tableId only where known)."""
    return [
        {"name": name, "tableId": claims[name]} if claims[name] else {"name": name}
        for name in sorted(claims)
    ]


def claims(
    names: Mapping[str, str],
    applied: list[Action],
    region: str | None = None,
    ids: Mapping[str, str] | None = None,
) -> Claims:
    """`names` plus the tables `applied` created or tagged (in `region`, the primary region,
    where given: a replica's tags are claimed apart, diff.replica_tags), each bound to `ids`:
    the TableId of the table the action was on (observed.ReadMemo.claim_ids: CreateTable's
    answer, or the table as described before TagResource); "" where not known."""
    out = dict(names)
    for a in applied:
        if region is not None and a.region != region:
            continue
        if a.operation == "create_table":
            name = str(a.params["TableName"])
        elif a.operation == "tag_resource" and a.service == "dynamodb":
            name = table_of(a.params["ResourceArn"])
        else:
            continue
        out[name] = (ids or {}).get(name, "")
    return out


def unconfirmed(d: DesiredState, obs: Observed, claimed: Mapping[str, str]) -> Claims:
    """The claims still to keep: tables that exist, are the very tables claimed (claim_holds),
    and have no owner tag listed yet (or whose tags were taken as sent, not listed:
    obs.tags_trusted); an unbound claim kept is bound to the table's TableId now."""
    keep: Claims = {}
    for t in d.tables:
        o = obs.table(t.kind, d.primary_region)
        if t.name not in claimed or o is None:
            continue
        if not _bound_to(claimed, o):
            continue  # another table of the name now: no claim of this resource's on it
        if owner_of(o) is None or t.name in obs.tags_trusted:
            keep[t.name] = claimed[t.name] or o.table_id
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
