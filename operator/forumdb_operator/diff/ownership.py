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


def awaiting_tags(d: DesiredState, o: ObservedTable, obs: Observed) -> bool:
    """A table this resource created or tagged moments ago whose tags DynamoDB does not list
    yet: right after CreateTable/TagResource, ListTagsOfResource may answer the previous (empty)
    set for a few seconds (TagResource API reference)."""
    return owner_of(o) is None and o.region == d.primary_region and o.name in obs.claimed


def owns(d: DesiredState, o: ObservedTable, obs: Observed) -> bool:
    """The table's owner tag names this resource, or it made or tagged the table and the tags
    are not listed yet. Another owner's tag always wins."""
    return owner_of(o) == d.owner or awaiting_tags(d, o, obs)


def claims(names: set[str], applied: list[Action]) -> set[str]:
    """`names` plus the tables `applied` created or tagged."""
    out = set(names)
    for a in applied:
        if a.operation == "create_table":
            out.add(str(a.params["TableName"]))
        elif a.operation == "tag_resource" and a.service == "dynamodb":
            out.add(str(a.params["ResourceArn"]).rsplit("/", 1)[-1])
    return out


def unconfirmed(d: DesiredState, obs: Observed, claimed: set[str]) -> list[str]:
    """The claims still to keep: tables that exist with no owner tag listed yet."""
    keep = []
    for t in d.tables:
        o = obs.table(t.kind, d.primary_region)
        if t.name in claimed and o is not None and owner_of(o) is None:
            keep.append(t.name)
    return keep


def foreign_kinds(d: DesiredState, obs: Observed, plan_actions: list[Action]) -> set[str]:
    """Kinds whose primary table exists but is not this resource's and is not being adopted
    by this plan (another resource's owner tag, or an existing table adoption refused)."""
    tagging = {str(a.params["ResourceArn"]) for a in plan_actions if a.operation == "tag_resource"}
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
