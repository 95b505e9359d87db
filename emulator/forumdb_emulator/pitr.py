"""Point-in-time recovery that honours the time: a restore to T gives the table as of T.

moto's RestoreTableToPointInTime copies the source table as it is now. Here every successful
write (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems) through the API to
a table with PITR enabled appends (time, key, image before the write) to a change log kept on
moto's table object (so it lives and dies with the table, including moto's reset). A restore
copies the table as moto does, then undoes, newest first, every logged change made after T. Also:
- PITR must be ENABLED on the source (PointInTimeRecoveryUnavailableException), and T inside
  [EarliestRestorableDateTime, now] (InvalidRestoreTimeException);
- DescribeContinuousBackups reports LatestRestorableDateTime as now (AWS: about 5 minutes ago);
- the restored table's RestoreSummary.RestoreDateTime is T;
- UpdateContinuousBackups answers ContinuousBackupsUnavailableException ("Backups are being
  enabled for the table") for AwsRules.pitr_unavailable_seconds after CreateTable, as AWS does
  for a new table; RecoveryPeriodInDays must lie in 1-35 (botocore checks only the minimum).
Writes that replication applies to a replica are logged in the replica's table too, so a
restore in a replica region holds the replica as it was at T, not writes replicated later.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time, utcnow
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, PointInTimeRecoveryUnavailable
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

from .aws_errors import DynamoError, validation
from .global_tables import backend, wrap_when_active
from .replication import _WRITES, Touched, _key_of, _key_types
from .state import STATE

log = logging.getLogger("forumdb.moto_ext.pitr")

_LOG_ATTR = "_forumdb_change_log"


class InvalidRestoreTime(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__(ERROR_TYPE_PREFIX + "InvalidRestoreTimeException", message)


@dataclass(frozen=True)
class Change:
    at: float  # epoch seconds of the write
    key: dict[str, Any]
    before: dict[str, Any] | None  # the item before the write; None: it did not exist


def change_log(table: Table) -> list[Change]:
    entries: list[Change] | None = getattr(table, _LOG_ATTR, None)
    if entries is None:
        entries = []
        setattr(table, _LOG_ATTR, entries)
    return entries


def log_change(table: Table, key: dict[str, Any]) -> None:
    """Log the item's image before a write made outside the API (a replicated write)."""
    if not _pitr_enabled(table):
        return
    item = table.get_item(*_key_types(table, key))
    before = copy.deepcopy(item.to_json()["Attributes"]) if item is not None else None
    change_log(table).append(Change(at=time.time(), key=copy.deepcopy(key), before=before))


def install() -> None:
    for name, touched_by in _WRITES.items():
        _wrap(name, _logging_writes(touched_by))
    _wrap("restore_table_to_point_in_time", _restore_to_time)
    _wrap("describe_continuous_backups", _describe_continuous_backups)
    _wrap("update_continuous_backups", _update_continuous_backups)


def _wrap(name: str, replacement: Callable[..., Any]) -> None:
    wrap_when_active(DynamoHandler, name, replacement)


# -- the change log --------------------------------------------------------------------------


def _images_before(account: str, region: str, touched: Touched) -> list[tuple[Table, Change]]:
    found = []
    tables = backend(account, region).tables
    for table_name, attrs in touched:
        table = tables.get(table_name)
        if table is None or not _pitr_enabled(table):
            continue  # no PITR, nothing to restore to (and no log to grow)
        try:
            key = _key_of(table, attrs)
        except KeyError:  # a malformed request: moto will refuse it
            continue
        item = table.get_item(*_key_types(table, key))
        before = copy.deepcopy(item.to_json()["Attributes"]) if item is not None else None
        found.append((table, Change(at=0.0, key=copy.deepcopy(key), before=before)))
    return found


def _logging_writes(touched_by: Callable[[dict[str, Any]], Touched]) -> Callable[..., Any]:
    def replacement(original: Callable[..., Any], self: DynamoHandler) -> Any:
        with STATE.lock:
            before = _images_before(self.current_account, self.region, touched_by(self.body))
            result = original(self)  # raises on failure: nothing changed, nothing logged
            now = time.time()
            for table, change in before:
                change_log(table).append(Change(at=now, key=change.key, before=change.before))
        return result

    return replacement


# -- DescribeContinuousBackups and RestoreTableToPointInTime ---------------------------------


def _pitr_description(table: Table) -> dict[str, Any]:
    return table.continuous_backups.setdefault("PointInTimeRecoveryDescription", {})


def _pitr_enabled(table: Table) -> bool:
    return _pitr_description(table).get("PointInTimeRecoveryStatus") == "ENABLED"


def _describe_continuous_backups(original: Callable[..., Any], self: DynamoHandler) -> Any:
    table = backend(self.current_account, self.region).tables.get(self.body.get("TableName"))
    if table is not None:
        pitr = _pitr_description(table)
        if pitr.get("PointInTimeRecoveryStatus") == "ENABLED":
            pitr["LatestRestorableDateTime"] = unix_time()
    return original(self)


RECOVERY_PERIOD_DAYS = (1, 35)  # the service model's range of RecoveryPeriodInDays


def _update_continuous_backups(original: Callable[..., Any], self: DynamoHandler) -> Any:
    spec = self.body.get("PointInTimeRecoverySpecification") or {}
    days = spec.get("RecoveryPeriodInDays")
    low, high = RECOVERY_PERIOD_DAYS
    if days is not None and not low <= int(days) <= high:
        bound = (
            f"greater than or equal to {low}"
            if int(days) < low
            else f"less than or equal to {high}"
        )
        raise validation(
            f"1 validation error detected: Value '{days}' at "
            "'pointInTimeRecoverySpecification.recoveryPeriodInDays' failed to satisfy "
            f"constraint: Member must have value {bound}"
        )
    table = backend(self.current_account, self.region).tables.get(self.body.get("TableName"))
    if table is not None:
        age = (utcnow() - table.created_at).total_seconds()
        if age < STATE.rules.pitr_unavailable_seconds:
            raise DynamoError(
                "ContinuousBackupsUnavailableException", "Backups are being enabled for the table"
            )
    return original(self)


def _epoch(value: Any) -> float:
    """RestoreDateTime as moto hands it over (a datetime parsed from the request, naive UTC
    or aware) or as the raw JSON number."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


def _restore_to_time(original: Callable[..., Any], self: DynamoHandler) -> Any:
    body = self.body
    account, region = self.current_account, self.region
    source = backend(account, region).tables.get(body.get("SourceTableName", ""))
    if source is None:
        return original(self)  # moto's SourceTableNotFoundException
    if not _pitr_enabled(source):
        raise PointInTimeRecoveryUnavailable(source.name)
    pitr = _pitr_description(source)
    now = unix_time()
    if body.get("UseLatestRestorableTime"):
        moment = now
    elif body.get("RestoreDateTime") is not None:
        moment = _epoch(body["RestoreDateTime"])
    else:
        raise InvalidRestoreTime("RestoreDateTime or UseLatestRestorableTime is required")
    earliest = float(pitr.get("EarliestRestorableDateTime") or 0)
    if not earliest <= moment <= now:
        raise InvalidRestoreTime(
            f"RestoreDateTime {moment} of table {source.name} ({region}) is outside the "
            f"restorable window [{earliest}, {now}]"
        )
    with STATE.lock:
        original(self)
        restored = backend(account, region).get_table(body["TargetTableName"])
        undone = 0
        for change in reversed(change_log(source)):
            if change.at <= moment:
                break
            if change.before is None:
                restored.delete_item(*_key_types(restored, change.key))
            else:
                restored.put_item(copy.deepcopy(change.before), overwrite=True)
            undone += 1
        restored.restore_date_time = datetime.fromtimestamp(moment, UTC).replace(tzinfo=None)
    log.info(
        "point-in-time restore",
        extra={"source": source.name, "target": restored.name, "at": moment, "undone": undone},
    )
    return DynamoResult(restored.describe())
