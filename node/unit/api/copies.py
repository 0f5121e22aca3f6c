"""Copies (sao y, trích sao, sao lục) through the integration API: POST
/documents/{id}/copies makes a new outgoing document of this unit from a document it holds,
by node/unit/copies.py (the rules the clerk's page follows), keeping its Idempotency-Key's
answer in the copy's own transaction."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.unit import copies
from lienthong.node.unit import documents as service
from lienthong.node.unit.api import uploads
from lienthong.node.unit.api.access import BODY, actor, allow, json_object
from lienthong.node.unit.api.problems import invalid, not_found
from lienthong.node.unit.api.reads import json_response
from lienthong.node.unit.api.writes import (
    MAX_RECIPIENTS,
    _answered,
    _keeping,
    _refused,
    _strings,
)
from lienthong.protocol.document import metadata_from_wire
from lienthong.protocol.errors import InvalidField
from lienthong.storage.api_keys import SEND

COPY_FIELDS: dict[str, type] = {
    "form": str,  # sao_y, trich_sao or sao_luc (copies.FORMS)
    "metadata": dict,  # the copy's own metadata, as POST /documents takes it
    "recipients": list,
    "paper": bool,
    "uploads": list,  # ids of complete resumable uploads: the copy's files
}
COPY_REQUIRED = ("form", "metadata", "recipients")


async def make_copy(request: web.Request) -> web.Response:
    """Send a copy of the document {id} (received or sent here) as a new document of this
    unit: its type the form's, its number the copy register's next unless given, its
    subject the original's unless given; 201 with its id, linked to the original (copy_of).
    A sao y carries the original's files, then those of `uploads`."""
    allow(request, SEND)
    value = json_object(request[BODY], COPY_FIELDS, COPY_REQUIRED)
    form = value["form"]
    doc_type = copies.FORMS.get(form)
    if doc_type is None:
        raise invalid("form", f"one of {', '.join(copies.FORMS)} (sao y, trích sao, sao lục)")
    recipients = _strings(value, "recipients", MAX_RECIPIENTS)
    if not recipients:
        raise invalid("recipients", "names at least one unit code")
    wire = dict(value["metadata"])
    if wire.setdefault("type", doc_type) != doc_type:
        raise invalid("metadata.type", f"a copy of the form {form} is of the type {doc_type}")
    ctx: NodeContext = request.app[CONTEXT]
    original_id = request.match_info["id"]
    async with ctx.store.read() as conn:
        try:
            original = await copies.original_of(conn, original_id)
        except service.DocumentError as exc:
            raise not_found(str(exc)) from None
        wire.setdefault("subject", service.stored_body(original).metadata.subject)
        try:
            metadata = metadata_from_wire(wire)
        except InvalidField as exc:
            raise invalid(f"metadata.{exc.field}", exc.reason) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise invalid("metadata", str(exc)) from None
        if metadata.number is None:  # as the page offers it: the copy register's next
            year = int(metadata.issued_on[:4])
            number = await copies.next_number(
                ctx, conn, doc_type, year, int(metadata.confidentiality)
            )
            metadata = dataclasses.replace(metadata, number=number)
    chosen = await uploads.files_of(request, value, 0)

    def answer(copy_id: str) -> web.Response:
        href = f"/api/v1/documents/{copy_id}"
        response = json_response(
            {
                "id": copy_id,
                "href": href,
                "copy_of": original.id,
                "form": form,
                "type": doc_type,
                "number": metadata.number,
            },
            status=201,
        )
        response.headers["Location"] = href
        return response

    async with uploads.sending(request, chosen) as files:
        try:
            copy_id = await copies.send_copy(
                ctx,
                original.id,
                metadata,
                recipients,
                files=files,
                actor=actor(request),
                paper=bool(value.get("paper")),
                then=_keeping(request, answer),
            )
        except LienthongError as exc:
            raise _refused(exc) from None
    return _answered(request, answer, copy_id)


ROUTES = (("POST", "/documents/{id}/copies", make_copy),)
