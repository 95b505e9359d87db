"""The control operations, one implementation for both transports (in-process and HTTP).

Each takes keyword arguments validated by a pydantic model and returns plain JSON data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.moto_api._internal import moto_api_backend

from . import backup_runs, replication, sns
from .models import (
    AwsRules,
    FaultRule,
    OutageRequest,
    ReplicationSettings,
    ReplicationUpdate,
    RunPlanRequest,
    SubscriptionRecipient,
    TableStateRequest,
)
from .state import STATE


class UnknownOperation(KeyError):
    pass


def set_fault(**kwargs: Any) -> dict[str, Any]:
    rule = FaultRule(**kwargs)
    with STATE.lock:
        index = STATE.faults.add(rule)
    return {"rule": index, **rule.model_dump()}


def clear_faults() -> dict[str, Any]:
    with STATE.lock:
        STATE.faults.clear()
    return {}


def region_outage(**kwargs: Any) -> dict[str, Any]:
    request = OutageRequest(**kwargs)
    with STATE.lock:
        STATE.faults.set_outage(request.region, request.down)
        down = sorted(STATE.faults.regions_down)
    return {"regions_down": down}


def table_state(**kwargs: Any) -> dict[str, Any]:
    request = TableStateRequest(**kwargs)
    key = (request.region, request.table)
    with STATE.lock:
        if request.status is None:
            STATE.table_states.pop(key, None)
        else:
            STATE.table_states[key] = request.status
        return {f"{r}/{t}": v for (r, t), v in sorted(STATE.table_states.items())}


def sns_confirm(**kwargs: Any) -> dict[str, Any]:
    """The recipient confirms an e-mail subscription (the link in the confirmation mail)."""
    request = SubscriptionRecipient(**kwargs)
    with STATE.lock:
        return {"SubscriptionArn": sns.confirm(request.topic_arn, request.endpoint)}


def sns_unsubscribe(**kwargs: Any) -> dict[str, Any]:
    """The recipient unsubscribes (the link in every mail): listed "Deleted" for a while."""
    request = SubscriptionRecipient(**kwargs)
    with STATE.lock:
        return {"SubscriptionArn": sns.unsubscribe(request.topic_arn, request.endpoint)}


def set_replication(**kwargs: Any) -> dict[str, Any]:
    update = ReplicationUpdate(**kwargs)
    with STATE.lock:
        merged = STATE.replication.model_dump() | update.model_dump(exclude_none=True)
        if "replica_activation_calls" in kwargs and "replica_activation_seconds" not in kwargs:
            merged["replica_activation_seconds"] = None  # asking for calls switches off seconds
        STATE.replication = ReplicationSettings(**merged)
        return STATE.replication.model_dump()


def flush_replication() -> dict[str, Any]:
    """Apply every pending replicated write now, whatever its lag."""
    with STATE.lock:
        applied = replication.apply_due(force=True)
    return {"applied": applied}


def run_backup_plan_now(**kwargs: Any) -> dict[str, Any]:
    """Start the plan's jobs as the scheduler would; with `wait` (the default) return once
    they and their copies have finished, after the time jobs take."""
    request = RunPlanRequest(**kwargs)
    with STATE.lock:
        run = backup_runs.run_plan_now(request)
    if request.wait:
        backup_runs.wait_for(run)
    with STATE.lock:
        return backup_runs.run_report(run)


def configure(**kwargs: Any) -> dict[str, Any]:
    """Change AWS rules and timings (AwsRules); unnamed fields keep their value."""
    with STATE.lock:
        STATE.rules = AwsRules(**(STATE.rules.model_dump() | kwargs))
        return STATE.rules.model_dump()


def rules() -> dict[str, Any]:
    """The AWS rules and timings in force."""
    with STATE.lock:
        return STATE.rules.model_dump()


def stats() -> dict[str, Any]:
    with STATE.lock:
        return {
            "fault_rules": len(STATE.faults.rules),
            "injected": dict(STATE.faults.injected),
            "regions_down": sorted(STATE.faults.regions_down),
            "pending_writes": len(STATE.pending_writes),
            "pending_backup_jobs": len(STATE.backup.pending),
            "replication": STATE.replication.model_dump(),
            "global_tables": {
                f"{account}/{name}": {
                    region: replica.status for region, replica in sorted(group.replicas.items())
                }
                for (account, name), group in STATE.global_tables.items()
            },
        }


def reset() -> dict[str, Any]:
    """Clear the extension's state and every moto backend."""
    with STATE.lock:
        moto_api_backend.reset()  # hooked: clears the extension's state as well
    return {}


OPERATIONS: dict[str, Callable[..., dict[str, Any]]] = {
    f.__name__: f
    for f in (
        set_fault,
        clear_faults,
        region_outage,
        table_state,
        sns_confirm,
        sns_unsubscribe,
        set_replication,
        flush_replication,
        run_backup_plan_now,
        configure,
        rules,
        stats,
        reset,
    )
}


def dispatch(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        operation = OPERATIONS[name]
    except KeyError:
        raise UnknownOperation(name) from None
    return operation(**payload)
