"""The posts service: the sample's `/api/posts/in-thread/<id>` (oldest first, like a
conversation) and `/api/posts/by-user/<id>` (newest first), plus `/api/posts` writes."""

from __future__ import annotations

from flask import Blueprint, Response

from forumdb_services.api.inputs import parse_id
from forumdb_services.api.pagination import cached_page_response, page_request
from forumdb_services.api.resources import (
    collection,
    create_record,
    delete_record,
    get_record,
    update_record,
)
from forumdb_services.storage import posts_by_user, posts_in_thread

KIND = "posts"
bp = Blueprint(KIND, __name__, url_prefix="/api/posts")


@bp.get("")
def list_posts() -> Response:
    page = page_request()
    posts = collection(KIND)
    return cached_page_response(
        posts, ("list", page.limit, page.cursor), lambda: posts.list(page.limit, page.cursor)
    )


@bp.get("/in-thread/<thread_id>")
def list_posts_in_thread(thread_id: str) -> Response:
    thread = parse_id(thread_id, "threadId")
    page = page_request()
    posts = collection(KIND)
    return cached_page_response(
        posts,
        ("in-thread", thread, page.limit, page.cursor),
        lambda: posts_in_thread(posts, thread, page.limit, page.cursor),
    )


@bp.get("/by-user/<user_id>")
def list_posts_by_user(user_id: str) -> Response:
    user = parse_id(user_id, "userId")
    page = page_request()
    posts = collection(KIND)
    return cached_page_response(
        posts,
        ("by-user", user, page.limit, page.cursor),
        lambda: posts_by_user(posts, user, page.limit, page.cursor),
    )


@bp.post("")
def create_post() -> Response:
    return create_record(KIND, "posts.get_post")


@bp.get("/<record_id>")
def get_post(record_id: str) -> Response:
    return get_record(KIND, parse_id(record_id))


@bp.put("/<record_id>")
def replace_post(record_id: str) -> Response:
    return update_record(KIND, parse_id(record_id), partial=False)


@bp.patch("/<record_id>")
def patch_post(record_id: str) -> Response:
    return update_record(KIND, parse_id(record_id), partial=True)


@bp.delete("/<record_id>")
def delete_post(record_id: str) -> Response:
    return delete_record(KIND, parse_id(record_id))
