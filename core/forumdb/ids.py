"""Record ids and timestamps.

Ids stay numbers, as in the classic forum sample, so existing clients keep working. New ids
are time-ordered 53-bit integers (safe in JavaScript): milliseconds since 2020-01-01 in the
high bits, 12 random bits below. Within one process ids strictly increase, so records made
one after another list in the order they were made even inside one millisecond. Across
processes the random bits make collisions rare; creates are conditional, so the rare
collision is retried by the storage layer rather than overwriting anything.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta

_EPOCH_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
_RANDOM_BITS = 12
MAX_ID = 2**53 - 1

# Records of the classic sample carry no timestamps; they get deterministic ones, one second
# apart from this base in file order, so lists sort the way the files are written and a
# second migration writes the same values.
LEGACY_BASE = datetime(2000, 1, 1, tzinfo=UTC)


_last_id = 0
_id_lock = threading.Lock()


def new_id() -> int:
    """A fresh id, larger than any this process made before (a clock step back included)."""
    global _last_id
    ms = int(time.time() * 1000) - _EPOCH_MS
    candidate = (ms << _RANDOM_BITS) | random.getrandbits(_RANDOM_BITS)
    with _id_lock:
        # Past the last id, keep a random step so two processes in step rarely collide.
        if candidate <= _last_id:
            candidate = _last_id + 1 + random.getrandbits(_RANDOM_BITS // 2)
        _last_id = candidate
    return candidate


def format_ts(dt: datetime) -> str:
    """ISO-8601 UTC with fixed-width microseconds, so string order is time order."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now() -> str:
    return format_ts(datetime.now(UTC))


# The largest ordinal that still makes a date (9999-12-31T23:59:59Z, datetime's last second).
LEGACY_MAX_ORDINAL = (datetime.max.replace(tzinfo=UTC) - LEGACY_BASE) // timedelta(seconds=1)


def legacy_created_at(ordinal: int) -> str:
    """LEGACY_BASE + `ordinal` seconds; a ValueError past the years datetime can hold."""
    if not 0 <= ordinal <= LEGACY_MAX_ORDINAL:
        raise ValueError(
            f"{ordinal} is out of the range of legacy timestamps (0 to {LEGACY_MAX_ORDINAL} "
            "seconds after 2000-01-01T00:00:00Z)"
        )
    return format_ts(LEGACY_BASE + timedelta(seconds=ordinal))
