"""Running a planned drill: start every restore (AWS runs them side by side), wait for each
table to become ACTIVE, compare it with its source, and always delete what was created."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from forumctl.output import Output
from forumctl.restore_drill.aws import (
    RestoreProblem,
    as_problem,
    aws_code,
    delete_table,
    drill_tags,
    is_backup_recovery_point,
    start_restore,
    start_restore_job,
    tag_table,
    unfinished_restore_jobs,
    wait_active,
    wait_restore_job,
)
from forumctl.restore_drill.compare import compare_tables
from forumctl.restore_drill.model import DrillRestore, DrillRow
from forumctl.tables_cmd import layout_problems
from forumctl.target import Target
from forumdb.tables import table_def


def row_for(plan: DrillRestore) -> DrillRow:
    return DrillRow(
        kind=plan.kind,
        method=plan.method,
        source=plan.source,
        target=plan.target,
        recovery_point_arn=plan.recovery_point_arn,
        restore_point=plan.restore_point,
        reason=plan.problem or plan.skip,
        ok=plan.problem is None and plan.skip is None,
        state="fail" if plan.problem else "skipped" if plan.skip else "pass",
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the same cleanup runs; `signum` gives the exit code."""

    signum = signal.SIGTERM


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM cleans up like Ctrl-C (a drill must not leave tables behind when killed)."""

    def _raise(_signum: int, _frame: Any) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class DrillRunner:
    def __init__(
        self,
        tgt: Target,
        output: Output,
        drill: str,
        owner: str | None,
        *,
        timeout: float,
        poll: float,
    ) -> None:
        self.tgt = tgt
        self.output = output
        self.drill = drill
        self.owner = owner
        self.timeout = timeout
        self.poll = poll
        self.dynamodb = tgt.pool().get()
        self.backup = tgt.pool().get("backup")
        # restore jobs of this drill were created after this (a minute's leeway for clocks)
        self.since = datetime.now(UTC) - timedelta(minutes=1)

    def run(self, plans: list[DrillRestore], rows: list[DrillRow], *, keep: bool) -> list[str]:
        """Fills in `rows`; returns the drill tables that could not be deleted."""
        with sigterm_as_interrupt():
            try:
                started = [
                    (plan, row, time.monotonic())
                    for plan, row in zip(plans, rows, strict=True)
                    if row.state == "pass" and self._start(plan, row)
                ]
                active = [
                    (plan, row) for plan, row, began in started if self._wait(plan, row, began)
                ]
                for plan, row in active:
                    self._compare(plan, row)
            except BaseException as exc:
                if not keep:
                    why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                    self.output.note(f"restore-drill: {why}; deleting the drill tables")
                raise
            finally:
                left = [] if keep else self._cleanup(rows)
        return left

    # -- steps -------------------------------------------------------------------------------

    def _fail(self, row: DrillRow, exc: Exception, what: str) -> None:
        """Record a finding on the row; re-raise what is not one (credentials, throttling)."""
        if isinstance(exc, ClientError):
            problem = as_problem(exc, f"{what} in {self.tgt.region}")
            if problem is None:
                raise exc
            exc = problem
        row.reason, row.ok, row.state = str(exc), False, "fail"

    def _start(self, plan: DrillRestore, row: DrillRow) -> bool:
        # Counted as created before the call: an interrupt (or a lost connection) after AWS
        # took the request but before its answer must still lead to the table's deletion.
        # The name is this drill's own (checked absent while planning), so that is safe.
        row.created = True
        by_aws_backup = plan.method == "recovery-point" and is_backup_recovery_point(
            plan.recovery_point_arn
        )
        try:
            if by_aws_backup:  # the table appears while the job runs: tagged once ACTIVE
                row.restore_job_id = start_restore_job(self.backup, plan)
                row.restore_point = plan.restore_point
                return True
            desc = start_restore(self.dynamodb, plan)
        except ClientError as exc:
            row.created = False  # AWS refused it: nothing was created
            self._fail(row, exc, f"{plan.method} restore of {plan.source}")
            return False
        row.status = desc.get("TableStatus")
        row.restore_point = plan.restore_point
        self._tag(desc["TableArn"], plan, row, allow_busy=True)
        return True

    def _tag(self, arn: str, plan: DrillRestore, row: DrillRow, *, allow_busy: bool) -> None:
        try:
            tag_table(self.dynamodb, arn, drill_tags(plan, self.drill, self.owner))
            row.tagged = True
        except ClientError as exc:
            if not (allow_busy and aws_code(exc) == "ResourceInUseException"):
                raise  # busy while CREATING: tagged again once ACTIVE

    def _wait(self, plan: DrillRestore, row: DrillRow, began: float) -> bool:
        try:
            if row.restore_job_id:
                wait_restore_job(
                    self.backup,
                    row.restore_job_id,
                    plan.target,
                    timeout=self.timeout,
                    poll=self.poll,
                )
            row.status = wait_active(
                self.dynamodb, plan.target, timeout=self.timeout, poll=self.poll
            )
            desc = self.dynamodb.describe_table(TableName=plan.target)["Table"]
            if not row.tagged:
                self._tag(desc["TableArn"], plan, row, allow_busy=False)
        except (RestoreProblem, ClientError) as exc:
            self._fail(row, exc, f"waiting for {plan.target}")
            return False
        row.restore_seconds = round(time.monotonic() - began, 3)
        row.layout_problems = layout_problems(table_def(plan.kind), desc)
        return True

    def _compare(self, plan: DrillRestore, row: DrillRow) -> None:
        began = time.monotonic()
        try:
            comparison = compare_tables(
                self.tgt.pool(),
                plan.source,
                plan.target,
                self.tgt.key_names(plan.kind),
                plan.restore_point,
            )
        except ClientError as exc:
            self._fail(row, exc, f"comparing {plan.target} with {plan.source}")
            return
        row.compare_seconds = round(time.monotonic() - began, 3)
        row.duration_seconds = round((row.restore_seconds or 0) + row.compare_seconds, 3)
        row.comparison = comparison
        row.source_count = comparison.source_count
        row.restored_count = comparison.restored_count
        row.checksum_match = comparison.checksum_match
        reasons = [r for r in (comparison.reason(),) if r]
        if row.layout_problems:
            reasons.append("layout differs: " + "; ".join(row.layout_problems))
        row.ok = not reasons
        row.state = "pass" if row.ok else "fail"
        row.reason = "; ".join(reasons) or None

    def _let_restore_job_finish(self, row: DrillRow) -> None:
        """A restore job still running creates its table later: wait for it to end (up to
        --timeout) so that the table it makes can be deleted. A job whose StartRestoreJob
        answer was lost (interrupted) is looked for among the recovery point's jobs."""
        by_aws_backup = row.method == "recovery-point" and is_backup_recovery_point(
            row.recovery_point_arn
        )
        if not by_aws_backup or row.status == "ACTIVE":  # no job, or seen completed
            return
        job_ids = [row.restore_job_id] if row.restore_job_id else []
        if not job_ids:
            with suppress(ClientError):
                job_ids = unfinished_restore_jobs(
                    self.backup, row.recovery_point_arn or "", self.since
                )
        for job_id in job_ids:
            # failed or still running after --timeout: delete what is there
            with suppress(RestoreProblem, ClientError):
                wait_restore_job(
                    self.backup, job_id, row.target, timeout=self.timeout, poll=self.poll
                )

    def _cleanup(self, rows: list[DrillRow]) -> list[str]:
        left = []
        for row in rows:
            if not row.created:
                continue
            self._let_restore_job_finish(row)
            row.cleaned_up = delete_table(
                self.dynamodb, row.target, timeout=self.timeout, poll=self.poll
            )
            if not row.cleaned_up:
                left.append(row.target)
        return left
