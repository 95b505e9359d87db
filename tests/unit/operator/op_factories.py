"""Builders of specs, desired states and observed states for the operator's unit tests.

`in_shape(desired)` is the Observed state of a fully converged resource; tests change one thing
in it and check what the diff makes of that.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

from forumdb import naming
from forumdb_operator.desired import DesiredState, desired_state
from forumdb_operator.diff import backup_plan_document
from forumdb_operator.diff.shared_alarm import shared_request, user_value
from forumdb_operator.observed import (
    Observed,
    ObservedAlarms,
    ObservedBackups,
    ObservedIndex,
    ObservedPitr,
    ObservedReplica,
    ObservedTable,
)
from forumdb_operator.spec import parse_spec

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "123456789012"
BASE_SPEC: dict[str, Any] = {
    "tablePrefix": "forum-",
    "primaryRegion": "us-east-1",
    "replicaRegions": ["us-west-2"],
    "billing": {"mode": "PAY_PER_REQUEST"},
    "pointInTimeRecovery": {"enabled": True, "recoveryPeriodDays": 35},
    "backups": {"schedule": "cron(0 5 * * ? *)", "retentionDays": 35, "copyRegion": "us-west-2"},
    "alarms": {"enabled": True},
    "deletionPolicy": "Retain",
}


def spec(**changes: Any) -> dict[str, Any]:
    """BASE_SPEC with top-level keys replaced (None removes a key)."""
    out = copy.deepcopy(BASE_SPEC)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def desired(**changes: Any) -> DesiredState:
    return desired_state(parse_spec(spec(**changes)), "ns1", "forum")


def desired_of(uid: str, cluster: str = "", **changes: Any) -> DesiredState:
    """`desired` of the resource with this metadata.uid, under an operator with this cluster id."""
    return desired_state(parse_spec(spec(**changes)), "ns1", "forum", uid=uid, cluster=cluster)


def table_arn(region: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"


def vault_arn(region: str, name: str) -> str:
    return f"arn:aws:backup:{region}:{ACCOUNT}:backup-vault:{name}"


def _observed_table(d: DesiredState, kind: str, region: str) -> ObservedTable:
    t = d.table(kind)  # type: ignore[arg-type]
    req = t.create_request
    provisioned = t.billing_mode == "PROVISIONED"
    rcu = t.read_capacity if provisioned else 0
    wcu = t.write_capacity if provisioned else 0
    indexes = {
        g["IndexName"]: ObservedIndex(
            name=g["IndexName"],
            status="ACTIVE",
            key_schema=tuple((k["AttributeName"], k["KeyType"]) for k in g["KeySchema"]),
            read_capacity=rcu or 0,
            write_capacity=wcu or 0,
        )
        for g in req["GlobalSecondaryIndexes"]
    }
    primary = region == d.primary_region
    replicas = (
        {r: ObservedReplica(r, "ACTIVE", t.replica_kms_keys.get(r)) for r in d.replica_regions}
        if primary
        else {}
    )
    return ObservedTable(
        name=t.name,
        region=region,
        status="ACTIVE",
        arn=table_arn(region, t.name),
        key_schema=tuple((k["AttributeName"], k["KeyType"]) for k in req["KeySchema"]),
        billing_mode=t.billing_mode,
        read_capacity=rcu or 0,
        write_capacity=wcu or 0,
        indexes=indexes,
        stream_enabled=t.stream_required,
        stream_view_type="NEW_AND_OLD_IMAGES" if t.stream_required else None,
        kms_key=t.kms_key or None,
        deletion_protection=bool(t.deletion_protection),
        replicas=replicas,
        item_count=0,
        size_bytes=0,
        tags=dict(t.tags) if primary else None,
    )


def in_shape(d: DesiredState) -> Observed:
    """The observed state of a resource that is exactly as desired."""
    obs = Observed()
    for t in d.tables:
        for region in d.regions:
            obs.tables[(t.kind, region)] = _observed_table(d, t.kind, region)
            if d.pitr is not None:
                obs.pitr[(t.kind, region)] = ObservedPitr(
                    d.pitr.enabled, d.pitr.recovery_period_days if d.pitr.enabled else None
                )
        if d.pitr is not None and d.pitr.enabled:
            # a converged resource's status showed PITR on everywhere
            obs.pitr_seen_enabled |= {(t.name, region) for region in d.regions}
        for region, key in t.replica_kms_keys.items():
            if key:
                obs.kms_arns[(region, key)] = f"arn:aws:kms:{region}:{ACCOUNT}:key/{key}"
        if t.kms_key:
            obs.kms_arns[(d.primary_region, t.kms_key)] = (
                f"arn:aws:kms:{d.primary_region}:{ACCOUNT}:key/{t.kms_key}"
            )
    for t in d.tables:
        if t.write_autoscaling:
            for key in t.autoscaled_resources:
                obs.scalable_targets[key] = t.write_autoscaling
                obs.scaling_policies.add(key)
    if d.backups is not None:
        b = d.backups
        vaults = {b.primary_region: vault_arn(b.primary_region, b.vault_name)}
        if b.copy_region:
            vaults[b.copy_region] = vault_arn(b.copy_region, b.vault_name)
        obs.backups = ObservedBackups(vault_arns=vaults)
        if b.enabled:
            obs.backups.plan_id = "plan-1"
            obs.backups.plan = backup_plan_document(b, vaults.get(b.copy_region or ""))
            obs.backups.selection_id = "sel-1"
            # copies need the account's advanced DynamoDB backup: on, as for a new account
            obs.backups.advanced_dynamodb = True if b.copy_region else None
            obs.backups.selection = {
                "SelectionName": b.selection_name,
                "IamRoleArn": b.iam_role_arn
                or f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole",
                "Resources": sorted(table_arn(d.primary_region, t.name) for t in d.tables),
            }
    if d.alarms is not None:
        a = d.alarms
        obs.alarms = ObservedAlarms()
        topic = a.topic_arn
        if a.create_topic_name:
            topic = f"arn:aws:sns:{a.region}:{ACCOUNT}:{a.create_topic_name}"
            obs.alarms.topic_arn = topic
        for email in a.emails:
            obs.alarms.subscriptions[email] = f"{topic}:sub-{email}"
        if a.enabled:
            for alarm in a.alarms:
                raw = alarm.put_request([topic] if topic else [])
                raw = {**raw, "StateValue": "OK", "AlarmArn": f"arn:alarm:{alarm.name}"}
                obs.alarms.alarms[alarm.name] = raw
            if a.shared is not None:  # the account-level alarm, this resource its one user
                mine = user_value(a.shared.alarm, topic, d.owner)
                obs.alarms.shared_tags = {**a.shared.tags, a.shared.user_key: mine}
                raw = shared_request(a.shared.alarm, {a.shared.user_key: mine})
                arn = f"arn:aws:cloudwatch:{a.region}:{ACCOUNT}:alarm:{a.shared.alarm.name}"
                obs.alarms.shared = {**raw, "StateValue": "OK", "AlarmArn": arn}
    return obs


def with_table(obs: Observed, kind: str, region: str, **changes: Any) -> Observed:
    """A copy of `obs` where one table has some fields changed."""
    out = copy.deepcopy(obs)
    out.tables[(kind, region)] = replace(out.tables[(kind, region)], **changes)
    return out


def without_replicas(d: DesiredState, obs: Observed, kind: str) -> Observed:
    """A copy of `obs` where the primary table of `kind` has no replica yet: it lists none, and
    no table of its name stands in the replica regions (one there would be a table of its own,
    where AWS refuses a replica: diff.replicas)."""
    out = with_table(obs, kind, d.primary_region, replicas={})
    for region in d.replica_regions:
        out.tables.pop((kind, region), None)
        out.pitr.pop((kind, region), None)
    return out


def untagged(obs: Observed) -> Observed:
    out = copy.deepcopy(obs)
    for key, t in out.tables.items():
        if t is not None and t.tags is not None:
            out.tables[key] = replace(t, tags={})
    return out


OWNER_TAG = naming.TAG_OWNER
