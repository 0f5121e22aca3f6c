"""Schemathesis against running nodes: two units enrolled at a centre and run as `lienthong
run` runs them (node.runtime.Node), a letter with a file sent from A and arrived at B,
registered there; schemathesis loads /api/v1/openapi.json from B's web port on 127.0.0.1
and calls the read endpoints, then the POST endpoints (each call with a new Idempotency-Key),
with generated requests: every answer holds to the description (status, content type, body
schema), none is a server error, and every 4xx is a problem naming what was wrong. Bounded
(MAX_EXAMPLES per operation) to run well under a minute on two cores."""

from __future__ import annotations

import asyncio

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lienthong.node.unit import documents as service
from lienthong.protocol.states import DocState
from lienthong.storage.api_keys import ADMIN, READ
from tests.node.running import eventually
from tests.node.test_edge_limits import A, B, arrived, province
from tests.node.unit.api.conftest import metadata, new_key

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
# The POST endpoints: send, status, recall, recall answer, assignment, completion, copies,
# edXML import and resumable uploads.
POSTS = {
    "/documents",
    "/documents/{id}/copies",
    "/documents/{id}/status",
    "/documents/{id}/recall",
    "/documents/{id}/recall-answer",
    "/documents/{id}/assignment",
    "/documents/{id}/completion",
    "/edxml",
    "/uploads",
}
# Generated requests per POST operation: each may store a document or an upload, so fewer.
MAX_POST_EXAMPLES = 15


def a_4xx_is_a_problem_naming_what_was_wrong(ctx, response, case):
    """A 4xx answer is application/problem+json with its status, a type and a detail."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]  # lower-case, lists
    assert content_type.startswith("application/problem+json"), (
        f"{case.method} {case.path}: a {response.status_code} is not problem+json"
    )
    problem = response.json()
    assert problem.get("status") == response.status_code, problem
    assert problem.get("type") and problem.get("detail"), problem
    return None


CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


def operations_of(port: int, method: str, paths: set[str]) -> list:
    url = f"http://127.0.0.1:{port}/api/v1/openapi.json"
    operations = [r.ok() for r in schemathesis.openapi.from_url(url).get_all_operations()]
    chosen = [op for op in operations if op.method.upper() == method and op.path in paths]
    assert {op.path for op in chosen} == paths
    return chosen


def check_posts(port: int, token: str, doc_id: str) -> int:
    """Run generated POSTs, each with its own Idempotency-Key and, where the path names a
    document, the letter that arrived (a generated id would only meet 404s); how many."""
    calls = 0
    for operation in operations_of(port, "POST", POSTS):

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_POST_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def call(case):
            nonlocal calls
            calls += 1
            if case.path_parameters and "id" in case.path_parameters:
                case.path_parameters["id"] = doc_id
            headers = {
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": f"schemathesis-{calls}",
            }
            case.call_and_validate(
                headers=headers, checks=(*CHECKS, a_4xx_is_a_problem_naming_what_was_wrong)
            )

        call()
    return calls


def check_reads(port: int, token: str) -> int:
    """Run the generated calls (blocking: schemathesis calls with requests); how many."""
    url = f"http://127.0.0.1:{port}/api/v1/openapi.json"
    operations = [r.ok() for r in schemathesis.openapi.from_url(url).get_all_operations()]
    reads = [op for op in operations if op.method.upper() == "GET" and op.path in READS]
    assert {op.path for op in reads} == READS
    calls = 0
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
            nonlocal calls
            calls += 1
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        call()
    return calls


async def test_the_read_endpoints_of_a_running_node_hold_to_their_description(tmp_path):
    """Each generated GET of each read operation, with a read key, on B's running node: no
    5xx, a documented status and content type, a body of the documented schema."""
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4 " + b"x" * 5000)
    async with province(tmp_path, {}) as p:
        await p.enrol(A)
        await p.enrol(B)
        a, b = await p.start(A), await p.start(B)
        await p.refresh()
        doc_id = await service.send_document(a.ctx, metadata(), [B], files=[scan], actor="vt")
        await eventually(lambda: arrived(a, doc_id, B), "the letter arrived at B")
        await service.process_document(b.ctx, doc_id, DocState.ACCEPTED, actor="vt")
        token = await new_key(b.ctx, "schemathesis", (READ,))
        calls = await asyncio.to_thread(check_reads, b.web_port, token)
    assert calls >= len(READS)


async def test_the_post_endpoints_of_a_running_node_hold_to_their_description(tmp_path):
    """Each generated POST of each write operation, with an admin key and a new
    Idempotency-Key per call, on B's running node (a letter arrived there to act on): no
    5xx, a documented status and content type, a body of the documented schema, and every
    4xx a problem+json with its status, type and detail."""
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4 " + b"x" * 5000)
    async with province(tmp_path, {}) as p:
        await p.enrol(A)
        await p.enrol(B)
        a, b = await p.start(A), await p.start(B)
        await p.refresh()
        doc_id = await service.send_document(a.ctx, metadata(), [B], files=[scan], actor="vt")
        await eventually(lambda: arrived(a, doc_id, B), "the letter arrived at B")
        token = await new_key(b.ctx, "schemathesis", (ADMIN,))
        calls = await asyncio.to_thread(check_posts, b.web_port, token, doc_id)
    assert calls >= len(POSTS)
