"""The resource's tags on every replica of its tables, in the replica's own region.

A replica of a global table (version 2019.11.21) is a table of its own in its region, with its
own ARN and its own tags, and it is made without the primary's: ReplicaUpdates' Create
(CreateReplicationGroupMemberAction, botocore's DynamoDB model) takes no Tags, CloudFormation's
AWS::DynamoDB::GlobalTable takes Tags per replica (ReplicaSpecification.Tags), and Terraform
tags a replica through its own ARN in its region (aws_dynamodb_tag, "Table replicas in other
regions"; aws_dynamodb_table_replica's propagate_tags). So the ownership record is put on each
replica by TagResource in its region, and a table there that carries another resource's record
is never touched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from forumdb.ownership import describe_owner
from forumdb_operator.arns import table_of
from forumdb_operator.desired import DesiredState, DesiredTable
from forumdb_operator.diff.model import Action, Plan, Problem
from forumdb_operator.diff.ownership import earlier_self, foreign_record, owns_replica
from forumdb_operator.observed import Observed, ObservedTable


def missing_tags(t: DesiredTable, tags: dict[str, str]) -> dict[str, str]:
    """The resource's tags a table lacks or holds with another value."""
    return {k: v for k, v in t.tags.items() if tags.get(k) != v}


def _regions(d: DesiredState, o: ObservedTable) -> list[str]:
    """The replica regions the spec asks for, then those the primary table lists."""
    wanted = list(d.replica_regions) if d.replicas_managed else []
    return [r for r in dict.fromkeys([*wanted, *sorted(o.replicas)]) if r != o.region]


def foreign_replica_tables(
    d: DesiredState, t: DesiredTable, o: ObservedTable, obs: Observed, plan: Plan
) -> bool:
    """Tables of this name in the resource's replica regions that carry another resource's
    ownership record (a prefix that collides in another region, or a replica tagged by hand):
    a problem each, and nothing is added, changed or tagged there. True: there is one.
    `o`: the primary, owned or adopted in this plan; its replicas still tagged by an earlier
    resource of the same name and cluster are not foreign (ownership.owns_replica)."""
    found = False
    for region in _regions(d, o):
        seen = obs.table(t.kind, region)
        if seen is None or seen.tags is None or not foreign_record(d, seen):
            continue
        if owns_replica(d, o, seen):
            continue  # re-tagged with this resource's record (replica_tag_actions)
        found = True
        plan.problems.append(
            Problem(
                "spec.replicaRegions",
                f"table {t.name} in {region} belongs to ForumDatabase "
                f"{describe_owner(seen.tags)}{_not_a_replica(d, o, seen)}; remove {region} "
                "from spec.replicaRegions or choose another tablePrefix",
                "TableOwnedByAnother",
            )
        )
    return found


def _not_a_replica(d: DesiredState, o: ObservedTable, seen: ObservedTable) -> str:
    """Why an earlier resource's table of the same name is not taken over with the primary."""
    if not earlier_self(d, seen.tags or {}):
        return ""
    return (
        f" and is not a replica of {o.name} in {o.region} (only its replicas are taken over "
        "with the primary); delete it, or"
    )


def replica_tag_actions(
    d: DesiredState, t: DesiredTable, o: ObservedTable, obs: Observed, plan: Plan
) -> None:
    """TagResource of the tags each ACTIVE replica of an owned primary `o` lacks, in the
    replica's region with its ARN. Tags this or an earlier reconcile sent (TagResource answered
    success) are in place though DynamoDB may not list them yet (ListTagsOfResource is
    eventually consistent): neither sent again nor waited for, until RESEND_AFTER_SECONDS."""
    for region in _regions(d, o):
        member = o.replicas.get(region)
        replica = obs.table(t.kind, region)
        if member is None or member.status != "ACTIVE" or replica is None:
            continue
        if replica.status != "ACTIVE" or replica.tags is None or not owns_replica(d, o, replica):
            continue
        missing = missing_tags(t, replica.tags)
        if not missing or sent_not_listed(obs, t.name, region):
            continue
        plan.actions.append(
            Action(
                "tags",
                "dynamodb",
                region,
                "tag_resource",
                {
                    "ResourceArn": replica.arn,
                    "Tags": [{"Key": k, "Value": v} for k, v in sorted(missing.items())],
                },
                f"tag table {t.name} in {region} (tags {', '.join(sorted(missing))})",
            )
        )


def sent_not_listed(obs: Observed, table: str, region: str) -> bool:
    """The replica's tags were sent by this reconcile, or by an earlier one less than
    RESEND_AFTER_SECONDS ago (status.taggedReplicas): in place, whatever the listing says."""
    key = (table, region)
    return key in obs.tagged_now or key in obs.tags_pending


def tagged(applied: Iterable[Action], primary_region: str) -> set[tuple[str, str]]:
    """(table, region) of the replica tables `applied` tagged."""
    return {
        (table_of(a.params["ResourceArn"]), a.region)
        for a in applied
        if a.operation == "tag_resource" and a.service == "dynamodb" and a.region != primary_region
    }


def pending(d: DesiredState, obs: Observed) -> set[tuple[str, str]]:
    """The replica tags still to wait for: set by this reconcile, or by an earlier one and not
    listed at the last look (while the replica table still exists). Entries sent longer ago
    than RESEND_AFTER_SECONDS are not in obs.tags_pending (waiting_on): their tags, still
    missing, were sent again by this reconcile (then in tagged_now) or are left out, so the
    next look sends them."""
    out = set(obs.tagged_now)
    names = {t.name: t for t in d.tables}
    for name, region in obs.tags_pending - obs.tagged_now:
        t = names.get(name)
        seen = obs.table(t.kind, region) if t is not None else None
        if seen is None or t is None:
            continue
        if seen.tags is None or missing_tags(t, seen.tags):
            out.add((name, region))
    return out


# How long tags sent to a replica are waited for before TagResource is sent again. DynamoDB
# lists new tags within seconds (ListTagsOfResource is eventually consistent); tags still
# missing long after were removed (by hand) or the replica was made again, and would otherwise
# be waited for for ever. TagResource is idempotent: sending again is safe.
RESEND_AFTER_SECONDS = 300.0

# (table, region) -> when this resource's TagResource was sent (ISO 8601, UTC)
Sent = dict[tuple[str, str], str]


def _seconds_between(earlier: str, later: str) -> float:
    try:
        a = dt.datetime.fromisoformat(earlier.replace("Z", "+00:00"))
        b = dt.datetime.fromisoformat(later.replace("Z", "+00:00"))
    except ValueError:
        return float("inf")  # unreadable: as if long ago (a resend is harmless)
    return (b - a).total_seconds()


def waiting_on(
    sent: Mapping[tuple[str, str], str], now: str, after: float = RESEND_AFTER_SECONDS
) -> frozenset[tuple[str, str]]:
    """The entries whose tags are still waited for: sent less than `after` seconds ago."""
    return frozenset(k for k, at in sent.items() if _seconds_between(at, now) < after)


def as_status(
    keys: Iterable[tuple[str, str]], sent: Mapping[tuple[str, str], str], now: str
) -> list[dict[str, str]]:
    """status.taggedReplicas: {replica: REGION/TABLE, taggedAt}, sorted; `sent` gives when
    each was tagged (else `now`: tagged by this reconcile)."""
    return [
        {"replica": f"{region}/{name}", "taggedAt": sent.get((name, region), now)}
        for name, region in sorted(set(keys), key=lambda k: (k[1], k[0]))
    ]


def from_status(entries: Iterable[object] | None, now: str) -> Sent:
    """status.taggedReplicas as written by as_status; a bare REGION/TABLE (an earlier
    operator's status, without the time) counts as sent `now`."""
    out: Sent = {}
    for entry in entries or []:
        at = now
        if isinstance(entry, Mapping):
            at = str(entry.get("taggedAt") or now)
            entry = entry.get("replica")
        if isinstance(entry, str) and "/" in entry:
            region, name = entry.split("/", 1)
            out[(name, region)] = at
    return out
