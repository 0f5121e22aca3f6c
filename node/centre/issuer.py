"""What the centre's root key signs: node certificates with their X.509 TLS certificates,
and directories (each version in its two forms). The X.509 CA key is the root key itself,
or in a federation whose TLS keys are ECDSA P-256 a key of its own (keys/ca.key) that the
root key endorses (docs/FEDERATION.md, "Trust model" and "TLS key algorithm")."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from lienthong.crypto import x509 as tls
from lienthong.crypto.errors import CertificateError, LienthongError
from lienthong.crypto.keys import NodeKeys, fingerprint
from lienthong.node.centre.errors import CentreError, MalformedRequest
from lienthong.node.centre.external import read_list as read_external
from lienthong.node.config import Config
from lienthong.node.datadir import (
    ROOT_PASSPHRASE_CREDENTIAL,
    ROOT_PASSPHRASE_ENV,
    root_passphrase,
)
from lienthong.protocol.certificate import issue_certificate
from lienthong.protocol.directory import Directory, issue_directory, verify_directory
from lienthong.protocol.text import pattern
from lienthong.protocol.wire import pack
from lienthong.storage import audit
from lienthong.storage import centre as db
from lienthong.storage.db import Queryable, Tx
from lienthong.storage.directory import latest_directory, save_directory

RELAY_PATH = "/v1/relay"
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR
# Hosts named in a TLS certificate come from the request's endpoints: DNS names of at most
# 253 characters (RFC 1035) or IP addresses (the X.509 layer tells them apart).
CERTIFICATE_HOST = pattern("host in a TLS certificate", r"[A-Za-z0-9.:\-]{1,253}", "192.0.2.7")


def ca_private_key(root: NodeKeys) -> Ed25519PrivateKey:
    """The X.509 CA key of an Ed25519 federation: the root Ed25519 key itself."""
    return Ed25519PrivateKey.from_private_bytes(root.signing.encode())


def ca_key_path(config: Config) -> Path:
    """The X.509 CA key of an ECDSA P-256 federation, beside the root key (sealed with the
    root key's passphrase when that one is)."""
    return config.data_dir / "keys" / "ca.key"


def load_ca_key(config: Config, ca_cert: x509.Certificate, root: NodeKeys) -> tls.TlsPrivateKey:
    """The key that signs the federation's TLS certificates: the root key when the CA
    certificate's key is Ed25519, else keys/ca.key (opened with the root passphrase)."""
    if tls.algorithm_of(ca_cert.public_key()) == tls.ED25519:
        return ca_private_key(root)
    path = ca_key_path(config)
    if not path.is_file():
        raise CentreError(
            f"{config.ca_path} is an ECDSA P-256 CA, but its key {path} is missing: restore "
            "keys/ca.key from the centre's backup"
        )
    data = path.read_bytes()
    passphrase = root_passphrase()
    if tls.is_sealed_key(data) and passphrase is None:
        raise CentreError(
            f"{path} is sealed with a passphrase: export {ROOT_PASSPHRASE_ENV}, or give it as "
            f"the systemd credential {ROOT_PASSPHRASE_CREDENTIAL}"
        )
    try:
        key = tls.key_from_pem(data, passphrase, where=f"CA key {path}")
    except LienthongError as exc:
        raise CentreError(f"{path}: {exc}") from None
    if tls.spki_der(key.public_key()) != tls.spki_der(ca_cert.public_key()):
        raise CentreError(f"{path} is not the key of the CA certificate {config.ca_path}")
    return key


def utc_datetime(ms: int) -> datetime:
    """Unix milliseconds as an aware datetime, to the second (X.509 time resolution)."""
    return datetime.fromtimestamp(ms // 1000, UTC)


def endpoint_hosts(endpoints: tuple[str, ...] | list[str], code: str = "-") -> list[str]:
    """The hosts of https endpoint URLs, for the subjectAltName of a TLS certificate."""
    hosts: list[str] = []
    for i, url in enumerate(endpoints):
        try:
            parts = urlsplit(url)
            host = parts.hostname if parts.scheme == "https" and parts.port != 0 else None
        except ValueError:  # a port out of range or a malformed IPv6 address
            host = None
        if not host or not CERTIFICATE_HOST.matches(host):
            raise MalformedRequest(
                f"registration request: endpoints[{i}] {url[:80]!r} is not an https URL with a "
                "host name or address",
                code,
            )
        if host not in hosts:
            hosts.append(host)
    return hosts


class Issuer:
    """Signs with the root key and the CA key, inside the caller's write transaction."""

    def __init__(
        self,
        config: Config,
        root: NodeKeys,
        clock: Callable[[], int],
        *,
        ca_key: tls.TlsPrivateKey | None = None,
    ) -> None:
        """`ca_key`: the CA key when the caller holds it already (`centre init`); else it
        is the root key or read from keys/ca.key (load_ca_key)."""
        self.config = config
        self.root = root
        self.clock = clock
        self.ca_pem = config.ca_path.read_bytes()
        try:
            self.ca_cert = tls.cert_from_pem(self.ca_pem)
            ca_root = tls.ca_root_key(self.ca_cert)
        except CertificateError as exc:
            raise CentreError(f"{config.ca_path}: {exc}") from None
        if ca_root != root.sign_public:
            raise CentreError(
                f"{config.ca_path} is not the CA of the root key {fingerprint(root.sign_public)}"
            )
        # Every TLS certificate of the federation has a key of the CA's algorithm.
        self.tls_algorithm = tls.algorithm_of(self.ca_cert.public_key())
        self.ca_key = ca_key or load_ca_key(config, self.ca_cert, root)
        if tls.spki_der(self.ca_key.public_key()) != tls.spki_der(self.ca_cert.public_key()):
            raise CentreError(f"the CA key given is not the key of {config.ca_path}")

    def check_tls_key(self, tls_key: bytes, code: str) -> None:
        """MalformedRequest unless a request's tls_key is a usable key of this federation's
        algorithm: checked before a request is stored, so a token is never bound to it."""
        try:
            algorithm = tls.algorithm_of(tls.public_key_from_bytes(tls_key))
        except CertificateError as exc:
            raise MalformedRequest(f"registration request: tls_key: {exc}", code) from None
        if algorithm != self.tls_algorithm:
            raise MalformedRequest(
                f"registration request: tls_key is an {algorithm} key, but this federation's "
                f"TLS keys are {self.tls_algorithm} (its CA's, GET /v1/ca): make the TLS key "
                f"with that algorithm (offline: lienthong enrol --request-out FILE --tls-key "
                f"{self.tls_algorithm})",
                code,
            )

    @property
    def url(self) -> str:
        return self.config.peer_url

    async def certify(
        self,
        tx: Tx,
        unit: db.UnitRecord,
        sign_key: bytes,
        enc_key: bytes,
        tls_key: bytes,
        *,
        endpoints: tuple[str, ...],
        reachable: bool,
        via: str,
        replaces: int | None = None,
        extra_hosts: tuple[str, ...] = (),
        validity_days: int | None = None,
    ) -> db.CertificateRecord:
        """Certify the keys under the next serial: node certificate and X.509 leaf alike.

        The name certified is the one the operator registered, not the one a
        request carries. Both start `clock_skew_seconds` early so that a unit
        whose clock is a little behind accepts them.
        """
        hosts = endpoint_hosts(endpoints, unit.code)
        hosts += [h for h in extra_hosts if h not in hosts]
        now = self.clock()
        not_before = now - self.config.get("security", "clock_skew_seconds") * 1000
        days = validity_days or self.config.get("centre", "certificate_validity_days")
        not_after = now + days * MS_PER_DAY
        serial = await db.next_value(tx, db.SERIAL)
        try:
            leaf = tls.issue_leaf(
                self.ca_key, self.ca_cert, tls_key,
                unit_code=unit.code, unit_name=unit.name, serial=serial, hosts=hosts,
                not_before=utc_datetime(not_before), not_after=utc_datetime(not_after),
            )  # fmt: skip
        except CertificateError as exc:
            raise MalformedRequest(f"registration request: tls_key: {exc}", unit.code) from None
        raw = issue_certificate(
            self.root, serial=serial, code=unit.code, name=unit.name,
            sign_key=sign_key, enc_key=enc_key,
            tls_sha256=hashlib.sha256(leaf.public_bytes(Encoding.DER)).digest(),
            endpoints=endpoints, reachable=reachable, not_before=not_before, not_after=not_after,
        )  # fmt: skip
        record = db.CertificateRecord(
            serial, unit.code, raw, tls.cert_to_pem(leaf), sign_key, enc_key, tls_key,
            now, not_after, via, replaces,
        )  # fmt: skip
        await db.add_certificate(tx, record)
        return record

    async def sign_directory(self, tx: Tx) -> Directory:
        """Sign the next version listing every unexpired certificate, in both forms (form 2
        also states the envelope versions units declared, docs/PROTOCOL.md 10); cache both
        in the store. Returns form 1: what enrolment answers carry and the centre holds."""
        now = self.clock()
        version = await db.next_value(tx, db.DIRECTORY_VERSION)
        certificates, revoked = await db.directory_contents(tx, now)
        protocols = await db.declared_protocols(tx, now)
        expires_at = now + self.config.get("centre", "directory_validity_hours") * MS_PER_HOUR
        contents = {
            "version": version, "issued_at": now, "expires_at": expires_at,
            "centre_name": self.config.name, "centre_url": self.url,
            "certificates": certificates, "revoked": revoked, "relays": [self.url + RELAY_PATH],
        }  # fmt: skip
        raw = issue_directory(self.root, **contents)
        directory = verify_directory(raw, self.root.sign_public, now=now, forms=(1,))
        # Form 2 also lists the organisations outside the directory and their gateway.
        units = {c.code for c in directory.certificates}
        external = read_external(self.config).published(units)
        form2 = issue_directory(self.root, **contents, protocols=protocols, external=external)
        # Nothing a unit would refuse; the certificates, the same bytes as form 1's, are not
        # decoded a second time (a 30,000-unit directory: bench/directory_national.py).
        verify_directory(form2, self.root.sign_public, now=now, decoded=directory)
        await save_directory(tx, version, raw, now, expires_at, now, form2=form2)
        await audit.append(
            tx, at=now, actor="centre", action="directory.signed", subject=f"v{version}",
            details={"certificates": len(certificates), "revoked": len(revoked),
                     "expires_at": expires_at, "reading_more_than_1": len(protocols)},
        )  # fmt: skip
        return directory

    def bundle(self, cert: db.CertificateRecord, directory: bytes) -> bytes:
        """What a unit stores after enrolment or rotation (docs/FEDERATION.md, "HTTP API")."""
        return pack(
            {
                "certificate": cert.raw,
                "tls_certificate": cert.tls_pem,
                "ca_certificate": self.ca_pem,
                "directory": directory,
            }
        )

    async def bundle_with_latest(self, conn: Queryable, cert: db.CertificateRecord) -> bytes:
        latest = await latest_directory(conn)
        assert latest is not None  # the centre signs a directory at init
        return self.bundle(cert, latest.raw)
