"""The list of document types (tên loại) with their notation abbreviations, kept as data."""

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class DocumentType:
    code: str  # the wire value of DocumentMetadata.doc_type, e.g. "quyet_dinh"
    name: str  # "Quyết định"
    abbreviation: str  # "QĐ"; empty for Công văn and Thư công


@cache
def document_types() -> dict[str, DocumentType]:
    """The 29 types of Nghị định 30/2020/NĐ-CP, from protocol/data/document_types.json."""
    data = json.loads(
        resources.files("lienthong.protocol")
        .joinpath("data/document_types.json")
        .read_text("utf-8")
    )
    return {t["code"]: DocumentType(**t) for t in data["types"]}
