"""The gateway to organisations outside the directory: documents addressed to them leave as
edXML packages through the outgoing spool folder (or a POST), and packages and status
messages dropped into the incoming spool folder enter the federation (docs/GATEWAY.md).

Outgoing: the gateway follows the node's event queue with a cursor of its own. Each
document that arrives naming organisations it carries (`gateway.to`) is written once per
organisation as `<sender>_<envelope>_<organisation>.edxml`, a temporary file renamed into
place, and the sender is told with a 01 naming the organisation. A status a unit sends
about a document the gateway brought in is written as an edXML status to its first sender.

Incoming: every file of the incoming folder is taken once: a package is sent on to the
units of the directory it names (its sender shown as the organisation outside, "via
gateway"); a status goes back to the unit that sent the document it answers. Each file is
then moved into done/ or failed/, a failure with `<name>.reason.txt` beside it; a file
whose bytes were taken before is not taken again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from lienthong.crypto.errors import LienthongError
from lienthong.crypto.files import create_private, make_private_dir
from lienthong.node.context import NodeContext
from lienthong.node.unit import documents as service
from lienthong.node.unit import external
from lienthong.node.unit.attachments import decrypt_to
from lienthong.node.unit.edxml_import import import_edxml
from lienthong.node.unit.events import POLL_SECONDS, signal_of
from lienthong.node.unit.views import business_view
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.document import Organisation, StaffInfo
from lienthong.protocol.edxml import (
    MAX_EDXML_STATUS_BYTES,
    EdxmlDocument,
    EdxmlStatus,
    ExportAttachment,
    TraceEntry,
    document_id,
)
from lienthong.protocol.edxml_read import from_edxml, status_from_edxml
from lienthong.protocol.edxml_write import (
    DOCUMENT_ID_EXTENSION,
    status_to_edxml,
    write_edxml,
)
from lienthong.protocol.errors import ProtocolError
from lienthong.protocol.limits import MAX_REASON, MAX_SHORT_TEXT
from lienthong.protocol.status import MAX_INCOMING_NUMBER, Staff
from lienthong.protocol.text import is_decimal
from lienthong.storage import events
from lienthong.storage import gateway as gateway_store
from lienthong.storage.documents import (
    DocumentRecord,
    came_in_envelope,
    envelope_sha256,
    get_document,
)

log = logging.getLogger("lienthong.gateway")

# The gateway's place in event_cursors: no webhook name starts with "~" (node/config.py).
CURSOR = "~gateway"
# edXML BussinessDocType of each business (the CLI's export writes the same).
BUSINESS_TYPE = {"new": 0, "update": 2, "replace": 3}
SUFFIX = ".edxml"
DONE, FAILED = "done", "failed"
REASON_SUFFIX = ".reason.txt"
# A status message is told from a package by this element in its first bytes.
STATUS_MARK = b"StatusCode>"
# One POST of a package: the connector answers when it has stored it.
POST_TIMEOUT = aiohttp.ClientTimeout(total=600, connect=10)
# A failing POST or folder is tried again after this, doubled each time up to the cap.
RETRY_BASE_SECONDS, RETRY_CAP_SECONDS = 1.0, 300.0
# Files taken from the incoming folder per scan: a scan stays short, the rest come next.
MAX_FILES_PER_SCAN = 100


class GatewayError(LienthongError):
    """A file of the incoming folder that cannot be taken in: the reason is kept beside it
    in failed/ (never sent to a peer)."""


def _timestamp(ms: int) -> str:
    """Unix ms as edXML writes a time: local yyyy/MM/dd HH:mm:ss."""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y/%m/%d %H:%M:%S")


def _edxml_year(timestamp: str) -> int:
    return int(timestamp[:4])


@dataclasses.dataclass
class Spool:
    """The folders and URL of node.toml [gateway]; each None when not configured."""

    outgoing: Path | None
    incoming: Path | None
    post_url: str | None
    scan_seconds: int

    @classmethod
    def of(cls, ctx: NodeContext) -> Spool:
        c = ctx.config
        return cls(
            outgoing=c.path("gateway", "outgoing") if c.get("gateway", "outgoing") else None,
            incoming=c.path("gateway", "incoming") if c.get("gateway", "incoming") else None,
            post_url=c.get("gateway", "post_url") or None,
            scan_seconds=c.get("gateway", "scan_seconds"),
        )

    @property
    def configured(self) -> bool:
        return bool(self.outgoing or self.incoming or self.post_url)


def state_dir(ctx: NodeContext) -> Path:
    """The gateway's own records in the data directory: what it passed on, what it took."""
    return ctx.config.data_dir / "gateway"


def _digest(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write `data` as `path`: a hidden temporary file beside it, flushed, then renamed."""
    tmp = path.with_name(f".{path.name}.partial")
    with create_private(tmp, replace=True) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


# Records a file of the incoming folder as taken, with its outcome, in a transaction.
Mark = Callable[[Any, str], Awaitable[None]]


class Gateway:
    """The gateway's two loops over one node context (node/runtime.py starts them)."""

    def __init__(
        self,
        ctx: NodeContext,
        session: aiohttp.ClientSession | None = None,
        spool: Spool | None = None,
    ) -> None:
        self.ctx = ctx
        self.session = session
        self.spool = spool or Spool.of(ctx)
        self.signal = signal_of(ctx)
        self.state = state_dir(ctx)
        make_private_dir(self.state / "sent", parents=True)
        for folder in (self.spool.outgoing, self.spool.incoming):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
        if self.spool.incoming is not None:
            for sub in (DONE, FAILED):
                (self.spool.incoming / sub).mkdir(exist_ok=True)

    @property
    def me(self) -> str:
        return self.ctx.config.code

    # Running

    async def run(self, stop: asyncio.Event) -> None:
        """Both loops until `stop`; without a session given, one of its own for the POSTs."""
        if self.session is None and self.spool.post_url:
            async with aiohttp.ClientSession() as self.session:
                await self._run(stop)
            return
        await self._run(stop)

    async def _run(self, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(self._outgoing_loop(stop))]
        if self.spool.incoming is not None:
            tasks.append(asyncio.create_task(self._incoming_loop(stop)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _outgoing_loop(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await self.pass_on(wait=POLL_SECONDS)
                failures = 0
            except (LienthongError, OSError, aiohttp.ClientError, TimeoutError) as exc:
                failures += 1
                delay = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** min(failures, 20))
                log.warning("gateway: cannot pass a document on (%s); again in %.0f s", exc, delay)
                if await _stopped(stop, delay):
                    return

    async def _incoming_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.take_in()
            except (LienthongError, OSError) as exc:
                log.warning("gateway: the incoming folder could not be read: %s", exc)
            if await _stopped(stop, self.spool.scan_seconds):
                return

    # Outgoing: the event queue

    async def pass_on(self, wait: float = 0) -> int:
        """Handle the events after the gateway's cursor (waiting up to `wait` seconds for
        the first); the cursor moves past each once it is handled. How many were."""
        async with self.ctx.store.read() as conn:
            cursor = await events.cursor_of(conn, CURSOR)
        found = await self.signal.next_events(cursor, wait)
        for event in found:
            if event.kind == events.DOCUMENT_ARRIVED:
                await self._arrived(event.document_id)
            elif event.kind == events.STATUS_CHANGED and event.data.get("direction") == "in":
                await self._answered(event.document_id, event.data)
            elif event.kind == events.STATUS_CHANGED and event.data.get("direction") == "out":
                await self._own_answer(event.document_id, event.data)
            elif event.kind == events.RECALL_REQUESTED:
                await self._recall(event.document_id, event.data)
            async with self.ctx.store.write() as tx:
                await events.set_cursor(tx, CURSOR, event.id, at=self.ctx.clock())
        return len(found)

    async def _arrived(self, document_id: str) -> None:
        """A document addressed to organisations outside: one package for each this gateway
        carries, then a 01 naming it; a 02 for each the directory no longer lists."""
        async with self.ctx.store.read() as conn:
            doc = await get_document(conn, document_id)
        if doc is None or doc.direction != "in":
            return
        body = service.stored_body(doc)
        codes = external.addressed_to(body.metadata)
        if not codes:
            return
        directory = self.ctx.directory.current
        carried = []
        for code in codes:
            org = directory.external_organisation(code) if directory else None
            if org is not None and org.gateway != self.me:
                continue  # another gateway, also a recipient, carries it
            if org is None:
                await service.send_status(
                    self.ctx, doc.id, StatusCode.REJECTED, actor="gateway",
                    reason=f"{code} is not an organisation outside the directory that a "
                    f"gateway carries, according to this gateway's ({self.me}) directory",
                    note=external.status_note(code),
                )  # fmt: skip
                continue
            carried.append(org)
        if not carried:
            return
        # Remembered before any package leaves: an answer the connector brings back at once
        # finds the document it answers.
        doc_id = document_id_of(doc)
        self._remember_sent(doc_id, doc, [org.code for org in carried])
        try:
            await self._write_packages(doc, carried, doc_id)
        except ProtocolError as exc:
            # The document cannot be written as edXML (no number, a field edXML cannot
            # carry): trying again would not help, so the sender is told and the gateway
            # goes on with the next document.
            for org in carried:
                await service.send_status(
                    self.ctx, doc.id, StatusCode.REJECTED, actor="gateway",
                    reason=f"not passed on to {org.code}: {exc}"[:MAX_REASON],
                    note=external.status_note(org.code),
                )  # fmt: skip
            return
        async with self.ctx.store.read() as conn:
            receipt = await envelope_sha256(conn, doc.id)
        for org in carried:
            # A 01 naming the organisation: its package is in the connector's hands. Like
            # the 01 the node sent on arrival, it moves the sender's delivery no further, so
            # the organisation's own 03, 04, ... move it on.
            await service.send_status(
                self.ctx, doc.id, StatusCode.ARRIVED, actor="gateway",
                receipt=receipt, note=external.status_note(org.code, org.name),
            )  # fmt: skip

    async def _write_packages(self, doc: DocumentRecord, carried, doc_id: str) -> None:
        """Write (or POST) one package per organisation, each with DocumentId `doc_id`."""
        body = service.stored_body(doc)
        m = body.metadata
        async with self.ctx.store.read() as conn:
            business = await business_view(conn, doc)
        with tempfile.TemporaryDirectory(prefix="lienthong-gateway-") as folder:
            files = []
            for i, a in enumerate(body.attachments):
                path = Path(folder) / f"{i}.bin"
                await asyncio.to_thread(decrypt_to, self.ctx.blobs, a, path)
                files.append(ExportAttachment(a.name, a.media_type, path))
            for org in carried:
                name = f"{doc.sender_code}_{doc.wire_id or doc.id}_{org.code}{SUFFIX}"
                package = Path(folder) / name
                with create_private(package) as out:
                    await asyncio.to_thread(
                        write_edxml,
                        out,
                        m,
                        body.business,
                        files,
                        sender_id=doc.sender_code,
                        receivers=[Organisation(name=org.name, code=org.code)],
                        doc_id=doc_id,
                        business_type=BUSINESS_TYPE.get(business["business"], 0),
                        trace=[
                            TraceEntry(doc.sender_code, _timestamp(doc.created_at)),
                            TraceEntry(self.me, _timestamp(self.ctx.clock())),
                        ],
                    )
                await self._deliver(package)

    async def _deliver(self, package: Path) -> None:
        """Into the outgoing folder (renamed into place) or POSTed to the connector."""
        if self.spool.post_url:
            assert self.session is not None
            with package.open("rb") as f:
                async with self.session.post(
                    self.spool.post_url,
                    data=f,
                    headers={"Content-Type": "application/xml", "X-Edxml-Name": package.name},
                    timeout=POST_TIMEOUT,
                    allow_redirects=False,
                ) as response:
                    if not 200 <= response.status < 300:
                        raise GatewayError(
                            f"{self.spool.post_url} answered HTTP {response.status} to "
                            f"{package.name}"
                        )
            return
        if self.spool.outgoing is None:
            raise GatewayError(
                "a document is addressed outside the directory, and node.toml [gateway] "
                "names neither an outgoing folder nor a post_url"
            )
        final = self.spool.outgoing / package.name
        tmp = final.with_name(f".{final.name}.partial")
        await asyncio.to_thread(_move_across, package, tmp)
        tmp.replace(final)

    def _remember_sent(self, doc_id: str, doc: DocumentRecord, codes: list[str]) -> None:
        """Which document here a DocumentId names, so that a status answering it finds the
        unit that sent it."""
        path = self.state / "sent" / f"{_digest(doc_id)}.json"
        held = self._sent(doc_id) or {"document": doc.id, "external": []}
        held["external"] = sorted(set(held["external"]) | set(codes))
        held["document"] = doc.id
        _write_atomic(path, json.dumps(held).encode())

    def _sent(self, doc_id: str) -> dict[str, Any] | None:
        path = self.state / "sent" / f"{_digest(doc_id)}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    async def _answered(self, document_id: str, data: dict[str, Any]) -> None:
        """A unit's status about a document this gateway brought in from outside: written as
        an edXML status to the organisation that first sent it."""
        async with self.ctx.store.read() as conn:
            doc = await get_document(conn, document_id)
        if doc is None or doc.direction != "out":
            return
        m = service.stored_body(doc).metadata
        origin = external.brought_from(m)
        original = dict(m.extensions).get(DOCUMENT_ID_EXTENSION)
        if origin is None or not isinstance(original, str):
            return
        directory = self.ctx.directory.current
        unit = directory.current(data["from"]) if directory else None
        status = EdxmlStatus(
            sender=Organisation(name=unit.name if unit else data["from"], code=data["from"]),
            code=StatusCode(int(data["code"])),
            timestamp=_timestamp(int(data["at"])),
            document_id=original,
            description=data.get("note") or None,
        )
        name = f"status_{data['from']}_{data['status']}_{origin}{SUFFIX}"
        with tempfile.TemporaryDirectory(prefix="lienthong-gateway-") as folder:
            path = Path(folder) / name
            path.write_bytes(status_to_edxml(status))
            await self._deliver(path)

    async def _own_answer(self, document_id: str, data: dict[str, Any]) -> None:
        """This unit's own step on a document it took in from an edXML package (no envelope,
        so no node to answer): written as an edXML status to the organisation that sent it;
        a 03's Description is the incoming number."""
        async with self.ctx.store.read() as conn:
            doc = await get_document(conn, document_id)
            imported = doc is not None and not await came_in_envelope(conn, document_id)
        if doc is None or doc.direction != "in" or not imported:
            return
        original = dict(service.stored_body(doc).metadata.extensions).get(DOCUMENT_ID_EXTENSION)
        if not isinstance(original, str):
            return
        code = StatusCode(int(data["code"]))
        number = data.get("number")
        note = data.get("note") or None
        directory = self.ctx.directory.current
        me = directory.current(self.me) if directory else None
        status = EdxmlStatus(
            sender=Organisation(name=me.name if me else self.me, code=self.me),
            code=code,
            timestamp=_timestamp(int(data["at"])),
            document_id=original,
            description=str(number) if code is StatusCode.ACCEPTED and number else note,
        )
        name = f"status_{self.me}_{data['status']}_{doc.sender_code}{SUFFIX}"
        with tempfile.TemporaryDirectory(prefix="lienthong-gateway-") as folder:
            path = Path(folder) / name
            path.write_bytes(status_to_edxml(status))
            await self._deliver(path)

    async def _recall(self, document_id: str, data: dict[str, Any]) -> None:
        """A sender asks to recall (13) a document the gateway passed on: an edXML status 13
        from the sender to each organisation it went to; their 15 or 16 comes back as any
        status does."""
        async with self.ctx.store.read() as conn:
            doc = await get_document(conn, document_id)
        if doc is None or doc.direction != "in":
            return
        m = service.stored_body(doc).metadata
        doc_id = document_id_of(doc)
        held = self._sent(doc_id)
        if held is None:
            return
        directory = self.ctx.directory.current
        unit = directory.current(doc.sender_code) if directory else None
        status = EdxmlStatus(
            sender=Organisation(name=unit.name if unit else m.issuer.name, code=doc.sender_code),
            code=StatusCode.RECALL_REQUESTED,
            timestamp=_timestamp(int(data["at"])),
            document_id=doc_id,
            description=data.get("note") or None,
        )
        with tempfile.TemporaryDirectory(prefix="lienthong-gateway-") as folder:
            for organisation in held["external"]:
                path = Path(folder) / f"status_{doc.sender_code}_{data['status']}_{organisation}"
                path = path.with_name(path.name + SUFFIX)
                path.write_bytes(status_to_edxml(status))
                await self._deliver(path)

    # Incoming: the spool folder

    async def take_in(self) -> int:
        """Take every file waiting in the incoming folder (up to MAX_FILES_PER_SCAN), oldest
        name first; how many were taken or set aside."""
        assert self.spool.incoming is not None
        waiting = sorted(
            p
            for p in self.spool.incoming.iterdir()
            if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".partial")
        )[:MAX_FILES_PER_SCAN]
        for path in waiting:
            await self.take_file(path)
        return len(waiting)

    async def take_file(self, path: Path) -> str:
        """Take one file in; "done" or "failed" (where it was moved). The record that it was
        taken is written in the transaction that sends it on, so a gateway stopped before
        the file is moved finds it taken at its next start and sends nothing twice."""
        digest = await asyncio.to_thread(_file_digest, path)
        before = await self._taken(digest)
        if before is not None:
            self._set_aside(
                path, DONE, f"not taken again: the same bytes were taken before ({before})"
            )
            return DONE

        async def mark(tx, outcome: str) -> None:
            await gateway_store.mark_taken(
                tx, digest, f"{path.name}: {outcome}", at=self.ctx.clock()
            )

        try:
            with path.open("rb") as f:
                head = f.read(MAX_EDXML_STATUS_BYTES + 1)
            if STATUS_MARK in head and len(head) <= MAX_EDXML_STATUS_BYTES:
                what = await self._take_status(head, mark)
            else:
                what = await self._take_package(path, mark)
        except (LienthongError, ValueError) as exc:
            reason = str(exc) or type(exc).__name__
            log.warning("gateway: %s set aside in %s/: %s", path.name, FAILED, reason)
            self._set_aside(path, FAILED, reason)
            return FAILED
        self._set_aside(path, DONE, None)
        log.info("gateway: took %s (%s)", path.name, what)
        return DONE

    async def _taken(self, digest: str) -> str | None:
        """What became of a file with these bytes: from the store, or from the file record
        a gateway kept before migration 0021 (gateway/taken/<digest>)."""
        async with self.ctx.store.read() as conn:
            outcome = await gateway_store.taken(conn, digest)
        legacy = self.state / "taken" / digest
        if outcome is None and legacy.exists():
            outcome = legacy.read_text(encoding="utf-8")
        return outcome

    def _set_aside(self, path: Path, where: str, reason: str | None) -> None:
        """Move a file into done/ or failed/ under a name not used there yet; the reason
        (if any) beside it."""
        assert self.spool.incoming is not None
        folder = self.spool.incoming / where
        target = folder / path.name
        n = 1
        while target.exists():
            n += 1
            target = folder / f"{path.stem}.{n}{path.suffix}"
        if reason is not None:
            _write_atomic(target.with_name(target.name + REASON_SUFFIX), reason.encode("utf-8"))
        path.replace(target)

    async def _take_package(self, path: Path, mark: Mark) -> str:
        """A package from outside: sent on to the units of the directory it names (`mark`
        records the file taken in the sending transaction)."""
        directory = self.ctx.directory.current
        if directory is None:
            raise GatewayError("this node holds no directory yet")
        with tempfile.TemporaryDirectory(prefix="lienthong-gateway-") as folder:
            with path.open("rb") as stream:
                doc: EdxmlDocument = await asyncio.to_thread(from_edxml, stream, Path(folder))
            org = directory.external_organisation(doc.sender_id)
            if org is None or org.gateway != self.me:
                raise GatewayError(
                    f"From/OrganId {doc.sender_id} is not an organisation the directory "
                    f"lists as carried by this gateway ({self.me})"
                )
            if doc.business_type != 0:
                raise GatewayError(
                    f"BussinessDocType {doc.business_type}: the gateway takes new documents "
                    "(0) only; an update, a replacement or a revocation from outside is "
                    "handled by hand"
                )
            recipients = [
                r.code
                for r in doc.receivers
                if r.code
                and r.code != self.me
                and directory.current(r.code)
                and not directory.is_centre(r.code)
            ]
            own = any(r.code == self.me for r in doc.receivers)
            if not recipients and not own:
                named = ", ".join(r.code or "?" for r in doc.receivers) or "none"
                raise GatewayError(f"To names no unit of the directory (it names {named})")
            done = []
            if own:  # addressed to the gateway's unit itself: its own incoming document
                imported = await import_edxml(self.ctx, path, via="gateway")
                done.append(f"taken in here as {imported.id}")
            if not recipients:  # an import is taken once per DocumentId: no window here
                what = f"document {doc.document_id} {done[0]}"
                async with self.ctx.store.write() as tx:
                    await mark(tx, what)
                return what
            ext = dict(doc.metadata.extensions)
            ext[external.GATEWAY_FROM] = doc.sender_id
            ext[DOCUMENT_ID_EXTENSION] = doc.document_id
            ext.pop(external.GATEWAY_TO, None)
            metadata = dataclasses.replace(doc.metadata, extensions=tuple(sorted(ext.items())))
            files = []
            for i, a in enumerate(doc.attachments):
                named = Path(folder) / "files" / str(i) / a.name
                named.parent.mkdir(parents=True)
                a.path.replace(named)
                files.append(named)

            async def sent(tx, envelope_id: str) -> None:
                on = f"sent on to {', '.join(recipients)} as {envelope_id}"
                await mark(tx, f"document {doc.document_id} {'; '.join([*done, on])}")

            try:
                envelope = await service.send_document(
                    self.ctx,
                    metadata,
                    recipients,
                    files=files,
                    actor="gateway",
                    register=False,
                    then=sent,
                )
            except LienthongError as exc:
                raise GatewayError(f"not sent on: {exc}") from None
        done.append(f"sent on to {', '.join(recipients)} as {envelope}")
        return f"document {doc.document_id} {'; '.join(done)}"

    async def _take_status(self, data: bytes, mark: Mark) -> str:
        """A status from outside about a document this gateway passed on: sent back to the
        unit that sent it, with what its code requires."""
        status = status_from_edxml(data)
        organ = status.sender.code or ""
        held = self._sent(status.document_id)
        if held is None:
            raise GatewayError(
                f"ResponseFor/DocumentId {status.document_id} names no document this gateway "
                "passed on"
            )
        if organ not in held["external"]:
            raise GatewayError(
                f"From/OrganId {organ} is not an organisation document {status.document_id} "
                "was passed on to"
            )
        fields = await self._status_fields(held["document"], status)
        code = int(status.code)

        async def then(tx, sent) -> None:
            await mark(tx, f"status {code:02d} of {organ} sent back to {sent.to}")

        try:
            sent = await service.send_status(
                self.ctx, held["document"], status.code, actor="gateway", then=then, **fields
            )
        except LienthongError as exc:
            raise GatewayError(f"status {int(status.code):02d} not sent back: {exc}") from None
        return f"status {int(status.code):02d} of {organ} sent back to {sent.to}"

    async def _status_fields(self, document_id: str, status: EdxmlStatus) -> dict[str, Any]:
        """The lienthong status fields an edXML status fills (docs/GATEWAY.md, "Statuses")."""
        code, text = status.code, status.description
        fields: dict[str, Any] = {
            "note": external.status_note(status.sender.code or "", text)[:MAX_REASON]
        }
        if status.staff is not None and status.staff.name:
            fields["staff"] = Staff(status.staff.name[:MAX_SHORT_TEXT], _position(status.staff))
        if code is StatusCode.RECALL_REQUESTED:
            raise GatewayError("StatusCode 13: an organisation outside recalls nothing here")
        if code is StatusCode.ARRIVED:
            async with self.ctx.store.read() as conn:
                fields["receipt"] = await envelope_sha256(conn, document_id)
        elif code in (StatusCode.REJECTED, StatusCode.RECALL_REFUSED):
            if not text:
                raise GatewayError(f"StatusCode {int(code):02d} needs a Description (the reason)")
            fields["reason"] = text[:MAX_REASON]
        elif code is StatusCode.ACCEPTED:
            number = (text or "").strip()
            if not is_decimal(number, 10) or not 1 <= int(number) <= MAX_INCOMING_NUMBER:
                raise GatewayError(
                    "StatusCode 03 needs its Description to be the incoming number (số đến), "
                    f"digits only; it is {text!r}"
                )
            fields["number"] = int(number)
            fields["year"] = _edxml_year(status.timestamp)
        elif code is StatusCode.ASSIGNED:
            who = text or (status.staff.name if status.staff else "") or status.sender.name
            fields["assignee"] = (who or status.sender.code or "")[:MAX_SHORT_TEXT]
        return fields


def document_id_of(doc: DocumentRecord) -> str:
    """The edXML DocumentId the gateway writes for a document it passes on."""
    m = service.stored_body(doc).metadata
    return document_id(doc.sender_code, m.issued_on, m.number_notation)


def _position(staff: StaffInfo) -> str:
    return (staff.department or "")[:MAX_SHORT_TEXT]


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _move_across(source: Path, target: Path) -> None:
    """Move a file that may sit on another file system: copied, flushed, then removed."""
    with source.open("rb") as src, create_private(target, replace=True) as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    source.unlink()


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
