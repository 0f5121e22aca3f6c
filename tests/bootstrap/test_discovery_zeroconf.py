"""ZeroconfDiscovery: its own checks, and real multicast DNS between nodes on 127.0.0.1."""

import asyncio
import logging
import secrets
from collections.abc import Callable

import pytest
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from lienthong.bootstrap.discovery import SERVICE_TYPE, BadAnnouncement, Discovery, Sighting
from lienthong.bootstrap.zeroconf_discovery import ZeroconfDiscovery, instance_name
from lienthong.crypto.keys import fingerprint

# Codes of this run only: other nodes on this machine's loopback (a demo, a system test)
# announce real province codes, and the real test must not see them as its peers.
_RUN = secrets.randbelow(900) + 100
A, B, BAD = f"{_RUN}.00.05.Z53", f"{_RUN}.00.05.Z54", f"{_RUN}.00.05.Z99"
FP_A = fingerprint(bytes(range(32)))
FP_B = fingerprint(bytes(range(1, 33)))


def ours(sightings: list) -> list:
    """Sightings of this run's nodes only (other nodes on this machine may announce too)."""
    return [s for s in sightings if s.code.startswith(f"{_RUN}.")]


LOOPBACK = ["127.0.0.1"]
WAIT_S = 10  # generous bound; on loopback it takes about a second


async def wait_until(condition: Callable[[], bool]) -> bool:
    """Poll `condition` until it holds or WAIT_S passes; whether it held."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def test_instance_name_is_under_the_service_type_without_dots_in_the_label():
    """The instance label is the code with dashes, so DNS-SD needs no escaping."""
    assert instance_name(A) == f"lienthong-{_RUN}-00-05-Z53._lienthong._tcp.local."


def test_constructor_refuses_what_it_could_not_announce():
    """A bad code, fingerprint or port fails before any socket is opened."""
    with pytest.raises(BadAnnouncement, match="not a unit code"):
        ZeroconfDiscovery("bad code", FP_A, 8443, interfaces=LOOPBACK)
    with pytest.raises(BadAnnouncement, match="base32"):
        ZeroconfDiscovery(A, "nope", 8443, interfaces=LOOPBACK)
    with pytest.raises(BadAnnouncement, match="port 0"):
        ZeroconfDiscovery(A, FP_A, 0, interfaces=LOOPBACK)


def test_zeroconf_discovery_satisfies_the_interface():
    """The real discovery can stand wherever a Discovery is expected."""
    assert isinstance(ZeroconfDiscovery(A, FP_A, 8443, interfaces=LOOPBACK), Discovery)


def forged_info() -> AsyncServiceInfo:
    """An announcement with a well-formed code but a fingerprint that is not one."""
    return AsyncServiceInfo(
        SERVICE_TYPE,
        f"forged.{SERVICE_TYPE}",
        port=8445,
        properties={"code": BAD, "fp": "not-a-fingerprint", "v": "1"},
        server="forged.local.",
        parsed_addresses=["127.0.0.1"],
    )


async def register(aiozc: AsyncZeroconf, info: AsyncServiceInfo) -> None:
    """Register and wait until the announcements are sent."""
    await (await aiozc.async_register_service(info))


@pytest.mark.zeroconf
async def test_two_nodes_on_loopback_see_each_other_and_ignore_a_bad_announcement(caplog):
    """Real mDNS: each node learns the other's address, code and fingerprint, not its own; a bad
    TXT is read and ignored; a goodbye removes the hint; closing leaves no task behind."""
    caplog.set_level(logging.DEBUG, logger="lienthong.bootstrap.zeroconf_discovery")
    seen_by_a: list[Sighting] = []
    seen_by_b: list[Sighting] = []
    a = ZeroconfDiscovery(A, FP_A, 8443, interfaces=LOOPBACK, on_seen=seen_by_a.append)
    b = ZeroconfDiscovery(B, FP_B, 8444, interfaces=LOOPBACK, on_seen=seen_by_b.append)
    forger: AsyncZeroconf | None = None
    try:
        try:
            forger = AsyncZeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
            # Started together: each registration spends over a second probing for its name.
            await asyncio.gather(a.start(), b.start(), forger.async_register_service(forged_info()))
        except OSError as exc:
            pytest.skip(f"multicast DNS cannot bind on 127.0.0.1 here: {exc}")

        assert await wait_until(lambda: a.addresses(B) and b.addresses(A))
        assert a.addresses(B) == [("127.0.0.1", 8444)]
        assert b.addresses(A) == [("127.0.0.1", 8443)]
        assert [(s.code, s.fingerprint) for s in ours(seen_by_a)] == [(B, FP_B)]
        assert [(s.code, s.fingerprint) for s in ours(seen_by_b)] == [(A, FP_A)]
        assert a.addresses(A) == []

        assert await wait_until(
            lambda: all(f"discovery of {code}: ignoring 'forged." in caplog.text for code in (A, B))
        )
        assert "base32" in caplog.text
        assert a.addresses(BAD) == []
        assert b.addresses(BAD) == []
        assert all(s.code != BAD for s in seen_by_a + seen_by_b)

        await b.close()
        assert await wait_until(lambda: not a.addresses(B))
    finally:
        if forger is not None:
            await forger.async_close()
        await b.close()
        await a.close()
    assert asyncio.all_tasks() == {asyncio.current_task()}
