"""The node's Prometheus metrics: one registry per node, served as /metrics on node.web.

Counters and the latency histogram are recorded by the delivery engine as it
works; queue depths, the directory's age and the envelopes received are read
at scrape time from the store and the directory in force. /metrics needs no
login (a scraper has no session): node.web must stay on 127.0.0.1 or behind
the firewall (docs/OPERATIONS.md, "Metrics").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from lienthong.node import __version__
from lienthong.node.context import CONTEXT, NodeContext, ServiceKey
from lienthong.node.health import certificate_ends
from lienthong.storage.outbox import dead_letter_counts, queue_depths
from lienthong.storage.relay import backlog as relay_backlog
from lienthong.storage.store_pg import PgStore

ROUTE_NAME = "metrics"
PATHS = ("direct", "relay")  # how a batch left this node: to the unit itself or via the relay
# A destination that is not a unit of the directory in force is counted under this label:
# label values come from the directory only, so the number of series stays bounded.
OTHER_DESTINATION = "other"
# Seconds for one batch (blobs, request, receipts): a loopback batch takes milliseconds,
# a batch with large files over a provincial WAN link can take a minute or two.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


@dataclass
class _Snapshot:
    """What the last scrape read from the store, for the collector to report."""

    depths: dict[str, int] = field(default_factory=dict)
    dead: dict[str, int] = field(default_factory=dict)
    received: int = 0
    # The centre's relay: per destination label (items, bytes), and the oldest deposit.
    relay: dict[str, tuple[int, int]] = field(default_factory=dict)
    relay_oldest: int | None = None
    # A centre on PostgreSQL: whether the last scrape could read the database.
    database_up: bool = True


class _ScrapeCollector(Collector):
    """Gauges read at scrape time: queue depths, the directory in force, envelopes received."""

    def __init__(self, metrics: NodeMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        ctx = self.metrics.ctx
        depth = GaugeMetricFamily(
            "lienthong_queue_depth",
            "Envelopes and statuses waiting for delivery, per destination.",
            labels=["destination"],
        )
        for code, count in sorted(self.metrics.snapshot.depths.items()):
            depth.add_metric([code], count)
        yield from self._relay(ctx)
        yield from self._database(ctx)
        yield depth
        dead = GaugeMetricFamily(
            "lienthong_dead_letters",
            "Envelopes and statuses a destination kept refusing, no longer sent until a clerk "
            "or 'lienthong retry' retries them, per destination.",
            labels=["destination"],
        )
        for code, count in sorted(self.metrics.snapshot.dead.items()):
            dead.add_metric([code], count)
        yield dead
        yield CounterMetricFamily(
            "lienthong_envelopes_received",
            "Envelopes from other units held in this node's store.",
            value=self.metrics.snapshot.received,
        )
        build = GaugeMetricFamily(
            "lienthong_build_info", "The lienthong version this node runs.", labels=["version"]
        )
        build.add_metric([__version__], 1)
        yield build
        now = ctx.clock()
        ends = GaugeMetricFamily(
            "lienthong_certificate_expires_in_seconds",
            "Seconds until this node's certificate ends (node: in the directory; tls: served).",
            labels=["certificate"],
        )
        for name, end in sorted(certificate_ends(ctx).items()):
            ends.add_metric([name], (end - now) / 1000)
        yield ends
        directory = ctx.directory.current
        yield GaugeMetricFamily(
            "lienthong_directory_version",
            "Version of the directory in force (0: none yet).",
            value=ctx.directory.version,
        )
        if directory is None:
            return
        yield GaugeMetricFamily(
            "lienthong_directory_age_seconds",
            "Seconds since the centre issued the directory in force.",
            value=(now - directory.issued_at) / 1000,
        )
        yield GaugeMetricFamily(
            "lienthong_directory_expires_in_seconds",
            "Seconds until the directory in force expires (negative: expired).",
            value=(directory.expires_at - now) / 1000,
        )

    def _database(self, ctx: NodeContext) -> Iterable[Metric]:
        """A centre on PostgreSQL: is the database readable, do other workers' news arrive."""
        if not isinstance(ctx.store, PgStore):
            return
        yield GaugeMetricFamily(
            "lienthong_database_up",
            "1 if this scrape read the centre's PostgreSQL database, 0 if it could not.",
            value=int(self.metrics.snapshot.database_up),
        )
        yield GaugeMetricFamily(
            "lienthong_database_listening",
            "1 if this worker hears the other workers' relay deposits (LISTEN), 0 while its "
            "connection is being re-opened.",
            value=int(ctx.store.listening),
        )

    def _relay(self, ctx: NodeContext) -> Iterable[Metric]:
        """The centre's relay backlog: what waits in each unit's mailbox, and for how long."""
        if ctx.config.role != "centre":
            return
        snapshot = self.metrics.snapshot
        items = GaugeMetricFamily(
            "lienthong_relay_items",
            "Envelopes, statuses and notices waiting at the relay, per recipient.",
            labels=["recipient"],
        )
        size = GaugeMetricFamily(
            "lienthong_relay_bytes",
            "Bytes of envelopes and statuses waiting at the relay, per recipient.",
            labels=["recipient"],
        )
        for code, (count, total) in sorted(snapshot.relay.items()):
            items.add_metric([code], count)
            size.add_metric([code], total)
        yield items
        yield size
        oldest = snapshot.relay_oldest
        yield GaugeMetricFamily(
            "lienthong_relay_oldest_item_age_seconds",
            "Seconds the oldest item at the relay has waited (0: the relay is empty).",
            value=0 if oldest is None else max(0, ctx.clock() - oldest) / 1000,
        )


class NodeMetrics:
    """The metrics of one node, in a registry of its own (several nodes share a process)."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.registry = CollectorRegistry()
        self.snapshot = _Snapshot()
        labels = ("destination", "path")
        self.succeeded = Counter(
            "lienthong_deliveries_succeeded",
            "Envelopes and statuses a destination (or the relay for it) accepted.",
            labels,
            registry=self.registry,
        )
        self.failed = Counter(
            "lienthong_deliveries_failed",
            "Envelopes and statuses a path could not deliver (they are retried later).",
            labels,
            registry=self.registry,
        )
        self.dead_lettered_total = Counter(
            "lienthong_dead_lettered",
            "Envelopes and statuses that became dead letters (refused for good).",
            ("destination", "kind"),
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "lienthong_delivery_batch_seconds",
            "Seconds to deliver one batch, blobs and answer included, by path.",
            ("path",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Label values are the fixed names of node/throttle.py and node/edge.py.
        self.rate_limited = Counter(
            "lienthong_rate_limited",
            "Requests answered 429 over a rate limit, by route class (docs/PROTOCOL.md 16.3).",
            ("route_class",),
            registry=self.registry,
        )
        self.connections_refused = Counter(
            "lienthong_connections_refused",
            "Connections to the peer listener reset at accept, by the [limits] cap passed.",
            ("cap",),
            registry=self.registry,
        )
        self.registry.register(_ScrapeCollector(self))

    def destination(self, code: str) -> str:
        """The label for `code`: the code if the directory in force has the unit, else 'other'."""
        directory = self.ctx.directory.current
        if directory is not None and directory.current(code) is not None:
            return code
        return OTHER_DESTINATION

    def delivered(self, code: str, path: str, count: int) -> None:
        if count > 0:
            self.succeeded.labels(self.destination(code), _path(path)).inc(count)

    def undelivered(self, code: str, path: str, count: int) -> None:
        if count > 0:
            self.failed.labels(self.destination(code), _path(path)).inc(count)

    def dead_lettered(self, code: str, kind: str) -> None:
        self.dead_lettered_total.labels(self.destination(code), kind).inc()

    def batch_took(self, path: str, seconds: float) -> None:
        self.batch_seconds.labels(_path(path)).observe(seconds)

    async def render(self) -> bytes:
        """The exposition text: read the store, then format every metric at once."""
        centre = self.ctx.config.role == "centre"  # it sends no documents: no queues
        try:
            async with self.ctx.store.read() as conn:
                depths = {} if centre else await queue_depths(conn)
                dead = {} if centre else await dead_letter_counts(conn)
                row = (
                    None
                    if centre
                    else await conn.fetchone(
                        "SELECT count(*) FROM documents WHERE direction = 'in'"
                        " AND envelope IS NOT NULL AND sender_code != ?",
                        (self.ctx.config.code,),
                    )
                )
                held = await relay_backlog(conn) if centre else {}
        except Exception:
            if not isinstance(self.ctx.store, PgStore):
                raise
            # The database is down or failing over: say so, with the last figures read.
            self.snapshot = replace(self.snapshot, database_up=False)
            return generate_latest(self.registry)
        # No await between setting the snapshot and formatting: a concurrent scrape
        # cannot mix its reading with ours.
        self.snapshot = _Snapshot(
            depths=self._by_label(depths),
            dead=self._by_label(dead),
            received=row[0] if row else 0,
            relay=self._relay_by_label(held),
            relay_oldest=min((oldest for _, _, oldest in held.values()), default=None),
        )
        return generate_latest(self.registry)

    def _relay_by_label(self, held: dict[str, tuple[int, int, int]]) -> dict[str, tuple[int, int]]:
        by_label: dict[str, tuple[int, int]] = {}
        for code, (items, size, _) in held.items():
            label = self.destination(code)
            count, total = by_label.get(label, (0, 0))
            by_label[label] = (count + items, total + size)
        return by_label

    def _by_label(self, counts: dict[str, int]) -> dict[str, int]:
        by_label: dict[str, int] = {}
        for code, count in counts.items():
            label = self.destination(code)
            by_label[label] = by_label.get(label, 0) + count
        return by_label


METRICS = ServiceKey("metrics", NodeMetrics)


def _path(path: str) -> str:
    if path not in PATHS:
        raise ValueError(f"delivery path must be one of {PATHS}, not {path!r}")
    return path


def metrics_of(ctx: NodeContext) -> NodeMetrics:
    """The node's metrics, made on first use and kept in the node's services."""
    return ctx.services.get_or_make(METRICS, lambda: NodeMetrics(ctx))


async def metrics_handler(request: web.Request) -> web.Response:
    body = await metrics_of(request.app[CONTEXT]).render()
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response


# Routes a monitor reads without a login: the scrape and the health check.
PUBLIC_ROUTES = (ROUTE_NAME, "healthz")


@web.middleware
async def public_metrics(request: web.Request, handler):
    """Serve /metrics and /healthz before the session middleware: a monitor has no login.

    Placed first in the web app's middlewares; every other route goes on to the
    session middleware unchanged.
    """
    route = request.match_info.route
    if getattr(route, "name", None) in PUBLIC_ROUTES and request.method in ("GET", "HEAD"):
        return await route.handler(request)
    return await handler(request)


def add_metrics_route(app: web.Application) -> None:
    """Mount GET /metrics on the clerks' web app (see public_metrics)."""
    app.router.add_get("/metrics", metrics_handler, name=ROUTE_NAME)
