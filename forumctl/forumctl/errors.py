"""forumctl's exit codes and the errors that carry them.

Every expected failure is a `CliError`: main() prints its message (what failed and what to do)
without a traceback and exits with its code. The codes are documented in `forumctl --help`.
"""

from __future__ import annotations

import errno
import os
import typing
from enum import IntEnum
from typing import Any

from pydantic import AliasChoices, ValidationError
from pydantic.fields import FieldInfo

from forumdb.config import CONFIG_DIR_ENV, Settings, config_dir_from_env


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1  # verify found a problem, or a migration/restore did not verify
    USAGE = 2  # bad flags or arguments (click's own code)
    AWS = 3  # AWS or configuration: credentials, region, endpoint, missing table, retries out
    DATA = 4  # input data: unreadable file, bad format, checksum mismatch inside a backup


EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 a check failed (verify, or content did not verify after migrate/"
    "restore); 2 usage error; 3 AWS or configuration error (credentials, region, endpoint, "
    "missing table, retries exhausted); 4 data error (input file unreadable or malformed, "
    "backup checksum mismatch); 130/143 interrupted by Ctrl-C/SIGTERM (restore-drill: after "
    "deleting its tables)."
)


class CliError(Exception):
    code: ExitCode = ExitCode.AWS

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class AwsError(CliError):
    code = ExitCode.AWS


class DataError(CliError):
    code = ExitCode.DATA


class UsageProblem(CliError):
    """A request the command cannot take as given (exit 2, like click's usage errors)."""

    code = ExitCode.USAGE


class CheckFailed(CliError):
    code = ExitCode.CHECK_FAILED


class ConfigError(CliError):
    """A setting (variable, option or path) that cannot work: exit 3 like AWS problems."""

    code = ExitCode.AWS


def _field(name: str) -> FieldInfo | None:
    """The Settings field read from the variable NAME."""
    for f in Settings.model_fields.values():
        alias = f.validation_alias
        names = alias.choices if isinstance(alias, AliasChoices) else [alias]
        if name in names:
            return f
    return None


def _allowed(f: FieldInfo | None, fallback: str) -> str:
    """What a variable may hold, said from the field's own type and bounds (one source)."""
    if f is None:
        return fallback
    kinds = [a for a in typing.get_args(f.annotation) if a is not type(None)] or [f.annotation]
    kind = kinds[0] if len(kinds) == 1 else f.annotation
    if typing.get_origin(kind) is typing.Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(kind))
    if kind is bool:
        return "true or false (also 1/0, yes/no, on/off)"
    if kind is int:
        low = next((m.ge for m in f.metadata if hasattr(m, "ge")), None)
        high = next((m.le for m in f.metadata if hasattr(m, "le")), None)
        if low is not None and high is not None:
            return f"a whole number from {low} to {high}"
        if low is not None:
            return f"a whole number of at least {low}"
        return "a whole number"
    return fallback


def _source(name: str, value: Any) -> str:
    """Where a bad value came from, where that can be told."""
    config_dir = config_dir_from_env()
    if config_dir is not None and (config_dir / name).is_file():
        return f" (file {config_dir / name}, from {CONFIG_DIR_ENV})"
    if isinstance(value, str) and os.environ.get(name) == value:
        return " (from the environment)"
    return ""


def settings_error(exc: ValidationError) -> ConfigError:
    """forumdb.config's ValidationError -> one message naming each variable, its bad value and
    what it may hold, instead of pydantic's report."""
    problems, fixes = [], []
    for e in exc.errors(include_url=False):
        name = ".".join(str(p) for p in e["loc"]) or "configuration"
        f = _field(name)
        allowed = _allowed(f, e["msg"].removeprefix("Input should be "))
        problems.append(
            f"{name}={e['input']!r}{_source(name, e['input'])} is not valid: expected {allowed}"
        )
        default = "" if f is None or f.default is None else f" (default {f.default})"
        fixes.append(f"set {name} to {allowed}, or unset it{default}")
    return ConfigError("bad configuration: " + "; ".join(problems), hint="; ".join(fixes))


def endpoint_error(url: str, where: str) -> ConfigError:
    return ConfigError(
        f"{where}={url!r} is not an endpoint URL",
        hint=f"set {where} to an http:// or https:// URL such as http://127.0.0.1:5000, or "
        "leave it unset to use AWS's own endpoints",
    )


_PATH_HINTS = {
    errno.ENOENT: "create the missing folder first, or choose a path in an existing folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EACCES: "choose a path you may write to, or fix its permissions",
    errno.EISDIR: "the path is a folder: give a file name",
}


def path_error(exc: OSError, where: str | None = None) -> ConfigError:
    """A path that cannot be used (missing folder, a file where a folder must be, no rights);
    `where` names the option or variable that gave it, when known."""
    given = f" (from {where})" if where else ""
    return ConfigError(
        f"cannot use {exc.filename}{given}: {exc.strerror or exc}",
        hint=_PATH_HINTS.get(exc.errno or 0, "check the path and its permissions"),
    )
