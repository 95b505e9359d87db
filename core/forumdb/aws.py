"""boto3 clients the way every forumdb component wants them.

Endpoints, region and credentials come from boto3's own settings (AWS_ENDPOINT_URL,
AWS_REGION, the credential chain), so a moto server or DynamoDB Local can stand in for AWS.
Throttling and transient errors are retried by botocore's retry modes, not by hand.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

DEFAULT_RETRY_MODE = "standard"
# botocore's meaning: retries after the first try (so 8 is up to 9 calls in all).
DEFAULT_MAX_ATTEMPTS = 8


def client_config(
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    retry_mode: str = DEFAULT_RETRY_MODE,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    max_pool_connections: int = 32,
) -> Config:
    return Config(
        retries={"mode": retry_mode, "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
    )


_LOADER_LOCK = threading.Lock()
_LOADER: list[Any] = []


def _shared_loader() -> Any:
    """One botocore data loader for the process: each session made with it parses a service's
    model and the endpoint data once, not once per client (about 7 MiB a client)."""
    with _LOADER_LOCK:
        if not _LOADER:
            _LOADER.append(botocore.loaders.create_loader())
        return _LOADER[0]


def client(
    service: str,
    region: str | None = None,
    endpoint_url: str | None = None,
    config: Config | None = None,
    share_models: bool = False,
) -> Any:
    """A new client; a fresh Session each time, since boto3 sessions are not thread-safe.
    `share_models`: the Session reads models through the process's one data loader (for a
    long-lived process that keeps many clients, e.g. the operator)."""
    if share_models:
        core = botocore.session.get_session()
        loader = _shared_loader()
        core.register_component("data_loader", loader)
        session = boto3.session.Session(botocore_session=core)
        with _LOADER_LOCK:  # boto3 appends its data path to the loader's for every session
            loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    else:
        session = boto3.session.Session()
    kwargs: dict[str, Any] = {"config": config or client_config()}
    if region:
        kwargs["region_name"] = region
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    return session.client(service, **kwargs)
