"""A centre and three units over real mutual TLS on 127.0.0.1 with real stores, for tests of
the relay and the peer API; plus the helpers those tests share (a letter, send, audit).
The federation's TLS certificates are Ed25519 (the CA key is the root key), or with
`tls_key="ecdsa-p256"` ECDSA P-256 under a CA key the root key endorses."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from cryptography import x509 as cx509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from lienthong.bootstrap.directory import DirectoryState
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import NodeKeys
from lienthong.node.centre.relay import add_relay_routes
from lienthong.node.config import Config, validate
from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.peers import peer_middleware
from lienthong.node.runtime import MAX_PEER_REQUEST
from lienthong.node.unit import documents as service
from lienthong.node.unit.delivery import DeliveryEngine
from lienthong.node.unit.peer_api import add_peer_routes
from lienthong.protocol.certificate import issue_certificate, verify_certificate
from lienthong.protocol.delivery import Delivery
from lienthong.protocol.directory import (
    Directory,
    ExternalOrganisation,
    issue_directory,
    verify_directory,
)
from lienthong.protocol.document import DocumentBody, DocumentMetadata, Organisation, Signer
from lienthong.protocol.envelope import seal_envelope
from lienthong.protocol.peer import CONTENT_TYPE
from lienthong.protocol.wire import pack, unpack
from lienthong.storage import audit, outbox
from lienthong.storage.blobs import BlobStore
from lienthong.storage.db import Store, unix_ms
from lienthong.storage.documents import get_envelope_raw
from tests.node.helpers import DAY, Clock

CENTRE, A, B, C = "000.00.00.H53", "000.00.02.H53", "000.00.03.H53", "000.00.04.H53"
UNKNOWN = "000.00.09.H53"
SUBJECT = "V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)"
# Safety net for awaits that must finish long before the relay's 25 s wait: a broken
# wake-up fails the test instead of passing late. Not a timing assertion.
BOUND = 10


@dataclass
class DirectoryHolder:
    """What node services need of bootstrap.directory.DirectoryState, over one Directory."""

    current: Directory

    @property
    def version(self) -> int:
        return self.current.version

    def key_lookup(self, code: str, serial: int) -> bytes:
        return self.current.signing_key(code, serial)


@dataclass
class Unit:
    ctx: NodeContext
    session: aiohttp.ClientSession
    engine: DeliveryEngine
    url: str = ""  # its peer API, when the federation serves the units' peer APIs


@dataclass
class Federation:
    root: NodeKeys
    clock: Clock
    centre_url: str
    centre: NodeContext
    units: dict[str, Unit]
    certificates: dict[str, bytes] = field(default_factory=dict)
    ca_path: Path = Path()
    # Each node's TLS certificate and key files, by unit code.
    pem: dict[str, tuple[Path, Path]] = field(default_factory=dict)

    @property
    def relay(self) -> str:
        return f"{self.centre_url}/v1/relay"

    def certify_endpoint(self, code: str, url: str, *, only: bool = False) -> None:
        """Re-issue `code`'s certificate (same serial and keys) listing `url` too (or, with
        `only`, instead of its endpoints), and put the new directory in force everywhere."""
        old = verify_certificate(self.certificates[code], self.root.sign_public, now=self.clock())
        self.certificates[code] = issue_certificate(
            self.root,
            serial=old.serial,
            code=code,
            name=old.name,
            sign_key=old.sign_key,
            enc_key=old.enc_key,
            tls_sha256=old.tls_sha256,
            endpoints=[url] if only else [*old.endpoints, url],
            reachable=old.reachable,
            not_before=old.not_before,
            not_after=old.not_after,
        )
        held = self.centre.directory.current
        new = self.directory(
            sorted(c.code for c in held.certificates), list(held.relays), held.version + 1
        )
        for ctx in [self.centre, *(u.ctx for u in self.units.values())]:
            ctx.directory.current = new  # type: ignore[misc]
            if isinstance(ctx.directory, DirectoryState):
                ctx.directory.version = new.version

    def serial(self, code: str) -> int:
        """The certificate serial of `code` (its signing key in envelopes and statuses)."""
        return self.centre.directory.current.current(code).serial

    def directory(
        self, codes: list[str], relays: list[str], version: int = 1, revoked: Iterable[int] = ()
    ) -> Directory:
        return verify_directory(
            self.directory_bytes(codes, relays, version, revoked),
            self.root.sign_public,
            now=self.clock(),
        )

    def directory_bytes(
        self, codes: list[str], relays: list[str], version: int = 1, revoked: Iterable[int] = ()
    ) -> bytes:
        now = self.clock()
        return issue_directory(
            self.root,
            version=version,
            issued_at=now,
            expires_at=now + 400 * DAY,
            centre_name="Trung tâm Tin học tỉnh Tây Ninh",
            centre_url=self.centre_url,
            certificates=[self.certificates[c] for c in codes],
            revoked=revoked,
            relays=relays,
        )


def letter() -> DocumentMetadata:
    return DocumentMetadata(
        signer=Signer("Trương Văn Hùng", "Chánh Văn phòng"),
        number="2340",
        notation="VP-TTTH",
        doc_type="cong_van",
        issuer=Organisation(name="Văn phòng UBND tỉnh", code=A),
        place="Tây Ninh",
        issued_on="2014-05-23",
        subject=SUBJECT,
    )


async def node_context(
    tmp: Path,
    code: str,
    keys: NodeKeys,
    directory: Directory,
    clock: Clock,
    role: str,
    *,
    root_public: bytes | None = None,
) -> NodeContext:
    """A node's context over real files; with `root_public` its directory is a real
    DirectoryState (verifies, caches and audits what is pushed), else a fixed holder."""
    data_dir = tmp / code
    data_dir.mkdir()
    values = validate({"unit": {"code": code, "name": f"Unit {code}"}, "node": {"role": role}})
    config = Config(data_dir=data_dir, values=values)
    store = await Store.open(config.store_path, clock=clock)
    held = (
        DirectoryHolder(directory)
        if root_public is None
        else DirectoryState(store, root_public, clock, directory)
    )
    return NodeContext(
        config=config,
        keys=keys,
        store=store,
        blobs=BlobStore(config.blob_dir),
        directory=held,  # type: ignore[arg-type]
        clock=clock,
    )


def issue_tls(
    tmp: Path,
    name: str,
    ca_key: tls.TlsPrivateKey,
    ca: cx509.Certificate,
    code: str,
    serial: int,
    start: datetime,
) -> tuple[Path, Path, cx509.Certificate]:
    """A TLS leaf for `code` signed by `ca` (a key of the CA's algorithm), written as PEM
    files `name`.crt and `name`.key."""
    tls_key = tls.generate_tls_key(tls.algorithm_of(ca_key))
    leaf = tls.issue_leaf(
        ca_key,
        ca,
        tls_key.public_key(),
        unit_code=code,
        unit_name=f"Unit {code}",
        serial=serial,
        hosts=["127.0.0.1"],
        not_before=start,
        not_after=start + timedelta(days=400),
    )
    cert_path, key_path = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert_path.write_bytes(tls.cert_to_pem(leaf))
    key_path.write_bytes(tls.key_to_pem(tls_key))
    return cert_path, key_path, leaf


def install_tls(ctx: NodeContext, pem: tuple[Path, Path], ca_path: Path) -> None:
    """Put a node's TLS certificate, key and the CA where its node.toml says they are, as
    enrolment does: pinned outbound contexts (node/pinning.py) load them from there."""
    config = ctx.config
    for source, target in ((pem[0], config.tls_cert_path), (pem[1], config.tls_key_path)):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    config.ca_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ca_path, config.ca_path)


async def _serve(app: web.Application, listener: socket.socket, context: ssl.SSLContext):
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, listener, ssl_context=context).start()
    return runner


def peer_app(ctx: NodeContext) -> web.Application:
    """A unit's peer API as node.runtime serves it."""
    app = web.Application(middlewares=[peer_middleware], client_max_size=MAX_PEER_REQUEST)
    app[CONTEXT] = ctx
    add_peer_routes(app)
    return app


@contextlib.asynccontextmanager
async def serving_as(fed: Federation, impostor: str, victim: str) -> AsyncIterator[int]:
    """Unit `impostor` also serving its peer API, with its own CA-issued leaf, at a second
    address, which the directory then lists as `victim`'s only endpoint (what a spoofed DNS
    answer or a LAN neighbour achieves); yields that address's port."""
    listener = socket.create_server(("127.0.0.1", 0))
    context = tls.server_context(*fed.pem[impostor], fed.ca_path)
    runner = await _serve(peer_app(fed.units[impostor].ctx), listener, context)
    port = listener.getsockname()[1]
    try:
        fed.certify_endpoint(victim, f"https://127.0.0.1:{port}", only=True)
        yield port
    finally:
        await runner.cleanup()
        listener.close()


@contextlib.asynccontextmanager
async def federation(
    tmp_path: Path, *, serve_units: bool = False, tls_key: str = tls.ED25519
) -> AsyncIterator[Federation]:
    """A centre serving the relay over mutual TLS and three units A, B, C; every TLS key
    and the CA's of the algorithm `tls_key`.

    By default the units are behind NAT (no endpoint: the engine goes to the relay)
    and read a fixed directory. With `serve_units` each unit serves its peer API
    over mutual TLS as node.runtime does (`Unit.url`) and holds a real
    DirectoryState, so a directory push is verified, cached and audited.
    """
    clock = Clock(unix_ms())  # X.509 validity is checked by OpenSSL against the real time
    root = NodeKeys.generate()
    start = datetime.now(UTC) - timedelta(minutes=5)
    if tls_key == tls.ED25519:
        ca_key: tls.TlsPrivateKey = Ed25519PrivateKey.from_private_bytes(root.signing.encode())
        endorsement = None
    else:  # as `centre init --tls-key ecdsa-p256` makes it
        ca_key = tls.generate_tls_key(tls_key)
        endorsement = tls.endorse_ca_key(root.signing, ca_key.public_key())
    ca = tls.issue_ca(
        ca_key,
        "Trung tâm CA",
        not_before=start,
        not_after=start + timedelta(days=400),
        endorsement=endorsement,
    )
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(tls.cert_to_pem(ca))
    codes = (CENTRE, A, B, C)
    served = codes if serve_units else (CENTRE,)
    listeners = {code: socket.create_server(("127.0.0.1", 0)) for code in served}
    urls = {code: f"https://127.0.0.1:{s.getsockname()[1]}" for code, s in listeners.items()}
    keys = {code: NodeKeys.generate() for code in codes}
    certificates, pem = {}, {}
    for serial, code in enumerate(codes, start=1):
        cert_path, key_path, leaf = issue_tls(tmp_path, code, ca_key, ca, code, serial, start)
        pem[code] = (cert_path, key_path)
        certificates[code] = issue_certificate(
            root,
            serial=serial,
            code=code,
            name=f"Unit {code}",
            sign_key=keys[code].sign_public,
            enc_key=keys[code].enc_public,
            tls_sha256=hashlib.sha256(leaf.public_bytes(Encoding.DER)).digest(),
            endpoints=[urls[code]] if code in urls else [],
            reachable=code in urls,  # units behind NAT: the engine goes to the relay
            not_before=clock() - DAY,
            not_after=clock() + 365 * DAY,
        )
    fed = Federation(root, clock, urls[CENTRE], None, {}, certificates, ca_path, pem)  # type: ignore[arg-type]
    directory = fed.directory(list(codes), [fed.relay])
    runners: list[web.AppRunner] = []
    try:
        fed.centre = await node_context(tmp_path, CENTRE, keys[CENTRE], directory, clock, "centre")
        install_tls(fed.centre, pem[CENTRE], ca_path)
        app = web.Application(middlewares=[peer_middleware])
        app[CONTEXT] = fed.centre
        add_relay_routes(app)
        add_peer_routes(app, unit=False)  # the blobs
        centre_tls = tls.server_context(*pem[CENTRE], ca_path)
        centre_tls.verify_mode = ssl.CERT_OPTIONAL  # as node.runtime does for the centre
        runners.append(await _serve(app, listeners[CENTRE], centre_tls))
        for code in (A, B, C):
            root_public = root.sign_public if serve_units else None
            ctx = await node_context(
                tmp_path, code, keys[code], directory, clock, "unit", root_public=root_public
            )
            install_tls(ctx, pem[code], ca_path)
            if serve_units:
                server_tls = tls.server_context(*pem[code], ca_path)  # client certificate required
                runners.append(await _serve(peer_app(ctx), listeners[code], server_tls))
            client_tls = tls.client_context(*pem[code], ca_path)
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_tls))
            fed.units[code] = Unit(ctx, session, DeliveryEngine(ctx, session), urls.get(code, ""))
        yield fed
    finally:
        for unit in fed.units.values():
            await unit.session.close()
        for runner in runners:
            await runner.cleanup()
        for unit in fed.units.values():
            await unit.ctx.store.close()
        if fed.centre is not None:
            await fed.centre.store.close()
        for listener in listeners.values():
            listener.close()


async def send(unit: Unit, to: list[str], files: list[Path] = ()) -> tuple[str, bytes]:
    envelope_id = await service.send_document(unit.ctx, letter(), to, files=files, actor="vt")
    async with unit.ctx.store.read() as conn:
        return envelope_id, await get_envelope_raw(conn, envelope_id)


async def state(unit: Unit, envelope_id: str, recipient: str) -> Delivery:
    async with unit.ctx.store.read() as conn:
        return await outbox.delivery_state(conn, envelope_id, recipient)


async def actions(ctx: NodeContext) -> list[str]:
    async with ctx.store.read() as conn:
        assert (await audit.verify(conn)).ok
        return [e.action for e in await audit.entries(conn, limit=1000)]


async def row_counts(ctx: NodeContext, tables: Iterable[str]) -> dict[str, int]:
    """Rows per table of `ctx`'s store (what a refusal must leave as it was)."""
    async with ctx.store.read() as conn:
        return {t: (await conn.fetchone(f"SELECT count(*) FROM {t}"))[0] for t in tables}  # noqa: S608 - fixed names


async def post_inbox(sender: Unit, receiver: Unit, envelopes=(), statuses=()) -> dict:
    """A batch posted as the delivery engine posts it; returns the per-item answers."""
    body = pack({"envelopes": list(envelopes), "statuses": list(statuses)})
    async with sender.session.post(
        f"{receiver.url}/v1/inbox", data=body, headers={"Content-Type": CONTENT_TYPE}
    ) as response:
        assert response.status == 200, await response.text()
        return unpack(await response.read(), what="answer", max_bytes=1 << 24)


def sealed(
    fed: Federation,
    signer: Unit,
    sender: str,
    to: list[str],
    *,
    created: int | None = None,
    envelope_id: str | None = None,
) -> bytes:
    """A letter to `to` signed with `signer`'s key whose header and signer hint name
    `sender`; created now unless `created`, under a new id unless `envelope_id`."""
    directory = fed.centre.directory.current
    return seal_envelope(
        keys=signer.ctx.keys,
        sender=sender,
        serial=fed.serial(sender),
        recipients={code: directory.current(code).enc_key for code in to},
        body=DocumentBody(metadata=letter()),
        created=fed.clock() if created is None else created,
        envelope_id=envelope_id,
    )


async def until(predicate: Callable[[], bool]) -> None:
    """Return once `predicate` holds (checked as the event loop turns), within BOUND."""

    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110 - the conditions belong to other components
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), BOUND)


def attachment(tmp_path: Path) -> Path:
    path = tmp_path / "danh-sach.pdf"
    path.write_bytes(b"%PDF-1.4 danh sach 26 don vi\n" * 5000)
    return path


def reading_version_2(fed: Federation, *, external: Iterable[ExternalOrganisation] = ()) -> None:
    """Put in force everywhere a directory (form 2) saying A, B and C read version 2, so
    envelopes carry the reason, the paper flag and several targets; `external`: the
    organisations outside the directory it lists, with their gateways."""
    held = fed.centre.directory.current
    now = fed.clock()
    raw = issue_directory(
        fed.root,
        version=held.version + 1,
        issued_at=now,
        expires_at=now + 400 * DAY,
        centre_name=held.centre_name,
        centre_url=fed.centre_url,
        certificates=[fed.certificates[c.code] for c in held.certificates],
        relays=list(held.relays),
        protocols={code: (1, 2) for code in (A, B, C)},
        external=list(external),
    )
    new = verify_directory(raw, fed.root.sign_public, now=now)
    for ctx in [fed.centre, *(u.ctx for u in fed.units.values())]:
        ctx.directory.current = new  # type: ignore[misc]
        if isinstance(ctx.directory, DirectoryState):
            ctx.directory.version = new.version
