"""ListBackups honours BackupType (moto 5.2.5 ignores it and lists every type; 5.2.6 filters
by it in the backend): the emulator filters the backend's backups itself, the same with both.

The botocore DynamoDB model (2012-08-10), ListBackupsInput.BackupType (enum BackupTypeFilter
USER | SYSTEM | AWS_BACKUP | ALL):
- "USER - On-demand backup created by you. (The default setting if no other backup types are
  specified.)": no BackupType lists USER backups only;
- "SYSTEM - On-demand backup automatically created by DynamoDB.";
- "ALL - All types of on-demand backups (USER and SYSTEM).": not AWS_BACKUP.
AWS_BACKUP, a value of the enum the text does not describe, lists the backups of that type,
as moto's own type filter would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.dynamodb.responses import DynamoHandler, DynamoResult

from .global_tables import backend, wrap_when_active

DEFAULT_TYPE = "USER"
TYPES_LISTED: dict[str, frozenset[str]] = {
    "USER": frozenset({"USER"}),
    "SYSTEM": frozenset({"SYSTEM"}),
    "AWS_BACKUP": frozenset({"AWS_BACKUP"}),
    "ALL": frozenset({"USER", "SYSTEM"}),
}


def install() -> None:
    wrap_when_active(DynamoHandler, "list_backups", _list_backups)


def _list_backups(original: Callable[..., Any], self: DynamoHandler) -> Any:
    # an unknown value never gets here: botocore validates the enum on the client side
    wanted = TYPES_LISTED.get(self.body.get("BackupType") or DEFAULT_TYPE)
    if wanted is None:
        return original(self)
    # every backup of the backend, filtered here (moto's list_backups filters by type from
    # 5.2.6 on, with its own default): one answer whatever moto's version
    table = self.body.get("TableName")
    backups = [
        b
        for b in backend(self.current_account, self.region).backups.values()
        if table is None or table in (b.table.name, b.table.table_arn)
    ]
    return DynamoResult({"BackupSummaries": [b.summary for b in backups if b.type in wanted]})
