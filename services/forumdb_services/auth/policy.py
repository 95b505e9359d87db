"""Who may write what, in plain Python (the routes apply it in api/identity.py).

Reads are public. A write needs a verified token. A user record belongs to the token subject
stored on it (`subject`, set from the token when the user is created and never from a body);
a thread or a post belongs to the forum user it names (`createdBy`, `user`), which a write
takes from the token's user, never from the body. An admin (a configurable group or role
claim) may change anything and may write on someone's behalf.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The field that names a record's author, per kind (users own themselves, by subject).
AUTHOR_FIELD = {"threads": "createdBy", "posts": "user"}
SUBJECT_FIELD = "subject"
# Stored on a record, never shown to clients: the OIDC subject that owns a user record.
PRIVATE_FIELDS = (SUBJECT_FIELD,)


class Forbidden(Exception):
    """The caller is known but may not do this (403)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Principal:
    subject: str
    admin: bool
    user_id: int | None  # the forum user whose record carries this subject, if any


def is_admin(claims: Mapping[str, Any], claim: str, value: str) -> bool:
    """`claim` holds a list of groups/roles (Cognito's `cognito:groups`, Keycloak's mapped
    `groups`) or a space-separated string (an OAuth `scope`)."""
    held = claims.get(claim)
    if isinstance(held, str):
        return value in held.split()
    if isinstance(held, list | tuple):
        return value in held
    return False


def author_for_create(principal: Principal, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The create body with its author from the token: absent, it is filled in; naming someone
    else, it is refused (an admin may name anyone)."""
    body = dict(body)
    field = AUTHOR_FIELD.get(kind)
    if field is None:
        return body
    given = body.get(field)
    if principal.admin and given is not None:
        return body
    if principal.user_id is None:
        raise Forbidden("your identity has no forum user yet: create it first with POST /api/users")
    if given is not None and given != principal.user_id:
        raise Forbidden(
            f"{field}: you can write only as yourself (user {principal.user_id})", field
        )
    body[field] = principal.user_id
    return body


def check_owner(principal: Principal, kind: str, record: Mapping[str, Any]) -> None:
    """Raises Forbidden unless the principal may change or delete `record`."""
    if principal.admin:
        return
    if kind == "users":
        # by the subject stored on it, or by the forum user the token names (AUTH_USER_CLAIM)
        mine = record.get(SUBJECT_FIELD) == principal.subject or (
            principal.user_id is not None and record.get("id") == principal.user_id
        )
    else:
        mine = principal.user_id is not None and record.get(AUTHOR_FIELD[kind]) == principal.user_id
    if not mine:
        raise Forbidden(f"{kind} {record.get('id')} belongs to someone else")


def public(record: dict[str, Any]) -> dict[str, Any]:
    """The record as clients see it: without the private fields."""
    if any(name in record for name in PRIVATE_FIELDS):
        return {k: v for k, v in record.items() if k not in PRIVATE_FIELDS}
    return record
