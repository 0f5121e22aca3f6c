"""Bad input at a unit's peer API over real mutual TLS on 127.0.0.1: each refusal has its
HTTP status or per-item error, leaves the receiver's store as it was, and is audited."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import ssl
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lienthong.crypto import signing
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import NodeKeys
from lienthong.node.context import NodeContext
from lienthong.node.pinning import pinning_of
from lienthong.node.unit import peer_api
from lienthong.node.unit.peer_api import CONTENT_TYPE
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.peer import MAX_INBOX_ITEMS
from lienthong.protocol.status import make_status
from lienthong.protocol.wire import pack, unit_signer, unwrap, wrap
from lienthong.storage import audit
from lienthong.storage.errors import BlobError
from tests.node.tls_federation import (
    CENTRE,
    A,
    B,
    C,
    Federation,
    Unit,
    actions,
    attachment,
    issue_tls,
    post_inbox,
    row_counts,
    sealed,
    send,
    until,
)

# Tables that hold what a peer can make a unit store; a refusal must leave each as it was.
TABLES = (
    "documents",
    "status_events",
    "status_outbox",
    "outbox",
    "incoming_register",
    "blobs",
    "directory_cache",
)


async def stored(ctx: NodeContext) -> dict[str, int]:
    """Rows per table, and every file under the blob directory (temp and partial too)."""
    counts = await row_counts(ctx, TABLES)
    counts["blob files"] = sum(1 for p in ctx.blobs.root.rglob("*") if p.is_file())
    return counts


async def refusals(ctx: NodeContext, action: str) -> list[audit.AuditEntry]:
    """The audit entries of one kind of refusal (the chain is checked on the way)."""
    await actions(ctx)
    async with ctx.store.read() as conn:
        return [e for e in await audit.entries(conn, limit=1000) if e.action == action]


def resigned_as(raw: bytes, signer: Unit, code: str, serial: int) -> bytes:
    """The same signed bytes, with a valid signature by `signer` and a hint naming it."""
    wrapper = unwrap(raw, what="envelope", max_bytes=1 << 20)
    sig = signing.sign(signer.ctx.keys.signing, signing.ENVELOPE, wrapper.signed)
    return wrap(wrapper.signed, sig, unit_signer(code, serial))


@pytest.mark.parametrize("forgery", ["B's name, A's signature", "A's signature over B's header"])
async def test_a_forged_sender_is_refused(fed, forgery):
    """An envelope claiming B as sender but signed by A's key is refused whichever signer the
    wrapper names (BadSignature against B's key, SignerMismatch against A's)."""
    a, c = fed.units[A], fed.units[C]
    raw = sealed(fed, a, B, [C])
    expected = "BadSignature"
    if forgery == "A's signature over B's header":
        raw, expected = resigned_as(raw, a, A, fed.serial(A)), "SignerMismatch"
    before = await stored(c.ctx)
    (answer,) = (await post_inbox(a, c, envelopes=[raw]))["envelopes"]
    assert (answer["ok"], answer["error"]) == (False, expected)
    assert await stored(c.ctx) == before
    (entry,) = await refusals(c.ctx, "envelope.refused")
    assert entry.actor == A and B in entry.details["reason"]


async def test_a_unit_delivers_only_its_own_envelopes(fed):
    """C posting A's genuine envelope to B is refused (SignerMismatch); from A it is taken."""
    a, b, c = fed.units[A], fed.units[B], fed.units[C]
    _, raw = await send(a, [B])
    before = await stored(b.ctx)
    (answer,) = (await post_inbox(c, b, envelopes=[raw]))["envelopes"]
    assert (answer["ok"], answer["error"]) == (False, "SignerMismatch")
    assert f"delivered by {C}" in answer["message"]
    assert await stored(b.ctx) == before
    (entry,) = await refusals(b.ctx, "envelope.refused")
    assert entry.actor == C
    (answer,) = (await post_inbox(a, b, envelopes=[raw]))["envelopes"]
    assert answer["ok"] is True


async def test_a_replayed_envelope_is_stored_once_with_the_same_receipt(fed):
    """Twice in one batch, then again in later requests: one document, one 01, the same bytes."""
    a, b = fed.units[A], fed.units[B]
    _, raw = await send(a, [B])
    first = (await post_inbox(a, b, envelopes=[raw, raw]))["envelopes"]
    assert [x["ok"] for x in first] == [True, True]
    receipt = first[0]["status"]
    assert first[1]["status"] == receipt
    after_first = await stored(b.ctx)
    audited = len(await actions(b.ctx))
    assert after_first["documents"] == 1
    assert after_first["status_events"] == 1
    for batch in ([raw], [raw, raw]):
        answers = (await post_inbox(a, b, envelopes=batch))["envelopes"]
        assert [x["status"] for x in answers] == [receipt] * len(batch)
    assert await stored(b.ctx) == after_first
    assert len(await actions(b.ctx)) == audited  # no second reception
    statuses = (await post_inbox(b, a, statuses=[receipt, receipt]))["statuses"]
    assert [x["ok"] for x in statuses] == [True, True]  # applied once, then already applied


async def test_a_status_for_an_envelope_never_sent_here_is_refused(fed):
    """B reports on an envelope A never sent (UnknownSigner), on one A sent only to C
    (NotFound), and a status addressed to C (InvalidField): nothing stored at A."""
    a, b = fed.units[A], fed.units[B]
    to_c, _ = await send(a, [C])
    before = await stored(a.ctx)

    def status(envelope: str, to: str = A) -> bytes:
        return make_status(
            b.ctx.keys,
            sender=B,
            serial=fed.serial(B),
            to=to,
            envelope=envelope,
            code=StatusCode.COMPLETED,
            at=fed.clock(),
        )

    never = new_ulid(fed.clock())
    batch = [status(never), status(to_c), status(to_c, to=C)]
    answers = (await post_inbox(b, a, statuses=batch))["statuses"]
    assert [(x["ok"], x["error"]) for x in answers] == [
        (False, "UnknownSigner"),
        (False, "NotFound"),
        (False, "InvalidField"),
    ]
    assert "never sent" in answers[0]["message"]
    assert await stored(a.ctx) == before
    entries = await refusals(a.ctx, "status.refused")
    assert len(entries) == 3 and {e.actor for e in entries} == {B}


async def test_an_envelope_not_addressed_to_the_receiver_is_refused(fed):
    """A's letter for B posted to C: NotARecipient, nothing stored, audited at C."""
    a, c = fed.units[A], fed.units[C]
    _, raw = await send(a, [B])
    before = await stored(c.ctx)
    (answer,) = (await post_inbox(a, c, envelopes=[raw]))["envelopes"]
    assert (answer["ok"], answer["error"]) == (False, "NotARecipient")
    assert await stored(c.ctx) == before
    (entry,) = await refusals(c.ctx, "envelope.refused")
    assert C in entry.details["reason"]


async def test_clock_skew_within_the_tolerance_is_accepted_and_beyond_it_refused(fed):
    """Dated exactly security.clock_skew_seconds ahead: taken; one millisecond more: ClockSkew."""
    a, b = fed.units[A], fed.units[B]
    skew_ms = b.ctx.config.get("security", "clock_skew_seconds") * 1000
    edge = sealed(fed, a, A, [B], created=fed.clock() + skew_ms)
    beyond = sealed(fed, a, A, [B], created=fed.clock() + skew_ms + 1)
    (answer,) = (await post_inbox(a, b, envelopes=[edge]))["envelopes"]
    assert answer["ok"] is True
    before = await stored(b.ctx)
    (answer,) = (await post_inbox(a, b, envelopes=[beyond]))["envelopes"]
    assert (answer["ok"], answer["error"]) == (False, "ClockSkew")
    assert f"tolerance {skew_ms} ms" in answer["message"]
    assert await stored(b.ctx) == before
    (entry,) = await refusals(b.ctx, "envelope.refused")
    assert "in the future" in entry.details["reason"]


# -- request bodies -------------------------------------------------------------------------


async def post_raw(sender: Unit, receiver: Unit, data) -> tuple[int, str]:
    async with sender.session.post(
        f"{receiver.url}/v1/inbox", data=data, headers={"Content-Type": CONTENT_TYPE}
    ) as response:
        return response.status, await response.text()


async def chunks(data: bytes):
    """The body sent chunked: no Content-Length for the server to refuse up front."""
    for i in range(0, len(data), 512):
        yield data[i : i + 512]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_an_oversized_inbox_body_is_refused(fed, monkeypatch, framing):
    """A body over MAX_INBOX_BYTES gets 413, announced or streamed; nothing is stored."""
    monkeypatch.setattr(peer_api, "MAX_INBOX_BYTES", 2048)
    a, b = fed.units[A], fed.units[B]
    _, raw = await send(a, [B])
    body = pack({"envelopes": [raw] * 4, "statuses": []})
    assert len(body) > 2048
    before = await stored(b.ctx)
    status, _ = await post_raw(a, b, body if framing == "content-length" else chunks(body))
    assert status == 413
    assert await stored(b.ctx) == before


async def test_an_oversized_inbox_body_is_audited(fed, monkeypatch):
    """The refused oversized request leaves an 'inbox.refused' entry at the receiver."""
    monkeypatch.setattr(peer_api, "MAX_INBOX_BYTES", 16)
    a, b = fed.units[A], fed.units[B]
    status, _ = await post_raw(a, b, pack({"envelopes": [b"x" * 64], "statuses": []}))
    assert status == 413
    assert await refusals(b.ctx, "inbox.refused")


MALFORMED = {
    "not msgpack": b"\xc1\xc1",
    "empty": b"",
    "an array": pack([b"envelope"]),
    "an unknown key": pack({"envelopes": [], "statuses": [], "extra": []}),
    "envelopes not an array": pack({"envelopes": b"x", "statuses": []}),
    "an item not binary": pack({"envelopes": [1], "statuses": []}),
    "too many items": pack({"envelopes": [b"x"] * (MAX_INBOX_ITEMS + 1)}),
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_a_malformed_inbox_body_is_refused(fed, case):
    """Bytes that are not an inbox batch get 400 MalformedRequest, audited, nothing stored."""
    a, b = fed.units[A], fed.units[B]
    before = await stored(b.ctx)
    status, text = await post_raw(a, b, MALFORMED[case])
    assert status == 400
    assert json.loads(text)["error"] == "MalformedRequest"
    assert await stored(b.ctx) == before
    (entry,) = await refusals(b.ctx, "inbox.refused")
    assert entry.actor == A and entry.details["reason"].startswith("malformed request")


async def test_an_item_that_is_no_envelope_is_refused_alone(fed):
    """In a batch, bytes that are no envelope get DecodeError; the genuine letter is taken."""
    a, b = fed.units[A], fed.units[B]
    _, raw = await send(a, [B])
    answers = (await post_inbox(a, b, envelopes=[b"\xc1 not msgpack", raw]))["envelopes"]
    assert (answers[0]["ok"], answers[0]["error"]) == (False, "DecodeError")
    assert answers[1]["ok"] is True
    assert (await stored(b.ctx))["documents"] == 1
    assert len(await refusals(b.ctx, "envelope.refused")) == 1


# -- blobs ----------------------------------------------------------------------------------


async def blob_of(fed: Federation, tmp_path) -> tuple[str, bytes, bytes]:
    """A letter from A to B with one attachment: (blob id, blob bytes, envelope)."""
    a = fed.units[A]
    _, raw = await send(a, [B], [attachment(tmp_path)])
    (blob_id,) = [p.parent.name + p.name for p in a.ctx.blobs.root.glob("??/*")]
    return blob_id, a.ctx.blobs.path(blob_id).read_bytes(), raw


async def put(sender: Unit, receiver: Unit, blob_id: str, data, offset: int, total: int):
    headers = {"Upload-Offset": str(offset), "Upload-Length": str(total)}
    async with sender.session.put(
        f"{receiver.url}/v1/blobs/{blob_id}", data=data, headers=headers
    ) as response:
        return response.status, response.headers.get("Upload-Offset"), await response.text()


async def head(sender: Unit, receiver: Unit, blob_id: str) -> tuple[int, str | None]:
    async with sender.session.head(f"{receiver.url}/v1/blobs/{blob_id}") as response:
        return response.status, response.headers.get("Upload-Offset")


async def test_a_blob_whose_bytes_do_not_match_its_id_is_refused(fed, tmp_path):
    """Whole or resumed, bytes that do not hash to the id get 422 BlobHashMismatch and
    leave no file, not even the partial upload; the genuine bytes are then taken."""
    a, b = fed.units[A], fed.units[B]
    blob_id, data, _ = await blob_of(fed, tmp_path)
    wrong = bytes([data[0] ^ 1]) + data[1:]
    before = await stored(b.ctx)
    status, _, text = await put(a, b, blob_id, wrong, 0, len(wrong))
    assert status == 422 and json.loads(text)["error"] == "BlobHashMismatch"
    assert await stored(b.ctx) == before
    half = len(data) // 2
    assert (await put(a, b, blob_id, data[:half], 0, len(data)))[0] == 202
    rest = data[half:-1] + bytes([data[-1] ^ 1])
    status, _, text = await put(a, b, blob_id, rest, half, len(data))
    assert status == 422 and json.loads(text)["error"] == "BlobHashMismatch"
    assert await stored(b.ctx) == before
    assert await head(a, b, blob_id) == (404, "0")
    assert (await put(a, b, blob_id, data, 0, len(data)))[0] == 201


async def test_a_blob_whose_bytes_do_not_match_its_id_is_audited(fed, tmp_path):
    """The refused upload leaves a 'blob.refused' entry at the receiver."""
    a, b = fed.units[A], fed.units[B]
    blob_id, data, _ = await blob_of(fed, tmp_path)
    assert (await put(a, b, blob_id, data[::-1], 0, len(data)))[0] == 422
    assert await refusals(b.ctx, "blob.refused")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 400),
        ({"Upload-Offset": "0", "Upload-Length": "many"}, 400),
        ({"Upload-Offset": "0", "Upload-Length": str(peer_api.MAX_BLOB_BYTES + 1)}, 413),
        ({"Upload-Offset": "0", "Upload-Length": "10"}, 422),  # more bytes than announced
    ],
)
async def test_a_malformed_upload_is_refused(fed, tmp_path, headers, status):
    """Missing or unreadable upload headers, a blob over the limit, more bytes than the
    announced length: refused, and no partial upload left."""
    a, b = fed.units[A], fed.units[B]
    blob_id, data, _ = await blob_of(fed, tmp_path)
    before = await stored(b.ctx)
    url = f"{b.url}/v1/blobs/{blob_id}"
    async with a.session.put(url, data=data, headers=headers) as response:
        assert response.status == status
    assert await stored(b.ctx) == before


async def test_an_upload_cut_short_resumes_where_it_stopped(fed, tmp_path):
    """A PUT that brings fewer bytes than Upload-Length gets 202; HEAD says how many; a PUT
    at another offset gets 409; the engine's upload resumes and the blob hashes to its id.
    Then the envelope naming it is taken and the blob can be fetched back."""
    a, b = fed.units[A], fed.units[B]
    blob_id, data, raw = await blob_of(fed, tmp_path)
    part = 100_000
    assert await put(a, b, blob_id, data[:part], 0, len(data)) == (202, str(part), "")
    assert await head(a, b, blob_id) == (404, str(part))
    status, offset, _ = await put(a, b, blob_id, data[:10], 0, len(data))
    assert (status, offset) == (409, str(part))
    await a.engine.upload_blob(b.url, blob_id, None, tls=pinning_of(a.ctx).for_unit(B))
    assert hashlib.sha256(b.ctx.blobs.path(blob_id).read_bytes()).hexdigest() == blob_id
    assert await head(a, b, blob_id) == (200, str(len(data)))
    (answer,) = (await post_inbox(a, b, envelopes=[raw]))["envelopes"]
    assert answer["ok"] is True
    async with a.session.get(f"{b.url}/v1/blobs/{blob_id}") as response:
        assert response.status == 200 and await response.read() == data


async def test_an_upload_broken_mid_stream_resumes_where_it_stopped(fed, tmp_path):
    """The connection closes partway through the announced bytes: B keeps what it had
    written, HEAD reports exactly that offset, and the engine's upload sends only the rest."""
    a, b = fed.units[A], fed.units[B]
    blob_id, data, _ = await blob_of(fed, tmp_path)
    half = len(data) // 2
    host, port = b.url.removeprefix("https://").split(":")
    client_tls = tls.client_context(*fed.pem[A], fed.ca_path)
    _, writer = await asyncio.open_connection(host, int(port), ssl=client_tls)
    writer.write(
        (
            f"PUT /v1/blobs/{blob_id} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Upload-Offset: 0\r\nUpload-Length: {len(data)}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        + data[:half]
    )
    await writer.drain()
    # B's handler is writing (bytes it had not read yet when the link breaks are lost,
    # and sent again on resumption).
    await until(lambda: b.ctx.blobs.partial_size(blob_id) > 0)
    writer.close()
    await writer.wait_closed()

    def released() -> bool:
        """B's handler has let go of the upload (it keeps the bytes for a resumption)."""
        try:
            b.ctx.blobs.partial(blob_id).suspend()
        except BlobError:  # the handler still holds it
            return False
        return True

    await until(released)
    kept = b.ctx.blobs.partial_size(blob_id)
    assert 0 < kept <= half
    assert await head(a, b, blob_id) == (404, str(kept))
    await a.engine.upload_blob(b.url, blob_id, None, tls=pinning_of(a.ctx).for_unit(B))
    assert b.ctx.blobs.path(blob_id).read_bytes() == data
    assert hashlib.sha256(data).hexdigest() == blob_id


async def test_a_blob_is_served_whole_or_from_an_offset_over_tls(fed):
    """GET of a blob several read chunks long over mutual TLS (the batched reads that stand
    in for sendfile): 200 with every byte; `Range: bytes=<n>-` gives 206, Content-Range and
    exactly the bytes from n; a range past the end gives 416."""
    from lienthong.storage.blobs import READ_CHUNK

    a, b = fed.units[A], fed.units[B]
    data = os.urandom(3 * READ_CHUNK + 12345)
    writer = b.ctx.blobs.writer()
    writer.write(data)
    blob_id = writer.commit().id
    url = f"{b.url}/v1/blobs/{blob_id}"
    async with a.session.get(url) as response:
        assert response.status == 200 and await response.read() == data
    for start in (1, READ_CHUNK, len(data) - 1):
        async with a.session.get(url, headers={"Range": f"bytes={start}-"}) as response:
            assert response.status == 206
            assert response.headers["Content-Range"] == f"bytes {start}-{len(data) - 1}/{len(data)}"
            assert await response.read() == data[start:]
    async with a.session.get(url, headers={"Range": f"bytes={len(data)}-"}) as response:
        assert response.status == 416


def test_blob_response_still_overrides_a_method_aiohttp_calls():
    """BlobResponse replaces FileResponse's private `_sendfile` (and calls its
    `_sendfile_fallback`): an aiohttp that renamed either would leave the override dead,
    the relayed download back at 16 KiB per hand-off, silently. This says so loudly."""
    from aiohttp import web

    assert callable(vars(web.FileResponse).get("_sendfile"))
    assert callable(vars(web.FileResponse).get("_sendfile_fallback"))
    assert "_sendfile" in vars(peer_api.BlobResponse)


# -- who may call ---------------------------------------------------------------------------


def revoking(fed: Federation, code: str, version: int = 2) -> bytes:
    return fed.directory_bytes([CENTRE, A, B, C], [fed.relay], version, [fed.serial(code)])


async def test_a_revoked_unit_is_refused_at_the_edge(fed):
    """Once B holds a directory revoking C, C's inbox posts and blob requests get 403
    UnknownPeer naming the reason; nothing is stored."""
    a, b, c = fed.units[A], fed.units[B], fed.units[C]
    _, raw = await send(c, [B])
    async with a.session.post(f"{b.url}/v1/directory", data=revoking(fed, C)) as response:
        assert response.status == 204
    assert b.ctx.directory.version == 2
    before = await stored(b.ctx)
    status, text = await post_raw(c, b, pack({"envelopes": [raw], "statuses": []}))
    assert status == 403
    answer = json.loads(text)
    assert answer["error"] == "UnknownPeer" and "revoked" in answer["message"]
    assert (await head(c, b, "0" * 64))[0] == 403
    assert await stored(b.ctx) == before


async def test_a_revoked_unit_is_audited(fed):
    """The refused call of a revoked unit leaves an audit entry naming it."""
    b, c = fed.units[B], fed.units[C]
    b.ctx.directory.current = fed.directory([CENTRE, A, B, C], [fed.relay], 2, [fed.serial(C)])
    status, _ = await post_raw(c, b, pack({"envelopes": [], "statuses": []}))
    assert status == 403
    async with b.ctx.store.read() as conn:
        assert any(C in e.details.get("reason", "") for e in await audit.entries(conn))


@pytest.mark.parametrize("client", ["certificate from another CA", "no certificate"])
async def test_a_client_outside_the_federation_ca_fails_the_handshake(fed, tmp_path, client):
    """A unit's server requires a client certificate of the centre's CA: a certificate from
    another CA (naming unit A) or none ends in the TLS handshake, before any handler."""
    b = fed.units[B]
    context = ssl.create_default_context(cafile=str(fed.ca_path))
    if client == "certificate from another CA":
        start = datetime.now(UTC) - timedelta(minutes=5)
        other_key = Ed25519PrivateKey.generate()
        other = tls.issue_ca(
            other_key, "Another CA", not_before=start, not_after=start + timedelta(days=1)
        )
        cert, key, _ = issue_tls(tmp_path, "intruder", other_key, other, A, 99, start)
        context = tls.client_context(cert, key, fed.ca_path)
    before = await stored(b.ctx)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as http:
        with pytest.raises(aiohttp.ClientError):
            async with http.post(f"{b.url}/v1/inbox", data=pack({"envelopes": []})) as response:
                await response.read()
    assert await stored(b.ctx) == before


# -- directory pushes -----------------------------------------------------------------------


async def test_a_directory_push_is_taken_only_if_root_signed_and_newer(fed):
    """A newer root-signed directory is taken (204, cached, audited); one signed by another
    key, an older one and bytes that are no directory get 422 and change nothing."""
    a, b = fed.units[A], fed.units[B]

    async def push(data: bytes) -> tuple[int, str]:
        async with a.session.post(f"{b.url}/v1/directory", data=data) as response:
            return response.status, await response.text()

    newer = fed.directory_bytes([CENTRE, A, B, C], [fed.relay], version=3)
    assert (await push(newer))[0] == 204
    assert b.ctx.directory.version == 3
    assert "directory.accepted" in await actions(b.ctx)
    impostor = Federation(NodeKeys.generate(), fed.clock, fed.centre_url, fed.centre, {})
    impostor.certificates = fed.certificates
    before = await stored(b.ctx)
    cases = [
        (impostor.directory_bytes([CENTRE, A, B, C], [], version=9), "BadSignature"),
        (fed.directory_bytes([CENTRE, A, B, C], [fed.relay], version=2), "Rollback"),
        (b"\xc1 not msgpack", "DecodeError"),
        (b"\x93\x01\x02\x03", "InvalidField"),
    ]
    for data, error in cases:
        status, text = await push(data)
        assert (status, json.loads(text)["error"]) == (422, error)
    assert b.ctx.directory.version == 3
    assert await stored(b.ctx) == before
    refused = await refusals(b.ctx, "directory.refused")
    assert [e.details["error"] for e in refused] == [error for _, error in cases]
