"""The centre's HTTP API over real TLS on 127.0.0.1: CA, enrolment and its refusals,
approval, the directory with ETags, and key rotation over mutual TLS."""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lienthong.crypto import signing
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import fingerprint
from lienthong.node.centre.api import add_centre_routes
from lienthong.node.centre.issuer import MS_PER_DAY
from lienthong.node.centre.rules import Centre, centre_of
from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.peers import DIRECTORY_HEADER, peer_middleware
from lienthong.protocol.certificate import verify_certificate
from lienthong.protocol.directory import verify_directory
from lienthong.protocol.wire import pack, unwrap, wrap
from lienthong.storage import audit
from tests.node.centre_support import (
    UNIT_A,
    UNIT_B,
    DirectoryStub,
    FakeClock,
    UnitSide,
    centre_context,
    open_bundle,
)

CONTENT_TYPE = "application/x-lienthong"


@dataclass
class Served:
    url: str
    ctx: NodeContext
    centre: Centre
    ca_path: Path
    tmp: Path

    @property
    def directory(self) -> DirectoryStub:
        return self.ctx.directory  # type: ignore[return-value]

    def session(self, cert: tuple[Path, Path] | None = None) -> aiohttp.ClientSession:
        """A client trusting the centre's CA, presenting `cert` (cert, key) if given."""
        context = ssl.create_default_context(cafile=str(self.ca_path))
        if cert is not None:
            context.load_cert_chain(*cert)
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))

    async def enrol(self, unit: UnitSide) -> bytes:
        new = await self.centre.add_unit(unit.code, unit.name)
        async with self.session() as http:
            response = await http.post(f"{self.url}/v1/enrol", data=unit.request(new.token))
            assert response.status == 200, await response.text()
            return await response.read()

    async def refusals(self, action: str) -> int:
        async with self.ctx.store.read() as conn:
            entries = await audit.entries(conn, limit=1000)
        return sum(1 for e in entries if e.action == action)


@pytest.fixture
def serve(tmp_path: Path, clock: FakeClock) -> Callable[..., AbstractAsyncContextManager[Served]]:
    """A centre made by `centre init`, served over HTTPS on a free port of 127.0.0.1."""

    @contextlib.asynccontextmanager
    async def start(**options: object) -> AsyncIterator[Served]:
        ctx = await centre_context(tmp_path / "centre", clock, blobs=tmp_path / "blobs", **options)
        store = ctx.store
        centre = centre_of(ctx)
        config = ctx.config
        app = web.Application(middlewares=[peer_middleware])
        app[CONTEXT] = ctx
        add_centre_routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        context = tls.server_context(config.tls_cert_path, config.tls_key_path, config.ca_path)
        context.verify_mode = ssl.CERT_OPTIONAL
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield Served(f"https://127.0.0.1:{port}", ctx, centre, config.ca_path, tmp_path)
        finally:
            await runner.cleanup()
            await store.close()

    return start


@pytest.fixture
async def served(serve) -> AsyncIterator[Served]:
    async with serve() as running:
        yield running


async def test_the_ca_is_served_to_a_client_without_a_certificate(served):
    """GET /v1/ca answers the CA PEM, whose key is the root key the fingerprint names."""
    async with served.session() as http:
        response = await http.get(f"{served.url}/v1/ca")
        body = await response.read()
    assert response.status == 200
    assert response.content_type == "text/plain"
    assert body == served.ca_path.read_bytes()
    key = tls.cert_from_pem(body).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert fingerprint(key) == served.centre.fingerprint
    assert response.headers[DIRECTORY_HEADER] == "1"


async def test_enrolment_over_https_returns_the_certificates(served):
    """POST /v1/enrol answers 200 with the map; the served directory moves to the new version."""
    unit = UnitSide(*UNIT_A)
    new = await served.centre.add_unit(*UNIT_A)
    async with served.session() as http:
        response = await http.post(
            f"{served.url}/v1/enrol",
            data=unit.request(new.token),
            headers={"Content-Type": CONTENT_TYPE},
        )
        bundle = open_bundle(await response.read())
    assert response.status == 200 and response.content_type == CONTENT_TYPE
    cert = verify_certificate(bundle["certificate"], served.centre.root.sign_public)
    assert cert.code == UNIT_A[0] and cert.sign_key == unit.keys.sign_public
    assert served.directory.version == 2
    assert served.directory.current is not None
    assert served.directory.current.current(UNIT_A[0]).serial == cert.serial
    assert bundle["ca_certificate"] == served.ca_path.read_bytes()


def _other_key(raw: bytes) -> bytes:
    wrapper = unwrap(raw, what="request", max_bytes=8192)
    sig = signing.sign(UnitSide(*UNIT_A).keys.signing, signing.REGISTRATION, wrapper.signed)
    return wrap(wrapper.signed, sig, wrapper.signer)


async def test_each_enrolment_refusal_has_its_status_and_error(served, clock):
    """Every enrolment refusal has its HTTP status and error name, is audited, changes nothing."""
    used_by = UnitSide(*UNIT_A)
    used = await served.centre.add_unit(*UNIT_A)
    await served.centre.enrol(used_by.request(used.token))
    fresh = await served.centre.add_unit(*UNIT_B)
    fresh_id = fresh.token.split(".")[0]
    b = UnitSide(*UNIT_B)
    cases = [
        (b.request(f"{fresh_id}.{'A' * 32}"), 403, "WrongToken"),
        (b.request(f"{'f' * 16}.{'A' * 32}"), 403, "UnknownToken"),
        (UnitSide(*UNIT_A).request(used.token), 409, "TokenUsed"),
        (UnitSide(*UNIT_A).request(fresh.token, code=UNIT_A[0]), 403, "CodeMismatch"),
        (_other_key(b.request(fresh.token)), 403, "RequestSignature"),
        (b"\x00garbage", 400, "MalformedRequest"),
        (pack({"padding": b"\0" * 20_000}), 413, "RequestTooLarge"),
    ]
    version = served.directory.version
    async with served.session() as http:
        for n, (body, status, error) in enumerate(cases, start=1):
            response = await http.post(f"{served.url}/v1/enrol", data=body)
            answer = json.loads(await response.text())
            assert (response.status, answer["error"]) == (status, error), answer
            assert answer["message"]
            assert await served.refusals("enrolment.refused") == n
        clock.advance(7 * MS_PER_DAY + 1)
        response = await http.post(f"{served.url}/v1/enrol", data=b.request(fresh.token))
        assert (response.status, (await response.json())["error"]) == (410, "TokenExpired")
    assert served.directory.version == version == await served.centre.directory_version()
    (unit_b,) = [u for u in await served.centre.units() if u.code == UNIT_B[0]]
    assert unit_b.status == "pending" and unit_b.waiting_key is None


async def test_approval_over_https(serve):
    """With require_approval: 202 pending; after approve the same request gets 200."""
    async with serve(require_approval=True) as served:
        unit = UnitSide(*UNIT_A)
        new = await served.centre.add_unit(*UNIT_A)
        async with served.session() as http:
            response = await http.post(f"{served.url}/v1/enrol", data=unit.request(new.token))
            assert response.status == 202
            assert (await response.json())["status"] == "pending"
            approved = await served.centre.approve(UNIT_A[0])
            response = await http.post(f"{served.url}/v1/enrol", data=unit.request(new.token))
            assert response.status == 200
            bundle = open_bundle(await response.read())
        assert bundle["certificate"] == approved.certificate.raw
        assert served.directory.version == 2


async def test_directory_etag_and_conditional_requests(served):
    """GET /v1/directory has ETag "v<version>"; If-None-Match answers 304 until it changes."""
    url = f"{served.url}/v1/directory"
    async with served.session() as http:
        response = await http.get(url)
        first = await response.read()
        assert response.status == 200 and response.headers["ETag"] == '"v1"'
        directory = verify_directory(first, served.centre.root.sign_public, now=served.ctx.clock())
        assert directory.version == 1
        response = await http.get(url, headers={"If-None-Match": '"v1"'})
        assert response.status == 304 and await response.read() == b""
        assert response.headers["ETag"] == '"v1"'
        await served.enrol(UnitSide(*UNIT_A))
        response = await http.get(url, headers={"If-None-Match": '"v1"'})
        assert response.status == 200 and response.headers["ETag"] == '"v2"'
        newer = verify_directory(
            await response.read(), served.centre.root.sign_public, now=served.ctx.clock()
        )
        assert newer.version == 2 and newer.current(UNIT_A[0]) is not None
        response = await http.get(url, headers={"If-None-Match": 'W/"v2", "v1"'})
        assert response.status == 304


async def test_each_form_has_its_own_etag(served):
    """Without a query (a version-1 client) the directory comes in form 1 under "v<n>"; with
    ?form=2 in form 2 under "v<n>.2". A tag of one form never answers 304 for the other,
    `*` answers for both, and a form the centre does not know is served as form 1 (none
    asked) or as form 2 (a later form asked)."""
    url = f"{served.url}/v1/directory"
    root, now = served.centre.root.sign_public, served.ctx.clock()
    async with served.session() as http:
        response = await http.get(url, params={"form": "2"})
        assert response.status == 200 and response.headers["ETag"] == '"v1.2"'
        two = verify_directory(await response.read(), root, now=now)
        assert (two.version, two.form) == (1, 2)
        response = await http.get(url, params={"form": "2"}, headers={"If-None-Match": '"v1"'})
        assert response.status == 200 and response.headers["ETag"] == '"v1.2"'
        response = await http.get(url, headers={"If-None-Match": '"v1.2"'})
        assert response.status == 200 and response.headers["ETag"] == '"v1"'
        one = verify_directory(await response.read(), root, now=now, forms=(1,))
        assert one.same_listing(two)
        for tags, status in (('"v1.2", "v1"', 304), ("*", 304), ('"v1"', 200)):
            response = await http.get(url, params={"form": "2"}, headers={"If-None-Match": tags})
            assert response.status == status
        for form, etag in (("1", '"v1"'), ("x", '"v1"'), ("999", '"v1"'), ("3", '"v1.2"')):
            response = await http.get(url, params={"form": form})
            assert response.headers["ETag"] == etag, form


async def test_a_directory_without_form_2_is_served_in_form_1(served):
    """A centre whose newest directory was signed before migration 0012 answers ?form=2 with
    form 1 under "v<n>" (what a version-2 unit reads too) until it signs again."""
    async with served.ctx.store.write() as tx:
        await tx.execute("UPDATE directory_cache SET form2 = NULL")
    async with served.session() as http:
        response = await http.get(f"{served.url}/v1/directory", params={"form": "2"})
        assert response.status == 200 and response.headers["ETag"] == '"v1"'
        body = await response.read()
    directory = verify_directory(body, served.centre.root.sign_public, now=served.ctx.clock())
    assert directory.form == 1


async def test_rotation_over_mutual_tls(served):
    """A unit presenting its certificate rotates its keys: new serial, old one still listed."""
    old = UnitSide(*UNIT_A)
    bundle = await served.enrol(old)
    first = verify_certificate(open_bundle(bundle)["certificate"], served.centre.root.sign_public)
    new = UnitSide(*UNIT_A)
    async with served.session(old.write_tls(served.tmp / "unit-a", bundle)) as http:
        response = await http.post(f"{served.url}/v1/rotate", data=new.rotation(old, first.serial))
        assert response.status == 200, await response.text()
        rotated = open_bundle(await response.read())
    cert = verify_certificate(rotated["certificate"], served.centre.root.sign_public)
    assert cert.serial > first.serial and cert.sign_key == new.keys.sign_public
    directory = served.directory.current
    assert directory is not None and directory.version == 3
    assert directory.current(UNIT_A[0]).serial == cert.serial
    assert directory.signing_key(UNIT_A[0], first.serial) == old.keys.sign_public
    (record,) = [u for u in await served.centre.units() if u.code == UNIT_A[0]]
    assert record.last_seen == served.ctx.clock()


async def test_rotation_without_a_client_certificate_is_refused(served):
    """/v1/rotate without mutual TLS answers 403 UnknownPeer and is audited."""
    old = UnitSide(*UNIT_A)
    bundle = await served.enrol(old)
    root = served.centre.root.sign_public
    serial = verify_certificate(open_bundle(bundle)["certificate"], root).serial
    async with served.session() as http:
        response = await http.post(
            f"{served.url}/v1/rotate", data=UnitSide(*UNIT_A).rotation(old, serial)
        )
        answer = await response.json()
    assert (response.status, answer["error"]) == (403, "UnknownPeer")
    assert "no client certificate" in answer["message"]
    assert await served.refusals("rotation.refused") == 1
    assert served.directory.version == 2


def _foreign_identity(tmp: Path, code: str) -> tuple[Path, Path]:
    """A TLS certificate for `code` from a CA that is not the centre's."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = tls.generate_tls_key()
    ca = tls.issue_ca(ca_key, "Foreign CA", not_before=now, not_after=now + timedelta(days=30))
    key = tls.generate_tls_key()
    leaf = tls.issue_leaf(
        ca_key, ca, key.public_key(), unit_code=code, unit_name="Giả mạo", serial=7,
        hosts=[], not_before=now, not_after=now + timedelta(days=30),
    )  # fmt: skip
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "cert.pem").write_bytes(tls.cert_to_pem(leaf))
    (tmp / "tls.key").write_bytes(tls.key_to_pem(key))
    return tmp / "cert.pem", tmp / "tls.key"


async def test_a_certificate_from_another_ca_is_refused_on_rotate(served):
    """A client certificate from another CA fails the handshake; nothing is issued."""
    old = UnitSide(*UNIT_A)
    await served.enrol(old)
    foreign = _foreign_identity(served.tmp / "foreign", UNIT_A[0])
    async with served.session(foreign) as http:
        with pytest.raises(aiohttp.ClientError):
            response = await http.post(
                f"{served.url}/v1/rotate", data=UnitSide(*UNIT_A).rotation(old, 2)
            )
            await response.read()
    assert served.directory.version == 2
    async with served.session() as http:
        assert (await http.get(f"{served.url}/v1/ca")).status == 200


async def test_a_revoked_unit_is_refused_on_rotate(served):
    """A revoked unit's CA-valid TLS certificate is refused on /v1/rotate (UnknownPeer)."""
    old = UnitSide(*UNIT_A)
    bundle = await served.enrol(old)
    await served.centre.revoke(UNIT_A[0])
    assert served.directory.version == 3
    async with served.session(old.write_tls(served.tmp / "unit-a", bundle)) as http:
        response = await http.post(
            f"{served.url}/v1/rotate", data=UnitSide(*UNIT_A).rotation(old, 2)
        )
        answer = await response.json()
    assert (response.status, answer["error"]) == (403, "UnknownPeer")
    assert "revoked" in answer["message"]
    assert response.headers[DIRECTORY_HEADER] == "3"
    assert await served.refusals("rotation.refused") == 1
    assert served.directory.version == 3
