"""A writer process for the JSON store's concurrency tests (run as a script).

    python json_writer.py DATA_DIR --name N --creates K --increments M [--forever]

Waits for DATA_DIR/go to exist (so all writers start together), then creates K users
tagged with its name and a sequence number, and adds 1 to the counter thread (id 1) M times
with read / update(expected_version) / retry on VersionConflict. Every acknowledged create
is printed as `ack <id>` and flushed, only after `create` returned. Ends with one line
`done <increments> <conflicts>`. `--forever` keeps creating until killed.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

from forumdb.storage import VersionConflict
from forumdb.storage.jsonstore import JsonStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--creates", type=int, default=0)
    parser.add_argument("--increments", type=int, default=0)
    parser.add_argument("--compact-min-bytes", type=int, default=4 * 1024 * 1024)
    parser.add_argument("--forever", action="store_true")
    args = parser.parse_args()

    store = JsonStore(args.data_dir, compact_min_bytes=args.compact_min_bytes)
    go = args.data_dir / "go"
    while not go.exists():
        time.sleep(0.005)

    conflicts = 0
    seqs = itertools.count() if args.forever else range(args.creates)
    for seq in seqs:
        created = store.users.create({"username": f"{args.name}-{seq}", "writer": args.name})
        sys.stdout.write(f"ack {created['id']}\n")
        sys.stdout.flush()
        if seq < args.increments:
            while True:
                counter = store.threads.get(1)
                try:
                    store.threads.update(
                        1, {"n": counter["n"] + 1}, expected_version=counter["version"]
                    )
                    break
                except VersionConflict:
                    conflicts += 1
    sys.stdout.write(f"done {min(args.increments, args.creates)} {conflicts}\n")


if __name__ == "__main__":
    main()
