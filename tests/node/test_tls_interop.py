"""TLS interop: a federation whose TLS certificates are ECDSA P-256 (`centre init --tls-key
ecdsa-p256`), for TLS stacks without Ed25519 such as Windows' SChannel and .NET.

Over real mutual TLS 1.3 on 127.0.0.1: a unit delivers to another and the pins hold (a
stand-in with a leaf of the same CA gets nothing); `openssl s_client` offering only the
signature algorithm ecdsa_secp256r1_sha256 (a stand-in for a client without Ed25519)
completes the handshake with an ECDSA node and gets an HTTP answer, while with an Ed25519
node the same client fails: which is why the option exists.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import shutil

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from lienthong.bootstrap.directory import refresh_once
from lienthong.bootstrap.enrolment import enrol_online
from lienthong.bootstrap.rotation import rotate
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import fingerprint
from lienthong.crypto.pinning import PinMismatch, pinned_client_context
from lienthong.node import config as cfg
from lienthong.node.centre.issuer import ca_key_path
from lienthong.node.centre.rules import centre_of
from lienthong.node.centre.setup import create_centre
from lienthong.node.cli.doctor import run_checks
from lienthong.node.datadir import ROOT_PASSPHRASE_ENV, create_node, federation_saver
from lienthong.node.runtime import Node
from lienthong.node.unit import documents as service
from lienthong.protocol.delivery import Delivery
from lienthong.storage.documents import get_document
from lienthong.storage.outbox import rows_for
from tests.node.running import eventually, free_port
from tests.node.tls_federation import (
    A,
    B,
    C,
    Federation,
    federation,
    letter,
    send,
    serving_as,
    state,
)

OPENSSL = shutil.which("openssl")
# Safety net so a hung handshake fails the test instead of stalling it; not a timing assertion.
BOUND = 30
# What an SChannel client of Windows 11 / Server 2022 could do at least: TLS 1.3 with ECDSA
# P-256 signatures (no Ed25519) and ECDHE on P-256. One algorithm, so nothing else can help.
SCHANNEL_LIKE = ["-tls1_3", "-sigalgs", "ECDSA+SHA256", "-groups", "P-256"]

PASSPHRASE = b"mat khau khoa goc trung tam"

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


def leaf_of(fed: Federation, code: str):
    return tls.cert_from_pem(fed.pem[code][0].read_bytes())


async def test_a_unit_delivers_to_another_over_ecdsa_certificates(tmp_path):
    """A's letter to B arrives directly: both leaves are P-256, signed by the P-256 CA that
    the root key endorses, and each is the one the directory pins (tls_sha256)."""
    async with federation(tmp_path, serve_units=True, tls_key=tls.ECDSA_P256) as fed:
        ca = tls.cert_from_pem(fed.ca_path.read_bytes())
        assert tls.ca_root_key(ca) == fed.root.sign_public
        directory = fed.centre.directory.current
        for code in (A, B):
            leaf = leaf_of(fed, code)
            assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
            tls.verify_issued_by(leaf, ca)
            pin = hashlib.sha256(leaf.public_bytes(Encoding.DER)).digest()
            assert directory.current(code).tls_sha256 == pin
        a, b = fed.units[A], fed.units[B]
        envelope_id, _ = await send(a, [B])
        await a.engine.deliver(B)
        assert await state(a, envelope_id, B) == Delivery.ARRIVED
        async with b.ctx.store.read() as conn:
            assert await get_document(conn, envelope_id) is not None


async def test_the_pins_hold_in_an_ecdsa_federation(tmp_path):
    """C serves its peer API with its own ECDSA leaf of the same CA at the address the
    directory lists for B: the handshake ends at the pin, C gets nothing, and A's letter
    goes to the relay."""
    async with (
        federation(tmp_path, serve_units=True, tls_key=tls.ECDSA_P256) as fed,
        serving_as(fed, C, B) as port,
    ):
        c = fed.units[C]
        b_pin = hashlib.sha256(leaf_of(fed, B).public_bytes(Encoding.DER)).digest()
        pinned = pinned_client_context(*fed.pem[A], fed.ca_path, [b_pin])
        with pytest.raises(PinMismatch, match="is not pinned"):
            await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, ssl=pinned), BOUND)
        a = fed.units[A]
        envelope_id, _ = await send(a, [B])
        await a.engine.deliver(B)
        assert await state(a, envelope_id, B) == Delivery.RELAYED
        async with c.ctx.store.read() as conn:
            assert await get_document(conn, envelope_id) is None


# A route only a verified peer (PROTOCOL.md 16.2) gets an answer from other than 403: 404
# with Upload-Offset for a blob the server does not hold.
PEER_REQUEST = (
    f"HEAD /v1/blobs/{'0' * 64} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
).encode()


async def _s_client(
    fed: Federation, code: str, port: int, options: list[str] = SCHANNEL_LIKE
) -> tuple[int, str]:
    """`openssl s_client` as unit `code` (its leaf and key, the CA, the server's address
    checked) with `options`, sending PEER_REQUEST; its exit code and output."""
    cert, key = fed.pem[code]
    process = await asyncio.create_subprocess_exec(
        OPENSSL,
        "s_client",
        "-connect",
        f"127.0.0.1:{port}",
        *options,
        "-cert",
        str(cert),
        "-key",
        str(key),
        "-CAfile",
        str(fed.ca_path),
        "-verify_ip",
        "127.0.0.1",
        "-verify_return_error",
        "-ign_eof",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(PEER_REQUEST), BOUND)
    return process.returncode, out.decode("utf-8", "replace")


@needs_openssl
async def test_a_client_offering_only_ecdsa_sha256_connects_to_an_ecdsa_node(tmp_path):
    """s_client with only ecdsa_secp256r1_sha256 and P-256 completes TLS 1.3 with unit B's
    server (mutual: B requires A's certificate), verifies B's chain, and B answers the
    request as a verified peer."""
    async with federation(tmp_path, serve_units=True, tls_key=tls.ECDSA_P256) as fed:
        port = int(fed.units[B].url.rsplit(":", 1)[1])
        code, out = await _s_client(fed, A, port)
    assert code == 0, out
    assert "New, TLSv1.3" in out, out
    assert "Shared Requested Signature Algorithms: ECDSA+SHA256" in out, out
    assert "Peer signature type: ECDSA" in out, out
    assert "Server Temp Key: ECDH, prime256v1" in out, out
    assert "Verify return code: 0 (ok)" in out, out
    assert "HTTP/1.1 404 Not Found" in out and "Upload-Offset: 0" in out, out


@needs_openssl
async def test_the_same_client_fails_with_an_ed25519_node(tmp_path):
    """The same s_client against an Ed25519 federation's unit: no common signature algorithm,
    so the server presents no certificate, the handshake fails and nothing is answered;
    the same client with OpenSSL's default signature algorithms (Ed25519 among them) gets
    the answer, so the one algorithm is what fails."""
    async with federation(tmp_path, serve_units=True) as fed:
        assert tls.algorithm_of(leaf_of(fed, B).public_key()) == tls.ED25519
        port = int(fed.units[B].url.rsplit(":", 1)[1])
        code, out = await _s_client(fed, A, port)
        default_code, default_out = await _s_client(fed, A, port, ["-tls1_3"])
    assert code != 0, out
    assert "no peer certificate available" in out and "Cipher is (NONE)" in out, out
    assert "HTTP/1.1" not in out, out
    assert default_code == 0, default_out
    assert "Peer signature type: ed25519" in default_out, default_out
    assert "HTTP/1.1 404 Not Found" in default_out, default_out


# -- real nodes: `centre init --tls-key ecdsa-p256`, enrolment, delivery, rotation ---------


async def test_real_nodes_of_an_ecdsa_federation(tmp_path, monkeypatch):
    """`centre init --tls-key ecdsa-p256` with a sealed root key keeps an ECDSA CA key sealed
    beside it; units enrolled online (pinning only the root fingerprint) get P-256 keys and
    leaves; as running nodes A's letter arrives at B, A rotates to new P-256 keys and its
    next letter arrives too; doctor finds the CA endorsed by the pinned root key."""
    monkeypatch.setenv(ROOT_PASSPHRASE_ENV, PASSPHRASE.decode())
    centre_dir = tmp_path / "centre"
    created = await create_centre(
        centre_dir,
        name="Trung tâm Tin học tỉnh Tây Ninh",
        listen=f"127.0.0.1:{free_port()}",
        web=f"127.0.0.1:{free_port()}",
        passphrase=PASSPHRASE,
        tls_key=tls.ECDSA_P256,
    )
    assert created.tls_key == tls.ECDSA_P256
    centre_config = cfg.load_config(centre_dir)
    ca_key_file = ca_key_path(centre_config)
    assert tls.is_sealed_key(ca_key_file.read_bytes())
    assert ca_key_file.stat().st_mode & 0o777 == 0o600
    ca = tls.cert_from_pem(centre_config.ca_path.read_bytes())
    assert tls.algorithm_of(ca.public_key()) == tls.ECDSA_P256
    assert fingerprint(tls.ca_root_key(ca)) == created.fingerprint
    nodes: dict[str, Node] = {}
    try:
        nodes["centre"] = centre = await Node.open(centre_dir)
        await centre.start()
        dirs = {}
        for code in (A, B):
            dirs[code] = tmp_path / code
            listen = f"127.0.0.1:{free_port()}"
            values = {
                "unit": {"code": code, "name": f"Unit {code}"},
                "node": {"listen": listen, "web": f"127.0.0.1:{free_port()}", "discovery": False},
            }
            keys = create_node(dirs[code], values)
            new = await centre_of(centre.ctx).add_unit(code, f"Unit {code}")
            assert new.tls_key == tls.ECDSA_P256
            config = cfg.load_config(dirs[code])
            await enrol_online(
                config.node_settings,
                keys,
                centre_url=created.url,
                fingerprint=created.fingerprint,
                token=new.token,
                save_federation=federation_saver(config),
            )
            config = cfg.load_config(dirs[code])
            key = tls.key_from_pem(config.tls_key_path.read_bytes())
            assert tls.algorithm_of(key) == tls.ECDSA_P256
            leaf = tls.cert_from_pem(config.tls_cert_path.read_bytes())
            assert leaf.public_key() == key.public_key()
        for code in (A, B):
            nodes[code] = await Node.open(dirs[code])
            await nodes[code].start()
        for code in (A, B):
            await refresh_once(nodes[code].ctx.directory, nodes[code].session, created.url)

        async def arrived(envelope_id: str) -> bool:
            async with nodes[A].ctx.store.read() as conn:
                rows = await rows_for(conn, envelope_id)
            return rows[0].state == Delivery.ARRIVED

        first = await service.send_document(nodes[A].ctx, letter(), [B], actor="vt")
        await eventually(lambda: arrived(first), "delivery A -> B")

        checks = {c.name: c for c in await run_checks(dirs[A])}
        assert checks["centre CA"].status == "ok", checks["centre CA"]
        assert "ecdsa-p256, endorsed by the root key" in checks["centre CA"].finding
        checks = {c.name: c for c in await run_checks(centre_dir)}
        assert checks["CA key"].status == "ok" and "sealed" in checks["CA key"].finding

        await nodes.pop(A).close()  # `keys rotate` runs with the node stopped
        settings = cfg.load_config(dirs[A]).node_settings
        before = settings.tls_cert_path.read_bytes()
        rotated = await rotate(settings, passphrase=None)
        assert settings.tls_cert_path.read_bytes() != before
        new_key = tls.key_from_pem(settings.tls_key_path.read_bytes())
        assert tls.algorithm_of(new_key) == tls.ECDSA_P256
        leaf = tls.cert_from_pem(settings.tls_cert_path.read_bytes())
        assert leaf.public_key() == new_key.public_key() and tls.unit_code_of(leaf) == A
        nodes[A] = await Node.open(dirs[A])
        await nodes[A].start()
        await refresh_once(nodes[B].ctx.directory, nodes[B].session, created.url)
        assert nodes[B].ctx.directory.current.current(A).serial == rotated.serial
        again = dataclasses.replace(letter(), number="2341")
        second = await service.send_document(nodes[A].ctx, again, [B], actor="vt")
        await eventually(lambda: arrived(second), "delivery A -> B after rotation")
    finally:
        for code in sorted(nodes, key=lambda c: c == "centre"):  # the centre last
            await nodes[code].close()
