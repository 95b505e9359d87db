"""Time between reconciles, for unit tests that drive the reconciler by hand.

The operator's loop waits `requeue_after` before it looks again; the emulator holds AWS's order
of events over (short) time: a replica is CREATING for seconds, tags and PITR settle after a
create. A test that reconciled back to back would see none of that pass, so it waits as the
operator does, scaled down (the emulator's durations are about a second, AWS's are minutes).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

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
