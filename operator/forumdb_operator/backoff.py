"""How long to wait before looking again: exponential back-off with jitter.

A wait (a table or replica changing) or a retryable AWS error starts at its base delay and
doubles with each further try in a row, up to a cap, with "equal jitter" (half the delay fixed,
half random; AWS Architecture Blog, "Exponential Backoff And Jitter") so that many resources
that failed together do not come back together. Progress (an action applied), a settled
reconcile or a new spec starts again from the base.
"""

from __future__ import annotations

import random
from collections.abc import Callable

CAP = 60.0  # seconds: the longest wait between two looks at a changing resource
# Long operations (an index backfill, a replica's first copy) poll at most this often.
LONG_CAP = 300.0


def cap_for(base: float) -> float:
    """The cap that goes with a base: CAP, or longer for a base that already is long."""
    if base >= CAP:
        return min(max(base * 4, CAP), max(LONG_CAP, base))
    return CAP if base < 30.0 else LONG_CAP


def delay(base: float, attempt: int, *, rand: Callable[[], float] | None = None) -> float:
    """The wait before try `attempt` (0: the first retry) of something whose first wait is
    `base` seconds: min(cap, base x 2^attempt), of which the upper half is random."""
    ceiling = min(cap_for(base), base * 2 ** max(0, min(attempt, 30)))
    r = rand() if rand is not None else random.random()
    return ceiling / 2 + r * ceiling / 2
