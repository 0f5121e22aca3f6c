"""Addressing organisations outside the directory: which gateway unit carries each, and the
extension fields that name them in the document (docs/GATEWAY.md).

A clerk may address an organisation the directory's form 2 lists under `external` (a
ministry, the Government Office, another province). The envelope goes to its gateway, a
unit of the directory, like any envelope; the document's extension field `gateway.to`
names the organisations the gateway passes it on to. A document a gateway brings in from
outside names its first sender in `gateway.from`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from lienthong.crypto.errors import LienthongError
from lienthong.protocol.directory import Directory, ExternalOrganisation
from lienthong.protocol.document import DocumentMetadata

# Extension fields (docs/PROTOCOL.md 5.4), each an array of edXML OrganIds (gateway.to) or
# one OrganId (gateway.from).
GATEWAY_TO = "gateway.to"
GATEWAY_FROM = "gateway.from"
# The note of a status a gateway sends about an organisation outside the directory starts
# with this and the organisation's code: the sender's timeline names it (docs/GATEWAY.md).
NOTE_PREFIX = "external:"


class ExternalError(LienthongError):
    """An organisation outside the directory cannot be addressed (no gateway carries it,
    or its gateway reads no extension fields)."""


@dataclasses.dataclass(frozen=True)
class Routed:
    """Recipients split: the units to seal to (each gateway once) and, per gateway, the
    organisations outside the directory it carries the document to."""

    units: list[str]
    external: dict[str, list[str]]
    addressed: tuple[str, ...] = ()  # the recipients as given

    @property
    def codes(self) -> list[str]:
        return [code for codes in self.external.values() for code in codes]


def route(directory: Directory, recipients: Sequence[str]) -> Routed:
    """Put each organisation outside the directory's gateway in its place; units of the
    directory and unknown codes stay as they are (send_document names an unknown one)."""
    units: list[str] = []
    external: dict[str, list[str]] = {}
    for code in dict.fromkeys(recipients):
        org = directory.external_organisation(code)
        if org is None or directory.current(code) is not None:
            units.append(code)
            continue
        external.setdefault(org.gateway, []).append(code)
        if org.gateway not in units:
            units.append(org.gateway)
    return Routed(units, external, tuple(dict.fromkeys(recipients)))


def names(directory: Directory, routed: Routed) -> list[str]:
    """Nơi nhận as the outgoing register reads it: the names of the units addressed and of
    the organisations outside the directory, not their gateway's (a gateway addressed
    itself too is named as a unit)."""
    gateways = set(routed.external) - set(routed.addressed)
    units = [directory.current(c).name for c in routed.units if c not in gateways]
    return units + [directory.external[c].name for c in routed.codes]


def addressed(metadata: DocumentMetadata, routed: Routed) -> DocumentMetadata:
    """The metadata with `gateway.to` naming the organisations outside the directory (none:
    unchanged; an earlier `gateway.to` is replaced)."""
    codes = routed.codes
    if not codes:
        return metadata
    ext = {k: v for k, v in metadata.extensions if k != GATEWAY_TO}
    ext[GATEWAY_TO] = tuple(codes)
    return dataclasses.replace(metadata, extensions=tuple(sorted(ext.items())))


def check_version(routed: Routed, version: int) -> None:
    """Only version 2 carries extension fields: a gateway reading version 1 only cannot be
    told where to pass the document on."""
    if version == 1 and routed.external:
        gateways = ", ".join(routed.external)
        raise ExternalError(
            f"{', '.join(routed.codes)}: the gateway {gateways} (or another recipient of this "
            "document) reads protocol version 1 only, which cannot name organisations outside "
            "the directory; send to them in a document of their own"
        )


def addressed_to(metadata: DocumentMetadata) -> tuple[str, ...]:
    """The organisations outside the directory a document names in `gateway.to`."""
    value = dict(metadata.extensions).get(GATEWAY_TO)
    return tuple(value) if isinstance(value, tuple | list) else ()


def brought_from(metadata: DocumentMetadata) -> str | None:
    """The organisation outside the directory a gateway brought a document from."""
    value = dict(metadata.extensions).get(GATEWAY_FROM)
    return value if isinstance(value, str) else None


def organisations(directory: Directory | None) -> list[ExternalOrganisation]:
    """Every organisation outside the directory it lists, by code."""
    return [] if directory is None else sorted(directory.external.values(), key=lambda e: e.code)


def status_note(code: str, text: str | None = None) -> str:
    """A gateway status's note: the organisation's code, then what it said, if anything."""
    return f"{NOTE_PREFIX}{code}" + (f" {text}" if text else "")


def note_organisation(note: str | None) -> tuple[str, str] | None:
    """(code, what it said) from a gateway status's note; None for any other note."""
    if not note or not note.startswith(NOTE_PREFIX):
        return None
    code, _, text = note[len(NOTE_PREFIX) :].partition(" ")
    return (code, text) if code else None
