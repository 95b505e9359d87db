"""ExtControl: steer the extension, in-process or in a server, through the same methods.

ExtControl()                       # this process (inside mock_aws_ext())
ExtControl("http://127.0.0.1:N")   # a `python -m forumdb_emulator.server` process
"""

from __future__ import annotations

from typing import Any

import requests

from . import operations

CONTROL_PREFIX = "/_forumdb"


class ControlError(RuntimeError):
    """The control call was refused (bad arguments) or the server could not be reached."""


class ExtControl:
    def __init__(self, url: str | None = None, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/") if url else None
        self.timeout = timeout
        self._http = requests.Session() if self.url else None

    # -- fault injection -------------------------------------------------------------------
    def set_fault(
        self,
        *,
        region: str | None = None,
        service: str | None = None,
        operation: str | None = None,
        throttle_rate: float = 0.0,
        error_rate: float = 0.0,
        latency_ms: int = 0,
        fail_next: int = 0,
        fail_kind: str = "throttle",
        unprocessed_rate: float = 0.0,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Add a fault rule; `None` region/service/operation match any. `fail_kind`
        "error_after_write" applies the call, then answers a 5xx; `unprocessed_rate` leaves
        that share of a BatchWriteItem's items in UnprocessedItems."""
        return self._call(
            "set_fault",
            region=region,
            service=service,
            operation=operation,
            throttle_rate=throttle_rate,
            error_rate=error_rate,
            latency_ms=latency_ms,
            fail_next=fail_next,
            fail_kind=fail_kind,
            unprocessed_rate=unprocessed_rate,
            seed=seed,
        )

    def fail_next(
        self,
        count: int,
        *,
        kind: str = "throttle",
        region: str | None = None,
        service: str | None = None,
        operation: str | None = None,
    ) -> dict[str, Any]:
        """The next `count` matching calls fail with `kind` ("throttle", "error" or
        "error_after_write")."""
        return self.set_fault(
            region=region, service=service, operation=operation, fail_next=count, fail_kind=kind
        )

    def clear_faults(self) -> dict[str, Any]:
        """Remove every fault rule and end every outage."""
        return self._call("clear_faults")

    def region_outage(self, region: str, down: bool = True) -> dict[str, Any]:
        """Every call to `region` fails (connection error in-process, 503 from the server)."""
        return self._call("region_outage", region=region, down=down)

    def table_state(self, table: str, region: str, status: str | None) -> dict[str, Any]:
        """DescribeTable of `table` in `region` (and the Replicas entry of that region in the
        other members') reports `status` (CREATION_FAILED, INACCESSIBLE_ENCRYPTION_CREDENTIALS,
        REGION_DISABLED, REPLICATION_NOT_AUTHORIZED, ARCHIVING, ARCHIVED); None undoes it."""
        return self._call("table_state", table=table, region=region, status=status)

    # -- SNS e-mail subscriptions, as their recipient ------------------------------------------
    def sns_confirm(self, topic_arn: str, endpoint: str) -> dict[str, Any]:
        """The recipient of `endpoint`'s pending subscription to `topic_arn` confirms it."""
        return self._call("sns_confirm", topic_arn=topic_arn, endpoint=endpoint)

    def sns_unsubscribe(self, topic_arn: str, endpoint: str) -> dict[str, Any]:
        """The recipient unsubscribes: SNS lists the subscription as "Deleted" for a while
        (AwsRules.unsubscribed_listed_seconds)."""
        return self._call("sns_unsubscribe", topic_arn=topic_arn, endpoint=endpoint)

    # -- global tables ---------------------------------------------------------------------
    def set_replication(
        self,
        *,
        lag_seconds: float | None = None,
        replica_activation_calls: int | None = None,
        replica_activation_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Change replication lag and how fast replica updates complete (unset: unchanged)."""
        return self._call(
            "set_replication",
            **{
                k: v
                for k, v in {
                    "lag_seconds": lag_seconds,
                    "replica_activation_calls": replica_activation_calls,
                    "replica_activation_seconds": replica_activation_seconds,
                }.items()
                if v is not None
            },
        )

    def flush_replication(self) -> dict[str, Any]:
        """Apply all pending replicated writes now."""
        return self._call("flush_replication")

    # -- AWS Backup ------------------------------------------------------------------------
    def run_backup_plan_now(
        self,
        plan_id: str,
        *,
        region: str | None = None,
        account_id: str | None = None,
        rule_name: str | None = None,
        wait: bool = True,
    ) -> dict[str, Any]:
        """Run the plan's rules (or one) as the scheduler would: backup jobs, then recovery
        points and copies as the jobs complete over time; `wait` returns once all are done."""
        return self._call(
            "run_backup_plan_now",
            plan_id=plan_id,
            region=region,
            account_id=account_id,
            rule_name=rule_name,
            wait=wait,
        )

    # -- AWS rules and timings -------------------------------------------------------------
    def configure(self, **rules: Any) -> dict[str, Any]:
        """Change AWS rules and timings (forumdb_emulator.models.AwsRules), e.g.
        `configure(tags_settle_seconds=0, replication_source_hold_seconds=5)`; returns all."""
        return self._call("configure", **rules)

    def rules(self) -> dict[str, Any]:
        """The AWS rules and timings in force."""
        return self._call("rules")

    # -- whole extension -------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Injected fault counts, outages, pending writes, replica states."""
        return self._call("stats")

    def reset(self) -> dict[str, Any]:
        """Clear the extension's state and all of moto's."""
        return self._call("reset")

    def _call(self, name: str, **payload: Any) -> dict[str, Any]:
        if self._http is None:
            return operations.dispatch(name, payload)
        try:
            response = self._http.post(
                f"{self.url}{CONTROL_PREFIX}/{name}", json=payload, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise ControlError(f"control {name} at {self.url} failed: {exc}") from exc
        if response.status_code != 200:
            raise ControlError(
                f"control {name} at {self.url} refused ({response.status_code}): {response.text}"
            )
        return response.json()
