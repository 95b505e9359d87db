"""A test OIDC issuer in memory: key pairs, its JWKS and discovery documents, and tokens.

issuer = FakeIssuer()
token = issuer.token(sub="user-4")
verifier = TokenVerifier(ISSUER, AUDIENCE, JwksCache(ISSUER, fetch=issuer.fetch))
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://issuer.test/realms/forum"
AUDIENCE = "forum-api"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        algo = jwt.get_algorithm_by_name(self.alg)
        jwk = json.loads(algo.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}


def new_key(alg: str = "RS256") -> SigningKey:
    private = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if alg == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    return SigningKey(kid=uuid.uuid4().hex[:12], alg=alg, private=private)


@dataclass
class FakeIssuer:
    issuer: str = ISSUER
    audience: str = AUDIENCE
    keys: list[SigningKey] = field(default_factory=lambda: [new_key()])
    fetches: list[str] = field(default_factory=list)

    @property
    def jwks_url(self) -> str:
        return self.issuer + "/protocol/openid-connect/certs"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.keys]}

    def fetch(self, url: str) -> dict[str, Any]:
        self.fetches.append(url)
        if url == self.issuer + "/.well-known/openid-configuration":
            return {"issuer": self.issuer, "jwks_uri": self.jwks_url}
        if url == self.jwks_url:
            return self.jwks()
        raise AssertionError(f"unexpected fetch {url}")

    def rotate(self, alg: str = "RS256") -> SigningKey:
        """A new key published first, the old ones dropped: what issuers do on rotation."""
        self.keys = [new_key(alg)]
        return self.keys[0]

    def token(self, sub: str = "subject-1", key: SigningKey | None = None, **claims: Any) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        payload = {"iss": self.issuer, "aud": self.audience, "sub": sub, "iat": now,
                   "exp": now + 300, **claims}  # fmt: skip
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key.private, algorithm=key.alg, headers={"kid": key.kid})


@contextmanager
def served(issuer: FakeIssuer | None = None) -> Iterator[FakeIssuer]:
    """The issuer's discovery and JWKS documents served on 127.0.0.1 (a free port), with its
    `issuer` URL set to that address, for services that fetch them over HTTP."""
    issuer = issuer or FakeIssuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                body = json.dumps(issuer.fetch(issuer.issuer + self.path)).encode()
                self.send_response(200)
            except AssertionError:
                body = b"{}"
                self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
