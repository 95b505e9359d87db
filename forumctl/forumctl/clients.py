"""boto3 clients for worker threads, all for the same region and endpoint.

Creating a client is expensive (it loads the service model: tens to hundreds of ms), so
clients are reused: a worker leases one for a unit of work and gives it back, which keeps
one client per concurrently running thread and lets the next thread pool (the next table,
the verification scan) reuse them. `get()` gives the calling thread a client of its own.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from forumdb import aws


class ClientPool:
    def __init__(
        self, region: str | None, endpoint_url: str | None = None, max_attempts: int | None = None
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        # botocore's attempts per request (None: forumdb.aws's default)
        self.max_attempts = max_attempts
        self._local = threading.local()
        self._lock = threading.Lock()
        self._free: dict[str, list[Any]] = defaultdict(list)

    def _new(self, service: str) -> Any:
        config = aws.client_config(max_attempts=self.max_attempts) if self.max_attempts else None
        return aws.client(service, self.region, self.endpoint_url, config=config)

    def get(self, service: str = "dynamodb") -> Any:
        """A client owned by the calling thread (for the main thread's own calls)."""
        cache: dict[str, Any] = self._local.__dict__.setdefault("clients", {})
        if service not in cache:
            cache[service] = self._new(service)
        return cache[service]

    @contextmanager
    def lease(self, service: str = "dynamodb") -> Iterator[Any]:
        """A client for this thread's exclusive use until the block ends."""
        with self._lock:
            client = self._free[service].pop() if self._free[service] else None
        if client is None:
            client = self._new(service)
        try:
            yield client
        finally:
            with self._lock:
                self._free[service].append(client)
