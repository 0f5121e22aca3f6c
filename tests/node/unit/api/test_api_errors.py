"""Errors of the API are RFC 9457 problems naming the field: bad JSON, unknown fields, wrong
types, unknown query parameters, unknown routes and methods; nothing is stored for them."""

from __future__ import annotations

import json

import pytest

from lienthong.protocol.document import _metadata_v2
from tests.node.unit.api.conftest import A, B, metadata, sent_and_delivered

PROBLEM = "application/problem+json"


async def problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    body = await response.json()
    assert body["status"] == status and body["type"].startswith("urn:lienthong:problem:")
    assert body["title"] and body["detail"]
    return body


def fields(body: dict) -> list[str]:
    return [e["field"] for e in body.get("errors", [])]


async def counts(ctx) -> tuple[int, int]:
    async with ctx.store.read() as conn:
        docs = await conn.fetchone("SELECT count(*) FROM documents")
        kept = await conn.fetchone("SELECT count(*) FROM api_idempotency")
    return docs[0], kept[0]


def post(client, path: str, body, key: str = "k-1"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    return client.post(path, data=data, headers=headers)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b"{not json", "body", "not JSON"),
        (b"[1, 2]", "body", "JSON object"),
        ({"recipients": [B]}, "metadata", "required"),
        ({"metadata": {}, "recipients": [B], "colour": "red"}, "colour", "unknown field"),
        ({"metadata": {}, "recipients": "B"}, "recipients", "an array"),
        ({"metadata": {}, "recipients": [B], "paper": "yes"}, "paper", "true or false"),
        ({"metadata": {}, "recipients": [7]}, "recipients[0]", "non-empty string"),
        ({"metadata": {}, "recipients": [B], "business": "edit"}, "business", "one of"),
    ],
)
async def test_a_bad_document_is_refused_naming_its_field(units, dms, body, field, words):
    """Each bad body: 400 naming the field, nothing stored (no document, no kept answer)."""
    client = await dms(units.ctx[A], ("send",))
    body = await problem(await post(client, "/api/v1/documents", body), 400)
    assert field in fields(body), body
    assert words in json.dumps(body, ensure_ascii=False)
    assert await counts(units.ctx[A]) == (0, 0)


async def test_the_metadata_is_checked_as_the_wire_checks_it(units, dms):
    """A metadata field the protocol refuses (an unknown member, a number not of digits) is
    named under metadata.; the same metadata corrected is sent."""
    client = await dms(units.ctx[A], ("send",))
    good = _metadata_v2(metadata())
    bad = good | {"number": "5a"}
    r = await post(client, "/api/v1/documents", {"metadata": bad, "recipients": [B]})
    body = await problem(r, 400)
    assert fields(body) == ["metadata.number"]
    extra = good | {"colour": "red"}
    body = await problem(
        await post(client, "/api/v1/documents", {"metadata": extra, "recipients": [B]}, "k-2"), 400
    )
    assert fields(body) == ["metadata.'colour'"]
    assert await counts(units.ctx[A]) == (0, 0)
    r = await post(client, "/api/v1/documents", {"metadata": good, "recipients": [B]}, "k-3")
    assert r.status == 201, await r.text()
    assert (await counts(units.ctx[A]))[0] == 1


async def test_query_parameters_are_checked(units, dms):
    """An unknown parameter, a missing direction, a bad limit, cursor or since: 400 each,
    naming the parameter."""
    client = await dms(units.ctx[B])
    for query, field in [
        ("direction=in&colour=red", "colour"),
        ("", "direction"),
        ("direction=sideways", "direction"),
        ("direction=in&limit=0", "limit"),
        ("direction=in&limit=abc", "limit"),
        ("direction=in&cursor=%21%21", "cursor"),
        ("direction=in&since=yesterday", "since"),
        ("direction=in&since=2026-12-01T00:00:00", "since"),
        ("direction=in&state=lost", "state"),
        ("direction=in&direction=out", "direction"),
    ]:
        body = await problem(await client.get(f"/api/v1/documents?{query}"), 400)
        assert fields(body) == [field], (query, body)


async def test_unknown_routes_methods_and_documents_are_problems(units, dms):
    """No such route, a wrong method, no such document, no such file: problems, not pages."""
    ctx = units.ctx[B]
    doc_id = await sent_and_delivered(units)
    client = await dms(ctx, ("admin",))
    await problem(await client.get("/api/v1/nothing"), 404)
    await problem(await client.get("/api/v1"), 404)
    body = await problem(await client.delete("/api/v1/units"), 405)
    assert body["title"] == "Method not allowed"
    await problem(await client.get("/api/v1/documents/01J0000000ABCDEFGHJKMNPQRS"), 404)
    await problem(await client.get(f"/api/v1/documents/{doc_id}/files/3"), 404)
    await problem(await client.get("/api/v1/documents/not-an-id"), 404)


async def test_a_post_that_is_not_json_is_refused(units, dms):
    """A form body: 415 naming Content-Type; an oversized body: 413; nothing stored."""
    client = await dms(units.ctx[A], ("send",))
    r = await client.post(
        "/api/v1/documents", data={"metadata": "x"}, headers={"Idempotency-Key": "k"}
    )
    assert fields(await problem(r, 415)) == ["Content-Type"]
    r = await post(client, "/api/v1/documents", b"{" + b" " * (300 * 1024) + b"}")
    await problem(r, 413)
    assert await counts(units.ctx[A]) == (0, 0)
