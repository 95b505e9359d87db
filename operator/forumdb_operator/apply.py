"""Execute actions with boto3, in order, mapping errors to transient/permanent outcomes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from forumdb_operator import errors, metrics
from forumdb_operator.diff import Action

log = logging.getLogger("forumdb_operator.apply")

ClientFactory = Callable[[str, str], Any]


def apply_actions(
    actions: Iterable[Action],
    clients: ClientFactory,
    *,
    resource: str,
    done: list[Action] | None = None,
    stop: Callable[[], bool] | None = None,
    answered: Callable[[Action, Any], None] | None = None,
    hand_off: Callable[[Action], bool] | None = None,
) -> list[Action]:
    """Run each action; stop at the first error (raised as errors.ReconcileError) so the next
    reconcile re-observes before trying again. `done` collects what succeeded, also on error.
    `stop()` true before an action: return without it (the resource is being deleted).
    `answered(action, response)`: each success with AWS's answer (the ids a create returns).
    `hand_off(action)` true: the action was queued to be sent in the background
    (replica_tagger), and counts as done."""
    done = [] if done is None else done
    for action in actions:
        if stop is not None and stop():
            break
        if hand_off is not None and hand_off(action):
            done.append(action)
            continue
        client = clients(action.service, action.region)
        try:
            response = getattr(client, action.operation)(**action.params)
        except Exception as exc:
            code = errors.error_code(exc)
            if action.operation == "create_table" and code == "ResourceInUseException":
                # Created by an earlier, interrupted reconcile (or a peer): not a duplicate.
                log.info(
                    "table already exists",
                    extra={"resource": resource, "region": action.region, "action": str(action)},
                )
                continue
            raise failed(action, resource, exc) from exc
        succeeded(action, resource)
        done.append(action)
        if answered is not None:
            answered(action, response)
    return done


def failed(action: Action, resource: str, exc: Exception) -> errors.ReconcileError:
    """The error an action's exception means (errors.classify), logged with the resource,
    region and cause."""
    err = errors.classify(exc, action.summary, action.region, service=action.service)
    log.warning(
        "action failed",
        extra={
            "resource": resource,
            "region": action.region,
            "action": str(action),
            "cause": str(err),
            "transient": err.transient,
        },
    )
    return err


def succeeded(action: Action, resource: str) -> None:
    """An action AWS accepted: counted and logged."""
    metrics.ACTIONS.labels(feature=action.feature).inc()
    log.info(
        "applied", extra={"resource": resource, "region": action.region, "action": str(action)}
    )
