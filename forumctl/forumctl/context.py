"""The options every command shares, and the object they become (`App`)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

from forumctl.batch import DEFAULT_POLICY
from forumctl.errors import ConfigError, endpoint_error
from forumctl.output import Output
from forumctl.sync import DEFAULT_WORKERS
from forumctl.target import Target, resolve_target

F = TypeVar("F", bound=Callable[..., Any])


class App:
    """Per-invocation state: how to print, and (lazily) the resolved target."""

    def __init__(self, output: Output, target_args: dict[str, Any]) -> None:
        self.output = output
        self._target_args = target_args
        self._target: Target | None = None
        self._paths: dict[Path, str] = {}  # path -> the option that gave it, for messages

    @property
    def target(self) -> Target:
        if self._target is None:
            tgt = resolve_target(**self._target_args)
            url = tgt.endpoint_url
            # botocore would refuse it only when the first client is made, mid-command
            if url and not (is_valid_endpoint_url(url) or is_valid_ipv6_endpoint_url(url)):
                given = "--endpoint-url" if self._target_args.get("endpoint_url") else None
                raise endpoint_error(url, given or "AWS_ENDPOINT_URL")
            self._target = tgt
        return self._target

    def path_option(self, path: Path, option: str) -> Path:
        """Remember which option gave `path`, so that an OS error on it names the option."""
        self._paths[path.absolute()] = option
        return path

    def path_origin(self, filename: str | bytes | Path) -> str | None:
        """The option (or variable) behind a path an OS error names, when one is known."""
        failed = Path(os.fsdecode(filename)).absolute()
        known = dict(self._paths)
        if self._target is not None and self._target.storage_mode == "json":
            known.setdefault(self._target.data_dir.absolute(), "--data-dir / DATA_DIR")
        for path, option in known.items():
            # the path itself, something inside it, or a sibling made from it (FILE.partial)
            sibling = failed.parent == path.parent and failed.name.startswith(path.name)
            if failed == path or path in failed.parents or sibling:
                return option
        return None

    def override_target(self, **args: Any) -> None:
        """Command-specific target settings (e.g. seed's --storage-mode), before first use."""
        self._target_args.update({k: v for k, v in args.items() if v is not None})
        self._target = None

    @property
    def region_hint(self) -> str | None:
        return self._target.region if self._target else self._target_args.get("region")


# Every command's --output/-o (those without a target too, e.g. `forumctl dev`): one definition.
output_option = click.option(
    "--output",
    "-o",
    "output_mode",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: tables for humans; json: one JSON document on stdout for machines.",
)

# --verify/--no-verify of the commands that load items (migrate, seed, restore): one definition.
verify_option = click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Afterwards read each table back (Scan) and compare it with the source, item by item "
    "(exit 1 when an item is missing or differs).",
)

_OPTIONS: list[Callable[[F], F]] = [
    output_option,
    click.option(
        "--region", help="AWS region of the tables (default: AWS_REGION / the ForumDatabase's)."
    ),
    click.option(
        "--endpoint-url", help="DynamoDB-compatible endpoint (default: AWS_ENDPOINT_URL)."
    ),
    click.option(
        "--table-prefix",
        help="Prefix of the three table names (default: TABLE_PREFIX, else 'forum-'); "
        "USERS_TABLE/THREADS_TABLE/POSTS_TABLE override single names.",
    ),
    click.option(
        "--forumdb",
        "forumdb",
        metavar="NAME",
        help="Take tables and regions from this ForumDatabase's ConfigMap (via the kubeconfig).",
    ),
    click.option(
        "--namespace", "-n", help="Namespace of --forumdb (default: the kubeconfig context's)."
    ),
    click.option(
        "--kubeconfig",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Kubeconfig for --forumdb (default: KUBECONFIG, ~/.kube/config).",
    ),
    click.option(
        "--progress/--no-progress",
        default=None,
        help="Progress bars on stderr (default: only when stderr is a terminal).",
    ),
]


def write_options(fn: F) -> F:
    """--workers and --max-attempts of the commands that write items in batches."""
    fn = click.option(
        "--max-attempts",
        type=click.IntRange(1, 100),
        default=DEFAULT_POLICY.max_attempts,
        show_default=True,
        help="Attempts per batch, both for botocore's retries of a throttled or failed request "
        "and for resending unprocessed items (exponential backoff with jitter); when they run "
        "out the command fails (exit 3) and can simply be run again.",
    )(fn)
    return click.option(
        "--workers",
        type=click.IntRange(1, 64),
        default=DEFAULT_WORKERS,
        show_default=True,
        help="Parallel writers, one AWS client each.",
    )(fn)


def common_options(fn: F) -> F:
    """Adds the shared options to a command and passes an `App` as its first argument."""

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        output = Output(kwargs.pop("output_mode"), progress=kwargs.pop("progress"))
        target_args = {
            k: kwargs.pop(k)
            for k in ("region", "endpoint_url", "table_prefix", "forumdb", "namespace")
        }
        kubeconfig = kwargs.pop("kubeconfig")
        target_args["kubeconfig"] = str(kubeconfig) if kubeconfig else None
        app = App(output, target_args)
        click.get_current_context().meta["forumctl.app"] = app
        return fn(app, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def check_output_file(path: Path, option: str) -> None:
    """Fail before any AWS work when a file cannot be written at `path` (its folder is missing,
    is a file, or is not writable), naming the option."""
    folder = path.absolute().parent
    if not folder.is_dir():
        missing = not folder.exists() and not any(p.is_file() for p in folder.parents)
        raise ConfigError(
            f"{option} {path}: the folder {folder} "
            + ("does not exist" if missing else "is not a folder (a part of it is a file)"),
            hint=f"create {folder} first, or give {option} a file in an existing folder",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{option} {path}: the folder {folder} is not writable",
            hint=f"give {option} a file in a folder you may write to",
        )
