"""What a restore drill does and what it found: one `DrillRestore` per (table, method)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from forumdb.tables import Kind

Method = Literal["pitr", "recovery-point"]
METHOD_SUFFIX: dict[Method, str] = {"pitr": "pitr", "recovery-point": "rp"}

# Tags on every drill table, so a leftover (a killed run, --keep) is easy to find and delete.
TAG_DRILL = "forumdb.io/drill"  # the drill id (its UTC timestamp)
TAG_DRILL_SOURCE = "forumdb.io/drill-source"  # the table restored
TAG_DRILL_METHOD = "forumdb.io/drill-method"  # pitr | recovery-point


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def drill_id(now: datetime | None = None) -> str:
    """A compact UTC timestamp, valid in table names and tag values: 20261125t172100z."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dt%H%M%Sz")


def drill_table_name(source: str, drill: str, method: Method) -> str:
    return f"{source}-drill-{drill}-{METHOD_SUFFIX[method]}"


class DrillRestore(_Camel):
    """One restore of one source table, planned before anything is created."""

    kind: Kind
    method: Method
    source: str
    target: str
    # pitr: the requested time (None: the latest restorable time)
    point_in_time: datetime | None = None
    # recovery-point: a DynamoDB backup ARN (arn:aws:dynamodb:...:table/T/backup/ID, restored
    # with RestoreTableFromBackup) or an AWS Backup recovery point (arn:aws:backup:...:
    # recovery-point:ID, an advanced DynamoDB backup or a copy, restored with StartRestoreJob)
    recovery_point_arn: str | None = None
    vault: str | None = None
    # the IAM role AWS Backup assumes for StartRestoreJob (arn:aws:backup recovery points)
    restore_role_arn: str | None = None
    # the moment the restored content should represent, when known (for the comparison)
    restore_point: datetime | None = None
    # why this restore cannot run (found while planning); the row fails with it
    problem: str | None = None
    # why this restore is not attempted though nothing is wrong (e.g. only cross-region
    # copies, which restore through AWS Backup jobs): the row is skipped, not failed
    skip: str | None = None


class Comparison(_Camel):
    """The restored table against the source, item by item (codec's digests and checksums).

    Source items written after the restore point (their `updatedAt`, else `createdAt`, is
    later) cannot be in the restored table as they are now: they are left out on both sides
    and counted in `changed_since`. Restored items the source no longer has were deleted
    after the restore point (when there is one): counted in `deleted_since`, not a failure.
    """

    source_count: int
    restored_count: int
    compared: int  # source items that take part in the comparison
    source_checksum: str
    restored_checksum: str
    missing: int = 0  # compared source items absent from the restored table
    different: int = 0  # present with other content
    extra: int = 0  # in the restored table, not in the source (no restore point known)
    changed_since: int = 0
    deleted_since: int = 0  # in the restore, deleted from the source after the restore point

    @property
    def checksum_match(self) -> bool:
        return self.source_checksum == self.restored_checksum

    @property
    def ok(self) -> bool:
        return self.checksum_match and not (self.missing or self.different or self.extra)

    def reason(self) -> str | None:
        if self.ok:
            return None
        parts = [
            f"{n} {what}"
            for n, what in (
                (self.missing, "missing"),
                (self.different, "different"),
                (self.extra, "extra"),
            )
            if n
        ]
        detail = ", ".join(parts) or "same items, other checksum"
        return (
            f"restored content differs from the source: {detail} "
            f"(restored {self.restored_count} items, checksum {self.restored_checksum[:12]}; "
            f"source {self.compared} compared, checksum {self.source_checksum[:12]})"
        )


class DrillRow(_Camel):
    """The report line of one restore."""

    kind: Kind
    method: Method
    source: str
    target: str
    recovery_point_arn: str | None = None
    restore_job_id: str | None = None  # AWS Backup's restore job (arn:aws:backup points)
    restore_point: datetime | None = None
    status: str | None = None  # the restored table's TableStatus when last seen
    source_count: int | None = None
    restored_count: int | None = None
    checksum_match: bool | None = None
    comparison: Comparison | None = None
    layout_problems: list[str] = Field(default_factory=list)
    restore_seconds: float | None = None  # restore started -> seen ACTIVE
    compare_seconds: float | None = None
    duration_seconds: float | None = None  # the two together
    ok: bool = False
    # pass | fail | skipped (skipped: not attempted, `reason` says why; neither ok nor failed)
    state: Literal["pass", "fail", "skipped"] = "fail"
    reason: str | None = None
    created: bool = False  # the drill created (or may have created) it: it must delete it
    tagged: bool = False
    cleaned_up: bool | None = None  # None: kept (--keep) or never created
