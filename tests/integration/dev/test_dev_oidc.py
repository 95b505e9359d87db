"""The dev stack's OIDC issuer: a real process whose tokens the services' verifier accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from forumctl.dev import oidc
from forumdb_services.auth.tokens import JwksCache, TokenError, TokenVerifier


@pytest.fixture
def issuer_url(tmp_path: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "forumctl.dev.oidc", "--state-dir", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith(oidc.READY), line
        yield line.removeprefix(oidc.READY).strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_minted_token_verifies_through_discovery(tmp_path: Path, issuer_url: str) -> None:
    verifier = TokenVerifier(issuer_url, oidc.AUDIENCE, JwksCache(issuer_url))
    claims = verifier.verify(oidc.mint(tmp_path, issuer_url, 4))
    assert claims[oidc.USER_CLAIM] == 4
    assert oidc.ADMIN_CLAIM not in claims
    admin = verifier.verify(oidc.mint(tmp_path, issuer_url, 1, admin=True))
    assert admin[oidc.ADMIN_CLAIM] == [oidc.ADMIN_VALUE]


def test_a_token_from_another_state_folder_is_refused(tmp_path: Path, issuer_url: str) -> None:
    verifier = TokenVerifier(issuer_url, oidc.AUDIENCE, JwksCache(issuer_url))
    with pytest.raises(TokenError):
        verifier.verify(oidc.mint(tmp_path / "other", issuer_url, 4))


def test_the_key_is_private_to_its_owner(tmp_path: Path) -> None:
    oidc.signing_key(tmp_path)
    assert oidc.key_path(tmp_path).stat().st_mode & 0o077 == 0
