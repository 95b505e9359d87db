"""The options every command shares, and the object they become (`App`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from forumdb.cli.batch import DEFAULT_POLICY
from forumdb.cli.output import Output
from forumdb.cli.sync import DEFAULT_WORKERS
from forumdb.cli.target import Target, resolve_target

F = TypeVar("F", bound=Callable[..., Any])


class App:
    """Per-invocation state: how to print, and (lazily) the resolved target."""

    def __init__(self, output: Output, target_args: dict[str, Any]) -> None:
        self.output = output
        self._target_args = target_args
        self._target: Target | None = None

    @property
    def target(self) -> Target:
        if self._target is None:
            self._target = resolve_target(**self._target_args)
        return self._target

    def override_target(self, **args: Any) -> None:
        """Command-specific target settings (e.g. seed's --storage-mode), before first use."""
        self._target_args.update({k: v for k, v in args.items() if v is not None})
        self._target = None

    @property
    def region_hint(self) -> str | None:
        return self._target.region if self._target else self._target_args.get("region")


_OPTIONS: list[Callable[[F], F]] = [
    click.option(
        "--output",
        "-o",
        "output_mode",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="text: tables for humans; json: one JSON document on stdout for machines.",
    ),
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
