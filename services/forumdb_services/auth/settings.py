"""The authentication settings (DESIGN.md: AUTH_MODE, AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL).

`jwt` (writes need a bearer token from the OIDC issuer) is what a deployment runs; `none` is for
local development only, and the service says so in its log at start. Without AUTH_MODE, the mode
is `jwt` when an issuer is set and `none` otherwise (with that warning), so a forgotten setting
never silently opens a deployment that names its issuer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

AuthMode = Literal["jwt", "none"]

# Signature algorithms accepted: asymmetric only, so a public key can never act as an HMAC
# secret (the classic RS256 -> HS256 confusion), and never `none`.
ALGORITHMS = ("RS256", "ES256")


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    mode: AuthMode | None = Field(None, validation_alias="AUTH_MODE")
    issuer: str | None = Field(None, validation_alias="AUTH_ISSUER")
    audience: str | None = Field(None, validation_alias="AUTH_AUDIENCE")
    jwks_url: str | None = Field(None, validation_alias="AUTH_JWKS_URL")
    # The claim that lists a caller's groups or roles, and the value that makes an admin.
    admin_claim: str = Field("groups", validation_alias="AUTH_ADMIN_CLAIM")
    admin_value: str = Field("forum-admins", validation_alias="AUTH_ADMIN_VALUE")
    # A claim that names the caller's forum user id directly, for deployments where a
    # service cannot look the subject up (the chart's JSON mode: each service holds only its
    # own folder). Unset: the user whose record carries the token's subject.
    user_claim: str | None = Field(None, validation_alias="AUTH_USER_CLAIM")
    # The least time between two fetches of the issuer's keys that a token with an unknown
    # key id may trigger (rotation is picked up; made-up key ids cannot hammer the issuer).
    jwks_refresh_seconds: float = Field(
        30, ge=0, le=3600, validation_alias="AUTH_JWKS_REFRESH_SECONDS"
    )
    # Clock skew tolerated on exp/nbf/iat, in seconds.
    leeway_seconds: int = Field(30, ge=0, le=300, validation_alias="AUTH_LEEWAY_SECONDS")

    @field_validator("mode", "issuer", "audience", "jwks_url", "user_claim", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.strip()
            return v.lower() if v.lower() in ("jwt", "none") else (v or None)
        return v

    @model_validator(mode="after")
    def _jwt_needs_an_issuer(self) -> AuthSettings:
        if self.effective_mode == "jwt":
            missing = [n for n, v in (("AUTH_ISSUER", self.issuer),
                                      ("AUTH_AUDIENCE", self.audience)) if not v]  # fmt: skip
            if missing:
                raise ValueError(
                    f"AUTH_MODE=jwt needs {' and '.join(missing)} "
                    "(or AUTH_MODE=none, for local development only)"
                )
        return self

    @property
    def effective_mode(self) -> AuthMode:
        if self.mode is not None:
            return self.mode
        return "jwt" if self.issuer else "none"
