"""backup (parallel segmented scan) -> restore into fresh tables, against the moto server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from forumctl_run import forumctl

from forumctl.codec import item_digest

SIZES = ("--users", "300", "--threads", "700", "--posts", "2500")


def digests(client: Any, table: str) -> list[bytes]:
    out: list[bytes] = []
    for page in client.get_paginator("scan").paginate(TableName=table):
        out.extend(item_digest(it) for it in page["Items"])
    return sorted(out)


def test_backup_restore_into_fresh_tables_is_identical(aws: Any, tmp_path: Path) -> None:
    forumctl("tables", "create")
    forumctl("seed", "--storage-mode", "dynamodb", *SIZES)
    out = tmp_path / "forum.jsonl.gz"
    made = forumctl("backup", "--out", out, "--segments", "4", "-o", "json")
    assert [t["items"] for t in made["tables"]] == [300, 700, 2500]
    # one segment or four: the same items, the same checksums
    single = forumctl("backup", "--out", tmp_path / "one.jsonl", "--segments", "1", "-o", "json")
    assert [t["checksum"] for t in single["tables"]] == [t["checksum"] for t in made["tables"]]

    forumctl("tables", "create", "--table-prefix", "restored-")
    done = forumctl("restore", "--from", out, "--table-prefix", "restored-", "-o", "json")
    assert done["ok"] is True
    assert [t["written"] for t in done["tables"]] == [300, 700, 2500]
    assert [t["sourceChecksum"] for t in done["tables"]] == [t["checksum"] for t in made["tables"]]
    ddb = boto3.client("dynamodb")
    for logical in ("Users", "Threads", "Posts"):
        assert digests(ddb, f"restored-{logical}") == digests(ddb, f"forum-{logical}")

    # restoring the same file again is refused: the tables are not empty any more
    again = forumctl(
        "restore", "--from", out, "--table-prefix", "restored-", "-o", "json", expect=3
    )
    assert "not empty" in again["error"]
