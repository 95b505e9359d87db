"""The append-only journal of the JSON backend: one JSON line per operation, with a checksum.

A line is `<crc32 of the payload, 8 hex digits> <payload JSON>\\n`. A writer appends a whole
line and fsyncs before it acknowledges the write. A line that is cut short (a writer killed
mid-write) or whose checksum does not match ends the readable journal: readers stop before
it, and the next writer, holding the lock, cuts it off before appending.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def encode_op(op: dict[str, Any]) -> bytes:
    payload = json.dumps(op, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def _decode_line(line: bytes) -> dict[str, Any] | None:
    """The op of one complete line (without its newline), or None if the line is damaged."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    payload = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(payload):
            return None
        op = json.loads(payload)
    except ValueError:
        return None
    return op if isinstance(op, dict) else None


@dataclass
class Tail:
    """What reading the journal from an offset found."""

    ops: list[dict[str, Any]]
    end: int  # offset just after the last good line
    damaged: bool  # bytes after `end` that are not (yet) a good line


def read_tail(path: Path, offset: int) -> Tail:
    """The good lines from `offset` on. A missing journal is an empty one."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return Tail([], offset, False)
    ops: list[dict[str, Any]] = []
    pos = 0
    for line in _complete_lines(data):
        op = _decode_line(line)
        if op is None:
            break
        ops.append(op)
        pos += len(line) + 1
    return Tail(ops, offset + pos, pos < len(data))


def _complete_lines(data: bytes) -> Iterator[bytes]:
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            return
        yield data[start:end]
        start = end + 1


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append(path: Path, line: bytes, expected_size: int) -> int:
    """Append one encoded line durably; return the new size. The caller holds the writer
    lock and knows the journal is `expected_size` bytes of good lines: anything beyond is
    the remains of a killed writer and is cut off first."""
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size < expected_size:
            raise OSError(f"journal {path} is {size} bytes, shorter than the {expected_size} read")
        if size > expected_size:
            os.ftruncate(fd, expected_size)
        view = memoryview(line)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fdatasync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)
    return expected_size + len(line)
