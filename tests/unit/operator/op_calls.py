"""Counting AWS calls per operation, for the operator's call-budget tests.

A botocore `before-parameter-build` hook on every client a factory hands out records each API
call once (before botocore's retries), with its API parameters, from any thread: the
reconcile's and the health probes' alike. `CallCounter.wrap(clients)` is a factory that counts.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from forumdb_operator.awsclients import is_mutating

Factory = Callable[[str, str], Any]


@dataclass(frozen=True)
class Call:
    service: str
    region: str
    operation: str
    params: dict[str, Any]


@dataclass
class CallCounter:
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _hooked: set[int] = field(default_factory=set, repr=False)

    def wrap(self, clients: Factory) -> Factory:
        def factory(service: str, region: str) -> Any:
            client = clients(service, region)
            with self._lock:
                if id(client) not in self._hooked:
                    self._hooked.add(id(client))
                    hook = self._hook(service, region)
                    uid = f"count-{id(self)}"
                    client.meta.events.register("before-parameter-build", hook, unique_id=uid)
            return client

        return factory

    def _hook(self, service: str, region: str) -> Callable[..., None]:
        def hook(model: Any, params: Any, **_: Any) -> None:
            with self._lock:
                self.calls.append(Call(service, region, model.name, dict(params or {})))

        return hook

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def by_operation(self) -> Counter[str]:
        """'service:Operation' -> calls."""
        return Counter(f"{c.service}:{c.operation}" for c in self.calls)

    @property
    def writes(self) -> list[Call]:
        return [c for c in self.calls if is_mutating(c.operation)]

    def __len__(self) -> int:
        return len(self.calls)
