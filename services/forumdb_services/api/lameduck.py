"""Lame-duck mode: once the pod is told to stop, every answer says `Connection: close`.

A rolling update removes the pod's endpoint while its preStop hook sleeps, but a client's
kept-alive connection stays pinned to this pod (kube-proxy routes by connection, not by
request). On SIGTERM the server closes its idle connections, and a client that sends on one at
that instant gets a connection error instead of an answer. So the preStop hook first creates
the drain file: from then on each answer closes its connection, the client opens a new one
(which the Service routes to another pod once the endpoint is gone), and by SIGTERM no client
is left waiting on an idle connection here.

The file is looked for at most every CHECK_INTERVAL seconds per worker: the request path pays
a clock read, not a file system call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

CHECK_INTERVAL = 0.5


class LameDuck:
    """`on()` is true once `path` has been seen to exist (and stays true: a stop is final)."""

    def __init__(
        self,
        path: Path | None,
        clock: Callable[[], float] = time.monotonic,
        interval: float = CHECK_INTERVAL,
    ) -> None:
        self.path = path
        self._clock = clock
        self._interval = interval
        self._on = False
        self._next_check = float("-inf")

    def on(self) -> bool:
        if self._on or self.path is None:
            return self._on
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self._interval
            self._on = self.path.exists()
        return self._on
