"""The one definition of forumdb's three DynamoDB tables.

The operator builds its desired state from it, the services' storage backends (DynamoDB and
JSON) read keys, indexes and field names from it, and forumctl creates, migrates and verifies
tables with it. Change the layout here and nowhere else.

Records travel through the API with the field names of the classic forum sample (`id`,
`thread`, `user`, ...). In DynamoDB the key attributes have explicit names (`userId`,
`threadId`, `postId`); `TableDef.to_item` / `TableDef.from_item` map between the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

AttrType = Literal["S", "N", "B"]
Kind = Literal["users", "threads", "posts"]
KINDS: tuple[Kind, ...] = ("users", "threads", "posts")

DEFAULT_TABLE_PREFIX = "forum-"

# Threads are listed newest-first through a GSI whose partition key holds the same value on
# every thread, so "all threads by createdAt" is one Query, not a Scan.
THREAD_FEED_ATTR = "entity"
THREAD_FEED_VALUE = "thread"

# Guard items (forumdb_services.storage.guards) make a user's e-mail and a post's id unique
# in DynamoDB: items in the Users and Posts tables, with a negative hash key and this
# attribute, that are no records. Every reader of whole tables (a Scan: the services' lists,
# forumctl's backup, verify, sync, restore drill) skips them with `RECORDS_ONLY_FILTER` or
# `is_guard_item`; they count in DynamoDB's own ItemCount.
GUARD_ATTR = "forumdbGuard"
GUARDED_KINDS: tuple[Kind, ...] = ("users", "posts")
RECORDS_ONLY_FILTER: dict[str, Any] = {
    "FilterExpression": "attribute_not_exists(#forumdbGuard)",
    "ExpressionAttributeNames": {"#forumdbGuard": GUARD_ATTR},
}


def is_guard_item(item: Mapping[str, Any]) -> bool:
    """Whether an item (plain, or with DynamoDB type tags) is a guard, not a record."""
    return GUARD_ATTR in item


@dataclass(frozen=True)
class KeyAttr:
    name: str
    type: AttrType


@dataclass(frozen=True)
class IndexDef:
    """A global secondary index (projection ALL)."""

    name: str
    hash_key: KeyAttr
    range_key: KeyAttr | None = None

    @property
    def key_attrs(self) -> tuple[KeyAttr, ...]:
        return (self.hash_key,) + ((self.range_key,) if self.range_key else ())


@dataclass(frozen=True)
class TableDef:
    kind: Kind
    logical_name: str  # "Users": the table name is prefix + logical_name
    hash_key: KeyAttr
    range_key: KeyAttr | None
    indexes: tuple[IndexDef, ...]
    # API field name -> DynamoDB attribute name, for fields whose names differ.
    field_to_attr: Mapping[str, str] = field(default_factory=dict)
    # Attributes every item carries with a fixed value (for constant-partition GSIs).
    constant_attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key_attrs(self) -> tuple[KeyAttr, ...]:
        return (self.hash_key,) + ((self.range_key,) if self.range_key else ())

    @property
    def attribute_definitions(self) -> tuple[KeyAttr, ...]:
        """Every attribute used in a key of the table or of an index, once each, sorted."""
        seen: dict[str, KeyAttr] = {}
        for attr in self.key_attrs + tuple(a for i in self.indexes for a in i.key_attrs):
            seen.setdefault(attr.name, attr)
        return tuple(sorted(seen.values(), key=lambda a: a.name))

    def index(self, name: str) -> IndexDef:
        for idx in self.indexes:
            if idx.name == name:
                return idx
        raise KeyError(f"table {self.logical_name} has no index {name!r}")

    def attr_for(self, field_name: str) -> str:
        return self.field_to_attr.get(field_name, field_name)

    def field_for(self, attr_name: str) -> str:
        for f, a in self.field_to_attr.items():
            if a == attr_name:
                return f
        return attr_name

    def to_item(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """API record -> DynamoDB item (plain Python values, not typed AttributeValues)."""
        item = {self.attr_for(k): v for k, v in record.items() if v is not None}
        item.update(self.constant_attrs)
        return item

    def from_item(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """DynamoDB item -> API record; drops the constant index attributes."""
        return {self.field_for(k): v for k, v in item.items() if k not in self.constant_attrs}

    def key_of(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The primary key (attribute names) of an API record."""
        item = self.to_item(record)
        return {a.name: item[a.name] for a in self.key_attrs}


USERS = TableDef(
    kind="users",
    logical_name="Users",
    hash_key=KeyAttr("userId", "N"),
    range_key=None,
    indexes=(
        IndexDef("EmailIndex", KeyAttr("email", "S")),
        # The OIDC subject (token `sub`) of the person the user record belongs to: who may
        # change it, and whose threads and posts a token writes (forumdb_services.auth).
        IndexDef("SubjectIndex", KeyAttr("subject", "S")),
    ),
    field_to_attr={"id": "userId"},
)

THREADS = TableDef(
    kind="threads",
    logical_name="Threads",
    hash_key=KeyAttr("threadId", "N"),
    range_key=None,
    indexes=(
        IndexDef("CreatedAtIndex", KeyAttr(THREAD_FEED_ATTR, "S"), KeyAttr("createdAt", "S")),
    ),
    field_to_attr={"id": "threadId"},
    constant_attrs={THREAD_FEED_ATTR: THREAD_FEED_VALUE},
)

POSTS = TableDef(
    kind="posts",
    logical_name="Posts",
    hash_key=KeyAttr("postId", "N"),
    range_key=KeyAttr("threadId", "N"),
    indexes=(
        IndexDef("ThreadIndex", KeyAttr("threadId", "N"), KeyAttr("createdAt", "S")),
        IndexDef("UserIndex", KeyAttr("userId", "N"), KeyAttr("createdAt", "S")),
    ),
    field_to_attr={"id": "postId", "thread": "threadId", "user": "userId"},
)

TABLES: dict[Kind, TableDef] = {"users": USERS, "threads": THREADS, "posts": POSTS}


def table_def(kind: str) -> TableDef:
    try:
        return TABLES[kind]  # type: ignore[index]
    except KeyError:
        raise ValueError(
            f"unknown table kind {kind!r}; expected one of {', '.join(KINDS)}"
        ) from None


def table_name(kind: str, prefix: str = DEFAULT_TABLE_PREFIX) -> str:
    return prefix + table_def(kind).logical_name


def key_schema(attrs: tuple[KeyAttr, ...]) -> list[dict[str, str]]:
    return [
        {"AttributeName": a.name, "KeyType": "HASH" if i == 0 else "RANGE"}
        for i, a in enumerate(attrs)
    ]


def create_table_request(
    td: TableDef,
    name: str,
    *,
    billing_mode: Literal["PAY_PER_REQUEST", "PROVISIONED"] = "PAY_PER_REQUEST",
    read_capacity: int | None = None,
    write_capacity: int | None = None,
    stream: bool = False,
    kms_key: str | None = None,
    deletion_protection: bool = False,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The boto3 `create_table` arguments for a table of this layout."""
    provisioned = billing_mode == "PROVISIONED"
    if provisioned and not (read_capacity and write_capacity):
        raise ValueError("PROVISIONED billing needs read_capacity and write_capacity")
    throughput = (
        {"ReadCapacityUnits": read_capacity, "WriteCapacityUnits": write_capacity}
        if provisioned
        else None
    )
    gsis = []
    for idx in td.indexes:
        gsi: dict[str, Any] = {
            "IndexName": idx.name,
            "KeySchema": key_schema(idx.key_attrs),
            "Projection": {"ProjectionType": "ALL"},
        }
        if throughput:
            gsi["ProvisionedThroughput"] = dict(throughput)
        gsis.append(gsi)
    req: dict[str, Any] = {
        "TableName": name,
        "KeySchema": key_schema(td.key_attrs),
        "AttributeDefinitions": [
            {"AttributeName": a.name, "AttributeType": a.type} for a in td.attribute_definitions
        ],
        "GlobalSecondaryIndexes": gsis,
        "BillingMode": billing_mode,
        "DeletionProtectionEnabled": deletion_protection,
    }
    if throughput:
        req["ProvisionedThroughput"] = throughput
    if stream:
        req["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if kms_key:
        req["SSESpecification"] = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": kms_key}
    if tags:
        req["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    return req
