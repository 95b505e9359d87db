"""A real forumctl process, `restore-drill -o json`, killed with SIGTERM while comparing:
it deletes its tables, prints the CLI's JSON error document on stdout and exits 143."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from click.testing import CliRunner

from forumdb.cli.main import cli

SAMPLE_DIR = Path(__file__).resolve().parents[3] / "examples" / "sample-data"
SOURCES = ["forum-Posts", "forum-Threads", "forum-Users"]
DRILL_ARGS = ("-o", "json", "--table", "users", "--method", "pitr", "--poll-interval", "0.1")


def _tables() -> list[str]:
    return sorted(boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"])


def test_sigterm_under_json_prints_an_error_document_and_exits_143(aws: Any) -> None:
    for args in (["tables", "create"], ["migrate", "--from", str(SAMPLE_DIR)]):
        assert CliRunner().invoke(cli, args, catch_exceptions=False).exit_code == 0
    aws.control.set_fault(service="dynamodb", operation="Scan", latency_ms=3000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "forumdb.cli.main", "restore-drill", *DRILL_ARGS],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_tables()) == len(SOURCES) and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        aws.control.clear_faults()
    assert proc.returncode == 143, stderr
    doc = json.loads(stdout)
    assert doc["exitCode"] == 143
    assert "interrupted by SIGTERM" in doc["error"]
    assert _tables() == SOURCES
