"""moto, extended with the AWS behaviour forumdb's tests need and moto lacks.

DynamoDB global tables (version 2019.11.21), AWS Backup selections/jobs/recovery
points/copies, and fault injection. In-process:

    from harness.moto_ext import mock_aws_ext

    with mock_aws_ext() as ctl:       # moto's mock_aws plus the extension
        ctl.set_replication(lag_seconds=0)
        ...

As a server: `python -m harness.moto_ext.server --host 127.0.0.1 --port N`, steered by
`harness.moto_ext.control.ExtControl(url)`. Test code only: never imported by the product.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from moto import mock_aws

from . import hooks
from .control import ExtControl
from .state import STATE

__all__ = ["ExtControl", "mock_aws_ext"]


@contextmanager
def mock_aws_ext() -> Iterator[ExtControl]:
    """moto's mock_aws with the extension active; yields the in-process control."""
    hooks.install()
    with mock_aws():
        STATE.reset()
        with STATE.lock:
            STATE.activations += 1
        try:
            yield ExtControl()
        finally:
            with STATE.lock:
                STATE.activations -= 1
            STATE.reset()
