"""The dev stack's OIDC issuer, so the services run with AUTH_MODE=jwt as in production.

A P-256 key pair kept in the state folder (`oidc/key.pem`, mode 0600, made on first use), its
discovery and JWKS documents served on 127.0.0.1, and tokens minted from the same key for
`forumctl dev token --user N [--admin]`. A token names its forum user in the `forum_user`
claim (the services' AUTH_USER_CLAIM), since the sample users carry no subject.

    python -m forumctl.dev.oidc --state-dir DIR --port N     (0 picks a free port)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:  # imported where used: `forumctl dev status` runs without cryptography
    from cryptography.hazmat.primitives.asymmetric import ec

AUDIENCE = "forumdb-dev"
USER_CLAIM = "forum_user"
ADMIN_CLAIM, ADMIN_VALUE = "groups", "forum-admins"
KEY_ID = "forumdb-dev-1"
READY = "forumdb-oidc ready on "


def key_path(state_dir: Path) -> Path:
    return state_dir / "oidc" / "key.pem"


def signing_key(state_dir: Path) -> ec.EllipticCurvePrivateKey:
    """The issuer's key, made on first use."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = key_path(state_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} is not an EC private key")
    return key


def jwks(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**public, "kid": KEY_ID, "use": "sig", "alg": "ES256"}]}


def mint(
    state_dir: Path, issuer: str, user: int, *, admin: bool = False, ttl_seconds: int = 3600
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": f"dev-user-{user}",
        USER_CLAIM: user,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if admin:
        claims[ADMIN_CLAIM] = [ADMIN_VALUE]
    return jwt.encode(claims, signing_key(state_dir), algorithm="ES256", headers={"kid": KEY_ID})


def service_env(issuer: str) -> dict[str, str]:
    """What the services need to trust this issuer."""
    return {
        "AUTH_MODE": "jwt",
        "AUTH_ISSUER": issuer,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_USER_CLAIM": USER_CLAIM,
        "AUTH_ADMIN_CLAIM": ADMIN_CLAIM,
        "AUTH_ADMIN_VALUE": ADMIN_VALUE,
    }


def serve(state_dir: Path, host: str, port: int) -> None:
    key = signing_key(state_dir)
    server: ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer = f"http://{host}:{server.server_port}"
            documents = {
                "/.well-known/openid-configuration": {
                    "issuer": issuer,
                    "jwks_uri": f"{issuer}/jwks.json",
                    "id_token_signing_alg_values_supported": ["ES256"],
                },
                "/jwks.json": jwks(key),
            }
            document = documents.get(self.path)
            body = json.dumps(document or {"error": "not found"}).encode()
            self.send_response(200 if document else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"{READY}http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="forumdb's dev OIDC issuer")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve(args.state_dir, args.host, args.port)


if __name__ == "__main__":
    main()
