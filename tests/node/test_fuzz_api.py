"""Hypothesis against the peer API, the relay and the centre's API over real mutual TLS on
127.0.0.1: whatever a peer sends, the answer comes (no hang), is never a 5xx, a refusal
names what was wrong, and nothing a refused request carried is stored.

Bodies start from valid envelopes, statuses, batches, directories and registration
requests and are mutated at every layer (tests/fuzz/mutate.py); the test holds the
senders' keys, so a mutated message can also carry a valid signature and reach the field
checks and the store. LIENTHONG_FUZZ_EXAMPLES sets the examples per property.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lienthong.crypto import signing
from lienthong.node.context import NodeContext
from lienthong.protocol.document import DocumentBody
from lienthong.protocol.envelope import seal_envelope, verify_envelope
from lienthong.protocol.peer import decode_batch
from lienthong.protocol.relay import REOFFER_SECONDS
from lienthong.protocol.status import verify_status
from lienthong.protocol.wire import pack, unpack
from lienthong.storage.documents import get_document, held_envelopes
from tests.fuzz import targets
from tests.fuzz.harness import (
    FUZZ,
    Answer,
    changed,
    check_answer,
    exchange,
    raw_exchange,
    server_errors,
    snapshot,
)
from tests.fuzz.inputs import (
    CONTENT_TYPES,
    ETAGS,
    RANGES,
    WAITS,
    batch_body,
    blob_names,
    items,
    raw_request,
    upload_numbers,
)
from tests.fuzz.mutate import mutate_bytes, mutate_signed
from tests.fuzz.targets import MAX_ANSWER, CentreApi, Target, decoded, post, seeded
from tests.node.tls_federation import (
    CENTRE,
    UNKNOWN,
    A,
    B,
    C,
    federation,
    letter,
)


@pytest.fixture
async def errors():
    with server_errors() as handler:
        yield handler


@pytest.fixture
async def unit(tmp_path) -> AsyncIterator[Target]:
    """Unit B's peer API under fuzz, A calling."""
    async with federation(tmp_path, serve_units=True) as fed:
        target = await seeded(fed, tmp_path, centre=False)
        try:
            yield target
        finally:
            await target.raw.runner.cleanup()


@pytest.fixture
async def centre(tmp_path) -> AsyncIterator[Target]:
    """The centre's relay and blobs under fuzz, A calling."""
    async with federation(tmp_path, serve_units=True) as fed:
        target = await seeded(fed, tmp_path, centre=True)
        try:
            yield target
        finally:
            await target.raw.runner.cleanup()


# -- checks ---------------------------------------------------------------------------------


def refusals_are_named(answers: list[dict[str, Any]]) -> None:
    for item in answers:
        if not item["ok"]:
            assert isinstance(item["error"], str) and item["error"], item
            assert isinstance(item["message"], str) and item["message"], item


def item_ids(ctx: NodeContext, envelopes: list[bytes], statuses: list[bytes]):
    """What each item would be stored under, if it verifies (else None): an envelope's
    (sender, id), a status's id."""

    def one(verify, raw):
        try:
            return verify(raw)
        except Exception:
            return None

    lookup = ctx.directory.key_lookup
    return (
        [one(lambda r: _key(verify_envelope(r, lookup).header), r) for r in envelopes],
        [one(lambda r: verify_status(r, lookup).status.id, r) for r in statuses],
    )


def _key(header) -> tuple[str, str]:
    return header.sender, header.id


async def received(ctx: NodeContext, keys: list[tuple[str, str] | None]) -> set[tuple[str, str]]:
    """The (sender, id) pairs among `keys` whose envelope the node holds."""
    async with ctx.store.read() as conn:
        return set(await held_envelopes(conn, [k for k in keys if k is not None]))


async def present(ctx: NodeContext, table: str, column: str, ids: list[str | None]) -> set[str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return set()
    marks = ",".join("?" * len(wanted))
    async with ctx.store.read() as conn:
        sql = f"SELECT {column} FROM {table} WHERE {column} IN ({marks})"  # noqa: S608 - fixed names
        rows = await conn.fetchall(sql, wanted)
    return {r[0] for r in rows}


def unchanged(before: dict[str, Any], after: dict[str, Any], why: str) -> None:
    assert not changed(before, after), f"stored after {why}: {changed(before, after)}"


# -- the peer API ---------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
async def test_inbox_answers_every_batch_and_stores_only_what_it_accepts(unit, errors, data):
    """Any inbox body: 400 naming the fault, or one answer per item naming each refusal;
    only an item answered ok and new to B may be stored."""
    batch = items(data, unit)
    body = batch_body(data, batch, unit.known)
    try:
        envelopes, statuses = decode_batch(body)
    except Exception:
        envelopes, statuses = [], []
    env_keys, status_ids = item_ids(unit.ctx, envelopes, statuses)
    had = await received(unit.ctx, env_keys) | await present(
        unit.ctx, "status_events", "id", status_ids
    )
    before = await snapshot(unit.ctx)
    headers = {"Content-Type": data.draw(st.sampled_from(CONTENT_TYPES))}
    answer = await exchange(
        unit.sender.session, "POST", f"{unit.url}/v1/inbox", data=body, headers=headers
    )
    errors.check()
    check_answer(answer)
    new_envelopes: list[tuple[str, str]] = []
    new_statuses: list[str] = []
    if answer.status == 200:
        result = unpack(answer.body, what="inbox answer", max_bytes=MAX_ANSWER)
        refusals_are_named(result["envelopes"] + result["statuses"])
        for new, keys, answers in (
            (new_envelopes, env_keys, result["envelopes"]),
            (new_statuses, status_ids, result["statuses"]),
        ):
            new += [k for k, a in zip(keys, answers, strict=True) if a["ok"] and k not in had]
    after = await snapshot(unit.ctx)
    if new_envelopes or new_statuses:  # a mutation that is a valid new message: stored
        assert await received(unit.ctx, new_envelopes) == set(new_envelopes)
        stored = await present(unit.ctx, "status_events", "id", new_statuses)
        assert stored == set(new_statuses)
    else:
        unchanged(before, after, f"inbox answer {answer}")


@FUZZ
@given(data=st.data())
async def test_blob_requests_never_fail_and_refusals_store_nothing(unit, errors, data):
    """HEAD, PUT and GET of blobs with any id, upload headers, ranges and bytes: no 5xx; a
    refusal leaves no new or longer file; a stored blob hashes to its id; GET serves its bytes."""
    method = data.draw(st.sampled_from(["HEAD", "PUT", "PUT", "GET", "POST", "DELETE"]))
    name = data.draw(blob_names(unit), label="blob id")
    source = unit.fresh if name == unit.fresh_id else unit.blob
    headers = {}
    if data.draw(st.booleans()):
        headers["Upload-Offset"] = data.draw(upload_numbers(len(source)))
    if data.draw(st.booleans()):
        headers["Upload-Length"] = data.draw(upload_numbers(len(source)))
    if data.draw(st.booleans()):
        headers["Range"] = data.draw(RANGES)
    if data.draw(st.booleans()):
        headers["Content-Type"] = data.draw(st.sampled_from(CONTENT_TYPES))
    body = None
    if method in ("PUT", "POST") and data.draw(st.booleans()):
        start = data.draw(st.integers(0, len(source)))
        body = source[start : start + data.draw(st.integers(0, len(source)))]
        if data.draw(st.booleans()):
            body = mutate_bytes(data, body)
    before = await snapshot(unit.ctx)
    url = f"{unit.url}/v1/blobs/{name}"
    answer = await exchange(unit.sender.session, method, url, data=body, headers=headers)
    errors.check()
    check_answer(answer, method=method)
    after = await snapshot(unit.ctx)
    files_before, files_after = before.pop("files"), after.pop("files")
    unchanged(before, after, f"blob {method}")
    if answer.status >= 400:
        grown = {f: n for f, n in files_after.items() if n > files_before.get(f, -1)}
        assert not grown, f"{method} answered {answer} but stored {grown}"
    if answer.status == 201:
        stored = unit.ctx.blobs.path(name).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == name
    if method == "GET" and answer.status in (200, 206):
        assert answer.body == served_part(unit.ctx.blobs.path(name).read_bytes(), answer)


def served_part(blob: bytes, answer: Answer) -> bytes:
    """The bytes a 200 or 206 answer must carry: all, or the range its Content-Range names."""
    if answer.status == 200:
        return blob
    first, last = answer.headers["Content-Range"].split()[1].split("/")[0].split("-")
    return blob[int(first) : int(last) + 1]


@FUZZ
@given(data=st.data())
async def test_directory_push_takes_only_a_newer_root_signed_directory(unit, errors, data):
    """A pushed directory, mutated and re-signed with the root key or not: 204 or 422 naming
    the fault; only a newer directory that verifies is cached."""
    fed = unit.fed
    seeds = [
        decoded(fed.directory_bytes([CENTRE, A, B, C], [fed.relay], version=v)) for v in (1, 2, 3)
    ]
    seed = data.draw(st.sampled_from(seeds), label="directory")

    def sign(payload: bytes) -> bytes:
        return signing.sign(fed.root.signing, signing.DIRECTORY, payload)

    body = mutate_signed(data, seed, sign, "centre", [*unit.known, seed["certificates"][0]])
    version = unit.ctx.directory.version
    before = await snapshot(unit.ctx)
    answer = await exchange(unit.sender.session, "POST", f"{unit.url}/v1/directory", data=body)
    errors.check()
    check_answer(answer)
    after = await snapshot(unit.ctx)
    if unit.ctx.directory.version > version:
        assert answer.status == 204
        assert unit.ctx.directory.current.raw == body
        assert after["directory_cache"][0] == before["directory_cache"][0] + 1
    else:
        assert answer.status in (204, 422), answer
        unchanged(before, after, f"directory push {answer}")


# -- raw requests ---------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
async def test_hand_written_requests_to_a_unit_never_fail_or_store(unit, errors, data):
    """Any method, path, HTTP version, lying Content-Length, broken chunking or odd header:
    an answer below 500 naming the fault (or, for a body that never comes, nothing stored)."""
    replay = pack({"envelopes": [], "statuses": []})
    routes = [
        "/v1/inbox",
        "/v1/directory",
        f"/v1/blobs/{unit.blob_id}",
        "/",
        "//v1/inbox",
        "/v1/%69nbox",
        "/V1/INBOX",
        "/v1/inbox/",
        "/v1/blobs/" + "a" * 9000,
    ]
    bodies = [replay, unit.fed.directory_bytes([CENTRE, A, B, C], [unit.fed.relay]), b"", b"\xc1"]
    await hand_written(unit, errors, data, routes, bodies)


async def hand_written(
    target: Target,
    errors,
    data,
    routes: list[str],
    bodies: list[bytes],
    skip: frozenset[str] = frozenset(),
):
    request, wait = raw_request(data, routes, bodies)
    before = await snapshot(target.ctx, skip=skip)
    answer = await raw_exchange(target.raw, target.client_tls, request, answer=wait)
    await target.raw.settle()
    errors.check()
    if answer is not None:
        check_answer(answer, method=request.split(b" ", 1)[0].decode())
    unchanged(before, await snapshot(target.ctx, skip=skip), f"raw request, answer {answer}")


# -- the relay ------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
async def test_relay_deposit_stores_only_verified_items_for_the_named_unit(centre, errors, data):
    """Any deposit: 400 naming the fault or one verdict per item; the mailbox gains only
    items that verify, come from the caller and are addressed to the named unit."""
    batch = {"to": data.draw(st.sampled_from([B, B, C, A, UNKNOWN, CENTRE])), **items(data, centre)}
    body = batch_body(data, batch, centre.known)
    before = await snapshot(centre.ctx)
    rows_before = await mailbox(centre.ctx)
    answer = await exchange(
        centre.sender.session, "POST", f"{centre.url}/v1/relay/deposit", data=body
    )
    errors.check()
    check_answer(answer)
    after = await snapshot(centre.ctx)
    if answer.status != 200:
        return unchanged(before, after, f"deposit {answer}")
    result = unpack(answer.body, what="deposit answer", max_bytes=MAX_ANSWER)
    assert len(result["accepted"]) == len(result["errors"])
    for ok, error in zip(result["accepted"], result["errors"], strict=True):
        assert ok or (isinstance(error, str) and error), result
    added = {k: v for k, v in (await mailbox(centre.ctx)).items() if k not in rows_before}
    assert len(added) <= sum(result["accepted"])
    lookup = centre.ctx.directory.key_lookup
    for (recipient, _), (kind, sender, raw) in added.items():
        assert sender == A
        if kind == "envelope":
            assert recipient in verify_envelope(raw, lookup).header.recipients
        else:
            assert verify_status(raw, lookup).status.to == recipient
    if not added:
        unchanged(before, after, f"deposit {result}")


# A pull marks its caller as seen (centre_units.last_seen) and hides what it answers for a
# while (relay_mailbox.visible_at): that is no mail stored; `mailbox` compares the items.
SEEN = frozenset({"centre_units", "relay_mailbox"})


async def mailbox(ctx: NodeContext) -> dict[tuple[str, str], tuple[str, str, bytes]]:
    async with ctx.store.read() as conn:
        rows = await conn.fetchall(
            "SELECT recipient, item_id, kind, sender, raw FROM relay_mailbox"
        )
    return {(r[0], r[1]): (r[2], r[3], bytes(r[4])) for r in rows}


@FUZZ
@given(data=st.data())
async def test_relay_pull_and_ack_touch_only_the_callers_mailbox(centre, errors, data):
    """Pull with any `wait`, ack with any body (other units' item ids among them): 200 or 400
    naming the fault, at once (A's mailbox holds mail); no mailbox loses or gains an item."""
    items = await mailbox(centre.ctx)
    b_items = [k[1] for k in items if k[0] == B]
    before = await snapshot(centre.ctx, skip=SEEN)
    if data.draw(st.booleans(), label="pull"):
        centre.ctx.clock.advance(REOFFER_SECONDS * 1000)  # what earlier pulls hid shows again
        wait = quote(data.draw(WAITS), safe="")
        answer = await exchange(
            centre.sender.session, "GET", f"{centre.url}/v1/relay/pull?wait={wait}"
        )
        if answer.status == 200:
            pulled = unpack(answer.body, what="pull answer", max_bytes=MAX_ANSWER)["items"]
            assert pulled and all(i["kind"] in ("envelope", "status", "notice") for i in pulled)
    else:
        ids = data.draw(st.lists(st.sampled_from(b_items) | st.text(max_size=90), max_size=5))
        body = batch_body(data, {"ids": ids}, b_items)
        answer = await exchange(
            centre.sender.session, "POST", f"{centre.url}/v1/relay/ack", data=body
        )
        if answer.status == 200:
            assert unpack(answer.body, what="ack answer", max_bytes=MAX_ANSWER) == {"removed": 0}
    errors.check()
    check_answer(answer)
    unchanged(before, await snapshot(centre.ctx, skip=SEEN), f"{answer}")
    assert await mailbox(centre.ctx) == items


@FUZZ
@given(data=st.data())
async def test_hand_written_requests_to_the_relay_never_fail_or_store(centre, errors, data):
    """As for a unit: any framing, method and path at the centre's relay and blobs."""
    routes = [
        "/v1/relay/deposit",
        "/v1/relay/ack",
        "/v1/relay/pull?wait=0",
        "/v1/relay/pull?wait=nan",
        f"/v1/blobs/{centre.blob_id}",
        "/v1/inbox",
        "/v1/relay/",
        "/v1/relay/pull?wait=%ff",
    ]
    bodies = [pack({"to": B, "envelopes": [], "statuses": []}), pack({"ids": []}), b"", b"\xc1"]
    items = await mailbox(centre.ctx)
    # A pull hides what it answers for a while and notes the caller as seen (SEEN): the
    # mailbox keeps exactly its items.
    await hand_written(centre, errors, data, routes, bodies, skip=SEEN)
    assert await mailbox(centre.ctx) == items


# -- the centre's API -----------------------------------------------------------------------


@pytest.fixture
async def centre_api(tmp_path) -> AsyncIterator[CentreApi]:
    """A centre made by `centre init`: its API, relay and blobs under fuzz."""
    async with targets.centre_api(tmp_path) as served:
        yield served


@FUZZ
@given(data=st.data())
async def test_centre_api_refuses_bad_requests_and_issues_nothing(centre_api, errors, data):
    """Enrolment and rotation requests mutated (and signed again by the key inside), any
    If-None-Match, any content type: an answer below 500, a refusal naming its reason, and
    no token, unit, certificate or directory changed (U's enrolment is answered again)."""
    route = data.draw(st.sampled_from([*centre_api.seeds, "/v1/directory", "/v1/ca"]))
    method, headers, body = "GET", {}, None
    if route in centre_api.seeds:
        message, keys = centre_api.seeds[route]

        def sign(payload: bytes) -> bytes:
            return signing.sign(keys.signing, signing.REGISTRATION, payload)

        method, body = "POST", mutate_signed(data, message, sign, "self", centre_api.known)
        headers["Content-Type"] = data.draw(st.sampled_from(CONTENT_TYPES))
    elif route == "/v1/directory" and data.draw(st.booleans()):
        headers["If-None-Match"] = data.draw(ETAGS)
    context = centre_api.unit_tls if route == "/v1/rotate" else centre_api.anonymous
    before = await snapshot(centre_api.ctx)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as http:
        url = f"{centre_api.url}{route.strip()}"
        answer = await exchange(http, method, url, data=body, headers=headers)
    errors.check()
    check_answer(answer, method=method)
    unchanged(before, await snapshot(centre_api.ctx), f"{route} answered {answer}")


@FUZZ
@given(data=st.data())
async def test_hand_written_requests_to_the_centre_never_fail_or_store(centre_api, errors, data):
    """Any framing, method and path at the centre's API, from a client with no certificate."""
    routes = [
        "/v1/enrol",
        "/v1/rotate",
        "/v1/directory",
        "/v1/ca",
        "/v1/relay/deposit",
        "/v1/enrol/",
    ]
    bodies = [pack(centre_api.seeds["/v1/enrol"][0]), b"", b"\xc1" * 9000]
    target = Target(
        fed=None,
        sender=None,
        ctx=centre_api.ctx,
        url=centre_api.url,  # type: ignore[arg-type]
        raw=centre_api.raw,
        client_tls=centre_api.anonymous,
    )
    await hand_written(target, errors, data, routes, bodies)


# -- what the fuzz found ----------------------------------------------------------------------


async def test_an_envelope_reusing_the_id_of_a_document_held_here_is_stored(unit, errors):
    """A validly signed envelope of A whose id is that of B's own outgoing letter (it was a
    500, then a refusal): an envelope id is unique per sender, so it is stored under an id
    of its own here, answered with a 01 naming its wire id, and B's letter is untouched."""
    fed, a = unit.fed, unit.sender
    own_id = unit.back_id
    directory = fed.centre.directory.current
    raw = seal_envelope(
        keys=a.ctx.keys,
        sender=A,
        serial=fed.serial(A),
        recipients={B: directory.current(B).enc_key},
        body=DocumentBody(metadata=letter()),
        created=fed.clock(),
        envelope_id=own_id,
    )
    async with unit.ctx.store.read() as conn:
        own = await get_document(conn, own_id)
    answers = await post(a, f"{unit.url}/v1/inbox", {"envelopes": [raw], "statuses": []})
    errors.check()
    (answer,) = answers["envelopes"]
    assert answer["ok"] is True, answer
    receipt = verify_status(answer["status"], unit.ctx.directory.key_lookup).status
    assert (receipt.envelope, receipt.to) == (own_id, A)
    assert receipt.receipt == hashlib.sha256(raw).digest()
    async with unit.ctx.store.read() as conn:
        (held,) = (await held_envelopes(conn, [(A, own_id)])).values()
        incoming = await get_document(conn, held.document_id)
        assert await get_document(conn, own_id) == own  # B's own letter, as it was
    assert held.document_id != own_id and held.arrival == answer["status"]
    assert (incoming.direction, incoming.sender_code, incoming.wire_id) == ("in", A, own_id)


async def test_an_upload_refused_for_its_offset_leaves_no_file(unit, errors):
    """A PUT at the wrong offset of an upload never started: 409, and no empty partial file
    left behind (it was; any peer could fill the disk with empty files)."""
    url = f"{unit.url}/v1/blobs/{unit.fresh_id}"
    before = await snapshot(unit.ctx)
    headers = {"Upload-Offset": "699", "Upload-Length": str(len(unit.fresh))}
    answer = await exchange(unit.sender.session, "PUT", url, data=unit.fresh[699:], headers=headers)
    assert answer.status == 409 and answer.headers["Upload-Offset"] == "0"
    headers = {"Upload-Offset": "0", "Upload-Length": str(len(unit.fresh))}
    answer = await exchange(unit.sender.session, "PUT", url, data=b"", headers=headers)
    assert answer.status == 202 and answer.headers["Upload-Offset"] == "0"
    errors.check()
    unchanged(before, await snapshot(unit.ctx), "uploads that brought nothing")


@pytest.mark.parametrize("number", ["1_0", "١٢", "+5", "-0", "0x5", "5.0"])
async def test_upload_headers_take_decimal_digits_only(unit, number):
    """Upload-Offset and Upload-Length in any other form than ASCII digits: 400 naming them
    (int() took "1_0" as 10 and "١٢" as 12)."""
    url = f"{unit.url}/v1/blobs/{unit.fresh_id}"
    for headers in (
        {"Upload-Offset": number, "Upload-Length": "10"},
        {"Upload-Offset": "0", "Upload-Length": number},
    ):
        answer = await exchange(unit.sender.session, "PUT", url, data=b"x" * 10, headers=headers)
        assert answer.status == 400, answer
        assert "decimal digits" in json.loads(answer.body)["message"]


@pytest.mark.parametrize("route", ["/v1/inbox", "/v1/directory", "/v1/blobs/{fresh}"])
async def test_a_body_that_does_not_decode_is_refused_not_a_server_error(unit, errors, route):
    """A body announced as gzip that is not: 400 MalformedRequest (it was a 500)."""
    url = unit.url + route.format(fresh=unit.fresh_id)
    headers = {"Content-Encoding": "gzip", "Upload-Offset": "0", "Upload-Length": "99"}
    before = await snapshot(unit.ctx)
    method = "PUT" if "blobs" in route else "POST"
    answer = await exchange(unit.sender.session, method, url, data=b"not gzip", headers=headers)
    errors.check()
    assert answer.status == 400, answer
    assert json.loads(answer.body)["error"] == "MalformedRequest"
    unchanged(before, await snapshot(unit.ctx), "a body that does not decode")


async def test_a_peer_hanging_up_mid_body_is_not_a_server_error(unit, errors):
    """A request whose body never comes in full (the caller hangs up): no error logged with
    a traceback (aiohttp logged one and chose 500), nothing stored."""
    before = await snapshot(unit.ctx)
    request = (
        b"POST /v1/inbox HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
        + pack({"envelopes": [], "statuses": []})
    )
    assert await raw_exchange(unit.raw, unit.client_tls, request, answer=False) is None
    await unit.raw.settle()
    errors.check()
    unchanged(before, await snapshot(unit.ctx), "a request cut short")
