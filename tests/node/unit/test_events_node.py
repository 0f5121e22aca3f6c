"""Webhooks as `lienthong run` runs them: B's node.toml names a webhook, the running node
(node.runtime.Node) spawns the loop, and A's letter reaches the stand-in as a signed
document.arrived; the feed answers on B's web port with an API key."""

from __future__ import annotations

import json

import aiohttp

from lienthong.node import config as cfg
from lienthong.node.datadir import config_saver
from lienthong.node.unit import documents as service
from lienthong.storage.api_keys import add_key
from tests.node.running import eventually
from tests.node.test_edge_limits import A, B, province
from tests.node.tls_federation import letter
from tests.node.unit.test_events_webhooks import SECRET, StandIn, verify


async def test_a_running_node_posts_its_events_to_the_webhook_of_its_config(tmp_path):
    """Two enrolled units run as nodes; B's [events] webhooks names the stand-in. A sends:
    the stand-in gets document.arrived for it, signed with B's secret; GET /api/v1/events
    on B's web port lists the same event."""
    dms = StandIn()
    url = await dms.start()
    try:
        async with province(tmp_path, {}) as p:
            await p.enrol(A)
            await p.enrol(B)
            config = cfg.load_config(p.dirs[B])
            values = {section: dict(keys) for section, keys in config.values.items()}
            values["events"]["webhooks"] = [{"name": "dms", "url": url, "secret": SECRET}]
            config_saver(config)(values)
            a, b = await p.start(A), await p.start(B)
            await p.refresh()
            envelope_id = await service.send_document(a.ctx, letter(), [B], actor="vt")
            await eventually(lambda: dms.received, "the webhook got an event")
            ((headers, body),) = dms.received
            sent = json.loads(body)
            assert sent["kind"] == "document.arrived"
            assert sent["data"]["envelope"] == envelope_id
            assert verify(SECRET, headers, body, b.ctx.clock() / 1000)

            async with b.ctx.store.write() as tx:
                _, token = await add_key(tx, "dms", ("read",), actor="test", at=b.ctx.clock())
            async with (
                aiohttp.ClientSession() as client,
                client.get(
                    f"http://127.0.0.1:{b.web_port}/api/v1/events?after=0",
                    headers={"Authorization": f"Bearer {token}"},
                ) as response,
            ):
                assert response.status == 200
                feed = await response.json()
            assert [e["id"] for e in feed["events"]] == [sent["id"]]
    finally:
        await dms.stop()
