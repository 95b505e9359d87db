"""The users service: `/api/users`, as in the classic sample, plus writes and e-mail lookup."""

from __future__ import annotations

from flask import Blueprint, Response, request

from forumdb_services.api.errors import bad_request
from forumdb_services.api.inputs import parse_id
from forumdb_services.api.pagination import cached_page_response, page_request, page_response
from forumdb_services.api.resources import (
    collection,
    create_record,
    delete_record,
    get_record,
    record_response,
    update_record,
)
from forumdb_services.api.schemas import MAX_EMAIL_LENGTH
from forumdb_services.storage import NotFound, Page, user_by_email

KIND = "users"
bp = Blueprint(KIND, __name__, url_prefix="/api/users")


def _email(raw: str, field: str) -> str:
    if not raw or len(raw) > MAX_EMAIL_LENGTH or "@" not in raw:
        raise bad_request(
            f"{field} must be an e-mail address of at most {MAX_EMAIL_LENGTH} characters", field
        )
    return raw


@bp.get("")
def list_users() -> Response:
    """Every user (a bare array, paginated); `?email=` narrows it to that user, if any."""
    email = request.args.get("email")
    if email is not None:
        try:
            found = [user_by_email(collection(KIND), _email(email, "email"))]
        except NotFound:
            found = []
        return page_response(Page(found))
    page = page_request()
    users = collection(KIND)
    return cached_page_response(
        users, ("list", page.limit, page.cursor), lambda: users.list(page.limit, page.cursor)
    )


@bp.post("")
def create_user() -> Response:
    return create_record(KIND, "users.get_user")


@bp.get("/<record_id>")
def get_user(record_id: str) -> Response:
    return get_record(KIND, parse_id(record_id))


@bp.get("/by-email/<email>")
def get_user_by_email(email: str) -> Response:
    return record_response(user_by_email(collection(KIND), _email(email, "email")))


@bp.put("/<record_id>")
def replace_user(record_id: str) -> Response:
    return update_record(KIND, parse_id(record_id), partial=False)


@bp.patch("/<record_id>")
def patch_user(record_id: str) -> Response:
    return update_record(KIND, parse_id(record_id), partial=True)


@bp.delete("/<record_id>")
def delete_user(record_id: str) -> Response:
    return delete_record(KIND, parse_id(record_id))
