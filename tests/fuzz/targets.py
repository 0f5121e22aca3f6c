"""The servers the HTTP fuzz tests attack, seeded with real traffic: unit B's peer API or the
centre's relay in a federation over mutual TLS (tests/node/tls_federation.py), and a centre
made by `centre init` serving its API as node.runtime does."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from lienthong.crypto import signing
from lienthong.crypto import x509 as tls
from lienthong.node.centre.api import add_centre_routes
from lienthong.node.centre.relay import add_relay_routes
from lienthong.node.centre.rules import centre_of
from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.peers import peer_middleware
from lienthong.node.pinning import pinning_of
from lienthong.node.runtime import MAX_PEER_REQUEST
from lienthong.node.unit import documents as service
from lienthong.node.unit.peer_api import add_peer_routes
from lienthong.protocol.certificate import make_registration, verify_certificate
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.status import make_status
from lienthong.protocol.wire import pack, unit_signer, unpack, unwrap
from lienthong.storage.documents import get_envelope_raw
from tests.fuzz.harness import Served, exchange, serve
from tests.node.centre_support import (
    UNIT_A,
    UNIT_B,
    FakeClock,
    UnitSide,
    centre_context,
    open_bundle,
    split_token,
)
from tests.node.tls_federation import (
    CENTRE,
    UNKNOWN,
    A,
    B,
    C,
    Federation,
    Unit,
    attachment,
    letter,
)

MAX_ANSWER = 64 * 1024 * 1024  # what the tests read of an answer


def peer_app(ctx: NodeContext, *, centre: bool = False) -> web.Application:
    """The peer API as node.runtime builds it, for a listener this file controls."""
    app = web.Application(middlewares=[peer_middleware], client_max_size=MAX_PEER_REQUEST)
    app[CONTEXT] = ctx
    if centre:
        add_relay_routes(app)
    add_peer_routes(app, unit=not centre)
    return app


@dataclass(repr=False)
class Target:
    """A federation whose unit B (or centre) is under fuzz; A is the caller."""

    fed: Federation
    sender: Unit
    ctx: NodeContext  # the node under fuzz
    url: str  # its API as the federation serves it
    raw: Served  # the same API on a listener only raw requests use
    client_tls: ssl.SSLContext
    envelopes: list[Any] = field(default_factory=list)  # decoded signed maps, delivered already
    statuses: list[Any] = field(default_factory=list)
    known: list[Any] = field(default_factory=list)  # values that mean something to the node
    blob_id: str = ""  # a blob the node holds
    blob: bytes = b""
    fresh_id: str = ""  # a blob it has never seen
    fresh: bytes = b""
    back_id: str = ""  # the letter B sent A: an id B holds as its own document

    def __repr__(self) -> str:
        return f"Target({self.url})"

    def _repr_pretty_(self, printer, cycle) -> None:  # how hypothesis prints a failing case
        printer.text(repr(self))

    def sign(self, domain: str):
        return lambda data: signing.sign(self.sender.ctx.keys.signing, domain, data)

    @property
    def hint(self) -> str:
        return unit_signer(A, self.fed.serial(A))


def decoded(raw: bytes) -> Any:
    return unpack(
        unwrap(raw, what="seed", max_bytes=1 << 24).signed, what="seed", max_bytes=1 << 24
    )


async def post(unit: Unit, url: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await exchange(unit.session, "POST", url, data=pack(body))
    assert answer.status == 200, answer
    return unpack(answer.body, what="answer", max_bytes=MAX_ANSWER)


async def send(unit: Unit, to: list[str], files=(), *, number: int) -> tuple[str, bytes]:
    """A letter numbered `number` (the outgoing register takes each number once a year)."""
    metadata = dataclasses.replace(letter(), number=f"{number:02d}")
    envelope_id = await service.send_document(unit.ctx, metadata, to, files=files, actor="vt")
    async with unit.ctx.store.read() as conn:
        return envelope_id, await get_envelope_raw(conn, envelope_id)


async def seeded(fed: Federation, tmp_path, *, centre: bool) -> Target:
    """A sent B two letters (one with an attachment) and B one letter to A, each delivered
    with its statuses; the target (B's peer API, or the relay) already holds them all."""
    a, b = fed.units[A], fed.units[B]
    ctx = fed.centre if centre else b.ctx
    url = fed.centre_url if centre else b.url
    pem = fed.pem[CENTRE] if centre else fed.pem[B]
    context = tls.server_context(*pem, fed.ca_path)
    if centre:
        context.verify_mode = ssl.CERT_OPTIONAL
    raw_served = await serve(peer_app(ctx, centre=centre), context)
    first_id, first = await send(a, [B], number=1)
    second_id, second = await send(a, [B], [attachment(tmp_path)], number=2)
    (blob_id,) = [p.parent.name + p.name for p in a.ctx.blobs.root.glob("??/*")]
    back_id, back = await send(b, [A], number=3)
    pins = pinning_of(a.ctx)
    for base, pinned in ((b.url, pins.for_unit(B)), (fed.centre_url, pins.for_url(fed.centre_url))):
        await a.engine.upload_blob(base, blob_id, None, tls=pinned)
    (answer,) = (await post(b, f"{a.url}/v1/inbox", {"envelopes": [back]}))["envelopes"]
    receipt = answer["status"]
    accepted = make_status(
        a.ctx.keys,
        sender=A,
        serial=fed.serial(A),
        to=B,
        envelope=back_id,
        code=StatusCode.ACCEPTED,
        number=1,
        year=2025,
        at=fed.clock(),
    )
    items = {"envelopes": [first, second], "statuses": [receipt, accepted]}
    if centre:
        await post(a, f"{url}/v1/relay/deposit", {"to": B, **items})
        await post(b, f"{url}/v1/relay/deposit", {"to": A, "envelopes": [back], "statuses": []})
    else:
        answers = await post(a, f"{url}/v1/inbox", items)
        assert all(x["ok"] for x in answers["envelopes"] + answers["statuses"]), answers
    fresh = b"bytes no node has seen " * 3000
    return Target(
        fed=fed,
        sender=a,
        ctx=ctx,
        url=url,
        raw=raw_served,
        client_tls=tls.client_context(*fed.pem[A], fed.ca_path),
        envelopes=[decoded(first), decoded(second)],
        statuses=[decoded(receipt), decoded(accepted)],
        known=[
            A,
            B,
            C,
            CENTRE,
            UNKNOWN,
            first_id,
            second_id,
            back_id,
            blob_id,
            fed.serial(A),
            fed.serial(B),
            fed.clock(),
            fed.clock() + 10**9,
        ],
        blob_id=blob_id,
        blob=a.ctx.blobs.path(blob_id).read_bytes(),
        fresh_id=hashlib.sha256(fresh).hexdigest(),
        fresh=fresh,
        back_id=back_id,
    )


@dataclass(repr=False)
class CentreApi:
    """A centre made by `centre init`, serving its API, the relay and blobs as node.runtime
    does; unit U enrolled over HTTPS and holding its TLS identity, V with a token only."""

    ctx: NodeContext
    url: str
    raw: Served
    anonymous: ssl.SSLContext  # trusts the CA, presents no certificate (a unit enrolling)
    unit_tls: ssl.SSLContext  # U's certificate: may call /v1/rotate
    seeds: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # route: (message, key)
    known: list[Any] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"CentreApi({self.url})"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


@contextlib.asynccontextmanager
async def centre_api(tmp_path: Path) -> AsyncIterator[CentreApi]:
    """A centre made by `centre init` under `tmp_path`, served twice (see CentreApi)."""
    clock = FakeClock()
    ctx = await centre_context(tmp_path / "centre", clock, blobs=tmp_path / "blobs")
    store = ctx.store
    centre = centre_of(ctx)
    config = ctx.config

    def app() -> web.Application:
        app = peer_app(ctx, centre=True)
        add_centre_routes(app)
        return app

    context = tls.server_context(config.tls_cert_path, config.tls_key_path, config.ca_path)
    context.verify_mode = ssl.CERT_OPTIONAL
    served, raw_served = await serve(app(), context), await serve(app(), context)
    anonymous = ssl.create_default_context(cafile=str(config.ca_path))
    try:
        u, v = UnitSide(*UNIT_A), UnitSide(*UNIT_B)
        token = (await centre.add_unit(u.code, u.name)).token
        enrol = u.request(token)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=anonymous)) as http:
            answer = await exchange(http, "POST", f"{served.url}/v1/enrol", data=enrol)
        assert answer.status == 200, answer
        serial = verify_certificate(
            open_bundle(answer.body)["certificate"], centre.root.sign_public
        ).serial
        unit_tls = tls.client_context(
            *u.write_tls(tmp_path / "unit-u", answer.body), config.ca_path
        )
        v_token_id, _ = split_token((await centre.add_unit(v.code, v.name)).token)
        wrong_secret = make_registration(
            v.keys,
            code=v.code,
            name=v.name,
            tls_key=v.tls_public,
            endpoints=list(v.endpoints),
            reachable=True,
            created=1,
            token_id=v_token_id,
            token_secret=b"\x00" * 20,
        )
        stranger = UnitSide(*UNIT_A)  # new keys; the rotation is signed by a key U never had
        rotation = stranger.rotation(UnitSide(*UNIT_A), serial)
        yield CentreApi(
            ctx=ctx,
            url=served.url,
            raw=raw_served,
            anonymous=anonymous,
            unit_tls=unit_tls,
            seeds={
                "/v1/enrol": (decoded(enrol), u.keys),
                "/v1/enrol ": (decoded(wrong_secret), v.keys),
                "/v1/rotate": (decoded(rotation), stranger.keys),
            },
            known=[
                u.code,
                v.code,
                UNKNOWN,
                CENTRE,
                serial,
                v_token_id,
                u.keys.sign_public,
                u.tls_public,
                "https://127.0.0.1:7443",
                "https://[::1]:1",
                "http://x",
                clock(),
            ],
        )
    finally:
        await served.runner.cleanup()
        await raw_served.runner.cleanup()
        await store.close()
