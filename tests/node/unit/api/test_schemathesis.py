"""Schemathesis against a running node: the node's web port served on 127.0.0.1 from its
own thread (real store with a received, registered letter and its file), the API's
read endpoints called with generated requests from its OpenAPI description; every answer
holds to the description (status, content type, body schema) and none is a server error.
Bounded (MAX_EXAMPLES per operation) to run well under a minute on two cores."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lienthong.crypto.keys import NodeKeys
from lienthong.node.unit import documents as service
from lienthong.node.web import create_web_app
from lienthong.protocol.states import DocState
from lienthong.storage.api_keys import READ
from tests.node.helpers import Clock, make_context, make_directory
from tests.node.running import BOUND, free_port
from tests.node.unit.api.conftest import A, B, deliver, metadata, new_key

# Generated requests per operation: enough to walk every parameter's kinds, few enough for
# a short run on two cores.
MAX_EXAMPLES = 25
# The read endpoints of the documents, the units and the registers.
READS = {
    "/documents",
    "/documents/{id}",
    "/documents/{id}/files/{index}",
    "/units",
    "/registers/{kind}/{year}",
}
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


class RunningNode:
    """Unit B's web port on 127.0.0.1 in a thread of its own, with a letter from A."""

    def __init__(self, tmp) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.token = ""
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start()
            self.error = exc
            self.ready.set()

    async def _serve(self) -> None:
        keys = {code: NodeKeys.generate() for code in (A, B)}
        clock = Clock()
        directory = make_directory(NodeKeys.generate(), keys)
        ctx = {c: await make_context(self.tmp, c, k, directory, clock) for c, k in keys.items()}
        scan = self.tmp / "scan.pdf"
        scan.write_bytes(b"%PDF-1.4 " + b"x" * 5000)
        doc_id = await service.send_document(ctx[A], metadata(), [B], files=[scan], actor="vt")
        await deliver(ctx[A], ctx[B], doc_id)
        await service.process_document(ctx[B], doc_id, DocState.ACCEPTED, actor="vt")
        self.token = await new_key(ctx[B], "schemathesis", (READ,))
        runner = web.AppRunner(create_web_app(ctx[B]), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.stop = asyncio.Event()
        self.ready.set()
        await self.stop.wait()
        await runner.cleanup()
        for c in ctx.values():
            await c.store.close()

    def start(self) -> None:
        self.thread.start()
        assert self.ready.wait(BOUND), "the node did not start"
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        if self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(BOUND)


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[RunningNode]:
    running = RunningNode(tmp_path_factory.mktemp("schemathesis"))
    running.start()
    yield running
    running.close()


def test_the_read_endpoints_hold_to_their_description(node):
    """Each generated GET of each read operation, with the read key: no 5xx, a documented
    status and content type, a body of the documented schema."""
    url = f"http://127.0.0.1:{node.port}/api/v1/openapi.json"
    operations = [result.ok() for result in schemathesis.openapi.from_url(url).get_all_operations()]
    reads = [op for op in operations if op.method.upper() == "GET" and op.path in READS]
    assert {op.path for op in reads} == READS
    for operation in reads:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def call(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {node.token}"}, checks=CHECKS)

        call()
