"""Discovery without a network: the announcement format and its checks, sightings, the fake."""

import logging

import pytest

from lienthong.bootstrap import discovery
from lienthong.bootstrap.discovery import (
    MAX_ADDRESSES_PER_ANNOUNCEMENT,
    MAX_ADDRESSES_PER_UNIT,
    MAX_TXT_BYTES,
    MAX_TXT_KEYS,
    SIGHTING_TTL_MS,
    BadAnnouncement,
    Discovery,
    FakeDiscovery,
    Sighting,
    announcement_properties,
    parse_announcement,
)
from lienthong.crypto.keys import fingerprint

CODE = "000.00.05.H53"
OTHER = "000.00.05.H54"
FP = fingerprint(bytes(range(32)))
NOW = 1_700_000_000_000


class FakeClock:
    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def txt(**values: str | bytes | None) -> dict[bytes, bytes | None]:
    """TXT properties as zeroconf decodes them: bytes keys, bytes or None values."""
    base: dict[str, str | bytes | None] = {"code": CODE, "fp": FP, "v": "1"}
    base.update(values)
    return {
        k.encode(): (v.encode() if isinstance(v, str) else v)
        for k, v in base.items()
        if v != "<absent>"
    }


def sighting(code: str = CODE, host: str = "192.0.2.1", port: int = 8443, at: int = NOW):
    return Sighting(code, FP, host, port, at)


# -- the announcement format -------------------------------------------------


def test_announced_properties_parse_back_to_the_same_unit():
    """What a node announces is exactly what another node reads back."""
    props = {k.encode(): v.encode() for k, v in announcement_properties(CODE, FP).items()}
    assert parse_announcement(props, ["192.0.2.7"], 8443, NOW) == [
        Sighting(CODE, FP, "192.0.2.7", 8443, NOW)
    ]


def test_announced_properties_carry_code_fingerprint_and_version():
    """The TXT record holds code=, fp= (canonical form) and v=1, nothing else."""
    assert announcement_properties(CODE, FP.lower().replace("-", "")) == {
        "code": CODE,
        "fp": FP,
        "v": "1",
    }


@pytest.mark.parametrize(
    ("code", "fp", "message"),
    [
        ("not a code", FP, "not a unit code"),
        (CODE, "XYZ", "base32 characters"),
    ],
)
def test_a_node_refuses_to_announce_what_others_would_refuse(code, fp, message):
    """A bad own code or fingerprint fails at construction, not silently on the LAN."""
    with pytest.raises(BadAnnouncement, match=message):
        announcement_properties(code, fp)


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (txt(code="<absent>"), "no value for 'code'"),
        (txt(fp="<absent>"), "no value for 'fp'"),
        (txt(v="<absent>"), "no value for 'v'"),
        (txt(code=None), "no value for 'code'"),
        (txt(v="2"), "TXT 'v' is '2'"),
        (txt(code="../../etc"), "not a unit code"),
        (txt(code="000.00.05.H53" * 3), "not a unit code"),
        (txt(code="000.00.05.H5\u00e9"), "not ASCII"),
        (txt(fp="AAAA"), "expected 32"),
        (txt(fp="AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAA1"), "outside base32"),
        (txt(**{f"x{i}": "1" for i in range(MAX_TXT_KEYS)}), "keys, over the limit"),
        (txt(note="n" * MAX_TXT_BYTES), "bytes, over the limit"),
    ],
)
def test_bad_txt_is_refused_with_the_reason(properties, message):
    """Each malformed TXT record is refused, and the error names what was wrong."""
    with pytest.raises(BadAnnouncement, match=message):
        parse_announcement(properties, ["192.0.2.1"], 8443, NOW)


@pytest.mark.parametrize("port", [0, -1, 65536, None, True, "8443"])
def test_a_port_outside_1_to_65535_is_refused(port):
    """The SRV port must be a real TCP port."""
    with pytest.raises(BadAnnouncement, match=r"not in 1\.\.65535"):
        parse_announcement(txt(), ["192.0.2.1"], port, NOW)


@pytest.mark.parametrize(
    ("addresses", "message"),
    [
        ([], "no IPv4 address"),
        (["999.0.0.1"], "not an IPv4 address"),
        (["::1"], "not an IPv4 address"),
        (["example.org"], "not an IPv4 address"),
        (["192.0.2.1", "10.0.0.01"], "not an IPv4 address"),
        (["0.0.0.0"], "cannot be connected to"),  # noqa: S104 - the point of the test
        (["224.0.0.251"], "cannot be connected to"),
        (["255.255.255.255"], "cannot be connected to"),
        ([f"10.0.0.{i}" for i in range(MAX_ADDRESSES_PER_ANNOUNCEMENT + 1)], "over the limit"),
    ],
)
def test_bad_addresses_are_refused(addresses, message):
    """Every announced address must be a connectable IPv4 address, and not too many of them."""
    with pytest.raises(BadAnnouncement, match=message):
        parse_announcement(txt(), addresses, 8443, NOW)


def test_one_sighting_per_distinct_address_with_unknown_keys_ignored():
    """A multi-homed node yields a sighting per address; a later version's extra key is harmless."""
    found = parse_announcement(
        txt(extra="later-version", fp=FP.lower()), ["192.0.2.1", "10.1.1.1", "192.0.2.1"], 443, NOW
    )
    assert [(s.host, s.fingerprint) for s in found] == [("192.0.2.1", FP), ("10.1.1.1", FP)]


# -- FakeDiscovery and the sighting table -----------------------------------------


async def test_fake_satisfies_the_discovery_interface():
    """The fake can stand wherever a Discovery is expected, and records its lifecycle."""
    fake = FakeDiscovery()
    assert isinstance(fake, Discovery)
    async with fake:
        assert fake.started
        assert not fake.closed
    assert fake.closed


def test_addresses_are_newest_first_per_unit():
    """Hints for a unit come newest first and never mix in another unit's."""
    fake = FakeDiscovery(clock=FakeClock(NOW + 10))
    fake.announce(sighting(host="192.0.2.1", at=NOW))
    fake.announce(sighting(host="192.0.2.2", at=NOW + 5))
    fake.announce(sighting(OTHER, host="192.0.2.3"))
    assert fake.addresses(CODE) == [("192.0.2.2", 8443), ("192.0.2.1", 8443)]
    assert fake.addresses(OTHER) == [("192.0.2.3", 8443)]
    assert fake.addresses("000.00.05.H99") == []


def test_sightings_older_than_the_ttl_are_dropped():
    """A unit not seen for longer than SIGHTING_TTL_MS is no longer offered."""
    clock = FakeClock()
    fake = FakeDiscovery(clock=clock)
    fake.announce(sighting(host="192.0.2.1", at=NOW))
    fake.announce(sighting(host="192.0.2.2", at=NOW + 1000))
    clock.now = NOW + SIGHTING_TTL_MS
    assert fake.addresses(CODE) == [("192.0.2.2", 8443), ("192.0.2.1", 8443)]
    clock.now = NOW + SIGHTING_TTL_MS + 1
    assert fake.addresses(CODE) == [("192.0.2.2", 8443)]
    clock.now = NOW + SIGHTING_TTL_MS + 1001
    assert fake.addresses(CODE) == []


def test_forget_drops_every_address_of_the_unit():
    """A goodbye removes the unit's hints at once, before the TTL."""
    fake = FakeDiscovery(clock=FakeClock())
    fake.announce(sighting(host="192.0.2.1"))
    fake.announce(sighting(OTHER))
    fake.forget(CODE)
    assert fake.addresses(CODE) == []
    assert fake.addresses(OTHER) == [("192.0.2.1", 8443)]


async def test_close_forgets_everything():
    """After close no stale hint is offered."""
    fake = FakeDiscovery(clock=FakeClock())
    await fake.start()
    fake.announce(sighting())
    await fake.close()
    assert fake.addresses(CODE) == []


def test_on_seen_fires_when_a_unit_appears_not_on_every_refresh():
    """The delivery engine hears of an appearance or a new address, not of each re-sighting."""
    seen: list[Sighting] = []
    clock = FakeClock()
    fake = FakeDiscovery(seen.append, clock=clock)
    first = sighting(at=NOW)
    fake.announce(first)
    fake.announce(sighting(at=NOW + 1000))
    moved = sighting(host="192.0.2.9", at=NOW + 2000)
    fake.announce(moved)
    back = sighting(at=NOW + 3000 + SIGHTING_TTL_MS)
    fake.announce(back)
    assert seen == [first, moved, back]


def test_on_seen_fires_again_after_forget():
    """A unit that said goodbye and came back is an appearance."""
    seen: list[Sighting] = []
    fake = FakeDiscovery(seen.append, clock=FakeClock())
    fake.announce(sighting())
    fake.forget(CODE)
    fake.announce(sighting())
    assert len(seen) == 2


def test_a_failing_on_seen_does_not_stop_discovery(caplog):
    """An exception in the callback is logged and the sighting is still recorded."""

    def boom(_: Sighting) -> None:
        raise RuntimeError("callback broke")

    fake = FakeDiscovery(boom, clock=FakeClock())
    with caplog.at_level(logging.ERROR, logger="lienthong.bootstrap.discovery"):
        fake.announce(sighting())
    assert fake.addresses(CODE) == [("192.0.2.1", 8443)]
    assert "on_seen callback failed for 000.00.05.H53" in caplog.text


def test_addresses_per_unit_are_capped_keeping_the_newest():
    """A unit flooding addresses keeps only the MAX_ADDRESSES_PER_UNIT newest."""
    fake = FakeDiscovery(clock=FakeClock(NOW + 100))
    for i in range(MAX_ADDRESSES_PER_UNIT + 3):
        fake.announce(sighting(host=f"10.0.0.{i}", at=NOW + i))
    hosts = [h for h, _ in fake.addresses(CODE)]
    assert len(hosts) == MAX_ADDRESSES_PER_UNIT
    assert hosts[0] == f"10.0.0.{MAX_ADDRESSES_PER_UNIT + 2}"
    assert "10.0.0.2" not in hosts


def test_units_remembered_are_capped_dropping_the_stalest(monkeypatch):
    """Past MAX_UNITS_REMEMBERED the unit seen longest ago is forgotten."""
    monkeypatch.setattr(discovery, "MAX_UNITS_REMEMBERED", 3)
    fake = FakeDiscovery(clock=FakeClock(NOW + 100))
    codes = [f"000.00.05.H{i:02d}" for i in range(4)]
    for i, code in enumerate(codes):
        fake.announce(sighting(code, at=NOW + i))
    assert fake.addresses(codes[0]) == []
    assert all(fake.addresses(code) for code in codes[1:])
