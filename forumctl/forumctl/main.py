"""forumctl: manage a forumdb deployment's data (tables, migrate, seed, backup, restore, verify).

Expected failures never print a traceback: they become a message that says what failed and
what to do, and a documented exit code (forumctl.errors.ExitCode).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from pydantic import ValidationError

from forumctl.errors import (
    EXIT_CODES_HELP,
    AwsError,
    CliError,
    UsageProblem,
    endpoint_error,
    path_error,
    settings_error,
)
from forumctl.output import OUTPUT_META_KEY
from forumdb import __version__
from forumdb.config import Settings
from forumdb.logs import configure_logging

_ENDPOINT_WHERE = "--endpoint-url / AWS_ENDPOINT_URL"
_CREDENTIAL_CODES = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
}


def translate(exc: BaseException, region: str | None, app: Any = None) -> CliError | None:
    """An AWS/botocore or configuration exception -> a CliError with a hint; None if it is not
    one we expect. `app` (the command's App, if any) names the option behind a bad path."""
    where = f"in region {region}" if region else "(no region set)"
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
        return settings_error(exc)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsError(
            f"no usable AWS credentials ({exc})",
            hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, "
            "or run with an IAM role",
        )
    if isinstance(exc, NoRegionError):
        return AwsError(
            "no AWS region configured", hint="pass --region or set AWS_REGION (or use --forumdb)"
        )
    if isinstance(exc, EndpointConnectionError):
        return AwsError(
            f"cannot reach the AWS endpoint {exc.kwargs.get('endpoint_url')} {where}",
            hint="check --endpoint-url / AWS_ENDPOINT_URL, the region name and the network",
        )
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "Unknown"), err.get("Message", "")
        op = exc.operation_name
        if code == "ResourceNotFoundException":
            return AwsError(
                f"{op} {where}: {message or 'resource not found'}",
                hint="create the tables (`forumctl tables create`), or point at the region "
                "that holds them (--region / AWS_REGION / --forumdb)",
            )
        if code in _CREDENTIAL_CODES:
            return AwsError(
                f"{op} {where}: AWS rejected the credentials ({code}: {message})",
                hint="refresh or fix AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN",
            )
        if code in ("AccessDeniedException", "AccessDenied"):
            return AwsError(
                f"{op} {where}: access denied ({message})",
                hint="the identity needs the dynamodb/backup/cloudwatch permissions for this call",
            )
        if "Throttl" in code or code == "ProvisionedThroughputExceededException":
            return AwsError(
                f"{op} {where}: still throttled after retries ({code})",
                hint="run again (the command is idempotent and resumes), or lower --workers",
            )
        return AwsError(f"{op} {where}: {code}: {message}")
    if isinstance(exc, BotoCoreError):
        return AwsError(f"AWS call failed {where}: {exc}")
    if isinstance(exc, ValueError) and str(exc).startswith("Invalid endpoint: "):
        # botocore's check when a client is made (App.target checks earlier where it can)
        return endpoint_error(str(exc).removeprefix("Invalid endpoint: "), _ENDPOINT_WHERE)
    if isinstance(exc, OSError) and exc.filename:
        return path_error(exc, app.path_origin(exc.filename) if app else None)
    return None


class ForumctlGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            # A usage error found by the command itself (its Output exists by then): under
            # -o json also one error document; click prints its own text to stderr. Errors
            # while parsing come before any Output and stay click's text only.
            output = ctx.meta.get(OUTPUT_META_KEY)
            if output is not None:
                output.error(exc.format_message(), None, exc.exit_code)
            raise
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            app = ctx.meta.get("forumctl.app")
            err = translate(exc, app.region_hint if app else None, app)
            if err is None:
                raise
            # In JSON mode stdout carries one document: the result if there is one (a failed
            # check), else the error. Every command's Output registers itself (output.py).
            output = ctx.meta.get(OUTPUT_META_KEY)
            if output is not None:
                output.error(err.message, err.hint, int(err.code))
            sys.stderr.write(f"forumctl: error: {err}\n")
            ctx.exit(int(err.code))


@click.group(
    cls=ForumctlGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, prog_name="forumctl")
def cli() -> None:
    """Manage a forumdb deployment's data.

    Targets (tables, region, endpoint) come from the flags, else from a ForumDatabase
    (--forumdb NAME), else from the environment: STORAGE_MODE, DATA_DIR, TABLE_PREFIX,
    USERS_TABLE, THREADS_TABLE, POSTS_TABLE, AWS_REGION, AWS_ENDPOINT_URL, REPLICA_REGIONS.
    Every writing command has --dry-run; every command has --output json.
    """
    configure_logging(os.environ.get("FORUMCTL_LOG_LEVEL", "WARNING"))


def _dev_command() -> click.Command:
    """`forumctl dev`, where the dev stack is installed: the image leaves it out (it runs
    etcd, a kube-apiserver and the AWS emulator on a workstation, never in a cluster)."""
    try:
        from forumctl.dev.command import dev
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("forumctl.dev"):
            raise

        @click.command("dev", context_settings={"ignore_unknown_options": True})
        @click.argument("args", nargs=-1, type=click.UNPROCESSED)
        def dev(args: tuple[str, ...]) -> None:
            """Not in this installation: the local stack runs from a source checkout."""
            raise UsageProblem(
                "forumctl dev is not part of this installation (the image holds only what "
                "runs in a cluster)",
                hint="run it from a source checkout: `make demo`, or `pip install -e '.[dev]'` "
                "then `forumctl dev up`",
            )

    return dev


def _register() -> None:
    from forumctl.backup_cmd import backup, restore
    from forumctl.failover_cmd import failover
    from forumctl.migrate_cmd import migrate
    from forumctl.restore_drill.command import restore_drill
    from forumctl.seed_cmd import seed
    from forumctl.tables_cmd import tables
    from forumctl.verify_cmd import verify

    for command in (tables, migrate, seed, backup, restore, verify, _dev_command()):
        cli.add_command(command)
    cli.add_command(restore_drill)
    cli.add_command(failover)


_register()


def main() -> None:
    logging.captureWarnings(True)
    cli(prog_name="forumctl")


if __name__ == "__main__":
    main()
