"""DynamoDB global tables, version 2019.11.21: UpdateTable ReplicaUpdates and what follows.

moto accepts ReplicaUpdates and ignores them. Here a Create makes a real table in the other
region (same keys, indexes, billing, streams; existing items copied), tracked as a replica
whose ReplicaStatus goes CREATING -> ACTIVE (UPDATING -> ACTIVE, DELETING -> gone) after a
configurable number of DescribeTable calls or seconds; the tables show TableStatus UPDATING
meanwhile and DescribeTable carries Replicas (the other regions) and GlobalTableVersion.
Preconditions and error codes follow the UpdateTable API reference.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from functools import cache, wraps
from typing import Any

import boto3
from moto.dynamodb.exceptions import (
    MockValidationException,
    ResourceInUseException,
)
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.kms.models import kms_backends

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

_original_describe = Table.describe


def install() -> None:
    _wrap(DynamoHandler, "update_table", _update_table)
    _wrap(DynamoHandler, "delete_table", _delete_table)
    _wrap(DynamoHandler, "describe_table", _describe_table)
    Table.describe = _table_describe  # type: ignore[method-assign]


def _wrap(cls: type, name: str, replacement: Callable[..., Any]) -> None:
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


# -- DescribeTable ---------------------------------------------------------------------------


def _table_describe(self: Table, base_key: str = "TableDescription") -> dict[str, Any]:
    result = _original_describe(self, base_key)
    group = group_of(self.account_id, self.name) if STATE.active else None
    if group is None or self.region_name not in group.replicas:
        return result
    body = result[base_key]
    body["TableStatus"] = group.table_status(self.region_name)
    body["Replicas"] = [replica.describe() for replica in group.others(self.region_name)]
    body["GlobalTableVersion"] = GLOBAL_TABLE_VERSION
    return result


def _describe_table(original: Callable[..., Any], self: DynamoHandler) -> Any:
    group = group_of(self.current_account, self.body.get("TableName", ""))
    if group is not None:
        advance(group, observed=True)
    return original(self)


# -- replica progress ------------------------------------------------------------------------


def advance(group: GlobalTable, *, observed: bool) -> None:
    """Move replica updates on: a DescribeTable call counts as one observation."""
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
            backend(group.account_id, region).tables.pop(group.name, None)
            log.info("replica deleted", extra={"table": group.name, "region": region})
        else:
            replica.status = transition.final_status
            log.info("replica active", extra={"table": group.name, "region": region})
    if len(group.replicas) <= 1 and not group.busy():
        STATE.global_tables.pop((group.account_id, group.name), None)


def advance_timed() -> None:
    """Finish the updates whose time has come (seconds mode); called before every request."""
    for group in list(STATE.global_tables.values()):
        if any(r.transition and r.transition.done_at for r in group.replicas.values()):
            advance(group, observed=False)


def _new_transition(final_status: str | None) -> Transition:
    settings = STATE.replication
    seconds = settings.replica_activation_seconds
    return Transition(
        final_status=final_status,
        calls_left=settings.replica_activation_calls,
        done_at=time.monotonic() + seconds if seconds is not None else None,
    )


# -- UpdateTable -----------------------------------------------------------------------------


def _update_table(original: Callable[..., Any], self: DynamoHandler) -> Any:
    body = self.body
    name = body["TableName"]
    account, region = self.current_account, self.region
    group = group_of(account, name)
    stream_spec = body.get("StreamSpecification")
    if group is not None and stream_spec is not None and not stream_spec.get("StreamEnabled"):
        raise MockValidationException(
            "One or more parameter values were invalid: "
            "Disabling Stream is not allowed for a Global Table replica."
        )
    updates = body.get("ReplicaUpdates")
    if not updates:
        result = original(self)
        if group is not None:
            _propagate_settings(group, region, body)
        return result

    table = backend(account, region).get_table(name)
    if len(updates) != 1:
        raise MockValidationException(
            "One or more parameter values were invalid: only one replica update (Create, Update"
            f" or Delete) is allowed per UpdateTable request; got {len(updates)} for table {name}"
        )
    combined = [p for p in _EXCLUSIVE_PARAMETERS if body.get(p) is not None]
    if combined:
        raise MockValidationException(
            "One or more parameter values were invalid: ReplicaUpdates cannot be combined with "
            f"{', '.join(combined)} in one UpdateTable request (table {name})"
        )
    if group is not None and group.busy():
        raise ResourceInUseException(
            f"Attempt to change a resource which is still in use: Table: {name} in region "
            f"{region} is in UPDATING state"
        )
    (action, spec), *_ = updates[0].items()
    target = spec.get("RegionName", "")
    if action == "Create":
        _create_replica(table, group, target, spec)
    elif action == "Update":
        _update_replica(table, group, target, spec)
    elif action == "Delete":
        _delete_replica(table, group, target)
    else:
        raise MockValidationException(f"Unknown replica update action {action!r}")
    return DynamoResult(table.describe())


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
        backend(group.account_id, region).update_table(
            name=group.name,
            attr_definitions=copy.deepcopy(body.get("AttributeDefinitions")),
            global_index=copy.deepcopy(index_updates),
            throughput=copy.deepcopy(throughput),
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
    if target == region:
        raise MockValidationException(
            "One or more parameter values were invalid: a replica cannot be created in the "
            f"table's own region {region} (table {name})"
        )
    if target not in _known_regions():
        raise MockValidationException(
            f"One or more parameter values were invalid: region {target!r} is not a DynamoDB "
            f"region (replica of table {name})"
        )
    if (group is not None and target in group.replicas) or name in backend(account, target).tables:
        raise MockValidationException(
            f"Failed to create a the new replica of table with name: '{name}' because one or "
            f"more replicas already existed as tables (region {target})."
        )
    _check_write_capacity(table)
    _ensure_streams(table)
    kms_key = _replica_kms_key(table, target, spec.get("KMSMasterKeyId"))

    replica_table = _copy_table(table, target, kms_key, spec)
    if group is None:
        group = GlobalTable(account, name, {region: Replica(region)})
        STATE.global_tables[(account, name)] = group
    group.replicas[target] = Replica(
        region=target,
        status="CREATING",
        kms_key_id=spec.get("KMSMasterKeyId"),
        read_capacity_override=(spec.get("ProvisionedThroughputOverride") or {}).get(
            "ReadCapacityUnits"
        ),
        table_class=spec.get("TableClassOverride"),
        transition=_new_transition("ACTIVE"),
    )
    log.info(
        "replica creating",
        extra={"table": name, "region": target, "items": len(replica_table)},
    )


def _update_replica(
    table: Table, group: GlobalTable | None, target: str, spec: dict[str, Any]
) -> None:
    replica = group.replicas.get(target) if group else None
    if group is None or replica is None:
        raise _replica_not_found(table.name, target)
    # validate everything before changing anything
    override = spec.get("ProvisionedThroughputOverride")
    if override is not None and table.billing_mode == "PAY_PER_REQUEST":
        raise MockValidationException(
            "One or more parameter values were invalid: ProvisionedThroughputOverride is not "
            f"allowed for a PAY_PER_REQUEST table ({table.name}, replica {target})"
        )
    key = (
        _replica_kms_key(table, target, spec["KMSMasterKeyId"])
        if "KMSMasterKeyId" in spec
        else None
    )

    if key:
        replica.kms_key_id = spec["KMSMasterKeyId"]
        replica_table = backend(table.account_id, target).tables.get(table.name)
        if replica_table is not None:
            replica_table.sse_specification = {
                "Enabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": key,
            }
    if override is not None:
        replica.read_capacity_override = override.get("ReadCapacityUnits")
    if spec.get("TableClassOverride"):
        replica.table_class = spec["TableClassOverride"]
    replica.status = "UPDATING"
    replica.transition = _new_transition("ACTIVE")


def _delete_replica(table: Table, group: GlobalTable | None, target: str) -> None:
    if target == table.region_name:
        raise MockValidationException(
            "One or more parameter values were invalid: cannot delete the replica in the "
            f"region of the request ({target}); call DeleteTable there (table {table.name})"
        )
    replica = group.replicas.get(target) if group else None
    if group is None or replica is None:
        raise _replica_not_found(table.name, target)
    replica.status = "DELETING"
    replica.transition = _new_transition(None)
    log.info("replica deleting", extra={"table": table.name, "region": target})


def _replica_not_found(name: str, region: str) -> MockValidationException:
    return MockValidationException(
        "Replica specified in the Replica Update or Replica Delete action of the request was "
        f"not found: table {name}, region {region}"
    )


def _check_write_capacity(table: Table) -> None:
    """Replicas need on-demand billing or write capacity auto scaling."""
    if table.billing_mode == "PAY_PER_REQUEST":
        return
    # imported here: it pulls in moto's EC2 and ECS models, about 2 s of start-up
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    autoscaling = applicationautoscaling_backends[table.account_id][table.region_name]
    targets = autoscaling.targets.get("dynamodb:table:WriteCapacityUnits", {})
    if f"table/{table.name}" not in targets:
        raise MockValidationException(
            "Table write capacity should either be Pay-Per-Request or AutoScaled "
            f"(table {table.name} in {table.region_name} is PROVISIONED without write capacity "
            "auto scaling)."
        )


def _ensure_streams(table: Table) -> None:
    """Global tables replicate through a NEW_AND_OLD_IMAGES stream; AWS turns it on if off."""
    spec = table.stream_specification or {}
    if not spec.get("StreamEnabled"):
        table.set_stream_specification(
            {"StreamEnabled": True, "StreamViewType": REQUIRED_STREAM_VIEW}
        )
        return
    if spec.get("StreamViewType") != REQUIRED_STREAM_VIEW:
        raise MockValidationException(
            "One or more parameter values were invalid: table "
            f"{table.name} has a stream with StreamViewType {spec.get('StreamViewType')}; "
            f"a global table needs {REQUIRED_STREAM_VIEW}."
        )


def _replica_kms_key(table: Table, target: str, requested: str | None) -> str | None:
    """The key the replica is encrypted with; a customer managed key must be named per region."""
    source_key = (table.sse_specification or {}).get("KMSMasterKeyId")
    source_is_custom = bool(
        table.sse_specification
        and table.sse_specification.get("Enabled")
        and source_key
        and not _is_default_dynamodb_key(table.account_id, table.region_name, source_key)
    )
    if requested is None:
        if source_is_custom:
            raise MockValidationException(
                "One or more parameter values were invalid: KMSMasterKeyId must be specified for "
                f"the replica in {target}: table {table.name} is encrypted with a customer "
                "managed key"
            )
        return None
    if requested.startswith("arn:") and requested.split(":")[3] != target:
        raise MockValidationException(
            f"One or more parameter values were invalid: KMS key {requested} is not in the "
            f"replica's region {target} (table {table.name})"
        )
    kms = kms_backends[table.account_id][target]
    try:
        return kms.describe_key(requested).arn
    except Exception as exc:  # moto raises its own NotFoundException types
        raise MockValidationException(
            f"One or more parameter values were invalid: KMS key {requested} was not found in "
            f"{target} (replica of table {table.name}): {exc}"
        ) from exc


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


# -- DeleteTable -----------------------------------------------------------------------------


def _delete_table(original: Callable[..., Any], self: DynamoHandler) -> Any:
    name = self.body["TableName"]
    group = group_of(self.current_account, name)
    if group is not None and self.region in group.replicas:
        if group.busy():
            raise ResourceInUseException(
                f"Attempt to change a resource which is still in use: Table: {name} in region "
                f"{self.region} is in UPDATING state"
            )
        # The description AWS returns is taken before the table leaves the group.
        result = original(self)
        group.replicas.pop(self.region, None)
        if len(group.replicas) <= 1:
            STATE.global_tables.pop((group.account_id, name), None)
        log.info("replica table deleted", extra={"table": name, "region": self.region})
        return result
    return original(self)
