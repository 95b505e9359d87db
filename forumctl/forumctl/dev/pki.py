"""Throwaway certificates for a local kube-apiserver (tests, `forumctl dev up`): a CA, a
serving cert, an admin client cert (group system:masters) and the service-account signing key
pair; and a serving certificate with a CA of its own for the operator's admission webhook.
Needs `cryptography` (the `dev` extra; `make setup` installs it).

EC P-256 throughout: about ten times faster to generate than RSA-2048, and kube-apiserver
accepts it for TLS and for signing service-account tokens (ES256).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=30)
SERVING_DNS_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files written by `write_pki`."""

    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_private_key: Path
    sa_public_key: Path


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey):
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def _new_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _new_key()
    name = _name(common_name)
    cert = (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    san: list[x509.GeneralName] | None = None,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_key, ca_cert = ca
    key = _new_key()
    builder = _builder(subject, ca_cert.subject, key).add_extension(
        x509.ExtendedKeyUsage([usage]), critical=False
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _serving_names(ips: tuple[str, ...], dns_names: tuple[str, ...]) -> list[x509.GeneralName]:
    return [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips] + [
        x509.DNSName(n) for n in dns_names
    ]


def write_pki(folder: Path, extra_ips: tuple[str, ...] = ()) -> Pki:
    """Write the CA and the certificates; the serving cert names 127.0.0.1 and `extra_ips`
    (a real node's pods reach the API server at the node's address or the Service IP)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = _new_ca("forumdb-test-ca")
    serving_key, serving_cert = _leaf(
        ca,
        _name("kube-apiserver"),
        ExtendedKeyUsageOID.SERVER_AUTH,
        _serving_names(("127.0.0.1", *extra_ips), SERVING_DNS_NAMES),
    )
    admin_key, admin_cert = _leaf(
        ca, _name("admin", organization="system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH
    )
    sa_key = _new_key()

    pki = Pki(
        ca_cert=folder / "ca.crt",
        serving_cert=folder / "apiserver.crt",
        serving_key=folder / "apiserver.key",
        admin_cert=folder / "admin.crt",
        admin_key=folder / "admin.key",
        sa_private_key=folder / "sa.key",
        sa_public_key=folder / "sa.pub",
    )
    pem = serialization.Encoding.PEM
    pki.ca_cert.write_bytes(ca[1].public_bytes(pem))
    pki.serving_cert.write_bytes(serving_cert.public_bytes(pem))
    pki.serving_key.write_bytes(_key_pem(serving_key))
    pki.admin_cert.write_bytes(admin_cert.public_bytes(pem))
    pki.admin_key.write_bytes(_key_pem(admin_key))
    pki.sa_private_key.write_bytes(_key_pem(sa_key))
    pki.sa_public_key.write_bytes(
        sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return pki


@dataclass(frozen=True)
class ServingCert:
    """A CA of its own and a serving certificate it signed, in cert-manager's Secret layout
    (ca.crt, tls.crt, tls.key): what `forum-operator --webhook-cert-dir` reads."""

    ca_cert: Path
    cert: Path
    key: Path


def write_serving_cert(
    folder: Path,
    common_name: str,
    ips: tuple[str, ...] = ("127.0.0.1",),
    dns_names: tuple[str, ...] = ("localhost",),
) -> ServingCert:
    """A serving certificate for `ips` and `dns_names`, signed by a new CA (ca.crt becomes the
    webhook's caBundle, so the API server trusts this certificate and nothing else)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = _new_ca(f"{common_name}-ca")
    key, cert = _leaf(
        ca, _name(common_name), ExtendedKeyUsageOID.SERVER_AUTH, _serving_names(ips, dns_names)
    )
    written = ServingCert(
        ca_cert=folder / "ca.crt", cert=folder / "tls.crt", key=folder / "tls.key"
    )
    pem = serialization.Encoding.PEM
    written.ca_cert.write_bytes(ca[1].public_bytes(pem))
    written.cert.write_bytes(cert.public_bytes(pem))
    written.key.touch(mode=0o600)  # a private key: its owner only, before it is written
    written.key.write_bytes(_key_pem(key))
    return written
