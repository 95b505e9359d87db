"""forumdb-emulator: the project's AWS emulator, moto extended where AWS's behaviour matters
to forumdb and moto lacks it.

DynamoDB global tables (version 2019.11.21), AWS Backup selections/jobs/recovery
points/copies, and fault injection. In-process:

    from forumdb_emulator import mock_aws_ext

    with mock_aws_ext() as ctl:       # moto's mock_aws plus the extension
        ctl.set_replication(lag_seconds=0)
        ...

As a server: `python -m forumdb_emulator.server --host 127.0.0.1 --port N`, steered by
`forumdb_emulator.control.ExtControl(url)` (or the `forumdb-emulator` command). A product
component from the `dev` extra: `forumctl dev up` runs it, tests and users start it for their
own tests; nothing in the image imports it. See README.md beside this file.
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
