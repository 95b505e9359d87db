"""Configuration shared by the services, forumctl, the chart and the operator's ConfigMap.

Settings come from the environment (names in DESIGN.md: STORAGE_MODE, DATA_DIR, TABLE_PREFIX,
USERS_TABLE, THREADS_TABLE, POSTS_TABLE, AWS_REGION, AWS_ENDPOINT_URL, PORT, ...) and,
where FORUMDB_CONFIG_DIR names a folder, from one file per variable in it: the layout of a
ConfigMap mounted as a volume. Files win over the environment, because Kubernetes updates a
mounted ConfigMap in place while a pod's environment is frozen at start: that is how a
region switch by the operator (failover) reaches running services. `SettingsWatcher` notices
such a change without a restart.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from forumdb.tables import DEFAULT_TABLE_PREFIX, KINDS, Kind, table_name

CONFIG_DIR_ENV = "FORUMDB_CONFIG_DIR"
StorageMode = Literal["json", "dynamodb"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    storage_mode: StorageMode = Field(
        "json", description="json (local files) or dynamodb", validation_alias="STORAGE_MODE"
    )
    use_dynamodb: bool | None = Field(
        None,
        description="the seed's switch; true means STORAGE_MODE=dynamodb",
        validation_alias="USE_DYNAMODB",
    )
    data_dir: Path = Field(Path("./data"), validation_alias="DATA_DIR")
    table_prefix: str = Field(DEFAULT_TABLE_PREFIX, validation_alias="TABLE_PREFIX")
    users_table: str | None = Field(None, validation_alias="USERS_TABLE")
    threads_table: str | None = Field(None, validation_alias="THREADS_TABLE")
    posts_table: str | None = Field(None, validation_alias="POSTS_TABLE")
    aws_region: str | None = Field(
        None, validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")
    # Published by the operator for information (readyz, metrics, forumctl verify).
    replica_regions: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias="REPLICA_REGIONS"
    )
    port: int = Field(8080, ge=1, le=65535, validation_alias="PORT")
    max_request_bytes: int = Field(64 * 1024, ge=1024, validation_alias="MAX_REQUEST_BYTES")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    # A create naming a thread or user that does not exist answers 422. Off where a service
    # cannot see the other kinds: the chart's JSON mode gives each service only its own folder.
    check_references: bool = Field(True, validation_alias="CHECK_REFERENCES")

    @field_validator("storage_mode", mode="before")
    @classmethod
    def _lower_mode(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("replica_regions", mode="before")
    @classmethod
    def _split_regions(cls, v: Any) -> Any:
        if isinstance(v, str):
            return tuple(r.strip() for r in v.split(",") if r.strip())
        return v

    @field_validator(
        "aws_region",
        "aws_endpoint_url",
        "users_table",
        "threads_table",
        "posts_table",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip()
            return v or None
        return v

    @model_validator(mode="after")
    def _apply_use_dynamodb(self) -> Settings:
        # USE_DYNAMODB only decides when STORAGE_MODE was not given.
        if self.use_dynamodb is not None and "storage_mode" not in self.model_fields_set:
            object.__setattr__(self, "storage_mode", "dynamodb" if self.use_dynamodb else "json")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The mounted config folder (passed as _secrets_dir) outranks the environment.
        return init_settings, file_secret_settings, env_settings

    def table_name(self, kind: Kind) -> str:
        override = {
            "users": self.users_table,
            "threads": self.threads_table,
            "posts": self.posts_table,
        }[kind]
        return override or table_name(kind, self.table_prefix)

    def table_names(self) -> dict[Kind, str]:
        return {k: self.table_name(k) for k in KINDS}


def _env_names() -> tuple[str, ...]:
    names: list[str] = []
    for f in Settings.model_fields.values():
        alias = f.validation_alias
        if isinstance(alias, str):
            names.append(alias)
        elif isinstance(alias, AliasChoices):
            names.extend(c for c in alias.choices if isinstance(c, str))
    return (*names, CONFIG_DIR_ENV)


# Every environment variable the settings read: for tests and launchers that must keep a
# developer's shell from leaking into what they start.
SETTINGS_ENV_NAMES: tuple[str, ...] = _env_names()


def config_dir_from_env() -> Path | None:
    value = os.environ.get(CONFIG_DIR_ENV, "").strip()
    return Path(value) if value else None


def load_settings(config_dir: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, the config folder (if any) and explicit overrides."""
    config_dir = config_dir if config_dir is not None else config_dir_from_env()
    if config_dir is not None and config_dir.is_dir():
        return Settings(_secrets_dir=config_dir, **overrides)
    return Settings(**overrides)


def _dir_fingerprint(config_dir: Path | None) -> str:
    """A hash of every visible file in the folder: cheap, and blind to the atomic symlink
    swap Kubernetes uses (`..data`), which is what we want."""
    if config_dir is None or not config_dir.is_dir():
        return ""
    h = hashlib.sha256()
    for entry in sorted(config_dir.iterdir()):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        h.update(entry.name.encode())
        h.update(b"\0")
        try:
            h.update(entry.read_bytes())
        except OSError:
            continue
        h.update(b"\0")
    return h.hexdigest()


class SettingsWatcher:
    """Holds the current Settings and reloads them when the config folder changes.

    `current()` costs one stat-and-read of a few tiny files at most every `interval` seconds;
    callers compare `generation` to know when to rebuild what depends on the settings.
    """

    def __init__(
        self, config_dir: Path | None = None, interval: float = 1.0, **overrides: Any
    ) -> None:
        self.config_dir = config_dir if config_dir is not None else config_dir_from_env()
        self.interval = interval
        self._overrides = overrides
        self._lock = threading.Lock()
        self._fingerprint = _dir_fingerprint(self.config_dir)
        self._settings = load_settings(self.config_dir, **overrides)
        self._checked = time.monotonic()
        self.generation = 0

    def current(self) -> Settings:
        now = time.monotonic()
        if now - self._checked < self.interval:
            return self._settings
        with self._lock:
            if now - self._checked >= self.interval:
                self._checked = now
                fp = _dir_fingerprint(self.config_dir)
                if fp != self._fingerprint:
                    # A half-written update must not take the service down: keep the old
                    # settings until the folder parses again.
                    try:
                        self._settings = load_settings(self.config_dir, **self._overrides)
                    except ValueError:
                        return self._settings
                    self._fingerprint = fp
                    self.generation += 1
        return self._settings
