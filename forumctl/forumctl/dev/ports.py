"""Which 127.0.0.1 port each part of the local stack listens on: fixed from a base
(services on BASE+1..BASE+3, so 8081..8083 by default) or free ports picked at random
(`procs.free_port`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from forumctl.dev.errors import DevStackError
from forumctl.dev.procs import free_port, port_open

DEFAULT_PORT_BASE = 8080
SERVICES = ("users", "threads", "posts")


@dataclass(frozen=True)
class PortPlan:
    users: int
    threads: int
    posts: int
    moto: int
    apiserver: int
    etcd_client: int
    etcd_peer: int
    operator_health: int
    operator_metrics: int
    oidc: int
    webhook: int  # the operator's admission webhook (HTTPS)

    @classmethod
    def from_base(cls, base: int) -> PortPlan:
        names = [f for f in cls.__dataclass_fields__]
        if not 1024 <= base <= 65535 - len(names):
            raise DevStackError(f"--port-base {base} is out of range (1024..{65535 - len(names)})")
        return cls(**{name: base + 1 + i for i, name in enumerate(names)})

    @classmethod
    def free(cls) -> PortPlan:
        try:
            return cls(**{name: free_port() for name in cls.__dataclass_fields__})
        except ValueError as exc:  # a bad $FORUMDB_FREE_PORT_RANGE
            raise DevStackError(str(exc)) from None

    def service(self, name: str) -> int:
        return int(getattr(self, name))

    def check_free(self, names: tuple[str, ...]) -> None:
        """Fail, naming the port and its use, if something already listens there."""
        for name in names:
            port = getattr(self, name)
            if port_open(port):
                raise DevStackError(
                    f"port {port} (for {name.replace('_', ' ')}) is already in use on 127.0.0.1",
                    hint="stop what listens there, or pick other ports: --port-base N "
                    "or --free-ports",
                )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
