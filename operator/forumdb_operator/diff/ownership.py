"""Whether an observed table belongs to a resource: the one rule deletion, the status and the
ConfigMap share."""

from __future__ import annotations

from forumdb import naming
from forumdb_operator.desired import DesiredState
from forumdb_operator.observed import Observed, ObservedTable


def owner_of(o: ObservedTable) -> str | None:
    return (o.tags or {}).get(naming.TAG_OWNER)


def owns(d: DesiredState, o: ObservedTable, obs: Observed) -> bool:
    """The table's owner tag names this resource."""
    return owner_of(o) == d.owner
