"""One writer to AWS per resource: the reconcile loop and the delete handler of one
ForumDatabase share a ResourceGuard (in the resource's Kopf memo).

Their AWS work runs in pool threads that asyncio cannot stop (a daemon's cancellation leaves
the thread running), so the guard is a thread lock taken by the thread itself, not by the
coroutine awaiting it. Deletion marks the guard first; a reconcile then stops before its next
AWS write and writes no status (the delete handler's phase stands), and no reconcile starts
again. A delete step that finds a reconcile still running does not wait in a pool thread: it
answers "not yet" and Kopf calls it again shortly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

MEMO_KEY = "forumdb_guard"


@dataclass
class ResourceGuard:
    lock: threading.Lock = field(default_factory=threading.Lock)
    deleting: threading.Event = field(default_factory=threading.Event)
    # Tables a reconcile made or tagged (status.claimedTables: name -> TableId) as of the last
    # one that ran: a reconcile stopped by deletion writes no status, yet the delete step must
    # know them.
    claimed: dict[str, str] = field(default_factory=dict)

    def stop_requested(self) -> bool:
        """The reconcile's stop check between AWS writes."""
        return self.deleting.is_set()

    @contextmanager
    def reconciling(self) -> Iterator[bool]:
        """Held while a reconcile runs; yields False (run nothing) once deletion has begun."""
        with self.lock:
            yield not self.deleting.is_set()

    @contextmanager
    def deleting_now(self) -> Iterator[bool]:
        """Marks deletion, then yields True holding the lock, or False at once when a
        reconcile still holds it (it stops at its next stop check)."""
        self.deleting.set()
        if not self.lock.acquire(blocking=False):
            yield False
            return
        try:
            yield True
        finally:
            self.lock.release()


def of(memo: MutableMapping[str, Any]) -> ResourceGuard:
    """The resource's guard (made on first use; the memo is the resource's own)."""
    found = memo.get(MEMO_KEY)
    if found is None:
        found = memo.setdefault(MEMO_KEY, ResourceGuard())
    return found
