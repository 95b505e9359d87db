"""The extension's process-wide state, beside moto's own backends (which are process-wide too).

The patches installed into moto are inert unless the extension is active (inside
`mock_aws_ext()` or in the server process), so plain `mock_aws` tests in the same process
keep moto's behaviour.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from .backup_model import BackupStore
from .faults import FaultBook
from .global_model import GlobalTable
from .models import AwsRules, ReplicationSettings

RULES_ENVIRONMENT = "FORUMDB_EMULATOR_RULES"


def default_rules() -> AwsRules:
    """AwsRules' defaults, changed by a JSON object in FORUMDB_EMULATOR_RULES (for a server
    started with other rules, e.g. '{"replication_source_hold_seconds": 60}')."""
    raw = os.environ.get(RULES_ENVIRONMENT, "").strip()
    return AwsRules(**json.loads(raw)) if raw else AwsRules()


@dataclass
class PendingWrite:
    """A write made in one region, to be applied to the replica in another."""

    account_id: str
    table_name: str
    target_region: str
    key: dict[str, Any]
    item: dict[str, Any] | None  # None: the item was deleted
    written_at: int  # position of the original write on the write clock: last writer wins
    due_at: float  # monotonic time at which it becomes visible


@dataclass
class ExtState:
    lock: threading.RLock = field(default_factory=threading.RLock)
    activations: int = 0
    server_mode: bool = False
    faults: FaultBook = field(default_factory=FaultBook)
    replication: ReplicationSettings = field(default_factory=ReplicationSettings)
    global_tables: dict[tuple[str, str], GlobalTable] = field(default_factory=dict)
    pending_writes: list[PendingWrite] = field(default_factory=list)
    # (account, table, region, key json) -> write clock of the write that set it
    last_write: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    backup: BackupStore = field(default_factory=BackupStore)
    rules: AwsRules = field(default_factory=default_rules)
    # (account, region, table name) -> regions gone from a global table that still hold their
    # table (DELETING) until the monotonic time given
    lingering: dict[tuple[str, str, str], float] = field(default_factory=dict)
    # table ARN -> (monotonic time the last tag change settles, tags visible until then)
    tag_changes: dict[str, tuple[float, list[dict[str, str]]]] = field(default_factory=dict)
    # (account, region, operation) -> monotonic times of the calls in the last second
    call_times: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    # (region, table name) -> status DescribeTable reports there (control `table_state`)
    table_states: dict[tuple[str, str], str] = field(default_factory=dict)
    # SNS e-mail subscriptions: ARN -> monotonic time made, until the recipient confirms
    sns_pending: dict[str, float] = field(default_factory=dict)
    # SNS subscriptions their recipient ended, listed as "Deleted" for a while (sns.py)
    sns_unsubscribed: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.activations > 0 or self.server_mode

    def reset(self) -> None:
        """Forget everything the extension holds (moto's own reset is separate)."""
        with self.lock:
            self.faults = FaultBook()
            self.replication = ReplicationSettings()
            self.global_tables.clear()
            self.pending_writes.clear()
            self.last_write.clear()
            self.backup = BackupStore()
            self.rules = default_rules()
            self.lingering.clear()
            self.tag_changes.clear()
            self.call_times.clear()
            self.table_states.clear()
            self.sns_pending.clear()
            self.sns_unsubscribed.clear()


STATE = ExtState()
