"""Certificate renewal with real nodes: a centre and units of this process over mutual TLS on
127.0.0.1 with real stores and key files, all reading one injected clock (the time-travel
province of tests/node/test_time_travel.py).

Each unit runs its renewal task (node/unit/renewal.py). It makes a round at start and then
every hour of real time; once the clock has moved, a test starts the next round at once
with `wake()`, as it calls a refresh round where an hour of waiting would. OpenSSL checks
X.509 validity against the real time: each province starts in the past so that every
certificate the centre issues at a travelled time has already begun in real time.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket

import aiohttp
from aiohttp import web

from lienthong.bootstrap.enrolment import centre_context
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import NodeKeys, fingerprint
from lienthong.crypto.keystore import load_keys
from lienthong.node import config as cfg
from lienthong.node.centre.rules import centre_of
from lienthong.node.datadir import config_saver
from lienthong.node.runtime import Node, open_context
from lienthong.node.unit import documents as service
from lienthong.node.unit.renewal import PENDING, REFUSED, RENEWAL, RENEWED, Renewal
from lienthong.protocol.certificate import (
    NodeCertificate,
    make_registration,
    verify_certificate,
)
from lienthong.protocol.delivery import Delivery
from tests.node.helpers import DAY
from tests.node.test_time_travel import (
    CENTRE,
    Province,
    _state_is,
    audited,
    copies,
    eventually,
    first_attempt,
    numbered_letter,
    province,
    send,
    verified,
)

A, B, C = "000.00.02.H53", "000.00.03.H53", "000.00.04.H53"
STEP = 3 * DAY  # days pass in steps shorter than half a directory's week: none expires


def renewal_of(node: Node) -> Renewal:
    renewal = node.ctx.services.get(RENEWAL)
    assert renewal is not None, "the unit runs no renewal task"
    return renewal


def own(node: Node) -> NodeCertificate:
    """The unit's current certificate in the directory it holds."""
    cert = node.ctx.directory.current.current(node.ctx.config.code)
    assert cert is not None
    return cert


async def round_ends(node: Node, outcome: str) -> None:
    """Start the unit's next renewal round now and wait until its outcome is `outcome`."""
    renewal = renewal_of(node)
    renewal.last = ""
    renewal.wake()

    async def done() -> bool:
        return renewal.last == outcome

    await eventually(done, f"renewal round ending {outcome!r} at {node.ctx.config.code}")


async def post_renewal(p: Province, raw: bytes) -> tuple[int, dict]:
    """POST /v1/renew as a unit whose certificate has ended does: TLS to the centre's CA,
    no client certificate."""
    context = centre_context(p.centre.ctx.config.ca_path.read_bytes())
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{p.centre_url}/v1/renew", data=raw, ssl=context) as response,
    ):
        body = await response.json() if response.status != 200 else {}
        return response.status, body


def files_of(p: Province, code: str) -> tuple[str, str, str]:
    """A unit's TLS certificate, TLS key and CA files."""
    d = p.dirs[code]
    return str(d / "tls" / "cert.pem"), str(d / "keys" / "tls.key"), str(d / "tls" / "ca.pem")


async def presented_by_listener(p: Province, node: Node, client: str) -> bytes:
    """SHA-256 of the TLS certificate the unit's peer listener presents to `client`."""
    context = tls.client_context(*files_of(p, client))
    _, writer = await asyncio.open_connection("127.0.0.1", node.peer_port, ssl=context)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    return hashlib.sha256(der).digest()


async def presented_by_session(p: Province, node: Node, server: str) -> bytes:
    """SHA-256 of the client certificate the unit's own HTTP session presents to a server
    holding `server`'s TLS files (on a new port: a new connection)."""

    async def echo(request: web.Request) -> web.Response:
        der = request.transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return web.Response(body=hashlib.sha256(der).digest())

    app = web.Application()
    app.router.add_get("/", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        context = tls.server_context(*files_of(p, server))
        await web.SockSite(runner, listener, ssl_context=context).start()
        port = listener.getsockname()[1]
        assert node.session is not None
        async with node.session.get(f"https://127.0.0.1:{port}/") as response:
            return await response.read()
    finally:
        await runner.cleanup()
        listener.close()


async def tokens_of(p: Province, code: str) -> int:
    async with p.centre.ctx.store.read() as conn:
        row = await conn.fetchone("SELECT count(*) FROM centre_tokens WHERE code = ?", (code,))
    return row[0]


async def refusals(p: Province) -> list[str]:
    return [e.details["error"] for e in await audited(p.centre, "renewal.refused")]


# -- before the end: by itself ----------------------------------------------------------------


async def test_a_unit_29_days_before_expiry_renews_by_itself_and_keeps_delivering(tmp_path):
    """A's certificate (90 days) has 29 days left: its renewal round rotates its signing and
    TLS keys through the centre and installs them without a restart. It goes on exchanging
    both ways: its next letter to B goes on a new connection under the new certificate (not
    on the one its last letter left open), the letter C sealed to A before the renewal
    opens (the encryption key stays), the old key is kept in keys/, and A's letters signed
    under either certificate verify at B, through and beyond the old certificate's end."""
    async with province(tmp_path, [A], days_ago=62, certificate_validity_days=90) as p:
        a = p.nodes[A]
        await p.days_pass(10, step=STEP)
        for code in (B, C):  # they join later, so their certificates outlive the test
            await p.enrol(code)
            await p.start(code)
        await p.refresh()
        await p.days_pass(51, step=STEP)
        old = own(a)
        assert old.not_after - p.clock() == 29 * DAY
        await p.stop(C)  # C's clerk seals a letter to A now; C's node sends it later
        ctx = await open_context(p.dirs[C], clock=p.clock)
        try:
            sealed = await service.send_document(ctx, numbered_letter(), [A], actor="vt")
        finally:
            await ctx.store.close()
        before = await send(a, [B])  # its connection stays open for the next letter
        assert (await first_attempt(a, before, B)).state == Delivery.ARRIVED
        assert await presented_by_listener(p, a, B) == old.tls_sha256
        assert await presented_by_session(p, a, B) == old.tls_sha256

        await round_ends(a, RENEWED)
        new = own(a)
        assert new.serial > old.serial and new.not_after == p.clock() + 90 * DAY
        assert (new.enc_key, a.ctx.keys.sign_public) == (old.enc_key, new.sign_key)
        assert new.sign_key != old.sign_key and new.tls_sha256 != old.tls_sha256
        assert await presented_by_listener(p, a, B) == new.tls_sha256
        assert await presented_by_session(p, a, B) == new.tls_sha256
        archived = p.dirs[A] / "keys" / f"identity.key.{old.serial}.old"
        assert load_keys(archived).sign_public == old.sign_key
        (entry,) = await audited(a, "certificate.renewed")
        assert entry.details["serial"] == new.serial
        (rotation,) = await audited(p.centre, "rotation")
        assert rotation.details["replaces"] == old.serial

        await p.refresh()  # B's refresh round: it now knows only A's new TLS certificate
        b = p.nodes[B]
        after = await send(a, [B])
        assert (await first_attempt(a, after, B)).state == Delivery.ARRIVED
        for envelope_id, serial in ((before, old.serial), (after, new.serial)):
            check = await verified(b, envelope_id)
            assert check["verified"] and check["serial"] == serial, check
        c = await p.start(C)  # it sends the letter at once, directly or by the relay
        await eventually(lambda: _stored(a, sealed), "C's letter at A")
        await eventually(lambda: _state_is(c, sealed, A, Delivery.ARRIVED), "A's 01 at C")

        await p.days_pass(31, step=STEP)  # past the old certificate's end
        assert old.serial not in [c.serial for c in b.ctx.directory.current.certificates]
        later = await send(a, [B])
        assert (await first_attempt(a, later, B)).state == Delivery.ARRIVED
        answer = await send(b, [A])
        assert (await first_attempt(b, answer, A)).state == Delivery.ARRIVED
        assert (await verified(b, before))["verified"]


async def test_with_approval_required_a_renewal_before_the_end_waits_for_the_operator(
    tmp_path,
):
    """With centre.require_approval, A's renewal 29 days before the end is held (202 to its
    mutual-TLS request); A keeps working under its certificate meanwhile; once the operator
    approves, A's next round (now to /v1/renew, as its certificate is no longer the one the
    centre lists) installs the certificate."""
    async with province(tmp_path, [A], days_ago=62, certificate_validity_days=90) as p:
        a = p.nodes[A]
        config = cfg.load_config(p.dirs[CENTRE])  # the operator turns approval on
        values = {section: dict(keys) for section, keys in config.values.items()}
        values["centre"]["require_approval"] = True
        config_saver(config)(values)
        await p.restart(CENTRE)
        await p.days_pass(61, step=STEP)
        old = own(a)
        await round_ends(a, PENDING)
        assert own(a).serial == old.serial and a.ctx.keys.sign_public == old.sign_key
        (held,) = await audited(p.centre, "renewal.pending")
        assert held.details["ended_at"] is None
        approved = await centre_of(p.centre.ctx).approve(A, actor="operator:test")
        await round_ends(a, RENEWED)
        assert own(a).serial == approved.certificate.serial
        assert a.ctx.keys.sign_public == approved.certificate.sign_key


async def test_a_request_signed_by_a_key_that_is_not_the_units_latest_is_refused(tmp_path):
    """Once A has renewed, its old key no longer renews anything: a request it signs naming
    the old certificate (409 StaleCertificate) or naming the new one (403
    RotationSignature) is refused over TLS, audited at the centre, and nothing is issued."""
    async with province(tmp_path, [A], days_ago=62, certificate_validity_days=90) as p:
        a = p.nodes[A]
        await p.days_pass(61, step=STEP)
        old = own(a)
        await round_ends(a, RENEWED)
        new = own(a)
        old_keys = load_keys(p.dirs[A] / "keys" / f"identity.key.{old.serial}.old")
        fresh = NodeKeys.generate()  # any keys to certify
        version = p.centre.ctx.directory.version
        answers = []
        for serial in (old.serial, new.serial):
            raw = make_registration(
                fresh,
                code=A,
                name=f"Unit {A}",
                tls_key=bytes(32),
                endpoints=[],
                reachable=False,
                created=p.clock(),
                old_keys=old_keys,
                old_serial=serial,
            )
            answers.append(await post_renewal(p, raw))
        assert [(status, body["error"]) for status, body in answers] == [
            (409, "StaleCertificate"),
            (403, "RotationSignature"),
        ]
        assert await refusals(p) == ["StaleCertificate", "RotationSignature"]
        assert p.centre.ctx.directory.version == version


async def _stored(node: Node, envelope_id: str) -> bool:
    return await copies(node, envelope_id) == 1


# -- after the end: the operator approves ----------------------------------------------------


async def ended_and_asking(p: Province) -> Node:
    """A (30-day certificate) enrols and is switched off; B joins 20 days later; 40 days
    after A's enrolment (its certificate ended 10 days ago) A starts again: its first
    renewal round asks the centre, which holds the request. Returns A's node."""
    await p.enrol(A)
    await p.days_pass(20, step=STEP)
    await p.enrol(B)
    await p.start(B)
    await p.days_pass(20, step=STEP)
    ended = open_certificate(p, A).not_after
    assert p.clock() - ended == 10 * DAY
    a = await p.start(A)
    await eventually(lambda: _last_is(a, PENDING), "A's renewal request held")
    return a


async def _last_is(node: Node, outcome: str) -> bool:
    return renewal_of(node).last == outcome


def open_certificate(p: Province, code: str) -> NodeCertificate:
    """The certificate a unit holds in its data directory."""
    raw = (p.dirs[code] / "certificate.bin").read_bytes()
    return verify_certificate(raw, p.centre.ctx.directory.root_public)


async def test_a_unit_whose_certificate_ended_10_days_ago_renews_once_approved(tmp_path):
    """A, ended ten days ago, asks with its old key (no token); the centre holds it and shows
    it awaiting approval with the new key; the operator approves; A's next round installs
    the certificate and A exchanges with B again both ways, with no new token issued."""
    async with province(tmp_path, [], days_ago=41, certificate_validity_days=30) as p:
        a = await ended_and_asking(p)
        centre = centre_of(p.centre.ctx)
        (unit,) = [u for u in await centre.units() if u.code == A]
        waiting = load_keys(p.dirs[A] / "keys" / "identity.key.next")
        assert (unit.status, unit.waiting_key) == ("active", waiting.sign_public)
        (held,) = await audited(p.centre, "renewal.pending")
        assert held.details["ended_at"] == open_certificate(p, A).not_after
        (told,) = await audited(a, "certificate.renewal_pending")  # the key the operator checks
        assert told.details["key"] == held.details["key"] == fingerprint(waiting.sign_public)
        await round_ends(a, PENDING)  # asking again changes nothing
        assert len(await audited(p.centre, "renewal.pending")) == 1

        approved = await centre.approve(A, actor="operator:test")
        await round_ends(a, RENEWED)
        assert own(a).serial == approved.certificate.serial
        assert a.ctx.keys.sign_public == waiting.sign_public
        assert await tokens_of(p, A) == 1  # the enrolment's only
        await p.refresh(B)
        b = p.nodes[B]
        to_b = await send(a, [B])
        assert (await first_attempt(a, to_b, B)).state == Delivery.ARRIVED
        to_a = await send(b, [A])
        assert (await first_attempt(b, to_a, A)).state == Delivery.ARRIVED
        assert (await verified(b, to_b))["verified"]
        assert [e.subject for e in await audited(p.centre, "renewal.approved")] == [A]


async def test_a_revoked_units_renewal_is_refused_and_audited(tmp_path):
    """A, ended and asking, is revoked instead: its next round is refused (403 UnitRevoked,
    audited at the centre and at A), and A asks no more until it restarts."""
    async with province(tmp_path, [], days_ago=41, certificate_validity_days=30) as p:
        a = await ended_and_asking(p)
        await centre_of(p.centre.ctx).revoke(A, actor="operator:test")
        await round_ends(a, REFUSED)
        assert "UnitRevoked" in (renewal_of(a).refused or "")
        await round_ends(a, REFUSED)
        assert await refusals(p) == ["UnitRevoked"]
        (local,) = await audited(a, "certificate.renewal_refused")
        assert "revoked" in local.details["reason"]
        assert p.centre.ctx.directory.current.current(A) is None
