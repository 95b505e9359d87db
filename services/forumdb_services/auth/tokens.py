"""Bearer tokens verified against an OIDC issuer's published keys (PyJWT; no crypto here).

The keys come from the issuer's JWKS (AUTH_JWKS_URL, else the `jwks_uri` of the issuer's
`/.well-known/openid-configuration`), cached, and fetched again when a token names a key id
the cache does not hold (the issuer rotated its keys) -- at most once per `refresh_interval`,
so a stream of tokens with made-up key ids cannot turn the service into a fetch loop.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

from forumdb_services.auth.settings import ALGORITHMS

log = logging.getLogger("forumdb.auth")

FetchJson = Callable[[str], dict[str, Any]]


class TokenError(Exception):
    """The token cannot be trusted. `error` is RFC 6750's code for WWW-Authenticate;
    the message is safe to show (it never holds the token)."""

    def __init__(self, message: str, error: str = "invalid_token") -> None:
        super().__init__(message)
        self.error = error


class IssuerUnavailable(Exception):
    """The issuer's keys cannot be fetched: not the caller's fault (503, not 401)."""


def fetch_json(url: str, timeout: float = 5.0) -> dict[str, Any]:
    if not url.startswith(("https://", "http://")):
        raise IssuerUnavailable(f"not an http(s) URL: {url}")
    req = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (checked above)
            return json.loads(resp.read(1024 * 1024))
    except (OSError, ValueError) as exc:
        raise IssuerUnavailable(f"fetching {url}: {exc}") from None


@dataclass
class JwksCache:
    """The issuer's signing keys by key id."""

    issuer: str
    jwks_url: str | None = None
    fetch: FetchJson = fetch_json
    refresh_interval: float = 30.0
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    _fetched_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def key(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            if kid not in self._keys and self._may_refresh():
                self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise TokenError("the token was signed with a key the issuer does not publish")
        return key

    def _may_refresh(self) -> bool:
        return self._fetched_at is None or (
            time.monotonic() - self._fetched_at >= self.refresh_interval
        )

    def _refresh(self) -> None:
        self._fetched_at = time.monotonic()
        url = self.jwks_url or self._discover()
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in self.fetch(url).get("keys", []):
            if jwk.get("use", "sig") != "sig" or "kid" not in jwk:
                continue
            try:
                keys[jwk["kid"]] = jwt.PyJWK.from_dict(jwk)
            except jwt.PyJWTError as exc:  # a key type we do not take: skip it, keep the rest
                log.warning("skipping key %s of %s: %s", jwk.get("kid"), url, exc)
        self._keys = keys
        log.info("fetched %d signing keys from %s", len(keys), url)

    def _discover(self) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        config = self.fetch(url)
        if config.get("issuer") != self.issuer:
            raise IssuerUnavailable(
                f"{url} names issuer {config.get('issuer')!r}, not the configured {self.issuer!r}"
            )
        jwks_uri = config.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise IssuerUnavailable(f"{url} has no jwks_uri")
        self.jwks_url = jwks_uri
        return jwks_uri


@dataclass
class TokenVerifier:
    """Checks signature (RS256/ES256 only), exp, nbf, iss and aud, with a small clock skew."""

    issuer: str
    audience: str
    keys: JwksCache
    leeway: float = 30.0

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("the token is not a JWT") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise TokenError(f"tokens must be signed with {' or '.join(ALGORITHMS)}")
        if not isinstance(kid, str):
            raise TokenError("the token names no key (kid)")
        key = self.keys.key(kid)
        if key.algorithm_name != alg:
            raise TokenError("the token's algorithm does not match its key")
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenError("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise TokenError("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenError("the token is from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenError(f"the token lacks the {exc.claim} claim") from None
        except jwt.PyJWTError:
            raise TokenError("the token's signature or claims are invalid") from None
