"""Deterministic sample data: the same sizes and seed give the same records, byte for byte.

Each kind draws from its own generator (seeded with the seed and the kind), so asking for
more posts does not change the users or threads. Records are produced lazily, one at a time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from forumdb.ids import legacy_created_at

_FIRST = ("Finn", "Jake", "Marceline", "Bubblegum", "Flame", "Lumpy", "Ice", "Peppermint")
_LAST = ("Mertens", "Dog", "Abadeer", "Princess", "Space", "King", "Butler", "Banana")
_WORDS = (
    *("candy", "kingdom", "lich", "guitar", "party", "tomorrow", "mathematical", "treehouse"),
    *("sword", "adventure", "snail", "tree", "fort", "dungeon", "crystal", "gem", "rainicorn"),
    *("vampire", "bass", "song", "quest", "map", "cookie", "waffle"),
)


def _rng(seed: int, kind: str) -> random.Random:
    return random.Random(f"forumdb-sample:{seed}:{kind}")


def _sentence(rng: random.Random, lo: int, hi: int) -> str:
    words = rng.choices(_WORDS, k=rng.randint(lo, hi))
    return " ".join(words).capitalize()


def users(n: int, seed: int) -> Iterator[dict[str, Any]]:
    rng = _rng(seed, "users")
    for i in range(1, n + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        ts = legacy_created_at(i)
        yield {
            "id": i,
            "username": f"{first.lower()}{i}",
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{i}@example.org",
            "bio": _sentence(rng, 3, 12),
            "createdAt": ts,
            "updatedAt": ts,
            "version": 1,
        }


def _need(what: str, n: int, refs: dict[str, int]) -> None:
    empty = [name for name, count in refs.items() if count < 1]
    if n and empty:
        raise ValueError(f"{n} {what} would refer to {' and '.join(empty)} that do not exist")


def threads(n: int, n_users: int, seed: int) -> Iterator[dict[str, Any]]:
    _need("threads", n, {"users": n_users})
    rng = _rng(seed, "threads")
    for i in range(1, n + 1):
        ts = legacy_created_at(i)
        yield {
            "id": i,
            "title": _sentence(rng, 2, 8),
            "createdBy": rng.randint(1, n_users),
            "createdAt": ts,
            "updatedAt": ts,
            "version": 1,
        }


def posts(n: int, n_threads: int, n_users: int, seed: int) -> Iterator[dict[str, Any]]:
    _need("posts", n, {"threads": n_threads, "users": n_users})
    rng = _rng(seed, "posts")
    for i in range(1, n + 1):
        ts = legacy_created_at(i)
        yield {
            "id": i,
            "thread": rng.randint(1, n_threads),
            "user": rng.randint(1, n_users),
            "text": _sentence(rng, 4, 30),
            "createdAt": ts,
            "updatedAt": ts,
            "version": 1,
        }


def generate(
    kind: str, *, n_users: int, n_threads: int, n_posts: int, seed: int
) -> Iterator[dict[str, Any]]:
    if kind == "users":
        return users(n_users, seed)
    if kind == "threads":
        return threads(n_threads, n_users, seed)
    return posts(n_posts, n_threads, n_users, seed)
