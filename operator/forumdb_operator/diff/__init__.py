"""(desired, observed) -> an ordered list of actions, the things to wait for, and problems.

Pure functions: no AWS, no Kubernetes. Rules that keep the operator safe:
- a feature whose spec field is unset (desired None) is not looked at: nothing is changed or
  deleted for it (the ACK #2400 lesson);
- at most one `update_table` per table per pass, and none while the table, an index or a
  replica is not ACTIVE (AWS allows one change at a time; UPDATING is waited for, not fought);
- replicas are added or removed one region at a time;
- under PAY_PER_REQUEST, capacities (0 on every GSI) are never compared;
- a table that exists without our owner tag is adopted (tagged, never recreated) when its keys,
  their types and its indexes match the layout and spec.adopt (default false) allows; a table
  whose ownership record (NAMESPACE/NAME, UID, cluster id) is another's is a problem.

One module per feature: `tables` (create, adopt, update_table), `replicas`, `replica_tags`
(the resource's tags on each replica, in its region), `pitr`,
`autoscaling`, `backups`, `alarms`, and `deletion` (deletionPolicy Delete); `ownership` (whose
table it is, tags not listed yet included), `terminal` (states AWS does not leave by itself:
problems, not waits); `model` holds Action, Problem and Plan. The names below are the
package's interface.
"""

from __future__ import annotations

from forumdb_operator.desired import DesiredState
from forumdb_operator.diff import ownership, replica_tags
from forumdb_operator.diff.alarms import ALARM_DELETE_BATCH, alarm_matches, diff_alarms
from forumdb_operator.diff.autoscaling import autoscaling_actions
from forumdb_operator.diff.backups import DEFAULT_BACKUP_ROLE, backup_plan_document, diff_backups
from forumdb_operator.diff.deletion import deletion_plan
from forumdb_operator.diff.model import Action, Feature, Plan, Problem
from forumdb_operator.diff.tables import diff_tables
from forumdb_operator.observed import Observed

__all__ = [
    "ALARM_DELETE_BATCH",
    "DEFAULT_BACKUP_ROLE",
    "Action",
    "Feature",
    "Plan",
    "Problem",
    "alarm_matches",
    "autoscaling_actions",
    "backup_plan_document",
    "deletion_plan",
    "diff",
    "diff_alarms",
    "diff_backups",
    "diff_tables",
    "ownership",
    "replica_tags",
]


def diff(d: DesiredState, obs: Observed) -> Plan:
    """Everything to do, in order: tables (create, adopt, update, replicas, PITR), then backups,
    then alarms."""
    plan = Plan()
    diff_tables(d, obs, plan)
    diff_backups(d, obs, plan)
    diff_alarms(d, obs, plan)
    return plan
