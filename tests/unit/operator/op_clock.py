"""Time between reconciles, for unit tests that drive the reconciler by hand.

The operator's loop waits `requeue_after` before it looks again; the emulator holds AWS's order
of events over (short) time: a replica is CREATING for seconds, tags and PITR settle after a
create. A test that reconciled back to back would see none of that pass, so it waits as the
operator does, scaled down (the emulator's durations are about a second, AWS's are minutes).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forumdb_operator.reconcile import Outcome, Reconciler

PAUSE_CAP_SECONDS = 0.25  # the longest wait between two reconciles in a unit test
SETTLE_TIMEOUT_SECONDS = 45.0  # reconciles of one convergence, at most this long


def reconcile_rounds(timeout: float = SETTLE_TIMEOUT_SECONDS) -> Iterator[int]:
    """Round numbers until `timeout` seconds have passed (at least one round)."""
    deadline = time.monotonic() + timeout
    round_number = 0
    while round_number == 0 or time.monotonic() < deadline:
        yield round_number
        round_number += 1


def pause(requeue_after: float | None) -> None:
    """Wait before the next reconcile as the operator would (requeue_after), capped."""
    if requeue_after:
        time.sleep(min(requeue_after, PAUSE_CAP_SECONDS))


def settle_outcomes(
    r: Reconciler,
    *,
    namespace: str,
    name: str,
    spec: dict[str, Any],
    previous: dict[str, Any],
    uid: str,
) -> list[Outcome]:
    """Reconciles generation 1, pausing as the operator would, until nothing is left to wait
    for (requeue_after None): every outcome, in order. Fails with the last status message when
    that takes longer than SETTLE_TIMEOUT_SECONDS."""
    outs: list[Outcome] = []
    for _ in reconcile_rounds():
        out = r.reconcile(
            namespace=namespace, name=name, spec=spec, generation=1, previous=previous, uid=uid
        )
        outs.append(out)
        previous = out.status
        if out.requeue_after is None:
            return outs
        pause(out.requeue_after)
    raise AssertionError(previous.get("message"))
