"""The services' authentication in the chart (issue 17): the `auth` values become AUTH_* in
every service container, and the chart refuses an install without auth settings unless
`auth.mode: none` is set on purpose (secure by default)."""

from __future__ import annotations

import re

import pytest
from chartkit import SERVICE_NAMES, env_of, named

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
DYNAMODB = {"database": {"mode": "dynamodb", "forumDatabase": "forum"}}
JWT = {"issuer": ISSUER, "audience": "client-123"}
AUTH_NAMES = {
    "AUTH_MODE",
    "AUTH_ISSUER",
    "AUTH_AUDIENCE",
    "AUTH_JWKS_URL",
    "AUTH_ADMIN_CLAIM",
    "AUTH_ADMIN_VALUE",
    "AUTH_USER_CLAIM",
}


def _auth_env(objects: list[dict], name: str) -> dict[str, str]:
    deployment = named(objects, "Deployment", f"forum-{name}")
    [container] = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name
    ]
    return {k: v for k, v in env_of(container).items() if k.startswith("AUTH_")}


def _jwt_env(**more: str) -> dict[str, str]:
    """The AUTH_* settings of a service with JWT's issuer and audience, and `more`."""
    return {"AUTH_MODE": "jwt", "AUTH_ISSUER": ISSUER, "AUTH_AUDIENCE": "client-123", **more}


def _every_service_has(objects: list[dict], auth_env: dict[str, str]) -> None:
    """Each of the three services' containers has exactly these AUTH_* settings."""
    for name in SERVICE_NAMES:
        assert _auth_env(objects, name) == auth_env, name


@pytest.mark.parametrize("database", [{}, DYNAMODB], ids=["json defaults", "dynamodb"])
def test_an_install_without_auth_settings_is_refused(render_error, database):
    error = render_error(database, auth=False)
    assert "VALUES VALIDATION" in error
    assert "the services need authentication settings: set auth.issuer and auth.audience" in error
    assert "or auth.mode=none on purpose" in error


@pytest.mark.parametrize(
    ("auth", "missing"),
    [
        ({"mode": "jwt"}, "auth.issuer and auth.audience"),
        ({"mode": "jwt", "issuer": ISSUER}, "auth.audience"),
        ({"issuer": ISSUER}, "auth.audience"),
        ({"mode": "jwt", "audience": "client-123"}, "auth.issuer"),
    ],
    ids=["jwt alone", "jwt without audience", "issuer alone", "jwt without issuer"],
)
def test_jwt_without_issuer_or_audience_is_refused(render_error, auth, missing):
    error = render_error({**DYNAMODB, "auth": auth}, auth=False)
    assert f"auth.mode=jwt needs {missing}: the OIDC issuer URL" in error


def test_json_mode_with_jwt_needs_a_user_claim(render_error):
    error = render_error({"auth": JWT}, auth=False)
    assert "database.mode=json with auth.mode=jwt needs auth.userClaim" in error
    # Why: the threads and posts pods cannot see the users.
    assert "the threads and posts services cannot look a token's subject up in the users" in error


def test_jwt_renders_every_auth_setting_in_every_service(render):
    auth = {
        **JWT,
        "jwksUrl": f"{ISSUER}/.well-known/jwks.json",
        "adminClaim": "cognito:groups",
        "adminValue": "moderators",
        "userClaim": "custom:forum_user",
    }
    objects = render({**DYNAMODB, "auth": auth}, auth=False)
    _every_service_has(
        objects,
        _jwt_env(
            AUTH_JWKS_URL=f"{ISSUER}/.well-known/jwks.json",
            AUTH_ADMIN_CLAIM="cognito:groups",
            AUTH_ADMIN_VALUE="moderators",
            AUTH_USER_CLAIM="custom:forum_user",
        ),
    )


def test_an_issuer_without_a_mode_is_jwt_with_the_default_admin_claim(render):
    # dynamodb mode: the services look the subject up in the Users table, no userClaim needed.
    objects = render({**DYNAMODB, "auth": JWT}, auth=False)
    _every_service_has(
        objects, _jwt_env(AUTH_ADMIN_CLAIM="groups", AUTH_ADMIN_VALUE="forum-admins")
    )


def test_json_mode_with_jwt_and_a_user_claim_renders(render):
    objects = render({"auth": {**JWT, "userClaim": "forum_user"}}, auth=False)
    for name in SERVICE_NAMES:
        env = _auth_env(objects, name)
        assert env["AUTH_MODE"] == "jwt"
        assert env["AUTH_USER_CLAIM"] == "forum_user"


def test_mode_none_renders_auth_mode_none_only(render):
    # An issuer left in values does not switch jwt on behind an explicit none.
    objects = render({"auth": {"mode": "none", "issuer": ISSUER}}, auth=False)
    _every_service_has(objects, {"AUTH_MODE": "none"})


def test_only_the_service_containers_get_auth_settings(render):
    objects = render(
        {**DYNAMODB, "database": {**DYNAMODB["database"], "configSync": {"enabled": True}}},
    )
    for name in SERVICE_NAMES:
        spec = named(objects, "Deployment", f"forum-{name}")["spec"]["template"]["spec"]
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            has_auth = AUTH_NAMES & env_of(c).keys()
            assert bool(has_auth) == (c["name"] == name), (name, c["name"], has_auth)


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"mode": "oidc"}, r"/auth/mode.*must be one of"),
        ({"issuer": "cognito"}, r"/auth/issuer.*does not match"),
        ({"adminClaim": ""}, r"/auth/adminClaim.*minLength|/auth/adminClaim.*length"),
        ({"clientSecret": "s3cr3t"}, r"/auth.*additional properties 'clientSecret' not allowed"),
    ],
    ids=["unknown mode", "issuer not a URL", "empty admin claim", "unknown key"],
)
def test_the_schema_refuses_bad_auth_values(render_error, auth, message):
    error = render_error({"auth": auth})
    assert re.search(message, error, re.S), error


def _egress_ports(objects: list[dict], name: str) -> list[int]:
    policy = named(objects, "NetworkPolicy", f"forum-{name}")
    return sorted(p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"])


RESTRICTED = {"networkPolicy": {"enabled": True, "allowExternalEgress": False}}


@pytest.mark.parametrize(
    ("auth", "ports"),
    [
        (JWT, [53, 53, 443]),
        ({**JWT, "issuer": "http://keycloak.auth.svc:8080/realms/forum"}, [53, 53, 443, 8080]),
        (
            {**JWT, "jwksUrl": "http://keys.auth.svc:9000/jwks", "issuer": "http://kc/realms/f"},
            [53, 53, 80, 443, 9000],
        ),
        ({"mode": "none", "issuer": "http://keycloak.auth.svc:8080/realms/forum"}, [53, 53, 443]),
    ],
    ids=["https issuer", "issuer on 8080", "jwks and issuer on their ports", "none"],
)
def test_restricted_egress_opens_the_token_issuers_port(render, auth, ports):
    # The services fetch the issuer's discovery document and keys: without them every write
    # answers 503 behind a NetworkPolicy that allows HTTPS on 443 only.
    objects = render({**DYNAMODB, **RESTRICTED, "auth": auth}, auth=False)
    for name in SERVICE_NAMES:
        assert _egress_ports(objects, name) == ports, name
