"""Create, read, update and delete of one record, the same for every kind.

The blueprints (users, threads, posts) route to these; each kind's differences (fields,
references, mutable fields) live in `forumdb_services.api.schemas.SCHEMAS`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, g, jsonify, url_for
from pydantic import BaseModel

from forumdb_services.api.answers import Answer, answer_of, encode, respond
from forumdb_services.api.errors import ApiError
from forumdb_services.api.identity import current_principal, forbidden
from forumdb_services.api.inputs import etag, expected_version, has_body, json_object, validated
from forumdb_services.api.schemas import SCHEMAS, DeleteBody, KindSchema
from forumdb_services.auth.policy import (
    SUBJECT_FIELD,
    Forbidden,
    Principal,
    author_for_create,
    check_owner,
    public,
)
from forumdb_services.storage import Collection, NotFound, Store, VersionConflict
from forumdb_services.storage.base import MAX_PAGE_SIZE

log = logging.getLogger("forumdb.api")
T = TypeVar("T")

# A write without If-Match (or a body `version`) asked for no version check, so losing a
# race to another writer is not the client's problem: the store's read-modify-write is run
# again on the fresh record. Every lost race means another write won, so N writers at once
# need at most N attempts; past this bound the conflict is answered with a 409 after all.
MAX_WRITE_ATTEMPTS = 32
# Jittered pause before another attempt, so the writers that lost do not collide again.
RETRY_PAUSE_SECONDS = 0.002
RETRY_PAUSE_MAX_SECONDS = 0.05


def current_store() -> Store:
    """The store of the settings generation this request started on."""
    return g.generation.store


def collection(kind: str) -> Collection:
    return current_store().collection(kind)


def record_response(record: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(public(record))
    response.status_code = status
    if record.get("version") is not None:
        response.headers["ETag"] = etag(record["version"])
    return response


def _check_references(schema: KindSchema, record: dict[str, Any]) -> None:
    if not g.generation.settings.check_references:
        return
    for field_name, kind in schema.references:
        value = record.get(field_name)
        if value is None:
            continue
        try:
            collection(kind).get(value)
        except NotFound:
            raise ApiError(
                422,
                "unknown_reference",
                f"{field_name}: {kind} {value} does not exist",
                field_name,
            ) from None


def _check_unique(schema: KindSchema, record: dict[str, Any], record_id: int | None = None) -> None:
    for field_name, index in schema.unique:
        value = record.get(field_name)
        if value is None:
            continue
        page = collection(schema.kind).query(index, value, limit=1)
        if page.items and page.items[0].get("id") != record_id:
            raise ApiError(
                409,
                "already_exists",
                f"{field_name}: {value!r} is already used by {schema.kind} {page.items[0]['id']}",
                field_name,
            )


def _pause(attempt: int) -> None:
    ceiling = min(RETRY_PAUSE_MAX_SECONDS, RETRY_PAUSE_SECONDS * 2**attempt)
    time.sleep(random.uniform(0, ceiling))  # jitter, not a secret


def write_with_retry(operation: Callable[[], T], expected_version: int | None) -> T:
    """`operation()` (an update or delete); without an expected version, retried on a
    VersionConflict up to MAX_WRITE_ATTEMPTS times. With one, a conflict is the answer."""
    if expected_version is not None:
        return operation()
    for attempt in range(1, MAX_WRITE_ATTEMPTS):
        try:
            return operation()
        except VersionConflict as exc:
            log.debug(
                "concurrent write, retrying",
                extra={"kind": exc.kind, "id": exc.record_id, "attempt": attempt},
            )
            _pause(attempt)
    return operation()


def _record_answer(record: dict[str, Any]) -> Answer:
    version = record.get("version")
    return Answer(encode(public(record)), str(int(version)) if version is not None else None)


def get_record(kind: str, record_id: int) -> Response:
    """The record (its encoded answer kept until the collection changes), or a 304 when the
    client's If-None-Match names its version."""
    records = collection(kind)
    answer = answer_of(records, (kind, record_id), lambda: _record_answer(records.get(record_id)))
    return respond(answer)


def principal() -> Principal | None:
    """The caller of this write (None where AUTH_MODE=none), with its forum user looked up
    where this service sees the users (not in the chart's JSON mode: CHECK_REFERENCES off)."""
    service = current_app.config["FORUMDB_SERVICE"]
    sees_users = g.generation.settings.check_references or service == "users"
    return current_principal(collection("users") if sees_users else None)


def _owned_create(kind: str, body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The body with its author from the token, and the subject a new user record gets."""
    caller = principal()
    if caller is None:
        return body, None
    try:
        body = author_for_create(caller, kind, body)
    except Forbidden as exc:
        raise forbidden(exc) from None
    if kind != "users" or (caller.admin and caller.user_id is not None):
        return body, None  # an admin who has a user creates users for others
    if caller.user_id is not None:
        raise ApiError(
            409, "already_exists", f"you already have a forum user: users {caller.user_id}"
        )
    return body, caller.subject


def check_may_change(kind: str, record_id: int) -> None:
    """403 unless the caller owns the record (or is an admin); nothing where AUTH_MODE=none.
    Owner fields never change after a create, so reading first cannot race a change of owner."""
    caller = principal()
    if caller is None:
        return
    try:
        check_owner(caller, kind, collection(kind).get(record_id))
    except Forbidden as exc:
        raise forbidden(exc) from None


def create_record(kind: str, endpoint: str) -> Response:
    schema = SCHEMAS[kind]
    raw, subject = _owned_create(kind, json_object())
    body = validated(schema.create, raw)
    record = body.model_dump(exclude_none=True)
    if subject is not None:
        record[SUBJECT_FIELD] = subject
    _check_references(schema, record)
    _check_unique(schema, record)
    created = collection(kind).create(record)
    response = record_response(created, 201)
    response.headers["Location"] = url_for(endpoint, record_id=created["id"])
    return response


def _same_json(a: Any, b: Any) -> bool:
    # As clients see them: true is not 1, DynamoDB's Decimal 3 is 3.
    encode = current_app.json.dumps
    try:
        return bool(encode(a) == encode(b))
    except (RecursionError, TypeError, ValueError):
        return False


def drop_unchanged_read_only(
    kind: str, record_id: int, model: type[BaseModel], raw: dict[str, Any]
) -> tuple[dict[str, Any], int | None]:
    """A body as GET gave it may go back in a PUT or PATCH: a field the body model does not
    take (`id`, `createdAt`, `updatedAt`, a post's `thread`, ...) that the record has with the
    same value is dropped; with another value it is refused by name (400 `read_only_field`;
    a changed `updatedAt` is 409: the record changed since it was read). Fields the record
    does not have stay, for the model to refuse as unknown. Also returns the version to
    write against when `updatedAt` matched, so nothing changes between this read and the
    write."""
    extra = [name for name in raw if name not in model.model_fields]
    if not extra:
        return raw, None
    stored = public(collection(kind).get(record_id))
    kept = dict(raw)
    pinned: int | None = None
    for name in extra:
        if name not in stored:
            continue
        if _same_json(raw[name], stored[name]):
            del kept[name]
            if name == "updatedAt" and stored.get("version") is not None:
                pinned = int(stored["version"])
        elif name == "updatedAt":
            raise ApiError(
                409,
                "version_conflict",
                f"updatedAt: {kind} {record_id} was changed after the body was read "
                f"(it was updated at {stored['updatedAt']}); read it again",
                "updatedAt",
            )
        else:
            raise ApiError(
                400,
                "read_only_field",
                f"{name}: is read-only and cannot be changed; leave it out or send the "
                f"value {kind} {record_id} has",
                name,
            )
    return kept, pinned


def update_record(kind: str, record_id: int, *, partial: bool) -> Response:
    """PUT (`partial=False`): the mutable fields become exactly the body's, absent optional
    ones are removed. PATCH: only the fields given change; null removes an optional one."""
    schema = SCHEMAS[kind]
    model: type[BaseModel] = schema.patch if partial else schema.replace
    raw, pinned = drop_unchanged_read_only(kind, record_id, model, json_object())
    body = validated(model, raw)
    data = body.model_dump(exclude_unset=partial)
    version = expected_version(data.pop("version", None))
    if version is None:
        version = pinned
    changes = data if partial else {name: data.get(name) for name in schema.mutable}
    if not changes:
        raise ApiError(
            422,
            "validation_error",
            f"body: nothing to change; give one of {', '.join(schema.mutable)}",
            "body",
        )
    _check_unique(schema, changes, record_id)
    check_may_change(kind, record_id)
    updated = write_with_retry(
        lambda: collection(kind).update(record_id, changes, expected_version=version), version
    )
    return record_response(updated)


# The records that name a record of each kind, as (child kind, its field, the index that
# finds them by it; None: no index, the child kind's records are read page by page).
CHILDREN: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "users": (("threads", "createdBy", None), ("posts", "user", "UserIndex")),
    "threads": (("posts", "thread", "ThreadIndex"),),
    "posts": (),
}
_SHOWN_CHILDREN = 5
SCAN_PAGE_SIZE = MAX_PAGE_SIZE


def _children(child_kind: str, field_name: str, index: str | None, record_id: int) -> list[int]:
    """Up to _SHOWN_CHILDREN ids of `child_kind` records whose `field_name` is `record_id`."""
    children = collection(child_kind)
    if index is not None:
        page = children.query(index, record_id, limit=_SHOWN_CHILDREN)
        return [int(item["id"]) for item in page.items]
    found: list[int] = []
    cursor = None
    while True:  # a scan: deleting a user is rare, and Threads has no index by author
        page = children.list(limit=SCAN_PAGE_SIZE, cursor=cursor)
        found += [int(r["id"]) for r in page.items if r.get(field_name) == record_id]
        if len(found) >= _SHOWN_CHILDREN or page.next_cursor is None:
            return found[:_SHOWN_CHILDREN]
        cursor = page.next_cursor


def refuse_while_children(kind: str, record_id: int) -> None:
    """409 `has_children` while threads or posts name the record: a delete never leaves
    records pointing at nothing. Skipped where the service does not read the other kinds
    (CHECK_REFERENCES off, as for creates)."""
    if not g.generation.settings.check_references:
        return
    details = []
    for child_kind, field_name, index in CHILDREN[kind]:
        ids = _children(child_kind, field_name, index, record_id)
        if ids:
            shown = ", ".join(str(i) for i in ids)
            details.append(
                {"kind": child_kind, "field": field_name, "ids": ids,
                 "message": f"{child_kind} with {field_name} {record_id}: {shown}"}
            )  # fmt: skip
    if details:
        collection(kind).get(record_id)  # a record that is not there is a 404, orphans or not
        raise ApiError(
            409,
            "has_children",
            f"{kind} {record_id} still has "
            + " and ".join(f"{d['kind']} (e.g. {d['ids'][0]})" for d in details)
            + "; delete them first",
            None,
            details,
        )


def delete_record(kind: str, record_id: int) -> Response:
    body_version = None
    if has_body():
        body_version = validated(DeleteBody, json_object()).version
    version = expected_version(body_version)
    check_may_change(kind, record_id)
    refuse_while_children(kind, record_id)
    write_with_retry(lambda: collection(kind).delete(record_id, expected_version=version), version)
    return Response(status=204)
