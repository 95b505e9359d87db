"""One boto3 client per worker thread, all for the same region and endpoint.

boto3 sessions and clients are cheap to share for calls but not to create concurrently, and
the shared factory (forumdb.aws) gives a fresh session per client; a thread-local cache
keeps it to one client per thread per service.
"""

from __future__ import annotations

import threading
from typing import Any

from forumdb import aws


class ClientPool:
    def __init__(self, region: str | None, endpoint_url: str | None = None) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self._local = threading.local()

    def get(self, service: str = "dynamodb") -> Any:
        cache: dict[str, Any] = self._local.__dict__.setdefault("clients", {})
        if service not in cache:
            cache[service] = aws.client(service, self.region, self.endpoint_url)
        return cache[service]

    def for_region(self, region: str) -> ClientPool:
        return ClientPool(region, self.endpoint_url)
