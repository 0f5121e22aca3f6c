"""A running node reads TLS through 16 KiB buffers (node/tls_buffers.py), not asyncio's
256 KiB per connection, but for a connection while it carries a blob; a large body
arrives whole over real mutual TLS."""

from __future__ import annotations

import asyncio.sslproto
import hashlib
import os

from lienthong.node.tls_buffers import (
    BLOB_TLS_READ_BUFFER_BYTES,
    TLS_READ_BUFFER_BYTES,
    tls_read_buffer_bytes,
)
from lienthong.storage.blobs import BlobStore
from tests.node.test_edge_limits import CENTRE, A, peer_url, province
from tests.node.tls_federation import until

MiB = 1 << 20
ASYNCIO_DEFAULT = 256 * 1024  # SSLProtocol.max_size in Python 3.11


async def test_a_running_centre_holds_each_tls_connection_with_16_kib_and_takes_64_mib_whole(
    tmp_path, monkeypatch
):
    """With asyncio's 256 KiB put back first, starting the centre sets 16 KiB; an enrolled
    unit then uploads a 64 MiB blob over mutual TLS: 201, stored with its SHA-256 and its
    size, and every connection the centre holds (the one that carried it, kept alive) has a
    read buffer of 16 KiB."""
    monkeypatch.setattr(asyncio.sslproto.SSLProtocol, "max_size", ASYNCIO_DEFAULT)
    blob = os.urandom(64 * MiB)
    blob_id = hashlib.sha256(blob).hexdigest()
    async with province(tmp_path, {}) as p:
        assert asyncio.sslproto.SSLProtocol.max_size == TLS_READ_BUFFER_BYTES
        await p.enrol(A)
        centre = p.nodes[CENTRE]
        url = f"{peer_url(centre)}/v1/blobs/{blob_id}"
        async with p.session(A) as session:
            headers = {"Upload-Offset": "0", "Upload-Length": str(len(blob))}
            async with session.put(url, data=blob, headers=headers) as response:
                assert response.status == 201, await response.text()
                assert response.headers["Upload-Offset"] == str(len(blob))
            async with session.head(url) as response:
                assert response.status == 200
                assert response.headers["Upload-Complete"] == "1"
            assert centre.runner is not None and centre.runner.server is not None
            held = [
                tls_read_buffer_bytes(handler.transport)
                for handler in centre.runner.server.connections
                if handler.transport is not None
            ]
            assert held and set(held) == {TLS_READ_BUFFER_BYTES}, held
        store = centre.ctx.blobs
        assert isinstance(store, BlobStore)
        assert store.path(blob_id).stat().st_size == len(blob)
        digest = hashlib.sha256()
        with store.open(blob_id) as stored:
            while chunk := stored.read(MiB):
                digest.update(chunk)
        assert digest.hexdigest() == blob_id


async def test_a_connection_carrying_a_blob_reads_through_256_kib_then_16_kib_again(tmp_path):
    """While a unit's upload is still arriving, the centre's connection that carries it
    reads through BLOB_TLS_READ_BUFFER_BYTES (a large body costs fewer reads); once the
    blob is stored, that kept-alive connection is back to 16 KiB."""
    blob = os.urandom(8 * MiB)
    async with province(tmp_path, {}) as p:
        await p.enrol(A)
        centre = p.nodes[CENTRE]
        assert centre.runner is not None and centre.runner.server is not None
        server = centre.runner.server

        def held() -> set[int | None]:
            return {
                tls_read_buffer_bytes(handler.transport)
                for handler in server.connections
                if handler.transport is not None
            }

        async def body():
            yield blob[: 4 * MiB]
            await until(lambda: BLOB_TLS_READ_BUFFER_BYTES in held())
            yield blob[4 * MiB :]

        async with p.session(A) as session:
            headers = {"Upload-Length": str(len(blob))}
            async with session.post(
                f"{peer_url(centre)}/v1/blobs", data=body(), headers=headers
            ) as response:
                assert response.status == 201, await response.text()
                assert response.headers["Blob-Id"] == hashlib.sha256(blob).hexdigest()
            assert held() == {TLS_READ_BUFFER_BYTES}
