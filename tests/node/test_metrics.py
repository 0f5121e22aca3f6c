"""The /metrics endpoint: per-node registry, delivery counts, queue depths, directory age."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from lienthong.crypto.keys import NodeKeys
from lienthong.node.metrics import OTHER_DESTINATION, metrics_of
from lienthong.node.unit import documents as service
from lienthong.node.unit.delivery import DeliveryEngine
from lienthong.node.web import create_web_app
from lienthong.protocol.peer import BatchAnswer, ItemAnswer
from lienthong.storage import outbox
from lienthong.storage.documents import get_envelope_raw
from tests.node.helpers import DAY, NOW, Clock, make_context, make_directory
from tests.node.tls_federation import federation, send
from tests.node.unit.test_documents import letter

A, B = "000.00.02.H53", "000.00.03.H53"
HOUR_MS = 3_600_000


@pytest.fixture
async def units(tmp_path):
    keys = {code: NodeKeys.generate() for code in (A, B)}
    directory = make_directory(NodeKeys.generate(), keys)
    clock = Clock()
    ctxs = {
        code: await make_context(tmp_path, code, k, directory, clock) for code, k in keys.items()
    }
    yield ctxs
    for ctx in ctxs.values():
        await ctx.store.close()


@pytest.fixture
async def scrape():
    clients: list[TestClient] = []

    async def get(ctx) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """GET /metrics of ctx's web app: {(sample name, sorted labels): value}."""
        client = TestClient(TestServer(create_web_app(ctx)))
        await client.start_server()
        clients.append(client)
        response = await client.get("/metrics", allow_redirects=False)
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/plain")
        samples = {}
        for family in text_string_to_metric_families(await response.text()):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return samples

    yield get
    for client in clients:
        await client.close()


async def test_metrics_answers_without_login_while_pages_still_need_one(units):
    """/metrics is served to a scraper with no session; the inbox still redirects to login."""
    client = TestClient(TestServer(create_web_app(units[A])))
    await client.start_server()
    try:
        page = await client.get("/", allow_redirects=False)
        assert page.status == 303
        metrics = await client.get("/metrics", allow_redirects=False)
        assert metrics.status == 200
        assert "lienthong_directory_version" in await metrics.text()
    finally:
        await client.close()


async def test_recorded_counts_and_latency_appear_with_bounded_labels(units, scrape):
    """Counts per destination and path, the histogram, and unknown codes folded into 'other'."""
    metrics = metrics_of(units[A])
    metrics.delivered(B, "direct", 3)
    metrics.undelivered(B, "relay", 2)
    metrics.delivered("999.99.99.H53", "direct", 1)
    metrics.batch_took("direct", 0.2)
    samples = await scrape(units[A])
    direct = (("destination", B), ("path", "direct"))
    relay = (("destination", B), ("path", "relay"))
    other = (("destination", OTHER_DESTINATION), ("path", "direct"))
    assert samples[("lienthong_deliveries_succeeded_total", direct)] == 3
    assert samples[("lienthong_deliveries_failed_total", relay)] == 2
    assert samples[("lienthong_deliveries_succeeded_total", other)] == 1
    assert all(("destination", "999.99.99.H53") not in labels for _, labels in samples)
    assert samples[("lienthong_delivery_batch_seconds_count", (("path", "direct"),))] == 1
    bucket = "lienthong_delivery_batch_seconds_bucket"
    assert samples[(bucket, (("le", "0.25"), ("path", "direct")))] == 1
    assert samples[(bucket, (("le", "0.1"), ("path", "direct")))] == 0


async def test_each_node_has_its_own_registry(units, scrape):
    """Counts recorded at A do not show at B, though both run in one process."""
    metrics_of(units[A]).delivered(B, "direct", 5)
    samples = await scrape(units[B])
    assert not any(name.startswith("lienthong_deliveries_succeeded") for name, _ in samples)
    assert metrics_of(units[A]).registry is not metrics_of(units[B]).registry


async def test_queue_depth_and_envelopes_received_are_read_at_scrape_time(units, scrape):
    """Two letters queued at A for B, one carried: depth 1 at A, one envelope received at B."""
    a, b = units[A], units[B]
    first = await service.send_document(a, letter(), [B], actor="vt.a")
    await service.send_document(a, letter(number="2341"), [B], actor="vt.a")
    assert (await scrape(a))[("lienthong_queue_depth", (("destination", B),))] == 2
    async with a.store.read() as conn:
        raw = await get_envelope_raw(conn, first)
    receipt = await service.receive_envelope(b, raw, via="direct")
    await service.receive_status(a, receipt, via="direct")
    samples_a, samples_b = await scrape(a), await scrape(b)
    assert samples_a[("lienthong_queue_depth", (("destination", B),))] == 1
    assert samples_b[("lienthong_envelopes_received_total", ())] == 1
    assert samples_a[("lienthong_envelopes_received_total", ())] == 0


async def test_directory_version_age_and_expiry(units, scrape):
    """Version 1 issued at NOW, valid seven days: an hour later, age 3600 s, expiry 7 days less."""
    units[A].clock.advance(HOUR_MS)
    samples = await scrape(units[A])
    assert samples[("lienthong_directory_version", ())] == 1
    assert samples[("lienthong_directory_age_seconds", ())] == 3600
    assert samples[("lienthong_directory_expires_in_seconds", ())] == (7 * DAY - HOUR_MS) / 1000
    assert units[A].clock() == NOW + HOUR_MS


async def test_delivery_engine_counts_accepted_and_refused_items(units, scrape):
    """A peer's answer with one receipt and one refusal counts one success and one failure."""
    a, b = units[A], units[B]
    first = await service.send_document(a, letter(), [B], actor="vt.a")
    await service.send_document(a, letter(number="2341"), [B], actor="vt.a")
    async with a.store.read() as conn:
        due = await outbox.due_for(conn, B, a.clock() + DAY, 10)
        raw = await get_envelope_raw(conn, first)
    receipt = await service.receive_envelope(b, raw, via="direct")
    answers = {first: ItemAnswer.taken(receipt)}
    refused = ItemAnswer(ok=False, error="NotARecipient", message="not for us")
    result = BatchAnswer([answers.get(i.id, refused) for i in due], [])
    engine = DeliveryEngine(a, session=None)  # the answer is handed in: no request is made
    await engine._apply_results(B, due, [], result)
    samples = await scrape(a)
    direct = (("destination", B), ("path", "direct"))
    assert samples[("lienthong_deliveries_succeeded_total", direct)] == 1
    assert samples[("lienthong_deliveries_failed_total", direct)] == 1


async def test_an_unknown_path_is_refused(units):
    """Only 'direct' and 'relay' are label values of path."""
    with pytest.raises(ValueError, match="delivery path must be one of"):
        metrics_of(units[A]).delivered(B, "carrier pigeon", 1)


async def test_the_centre_reports_its_relay_backlog(tmp_path, scrape):
    """Items and bytes waiting per recipient at the relay, and the oldest one's age; a unit
    (no relay of its own) reports none of them."""
    async with federation(tmp_path) as fed:
        a = fed.units[A]
        await send(a, [B])
        await a.engine.deliver(B)  # B is behind NAT: the letter waits at the relay
        fed.clock.advance(90_000)
        samples = await scrape(fed.centre)
        assert samples[("lienthong_relay_items", (("recipient", B),))] == 1
        assert samples[("lienthong_relay_bytes", (("recipient", B),))] > 0
        assert samples[("lienthong_relay_oldest_item_age_seconds", ())] == 90
        unit = await scrape(a.ctx)
        assert not [name for name, _ in unit if name.startswith("lienthong_relay")]
