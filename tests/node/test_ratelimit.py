"""Token buckets, the log throttle and the edge's counts, on a clock the tests step by hand:
no sleeping, no event loop."""

from __future__ import annotations

import pytest

from lienthong.node.config import Config, ConfigError, validate
from lienthong.node.edge import FD_RESERVE, EdgeCounts, EdgeLimits
from lienthong.node.ratelimit import (
    IPV6_PREFIX,
    Limit,
    OncePerInterval,
    TokenBuckets,
    address_key,
    retry_after,
)
from lienthong.node.throttle import limit_of

UNIT = {"unit": {"code": "000.00.02.H53", "name": "Sở Nội vụ"}}


class Seconds:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_passes_then_the_next_request_waits_for_one_token():
    """`burst` requests go at once; the next is told exactly how long until a token is back."""
    clock = Seconds()
    buckets = TokenBuckets(Limit("peer", per_minute=60, burst=3), clock=clock)
    assert [buckets.take("A") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("A") == pytest.approx(1.0)  # 60 a minute: one token a second
    clock.now += 0.25
    assert buckets.take("A") == pytest.approx(0.75)  # a refused request spends nothing
    clock.now += 0.75
    assert buckets.take("A") == 0.0
    assert buckets.take("A") == pytest.approx(1.0)


def test_a_bucket_refills_at_its_rate_up_to_its_burst_and_no_further():
    """After a long quiet spell a caller has its burst again, not more."""
    clock = Seconds()
    buckets = TokenBuckets(Limit("relay", per_minute=120, burst=4), clock=clock)
    for _ in range(4):
        buckets.take("A")
    clock.now += 1.0  # two tokens back
    assert [buckets.take("A") for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]
    clock.now += 3600
    assert [buckets.take("A") for _ in range(5)][-2:] == [0.0, pytest.approx(0.5)]


def test_a_caller_over_its_limit_never_slows_another():
    """Each key has its own bucket: A spends all of its own, B still has a full burst."""
    clock = Seconds()
    buckets = TokenBuckets(Limit("peer", per_minute=1, burst=2), clock=clock)
    for _ in range(50):
        buckets.take("A")
    assert buckets.take("A") > 0
    assert [buckets.take("B"), buckets.take("B")] == [0.0, 0.0]


def test_the_buckets_are_bounded_and_forget_the_least_recently_used_first():
    """At most max_keys buckets; the one used longest ago is dropped, and a dropped key
    starts again with a full bucket (forgetting never makes a caller wait)."""
    clock = Seconds()
    buckets = TokenBuckets(Limit("stranger", per_minute=1, burst=1), clock=clock, max_keys=3)
    for key in ("a", "b", "c"):
        assert buckets.take(key) == 0.0
    assert buckets.take("a") > 0  # "a" is now the most recently used
    for n in range(1000):
        buckets.take(f"flood-{n}")
    assert len(buckets) == 3
    assert buckets.take("b") == 0.0  # forgotten: a full bucket again


def test_retry_after_is_whole_seconds_and_at_least_one():
    """RFC 9110 delta-seconds: rounded up, never 0 (a client would retry at once)."""
    assert [retry_after(w) for w in (0.001, 1.0, 1.01, 59.5)] == ["1", "1", "2", "60"]


def test_addresses_are_counted_per_host_and_ipv6_per_64():
    """An IPv6 host's /64 is one caller; an IPv4-mapped address is its IPv4 address."""
    assert address_key("10.1.2.3") == "10.1.2.3"
    assert address_key("::ffff:10.1.2.3") == "10.1.2.3"
    assert IPV6_PREFIX == 64
    assert address_key("2001:db8:1:2::7") == address_key("2001:db8:1:2:ffff::1")
    assert address_key("2001:db8:1:2::7") != address_key("2001:db8:1:3::7")
    assert address_key("fe80::1%eth0") == "fe80::/64"
    assert address_key(None) == "unknown"


def test_a_limit_below_one_is_refused():
    """A limit of 0 would refuse everything: refused when made and in node.toml."""
    with pytest.raises(ValueError, match="at least 1"):
        Limit("peer", per_minute=0, burst=10)
    with pytest.raises(ConfigError, match=r"limits\.relay_burst = 0; it must be at least 1"):
        validate({**UNIT, "limits": {"relay_burst": 0}})


def test_limits_come_from_node_toml():
    """Each route class reads its two keys of [limits]."""
    config = Config(data_dir=None, values=validate({**UNIT, "limits": {"enrol_burst": 7}}))  # type: ignore[arg-type]
    assert limit_of(config, "enrol") == Limit("enrol", per_minute=60, burst=7)
    assert EdgeLimits.from_config(config).max_handshakes_per_address == 32


def test_a_flood_of_events_is_logged_once_per_interval_with_the_count_left_out():
    """The first event is logged, the rest of the interval only counted, then reported."""
    clock = Seconds()
    once = OncePerInterval(60.0, clock=clock)
    seen = []
    for _ in range(1000):
        seen.append(once.due())
        clock.now += 0.125  # 1000 events in 125 s
    logged = [s for s in seen if s is not None]
    assert logged == [0, 479, 479]  # at 0, 60 and 120 s, each with the 479 in between


def test_caps_are_lowered_to_fit_the_open_files():
    """Connections plus the reserve fit in the open-file limit; caps that fit stay as set."""
    wanted = EdgeLimits(1024, 256, 256, 32)
    assert wanted.fitted(65_536) is wanted
    fitted = wanted.fitted(1024)
    assert fitted.max_connections == 1024 - FD_RESERVE
    assert fitted.max_connections_per_address == 256
    tiny = wanted.fitted(FD_RESERVE + 10)
    assert (tiny.max_connections, tiny.max_connections_per_address) == (10, 10)
    assert (tiny.max_handshakes, tiny.max_handshakes_per_address) == (10, 10)


def test_the_counts_name_the_first_cap_a_connection_would_pass():
    """Per-address caps stop one address; the totals stop all; a slot is given back once."""
    counts = EdgeCounts(EdgeLimits(4, 3, 3, 2))
    one = counts.take("10.0.0.1")
    counts.take("10.0.0.1")
    assert counts.over("10.0.0.1") == "max_handshakes_per_address"
    assert counts.over("10.0.0.2") is None
    one.authenticated()
    one.authenticated()  # twice: counted once
    assert counts.over("10.0.0.1") is None
    counts.take("10.0.0.1")
    assert counts.over("10.0.0.1") == "max_connections_per_address"
    counts.take("10.0.0.2")
    assert counts.over("10.0.0.3") == "max_connections"
    one.release()
    one.release()
    assert (counts.total_open, counts.total_unauthenticated) == (3, 3)
    assert counts.over("10.0.0.3") == "max_handshakes"
    assert counts.open == {"10.0.0.1": 2, "10.0.0.2": 1}
