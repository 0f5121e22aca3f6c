"""A time-stamping authority configured in [signing] (tsa_url): the signature carries its
RFC 3161 timestamp, fetched over HTTP from a TSA served on 127.0.0.1 by the test; a TSA
that does not answer signs nothing and says so."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web
from asn1crypto import tsp

from lienthong.crypto.pdf_sign import TimestampUnavailable
from lienthong.node.config import Config, validate
from lienthong.node.unit.signing import sign_files
from tests.crypto.signing_fixtures import (
    make_ca,
    make_pdf,
    make_signer,
    make_tsa,
    write_pkcs12,
)
from tests.crypto.signing_fixtures import (
    validate as signatures,
)

UNIT = {"code": "000.00.02.H53", "name": "Văn phòng UBND tỉnh Tây Ninh"}


@pytest.fixture
async def tsa_url():
    """An RFC 3161 TSA over HTTP on 127.0.0.1 (pyHanko's DummyTimeStamper answering); the
    CA that certifies it is `tsa_url.ca`."""
    ca = make_ca()
    stamper = make_tsa(ca)

    async def answer(request: web.Request) -> web.Response:
        req = tsp.TimeStampReq.load(await request.read())
        return web.Response(
            body=stamper.request_tsa_response(req).dump(),
            content_type="application/timestamp-reply",
        )

    app = web.Application()
    app.router.add_post("/", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/", ca
    await runner.cleanup()


def _unit(tmp_path, ca, tsa: str) -> Config:
    write_pkcs12(tmp_path / "k.p12", make_signer(ca), "p")
    return Config(
        tmp_path, validate({"unit": UNIT, "signing": {"pkcs12": "k.p12", "tsa_url": tsa}})
    )


async def test_the_signature_carries_the_tsas_timestamp(tmp_path, tsa_url):
    """With tsa_url the signed PDF's signature holds a valid timestamp token from that TSA."""
    url, ca = tsa_url
    config = _unit(tmp_path, ca, url)
    pdf = tmp_path / "qd.pdf"
    pdf.write_bytes(make_pdf(1))
    out = tmp_path / "out"
    out.mkdir()
    [signed] = await sign_files(config, [pdf], "p", out)
    status = (await asyncio.to_thread(signatures, signed.read_bytes(), ca[1]))["ToChuc"]
    assert status.bottom_line
    assert status.timestamp_validity is not None and status.timestamp_validity.valid


async def test_a_tsa_that_does_not_answer_signs_nothing(tmp_path):
    """A TSA URL where nothing listens: TimestampUnavailable, no signed file written."""
    with socket.socket() as s:  # a port just freed: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = _unit(tmp_path, make_ca(), f"http://127.0.0.1:{port}/")
    pdf = tmp_path / "qd.pdf"
    pdf.write_bytes(make_pdf(1))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(TimestampUnavailable, match="time-stamping authority"):
        await sign_files(config, [pdf], "p", out)
    assert list(out.iterdir()) == []
