"""A national directory, 63 provinces x 475 units: sign, serve over HTTPS, verify + cache.

Targets (issue 18): each of sign, serve and verify + cache < 1 s on this machine.

- sign: what the centre's issuer does for one version (node/centre/issuer.py
  sign_directory): form 1 signed and verified, form 2 signed and verified (its
  certificates, the same bytes as form 1's, taken from form 1 rather than decoded
  again), both cached in the centre's store in one transaction. Baseline: both forms
  signed without the self-checks (the verifications a unit would make, which the centre
  repeats).
- serve: the centre's own handler (node/centre/api.py get_directory) on a TLS 1.3
  listener with client certificates issued by a test CA; a unit fetches form 2 in full
  (200 with its ETag), then asks again with `If-None-Match` (304). The centre serves no
  gzip; the gzip size is recorded only to say what it would save on the wire.
- verify + cache: what a unit does with the bytes (bootstrap/directory.py
  DirectoryState.accept): verify against the pinned root key, cache, archive every
  certificate and write the audit entry, in one transaction.

Baselines, same run: the bare floor of verification (one Ed25519 verification over the
bytes and a msgpack decode), and a bare aiohttp HTTPS GET of the same bytes. And, to
compare on a shared machine, sign and verify + cache as they were before the C path
(protocol/typed_directory.py): the field-by-field readers only, both forms decoded in
full (`field_by_field()`, which turns the C path off in this process for the while).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import hashlib
import ssl
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import msgpack
from aiohttp import web

from bench._common import peak_rss_mb, report, result
from lienthong.bootstrap.directory import DirectoryState
from lienthong.crypto import signing
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import NodeKeys
from lienthong.node.centre.api import get_directory
from lienthong.node.context import CONTEXT
from lienthong.protocol import directory as directory_module
from lienthong.protocol.certificate import issue_certificate
from lienthong.protocol.directory import issue_directory, verify_directory
from lienthong.protocol.wire import unwrap
from lienthong.storage.db import Store
from lienthong.storage.directory import save_directory

NOW = 1_764_000_000_000
DAY = 86_400_000
TARGET_SECONDS = 1.0
PROVINCES = 63
UNITS_PER_PROVINCE = 475  # 63 x 475 = 29,925: the national axis, about 30,000 nodes
ROUNDS = 3  # the best of three runs of each step: the machine is shared


def unit_code(province: int, index: int) -> str:
    """A code in the real shape `XXX.YY.ZZ.Hnn`: level fields under province H<nn>."""
    return f"000.{index // 20:02d}.{index % 20:02d}.H{province:02d}"


def certificates(per_province: int) -> tuple[NodeKeys, list[bytes]]:
    root = NodeKeys.generate()
    member = NodeKeys.generate()
    out = []
    serial = 0
    for province in range(1, PROVINCES + 1):
        for index in range(per_province):
            serial += 1
            out.append(
                issue_certificate(
                    root,
                    serial=serial,
                    code=unit_code(province, index),
                    name=f"Đơn vị số {index} tỉnh {province}",
                    sign_key=member.sign_public,
                    enc_key=member.enc_public,
                    tls_sha256=hashlib.sha256(str(serial).encode()).digest(),
                    endpoints=[f"https://10.{province}.{index // 250}.{index % 250}:7443"],
                    reachable=True,
                    not_before=NOW - DAY,
                    not_after=NOW + 365 * DAY,
                )
            )
    return root, out


@contextlib.contextmanager
def field_by_field():
    """verify_directory as before the C path: its fast readers decline everything, and the
    other form's certificates are decoded again (sign_at_centre's `reuse`)."""
    saved = directory_module.read_listing, directory_module.read_certificates
    directory_module.read_listing = lambda signed, forms: None
    directory_module.read_certificates = lambda items: None
    try:
        yield
    finally:
        directory_module.read_listing, directory_module.read_certificates = saved


async def sign_at_centre(
    root: NodeKeys, certs: list[bytes], store: Store, version: int, *, reuse: bool = True
) -> tuple[float, bytes]:
    start = time.perf_counter()
    contents = {
        "version": version, "issued_at": NOW, "expires_at": NOW + 7 * DAY,
        "centre_name": "Trung tâm quốc gia", "centre_url": "https://127.0.0.1:7000",
        "certificates": certs, "revoked": [], "relays": ["https://127.0.0.1:7000/v1/relay"],
    }  # fmt: skip
    raw = issue_directory(root, **contents)
    form1 = verify_directory(raw, root.sign_public, now=NOW, forms=(1,))
    form2 = issue_directory(root, **contents, protocols={}, external=[])
    verify_directory(form2, root.sign_public, now=NOW, decoded=form1 if reuse else None)
    async with store.write() as tx:
        await save_directory(tx, version, raw, NOW, NOW + 7 * DAY, NOW, form2=form2)
    return time.perf_counter() - start, form2


def issue_only_seconds(root: NodeKeys, certs: list[bytes]) -> float:
    """Both forms signed without the centre's self-checks: the baseline beside `sign`."""
    start = time.perf_counter()
    contents = {
        "version": 1, "issued_at": NOW, "expires_at": NOW + 7 * DAY,
        "centre_name": "Trung tâm quốc gia", "centre_url": "https://127.0.0.1:7000",
        "certificates": certs, "revoked": [], "relays": ["https://127.0.0.1:7000/v1/relay"],
    }  # fmt: skip
    issue_directory(root, **contents)
    issue_directory(root, **contents, protocols={}, external=[])
    return time.perf_counter() - start


def tls_files(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Server and client TLS 1.3 contexts with leaves of one test CA (client certificates
    required, as on the centre's listener)."""
    start = datetime.now(UTC) - timedelta(days=1)
    ca_key = tls.generate_tls_key()
    ca = tls.issue_ca(ca_key, "Bench CA", not_before=start, not_after=start + timedelta(days=30))
    ca_path = tmp / "ca.crt"
    ca_path.write_bytes(tls.cert_to_pem(ca))
    paths = []
    for serial, code in ((1, "000.00.00.H99"), (2, "000.00.01.H01")):
        key = tls.generate_tls_key()
        leaf = tls.issue_leaf(
            ca_key, ca, key.public_key(), unit_code=code, unit_name=f"Unit {code}",
            serial=serial, hosts=["127.0.0.1"], not_before=start,
            not_after=start + timedelta(days=30),
        )  # fmt: skip
        cert, key_path = tmp / f"{serial}.crt", tmp / f"{serial}.key"
        cert.write_bytes(tls.cert_to_pem(leaf))
        key_path.write_bytes(tls.key_to_pem(key))
        paths.append((cert, key_path))
    server = tls.server_context(*paths[0], ca_path)
    client = tls.client_context(*paths[1], ca_path)
    return server, client


async def serve(
    store: Store, form2: bytes, server_ssl: ssl.SSLContext, client_ssl: ssl.SSLContext
) -> tuple[float, float, float]:
    """(full GET of form 2, GET answered 304 by its ETag, bare aiohttp GET of the same bytes)."""
    app = web.Application()
    app[CONTEXT] = SimpleNamespace(store=store)  # get_directory reads ctx.store only
    app.router.add_get("/v1/directory", get_directory)
    app.router.add_get("/bare", lambda r: web.Response(body=form2))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ssl)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    base = f"https://127.0.0.1:{port}"
    full, cached, bare = [], [], []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ssl)) as s:
            for _ in range(ROUNDS):
                start = time.perf_counter()
                async with s.get(f"{base}/v1/directory?form=2") as response:
                    body = await response.read()
                    etag = response.headers["ETag"]
                full.append(time.perf_counter() - start)
                assert response.status == 200 and body == form2, response.status
                start = time.perf_counter()
                async with s.get(
                    f"{base}/v1/directory?form=2", headers={"If-None-Match": etag}
                ) as response:
                    await response.read()
                cached.append(time.perf_counter() - start)
                assert response.status == 304, response.status
                start = time.perf_counter()
                async with s.get(f"{base}/bare") as response:
                    assert await response.read() == form2
                bare.append(time.perf_counter() - start)
    finally:
        await runner.cleanup()
    return min(full), min(cached), min(bare)


async def verify_and_cache(root: NodeKeys, raw: bytes, tmp: Path, n: int) -> float:
    store = await Store.open(tmp / f"unit{n}.sqlite3")
    try:
        state = DirectoryState(store, root.sign_public, lambda: NOW)
        start = time.perf_counter()
        accepted = await state.accept(raw, source="https://127.0.0.1:7000")
        elapsed = time.perf_counter() - start
        assert accepted
        return elapsed
    finally:
        await store.close()


def floor_seconds(root: NodeKeys, raw: bytes) -> float:
    wrapper = unwrap(raw, what="directory", max_bytes=len(raw))
    start = time.perf_counter()
    signing.verify(root.sign_public, signing.DIRECTORY, wrapper.signed, wrapper.sig)
    msgpack.unpackb(wrapper.signed, raw=False)
    return time.perf_counter() - start


async def main_async(per_province: int) -> list[dict]:
    root, certs = certificates(per_province)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        centre = await Store.open(tmp / "centre.sqlite3")
        try:
            signs, signs_before = [], []
            for version in range(1, 2 * ROUNDS + 1, 2):  # alternately, now and before
                seconds, form2 = await sign_at_centre(root, certs, centre, version)
                signs.append(seconds)
                with field_by_field():
                    # The newest version: the one served and verified below.
                    seconds, form2 = await sign_at_centre(
                        root, certs, centre, version + 1, reuse=False
                    )
                signs_before.append(seconds)
            server_ssl, client_ssl = tls_files(tmp)
            full, not_modified, bare = await serve(centre, form2, server_ssl, client_ssl)
        finally:
            await centre.close()
        accepts, accepts_before = [], []
        for n in range(ROUNDS):
            accepts.append(await verify_and_cache(root, form2, tmp, 2 * n))
            with field_by_field():
                accepts_before.append(await verify_and_cache(root, form2, tmp, 2 * n + 1))
    floor = min(floor_seconds(root, form2) for _ in range(ROUNDS))
    issue_only = min(issue_only_seconds(root, certs) for _ in range(ROUNDS))
    start = time.perf_counter()
    zipped = gzip.compress(form2, compresslevel=6)
    gzip_s = time.perf_counter() - start
    sign, accept = min(signs), min(accepts)
    target = f"< {TARGET_SECONDS} s"
    return [
        result("sign_both_forms_and_cache_s", sign, "s",
               baseline_name="issue_both_forms_without_self_checks_s", baseline=issue_only,
               target=target, met=sign < TARGET_SECONDS),
        result("sign_as_before_s", min(signs_before), "s", target="(same run, before)",
               met=True),
        result("verify_and_cache_as_before_s", min(accepts_before), "s",
               target="(same run, before)", met=True),
        result("serve_https_full_s", full, "s", baseline_name="bare_aiohttp_https_get_s",
               baseline=bare, target=target, met=full < TARGET_SECONDS),
        result("serve_https_304_s", not_modified, "s", target="(informative)", met=True),
        result("verify_and_cache_s", accept, "s", baseline_name="verify_signature_and_unpack_s",
               baseline=floor, target=target, met=accept < TARGET_SECONDS),
        result("size_bytes", len(form2), "bytes", target="(informative)", met=True),
        result("gzip_size_bytes", len(zipped), "bytes", target="(not served)", met=True),
        result("gzip_level6_s", gzip_s, "s", target="(not served)", met=True),
        result("peak_rss_mb", peak_rss_mb(), "MB", target="(informative)", met=True),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 units a province, not 475")
    args = parser.parse_args()
    per_province = 20 if args.quick else UNITS_PER_PROVINCE
    results = asyncio.run(main_async(per_province))
    for r in results:
        r["name"] = f"{r['name']}_{PROVINCES * per_province}_units"
    report("directory_national", results)


if __name__ == "__main__":
    main()
