"""Status: conditions, phase, printer-column summaries; error classification."""

from __future__ import annotations

from typing import get_args

from botocore.exceptions import ClientError, EndpointConnectionError
from op_factories import desired, in_shape, with_table

from forumdb_operator import errors, status
from forumdb_operator.diff import Feature, diff
from forumdb_operator.observed import ObservedPitr, ObservedReplica


def cond_map(conds):
    return {c.type: c for c in conds}


def test_every_action_feature_reports_under_a_condition():
    """A feature missing from FEATURE_CONDITION would leave its pending actions out of every
    condition, so a resource could read Ready while they are still being applied."""
    assert set(get_args(Feature)) == set(status.FEATURE_CONDITION)
    assert set(status.FEATURE_CONDITION.values()) <= set(status.CONDITION_TYPES)


def test_converged_resource_is_ready_with_every_condition_true():
    d = desired()
    obs = in_shape(d)
    plan = diff(d, obs)
    conds = status.conditions(d, obs, plan)
    assert [c.type for c in conds] == list(status.CONDITION_TYPES)
    assert all(c.ok for c in conds)
    assert status.phase_for(conds, plan, was_ready=False) == "Ready"


def test_summary_fields_show_replication_pitr_and_backup():
    d = desired(replicaRegions=["us-west-2", "eu-west-1"])
    obs = in_shape(d)
    obs.backups.last_recovery_point = {
        "RecoveryPointArn": "arn:rp",
        "CreationDate": "2026-01-02T03:04:05Z",
        "Status": "COMPLETED",
    }
    fields = status.summary_fields(d, obs)
    assert fields["replication"] == "3/3 ACTIVE"
    assert fields["pitr"] == "Enabled"
    assert fields["lastBackup"] == "2026-01-02T03:04:05Z"
    assert [r["region"] for r in fields["regions"]] == ["us-east-1", "us-west-2", "eu-west-1"]
    users = fields["tables"][0]
    assert users["regions"][1]["arn"].endswith(":table/forum-Users")
    assert fields["backups"]["lastRecoveryPoint"]["arn"] == "arn:rp"
    # per table: 2 throttle, 1 system errors, 2 replication; 2 throttle per index (5); account
    assert len(fields["alarms"]["items"]) == 3 * (2 + 1 + 2) + 5 * 2 + 1


def test_replica_not_active_shows_in_replication_and_condition():
    d = desired()
    obs = with_table(in_shape(d), "posts", "us-west-2", status="CREATING")
    primary = obs.tables[("posts", "us-east-1")]
    obs = with_table(
        obs,
        "posts",
        "us-east-1",
        replicas={"us-west-2": ObservedReplica("us-west-2", "CREATING", None)},
    )
    plan = diff(d, obs)
    conds = cond_map(status.conditions(d, obs, plan))
    assert status.summary_fields(d, obs)["replication"] == "1/2 ACTIVE"
    assert conds["ReplicationHealthy"].ok is False
    assert conds["Ready"].ok is False
    assert primary.name == "forum-Posts"


def test_partial_pitr():
    d = desired()
    obs = in_shape(d)
    obs.pitr[("users", "us-west-2")] = ObservedPitr(False, None)
    assert status.summary_fields(d, obs)["pitr"] == "Partial"


def test_unmanaged_features_are_reported_as_such():
    d = desired(pointInTimeRecovery=None, backups=None, alarms=None)
    conds = cond_map(status.conditions(d, in_shape(d), diff(d, in_shape(d))))
    assert conds["PointInTimeRecovery"].reason == "NotManaged"
    assert conds["BackupsConfigured"].reason == "NotManaged"
    assert conds["Ready"].ok


def test_problem_makes_phase_failed():
    d = desired(adopt=False)
    from op_factories import untagged

    obs = untagged(in_shape(d))
    plan = diff(d, obs)
    conds = status.conditions(d, obs, plan)
    assert status.phase_for(conds, plan, was_ready=True) == "Failed"
    assert cond_map(conds)["Ready"].reason == "TableExists"
    assert "spec.adopt" in cond_map(conds)["Ready"].message


def test_a_non_blocking_problem_degrades_and_keeps_the_resource_in_shape():
    """A problem that holds back only its feature (Problem.blocking False): the phase is
    Degraded, not Failed, and the resource counts as in shape (readyGeneration, which arms
    the health monitor's failover); its condition carries the reason and message. A blocking
    problem beside it is still Failed; a feature still being made is Provisioning."""
    d = desired(replicaRegions=[])
    obs = in_shape(d)
    assert obs.backups is not None
    obs.backups.advanced_dynamodb = False
    plan = diff(d, obs)
    assert not plan.blocked
    assert plan.problems
    conds = status.conditions(d, obs, plan)
    backups = cond_map(conds)["BackupsConfigured"]
    assert (backups.ok, backups.reason) == (False, "AdvancedDynamoDBBackupOff")
    assert "spec.backups.copyRegion" in backups.message
    assert cond_map(conds)["Ready"].reason == "AdvancedDynamoDBBackupOff"
    assert status.held_back(conds, plan) == {"BackupsConfigured"}
    assert status.in_shape(conds, plan)
    for was_ready in (True, False):
        assert status.phase_for(conds, plan, was_ready=was_ready) == "Degraded"

    obs.pitr[("users", "us-east-1")] = ObservedPitr(False, None)  # something else to do
    plan = diff(d, obs)
    conds = status.conditions(d, obs, plan)
    assert not status.in_shape(conds, plan)
    assert status.phase_for(conds, plan, was_ready=False) == "Provisioning"

    from op_factories import untagged

    obs = untagged(in_shape(d))
    obs.backups.advanced_dynamodb = False  # type: ignore[union-attr]
    d = desired(replicaRegions=[], adopt=False)
    plan = diff(d, obs)
    assert plan.blocked
    conds = status.conditions(d, obs, plan)
    assert not status.in_shape(conds, plan)
    assert status.phase_for(conds, plan, was_ready=True) == "Failed"


def test_out_of_shape_after_ready_is_degraded_else_provisioning():
    d = desired()
    obs = in_shape(d)
    obs.pitr[("users", "us-west-2")] = ObservedPitr(False, None)
    plan = diff(d, obs)
    conds = status.conditions(d, obs, plan)
    assert status.phase_for(conds, plan, was_ready=True) == "Degraded"
    assert status.phase_for(conds, plan, was_ready=False) == "Provisioning"


def test_last_transition_time_changes_only_when_status_flips():
    first = status.merge_conditions(
        [status.Cond("Ready", False, "Creating", "x")], None, 1, "2026-01-01T00:00:00Z"
    )
    same = status.merge_conditions(
        [status.Cond("Ready", False, "Updating", "y")], first, 2, "2026-01-01T00:05:00Z"
    )
    flipped = status.merge_conditions(
        [status.Cond("Ready", True, "Ready", "z")], same, 2, "2026-01-01T00:09:00Z"
    )
    assert same[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert same[0]["reason"] == "Updating"
    assert same[0]["observedGeneration"] == 2
    assert flipped[0]["lastTransitionTime"] == "2026-01-01T00:09:00Z"
    assert flipped[0]["status"] == "True"


def _client_error(code: str, status_code: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "m"},
            "ResponseMetadata": {"HTTPStatusCode": status_code},
        },
        "UpdateTable",
    )


def test_error_classification():
    throttled = errors.classify(_client_error("ThrottlingException"), "update table x", "us-east-1")
    assert isinstance(throttled, errors.TransientError)
    assert "update table x in us-east-1: ThrottlingException" in str(throttled)
    assert errors.classify(_client_error("Whatever", 503), "a", "r").transient
    in_use = errors.classify(_client_error("ResourceInUseException"), "a", "r")
    assert in_use.transient
    # both start short; the loop doubles them while they last (test_op_backoff.py)
    assert throttled.delay == errors.THROTTLE_DELAY
    assert in_use.delay == errors.IN_PROGRESS_DELAY
    bad = errors.classify(_client_error("ValidationException"), "create table", "eu-west-1")
    assert isinstance(bad, errors.PermanentError)
    assert bad.region == "eu-west-1"
    assert not errors.classify(_client_error("AccessDeniedException"), "a", "r").transient
    conn = errors.classify(EndpointConnectionError(endpoint_url="http://x"), "a", "r")
    assert conn.transient
    assert errors.is_not_found(_client_error("ResourceNotFoundException"))
    assert not errors.is_not_found(_client_error("ValidationException"))


def test_configmap_publishes_observed_replicas_when_unmanaged():
    from forumdb_operator.configmap import configmap_data

    d = desired(replicaRegions=None)
    obs = in_shape(desired())  # an adopted global table with a us-west-2 replica
    data = configmap_data(d, status.replica_regions(d, obs))
    assert data["REPLICA_REGIONS"] == "us-west-2"
    assert data["AWS_REGION"] == "us-east-1"
    assert data["STORAGE_MODE"] == "dynamodb"
    assert configmap_data(desired(replicaRegions=[]))["REPLICA_REGIONS"] == ""
