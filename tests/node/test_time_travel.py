"""Time travel: a centre and units as real nodes of this process (mutual TLS on 127.0.0.1, real
SQLite files), all reading one injected clock that the tests move by hours and days.

The nodes are created and enrolled as a technician does (`centre init`, `init`, `enrol`) and
run with their background work (delivery, relay pull, directory refresh, re-signing). What
their loops would do after an hour of real waiting (a refresh round, a re-sign check) the
tests call directly, once the clock has moved. OpenSSL checks X.509 validity against the
real time, not the injected clock: each province starts in the past, so that certificates
issued at a travelled time never start in the real future.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lienthong.bootstrap.directory import refresh_once
from lienthong.bootstrap.enrolment import enrol_online
from lienthong.bootstrap.errors import CentreRefused
from lienthong.bootstrap.rotation import rotate
from lienthong.crypto import x509 as tls
from lienthong.crypto.keystore import load_keys
from lienthong.node import config as cfg
from lienthong.node.centre.relay import sweep_once
from lienthong.node.centre.rules import centre_of, resign_if_due
from lienthong.node.centre.setup import create_centre
from lienthong.node.datadir import config_saver, create_node, federation_saver
from lienthong.node.runtime import Node, open_context
from lienthong.node.unit import documents as service
from lienthong.node.unit.delivery import (
    BACKOFF_BASE_MS,
    BACKOFF_CAP_MS,
    RELAYED_DIRECT_RETRY_MS,
    backoff_ms,
)
from lienthong.node.unit.documents import DocumentError
from lienthong.node.unit.relay_client import pull_once
from lienthong.node.unit.views import signature_check
from lienthong.protocol.certificate import verify_certificate
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.delivery import Delivery
from lienthong.protocol.document import DocumentMetadata
from lienthong.storage import audit
from lienthong.storage import relay as mailbox
from lienthong.storage.centre import directory_contents
from lienthong.storage.documents import get_envelope_raw
from lienthong.storage.outbox import OutboxRow, rows_for
from lienthong.storage.statuses import statuses_of
from tests.node.helpers import DAY, Clock
from tests.node.running import eventually, free_port
from tests.node.tls_federation import federation, letter, until
from tests.node.tls_federation import send as federation_send

CENTRE = "000.00.00.H53"
A, B, C = "000.00.02.H53", "000.00.03.H53", "000.00.04.H53"
HOUR = 3_600_000
# Safety net for waits on background work on two busy cores; not a timing assertion.
BOUND = 60
T = TypeVar("T")


class Province:
    """A centre and units, each a node.runtime.Node on its own data directory, sharing a clock."""

    def __init__(self, root: Path, clock: Clock) -> None:
        self.root = root
        self.clock = clock
        self.nodes: dict[str, Node] = {}
        self.dirs: dict[str, Path] = {}
        self.centre_url = ""
        self.fingerprint = ""

    async def create(self, codes: list[str], centre_settings: dict[str, object]) -> None:
        """`centre init` (its own certificate with the defaults), then the centre settings
        and a free port for its console in node.toml, then the centre runs and each unit is
        created and enrolled online."""
        data_dir = self.root / "centre"
        listen = f"127.0.0.1:{free_port()}"
        created = await create_centre(data_dir, name="Trung tâm", listen=listen, clock=self.clock)
        config = cfg.load_config(data_dir)
        values = {section: dict(keys) for section, keys in config.values.items()}
        values["centre"].update(centre_settings)
        values["node"]["web"] = f"127.0.0.1:{free_port()}"
        config_saver(config)(values)
        self.centre_url, self.fingerprint = created.url, created.fingerprint
        self.dirs[CENTRE] = data_dir
        await self.start(CENTRE)
        for code in codes:
            await self.enrol(code)

    async def enrol(self, code: str) -> None:
        data_dir = self.root / code
        node = {"listen": f"127.0.0.1:{free_port()}", "web": f"127.0.0.1:{free_port()}"}
        keys = create_node(
            data_dir,
            {"unit": {"code": code, "name": f"Unit {code}"}, "node": {**node, "discovery": False}},
        )
        new = await centre_of(self.centre.ctx).add_unit(code, f"Unit {code}")
        config = cfg.load_config(data_dir)
        await enrol_online(
            config.node_settings,
            keys,
            centre_url=self.centre_url,
            fingerprint=self.fingerprint,
            token=new.token,
            save_federation=federation_saver(config),
            clock=self.clock,
        )
        self.dirs[code] = data_dir

    @property
    def centre(self) -> Node:
        return self.nodes[CENTRE]

    async def start(self, code: str) -> Node:
        node = await Node.open(self.dirs[code], clock=self.clock)
        await node.start()
        self.nodes[code] = node
        return node

    async def stop(self, code: str) -> None:
        await self.nodes.pop(code).close()

    async def restart(self, code: str) -> Node:
        await self.stop(code)
        return await self.start(code)

    async def refresh(self, *codes: str) -> None:
        """One round of each unit's directory refresh (node.runtime runs it every 5 minutes)."""
        for code in codes or [c for c in self.nodes if c != CENTRE]:
            node = self.nodes[code]
            assert node.session is not None
            await refresh_once(node.ctx.directory, node.session, self.centre_url)

    async def days_pass(self, days: float, step: int = 12 * HOUR) -> None:
        """Time passes with the centre up: it re-signs when due and the units refresh, as
        their loops do (the centre checks every 2 s, the units every 5 minutes)."""
        end = self.clock.now + int(days * DAY)
        while self.clock.now < end:
            self.clock.now = min(end, self.clock.now + step)
            await resign_if_due(self.centre.ctx)
            await self.refresh()

    async def close(self) -> None:
        for code in sorted(self.nodes, key=lambda code: code == CENTRE):  # the centre last
            await self.stop(code)


@contextlib.asynccontextmanager
async def province(
    tmp_path: Path, codes: list[str], *, days_ago: float = 2, **centre_settings: object
) -> AsyncIterator[Province]:
    """A running centre and units, the clock starting `days_ago` days before the real time."""
    now = int(datetime.now(UTC).timestamp() * 1000)
    built = Province(tmp_path, Clock(now - int(days_ago * DAY)))
    try:
        await built.create(codes, centre_settings)
        for code in codes:
            await built.start(code)
        await built.refresh()  # as each unit's first refresh round does, soon after its start
        yield built
    finally:
        await built.close()


NUMBERS = itertools.count(2340)  # each letter its own number in the outgoing register


def numbered_letter() -> DocumentMetadata:
    return dataclasses.replace(letter(), number=str(next(NUMBERS)))


async def send(node: Node, to: list[str]) -> str:
    """A clerk sends the reference letter (queued in one transaction, the engine woken)."""
    return await service.send_document(node.ctx, numbered_letter(), to, actor="vt")


async def outbox(node: Node, envelope_id: str, recipient: str) -> OutboxRow:
    async with node.ctx.store.read() as conn:
        rows = await rows_for(conn, envelope_id)
    (row,) = [r for r in rows if r.recipient == recipient]
    return row


async def after_attempt(node: Node, envelope_id: str, to: str, before: OutboxRow) -> OutboxRow:
    """The outbox row once the engine has made one more attempt than `before` shows."""

    async def changed() -> OutboxRow | None:
        row = await outbox(node, envelope_id, to)
        return row if (row.attempts, row.state) != (before.attempts, before.state) else None

    return await eventually(changed, f"attempt {before.attempts + 1} at {to}")


async def first_attempt(node: Node, envelope_id: str, to: str) -> OutboxRow:
    queued = OutboxRow(envelope_id, to, Delivery.QUEUED, 0, None, None, 0)
    return await after_attempt(node, envelope_id, to, queued)


async def next_attempt(p: Province, sender: str, envelope_id: str, to: str) -> OutboxRow:
    """Move the clock to the next attempt at `to`, wake the engine, return the row after it."""
    node = p.nodes[sender]
    before = await outbox(node, envelope_id, to)
    assert before.next_attempt_at is not None, f"nothing due for {to}: {before}"
    p.clock.now = max(p.clock.now, before.next_attempt_at)
    assert node.engine is not None
    node.engine.wake()
    return await after_attempt(node, envelope_id, to, before)


async def drive(p: Province, sender: str, envelope_id: str, to: str, most: int = 6) -> OutboxRow:
    """Attempt after attempt (the clock moving to each) until the delivery has arrived."""
    row = await outbox(p.nodes[sender], envelope_id, to)
    for _ in range(most):
        if row.state == Delivery.ARRIVED:
            return row
        row = await next_attempt(p, sender, envelope_id, to)
    raise AssertionError(f"not arrived after {most} attempts: {row}")


async def copies(node: Node, envelope_id: str) -> int:
    """How many times the recipient stored the document and its envelope (1 = exactly once)."""
    async with node.ctx.store.read() as conn:
        documents = await conn.fetchone(
            "SELECT count(*) FROM documents WHERE id = ?", (envelope_id,)
        )
        envelopes = await conn.fetchone(
            "SELECT count(*) FROM documents WHERE id = ? AND envelope IS NOT NULL", (envelope_id,)
        )
    assert documents[0] == envelopes[0]
    return documents[0]


async def receipts(node: Node, envelope_id: str) -> list[str]:
    """Senders of the 01s the sender holds for one of its envelopes."""
    async with node.ctx.store.read() as conn:
        events = await statuses_of(conn, envelope_id)
    return [e.from_code for e in events if e.code == StatusCode.ARRIVED and e.direction == "in"]


async def audited(node: Node, action: str) -> list[audit.AuditEntry]:
    async with node.ctx.store.read() as conn:
        assert (await audit.verify(conn)).ok
        return [e for e in await audit.entries(conn, limit=1000) if e.action == action]


async def accepted(node: Node, version: int) -> str:
    """Where a node took directory `version` from (its audit entry "directory.accepted")."""
    (entry,) = [
        e for e in await audited(node, "directory.accepted") if e.subject == f"directory v{version}"
    ]
    return entry.details["source"]


async def verified(node: Node, envelope_id: str) -> dict:
    """What the clerk's page says of the stored envelope's signature."""
    async with node.ctx.store.read() as conn:
        raw = await get_envelope_raw(conn, envelope_id)
    return await signature_check(node.ctx, raw)


async def waiting_at_relay(p: Province, code: str) -> int:
    async with p.centre.ctx.store.read() as conn:
        return await mailbox.count(conn, code)


def step(failures: int) -> int:
    """The backoff step after `failures` failures in a row, before jitter (PROTOCOL.md 19.3)."""
    return min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** min(failures, 30))


# -- 1. A recipient away for 24 hours -------------------------------------------------------


async def test_a_letter_waits_at_the_relay_a_day_and_arrives_once_when_the_recipient_returns(
    tmp_path,
):
    """B is away 24 h: A's letter goes to the relay at once and waits there (hourly sweeps
    remove nothing); A only tries B directly every RELAYED_DIRECT_RETRY_MS, never the relay
    again; when B is back it pulls the letter, stores it once and its 01 reaches A; a
    second pull finds nothing."""
    async with province(tmp_path, [A, B]) as p:
        a = p.nodes[A]
        await p.stop(B)
        envelope_id = await send(a, [B])
        relayed = await first_attempt(a, envelope_id, B)
        assert relayed.state == Delivery.RELAYED
        assert relayed.next_attempt_at == relayed.updated_at + RELAYED_DIRECT_RETRY_MS
        async with p.centre.ctx.store.read() as conn:
            (item,) = await mailbox.pending(conn, B, limit=10, max_bytes=1 << 20)
        assert item.expires_at == item.deposited_at + 30 * DAY  # centre.relay_retention_days
        for _ in range(24):
            p.clock.advance(HOUR)
            assert (await sweep_once(p.centre.ctx)).expired == 0
            assert await waiting_at_relay(p, B) == 1  # one copy: never deposited again
        row = await next_attempt(p, A, envelope_id, B)  # a direct try; B is still away
        assert row.state == Delivery.RELAYED and row.last_error.startswith("at the relay; direct")
        assert row.next_attempt_at == p.clock() + RELAYED_DIRECT_RETRY_MS
        assert await waiting_at_relay(p, B) == 1

        b = await p.start(B)  # its relay pull runs at start; the 01 goes back by its engine
        await eventually(lambda: _state_is(a, envelope_id, B, Delivery.ARRIVED), "01 at A")
        assert await copies(b, envelope_id) == 1
        assert await receipts(a, envelope_id) == [B]
        assert await waiting_at_relay(p, B) == 0
        assert b.session is not None
        again = await pull_once(b.ctx, b.session, f"{p.centre_url}/v1/relay")
        assert again.received == 0
        assert await copies(b, envelope_id) == 1


async def _state_is(node: Node, envelope_id: str, to: str, state: Delivery) -> bool:
    return (await outbox(node, envelope_id, to)).state == state


async def test_with_no_relay_either_the_sender_retries_a_whole_day_within_the_backoff_cap(
    tmp_path,
):
    """B and the centre are away 24 h: A keeps the letter queued and retries B, each delay
    within the jitter of min(2^n s, 10 min), so never more than 15 min apart once capped;
    nothing expires; when B is back the next attempt delivers it once with the 01 inline."""
    async with province(tmp_path, [A, B]) as p:
        a = p.nodes[A]
        await p.stop(B)
        await p.stop(CENTRE)
        start = p.clock()
        envelope_id = await send(a, [B])
        row = await first_attempt(a, envelope_id, B)
        delays = []
        while p.clock() < start + DAY:
            assert row.state == Delivery.QUEUED and row.next_attempt_at is not None
            delay = row.next_attempt_at - p.clock()
            assert step(row.attempts) // 2 <= delay < step(row.attempts) * 3 // 2, row
            delays.append(delay)
            row = await next_attempt(p, A, envelope_id, B)
        assert row.attempts == len(delays) + 1  # one attempt per due time, none between
        assert step(row.attempts) == BACKOFF_CAP_MS and max(delays) < BACKOFF_CAP_MS * 3 // 2
        endpoint = a.ctx.directory.current.current(B).endpoints[0]
        assert row.last_error.startswith(endpoint) and "/v1/relay" in row.last_error

        b = await p.start(B)
        arrived = await drive(p, A, envelope_id, B)
        assert arrived.next_attempt_at is None
        assert await copies(b, envelope_id) == 1
        assert await receipts(a, envelope_id) == [B]
        assert a.engine is not None and B not in a.engine.peers  # the backoff is forgotten


async def test_mail_for_a_unit_that_stays_away_is_kept_to_the_last_millisecond_of_retention(
    tmp_path,
):
    """B stays away: the relay keeps A's letter through the last millisecond of its 30 days
    (centre.relay_retention_days, the centre re-signing and A refreshing meanwhile); the
    sweep one millisecond later removes it and tells A, whose delivery becomes 'expired'."""
    async with province(tmp_path, [A, B]) as p:
        a = p.nodes[A]
        await p.stop(B)
        envelope_id = await send(a, [B])
        assert (await first_attempt(a, envelope_id, B)).state == Delivery.RELAYED
        async with p.centre.ctx.store.read() as conn:
            (item,) = await mailbox.pending(conn, B, limit=10, max_bytes=1 << 20)
        await p.days_pass(29)
        p.clock.now = item.expires_at
        assert (await sweep_once(p.centre.ctx)).expired == 0
        p.clock.now = item.expires_at + 1
        report = await sweep_once(p.centre.ctx)
        assert (report.expired, report.notices) == (1, 1)
        await eventually(lambda: _state_is(a, envelope_id, B, Delivery.EXPIRED), "the notice")


# -- 2. The centre down for 7 days while the directory expires ------------------------------


async def test_units_keep_exchanging_through_cache_and_gossip_until_the_directory_expires(
    tmp_path,
):
    """The centre signs C in just before it goes down; B has that directory, A not yet. During
    the outage A learns it from B's answer (gossip) and reaches C; letters flow up to and at
    the directory's expires_at; one millisecond later B refuses A's letter as Expired, keeps
    nothing, and A keeps it queued; the clerk's check says why."""
    async with province(tmp_path, [A, B]) as p:
        a, b = p.nodes[A], p.nodes[B]
        p.clock.advance(HOUR)
        await p.enrol(C)  # the centre signs a directory listing C
        c = await p.start(C)
        await p.refresh(B)
        newer = b.ctx.directory.version
        assert a.ctx.directory.version < newer and a.ctx.directory.current.current(C) is None
        expires_at = b.ctx.directory.current.expires_at
        assert expires_at == p.clock() + 168 * HOUR  # centre.directory_validity_hours
        await p.stop(CENTRE)  # a 7-day outage begins

        with pytest.raises(DocumentError, match="not in the directory"):
            await send(a, [C])
        to_b = await send(a, [B])
        assert (await first_attempt(a, to_b, B)).state == Delivery.ARRIVED
        await eventually(lambda: _version_is(a, newer), "the directory from B")
        assert (await accepted(a, newer)).startswith("peer https://127.0.0.1:")
        to_c = await send(a, [C])
        assert (await first_attempt(a, to_c, C)).state == Delivery.ARRIVED

        p.clock.now = expires_at - DAY
        assert "expires within 24 hours" in a.ctx.directory.warnings(p.clock())[0]
        p.clock.now = expires_at  # the last valid millisecond
        at_expiry = await send(a, [B])
        assert (await first_attempt(a, at_expiry, B)).state == Delivery.ARRIVED
        assert await copies(b, at_expiry) == 1

        p.clock.now = expires_at + 1
        late = await send(a, [B])  # the clerk can still send: it waits in the outbox
        row = await first_attempt(a, late, B)
        assert row.state == Delivery.QUEUED and "Expired" in row.last_error
        assert await copies(b, late) == 0
        check = await verified(b, to_b)
        assert not check["verified"] and "expired" in check["error"]
        assert c.ctx.directory.expired and b.ctx.directory.expired


async def _version_is(node: Node, version: int) -> bool:
    return node.ctx.directory.version == version


async def test_when_the_centre_returns_its_new_directory_spreads_and_waiting_letters_arrive(
    tmp_path,
):
    """Eight days after its last directory the centre comes back and re-signs at start; B
    fetches it, A gets it from B's answers (pull), C from A (push); the letters that waited
    since the expiry arrive, each stored once with one 01."""
    async with province(tmp_path, [A, B, C]) as p:
        a, b, c = (p.nodes[code] for code in (A, B, C))
        held = a.ctx.directory.version
        await p.stop(CENTRE)
        p.clock.advance(8 * DAY)
        assert a.ctx.directory.expired
        to_b, to_c = await send(a, [B]), await send(a, [C])
        for envelope_id, to in ((to_b, B), (to_c, C)):
            row = await first_attempt(a, envelope_id, to)
            assert row.state == Delivery.QUEUED and "Expired" in row.last_error

        centre = await p.start(CENTRE)  # its re-sign loop runs at start: the old one expired
        await eventually(lambda: _version_above(centre, held), "a directory re-signed")
        newest = centre.ctx.directory.version
        await p.refresh(B)
        assert b.ctx.directory.version == newest and not b.ctx.directory.expired

        await drive(p, A, to_b, B)  # B stores it; A takes the directory from B's answer
        assert a.ctx.directory.version == newest
        await drive(p, A, to_c, C)  # A hands the directory to C, which was behind
        assert c.ctx.directory.version == newest
        assert (await accepted(c, newest)).startswith("push from")
        for node, envelope_id, to in ((b, to_b, B), (c, to_c, C)):
            assert await copies(node, envelope_id) == 1
            assert await receipts(a, envelope_id) == [to]


async def _version_above(node: Node, version: int) -> bool:
    return node.ctx.directory.version > version


# -- 3. Certificates expiring ---------------------------------------------------------------

VALIDITY_DAYS = 30  # centre.certificate_validity_days in these tests: a month passes quickly


async def renewed(p: Province) -> str:
    """B joins ten days after A (so its certificate ends later); A sends B a letter, and on
    day 27 A renews (keys rotate, then a restart); returns the letter, signed under A's
    first certificate."""
    await p.days_pass(10)
    await p.enrol(B)
    await p.start(B)
    await p.refresh()
    a = p.nodes[A]
    old_letter = await send(a, [B])
    assert (await first_attempt(a, old_letter, B)).state == Delivery.ARRIVED
    await p.days_pass(17)
    await rotate(cfg.load_config(p.dirs[A]).node_settings, passphrase=None, clock=p.clock)
    await p.restart(A)
    await p.refresh()
    return old_letter


async def listed_codes(p: Province, conn, now: int) -> list[str]:
    """The units whose certificates the centre would list in a directory signed at `now`."""
    raws, _ = await directory_contents(conn, now)
    root = p.centre.ctx.directory.root_public
    return [verify_certificate(raw, root).code for raw in raws]


def serials(node: Node, code: str) -> list[int]:
    return [c.serial for c in node.ctx.directory.current.certificates if c.code == code]


async def test_a_unit_that_renews_outlives_its_old_certificate_and_its_old_letters_verify(
    tmp_path,
):
    """A renews three days before its certificate ends: the letter it signed before and the
    one signed after both verify at B (the old certificate stays listed, superseded); once
    its not_after has passed the centre drops it, and A keeps exchanging under the new one."""
    days = {"days_ago": 28, "certificate_validity_days": VALIDITY_DAYS}
    async with province(tmp_path, [A], **days) as p:
        old_letter = await renewed(p)
        a, b = p.nodes[A], p.nodes[B]
        old, new = serials(b, A)
        assert a.ctx.directory.current.current(A).serial == new
        new_letter = await send(a, [B])
        assert (await first_attempt(a, new_letter, B)).state == Delivery.ARRIVED
        for envelope_id, serial in ((old_letter, old), (new_letter, new)):
            check = await verified(b, envelope_id)
            assert check["verified"] and check["serial"] == serial, check

        await p.days_pass(8)  # past the old not_after, and past the centre's next re-signing
        assert serials(b, A) == [new]
        later = await send(a, [B])
        assert (await first_attempt(a, later, B)).state == Delivery.ARRIVED
        assert (await verified(b, later))["verified"]
        answer = await send(b, [A])
        assert (await first_attempt(b, answer, A)).state == Delivery.ARRIVED


async def test_old_letters_still_verify_after_the_superseded_certificate_has_ended(tmp_path):
    """DESIGN: key rotation keeps the old key valid for verifying old envelopes; the letter
    A signed before renewing still verifies at B after its old certificate has ended."""
    days = {"days_ago": 28, "certificate_validity_days": VALIDITY_DAYS}
    async with province(tmp_path, [A], **days) as p:
        old_letter = await renewed(p)
        await p.days_pass(8)
        check = await verified(p.nodes[B], old_letter)
        assert check["verified"], check


async def test_a_unit_whose_certificate_ended_is_refused_by_peers_and_the_relay_and_audited(
    tmp_path,
):
    """C (enrolled ten days before B) lets its certificate end. The centre lists it through
    its last millisecond only; from its next directory on, B and the centre answer C with
    403 UnknownPeer and audit it, C's queued letter stays unstored, C's clerk cannot sign a
    new one, and `keys rotate` over mutual TLS is refused (403, audited): an ended certificate
    is renewed only with the operator's approval (tests/node/test_renewal.py)."""
    days = {"days_ago": 28, "certificate_validity_days": VALIDITY_DAYS}
    async with province(tmp_path, [C], **days) as p:
        await p.days_pass(10)
        await p.enrol(B)
        b = await p.start(B)
        await p.days_pass(19)  # one day before C's certificate ends
        not_after = p.nodes[C].ctx.directory.current.current(C).not_after
        await p.stop(C)
        ctx = await open_context(p.dirs[C], clock=p.clock)  # `lienthong send`, node stopped
        try:
            queued = await service.send_document(ctx, numbered_letter(), [B], actor="vt")
        finally:
            await ctx.store.close()
        async with p.centre.ctx.store.read() as conn:
            listed = await listed_codes(p, conn, not_after)
            assert C in listed and C not in await listed_codes(p, conn, not_after + 1)
        await p.days_pass(6)  # the centre re-signed without C; B refreshed
        assert b.ctx.directory.current.current(C) is None
        with pytest.raises(DocumentError, match="not in the directory"):
            await send(b, [C])

        c = await p.start(C)  # its queued letter goes out at start
        row = await first_attempt(c, queued, B)
        assert row.state == Delivery.QUEUED
        assert "UnknownPeer" in row.last_error and f"unit {C} is not in directory" in row.last_error
        assert await copies(b, queued) == 0
        for node in (b, p.centre):
            (refused,) = await audited(node, "peer.refused")
            assert f"unit {C} is not in directory" in refused.details["reason"]
        await eventually(lambda: _version_is(c, b.ctx.directory.version), "C's refresh")
        with pytest.raises(DocumentError, match="no certificate for its current key"):
            await send(c, [B])
        with pytest.raises(CentreRefused) as refusal:
            await rotate(cfg.load_config(p.dirs[C]).node_settings, passphrase=None, clock=p.clock)
        assert (refusal.value.status, refusal.value.error) == (403, "UnknownPeer")
        assert await audited(p.centre, "rotation.refused")


def leaf_files(p: Province, tmp: Path, name: str, start: datetime, days: float):
    """A TLS certificate for B from the federation's CA, valid from `start` for `days`,
    written as PEM files; returns (cert, key) paths."""
    config = cfg.load_config(p.dirs[CENTRE])
    root = load_keys(config.root_key_path, None)
    ca_key = Ed25519PrivateKey.from_private_bytes(root.signing.encode())
    ca = tls.cert_from_pem(config.ca_path.read_bytes())
    key = tls.generate_tls_key()
    leaf = tls.issue_leaf(
        ca_key,
        ca,
        key.public_key(),
        unit_code=B,
        unit_name=f"Unit {B}",
        serial=9000,
        hosts=["127.0.0.1"],
        not_before=start,
        not_after=start + timedelta(days=days),
    )
    cert_path, key_path = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert_path.write_bytes(tls.cert_to_pem(leaf))
    key_path.write_bytes(tls.key_to_pem(key))
    return cert_path, key_path


async def test_a_tls_certificate_past_its_not_after_never_reaches_the_peer_api(tmp_path):
    """The X.509 certificate ends with the node certificate (same validity); OpenSSL checks
    it against the real time: an ended one fails the handshake, before any HTTP answer, while
    a current one the directory does not list gets the documented 403."""
    async with province(tmp_path, [A, B]) as p:
        a = p.nodes[A]
        real = datetime.now(UTC)
        ended = leaf_files(p, tmp_path, "ended", real - timedelta(days=2), 1)
        current = leaf_files(p, tmp_path, "current", real - timedelta(hours=1), 1)
        ca_path = cfg.load_config(p.dirs[A]).ca_path
        url = f"https://127.0.0.1:{a.peer_port}/v1/inbox"
        for files, expected in ((current, 403), (ended, None)):
            context = tls.client_context(*files, ca_path)
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as http:
                try:
                    async with http.post(url, data=b"\x80") as response:
                        status, body = response.status, await response.text()
                except (aiohttp.ClientError, ssl.SSLError):
                    status, body = None, ""
            assert status == expected, body
        (refused,) = await audited(a, "peer.refused")  # the 403 only
        assert f"the TLS certificate of {B} is not the one" in refused.details["reason"]


# -- 4. Backoff capped, and reset on recovery -----------------------------------------------


def test_the_jitter_keeps_every_delay_within_half_to_one_and_a_half_capped_steps():
    """For any count of failures (overflow included) the delay lies in [0.5, 1.5) of the
    capped step: at most 15 minutes, at least 1 s."""
    for failures in (1, 2, 9, 10, 11, 30, 31, 1000):
        for jitter in (0.0, 0.25, 0.5, 0.999999):
            delay = backoff_ms(failures, lambda j=jitter: j)
            assert step(failures) // 2 <= delay < step(failures) * 3 // 2
            assert delay < BACKOFF_CAP_MS * 3 // 2


async def test_backoff_doubles_to_its_cap_and_restarts_from_the_first_step_after_recovery(
    tmp_path,
):
    """Direct only (the centre is down): with the jitter fixed at 1, the delays are exactly
    2 s, 4 s ... 512 s, then 10 min and never more; C is served at once meanwhile; once a
    POST to B succeeds, B's next failure waits 2 s again, and so it does after a LAN sighting."""
    async with province(tmp_path, [A, B, C]) as p:
        a = p.nodes[A]
        assert a.engine is not None
        a.engine.random = lambda: 0.5  # jitter factor exactly 1
        await p.stop(CENTRE)
        await p.stop(B)
        first = await send(a, [B])
        row = await first_attempt(a, first, B)
        delays = [row.next_attempt_at - p.clock()]
        for _ in range(13):
            row = await next_attempt(p, A, first, B)
            delays.append(row.next_attempt_at - p.clock())
        assert delays == [BACKOFF_BASE_MS * 2**n for n in range(1, 10)] + [BACKOFF_CAP_MS] * 5

        to_c = await send(a, [C])  # one dead office does not slow the others
        assert (await first_attempt(a, to_c, C)).state == Delivery.ARRIVED

        await p.start(B)
        await drive(p, A, first, B)
        assert B not in a.engine.peers
        await p.stop(B)
        second = await send(a, [B])
        row = await first_attempt(a, second, B)
        assert row.next_attempt_at - p.clock() == 2 * BACKOFF_BASE_MS  # the first step again

        for _ in range(4):
            row = await next_attempt(p, A, second, B)
        assert row.next_attempt_at - p.clock() == 32 * BACKOFF_BASE_MS
        await a.engine.peer_seen(B)  # zeroconf saw B with the directory's key
        due = await outbox(a, second, B)
        assert due.next_attempt_at == p.clock()
        row = await next_attempt(p, A, second, B)
        assert row.next_attempt_at - p.clock() == 2 * BACKOFF_BASE_MS


async def test_an_idle_picker_does_not_wake_the_engine_while_an_attempt_is_on_the_wire(
    tmp_path,
):
    """The pipeline's second worker finds the batch taken and ends without waking the engine
    (which would start another picker at once, and again, as long as the attempt lasts);
    the attempt's own end wakes it."""
    async with federation(tmp_path) as fed:
        engine = fed.units[A].engine
        on_the_wire, answer = asyncio.Event(), asyncio.Event()
        attempt, wakes = engine._attempt, []

        async def slow(code, items) -> None:
            on_the_wire.set()
            await answer.wait()
            await attempt(code, items)

        engine._attempt = slow
        await federation_send(fed.units[A], [B])
        engine.wake = lambda: wakes.append(B)
        await engine.tick()  # two workers for B: the pipeline depth
        await asyncio.wait_for(on_the_wire.wait(), BOUND)
        await until(lambda: len(engine.active[B]) == 1)  # the second found nothing
        assert wakes == []
        answer.set()
        await until(lambda: B not in engine.active)
        assert wakes == [B]
