"""The append-only journal of the JSON backend: one JSON line per operation, with a checksum.

A line is `<crc32 of the payload, 8 hex digits> <payload JSON>\\n`. A writer appends a whole
line and fsyncs before it acknowledges the write.

Two kinds of bad bytes, told apart by where they are:
- The remains of a writer killed mid-write: a last line without its newline. It was never
  acknowledged, readers leave it alone, and the next writer (holding the lock, so nobody is
  still writing it) cuts it off - unless it holds a whole operation (only its newline is
  missing, or its newline was damaged), which everyone reads and the next writer completes
  with a newline.
- Damage: a complete line whose checksum does not match (a flipped bit, a bad sector, an
  edit by hand). Only that line is skipped: the lines after it are read, and nothing ever
  cuts a complete line off. Where the damage hit a newline (two lines run together), the
  checksums find both operations again. The caller is told where the damage is, so it can
  keep a copy and report it.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Where a line can start inside a damaged one: 8 hex digits, a space, a JSON object.
_LINE_START = re.compile(rb"[0-9a-f]{8} \{")


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


def _salvage(line: bytes) -> list[dict[str, Any]]:
    """Whole operations inside a damaged line: where one damaged byte was a newline, the
    line is two lines run together ("A?B"), or one line with a stray last byte ("A?")."""
    for match in _LINE_START.finditer(line, 1):
        second = _decode_line(line[match.start() :])
        if second is not None:
            first = _decode_line(line[: match.start() - 1])
            return [first, second] if first is not None else [second]
    last = _decode_line(line[:-1])
    return [last] if last is not None else []


@dataclass(frozen=True)
class Damage:
    """A complete line that failed its checksum."""

    offset: int  # where the line starts in the journal
    line: int  # its 1-based line number
    length: int  # its bytes, newline excluded
    salvaged: int  # whole operations found inside it anyway


@dataclass
class Tail:
    """What reading the journal from an offset found."""

    ops: list[dict[str, Any]]
    end: int  # offset just after the last line read: where the next read starts
    lines: int  # line number of the last line read
    damage: list[Damage] = field(default_factory=list)
    # Only for a writer's read: a last line without newline that holds no whole operation
    # (a killed writer's), which the writer cuts off at `end`.
    torn: bool = False


def read_tail(path: Path, offset: int, lines: int = 0, *, final: bool = False) -> Tail:
    """The operations of the lines from `offset` on (`lines` lines precede it). A missing
    journal is an empty one. A last line without newline is read if it holds a whole
    operation; otherwise it is being written, or, when `final` (the caller holds the writer
    lock, so nobody is writing), it is torn."""
    # Most reads find nothing new: one stat says so, where opening and reading the file
    # takes half a dozen system calls, each a moment the thread lets go of the GIL.
    try:
        if os.stat(path).st_size == offset:
            return Tail([], offset, lines)
    except FileNotFoundError:
        return Tail([], offset, lines)
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return Tail([], offset, lines)
    tail = Tail([], offset, lines)
    pos = 0
    for line in _complete_lines(data):
        start = pos
        pos += len(line) + 1
        if not line:
            continue  # the newline a writer added to a line that had lost it
        tail.lines += 1
        op = _decode_line(line)
        if op is not None:
            tail.ops.append(op)
            continue
        salvaged = _salvage(line)
        tail.ops.extend(salvaged)
        tail.damage.append(Damage(offset + start, tail.lines, len(line), len(salvaged)))
    rest = data[pos:]
    if rest:
        op = _decode_line(rest)
        if op is not None:  # whole but for its newline, which the next append adds
            tail.ops.append(op)
            tail.lines += 1
            pos = len(data)
        elif (op := _decode_line(rest[:-1])) is not None:  # its newline damaged: keep it
            tail.ops.append(op)
            tail.lines += 1
            tail.damage.append(Damage(offset + pos, tail.lines, len(rest), 1))
            pos = len(data)
        else:  # being written, or (under the writer lock) a killed writer's
            tail.torn = final
    tail.end = offset + pos
    return tail


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
    lock and has read the journal up to `expected_size`: anything beyond is a killed
    writer's torn line holding no whole operation (`Tail.torn`), cut off first. A journal
    that does not end with a newline gets one before the line."""
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size < expected_size:
            raise OSError(f"journal {path} is {size} bytes, shorter than the {expected_size} read")
        if size > expected_size:
            os.ftruncate(fd, expected_size)
        if expected_size and os.pread(fd, 1, expected_size - 1) != b"\n":
            line = b"\n" + line
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
