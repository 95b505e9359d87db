"""Authentication at the door (AUTH_MODE=jwt): every write needs a verified bearer token.

Reads stay public, as in the classic sample. A missing, expired or invalid token answers 401
with `WWW-Authenticate: Bearer ...` (RFC 6750) and the JSON error body; the token itself is
never logged nor echoed, only its subject. With AUTH_MODE=none (local development) nobody is
asked, and the service says so once at start.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, request

from forumdb_services.api.errors import ApiError
from forumdb_services.auth.policy import Forbidden, Principal, is_admin
from forumdb_services.auth.settings import AuthSettings
from forumdb_services.auth.tokens import IssuerUnavailable, JwksCache, TokenError, TokenVerifier
from forumdb_services.storage import Collection

log = logging.getLogger("forumdb.auth")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXTENSION_KEY = "forumdb.auth"
REALM = "forum"


class Unauthorized(ApiError):
    def __init__(self, message: str, error: str | None = "invalid_token") -> None:
        challenge = f'Bearer realm="{REALM}"'
        if error:
            challenge += f', error="{error}", error_description="{message}"'
        super().__init__(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})


def forbidden(exc: Forbidden) -> ApiError:
    return ApiError(403, "forbidden", exc.message, exc.field)


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthorized("this request needs a bearer token (Authorization: Bearer ...)", None)
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be `Bearer <token>`", "invalid_request")
    return token.strip()


def install_authentication(app: Flask, settings: AuthSettings | None = None) -> None:
    settings = settings or AuthSettings()
    app.extensions[EXTENSION_KEY] = settings
    if settings.effective_mode == "none":
        log.warning(
            "AUTH_MODE=none: anyone who reaches this service can create, change and delete "
            "any record; set AUTH_ISSUER and AUTH_AUDIENCE (AUTH_MODE=jwt) outside local "
            "development"
        )
        return
    issuer, audience = settings.issuer or "", settings.audience or ""  # set: AuthSettings checks
    verifier = TokenVerifier(
        issuer,
        audience,
        JwksCache(issuer, settings.jwks_url, refresh_interval=settings.jwks_refresh_seconds),
        leeway=settings.leeway_seconds,
    )
    log.info("writes need a bearer token from %s for audience %s", settings.issuer,
             settings.audience)  # fmt: skip

    @app.before_request
    def _authenticate() -> None:
        if request.method not in WRITE_METHODS or request.endpoint is None:
            return
        try:
            claims = verifier.verify(_bearer_token())
        except TokenError as exc:
            log.info("token refused: %s", exc, extra={"path": request.path})
            raise Unauthorized(str(exc), exc.error) from None
        except IssuerUnavailable as exc:
            log.warning("token issuer unavailable: %s", exc)
            raise ApiError(
                503, "auth_unavailable", "the token issuer cannot be reached; try again"
            ) from None
        g.claims = claims
        g.subject = claims["sub"]


def current_principal(users: Collection | None) -> Principal | None:
    """The caller of this write (None where AUTH_MODE=none). `users` finds the forum user of
    the token's subject; None where this service cannot see the users (AUTH_USER_CLAIM then)."""
    claims: dict[str, Any] | None = g.get("claims")
    if claims is None:
        return None
    principal = g.get("principal")
    if principal is None:
        settings: AuthSettings = _settings()
        principal = Principal(
            subject=claims["sub"],
            admin=is_admin(claims, settings.admin_claim, settings.admin_value),
            user_id=_user_id(claims, settings, users),
        )
        g.principal = principal
    return principal


def _settings() -> AuthSettings:
    from flask import current_app

    return current_app.extensions[EXTENSION_KEY]


def _user_id(
    claims: dict[str, Any], settings: AuthSettings, users: Collection | None
) -> int | None:
    if settings.user_claim:
        value = claims.get(settings.user_claim)
        if isinstance(value, str) and value.isdecimal():
            value = int(value)
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if users is None:
        return None
    page = users.query("SubjectIndex", claims["sub"], limit=1)
    return int(page.items[0]["id"]) if page.items else None
