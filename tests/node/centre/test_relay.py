"""The relay over real mutual TLS on 127.0.0.1: deposit, long-poll pull, ack, the checks at
the edge, retention with its notice to the sender, and that the relay cannot read."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl

import aiohttp
import pytest

from lienthong.node.centre.relay import TOUCH_EVERY_MS, mailboxes_of, sweep_once
from lienthong.node.pinning import pinning_of
from lienthong.node.unit import documents as service
from lienthong.node.unit.attachments import decrypt_to
from lienthong.node.unit.peer_api import CONTENT_TYPE
from lienthong.node.unit.relay_client import backoff_seconds, pull_loop, pull_once
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.delivery import Delivery
from lienthong.protocol.document import DocumentBody
from lienthong.protocol.envelope import open_envelope, seal_envelope, verify_envelope
from lienthong.protocol.errors import DecodeError, NotARecipient
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.relay import MAX_PULL_ITEMS, REOFFER_SECONDS
from lienthong.protocol.status import make_status
from lienthong.protocol.wire import pack, unpack
from lienthong.storage import outbox
from lienthong.storage import relay as mailbox
from lienthong.storage.centre import get_unit, put_unit
from lienthong.storage.documents import get_document
from tests.node.helpers import DAY
from tests.node.tls_federation import (
    BOUND,
    CENTRE,
    SUBJECT,
    UNKNOWN,
    A,
    B,
    C,
    Federation,
    Unit,
    actions,
    attachment,
    federation,
    letter,
    sealed,
    send,
    state,
    until,
)


@pytest.fixture
async def fed(tmp_path):
    """A centre serving the relay over mutual TLS and three units behind NAT (A, B, C)."""
    async with federation(tmp_path) as built:
        yield built


async def deposit(unit: Unit, relay: str, to: str, envelopes=(), statuses=()) -> dict:
    """A raw deposit, as the delivery engine makes it; returns the relay's answer."""
    body = pack({"to": to, "envelopes": list(envelopes), "statuses": list(statuses)})
    async with unit.session.post(
        f"{relay}/deposit", data=body, headers={"Content-Type": CONTENT_TYPE}
    ) as response:
        assert response.status == 200, await response.text()
        return unpack(await response.read(), what="answer", max_bytes=1 << 20)


async def waiting(fed: Federation, code: str | None = None) -> int:
    async with fed.centre.store.read() as conn:
        return await mailbox.count(conn, code)


async def test_deposit_pull_receive_ack_and_the_receipt_comes_back(fed, tmp_path):
    """A deposits for B (blob first); B pulls, fetches the blob, stores the letter and acks;
    the relay keeps nothing; B's 01 travels back the same way and A sees 'arrived'."""
    a, b = fed.units[A], fed.units[B]
    envelope_id, _ = await send(a, [B], [attachment(tmp_path)])
    await a.engine.deliver(B)
    assert await state(a, envelope_id, B) is Delivery.RELAYED
    assert await waiting(fed, B) == 1

    result = await pull_once(b.ctx, b.session, fed.relay)
    assert (result.received, result.acknowledged, result.deferred) == (1, 1, 0)
    async with b.ctx.store.read() as conn:
        document = await get_document(conn, envelope_id)
    assert document is not None and document.subject == SUBJECT
    out = tmp_path / "out.pdf"
    decrypt_to(b.ctx.blobs, service.stored_body(document).attachments[0], out)
    assert out.read_bytes() == attachment(tmp_path).read_bytes()
    assert await waiting(fed) == 0
    blob_id = service.stored_body(document).attachments[0].blob
    assert not fed.centre.blobs.exists(blob_id)  # nothing needs it at the relay any more

    await b.engine.deliver(A)  # the 01, queued because the letter came via the relay
    assert (await pull_once(a.ctx, a.session, fed.relay)).acknowledged == 1
    assert await state(a, envelope_id, B) is Delivery.ARRIVED
    await actions(b.ctx)  # B's audit chain holds


async def test_a_blob_stays_until_the_last_mailbox_needing_it_is_collected(fed, tmp_path):
    """One letter to B and C shares a blob: B's ack keeps it for C; C's ack removes it.
    C's download resumes from bytes it already had."""
    a, b, c = fed.units[A], fed.units[B], fed.units[C]
    envelope_id, _ = await send(a, [B, C], [attachment(tmp_path)])
    await a.engine.deliver(B)
    await a.engine.deliver(C)
    async with a.ctx.store.read() as conn:
        blob_id = service.stored_body(await get_document(conn, envelope_id)).attachments[0].blob
    assert (await pull_once(b.ctx, b.session, fed.relay)).acknowledged == 1
    assert fed.centre.blobs.exists(blob_id)
    with c.ctx.blobs.partial(blob_id) as partial:  # a download cut after 1000 bytes
        partial.write(fed.centre.blobs.path(blob_id).read_bytes()[:1000])
    assert (await pull_once(c.ctx, c.session, fed.relay)).acknowledged == 1
    assert not fed.centre.blobs.exists(blob_id)
    assert c.ctx.blobs.path(blob_id).read_bytes() == a.ctx.blobs.path(blob_id).read_bytes()


async def test_a_repeated_deposit_is_stored_once(fed):
    """The same envelope deposited twice is accepted twice and waits once."""
    a = fed.units[A]
    _, raw = await send(a, [B])
    for _ in range(2):
        answer = await deposit(a, fed.relay, B, envelopes=[raw])
        assert answer == {"accepted": [True], "errors": [None]}
    assert await waiting(fed, B) == 1


async def test_a_depositor_must_be_the_sender(fed):
    """C cannot deposit A's envelope: refused, audited, nothing stored."""
    _, raw = await send(fed.units[A], [B])
    answer = await deposit(fed.units[C], fed.relay, B, envelopes=[raw])
    assert answer["accepted"] == [False]
    assert answer["errors"][0].startswith("SignerMismatch")
    assert await waiting(fed) == 0
    assert "relay.envelope.refused" in await actions(fed.centre)


async def test_mail_goes_only_to_a_mailbox_it_is_addressed_to(fed):
    """An envelope for B is refused for C's mailbox and for a unit the directory lacks;
    a status is refused for any mailbox but that of the unit it is addressed to."""
    a, b = fed.units[A], fed.units[B]
    envelope_id, raw = await send(a, [B])
    status = make_status(
        b.ctx.keys,
        sender=B,
        serial=3,
        to=A,
        envelope=envelope_id,
        code=StatusCode.IN_PROGRESS,
        at=fed.clock(),
    )
    answer = await deposit(a, fed.relay, C, envelopes=[raw])
    assert answer["errors"][0].startswith("NotARecipient")
    answer = await deposit(a, fed.relay, UNKNOWN, envelopes=[raw])
    assert answer["errors"][0].startswith("UnknownMailbox")
    answer = await deposit(b, fed.relay, C, statuses=[status])
    assert answer["accepted"] == [False] and answer["errors"][0].startswith("NotARecipient")
    assert (await deposit(b, fed.relay, A, statuses=[status]))["accepted"] == [True]
    assert await waiting(fed) == 1
    assert (await actions(fed.centre)).count("relay.envelope.refused") == 2


async def test_an_envelope_needs_its_blobs_at_the_relay_first(fed, tmp_path):
    """Without its uploaded blob the envelope is refused (MissingBlobs); after the upload
    the same deposit is taken."""
    a = fed.units[A]
    envelope_id, raw = await send(a, [B], [attachment(tmp_path)])
    answer = await deposit(a, fed.relay, B, envelopes=[raw])
    assert answer["accepted"] == [False]
    assert answer["errors"][0].startswith("MissingBlobs")
    async with a.ctx.store.read() as conn:
        blob_id = service.stored_body(await get_document(conn, envelope_id)).attachments[0].blob
    assert blob_id in answer["errors"][0]
    await a.engine.upload_blob(
        fed.centre_url, blob_id, None, tls=pinning_of(a.ctx).for_url(fed.centre_url)
    )
    assert (await deposit(a, fed.relay, B, envelopes=[raw]))["accepted"] == [True]


async def test_a_long_poll_answers_as_soon_as_mail_arrives(fed):
    """B waits on an empty mailbox; A's deposit wakes it long before the 25 s wait ends."""
    a, b = fed.units[A], fed.units[B]
    boxes = mailboxes_of(fed.centre)
    empty = await pull_once(b.ctx, b.session, fed.relay, wait=0)
    assert empty.received == 0
    pulling = asyncio.create_task(pull_once(b.ctx, b.session, fed.relay, wait=25))
    await until(lambda: boxes.waiting(B) == 1)
    assert not pulling.done()
    envelope_id, _ = await send(a, [B])
    await a.engine.deliver(B)
    result = await asyncio.wait_for(pulling, BOUND)
    assert result.acknowledged == 1
    async with b.ctx.store.read() as conn:
        assert await get_document(conn, envelope_id) is not None


async def test_a_pull_whose_caller_left_takes_nothing(fed):
    """B's long-poll is cut (B's side closes the connection) before A's letter comes: the
    pull the letter wakes hides nothing, so B's next pull gets the letter at once, not
    REOFFER_SECONDS later (a unit reconnecting, perhaps to another worker)."""
    a, b = fed.units[A], fed.units[B]
    boxes = mailboxes_of(fed.centre)
    cut = asyncio.create_task(pull_once(b.ctx, b.session, fed.relay, wait=25))
    await until(lambda: boxes.waiting(B) == 1)
    cut.cancel()  # aiohttp closes the connection of a request cancelled before its answer
    await asyncio.gather(cut, return_exceptions=True)
    envelope_id, _ = await send(a, [B])
    await a.engine.deliver(B)
    await until(lambda: boxes.waiting(B) == 0)  # the cut pull woke and ended
    assert await waiting(fed, B) == 1
    result = await pull_once(b.ctx, b.session, fed.relay, wait=0)
    assert result.acknowledged == 1
    async with b.ctx.store.read() as conn:
        assert await get_document(conn, envelope_id) is not None


async def test_expired_mail_is_removed_and_its_sender_told(fed, tmp_path):
    """After the retention period the envelope and its blob are gone from the relay, a
    notice waits in A's mailbox, and A's pull marks the delivery to B 'expired'."""
    a, b = fed.units[A], fed.units[B]
    envelope_id, _ = await send(a, [B], [attachment(tmp_path)])
    await a.engine.deliver(B)
    assert (await sweep_once(fed.centre)).expired == 0  # not yet
    fed.clock.advance(31 * DAY)
    report = await sweep_once(fed.centre)
    assert (report.expired, report.notices, report.blobs_removed) == (1, 1, 1)
    assert await waiting(fed, B) == 0 and await waiting(fed, A) == 1
    assert "relay.expired" in await actions(fed.centre)
    assert (await pull_once(b.ctx, b.session, fed.relay)).received == 0
    assert (await pull_once(a.ctx, a.session, fed.relay)).acknowledged == 1
    assert await state(a, envelope_id, B) is Delivery.EXPIRED
    assert await waiting(fed) == 0


async def test_a_notice_after_the_receipt_changes_nothing(fed):
    """If B's 01 reached A first, a later expiry notice leaves the delivery 'arrived'."""
    a = fed.units[A]
    envelope_id, raw = await send(a, [B])
    b = fed.units[B]
    receipt = await service.receive_envelope(b.ctx, raw, via="direct")
    await service.receive_status(a.ctx, receipt, via="direct")
    await a.engine.deliver(B)  # nothing due any more: the 01 ended the delivery
    assert await waiting(fed, B) == 0
    async with fed.centre.store.write() as tx:
        await mailbox.deposit(
            tx,
            mailbox.MailItem(
                recipient=A,
                id=f"expired:{envelope_id}:{B}",
                kind="notice",
                sender=CENTRE,
                raw=pack({"event": "expired", "envelope": envelope_id, "recipient": B}),
                deposited_at=fed.clock(),
                expires_at=fed.clock() + DAY,
            ),
        )
    assert (await pull_once(a.ctx, a.session, fed.relay)).acknowledged == 1
    assert await state(a, envelope_id, B) is Delivery.ARRIVED


async def test_the_relay_cannot_read_the_document(fed, tmp_path):
    """The centre can check the envelope's signature but holds no key to its content: its
    own code is not a recipient and its key cannot open B's sealed key; neither the
    subject nor the attachment's bytes appear in what it stores."""
    a = fed.units[A]
    await send(a, [B], [attachment(tmp_path)])
    await a.engine.deliver(B)
    async with fed.centre.store.read() as conn:
        (item,) = await mailbox.pending(conn, B, limit=10, max_bytes=1 << 20)
    envelope = verify_envelope(item.raw, fed.centre.directory.key_lookup)
    with pytest.raises(NotARecipient):
        open_envelope(envelope, CENTRE, fed.centre.keys)
    with pytest.raises(DecodeError):
        open_envelope(envelope, B, fed.centre.keys)
    assert SUBJECT.encode() not in item.raw
    (blob_id,) = item.blobs
    stored = fed.centre.blobs.path(blob_id).read_bytes()
    assert b"danh sach 26 don vi" not in stored


async def test_a_refused_item_is_acknowledged_and_audited(fed):
    """Bytes that are no envelope are refused for good by B: audited, acknowledged, gone."""
    b = fed.units[B]
    async with fed.centre.store.write() as tx:
        await mailbox.deposit(
            tx,
            mailbox.MailItem(B, "01JUNK00000000000000000000", "envelope", A, b"\x81\xa1x\x01"),
        )
    result = await pull_once(b.ctx, b.session, fed.relay)
    assert (result.acknowledged, result.deferred) == (1, 0)
    assert "envelope.refused" in await actions(b.ctx)
    assert await waiting(fed) == 0


async def test_mail_from_a_signer_this_node_does_not_know_yet_waits(fed):
    """B's directory predates A: the envelope stays at the relay until B's directory has A;
    the relay answers it again REOFFER_SECONDS after the pull B left it in."""
    a, b = fed.units[A], fed.units[B]
    envelope_id, _ = await send(a, [B])
    await a.engine.deliver(B)
    current = b.ctx.directory.current
    b.ctx.directory.current = fed.directory([CENTRE, B, C], [fed.relay])  # type: ignore[misc]
    result = await pull_once(b.ctx, b.session, fed.relay)
    assert (result.acknowledged, result.deferred) == (0, 1)
    assert await waiting(fed, B) == 1
    b.ctx.directory.current = current  # type: ignore[misc]
    assert (await pull_once(b.ctx, b.session, fed.relay)).received == 0  # not yet again
    fed.clock.advance(REOFFER_SECONDS * 1000)
    assert (await pull_once(b.ctx, b.session, fed.relay)).acknowledged == 1
    async with b.ctx.store.read() as conn:
        assert await get_document(conn, envelope_id) is not None


async def test_a_unit_acknowledges_only_its_own_mail(fed):
    """C naming the ids in B's mailbox removes nothing."""
    a, c = fed.units[A], fed.units[C]
    envelope_id, _ = await send(a, [B])
    await a.engine.deliver(B)
    async with c.session.post(
        f"{fed.relay}/ack",
        data=pack({"ids": [envelope_id]}),
        headers={"Content-Type": CONTENT_TYPE},
    ) as response:
        assert response.status == 200
        assert unpack(await response.read(), what="ack", max_bytes=1024) == {"removed": 0}
    assert await waiting(fed, B) == 1


async def test_malformed_requests_are_refused(fed):
    """A deposit that is not a deposit map and a pull with a bad wait get 400 and a reason."""
    a = fed.units[A]
    async with a.session.post(f"{fed.relay}/deposit", data=pack({"to": B})) as response:
        assert response.status == 400
        assert "envelopes" in (await response.json())["message"]
    async with a.session.get(f"{fed.relay}/pull?wait=soon") as response:
        assert response.status == 400
    assert "relay.deposit.refused" in await actions(fed.centre)


async def test_a_request_without_a_federation_certificate_is_refused(fed, tmp_path):
    """A client without a certificate the directory lists gets 403 before any handler runs."""
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as http,
        http.get(f"{fed.relay}/pull") as response,
    ):
        assert response.status == 403
        assert (await response.json())["error"] == "UnknownPeer"


async def test_a_pull_marks_the_unit_seen(fed):
    """The centre's unit list records when each unit last collected its mail."""
    b = fed.units[B]
    async with fed.centre.store.write() as tx:
        await put_unit(tx, B, "Unit B", "Đã triển khai", "active", fed.clock())
    fed.clock.advance(1000)
    await pull_once(b.ctx, b.session, fed.relay)
    async with fed.centre.store.read() as conn:
        assert (await get_unit(conn, B)).last_seen == fed.clock()


async def test_an_idle_pull_takes_no_write_lock_and_last_seen_is_written_once_a_minute(fed):
    """A pull of an empty mailbox is answered while another transaction holds the centre's
    write lock (it reads, and writes last_seen at most once per TOUCH_EVERY_MS): what lets
    one worker serve tens of thousands of long-polls. Past the minute, the next pull
    records the unit seen again."""
    b = fed.units[B]
    async with fed.centre.store.write() as tx:
        await put_unit(tx, B, "Unit B", "Đã triển khai", "active", fed.clock())
    await pull_once(b.ctx, b.session, fed.relay)
    first = fed.clock()
    fed.clock.advance(1000)
    async with fed.centre.store.write():  # held by someone else for the whole pull
        result = await asyncio.wait_for(pull_once(b.ctx, b.session, fed.relay), 60)
    assert result.received == 0
    async with fed.centre.store.read() as conn:
        assert (await get_unit(conn, B)).last_seen == first
    fed.clock.advance(TOUCH_EVERY_MS)
    await pull_once(b.ctx, b.session, fed.relay)
    async with fed.centre.store.read() as conn:
        assert (await get_unit(conn, B)).last_seen == fed.clock()


async def test_the_pull_loop_backs_off_and_reports_an_outage_once(fed, caplog):
    """Three failed pulls log one warning; when the relay is back the loop says so and
    takes in the waiting mail."""
    a, b = fed.units[A], fed.units[B]
    envelope_id, _ = await send(a, [B])
    await a.engine.deliver(B)
    good = b.ctx.directory.current
    with socket.create_server(("127.0.0.1", 0)) as closed:
        dead = f"https://127.0.0.1:{closed.getsockname()[1]}/v1/relay"
    b.ctx.directory.current = fed.directory([CENTRE, A, B, C], [dead])  # type: ignore[misc]
    delays: list[int] = []

    def delay(failures: int) -> float:
        delays.append(failures)
        if failures == 3:
            b.ctx.directory.current = good  # type: ignore[misc]
        return 0

    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="lienthong.relay")
    loop = asyncio.create_task(pull_loop(b.ctx, b.session, stop, delay=delay))

    def received() -> bool:
        return any("reachable again" in r.message for r in caplog.records)

    await until(received)
    stop.set()
    await asyncio.wait_for(loop, BOUND)
    assert delays == [1, 2, 3]
    outage = [r for r in caplog.records if "unreachable" in r.message]
    assert len(outage) == 1 and outage[0].levelno == logging.WARNING
    assert (outage[0].peer, outage[0].path) == (dead, "relay")  # fields for the JSON log
    async with b.ctx.store.read() as conn:
        assert await get_document(conn, envelope_id) is not None


def test_backoff_grows_to_its_cap():
    """1 s, 2 s, 4 s ... capped at five minutes, before jitter (random() = 0.5 keeps it)."""
    assert [backoff_seconds(n, lambda: 0.5) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff_seconds(50, lambda: 0.5) == 300
    assert backoff_seconds(1, lambda: 0.0) == 0.5


async def test_an_expired_status_goes_back_to_its_author_to_be_sent_again(fed):
    """B's 01 left uncollected at the relay past retention: B is told and queues it again."""
    a, b = fed.units[A], fed.units[B]
    envelope_id, _ = await send(a, [B])
    await a.engine.deliver(B)  # A cannot reach B directly: deposited at the relay
    assert (await pull_once(b.ctx, b.session, fed.relay)).acknowledged == 1
    await b.engine.deliver(A)  # B's 01 for A is deposited too (A serves no peer API here)
    async with b.ctx.store.read() as conn:
        assert await outbox.due_for(conn, A, fed.clock(), 10) == []
    fed.clock.advance(31 * DAY)
    assert (await sweep_once(fed.centre)).notices == 1
    assert (await pull_once(b.ctx, b.session, fed.relay)).acknowledged == 1
    async with b.ctx.store.read() as conn:
        due = await outbox.due_for(conn, A, fed.clock(), 10)
    assert [(i.kind, i.destination) for i in due] == [("status", A)]
    assert envelope_id


# -- mail a unit cannot take yet, and the clock --------------------------------------------


def sealed_for(fed: Federation, sender: str, to: str, created: int) -> bytes:
    """An envelope of `sender` to `to` dated `created`, sealed and signed as send_document
    would, with the sender's clock wherever the test puts it."""
    directory = fed.centre.directory.current
    return seal_envelope(
        keys=fed.units[sender].ctx.keys,
        sender=sender,
        serial=fed.serial(sender),
        recipients={to: directory.current(to).enc_key},
        body=DocumentBody(metadata=letter()),
        created=created,
    )


async def test_items_dated_ahead_of_the_relays_clock_are_refused_at_deposit(fed):
    """A unit deposits 200 letters and a status dated a day ahead for B: each is refused
    with ClockSkew naming the tolerance, nothing is stored, and the refusals are audited;
    the same letter dated within security.clock_skew_seconds is taken."""
    c = fed.units[C]
    ahead = fed.clock() + DAY
    letters = [sealed_for(fed, C, B, ahead) for _ in range(200)]
    status = make_status(
        c.ctx.keys,
        sender=C,
        serial=fed.serial(C),
        to=B,
        envelope=new_ulid(fed.clock()),
        code=StatusCode.IN_PROGRESS,
        at=ahead,
    )
    answer = await deposit(c, fed.relay, B, envelopes=letters, statuses=[status])
    assert answer["accepted"] == [False] * 201
    assert all(e.startswith("ClockSkew") for e in answer["errors"])
    assert "tolerance 300000 ms" in answer["errors"][0]
    assert await waiting(fed) == 0
    refused = await actions(fed.centre)
    assert refused.count("relay.envelope.refused") == 200
    assert refused.count("relay.status.refused") == 1
    within = sealed_for(fed, C, B, fed.clock() + 299_000)
    assert (await deposit(c, fed.relay, B, envelopes=[within]))["accepted"] == [True]


async def test_letters_a_unit_leaves_for_later_do_not_hold_back_a_real_letter(fed):
    """C fills B's mailbox with 200 letters B cannot take yet (dated within the relay's
    tolerance, beyond B's own); A's real letter, deposited after them, still reaches B
    through B's own pull loop; C's letters wait at the relay, answered again only after
    REOFFER_SECONDS, and B takes them once its clock has caught up."""
    a, b, c = fed.units[A], fed.units[B], fed.units[C]
    b.ctx.config.values["security"]["clock_skew_seconds"] = 60  # B's clock is behind
    ahead = [sealed_for(fed, C, B, fed.clock() + 240_000) for _ in range(MAX_PULL_ITEMS)]
    assert (await deposit(c, fed.relay, B, envelopes=ahead))["accepted"] == [True] * 200
    fed.clock.advance(1000)
    envelope_id, _ = await send(a, [B])
    await a.engine.deliver(B)
    assert await state(a, envelope_id, B) is Delivery.RELAYED

    first = await pull_once(b.ctx, b.session, fed.relay)  # the oldest 200: all of C's
    assert (first.received, first.acknowledged, first.deferred) == (200, 0, 200)
    stop = asyncio.Event()
    loop = asyncio.create_task(pull_loop(b.ctx, b.session, stop))

    async def arrived() -> bool:
        async with b.ctx.store.read() as conn:
            return await get_document(conn, envelope_id) is not None

    async def poll() -> None:
        while not await arrived():  # noqa: ASYNC110 - the store is another component
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), BOUND)
    stop.set()
    await asyncio.wait_for(loop, BOUND)
    assert await waiting(fed, B) == 200  # C's, left for later, not lost
    fed.clock.advance(REOFFER_SECONDS * 1000 + 240_000)  # B's clock has caught up
    result = await pull_once(b.ctx, b.session, fed.relay)
    assert (result.received, result.acknowledged) == (200, 200)
    assert await waiting(fed, B) == 0


async def test_a_co_recipient_depositing_first_under_a_letters_id_blocks_nothing(fed):
    """C deposits its own envelope for B under the id of A's letter before A does: the relay
    names mailbox items by author and id, so A's letter is taken too, B collects both and
    stores each under its own sender (the relay's side of ids per sender)."""
    a, b, c = fed.units[A], fed.units[B], fed.units[C]
    x = new_ulid(fed.clock())
    impostor = sealed(fed, c, C, [B], envelope_id=x)
    letter = sealed(fed, a, A, [B], envelope_id=x)
    assert (await deposit(c, fed.relay, B, envelopes=[impostor]))["accepted"] == [True]
    assert (await deposit(a, fed.relay, B, envelopes=[letter]))["accepted"] == [True]
    assert (await deposit(a, fed.relay, B, envelopes=[letter]))["accepted"] == [True]  # once
    assert await waiting(fed, B) == 2
    assert (await pull_once(b.ctx, b.session, fed.relay)).acknowledged == 2
    async with b.ctx.store.read() as conn:
        senders = await conn.fetchall(
            "SELECT sender_code FROM documents WHERE wire_id = ? ORDER BY sender_code", (x,)
        )
    assert [r[0] for r in senders] == [A, C]
