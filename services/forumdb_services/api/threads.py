"""The threads service: `/api/threads`, newest first (a Query on CreatedAtIndex), plus writes."""

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
from forumdb_services.storage import threads_newest_first

KIND = "threads"
bp = Blueprint(KIND, __name__, url_prefix="/api/threads")


@bp.get("")
def list_threads() -> Response:
    page = page_request()
    threads = collection(KIND)
    return cached_page_response(
        threads,
        ("newest", page.limit, page.cursor),
        lambda: threads_newest_first(threads, page.limit, page.cursor),
    )


@bp.post("")
def create_thread() -> Response:
    return create_record(KIND, "threads.get_thread")


@bp.get("/<record_id>")
def get_thread(record_id: str) -> Response:
    return get_record(KIND, parse_id(record_id))


@bp.put("/<record_id>")
def replace_thread(record_id: str) -> Response:
    return update_record(KIND, parse_id(record_id), partial=False)


@bp.patch("/<record_id>")
def patch_thread(record_id: str) -> Response:
    return update_record(KIND, parse_id(record_id), partial=True)


@bp.delete("/<record_id>")
def delete_thread(record_id: str) -> Response:
    return delete_record(KIND, parse_id(record_id))
