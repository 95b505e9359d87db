"""Uniqueness in DynamoDB: guard items.

DynamoDB keeps one item per primary key and nothing else unique. Two more things must be:
a post's id (the Posts key is postId + threadId, so without help one id could sit in two
threads) and a user's e-mail (a plain attribute). Each gets a guard item, written in the
same TransactWriteItems as the record on the condition that it does not exist yet: of two
concurrent creates only one commits (TransactWriteItems is all-or-nothing and serializable
with other writes to its items: Amazon DynamoDB Developer Guide, "Amazon DynamoDB
Transactions: How it works", isolation levels).

Guard items live in the record's own table (nothing more to provision), with a key that no
record can have, and nothing that any index keys on:

- post id N: in Posts, key postId = -(N + 1), threadId = 0; forumdbGuard = "postId",
  guardOwner = the post's threadId.
- e-mail E: in Users, key userId = -(1 + the first 120 bits of sha256(E)); forumdbGuard =
  "email", guardValue = E, guardOwner = the user's id.

Record ids are 0..MAX_ID, so a negative hash key is always a guard; every guard also
carries `forumdbGuard`. No guard has `createdAt`, `email` or `userId`, so no Query of an
index ever returns one; a Query of Posts by postId never does either (the key is negative).
Scans see them: the store's own list filters them out with `SCAN_FILTER`, and every other
reader of the tables (forumctl's backup, verify, migrate, restore) must skip them the same
way (`forumdb.tables.RECORDS_ONLY_FILTER`, `is_guard_item`).

Each guard carries a random `guardToken`. A guard whose record is gone (a post deleted by
another tool, which leaves the guard) is taken over on the condition that its token is
still the one read, so two writers cannot both take it.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from forumdb.tables import GUARD_ATTR, RECORDS_ONLY_FILTER, TableDef, is_guard_item

__all__ = ["GUARD_ATTR", "SCAN_FILTER", "guard_item", "guard_key", "is_guard_item"]

OWNER_ATTR = "guardOwner"
TOKEN_ATTR = "guardToken"  # noqa: S105 - an attribute name, not a secret
VALUE_ATTR = "guardValue"

POST_ID = "postId"
EMAIL = "email"
_EMAIL_HASH_BYTES = 15  # 120 bits: 37 decimal digits, within DynamoDB's 38

# For a Scan (or Query) that must not return guards.
SCAN_FILTER = RECORDS_ONLY_FILTER


def guard_key(table: TableDef, what: str, value: Any) -> dict[str, Any]:
    """The primary key (plain values) of the guard of a post id or an e-mail."""
    if what == POST_ID:
        number = -(int(value) + 1)
    else:
        digest = hashlib.sha256(str(value).encode("utf-8")).digest()[:_EMAIL_HASH_BYTES]
        number = -(1 + int.from_bytes(digest, "big"))
    key: dict[str, Any] = {table.hash_key.name: number}
    if table.range_key is not None:
        key[table.range_key.name] = 0
    return key


def guard_item(table: TableDef, what: str, value: Any, owner: int) -> dict[str, Any]:
    """A fresh guard (plain values), with a new token."""
    item = guard_key(table, what, value)
    item.update({GUARD_ATTR: what, OWNER_ATTR: owner, TOKEN_ATTR: uuid.uuid4().hex})
    if what == EMAIL:
        item[VALUE_ATTR] = value
    return item
