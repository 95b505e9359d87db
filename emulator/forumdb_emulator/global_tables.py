"""DynamoDB global tables, version 2019.11.21: UpdateTable ReplicaUpdates and what follows.

moto accepts ReplicaUpdates and ignores them. Here a Create makes a real table in the other
region (same keys, indexes, billing, streams; existing items copied), tracked as a replica
whose ReplicaStatus goes CREATING -> ACTIVE (UPDATING -> ACTIVE, DELETING -> gone), in AWS's
order of events and with short, configurable durations (AwsRules, ReplicationSettings):
- the Create response shows no entry for the new replica; it appears (and the replica region's
  table becomes describable) replica_entry_delay_seconds later;
- the table shows UPDATING for at most table_updating_seconds, then ACTIVE while the replica
  is still CREATING or DELETING; until the change is done, any other UpdateTable on any member
  is ResourceInUseException;
- a CREATING (or DELETING) replica's region answers DescribeTable only (`gate`);
- a deleted replica's table lingers (DELETING) in its region, so re-adding the region at once
  is "already existed as tables";
- a region that sourced a replica cannot be removed while that replica is a member, for
  replication_source_hold_seconds (AWS: 24 h).
Messages and codes are AWS's; sources in emulator/README.md.
"""

from __future__ import annotations

import copy
import logging
import time
import uuid
from collections.abc import Callable
from functools import cache, wraps
from typing import Any

import boto3
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.kms.models import kms_backends

from .aws_errors import DynamoError, resource_in_use, table_not_visible, validation
from .global_model import GLOBAL_TABLE_VERSION, GlobalTable, Replica, Transition
from .state import STATE

log = logging.getLogger("forumdb.moto_ext.global_tables")

REQUIRED_STREAM_VIEW = "NEW_AND_OLD_IMAGES"
DEFAULT_DYNAMODB_KEY_ALIAS = "alias/aws/dynamodb"
# UpdateTable parameters that cannot travel in the same call as ReplicaUpdates
# ("You can only perform one of the following operations at once").
_EXCLUSIVE_PARAMETERS = (
    "ProvisionedThroughput",
    "BillingMode",
    "GlobalSecondaryIndexUpdates",
    "StreamSpecification",
    "SSESpecification",
    "TableClass",
    "DeletionProtectionEnabled",
)
SOURCE_REGION_MESSAGE = (
    "Replica cannot be deleted because it has acted as a source region for new replica(s) "
    "being added to the table in the last 24 hours."
)

_original_describe = Table.describe


def install() -> None:
    wrap_when_active(DynamoHandler, "update_table", _update_table)
    wrap_when_active(DynamoHandler, "delete_table", _delete_table)
    wrap_when_active(DynamoHandler, "describe_table", _describe_table)
    Table.describe = _table_describe  # type: ignore[method-assign]


def wrap_when_active(cls: type, name: str, replacement: Callable[..., Any]) -> None:
    """Replaces cls.name with `replacement(original, self, ...)` while the extension is active."""
    original = getattr(cls, name)

    @wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not STATE.active:
            return original(self, *args, **kwargs)
        return replacement(original, self, *args, **kwargs)

    setattr(cls, name, wrapper)


def group_of(account_id: str, name: str) -> GlobalTable | None:
    return STATE.global_tables.get((account_id, name))


def backend(account_id: str, region: str) -> DynamoDBBackend:
    return dynamodb_backends[account_id][region]


# -- what a replica region answers while its replica is not ACTIVE ---------------------------


def _phase(account: str, region: str, name: str) -> str | None:
    """ "hidden", "CREATING", "DELETING" (also a lingering deleted replica) or None (normal)."""
    if (account, region, name) in STATE.lingering:
        return "DELETING"
    group = group_of(account, name)
    replica = group.replicas.get(region) if group else None
    if replica is None:
        return None
    if not replica.visible():
        return "hidden"
    if replica.status in ("CREATING", "DELETING"):
        return replica.status
    return None


def gate(
    account: str, region: str, operation: str, tables: list[str], body: dict[str, Any]
) -> None:
    """Refuse a call to a replica region's table that is not there yet or going away, as AWS
    does: only DescribeTable answers (DDB-TABLE-298, DDB-TABLE-226)."""
    for name in tables:
        phase = _phase(account, region, name)
        if phase is None:
            continue
        if phase == "hidden":
            raise table_not_visible(name)
        if operation == "DescribeTable":
            continue
        if operation == "DeleteTable":
            raise DynamoError(
                "ResourceInUseException",
                f"Attempt to change a resource which is still in use: Table: {name} is being used.",
            )
        if operation == "UpdateTable" and body.get("ReplicaUpdates") and phase == "CREATING":
            raise validation(
                "Create/Update/Delete of replica is not allowed while the replica is being added "
                f"to table with name: {name} in region {region}"
            )
        if operation in ("DescribeContinuousBackups", "UpdateContinuousBackups"):
            raise DynamoError("TableNotFoundException", f"Table not found: {name}")
        raise table_not_visible(name)


# -- DescribeTable ---------------------------------------------------------------------------


def _table_describe(self: Table, base_key: str = "TableDescription") -> dict[str, Any]:
    result = _original_describe(self, base_key)
    if not STATE.active:
        return result
    body = result[base_key]
    body.setdefault("TableId", table_id(self))
    if (self.account_id, self.region_name, self.name) in STATE.lingering:
        body["TableStatus"] = "DELETING"
        return result
    group = group_of(self.account_id, self.name)
    if group is not None and self.region_name in group.replicas:
        body["TableStatus"] = group.table_status(self.region_name)
        body["Replicas"] = [replica.describe() for replica in group.others(self.region_name)]
        body["GlobalTableVersion"] = GLOBAL_TABLE_VERSION
    _forced_states(body, self.region_name, self.name)
    return result


def table_id(table: Table) -> str:
    """AWS's TableId (moto has none): the table's own, so a table deleted and made again under
    its name (same ARN) answers another one."""
    return str(table.__dict__.setdefault("_forumdb_table_id", str(uuid.uuid4())))


def _forced_states(body: dict[str, Any], region: str, name: str) -> None:
    """The statuses set with the control `table_state`: the table's own, and the Replicas
    entries of the regions concerned (AWS reports a failed replica in both places)."""
    forced = STATE.table_states.get((region, name))
    if forced is not None:
        body["TableStatus"] = forced
    for entry in body.get("Replicas") or []:
        other = STATE.table_states.get((entry["RegionName"], name))
        if other is not None:
            entry["ReplicaStatus"] = other


def _describe_table(original: Callable[..., Any], self: DynamoHandler) -> Any:
    group = group_of(self.current_account, self.body.get("TableName", ""))
    if group is not None:
        advance(group, observed=True)
    return original(self)


# -- replica progress ------------------------------------------------------------------------


def advance(group: GlobalTable, *, observed: bool) -> None:
    """Move replica updates on: a DescribeTable call counts as one observation (calls mode)."""
    for region, replica in list(group.replicas.items()):
        transition = replica.transition
        if transition is None:
            continue
        if observed:
            transition.tick()
        if not transition.due():
            continue
        replica.transition = None
        if transition.final_status is None:
            del group.replicas[region]
            _linger(group.account_id, region, group.name)
            log.info("replica deleted", extra={"table": group.name, "region": region})
        else:
            replica.status = transition.final_status
            replica.visible_at = min(replica.visible_at, time.monotonic())
            log.info("replica active", extra={"table": group.name, "region": region})
    if len(group.replicas) <= 1 and not group.busy():
        STATE.global_tables.pop((group.account_id, group.name), None)


def _linger(account: str, region: str, name: str) -> None:
    """The deleted replica's table stays in its region (DELETING) a while longer."""
    seconds = STATE.rules.replica_region_linger_seconds
    if seconds > 0 and name in backend(account, region).tables:
        STATE.lingering[(account, region, name)] = time.monotonic() + seconds
    else:
        backend(account, region).tables.pop(name, None)


def advance_timed() -> None:
    """Finish the updates whose time has come; called before every request."""
    for group in list(STATE.global_tables.values()):
        if any(r.transition and r.transition.done_at for r in group.replicas.values()):
            advance(group, observed=False)
    now = time.monotonic()
    for key, until in list(STATE.lingering.items()):
        if now >= until:
            account, region, name = key
            del STATE.lingering[key]
            backend(account, region).tables.pop(name, None)


def _new_transition(final_status: str | None) -> Transition:
    settings = STATE.replication
    seconds = settings.replica_activation_seconds
    now = time.monotonic()
    done_at = now + seconds if seconds is not None else None
    updating_until = None
    if done_at is not None:
        updating_until = now + min(seconds or 0.0, STATE.rules.table_updating_seconds)
    return Transition(
        final_status=final_status,
        calls_left=settings.replica_activation_calls,
        done_at=done_at,
        updating_until=updating_until,
    )


# -- UpdateTable -----------------------------------------------------------------------------


def _update_table(original: Callable[..., Any], self: DynamoHandler) -> Any:
    body = self.body
    name = body["TableName"]
    account, region = self.current_account, self.region
    group = group_of(account, name)
    stream_spec = body.get("StreamSpecification")
    if group is not None and stream_spec is not None and not stream_spec.get("StreamEnabled"):
        raise validation("Disabling Stream is not allowed for a Global Table replica.")
    updates = body.get("ReplicaUpdates")
    if not updates:
        if group is not None and group.busy():
            raise resource_in_use()  # DDB-TABLE-227: any other UpdateTable while in flight
        sse = _sse_update(account, region, name, body.get("SSESpecification"))
        result = original(self)
        if sse is not None:
            table = backend(account, region).get_table(name)
            table.sse_specification = sse or None
            result = DynamoResult(table.describe())
        if group is not None:
            _propagate_settings(group, region, body)
        return result

    table = backend(account, region).get_table(name)
    combined = [p for p in _EXCLUSIVE_PARAMETERS if body.get(p) is not None]
    if combined:
        raise validation(
            "One or more parameter values were invalid: ReplicaUpdates cannot be combined with "
            f"{', '.join(combined)} in one UpdateTable request (table {name} in {region})"
        )
    action, spec = _single_action(updates)
    target = spec.get("RegionName", "")
    if action == "Update" and set(spec) <= {"RegionName"}:
        raise validation(
            "There are no actions specified in the Replica Update Action of the request."
        )
    if target == region and action in ("Create", "Delete"):
        raise validation(
            "Cannot add or delete the local region through ReplicaUpdates. Use CreateTable, "
            "DeleteTable, or UpdateTable as required."
        )
    if group is not None and group.busy():
        raise resource_in_use()
    if action == "Create":
        _create_replica(table, group, target, spec)
    elif action == "Update":
        _update_replica(table, group, target, spec)
    else:
        _delete_replica(table, group, target)
    return DynamoResult(table.describe())


def _sse_update(
    account: str, region: str, name: str, spec: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The table's new encryption from UpdateTable's SSESpecification (moto ignores it), or
    None when the request has none; {} for the AWS owned key. AWS (UpdateTable API reference,
    SSESpecification: "The new server-side encryption settings for the specified table")
    switches the key of this regional table only: for a global table, the replica's key is
    changed in the replica's own region (ReplicaUpdates refuses KMSMasterKeyId,
    DDB-TABLE-309). The key must exist and be enabled in the table's region."""
    if spec is None:
        return None
    if not spec.get("Enabled", False):
        return {}
    requested = spec.get("KMSMasterKeyId")
    if not requested or requested == DEFAULT_DYNAMODB_KEY_ALIAS:
        # the AWS managed key, made on first use as moto does at CreateTable
        table = backend(account, region).get_table(name)
        arn = table._get_default_encryption_key(account, region)
        return {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": arn}
    if requested.startswith("arn:") and requested.split(":")[3] != region:
        raise _kms_refusal(region, f"Invalid arn {requested.split(':')[3]}")
    try:
        key = kms_backends[account][region].describe_key(requested)
    except Exception as exc:  # moto raises its own NotFoundException types
        raise _kms_refusal(region, f"Key '{requested}' does not exist") from exc
    if not key.enabled:
        raise _kms_refusal(region, f"Key '{requested}' is disabled (table {name})")
    return {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key.arn}


def _single_action(updates: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The one replica action of the request; identical entries count once (DDB-TABLE-223)."""
    unique: list[tuple[str, dict[str, Any]]] = []
    for update in updates:
        if len(update) != 1:
            raise validation(
                "There are no actions specified in the Replica Update Action of the request."
            )
        (action, spec), *_ = update.items()
        if action not in ("Create", "Update", "Delete"):
            raise validation(f"Unknown replica update action {action!r}")
        if (action, spec) not in unique:
            unique.append((action, spec))
    if len({action for action, _ in unique}) > 1:
        raise validation(
            "Update table operation with more than one type of replica actions not allowed."
        )
    if len(unique) > 1:
        raise validation(
            "One or more parameter values were invalid: more than one create or delete replica "
            f"actions not allowed (got {len(unique)})"
        )
    return unique[0]


def _propagate_settings(group: GlobalTable, origin: str, body: dict[str, Any]) -> None:
    """Billing mode, write capacity and index changes apply to every replica of a global
    table (read capacity may differ per replica, through ProvisionedThroughputOverride)."""
    billing_mode = body.get("BillingMode")
    throughput = body.get("ProvisionedThroughput")
    index_updates = body.get("GlobalSecondaryIndexUpdates")
    if not (billing_mode or throughput or index_updates):
        return
    for region, replica in group.replicas.items():
        if region == origin or replica.status == "DELETING":
            continue
        own = copy.deepcopy(throughput)
        if own and replica.read_capacity_override:
            own["ReadCapacityUnits"] = replica.read_capacity_override  # an override stays
        backend(group.account_id, region).update_table(
            name=group.name,
            attr_definitions=copy.deepcopy(body.get("AttributeDefinitions")),
            global_index=copy.deepcopy(index_updates),
            throughput=own,
            billing_mode=billing_mode,
            stream_spec=None,
            deletion_protection_enabled=None,
            warm_throughput=None,
        )
        log.info("settings propagated to replica", extra={"table": group.name, "region": region})


@cache
def _known_regions() -> frozenset[str]:
    session = boto3.session.Session()
    return frozenset(session.get_available_regions("dynamodb"))


def _create_replica(
    table: Table, group: GlobalTable | None, target: str, spec: dict[str, Any]
) -> None:
    name, region, account = table.name, table.region_name, table.account_id
    if target not in _known_regions():
        raise validation(
            f"Region {target} is not supported. The latest version of global tables are only "
            f"supported in the following regions: {sorted(_known_regions())}"
        )
    if (group is not None and target in group.replicas) or name in backend(account, target).tables:
        raise validation(
            f"Failed to create a the new replica of table with name: '{name}' because one or "
            "more replicas already existed as tables."
        )
    _check_write_capacity(table)
    _ensure_streams(table)
    kms_key = _replica_kms_key(table, target, spec.get("KMSMasterKeyId"))

    replica_table = _copy_table(table, target, kms_key, spec)
    if group is None:
        group = GlobalTable(account, name, {region: Replica(region)})
        STATE.global_tables[(account, name)] = group
    transition = _new_transition("ACTIVE")
    visible_at = time.monotonic() + STATE.rules.replica_entry_delay_seconds
    if transition.done_at is not None:
        visible_at = min(visible_at, transition.done_at)
    group.replicas[target] = Replica(
        region=target,
        status="CREATING",
        kms_key_id=kms_key if spec.get("KMSMasterKeyId") else None,
        read_capacity_override=(spec.get("ProvisionedThroughputOverride") or {}).get(
            "ReadCapacityUnits"
        ),
        table_class=spec.get("TableClassOverride"),
        transition=transition,
        source_region=region,
        visible_at=visible_at,
    )
    log.info(
        "replica creating",
        extra={"table": name, "region": target, "items": len(replica_table)},
    )


def _member(group: GlobalTable | None, name: str, target: str) -> Replica:
    """The visible member in `target`, or AWS's "not part of the global table" refusal."""
    replica = group.replicas.get(target) if group else None
    if replica is None or not replica.visible():
        raise validation(
            "Update global table operation failed because one or more replicas were not part of "
            f"the global table. Please retry the request without these replicas: [{target}]."
        )
    return replica


def _update_replica(
    table: Table, group: GlobalTable | None, target: str, spec: dict[str, Any]
) -> None:
    replica = _member(group, table.name, target)
    # validate everything before changing anything
    override = spec.get("ProvisionedThroughputOverride")
    if override is not None and table.billing_mode == "PAY_PER_REQUEST":
        raise validation(
            "One or more parameter values were invalid: ProvisionedThroughputOverride is not "
            f"allowed for a PAY_PER_REQUEST table ({table.name}, replica {target})"
        )
    if "KMSMasterKeyId" in spec:
        # rejected whatever the key (DDB-TABLE-309): keys change through SSESpecification in
        # the replica's region
        raise validation(
            "One or more parameter values were invalid: KMSMasterKeyId must be specified for "
            "each replica."
        )
    if override is not None:
        replica.read_capacity_override = override.get("ReadCapacityUnits")
        # the replica's own table reports it (DescribeTable in its region: ProvisionedThroughput)
        own = backend(table.account_id, target).tables.get(table.name)
        if own is not None and override.get("ReadCapacityUnits"):
            own.throughput = {**own.throughput, "ReadCapacityUnits": override["ReadCapacityUnits"]}
    if spec.get("TableClassOverride"):
        replica.table_class = spec["TableClassOverride"]
    replica.status = "UPDATING"
    replica.transition = _new_transition("ACTIVE")


def _delete_replica(table: Table, group: GlobalTable | None, target: str) -> None:
    replica = _member(group, table.name, target)
    assert group is not None
    _check_not_a_recent_source(group, target)
    replica_table = backend(table.account_id, target).tables.get(table.name)
    if replica_table is not None and replica_table.deletion_protection_enabled:
        raise validation(
            f"Resource cannot be deleted as it is currently protected against deletion. Disable "
            f"deletion protection first (replica of {table.name} in {target})."
        )
    replica.status = "DELETING"
    replica.transition = _new_transition(None)
    log.info("replica deleting", extra={"table": table.name, "region": target})


def _check_not_a_recent_source(group: GlobalTable, region: str) -> None:
    """A member that sourced a replica that is still a member cannot be removed within the
    hold time (DDB-TABLE-266, DDB-TABLE-267: "leaf first")."""
    sourced = group.sourced_by(region, STATE.rules.replication_source_hold_seconds)
    if sourced:
        log.info(
            "replica removal refused: recent replication source",
            extra={"table": group.name, "region": region, "sourced": sourced},
        )
        raise validation(SOURCE_REGION_MESSAGE)


def _check_write_capacity(table: Table) -> None:
    """A PROVISIONED table needs write auto scaling, a scalable target AND a policy, on the
    table and on every GSI, before it gets a replica (DDB-TABLE-188, DDB-TABLE-249)."""
    if table.billing_mode == "PAY_PER_REQUEST":
        return
    # imported here: it pulls in moto's EC2 and ECS models, about 2 s of start-up
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    autoscaling = applicationautoscaling_backends[table.account_id][table.region_name]

    def scaled(dimension: str, resource_id: str) -> bool:
        has_target = resource_id in autoscaling.targets.get(dimension, {})
        has_policy = any(
            p.resource_id == resource_id and p.scalable_dimension == dimension
            for p in autoscaling.policies.values()
        )
        return has_target and has_policy

    if not scaled("dynamodb:table:WriteCapacityUnits", f"table/{table.name}"):
        raise validation(
            "Table write capacity should either be Pay-Per-Request or AutoScaled. "
            f"(table {table.name} in {table.region_name} needs a write scalable target and policy)"
        )
    for index in table.global_indexes:
        if not scaled(
            "dynamodb:index:WriteCapacityUnits", f"table/{table.name}/index/{index.name}"
        ):
            raise validation(
                "Table/GSI write capacity should either be Pay-Per-Request or AutoScaled. "
                f"(index {index.name} of table {table.name} in {table.region_name} needs a write "
                "scalable target and policy)"
            )


def _ensure_streams(table: Table) -> None:
    """Global tables replicate through a stream; with none (or a disabled one) AWS turns on
    NEW_AND_OLD_IMAGES, and a stream of another view type is accepted and left as it is
    (DDB-TABLE-221, DDB-TABLE-305)."""
    spec = table.stream_specification or {}
    if not spec.get("StreamEnabled"):
        table.set_stream_specification(
            {"StreamEnabled": True, "StreamViewType": REQUIRED_STREAM_VIEW}
        )


def _kms_refusal(target: str, detail: str) -> DynamoError:
    return validation(
        f"KMS validation error for region {target}: "
        f"com.amazonaws.services.kms.model.NotFoundException: {detail}"
    )


def _replica_kms_key(table: Table, target: str, requested: str | None) -> str | None:
    """The key ARN the new replica is encrypted with (DDB-TABLE-313, DDB-TABLE-295,
    DDB-TABLE-312): a table on a customer managed key needs a key of the replica's region for
    every replica, all replicas share one key type, a table on an AWS owned key takes none, a
    disabled key is refused. Bare ids and aliases are resolved in the replica region."""
    source_key = (table.sse_specification or {}).get("KMSMasterKeyId")
    kms_table = bool(table.sse_specification and table.sse_specification.get("Enabled"))
    source_is_custom = bool(
        kms_table
        and source_key
        and not _is_default_dynamodb_key(table.account_id, table.region_name, source_key)
    )
    if requested is None:
        if source_is_custom:
            raise validation(
                "One or more parameter values were invalid: KMSMasterKeyId must be specified for "
                "each replica."
            )
        return None
    if not kms_table:
        raise validation(
            "One or more parameter values were invalid: KMSMasterKeyId must be specified for "
            "each replica."
        )
    if source_is_custom and _is_default_dynamodb_key(table.account_id, target, requested):
        raise validation(
            "One or more parameter values were invalid: All replica keys must either be Customer "
            "Managed CMK or AWS Managed CMK."
        )
    if requested.startswith("arn:") and requested.split(":")[3] != target:
        raise _kms_refusal(target, f"Invalid arn {requested.split(':')[3]}")
    kms = kms_backends[table.account_id][target]
    try:
        key = kms.describe_key(requested)
    except Exception as exc:  # moto raises its own NotFoundException types
        raise _kms_refusal(target, f"Key '{requested}' does not exist") from exc
    if not key.enabled:
        raise validation(
            "Operation cannot be performed while replica server-side encryption status is in "
            "UPDATING state. Please retry the request after the status is updated to ENABLED."
        )
    return key.arn


def _is_default_dynamodb_key(account: str, region: str, key: str) -> bool:
    if key == DEFAULT_DYNAMODB_KEY_ALIAS:
        return True
    kms = kms_backends[account][region]
    try:
        default = kms.describe_key(DEFAULT_DYNAMODB_KEY_ALIAS)
    except Exception:
        return False
    return key in (default.id, default.arn)


def _copy_table(table: Table, target: str, kms_key: str | None, spec: dict[str, Any]) -> Table:
    """Create the replica table in `target` with the source's shape and its current items."""
    throughput = None
    if table.billing_mode != "PAY_PER_REQUEST":
        throughput = {
            "ReadCapacityUnits": (spec.get("ProvisionedThroughputOverride") or {}).get(
                "ReadCapacityUnits", table.throughput.get("ReadCapacityUnits", 0)
            ),
            "WriteCapacityUnits": table.throughput.get("WriteCapacityUnits", 0),
        }
    sse = None
    if kms_key:
        sse = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": kms_key}
    elif table.sse_specification and table.sse_specification.get("Enabled"):
        sse = {"Enabled": True, "SSEType": "KMS"}
    replica = backend(table.account_id, target).create_table(
        table.name,
        schema=copy.deepcopy(table.schema),
        throughput=throughput,
        attr=copy.deepcopy(table.attr),
        global_indexes=[_index_spec(i.describe()) for i in table.global_indexes],
        indexes=[_index_spec(i.describe()) for i in table.indexes],
        streams=copy.deepcopy(table.stream_specification),
        billing_mode=table.billing_mode or "PROVISIONED",
        sse_specification=sse,
        # A replica is a table of its own in its region (its own ARN) and gets none of the
        # source's tags: ReplicaUpdates' Create (CreateReplicationGroupMemberAction, botocore
        # DynamoDB model) has no Tags; CloudFormation's AWS::DynamoDB::GlobalTable sets Tags per
        # replica (ReplicaSpecification.Tags); Terraform tags replicas by their own ARN in their
        # region (aws_dynamodb_tag, aws_dynamodb_table_replica.propagate_tags).
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )
    replica.items = copy.deepcopy(table.items)
    return replica


def _index_spec(described: dict[str, Any]) -> dict[str, Any]:
    spec = {k: copy.deepcopy(described[k]) for k in ("IndexName", "KeySchema", "Projection")}
    throughput = described.get("ProvisionedThroughput")
    if throughput and throughput.get("ReadCapacityUnits"):
        spec["ProvisionedThroughput"] = {
            "ReadCapacityUnits": throughput["ReadCapacityUnits"],
            "WriteCapacityUnits": throughput["WriteCapacityUnits"],
        }
    return spec


# -- DeleteTable ----------------------------------------------------------------------------


def _delete_table(original: Callable[..., Any], self: DynamoHandler) -> Any:
    name = self.body["TableName"]
    group = group_of(self.current_account, name)
    if group is not None and self.region in group.replicas:
        if group.busy():
            raise resource_in_use()
        _check_not_a_recent_source(group, self.region)
        # The description AWS returns is taken before the table leaves the group.
        result = original(self)
        group.replicas.pop(self.region, None)
        if len(group.replicas) <= 1:
            STATE.global_tables.pop((group.account_id, name), None)
        log.info("replica table deleted", extra={"table": name, "region": self.region})
        return result
    return original(self)
