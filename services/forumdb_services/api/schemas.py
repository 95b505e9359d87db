"""Request bodies, validated with pydantic v2 at the edge of the API.

Models are strict (a number is not a string, `true` is not an id) and forbid unknown fields,
so a typo or a read-only field (`createdAt`, `version` of a create) is rejected by name
instead of being dropped silently. Every string has a length limit. For each kind there are
three models: create (POST), replace (PUT: the required fields again, optional ones left out
are removed) and patch (PATCH: any subset; a required field cannot be set to null).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from forumdb.ids import MAX_ID


def _utf8_text(value: str) -> str:
    # JSON may carry lone surrogates ("\ud800"); they cannot be stored as UTF-8 anywhere.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains an invalid character (a lone UTF-16 surrogate)") from None
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _text(max_length: int, min_length: int = 1) -> Any:
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_utf8_text),
    ]


RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
Version = Annotated[int, Field(ge=1, le=MAX_ID)]
Username = _text(64)
DisplayName = _text(200)
Bio = _text(2000)
Email = Annotated[
    str,
    StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    AfterValidator(_utf8_text),
]
Title = _text(300)
PostText = _text(10_000)

MAX_EMAIL_LENGTH = 254


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _Patch(_Body):
    """Every field optional; fields listed in `not_null` may be left out but not nulled."""

    not_null: ClassVar[tuple[str, ...]] = ()

    # Field validators run only on values the client sent, which is exactly the rule.
    @field_validator("*")
    @classmethod
    def _required_not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.not_null:
            raise ValueError("cannot be null (it is a required field)")
        return value


# --- users -----------------------------------------------------------------------------


class UserCreate(_Body):
    id: RecordId | None = None
    username: Username
    name: DisplayName | None = None
    bio: Bio | None = None
    email: Email | None = None


class UserReplace(_Body):
    username: Username
    name: DisplayName | None = None
    bio: Bio | None = None
    email: Email | None = None
    version: Version | None = None


class UserPatch(_Patch):
    not_null = ("username",)
    username: Username | None = None
    name: DisplayName | None = None
    bio: Bio | None = None
    email: Email | None = None
    version: Version | None = None


# --- threads ---------------------------------------------------------------------------


class ThreadCreate(_Body):
    id: RecordId | None = None
    title: Title
    createdBy: RecordId  # the sample's field name


class ThreadReplace(_Body):
    title: Title
    version: Version | None = None


class ThreadPatch(_Patch):
    not_null = ("title",)
    title: Title | None = None
    version: Version | None = None


# --- posts -----------------------------------------------------------------------------


class PostCreate(_Body):
    id: RecordId | None = None
    thread: RecordId
    user: RecordId
    text: PostText


class PostReplace(_Body):
    text: PostText
    version: Version | None = None


class PostPatch(_Patch):
    not_null = ("text",)
    text: PostText | None = None
    version: Version | None = None


class DeleteBody(_Body):
    """A DELETE may carry the version it expects instead of an If-Match header."""

    version: Version | None = None


@dataclass(frozen=True)
class KindSchema:
    """What the API needs to know about one kind's bodies."""

    kind: str
    create: type[_Body]
    replace: type[_Body]
    patch: type[_Body]
    # Fields a PUT may change: those it leaves out are removed from the record.
    mutable: tuple[str, ...]
    # Reference field -> the kind it must name an existing record of (checked on create).
    references: tuple[tuple[str, str], ...] = ()
    # Field -> the secondary index that finds a record by it; no two records may share a
    # value (checked before writing: best effort, as neither store has unique constraints).
    unique: tuple[tuple[str, str], ...] = ()


SCHEMAS: dict[str, KindSchema] = {
    "users": KindSchema(
        "users",
        UserCreate,
        UserReplace,
        UserPatch,
        ("username", "name", "bio", "email"),
        unique=(("email", "EmailIndex"),),
    ),
    "threads": KindSchema(
        "threads",
        ThreadCreate,
        ThreadReplace,
        ThreadPatch,
        ("title",),
        references=(("createdBy", "users"),),
    ),
    "posts": KindSchema(
        "posts",
        PostCreate,
        PostReplace,
        PostPatch,
        ("text",),
        references=(("thread", "threads"), ("user", "users")),
    ),
}
