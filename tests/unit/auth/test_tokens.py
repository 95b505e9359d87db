"""Token verification: what an attacker or a misconfigured issuer can send, and key rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from forumdb_services.auth.tokens import IssuerUnavailable, JwksCache, TokenError, TokenVerifier
from harness.oidc import AUDIENCE, ISSUER, FakeIssuer, new_key


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


def verifier_for(issuer: FakeIssuer, **cache: object) -> TokenVerifier:
    return TokenVerifier(ISSUER, AUDIENCE, JwksCache(ISSUER, fetch=issuer.fetch, **cache))


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_valid_token_gives_its_claims_via_discovery(issuer: FakeIssuer) -> None:
    claims = verifier_for(issuer).verify(issuer.token(sub="alice", groups=["x"]))
    assert claims["sub"] == "alice"
    assert issuer.fetches == [ISSUER + "/.well-known/openid-configuration", issuer.jwks_url]


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_rs256_and_es256_are_accepted(issuer: FakeIssuer, alg: str) -> None:
    issuer.keys = [new_key(alg)]
    assert verifier_for(issuer).verify(issuer.token(sub="bob"))["sub"] == "bob"


# Times as offsets from the moment the test runs, not from collection: under xdist a test may
# run many minutes after collection, when "now + 600" is already in the past.
NOW = object()


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": (NOW, -120)}, "expired"),
        ({"nbf": (NOW, 600)}, "not valid yet"),
        ({"aud": "another-api"}, "another audience"),
        ({"iss": "https://evil.test"}, "another issuer"),
        ({"exp": None}, "lacks the exp claim"),
        ({"aud": None}, "lacks the aud claim"),
    ],
)
def test_bad_claims_are_refused(issuer: FakeIssuer, claims: dict, message: str) -> None:
    now = int(time.time())
    claims = {
        k: now + v[1] if isinstance(v, tuple) and v[0] is NOW else v for k, v in claims.items()
    }
    with pytest.raises(TokenError, match=message):
        verifier_for(issuer).verify(issuer.token(**claims))


def test_a_small_clock_skew_is_tolerated(issuer: FakeIssuer) -> None:
    token = issuer.token(exp=int(time.time()) - 10)
    assert verifier_for(issuer).verify(token)["sub"] == "subject-1"


def test_a_missing_subject_is_refused(issuer: FakeIssuer) -> None:
    token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60},
        issuer.keys[0].private,
        algorithm="RS256",
        headers={"kid": issuer.keys[0].kid},
    )
    with pytest.raises(TokenError, match="lacks the sub claim"):
        verifier_for(issuer).verify(token)


def test_alg_none_is_refused(issuer: FakeIssuer) -> None:
    token = f"{b64({'alg': 'none', 'kid': issuer.keys[0].kid})}.{b64({'sub': 'x'})}."
    with pytest.raises(TokenError, match="RS256 or ES256"):
        verifier_for(issuer).verify(token)


def test_hs256_signed_with_the_public_key_is_refused(issuer: FakeIssuer) -> None:
    """The algorithm-confusion attack: the public key used as an HMAC secret."""
    public_pem = (
        issuer.keys[0]
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60}
    header = {"alg": "HS256", "kid": issuer.keys[0].kid, "typ": "JWT"}
    signing_input = f"{b64(header)}.{b64(payload)}".encode()
    sig = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    token = signing_input.decode() + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()
    with pytest.raises(TokenError, match="RS256 or ES256"):
        verifier_for(issuer).verify(token)


def test_a_token_whose_alg_differs_from_its_key_is_refused(issuer: FakeIssuer) -> None:
    ec_key = new_key("ES256")
    issuer.keys.append(ec_key)
    forged = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60},
        issuer.keys[0].private,
        algorithm="RS256",
        headers={"kid": ec_key.kid},
    )
    with pytest.raises(TokenError, match="does not match its key"):
        verifier_for(issuer).verify(forged)


def test_a_token_signed_by_another_key_is_refused(issuer: FakeIssuer) -> None:
    stranger = new_key()
    token = issuer.token(key=stranger)
    with pytest.raises(TokenError, match="does not publish"):
        verifier_for(issuer).verify(token)


def test_a_tampered_token_is_refused(issuer: FakeIssuer) -> None:
    head, _payload, sig = issuer.token(sub="alice").split(".")
    forged = f"{head}.{b64({'iss': ISSUER, 'aud': AUDIENCE, 'sub': 'admin', 'exp': 2**40})}.{sig}"
    with pytest.raises(TokenError, match="signature or claims"):
        verifier_for(issuer).verify(forged)


@pytest.mark.parametrize("junk", ["", "abc", "a.b", "a.b.c.d", "x" * 5000])
def test_junk_is_refused_as_not_a_jwt(issuer: FakeIssuer, junk: str) -> None:
    with pytest.raises(TokenError):
        verifier_for(issuer).verify(junk)


def test_a_rotated_key_is_picked_up_without_a_restart(issuer: FakeIssuer) -> None:
    verifier = verifier_for(issuer, refresh_interval=0)
    assert verifier.verify(issuer.token(sub="before"))["sub"] == "before"
    issuer.rotate()
    assert verifier.verify(issuer.token(sub="after"))["sub"] == "after"


def test_unknown_key_ids_do_not_refetch_more_than_once_per_interval(issuer: FakeIssuer) -> None:
    verifier = verifier_for(issuer, refresh_interval=3600)
    verifier.verify(issuer.token())
    fetched = len(issuer.fetches)
    for _ in range(50):
        with pytest.raises(TokenError):
            verifier.verify(issuer.token(key=new_key()))
    assert len(issuer.fetches) == fetched


def test_discovery_that_names_another_issuer_is_not_trusted() -> None:
    def liar(url: str) -> dict[str, object]:
        return {"issuer": "https://evil.test", "jwks_uri": "https://evil.test/keys"}

    with pytest.raises(IssuerUnavailable, match="names issuer"):
        JwksCache(ISSUER, fetch=liar).key("k")


def test_an_explicit_jwks_url_skips_discovery(issuer: FakeIssuer) -> None:
    cache = JwksCache(ISSUER, jwks_url=issuer.jwks_url, fetch=issuer.fetch)
    TokenVerifier(ISSUER, AUDIENCE, cache).verify(issuer.token())
    assert issuer.fetches == [issuer.jwks_url]
