"""The storage layer: `open_store(settings)` gives the backend that the settings choose.

Kind-specific lookups (users by e-mail, threads newest-first, posts in a thread or by a user)
are the functions below, written once over `Collection.query` so both backends share them.
"""

from __future__ import annotations

from typing import Any

from forumdb.config import Settings
from forumdb.tables import THREAD_FEED_VALUE
from forumdb_services.storage.base import (
    DEFAULT_PAGE_SIZE,
    NOT_KEPT,
    AlreadyExists,
    Collection,
    Health,
    InvalidCursor,
    NotFound,
    Page,
    StorageError,
    Store,
    StoreUnavailable,
    VersionConflict,
)

__all__ = [
    "NOT_KEPT",
    "AlreadyExists",
    "Collection",
    "Health",
    "InvalidCursor",
    "NotFound",
    "Page",
    "StorageError",
    "Store",
    "StoreUnavailable",
    "VersionConflict",
    "open_store",
    "posts_by_user",
    "posts_in_thread",
    "threads_newest_first",
    "user_by_email",
]


def open_store(settings: Settings) -> Store:
    if settings.storage_mode == "dynamodb":
        from forumdb_services.storage.dynamodb import DynamoStore

        return DynamoStore.from_settings(settings)
    from forumdb_services.storage.jsonstore import JsonStore

    return JsonStore.from_settings(settings)


def user_by_email(users: Collection, email: str) -> dict[str, Any]:
    page = users.query("EmailIndex", email, limit=1)
    if not page.items:
        raise NotFound("user with e-mail", email, field="email")
    return page.items[0]


def threads_newest_first(
    threads: Collection, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
) -> Page:
    return threads.query("CreatedAtIndex", THREAD_FEED_VALUE, limit, cursor, newest_first=True)


def posts_in_thread(
    posts: Collection,
    thread_id: int,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
    newest_first: bool = False,
) -> Page:
    # A thread reads oldest-first, like a conversation.
    return posts.query("ThreadIndex", thread_id, limit, cursor, newest_first=newest_first)


def posts_by_user(
    posts: Collection, user_id: int, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
) -> Page:
    return posts.query("UserIndex", user_id, limit, cursor, newest_first=True)
