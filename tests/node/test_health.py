"""Monitoring without a login: /healthz (200/503 with what fails), certificate-expiry and
build-info metrics, and `lienthong doctor --nagios` (plugin exit codes and perfdata)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from lienthong.crypto import x509 as cx
from lienthong.crypto.keys import NodeKeys
from lienthong.node import __version__
from lienthong.node.cli.doctor import FAIL, OK, WARN, Check, nagios
from lienthong.node.health import HEALTH_CACHE_SECONDS, health_of
from lienthong.node.web import create_web_app
from tests.node.helpers import NOW, Clock, make_context, make_directory

A = "000.00.02.H53"
DAY_MS = 86_400_000


def write_tls_cert(ctx, days: int) -> None:
    """A TLS certificate for the node ending `days` after NOW (the tests' clock)."""
    ca_key = cx.generate_tls_key()
    start = datetime.fromtimestamp(NOW / 1000, UTC) - timedelta(days=1)
    end = datetime.fromtimestamp(NOW / 1000, UTC) + timedelta(days=days)
    ca = cx.issue_ca(ca_key, "CA", not_before=start, not_after=end + timedelta(days=1))
    leaf = cx.issue_leaf(
        ca_key,
        ca,
        cx.generate_tls_key().public_key(),
        unit_code=A,
        unit_name="Unit",
        serial=1,
        hosts=["127.0.0.1"],
        not_before=start,
        not_after=end,
    )
    path = ctx.config.tls_cert_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cx.cert_to_pem(leaf))


@pytest.fixture
async def unit(tmp_path):
    keys = NodeKeys.generate()
    ctx = await make_context(
        tmp_path, A, keys, make_directory(NodeKeys.generate(), {A: keys}), Clock()
    )
    client = TestClient(TestServer(create_web_app(ctx)))
    await client.start_server()
    yield ctx, client
    await client.close()
    await ctx.store.close()


async def test_healthz_needs_no_login_and_names_what_fails(unit):
    """Without a TLS certificate the node cannot serve peers: 503, `certificates` fails, the
    other parts are reported too; no session was needed."""
    _, client = unit
    response = await client.get("/healthz", allow_redirects=False)
    assert response.status == 503
    body = await response.json()
    assert body["status"] == FAIL and body["code"] == A
    assert body["checks"]["certificates"]["status"] == FAIL
    assert body["checks"]["store"]["status"] == OK
    assert set(body["checks"]) == {"store", "directory", "centre", "disk", "certificates"}
    assert (await client.get("/", allow_redirects=False)).status in (302, 303)  # pages need one


async def test_healthz_is_200_when_healthy_and_warns_before_a_certificate_ends(unit):
    """A year left: 200 ok; 10 days left: still 200 (the node works) but status warn."""
    ctx, client = unit
    write_tls_cert(ctx, 365)
    body = await (await client.get("/healthz")).json()
    assert body["checks"]["certificates"]["status"] in (OK, WARN)
    write_tls_cert(ctx, 10)
    health_of(ctx).forget()  # else the answer is the cached probe's, up to 2 s old
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 200
    assert body["checks"]["certificates"]["status"] == WARN
    assert 9 <= body["checks"]["certificates"]["value"] <= 10


async def test_healthz_answers_from_one_probe_per_cache_period(unit):
    """However often /healthz is asked, the store is probed once per HEALTH_CACHE_SECONDS
    (the cache's clock held still here): 40 requests, one probe; the period over, one more."""
    ctx, client = unit
    now = [1000.0]
    cache = health_of(ctx)
    cache.clock = lambda: now[0]
    for _ in range(40):
        assert (await client.get("/healthz")).status == 503  # no TLS certificate here
    assert cache.probes == 1
    now[0] += HEALTH_CACHE_SECONDS
    body = await (await client.get("/healthz")).json()
    assert cache.probes == 2 and body["database"] == OK


async def test_metrics_carry_certificate_expiry_and_build_info(unit):
    """/metrics: seconds until the TLS and node certificates end, and the running version."""
    ctx, client = unit
    write_tls_cert(ctx, 30)
    text = await (await client.get("/metrics")).text()
    assert f'lienthong_build_info{{version="{__version__}"}} 1.0' in text
    tls_line = next(
        line
        for line in text.splitlines()
        if line.startswith('lienthong_certificate_expires_in_seconds{certificate="tls"}')
    )
    assert abs(float(tls_line.split()[-1]) - 30 * 86_400) < 86_400
    assert 'lienthong_certificate_expires_in_seconds{certificate="node"}' in text


def test_nagios_line_states_and_exit_codes():
    """OK/WARNING/CRITICAL follow the worst check; perfdata carries every figure; a `|` in a
    finding cannot break the perfdata."""
    good = Check("disk space", OK, "9 GiB free", perf=(("disk_free", 9e9, "B"),))
    soon = Check("TLS certificate", WARN, "valid 10 more days", perf=(("tls_days", 10, ""),))
    broken = Check("store", FAIL, "schema a|b newer")
    assert nagios([good]) == (0, "LIENTHONG OK - 1 checks passed | 'disk_free'=9e+09B")
    code, line = nagios([good, soon])
    assert code == 1 and line.startswith("LIENTHONG WARNING - TLS certificate: valid 10")
    assert "'tls_days'=10" in line and "'disk_free'=9e+09B" in line
    code, line = nagios([good, soon, broken])
    assert code == 2 and line.startswith("LIENTHONG CRITICAL - store: schema a/b newer |")
    assert nagios([]) == (3, "LIENTHONG UNKNOWN - nothing was checked")
