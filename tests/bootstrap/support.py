"""Helpers of the bootstrap tests: a root key with its CA, unit data directories, a fake centre.

The fake centre speaks the centre's HTTP API (GET /v1/ca, POST /v1/enrol,
POST /v1/rotate, GET /v1/directory) over real TLS on 127.0.0.1, and records
every request it receives.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from lienthong.bootstrap.enrolment import enrol_online
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import NodeKeys, fingerprint
from lienthong.crypto.keystore import save_keys
from lienthong.node import config as cfg
from lienthong.node.datadir import federation_saver
from lienthong.protocol.certificate import (
    RotationAuth,
    check_rotation,
    check_token,
    issue_certificate,
    verify_certificate,
    verify_registration,
)
from lienthong.protocol.directory import issue_directory
from lienthong.protocol.wire import pack
from lienthong.storage.db import unix_ms

HOUR = 3_600_000
DAY = 24 * HOUR
CENTRE_CODE = "000.00.00.H53"
UNIT_A = "000.00.05.H53"
UNIT_B = "000.00.04.H53"
TOKEN_ID = "0123456789abcdef"
TOKEN_SECRET = bytes(range(20))
TOKEN = f"{TOKEN_ID}.{base64.b32encode(TOKEN_SECRET).decode().rstrip('=')}"


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class Clock:
    """Unix ms that move only when a test says so; starts at the real time, so X.509
    certificates issued "now" also pass OpenSSL's own validity check."""

    def __init__(self, now: int | None = None) -> None:
        self.now = unix_ms() if now is None else now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


@dataclass
class Federation:
    """A root key that is also the X.509 CA key (as at the real centre), and what it signs."""

    root: NodeKeys = field(default_factory=NodeKeys.generate)
    now: int = field(default_factory=unix_ms)
    certificates: list[bytes] = field(default_factory=list)
    serial: int = 0

    def __post_init__(self) -> None:
        self.ca_key = Ed25519PrivateKey.from_private_bytes(self.root.signing.encode())
        self.ca_cert = tls.issue_ca(
            self.ca_key,
            "Test centre CA",
            not_before=utc(self.now - DAY),
            not_after=utc(self.now + 365 * DAY),
        )
        self.ca_pem = tls.cert_to_pem(self.ca_cert)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.root.sign_public)

    def leaf(self, code: str, public_key, hosts=("127.0.0.1",)) -> bytes:
        self.serial += 1
        cert = tls.issue_leaf(
            self.ca_key,
            self.ca_cert,
            public_key,
            unit_code=code,
            unit_name=f"Unit {code}",
            serial=self.serial,
            hosts=list(hosts),
            not_before=utc(self.now - DAY),
            not_after=utc(self.now + 365 * DAY),
        )
        return tls.cert_to_pem(cert)

    def certify(
        self, code: str, keys: NodeKeys, tls_pem: bytes, endpoints: list[str] | None = None
    ) -> bytes:
        """A node certificate for `keys`, listed in every directory signed afterwards."""
        self.serial += 1
        der = tls.cert_from_pem(tls_pem).public_bytes(Encoding.DER)
        raw = issue_certificate(
            self.root,
            serial=self.serial,
            code=code,
            name=f"Unit {code}",
            sign_key=keys.sign_public,
            enc_key=keys.enc_public,
            tls_sha256=hashlib.sha256(der).digest(),
            endpoints=endpoints or [],
            reachable=bool(endpoints),
            not_before=self.now - DAY,
            not_after=self.now + 365 * DAY,
        )
        self.certificates.append(raw)
        return raw

    def directory(
        self,
        version: int,
        *,
        expires_in: int = 7 * DAY,
        revoked=(),
        issued_at=None,
        protocols: dict[str, list[int]] | None = None,
    ) -> bytes:
        """Directory `version` in form 1, or with `protocols` in form 2."""
        return issue_directory(
            self.root,
            version=version,
            issued_at=self.now if issued_at is None else issued_at,
            expires_at=self.now + expires_in,
            centre_name="Trung tâm Tin học",
            centre_url="https://127.0.0.1:1",
            certificates=list(self.certificates),
            revoked=revoked,
            protocols=protocols,
        )


@dataclass
class TlsFiles:
    cert: Path
    key: Path
    ca: Path

    def server(self) -> ssl.SSLContext:
        return tls.server_context(self.cert, self.key, self.ca)

    def client(self) -> ssl.SSLContext:
        return tls.client_context(self.cert, self.key, self.ca)


def write_tls(fed: Federation, directory: Path, code: str) -> TlsFiles:
    """A TLS key and leaf for `code` (SAN 127.0.0.1) and the CA, as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    key = tls.generate_tls_key()
    files = TlsFiles(directory / "cert.pem", directory / "tls.key", directory / "ca.pem")
    files.cert.write_bytes(fed.leaf(code, key.public_key()))
    files.key.write_bytes(tls.key_to_pem(key))
    files.key.chmod(0o600)
    files.ca.write_bytes(fed.ca_pem)
    return files


def make_unit_dir(tmp: Path, code: str = UNIT_A, **federation: str) -> tuple[cfg.Config, NodeKeys]:
    """A data directory as `lienthong init` leaves it: node.toml and the identity key."""
    data_dir = tmp / code
    (data_dir / "keys").mkdir(parents=True, mode=0o700)
    keys = NodeKeys.generate()
    save_keys(data_dir / "keys" / "identity.key", keys)
    values = cfg.validate(
        {
            "unit": {"code": code, "name": f"Unit {code}"},
            "node": {"listen": "127.0.0.1:7443"},
            "federation": dict(federation),
        }
    )
    (data_dir / cfg.CONFIG_FILE).write_text(cfg.render(values), encoding="utf-8")
    return cfg.load_config(data_dir), keys


def files_under(path: Path) -> dict[str, bytes]:
    """Every file below `path` with its bytes: compared to prove nothing was written."""
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path)): p.read_bytes() for p in files}


class FakeCentre:
    """The centre's HTTP API over TLS with a server certificate from `fed`'s CA."""

    def __init__(self, fed: Federation, tmp: Path, *, ca_pem: bytes | None = None) -> None:
        self.fed = fed
        self.ca_served = ca_pem or fed.ca_pem
        self.files = write_tls(fed, tmp / "centre-tls", CENTRE_CODE)
        self.requests: list[str] = []
        self.pending = False
        self.version = 0
        self.answer_keys: NodeKeys | None = None  # certify these keys instead (a wrong answer)
        self.refusal: tuple[int, dict] | None = None  # (status, JSON) to answer /v1/enrol with
        self.app = web.Application()
        self.app.router.add_get("/v1/ca", self.get_ca)
        self.app.router.add_post("/v1/enrol", self.post_enrol)
        self.app.router.add_post("/v1/rotate", self.post_rotate)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FakeCentre:
        context = self.files.server()
        context.verify_mode = ssl.CERT_OPTIONAL  # enrolling units have no certificate yet
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"https://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    async def enrol(self, config: cfg.Config, keys: NodeKeys, **options: object):
        """enrol_online at this centre as `lienthong enrol --centre URL --fingerprint FP
        --token TOKEN` calls it, pinning `fed`'s CA; `options` replace or add arguments."""
        arguments = {
            "centre_url": self.url,
            "fingerprint": self.fed.fingerprint,
            "token": TOKEN,
            "save_federation": federation_saver(config),
            **options,
        }
        return await enrol_online(config.node_settings, keys, **arguments)

    async def get_ca(self, request: web.Request) -> web.Response:
        self.requests.append("GET /v1/ca")
        return web.Response(body=self.ca_served, content_type="text/plain")

    async def post_enrol(self, request: web.Request) -> web.Response:
        self.requests.append("POST /v1/enrol")
        if self.refusal is not None:
            return web.json_response(self.refusal[1], status=self.refusal[0])
        registration = verify_registration(await request.read())
        check_token(registration, TOKEN_ID, TOKEN_SECRET)
        if self.pending:
            return web.json_response({"status": "pending", "message": "wait"}, status=202)
        return web.Response(body=self.answer(registration), content_type="application/x-lienthong")

    async def post_rotate(self, request: web.Request) -> web.Response:
        self.requests.append("POST /v1/rotate")
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        if not peer:
            return web.json_response({"error": "UnknownPeer", "message": "no cert"}, status=403)
        registration = verify_registration(await request.read())
        assert isinstance(registration.auth, RotationAuth)
        root = self.fed.root.sign_public
        held = [verify_certificate(c, root) for c in self.fed.certificates]
        old = next(c for c in held if c.serial == registration.auth.serial)
        check_rotation(registration, old.sign_key)
        return web.Response(body=self.answer(registration), content_type="application/x-lienthong")

    def answer(self, registration) -> bytes:
        """The 200 answer: certificate, TLS leaf, CA and a new directory."""
        tls_pem = self.fed.leaf(registration.code, registration.tls_key)
        if self.answer_keys is not None:
            sign_key, enc_key = self.answer_keys.sign_public, self.answer_keys.enc_public
        else:
            sign_key, enc_key = registration.sign_key, registration.enc_key
        self.fed.serial += 1
        der = tls.cert_from_pem(tls_pem).public_bytes(Encoding.DER)
        raw = issue_certificate(
            self.fed.root,
            serial=self.fed.serial,
            code=registration.code,
            name=registration.name,
            sign_key=sign_key,
            enc_key=enc_key,
            tls_sha256=hashlib.sha256(der).digest(),
            endpoints=list(registration.endpoints),
            reachable=registration.reachable,
            not_before=self.fed.now - DAY,
            not_after=self.fed.now + 365 * DAY,
        )
        self.fed.certificates.append(raw)
        self.version += 1
        return pack(
            {
                "certificate": raw,
                "tls_certificate": tls_pem,
                "ca_certificate": self.fed.ca_pem,
                "directory": self.fed.directory(self.version),
            }
        )
