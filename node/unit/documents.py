"""The clerk's actions on documents, one place for each rule; the CLI, the web page and the
peer API all call these: send, receive, answer with statuses, recall, apply an update or a
replacement.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from lienthong.crypto.errors import LienthongError
from lienthong.node.context import NodeContext
from lienthong.node.times import dmy
from lienthong.node.unit import external, pdf_verify
from lienthong.node.unit.attachments import Progress, encrypt_files
from lienthong.node.unit.early_upload import early_uploads_of
from lienthong.protocol.codes import Confidentiality, StatusCode
from lienthong.protocol.directory import Directory
from lienthong.protocol.document import (
    Business,
    DocumentBody,
    DocumentMetadata,
    StaffInfo,
    body_from_wire,
    body_to_wire,
    check_to_send,
    register_key,
)
from lienthong.protocol.envelope import (
    EnvelopeHeader,
    VerifiedEnvelope,
    check_reason,
    check_targets,
    open_envelope,
    seal_envelope,
    verify_envelope,
)
from lienthong.protocol.errors import (
    ClockSkew,
    InvalidField,
    MissingBlobs,
    NotARecipient,
    SignerMismatch,
    UnknownSigner,
)
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.states import (
    APPLIED,
    RECALL,
    STATUS_OF_STATE,
    DocState,
    RecallState,
    TransitionError,
    answer_of,
)
from lienthong.protocol.status import Staff, Status, VerifiedStatus, sign_status, verify_status
from lienthong.protocol.wire import pack, unpack
from lienthong.storage import audit, events, links, outbox, trust
from lienthong.storage.documents import (
    DocumentRecord,
    HeldEnvelope,
    came_in_envelope,
    change_recall,
    change_state,
    envelope_sha256,
    get_document,
    held_envelopes,
    incoming_document,
    record_incoming,
    record_outgoing,
)
from lienthong.storage.registers import (
    IncomingEntry,
    OutgoingEntry,
    incoming_number_of,
    mark_recalled,
    note_link,
    reconcile_incoming,
    register_incoming,
    register_outgoing,
)
from lienthong.storage.statuses import StatusEvent, record_status, statuses_of

MAX_BODY_BYTES = 1024 * 1024  # the stored plaintext body of one document


class DocumentError(LienthongError):
    """A document action was refused; the message says why and what to do."""


class EnvelopeNotHereYet(DocumentError):
    """A recall request overtook its envelope (relay vs direct): it can be taken later."""


class ConfidentialRefused(DocumentError):
    """A document marked Mật or above, on a node not configured for state secrets."""


class EnvelopeIdReused(DocumentError):
    """An envelope whose sender already delivered other bytes under the same id here: an
    envelope id is unique per sender (docs/PROTOCOL.md 3.1), so these bytes are refused."""


# Awaited with (tx, what the action returns) inside the action's own transaction, before it
# commits: the integration API keeps its Idempotency-Key answer there, so a crash leaves
# both the change and its answer, or neither (node/unit/api/writes.py).
Then = Callable[[Any, Any], Awaitable[None]] | None


def _today(ctx: NodeContext) -> str:
    return _day(ctx.clock())


def _day(ms: int) -> str:
    """The local day (YYYY-MM-DD) of a Unix time in milliseconds."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).astimezone().date().isoformat()


def _signer_serial(ctx: NodeContext) -> int:
    directory = ctx.directory.current
    cert = directory.current(ctx.config.code) if directory else None
    if cert is None or cert.sign_key != ctx.keys.sign_public:
        raise DocumentError(
            f"unit {ctx.config.code} has no certificate for its current key in the directory: "
            "enrol first ('lienthong enrol') or wait for the next directory"
        )
    return cert.serial


async def send_document(
    ctx: NodeContext,
    metadata: DocumentMetadata,
    recipients: Sequence[str],
    *,
    files: Sequence[Path] = (),
    actor: str,
    business: str = "new",
    reply_to: str | None = None,
    targets: Sequence[str] = (),
    reason: str | None = None,
    paper: bool = False,
    staff: StaffInfo | None = None,
    progress: Progress | None = None,
    register: bool = True,
    then: Then = None,
) -> str:
    """Seal a document to its recipients and queue it: one local transaction, no network.

    `register` False: no line in the outgoing register (a gateway passing on a document
    from outside the directory, which is not its own: node/unit/gateway.py).

    Returns the envelope id. Refuses Mật and above unless security.allow_confidential
    (state secrets travel only on networks approved for them: Luật Bảo vệ bí mật nhà nước
    2018).
    """
    _check_business_to_send(business, targets, reason)
    try:
        check_to_send(metadata)
    except InvalidField as exc:
        raise DocumentError(str(exc)) from None
    if metadata.confidentiality >= Confidentiality.SECRET and not ctx.config.get(
        "security", "allow_confidential"
    ):
        raise ConfidentialRefused(
            f"this document is marked {metadata.confidentiality.name} (Mật or above): state "
            "secrets may only travel over networks approved for them, and this node's "
            "configuration does not allow it (security.allow_confidential = false)"
        )
    recipients = list(dict.fromkeys(recipients))
    directory = ctx.directory.current
    if directory is None:
        raise DocumentError("this node has no directory yet: enrol, or start it once online")
    # Organisations outside the directory go to their gateway, named in `gateway.to`.
    routed = external.route(directory, recipients)
    recipients, metadata = routed.units, external.addressed(metadata, routed)
    keys = {}
    for code in recipients:
        cert = directory.current(code)
        if cert is None:
            raise DocumentError(f"recipient {code} is not in the directory (unknown or revoked)")
        if directory.is_centre(code):
            raise DocumentError(
                f"{code} is the centre ({cert.name}): it relays documents but receives none"
            )
        keys[code] = cert.enc_key
    serial = _signer_serial(ctx)
    async with ctx.store.read() as conn:  # the pages and commands show a document's id here
        replied = None if reply_to is None else await _reply_target(conn, reply_to)
        own_targets = [await _own_target(ctx, conn, business, t) for t in targets]
        # An update that keeps its target's number is the same document corrected: it has
        # no register line of its own (the target's line notes it); any other gets one.
        same_line = business == "update" and any(
            d is not None
            and register_key(d.number, d.number_year, d.notation) == metadata.register_key
            for d in [await get_document(conn, t.id) for t in own_targets if t.id]
        )
    reply_to = None if replied is None else replied.wire_id
    wire_targets = tuple(t.wire_id for t in own_targets)
    version = envelope_version(directory, recipients)
    external.check_version(routed, version)
    if version == 1 and len(wire_targets) > 1:
        raise DocumentError(
            f"a replacement of {len(wire_targets)} documents needs protocol version 2, and "
            f"{', '.join(c for c in recipients if 2 not in directory.reads(c))} read(s) "
            "version 1 only: replace one document per envelope for them"
        )
    # Attachments go to the first destinations while they are encrypted (early uploads),
    # answered before the letter is queued so the engine finds them there.
    early = early_uploads_of(ctx) if files else None
    tee = early.letter(recipients) if early is not None else None
    attachments = await asyncio.to_thread(
        encrypt_files, ctx.blobs, files, progress=progress, tee=tee
    )
    try:
        if tee is not None:
            await tee.answers([a.blob for a in attachments])
        body = DocumentBody(
            metadata=metadata,
            attachments=attachments,
            business=Business(reason=reason, paper=paper, staff=staff),
        )
        now = ctx.clock()
        raw = seal_envelope(
            keys=ctx.keys,
            sender=ctx.config.code,
            serial=serial,
            recipients=keys,
            body=body,
            created=now,
            business=business,
            reply_to=reply_to,
            targets=wire_targets,
            version=version,
        )
        envelope = verify_envelope(raw, lambda code, ser: ctx.keys.sign_public)
        record = _record(envelope, body, "out")
        async with ctx.store.write() as tx:
            await record_outgoing(tx, record, raw, recipients, actor=actor, at=now)
            if pdf_verify.has_pdf(body):  # the sender's own copy is checked too
                await trust.queue_document(tx, envelope.header.id, at=now)
            if register and not same_line:
                await register_outgoing(
                    tx,
                    OutgoingEntry(
                        issued_on=metadata.issued_on,
                        notation=metadata.notation,
                        doc_type=metadata.doc_type,
                        subject=metadata.subject,
                        signer=metadata.signer.name if metadata.signer else "",
                        # Nơi nhận as the register reads it: the names of the directory.
                        recipients="; ".join(external.names(directory, routed)),
                        copies=metadata.copies,
                        sent_on=_today(ctx),
                        document_id=envelope.header.id,
                        number=metadata.number,
                        number_year=metadata.year,
                        register=ctx.config.register_rules.outgoing(
                            metadata.doc_type, metadata.year, metadata.confidentiality
                        ),
                    ),
                    actor=actor,
                    at=now,
                )
            await _link_sent(tx, record, business, own_targets, replied, actor=actor, at=now)
            if then is not None:
                await then(tx, envelope.header.id)
    except BaseException:
        # Each blob is ciphertext under a fresh key, so nothing else refers to it: a
        # document that is not stored (a register number taken, ...) leaves none behind.
        for attachment in attachments:
            ctx.blobs.delete(attachment.blob)
        raise
    _wake(ctx)
    return envelope.header.id


_A = {"update": "an update", "replace": "a replacement"}  # the business, in a message


def _check_business_to_send(business: str, targets: Sequence[str], reason: str | None) -> None:
    """What an update or replacement must say, whatever the envelope's version (version 1
    cannot carry the reason, but the sender's own register and pages keep it): the
    protocol's rules, checked before anything is stored."""
    try:
        check_targets(business, targets, "document")
        check_reason(business, reason, "document")
    except InvalidField as exc:
        raise DocumentError(str(exc)) from None


async def _own_target(ctx: NodeContext, conn, business: str, document_id: str) -> links.Target:
    """A document an update or replacement names: one this unit sent (a unit updates or
    replaces only its own documents), by its id here."""
    doc = await get_document(conn, document_id)
    if doc is None:
        raise DocumentError(f"no document {document_id} to {business} here")
    if doc.direction != "out" or doc.sender_code != ctx.config.code:
        raise DocumentError(
            f"document {document_id} was sent by {doc.sender_code}, not by this unit: a unit "
            f"may {business} only the documents it sent itself"
        )
    return links.Target(wire_id=_wire_id(doc), sender=doc.sender_code, id=doc.id)


async def _reply_target(conn, document_id: str) -> links.Target:
    """The document a reply answers, by its id here; an id no document here has is taken
    as a wire id (the reply is linked to a target this node does not hold)."""
    doc = await get_document(conn, document_id)
    if doc is None:
        return links.Target(wire_id=document_id, sender=None, id=None)
    return links.Target(wire_id=_wire_id(doc), sender=doc.sender_code, id=doc.id)


async def _link_sent(
    tx,
    record: DocumentRecord,
    business: str,
    targets: Sequence[links.Target],
    replied: links.Target | None,
    *,
    actor: str,
    at: int,
) -> None:
    """Link a document being sent to what it updates, replaces or answers, and note an
    update or replacement on both lines of the outgoing register."""
    if replied is not None:
        await links.add_links(tx, record.id, links.REPLIES_TO, [replied], at=at)
    kind = links.KIND_OF_BUSINESS.get(business)
    if kind is None:
        return
    await links.add_links(tx, record.id, kind, targets, at=at)
    for target in targets:
        old = await get_document(tx, target.id) if target.id else None
        await _note_links(tx, record, kind, old, target, actor=actor, at=at)


async def _note_links(
    tx,
    new: DocumentRecord,
    kind: str,
    old: DocumentRecord | None,
    target: links.Target,
    *,
    actor: str,
    at: int,
) -> None:
    """The register notes of an applied update or replacement, on both documents' lines
    (storage.registers.note_link writes nothing for a document with no register line)."""
    named = (
        f"văn bản số {_printed(old)}"
        if old is not None
        else f"văn bản mã {target.wire_id} (chưa nhận được)"
    )
    if kind == links.UPDATES:
        forward, back = f"Cập nhật {named}", f"Được cập nhật bởi văn bản số {_printed(new)}"
    else:
        forward, back = f"Thay thế {named}", f"Bị thay thế bởi văn bản số {_printed(new)}"
    await note_link(tx, new.id, forward, actor=actor, at=at)
    if old is not None:
        await note_link(tx, old.id, back, actor=actor, at=at)


def _printed(doc: DocumentRecord) -> str:
    """A document as a register names it: "2340/VP-TTTH ngày 23/05/2014"."""
    m = stored_body(doc).metadata
    return f"{m.number_notation} ngày {dmy(m.issued_on)}"


def envelope_version(directory: Directory, recipients: Sequence[str]) -> int:
    """The protocol version of an envelope to `recipients`: 2 when every one of them reads
    it (the directory says so), else 1 (docs/PROTOCOL.md 7.4): one envelope, one version."""
    return 2 if all(2 in directory.reads(code) for code in recipients) else 1


def _status_about(
    ctx: NodeContext, doc: DocumentRecord, code: StatusCode, at: int, *, to: str = "", **fields
) -> Status:
    """A status this unit signs about `doc`: to its sender, or to `to` (a recipient of a
    document sent from here)."""
    return Status(
        id=new_ulid(at),
        envelope=_wire_id(doc),
        sender=ctx.config.code,
        serial=_signer_serial(ctx),
        to=to or doc.sender_code,
        code=code,
        at=at,
        **fields,
    )


def _wire_id(doc: DocumentRecord) -> str:
    """The id the document's envelope carries: what a status about it names."""
    return doc.wire_id or doc.id


def _record(envelope: VerifiedEnvelope, body: DocumentBody, direction: str) -> DocumentRecord:
    """The row of a document. An incoming body is kept in its envelope's version (what the
    sender could say); an outgoing one in version 2, whatever version its readers got."""
    m = body.metadata
    version = envelope.header.version if direction == "in" else 2
    return DocumentRecord(
        id=envelope.header.id,
        direction=direction,
        sender_code=envelope.header.sender,
        doc_type=m.doc_type,
        subject=m.subject,
        issuer_code=m.issuer.code or envelope.header.sender,
        issuer_name=m.issuer.name,
        issued_on=m.issued_on,
        metadata=pack(body_to_wire(body, version)),
        number=m.number,
        number_year=m.year,
        notation=m.notation,
        urgency=int(m.urgency),
        confidentiality=int(m.confidentiality),
        due_on=m.due_on,
    )


def stored_body(record: DocumentRecord) -> DocumentBody:
    """The document body kept with a stored document (metadata and attachment keys)."""
    return body_from_wire(unpack(record.metadata, what="stored document", max_bytes=MAX_BODY_BYTES))


async def receive_envelope(ctx: NodeContext, raw: bytes, *, via: str) -> bytes:
    """Verify, store once and acknowledge one envelope; returns the signed 01 (arrived).

    Idempotent by (sender, envelope id): a repeat of the same bytes returns the same 01,
    other bytes are refused (EnvelopeIdReused). Raises the protocol's errors (forged, not
    for us, malformed) and MissingBlobs before storing anything.
    """
    return _only(await receive_envelopes(ctx, [raw], via=via))


def _only(results: list) -> Any:
    """The one result of a batch of one: the value, or its error raised."""
    (result,) = results
    if isinstance(result, LienthongError):
        raise result
    return result


async def receive_envelopes(
    ctx: NodeContext, raws: Sequence[bytes], *, via: str, peer: str | None = None
) -> list[bytes | LienthongError]:
    """Receive a batch: per envelope its signed 01, or the error that refused it.

    All checks and cryptography come first; every new envelope of the batch is then
    stored in one transaction (group commit). `peer`, for direct delivery, is the
    verified TLS identity of the caller, which must be each envelope's sender.
    """
    me = ctx.config.code
    now = ctx.clock()
    skew_ms = ctx.config.get("security", "clock_skew_seconds") * 1000
    results: list[bytes | LienthongError | None] = [None] * len(raws)
    checked: list[tuple[int, VerifiedEnvelope]] = []
    for i, raw in enumerate(raws):
        try:
            checked.append((i, _check_envelope(ctx, raw, me, now, skew_ms, peer)))
        except LienthongError as exc:
            results[i] = exc
    async with ctx.store.read() as conn:
        held = await held_envelopes(conn, [(e.header.sender, e.header.id) for _, e in checked])
    try:
        serial = _signer_serial(ctx) if checked else 0
    except DocumentError as exc:  # this node cannot sign receipts: refuse each, clearly
        return [r if r is not None else exc for r in results]
    to_store = []
    # Envelopes stored before, now collected from the relay: the sender deposited them there,
    # so it may never have had the 01 that answered a direct delivery (the answer was lost
    # on a cut connection). That 01 goes back through the queue too, or the sender waits
    # for it forever.
    again: list[tuple[str, str]] = []  # (document id here, sender)
    for i, envelope in checked:
        header = envelope.header
        known = held.get((header.sender, header.id))
        if known is not None:
            results[i] = _repeat(known, envelope)
            if via == "relay" and isinstance(results[i], bytes):
                again.append((known.document_id, header.sender))
            continue
        try:
            body = open_envelope(envelope, me, ctx.keys)
            missing = [b.id for b in header.blobs if not _blob_ok(ctx, b.id, b.size)]
            if missing:
                raise MissingBlobs(missing)
        except LienthongError as exc:
            results[i] = exc
            continue
        status = Status(
            id=new_ulid(now),
            envelope=header.id,  # the wire id, whatever the document's id here
            sender=me,
            serial=serial,
            to=header.sender,
            code=StatusCode.ARRIVED,
            at=now,
            receipt=envelope.sha256,
        )
        to_store.append(
            (i, envelope, _record(envelope, body, "in"), status, sign_status(ctx.keys, status))
        )
    if to_store or again:
        async with ctx.store.write() as tx:
            for document_id, sender in again:
                await outbox.queue_arrival(tx, document_id, sender, at=now)
            for i, envelope, record, status, raw_status in to_store:
                document_id = await record_incoming(tx, record, envelope.raw, at=now)
                if document_id is not None:
                    await _link_arrived(tx, me, envelope.header, document_id, at=now)
                    if pdf_verify.has_pdf(stored_body(record)):  # docs/SIGNATURES.md
                        await trust.queue_document(tx, document_id, at=now)
                    arrived = _arrived(record, envelope.header.id, via)
                    await events.append_event(
                        tx, events.DOCUMENT_ARRIVED, document_id, arrived, at=now
                    )
                    # Direct delivery returns the 01 in the answer (the sender retries
                    # until it has it); from the relay it goes back through the queue.
                    await _record_out_status(
                        tx, status, raw_status, document_id, queue_it=via == "relay"
                    )
                    results[i] = raw_status
                    continue
                # The same (sender, id) twice in one batch, or stored meanwhile.
                header = envelope.header
                key = (header.sender, header.id)
                known = (await held_envelopes(tx, [key]))[key]
                results[i] = _repeat(known, envelope)
                if via == "relay" and isinstance(results[i], bytes):
                    await outbox.queue_arrival(tx, known.document_id, header.sender, at=now)
        pdf_verify.wake(ctx)
    return results  # type: ignore[return-value]


async def _link_arrived(tx, me: str, header: EnvelopeHeader, document_id: str, *, at: int) -> None:
    """Link a document that has just arrived in an envelope to what it updates, replaces
    or answers, and what named it before it was here to it (link_changes)."""
    if header.reply_to is not None:
        await links.add_links(
            tx, document_id, links.REPLIES_TO, [await _replied(tx, me, header)], at=at
        )
    kind = links.KIND_OF_BUSINESS.get(header.business)
    await link_changes(tx, me, header.sender, header.id, document_id, kind, header.targets, at=at)


async def link_changes(
    tx,
    me: str,
    sender: str,
    wire_id: str,
    document_id: str,
    kind: str | None,
    targets: Sequence[str],
    *,
    at: int,
) -> None:
    """Link a document that has just come in (an envelope, or an edXML package) to what
    it updates or replaces (`kind`, the wire ids `targets`), and the documents that named
    it before it was here (an update that overtook its original) to it. A target is looked
    up among its sender's documents only (an envelope id is unique per sender:
    docs/STORE.md); one this node never received is kept as an unknown target. Nothing is
    applied yet: the clerk registers an update or replacement first."""
    if kind is not None:
        found = []
        for target in targets:
            doc = await incoming_document(tx, sender, target)
            known = doc is not None and doc.id != document_id  # never itself
            found.append(links.Target(target, sender, doc.id if known else None))
        await links.add_links(tx, document_id, kind, found, at=at)
    for link in await links.resolve_arrival(tx, sender, wire_id, document_id):
        newer = await get_document(tx, link.document_id)
        if link.kind == links.REPLACES and newer is not None and newer.state in APPLIED:
            # Its replacement was registered before it came: it is superseded on arrival.
            await _supersede(tx, document_id, newer, actor=me, at=at)


async def _replied(tx, me: str, header: EnvelopeHeader) -> links.Target:
    """The document a reply answers: one this unit sent, or one it received from another
    of the reply's recipients (docs/PROTOCOL.md 3.1: `reply_to` names an envelope that one
    of the reply's recipients sent)."""
    wire_id = header.reply_to
    assert wire_id is not None
    own = await get_document(tx, wire_id)  # an outgoing document's id here is its wire id
    if own is not None and own.direction == "out" and own.sender_code == me:
        return links.Target(wire_id, me, own.id)
    for code in header.recipients:
        doc = None if code == me else await incoming_document(tx, code, wire_id)
        if doc is not None:
            return links.Target(wire_id, code, doc.id)
    return links.Target(wire_id, None, None)


async def _supersede(tx, document_id: str, replacement: DocumentRecord, *, actor: str, at: int):
    """Mark a document a registered replacement names as superseded, through the one place
    that changes a state; a document already out of the unit's work (rejected, recalled,
    superseded) stays as it is, which the audit log says."""
    try:
        await change_state(
            tx,
            document_id,
            DocState.SUPERSEDED,
            actor=actor,
            at=at,
            details={"replacement": replacement.id},
        )
    except TransitionError as exc:
        await audit.append(
            tx,
            at=at,
            actor=actor,
            action="document.supersede_skipped",
            subject=document_id,
            details={"replacement": replacement.id, "reason": str(exc)},
        )


def _repeat(known: HeldEnvelope, envelope: VerifiedEnvelope) -> bytes | LienthongError:
    """The answer to an envelope whose (sender, id) is stored here already: the same 01 for
    the same bytes; other bytes under that id are refused, and nothing is stored."""
    header = envelope.header
    if known.sha256 != envelope.sha256:
        return EnvelopeIdReused(
            f"envelope {header.id} from {header.sender}: {header.sender} already delivered "
            "other bytes under this id here; an envelope id is unique per sender, refused"
        )
    if known.arrival is None:
        return DocumentError(
            f"envelope {header.id} from {header.sender} is stored here without its 01 "
            "(arrived): the store is damaged; check it with 'lienthong doctor'"
        )
    return known.arrival


def _check_envelope(
    ctx: NodeContext, raw: bytes, me: str, now: int, skew_ms: int, peer: str | None
) -> VerifiedEnvelope:
    envelope = verify_envelope(raw, ctx.directory.key_lookup)
    header = envelope.header
    if peer is not None and header.sender != peer:
        raise SignerMismatch(
            f"envelope from {header.sender} delivered by {peer}: a unit delivers its own"
        )
    if me not in header.recipients:
        raise NotARecipient(f"envelope {header.id} from {header.sender} is not addressed to {me}")
    if header.created > now + skew_ms:
        raise ClockSkew(
            f"envelope {header.id} is dated {header.created - now} ms in the future "
            f"(tolerance {skew_ms} ms): check the clocks of {header.sender} and {me}"
        )
    return envelope


def _blob_ok(ctx: NodeContext, blob_id: str, size: int) -> bool:
    if not ctx.blobs.exists(blob_id):
        return False
    return ctx.blobs.path(blob_id).stat().st_size == size


async def _record_out_status(
    tx, status: Status, raw: bytes, document_id: str, *, queue_it: bool
) -> None:
    """Record a status this node signed about the document `document_id` (its id here; the
    status names it by its wire id), and queue it to its destination if asked."""
    await record_status(
        tx,
        StatusEvent(
            id=status.id,
            envelope_id=document_id,
            from_code=status.sender,
            to_code=status.to,
            code=int(status.code),
            at=status.at,
            raw=raw,
            direction="out",
            incoming_number=status.number,
            note=status.note or status.reason or status.assignee,
        ),
    )
    if queue_it:
        await outbox.queue_status(tx, status.id, status.to, at=status.at)


async def receive_status(ctx: NodeContext, raw: bytes, *, via: str) -> bool:
    """Verify and apply one status from a peer; False if it was already applied."""
    return _only(await receive_statuses(ctx, [raw], via=via))


async def receive_statuses(
    ctx: NodeContext, raws: Sequence[bytes], *, via: str, peer: str | None = None
) -> list[bool | LienthongError]:
    """Verify and apply a batch of statuses in one transaction, each on its own savepoint.

    A recipient's status (01-06, 15, 16) must answer an envelope this node sent
    to that recipient; a recall request (13) must come from the sender of a
    document this node received; a 01 must carry the hash of our envelope's bytes.
    Per status: True (applied), False (already applied) or the error that refused it.
    """
    me = ctx.config.code
    results: list[bool | LienthongError | None] = [None] * len(raws)
    verified: list[tuple[int, VerifiedStatus]] = []
    for i, raw in enumerate(raws):
        try:
            v = verify_status(raw, ctx.directory.key_lookup)
            if peer is not None and v.status.sender != peer:
                raise SignerMismatch(
                    f"status by {v.status.sender} delivered by {peer}: a unit delivers its own"
                )
            if v.status.to != me:
                raise InvalidField(
                    "status", "to", f"status {v.status.id} is addressed to {v.status.to}, not {me}"
                )
            verified.append((i, v))
        except LienthongError as exc:
            results[i] = exc
    if verified:
        now = ctx.clock()
        async with ctx.store.write() as tx:
            for i, v in verified:
                try:
                    async with tx.savepoint():
                        results[i] = await _apply_status(tx, v, now)
                except LienthongError as exc:
                    results[i] = exc
    return results  # type: ignore[return-value]


async def _apply_status(tx, verified: VerifiedStatus, now: int) -> bool:
    s = verified.status
    if s.code is StatusCode.RECALL_REQUESTED:
        # Its sender's envelope with that id: an envelope id is unique per sender only.
        doc = await incoming_document(tx, s.sender, s.envelope)
        if doc is None:
            if await get_document(tx, s.envelope) is not None:
                raise UnknownSigner(
                    f"recall request {s.id} from {s.sender} for a document it did not send here"
                )
            raise EnvelopeNotHereYet(
                f"recall request {s.id} from {s.sender} for envelope {s.envelope}, which has "
                "not arrived here (yet)"
            )
        business = await links.business_of(tx, doc.id)
        if business != "new":
            raise InvalidField(
                "status",
                "envelope",
                f"recall request {s.id} from {s.sender} names envelope {s.envelope}, "
                f"{_A[business]}: an update or a replacement is not recalled on its own (its "
                "15 or 16 answers it); recall the document it changes, or send another update",
            )
    else:
        # A recipient's status about an envelope this node sent: an outgoing document's
        # id here is its wire id.
        doc = await get_document(tx, s.envelope)
        if doc is None or doc.direction != "out":
            raise UnknownSigner(
                f"status {s.id} from {s.sender} for envelope {s.envelope}, which this "
                "node never sent"
            )
        await outbox.delivery_state(tx, s.envelope, s.sender)  # NotFound if not a recipient
        if s.code is StatusCode.ARRIVED and await envelope_sha256(tx, s.envelope) != s.receipt:
            raise InvalidField(
                "status", "receipt", f"{s.sender}'s receipt does not match the envelope sent"
            )
    event = StatusEvent(
        id=s.id,
        envelope_id=doc.id,
        from_code=s.sender,
        to_code=s.to,
        code=int(s.code),
        at=s.at,
        raw=verified.raw,
        direction="in",
        incoming_number=s.number,
        note=s.note or s.reason or s.assignee,
    )
    if not await record_status(tx, event):
        return False
    await events.append_event(tx, _status_kind(s), doc.id, _status_data(event), at=now)
    if s.code is StatusCode.RECALL_REQUESTED:
        await change_recall(
            tx,
            doc.id,
            RecallState.REQUESTED,
            actor=s.sender,
            at=now,
            details={"status": s.id},
        )
        return True
    answers = answer_of(s.code, await links.business_of(tx, doc.id))
    if answers not in (None, RECALL):
        # The recipient's answer to an update or replacement: timeline only. The 03 or 02
        # sent with it (docs/STATES.md) moves the delivery.
        return True
    await outbox.apply_status(tx, s.envelope, s.sender, s.code, at=now)
    if s.code is StatusCode.RECALL_AGREED:
        await mark_recalled(
            tx,
            doc.id,
            on=_day(s.at),
            reason=await _recall_reason(tx, doc.id, to=s.sender),
            actor=s.sender,
            at=now,
        )
    return True


async def _recall_reason(tx, document_id: str, *, to: str | None = None) -> str | None:
    """The reason given with the newest recall request (13) about a document: the one this
    node sent `to` a recipient, or (`to` None) the one it received."""
    asked = [
        e
        for e in await statuses_of(tx, document_id)
        if e.code == StatusCode.RECALL_REQUESTED and (to is None or e.to_code == to)
    ]
    return asked[-1].note if asked else None


# The clerk's actions on an incoming document, and the status each one sends.
ACTIONS: dict[str, DocState] = {
    "accepted": DocState.ACCEPTED,
    "rejected": DocState.REJECTED,
    "assigned": DocState.ASSIGNED,
    "in-progress": DocState.IN_PROGRESS,
    "completed": DocState.COMPLETED,
}


async def process_document(
    ctx: NodeContext,
    document_id: str,
    new_state: DocState,
    *,
    actor: str,
    note: str | None = None,
    reason: str | None = None,
    assignee: str | None = None,
    staff: Staff | None = None,
    then: Then = None,
) -> int | None:
    """Move an incoming document on (accept, reject, assign, ...) and tell its sender.

    Accepting registers it in the incoming register (or links the paper entry made
    during an outage) and returns the incoming number. One transaction: state change,
    register, audit entry and the status queued to the sender.
    """
    if new_state is DocState.REJECTED and not reason:
        raise DocumentError("a rejection needs a reason (--note)")
    if new_state is DocState.ASSIGNED and not assignee:
        raise DocumentError("an assignment names the department or person (--note)")
    now = ctx.clock()
    number = year = None
    async with ctx.store.write() as tx:
        doc = await get_document(tx, document_id)
        if doc is None or doc.direction != "in":
            raise DocumentError(f"no incoming document {document_id}")
        await change_state(
            tx,
            document_id,
            new_state,
            actor=actor,
            at=now,
            details={"note": note, "assignee": assignee, "reason": reason},
        )
        if new_state is DocState.ACCEPTED:
            number, year = await _register(ctx, tx, doc, actor, now)
        status = _status_about(
            ctx,
            doc,
            STATUS_OF_STATE[new_state],
            now,
            number=number,
            year=year,
            reason=reason,
            assignee=assignee,
            staff=staff,
            note=note,
        )
        raw = sign_status(ctx.keys, status)
        # A document taken in from an edXML package has no node to answer: its status is
        # kept and published as an event (docs/INTEGRATION.md, "Importing").
        queue_it = await came_in_envelope(tx, document_id)
        await _record_out_status(tx, status, raw, document_id, queue_it=queue_it)
        await events.append_event(tx, events.STATUS_CHANGED, document_id, _own(status), at=now)
        if new_state in (DocState.ACCEPTED, DocState.REJECTED):
            agree = new_state is DocState.ACCEPTED
            await _answer_business(ctx, tx, doc, agree=agree, actor=actor, at=now, reason=reason)
        if then is not None:
            await then(tx, number)
    _wake(ctx)
    return number


async def send_status(
    ctx: NodeContext,
    document_id: str,
    code: StatusCode,
    *,
    actor: str,
    then: Then = None,
    **fields: Any,
) -> Status:
    """Sign and queue a status about an incoming document without moving its state: what a
    gateway passes on from an organisation outside the directory (node/unit/gateway.py).
    A status lacking what its code requires is refused (InvalidField), nothing stored.
    `then(tx, status)` runs in the same transaction."""
    now = ctx.clock()
    async with ctx.store.write() as tx:
        doc = await get_document(tx, document_id)
        if doc is None or doc.direction != "in":
            raise DocumentError(f"no incoming document {document_id}")
        status = _status_about(ctx, doc, code, now, **fields)
        raw = sign_status(ctx.keys, status)
        await _record_out_status(tx, status, raw, document_id, queue_it=True)
        await events.append_event(tx, events.STATUS_CHANGED, document_id, _own(status), at=now)
        await audit.append(
            tx, at=now, actor=actor, action="status.sent", subject=document_id,
            details={"code": f"{int(code):02d}", "to": doc.sender_code, "note": status.note},
        )  # fmt: skip
        if then is not None:
            await then(tx, status)
    _wake(ctx)
    return status


async def _answer_business(
    ctx: NodeContext,
    tx,
    doc: DocumentRecord,
    *,
    agree: bool,
    actor: str,
    at: int,
    reason: str | None,
) -> None:
    """Registering an update or a replacement applies it and agrees (15); returning it
    (02) refuses it (16, with the same reason). Both statuses name the update's own
    envelope; a new document has nothing to answer (docs/STATES.md)."""
    business = await links.business_of(tx, doc.id)
    if business == "new":
        return
    if agree:
        for link in await links.links_of(tx, doc.id):
            if link.document_id != doc.id or link.kind not in (links.UPDATES, links.REPLACES):
                continue
            old = await get_document(tx, link.target_id) if link.target_id else None
            if old is not None and link.kind == links.REPLACES:
                await _supersede(tx, old.id, doc, actor=actor, at=at)
            target = links.Target(link.target_wire_id, link.target_sender, link.target_id)
            await _note_links(tx, doc, link.kind, old, target, actor=actor, at=at)
    await _answer(ctx, tx, doc, agree, None if agree else reason, at)


async def _answer(
    ctx: NodeContext, tx, doc: DocumentRecord, agree: bool, reason: str | None, at: int
) -> Status:
    """Sign and queue this unit's 15 (agree) or 16 (refuse) about `doc` to its sender."""
    code = StatusCode.RECALL_AGREED if agree else StatusCode.RECALL_REFUSED
    status = _status_about(ctx, doc, code, at, reason=reason)
    # An imported document has no node to answer (as in process_document).
    queue_it = await came_in_envelope(tx, doc.id)
    await _record_out_status(tx, status, sign_status(ctx.keys, status), doc.id, queue_it=queue_it)
    return status


async def _register(ctx: NodeContext, tx, doc: DocumentRecord, actor: str, now: int):
    """Number an accepted document in its incoming register, or link it to the paper entry
    made for it (storage/registers.py, reconcile_incoming); returns (number, year).

    "Ngày đến" is the day the document arrived here (Nghị định 30/2020, Điều 22), not the day
    it is registered: a document that arrived at 23:59 on 31/12 is in that year's register,
    whenever the clerk registers it."""
    body = stored_body(doc)
    m = body.metadata
    linked = await reconcile_incoming(
        tx,
        doc.id,
        issuer_code=doc.issuer_code,
        number_notation=m.number_notation,
        doc_date=m.issued_on,
        actor=actor,
        at=now,
    )
    if linked is not None:
        year, number = await incoming_number_of(tx, doc.id)
        return number, year
    arrived_on = dt.datetime.fromtimestamp(doc.created_at / 1000).date().isoformat()
    number = await register_incoming(
        tx,
        IncomingEntry(
            arrived_on=arrived_on,
            issuer_name=m.issuer.name,
            issuer_code=doc.issuer_code,
            number_notation=m.number_notation,
            doc_date=m.issued_on,
            doc_type=m.doc_type,
            subject=m.subject,
            receipt_signature=actor,
            document_id=doc.id,
            register=ctx.config.register_rules.incoming(m.confidentiality),
        ),
        actor=actor,
        at=now,
    )
    return number, int(arrived_on[:4])


async def recall(
    ctx: NodeContext, document_id: str, *, actor: str, reason: str | None = None, then: Then = None
) -> list[str]:
    """Ask every recipient of an outgoing document to recall it (13); returns the recipients."""
    now = ctx.clock()
    async with ctx.store.write() as tx:
        doc = await get_document(tx, document_id)
        if doc is None or doc.direction != "out":
            raise DocumentError(f"no outgoing document {document_id}")
        business = await links.business_of(tx, document_id)
        if business != "new":
            raise DocumentError(
                f"document {document_id} is {_A[business]}: an update or a replacement is "
                "not recalled on its own (its recipients answer it with 15 or 16); recall "
                "the document it changes, or send another update of it"
            )
        recipients = [row.recipient for row in await outbox.rows_for(tx, document_id)]
        for code in recipients:
            status = _status_about(
                ctx, doc, StatusCode.RECALL_REQUESTED, now, to=code, reason=reason
            )
            raw = sign_status(ctx.keys, status)
            await _record_out_status(tx, status, raw, document_id, queue_it=True)
        await audit.append(
            tx,
            at=now,
            actor=actor,
            action="document.recall_request",
            subject=document_id,
            details={"recipients": recipients},
        )
        if then is not None:
            await then(tx, recipients)
    _wake(ctx)
    return recipients


async def answer_recall(
    ctx: NodeContext,
    document_id: str,
    *,
    agree: bool,
    actor: str,
    reason: str | None = None,
    then: Then = None,
) -> None:
    """Agree (15: the document becomes recalled) or refuse (16, with a reason) a recall."""
    if not agree and not reason:
        raise DocumentError("refusing a recall needs a reason (--note)")
    now = ctx.clock()
    async with ctx.store.write() as tx:
        doc = await get_document(tx, document_id)
        if doc is None or doc.direction != "in":
            raise DocumentError(f"no incoming document {document_id}")
        new = RecallState.AGREED if agree else RecallState.REFUSED
        await change_recall(tx, document_id, new, actor=actor, at=now, details={"reason": reason})
        if agree:  # the register line stays, struck through with the day and the reason
            asked = await _recall_reason(tx, document_id)
            await mark_recalled(tx, document_id, on=_today(ctx), reason=asked, actor=actor, at=now)
        status = await _answer(ctx, tx, doc, agree, reason, now)
        await events.append_event(tx, events.STATUS_CHANGED, document_id, _own(status), at=now)
        if then is not None:
            await then(tx, agree)
    _wake(ctx)


def _arrived(record: DocumentRecord, wire_id: str, via: str) -> dict[str, Any]:
    """What document.arrived tells a document system: who sent what (the subject only of a
    document not marked Mật or above), and how it came."""
    data: dict[str, Any] = {
        "from": record.sender_code,
        "envelope": wire_id,
        "type": record.doc_type,
        "number": record.number,
        "notation": record.notation,
        "issued_on": record.issued_on,
        "confidentiality": record.confidentiality,
        "via": via,
    }
    if record.confidentiality == Confidentiality.NORMAL:
        data["subject"] = record.subject
    return data


def _status_kind(status: Status) -> str:
    if status.code is StatusCode.RECALL_REQUESTED:
        return events.RECALL_REQUESTED
    return events.STATUS_CHANGED


def _status_data(event: StatusEvent) -> dict[str, Any]:
    """What status.changed and recall.requested tell of a status received from a peer."""
    return {
        "status": event.id,
        "code": f"{event.code:02d}",
        "from": event.from_code,
        "to": event.to_code,
        "direction": event.direction,
        "at": event.at,
        "number": event.incoming_number,
        "note": event.note,
    }


def _own(status: Status) -> dict[str, Any]:
    """status.changed for this node's own step on an incoming document (it sends `status`)."""
    note = status.note or status.reason or status.assignee
    return {
        "status": status.id,
        "code": f"{int(status.code):02d}",
        "from": status.sender,
        "to": status.to,
        "direction": "out",
        "at": status.at,
        "number": status.number,
        "note": note,
    }


def _wake(ctx: NodeContext) -> None:
    ctx.wake_delivery()
    pdf_verify.wake(ctx)  # a document sent with PDFs: its own copy is checked


async def timeline(ctx: NodeContext, document_id: str) -> list[StatusEvent]:
    async with ctx.store.read() as conn:
        return await statuses_of(conn, document_id)


def receipt_matches(raw_envelope: bytes, receipt: bytes | None) -> bool:
    return receipt is not None and hashlib.sha256(raw_envelope).digest() == receipt
