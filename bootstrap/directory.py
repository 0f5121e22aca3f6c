"""The directory a node trusts: verified, cached in the store, refreshed, served and gossiped.

The directory is signed by the centre's root key, so where it comes from does
not matter: the centre, a peer that advertised a newer version in its
`Lienthong-Directory` response header, or a push. Only the signature and the
version decide (docs/PROTOCOL.md, "Directory"). A node keeps working on its
cached directory while the centre is down, until that directory expires.
It asks for form 2 (the envelope versions each unit reads) and takes form 2 of
the version it holds in form 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from lienthong.bootstrap.errors import CacheInvalid, FetchFailed
from lienthong.bootstrap.settings import Federation
from lienthong.crypto.errors import LienthongError
from lienthong.protocol.directory import Directory, verify_directory
from lienthong.protocol.errors import Expired, UnknownSigner
from lienthong.protocol.limits import MAX_DIRECTORY_BYTES
from lienthong.protocol.peer import CONTENT_TYPE, directory_etag, held_etags
from lienthong.protocol.text import is_decimal
from lienthong.storage import audit
from lienthong.storage.db import Store
from lienthong.storage.directory import archive_certificates, latest_directory, save_directory
from lienthong.storage.errors import Conflict, RollbackRefused

log = logging.getLogger("lienthong.directory")

DIRECTORY_PATH = "/v1/directory"
# The directory form this node asks for (docs/PROTOCOL.md 17.3, 18): a version-1 server
# ignores the query and answers form 1, which this node reads too.
FORM_QUERY = "?form=2"
DIRECTORY_HEADER = "Lienthong-Directory"  # the version the sender holds, on every peer answer
DEFAULT_WARN_HOURS = 48  # node.toml federation.directory_warn_hours
MS_PER_HOUR = 3_600_000
# A version is at most 2**53 (protocol): 16 digits. A longer header is ignored unparsed.
MAX_VERSION_DIGITS = 16
# A 10,000-unit directory is ~6 MiB (protocol.limits): minutes on a slow office link at most.
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=300, connect=10)
# A peer that keeps advertising a version we cannot fetch (or that does not verify) is
# asked again at most this often, so a broken or lying peer cannot keep us fetching.
GOSSIP_RETRY_MS = 60_000
# A typo of 0 in directory_refresh_seconds must not hammer the centre.
MIN_REFRESH_SECONDS = 10
# Audit entries keep the reason of a refusal, cut to this length.
MAX_AUDIT_REASON = 500


class DirectoryState:
    """The directory in force at this node (`current`, `version`) and how it changes.

    `current` and `version` are plain attributes: the centre installs each
    directory it signs directly (node/centre/rules.py); every other node changes them
    through `accept` only.
    """

    def __init__(
        self,
        store: Store,
        root_public: bytes,
        clock: Callable[[], int],
        current: Directory | None = None,
        *,
        warn_hours: int = DEFAULT_WARN_HOURS,
    ) -> None:
        self.store = store
        self.root_public = root_public
        self.clock = clock
        self.current = current
        self.version = current.version if current is not None else 0
        self.warn_hours = warn_hours
        # The last answer from the centre (refresh_once): when it last answered, and
        # the error of the last attempt if that one failed. Shown on the health page.
        self.centre_ok_at: int | None = None
        self.centre_error: str | None = None
        self._lock = asyncio.Lock()

    @classmethod
    async def load(
        cls,
        store: Store,
        root_public: bytes,
        clock: Callable[[], int],
        *,
        warn_hours: int = DEFAULT_WARN_HOURS,
    ) -> DirectoryState:
        """The newest cached directory, verified again against the root key.

        An expired cache still loads (its signature is checked as of its expiry):
        the node can show it and knows its version, so older ones stay refused;
        `expired` is true and the expiry is logged. A cache that does not verify
        (another root key, or edited bytes) stops the node with the reason.
        """
        async with store.read() as conn:
            cached = await latest_directory(conn)
        state = cls(store, root_public, clock, warn_hours=warn_hours)
        if cached is None:
            return state
        now = clock()
        try:
            directory = verify_directory(cached.raw, root_public, now=min(now, cached.expires_at))
        except LienthongError as exc:
            raise CacheInvalid(
                f"the directory cached in {store.path} does not verify against the pinned "
                f"root key: {exc}"
            ) from exc
        state.current, state.version = directory, directory.version
        if state.expired:
            log.warning("%s", _expired_text(directory, now))
        return state

    @property
    def form(self) -> int:
        """The form of the directory in force (1 when there is none)."""
        return self.current.form if self.current is not None else 1

    @property
    def expired(self) -> bool:
        """Whether the directory in force is past its expiry (False when there is none)."""
        return self.current is not None and self.clock() > self.current.expires_at

    async def accept(self, raw: bytes, *, source: str) -> bool:
        """Take a directory if it verifies and is newer; True when it replaced the current one.

        The same version again changes nothing (False), except that form 2 of the version
        held in form 1 replaces it when both state the same listing (docs/PROTOCOL.md
        10.2). A refusal (bad signature, rollback, expired, malformed) raises the
        library's error after an audit entry "directory.refused"; a newer directory is
        cached and audited as "directory.accepted" in one transaction.
        """
        async with self._lock:
            now = self.clock()
            try:
                directory = verify_directory(
                    raw, self.root_public, now=now, newer_than=self.version or None
                )
            except LienthongError as exc:
                await self._refused(source, exc, now)
                raise
            held = self.current
            replaces = None
            if held is not None and directory.version == self.version:
                if held.form == 1 and directory.form == 2 and held.same_listing(directory):
                    replaces = held.raw  # the same version, now with what each unit reads
                else:
                    other_form = directory.form != held.form and held.same_listing(directory)
                    if directory.raw != held.raw and not other_form:
                        log.warning(
                            "directory v%d from %s differs from the one held, with the same "
                            "version",
                            directory.version,
                            source,
                        )
                    return False
            try:
                async with self.store.write() as tx:
                    await save_directory(
                        tx,
                        directory.version,
                        directory.raw,
                        directory.issued_at,
                        directory.expires_at,
                        now,
                        replaces=replaces,
                    )
                    await archive_certificates(
                        tx,
                        [(c.serial, c.code, c.raw) for c in directory.certificates],
                        directory.revoked,
                    )
                    await audit.append(
                        tx,
                        at=now,
                        actor="node",
                        action="directory.accepted",
                        subject=f"directory v{directory.version}",
                        details={
                            "source": source,
                            "previous": self.version,
                            "expires_at": directory.expires_at,
                            "form": directory.form,
                        },
                    )
            except (RollbackRefused, Conflict) as exc:
                await self._refused(source, exc, now, version=directory.version)
                raise
            self.current, self.version = directory, directory.version
        log.info(
            "directory v%d (form %d) accepted from %s",
            directory.version,
            directory.form,
            source,
            extra={"version": directory.version, "peer": source},
        )
        return True

    async def _refused(
        self, source: str, exc: Exception, now: int, *, version: int | None = None
    ) -> None:
        log.warning(
            "directory from %s refused: %s", source, exc, extra={"peer": source, "version": version}
        )
        async with self.store.write() as tx:
            await audit.append(
                tx,
                at=now,
                actor="node",
                action="directory.refused",
                subject="directory" if version is None else f"directory v{version}",
                details={
                    "source": source,
                    "error": type(exc).__name__,
                    "reason": str(exc)[:MAX_AUDIT_REASON],
                    "held": self.version,
                },
            )

    def key_lookup(self, code: str, serial: int) -> bytes:
        """The signing key of `code` under certificate `serial`, for protocol verification.

        UnknownSigner without a directory or for a certificate it does not list,
        Revoked for a revoked serial, Expired once the directory in force has
        expired (the node works on its cache until then, DESIGN "Identities").
        """
        directory = self.current
        if directory is None:
            raise UnknownSigner(
                f"this node holds no directory yet: certificate {serial} of {code} is unknown"
            )
        now = self.clock()
        if now > directory.expires_at:
            raise Expired(_expired_text(directory, now) + ": fetch a newer one from the centre")
        return directory.signing_key(code, serial)

    def warnings(self, now: int, warn_hours: int | None = None) -> list[str]:
        """What an operator must know about the directory in force; empty when all is well."""
        hours = self.warn_hours if warn_hours is None else warn_hours
        directory = self.current
        if directory is None:
            return ["no directory yet: this node cannot verify any unit until it fetches one"]
        if now > directory.expires_at:
            return [_expired_text(directory, now)]
        left = directory.expires_at - now
        if left <= hours * MS_PER_HOUR:
            return [
                f"directory v{directory.version} expires within {-(-left // MS_PER_HOUR)} hours "
                f"(at {iso(directory.expires_at)}): check that the centre is reachable"
            ]
        return []


def iso(ms: int) -> str:
    """Unix milliseconds as an ISO 8601 UTC time, for messages."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _expired_text(directory: Directory, now: int) -> str:
    ago = (now - directory.expires_at) // MS_PER_HOUR
    return (
        f"directory v{directory.version} expired at {iso(directory.expires_at)} ({ago} hours ago)"
    )


# -- fetching -------------------------------------------------------------------------------


def held_tags(version: int | None, form: int = 1) -> str | None:
    """The `If-None-Match` of a node holding directory `version` in `form`: its tag, and for
    form 2 also form 1's, so that a server offering only form 1 of that version answers 304
    (form 1 of a version held in form 2 is nothing new). None when nothing is held."""
    if not version:
        return None
    if form == 1:
        return directory_etag(version)
    return f"{directory_etag(version, form)}, {directory_etag(version)}"


async def fetch_directory(
    session: aiohttp.ClientSession,
    base_url: str,
    *,
    etag_version: int | None,
    etag_form: int = 1,
    server_hostname: str | None = None,
) -> bytes | None:
    """GET BASE/v1/directory?form=2; None when the server holds `etag_version` too (304).

    Any network error, other status or oversized body raises FetchFailed.
    """
    url = base_url.rstrip("/") + DIRECTORY_PATH + FORM_QUERY
    tags = held_tags(etag_version, etag_form)
    headers = {"If-None-Match": tags} if tags else {}
    kwargs: dict[str, Any] = {"headers": headers, "timeout": FETCH_TIMEOUT}
    if server_hostname:
        kwargs["server_hostname"] = server_hostname
    try:
        async with session.get(url, **kwargs) as response:
            if response.status == 304:
                return None
            if response.status != 200:
                text = (await response.content.read(300)).decode("utf-8", "replace")
                raise FetchFailed(f"{url}: HTTP {response.status}: {text}")
            return await read_capped(response, MAX_DIRECTORY_BYTES, url)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise FetchFailed(f"{url}: {type(exc).__name__}: {exc}") from None


async def read_capped(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The whole body, refusing one over `limit` bytes before reading it all."""
    declared = response.content_length
    if declared is not None and declared > limit:
        raise FetchFailed(f"{what}: the body is {declared} bytes, over the limit of {limit}")
    data = bytearray()
    while True:
        chunk = await response.content.read(min(1 << 20, limit + 1 - len(data)))
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) > limit:
            raise FetchFailed(f"{what}: the body is over the limit of {limit} bytes")


# -- gossip ---------------------------------------------------------------------------------


def advertised_version(headers: Mapping[str, str]) -> int | None:
    """The directory version a peer's response advertises, or None if absent or malformed."""
    value = headers.get(DIRECTORY_HEADER, "")
    if not is_decimal(value, MAX_VERSION_DIGITS):
        return None
    return int(value)


async def observe_peer_version(
    state: DirectoryState,
    session: aiohttp.ClientSession,
    peer_url: str,
    advertised: int,
    *,
    server_hostname: str | None = None,
) -> bool:
    """Fetch from the peer when it advertises a newer version; True if a newer one was taken.

    Raises FetchFailed, or the refusal of `DirectoryState.accept`.
    """
    if advertised <= state.version:
        return False
    raw = await fetch_directory(
        session,
        peer_url,
        etag_version=state.version or None,
        etag_form=state.form,
        server_hostname=server_hostname,
    )
    if raw is None:
        return False
    return await state.accept(raw, source=f"peer {peer_url}")


class Gossip:
    """Turns the versions peers advertise into fetches, from synchronous callbacks.

    `observe(peer_url, version)` fits the delivery engine's on_directory_version;
    `observe_response(peer_url, headers)` reads the header of any peer answer.
    One fetch runs at a time; a (peer, version) pair is retried after GOSSIP_RETRY_MS.
    """

    def __init__(self, state: DirectoryState, session: aiohttp.ClientSession) -> None:
        self.state = state
        self.session = session
        self._task: asyncio.Task[None] | None = None
        self._tried: dict[tuple[str, int], int] = {}

    def observe_response(self, peer_url: str, headers: Mapping[str, str]) -> None:
        version = advertised_version(headers)
        if version is not None:
            self.observe(peer_url, version)

    def observe(self, peer_url: str, advertised: int) -> None:
        if advertised <= self.state.version or (self._task and not self._task.done()):
            return
        now = self.state.clock()
        last = self._tried.get((peer_url, advertised))
        if last is not None and now - last < GOSSIP_RETRY_MS:
            return
        self._tried = {k: t for k, t in self._tried.items() if now - t < GOSSIP_RETRY_MS}
        self._tried[(peer_url, advertised)] = now
        self._task = asyncio.create_task(self._fetch(peer_url, advertised))

    async def _fetch(self, peer_url: str, advertised: int) -> None:
        try:
            await observe_peer_version(self.state, self.session, peer_url, advertised)
        except LienthongError as exc:
            log.warning(
                "gossip: directory v%d from %s not taken: %s",
                advertised,
                peer_url,
                exc,
                extra={"peer": peer_url, "version": advertised},
            )

    async def wait(self) -> None:
        """Wait for the fetch in progress, if any (tests and shutdown)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


# -- serving and refreshing -----------------------------------------------------------------


def add_directory_routes(app: web.Application, state: DirectoryState | None = None) -> None:
    """Serve GET /v1/directory: the directory in force in the form held, with ETag
    "v<version>" (form 1) or "v<version>.2" (form 2), and 304. A `?form` is not read: a unit
    serves what it holds (docs/PROTOCOL.md 17.3).

    For units (the centre has its own handler). Without `state`, the node
    context already stored in `app` supplies it (bootstrap/ may not import
    node/, so it is found as the one app value holding a DirectoryState).
    """
    if state is None:
        found = [v.directory for v in app.values() if isinstance(_directory_of(v), DirectoryState)]
        if len(found) != 1:
            raise ValueError("add_directory_routes: pass state=, or store the node context first")
        state = found[0]
    held_by: DirectoryState = state

    async def get_directory(request: web.Request) -> web.Response:
        directory = held_by.current
        if directory is None:
            return web.json_response(
                {"error": "NoDirectory", "message": "this node holds no directory yet"},
                status=503,
            )
        etag = directory_etag(directory.version, directory.form)
        if etag in held_etags(request.headers.get("If-None-Match", "")):
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=directory.raw,
            content_type=CONTENT_TYPE,
            headers={"ETag": etag, "Cache-Control": "no-cache"},
        )

    app.router.add_get(DIRECTORY_PATH, get_directory)


def _directory_of(value: object) -> object:
    return getattr(value, "directory", None)


def centre_url_of(federation: Federation, state: DirectoryState) -> str:
    """federation.centre_url, else the centre URL the directory in force names."""
    url = federation.centre_url
    if not url and state.current is not None:
        url = state.current.centre_url
    return url


async def refresh_once(state: DirectoryState, session: aiohttp.ClientSession, url: str) -> bool:
    """One fetch from the centre; True if a newer directory was taken.

    An unreachable centre or a refused directory is logged (refusals are also
    audited by accept) and the node continues on the directory it holds.
    """
    try:
        raw = await fetch_directory(
            session, url, etag_version=state.version or None, etag_form=state.form
        )
    except FetchFailed as exc:
        state.centre_error = str(exc)
        held = f"v{state.version}" if state.current else "none"
        log.warning(
            "centre unreachable (%s); continuing on the cached directory (%s)",
            exc,
            held,
            extra={"peer": url, "version": state.version},
        )
        return False
    state.centre_ok_at, state.centre_error = state.clock(), None
    try:
        return raw is not None and await state.accept(raw, source=f"centre {url}")
    except LienthongError:
        return False  # accept has logged and audited the refusal


async def refresh_loop(
    state: DirectoryState,
    session: aiohttp.ClientSession,
    stop: asyncio.Event,
    *,
    federation: Federation,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> None:
    """Fetch from the centre every federation.directory_refresh_seconds until `stop` is set.

    `sleep` replaces the wait between rounds (tests); by default the wait ends
    early when `stop` is set.
    """
    interval = max(federation.directory_refresh_seconds, MIN_REFRESH_SECONDS)
    warn_hours = federation.directory_warn_hours

    async def wait(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    pause = sleep or wait
    while not stop.is_set():
        url = centre_url_of(federation, state)
        if url:
            await refresh_once(state, session, url)
        else:
            log.warning("no centre URL (federation.centre_url) and no directory: not refreshing")
        for warning in state.warnings(state.clock(), warn_hours):
            log.warning("%s", warning)
        await pause(interval)
