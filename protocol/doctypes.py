"""The document types (tên loại) with their notation abbreviations and edXML numbers, as data.

protocol/data/document_types.json holds them (docs/TYPES.md is the table with its sources):
the 29 administrative types of Nghị định 30/2020/NĐ-CP, Điều 7, with the abbreviations of its
Phụ lục III; the three copy forms of the same appendix (sao y, trích sao, sao lục); and the
legal documents (văn bản quy phạm pháp luật) a unit receives from outside but never issues.
The file is checked whole when first read: a broken table stops the program at once, naming
the entry and the field, rather than showing a clerk a wrong list.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from lienthong.protocol.text import is_decimal, pattern

# The wire carries the code in DocumentMetadata.type, at most 16 characters (document.py's
# MAX_TYPE_CODE; tests/protocol/test_doctypes.py holds the two equal).
MAX_TYPE_CODE = 16
TYPE_CODE = pattern("document type code", f"[a-z][a-z0-9_]{{0,{MAX_TYPE_CODE - 1}}}", "quyet_dinh")
# Phụ lục III writes abbreviations in Latin letters and Đ ("QĐ", "QyĐ", "CTr"); the longest,
# TTLT, has four. Eight leave room without letting a sentence pass for an abbreviation.
MAX_ABBREVIATION = 8
ABBREVIATION = pattern("document type abbreviation", f"[A-Za-zĐđ]{{1,{MAX_ABBREVIATION}}}", "QĐ")
MAX_TYPE_NAME = 64  # "Nghị quyết liên tịch" has 20 characters
# edXML DocumentType/Type is an integer; QCVN 102:2016 gives no table, and no number in
# use is above two digits. 9 digits keep int() of an incoming value cheap.
MAX_EDXML_DIGITS = 9
_FIELDS = {"code", "name", "abbreviation", "edxml_type", "legal", "copy", "issued_here"}
_FLAG_DEFAULTS = {"legal": False, "copy": False, "issued_here": True}


class DocumentTypesError(ValueError):
    """protocol/data/document_types.json is not a valid table of document types."""


@dataclass(frozen=True, slots=True)
class DocumentType:
    code: str  # the wire value of DocumentMetadata.doc_type, e.g. "quyet_dinh"
    name: str  # "Quyết định"
    abbreviation: str  # "QĐ"; empty for Công văn, Thư công and laws ("Luật số 45/2019/QH14")
    edxml_type: int | None = None  # edXML DocumentType/Type, None where no source gives one
    legal: bool = False  # a kind of văn bản quy phạm pháp luật: its number carries the year
    copy: bool = False  # a copy form (bản sao) made from a received document
    issued_here: bool = True  # False: only received from outside (Luật, Nghị định, ...)


@cache
def document_types() -> Mapping[str, DocumentType]:
    """Every type of protocol/data/document_types.json by code, in the table's order: the 29
    types of Nghị định 30/2020/NĐ-CP Điều 7, the copy forms, then the received-only types.
    Read-only: the same mapping is shared by every caller."""
    text = (
        resources.files("lienthong.protocol")
        .joinpath("data/document_types.json")
        .read_text("utf-8")
    )
    return MappingProxyType(parse_types(json.loads(text)))


def issued_types() -> tuple[DocumentType, ...]:
    """The types a unit issues itself (what the compose page offers), in the table's order."""
    return tuple(t for t in document_types().values() if t.issued_here)


@cache
def _by_edxml() -> Mapping[int, DocumentType]:
    return {t.edxml_type: t for t in document_types().values() if t.edxml_type is not None}


@cache
def _by_abbreviation() -> Mapping[str, DocumentType]:
    return {_fold(t.abbreviation): t for t in document_types().values() if t.abbreviation}


def type_by_edxml(number: object) -> DocumentType | None:
    """The type whose edXML DocumentType/Type is `number` (an int, or its ASCII digits as the
    XML text holds them), or None: unknown, absent or not a number. Few types have a known
    number (docs/TYPES.md), so a receiver looks at TypeName too (describe_type)."""
    if isinstance(number, str) and is_decimal(number, MAX_EDXML_DIGITS):
        number = int(number)
    if type(number) is not int:
        return None
    return _by_edxml().get(number)


def type_by_abbreviation(abbreviation: object) -> DocumentType | None:
    """The type a notation's abbreviation names ("QĐ" in "49/2025/QĐ-UBND", "BGN", "TTr"),
    letter case aside, or None; Công văn and Thư công have none, so "" finds nothing."""
    if not isinstance(abbreviation, str) or not abbreviation:
        return None
    return _by_abbreviation().get(_fold(abbreviation))


def describe_type(code: str, name_as_sent: str | None = None) -> str:
    """What to show for a document's type: the known name of `code`; for a code this table
    does not know (a newer sender, another system), the name the sender gave, else the code
    itself. An unknown type is kept and shown, never refused."""
    known = document_types().get(code)
    if known is not None:
        return known.name
    if isinstance(name_as_sent, str) and name_as_sent.strip():
        return name_as_sent.strip()
    return code


def _fold(abbreviation: str) -> str:
    """An abbreviation compared as the clerk means it: NFC, letter case aside ("Qđ" = "QĐ")."""
    return unicodedata.normalize("NFC", abbreviation).casefold()


def parse_types(data: Any) -> dict[str, DocumentType]:
    """The types of a decoded document_types.json, checked whole; DocumentTypesError names
    the first entry and field at fault. Codes are unique; so are names, edXML numbers and
    abbreviations (letter case aside), since a notation's abbreviation must name one type."""
    if not isinstance(data, dict) or set(data) != {"source", "types"}:
        raise DocumentTypesError('the table is an object with exactly "source" and "types"')
    source = data["source"]
    if (
        not isinstance(source, list)
        or not source
        or not all(isinstance(s, str) and s.strip() for s in source)
    ):
        raise DocumentTypesError('"source" is a non-empty list of sentences naming the sources')
    entries = data["types"]
    if not isinstance(entries, list) or not entries:
        raise DocumentTypesError('"types" is a non-empty list')
    types: dict[str, DocumentType] = {}
    seen: dict[str, dict[object, str]] = {"name": {}, "edxml_type": {}, "abbreviation": {}}
    for i, entry in enumerate(entries):
        t = _parse_entry(i, entry)
        if t.code in types:
            raise DocumentTypesError(f"types[{i}]: code {t.code!r} appears twice")
        for field, key in (
            ("name", t.name),
            ("edxml_type", t.edxml_type),
            ("abbreviation", _fold(t.abbreviation)),
        ):
            if key is None or key == "":
                continue
            if key in seen[field]:
                raise DocumentTypesError(
                    f"types[{i}] ({t.code}): {field} {getattr(t, field)!r} is also that of "
                    f"{seen[field][key]}"
                )
            seen[field][key] = t.code
        types[t.code] = t
    return types


def _parse_entry(i: int, entry: object) -> DocumentType:
    if not isinstance(entry, dict):
        raise DocumentTypesError(f"types[{i}]: expected an object")
    where = f"types[{i}] ({entry.get('code')!r})"
    if missing := {"code", "name", "abbreviation"} - set(entry):
        raise DocumentTypesError(f"{where}: missing {', '.join(sorted(missing))}")
    if unknown := set(entry) - _FIELDS:
        raise DocumentTypesError(f"{where}: unknown field {', '.join(sorted(unknown))}")
    code, name, abbreviation = entry["code"], entry["name"], entry["abbreviation"]
    if not TYPE_CODE.matches(code):
        raise DocumentTypesError(
            f"{where}: code is 1 to {MAX_TYPE_CODE} of a-z, 0-9 and _, starting with a letter"
        )
    if (
        not isinstance(name, str)
        or not 0 < len(name) <= MAX_TYPE_NAME
        or name != name.strip()
        or unicodedata.normalize("NFC", name) != name
    ):
        raise DocumentTypesError(
            f"{where}: name is 1 to {MAX_TYPE_NAME} characters, NFC, no outer spaces"
        )
    if not isinstance(abbreviation, str) or (
        abbreviation and not ABBREVIATION.matches(abbreviation)
    ):
        raise DocumentTypesError(
            f"{where}: abbreviation is empty or 1 to {MAX_ABBREVIATION} of A-Z, a-z, Đ, đ"
        )
    edxml = entry.get("edxml_type")
    if edxml is not None and (type(edxml) is not int or not 0 <= edxml < 10**MAX_EDXML_DIGITS):
        raise DocumentTypesError(f"{where}: edxml_type is null or a whole number from 0")
    flags = {f: entry.get(f, default) for f, default in _FLAG_DEFAULTS.items()}
    for flag, value in flags.items():
        if type(value) is not bool:
            raise DocumentTypesError(f"{where}: {flag} is true or false")
    if flags["legal"] and flags["copy"]:
        raise DocumentTypesError(f"{where}: a copy form is not itself a legal document kind")
    return DocumentType(code, name, abbreviation, edxml, **flags)
