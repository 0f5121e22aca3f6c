"""The official document as the law writes it on paper, for the confirm and document pages.

Nghị định 30/2020/NĐ-CP, Phụ lục I lays a document out: the issuer (the body in charge above
the unit's own name), "Số: 05/VP-TTTH", the place and date ("Tây Ninh, ngày 23 tháng 5 năm
2014"), the urgency, and the signature block (authority and whom it acts for, the signer's
position, the name). official_view() turns a DocumentBody into the lines _official.html
shows; nothing here reads the store.
"""

from __future__ import annotations

from typing import Any

from lienthong.node.times import dmy, dmy_hm, written_date
from lienthong.protocol.codes import Urgency
from lienthong.protocol.doctypes import describe_type
from lienthong.protocol.document import Business, DocumentMetadata, ExtensionValue

# Extension fields this node knows and shows under their own label; any other is shown
# as "Thông tin bổ sung: name = value" (docs/PROTOCOL.md 7.3: kept and shown, never refused).
KNOWN_EXTENSIONS = {"v1.steering": "field.steering"}


def extension_text(value: ExtensionValue) -> str:
    """An extension value as one line of text: strings as written, lists joined."""
    if isinstance(value, bool):
        return "✔" if value else "✘"
    if isinstance(value, tuple):
        return "; ".join(value)
    return str(value)


def place_date(m: DocumentMetadata) -> str:
    """ "Tây Ninh, ngày 23 tháng 5 năm 2014": the line the document carries under the motto."""
    written = written_date(m.issued_on)
    return f"{m.place}, {written}" if m.place else written


def official_view(m: DocumentMetadata, business: Business | None = None) -> dict[str, Any]:
    """What _official.html shows of a document: each value ready to print."""
    business = business or Business()
    issuer = m.issuer
    return {
        "parent": (issuer.parent or "").upper(),
        "issuer_name": issuer.name.upper(),
        "issuer": issuer,
        "number": m.number_notation,
        "place_date": place_date(m),
        "issued_on": dmy(m.issued_on),
        "due_on": dmy(m.due_on),
        "type": describe_type(m.doc_type, m.type_name),
        "urgency": int(m.urgency),
        "scheduled_at": dmy_hm(m.scheduled_at) if m.urgency is Urgency.FLASH_SCHEDULED else "",
        "signature": list(m.signer.block) if m.signer else [],
        "competence": m.signer.competence if m.signer else "",
        "steering_type": m.steering_type,
        "sphere": m.sphere or "",
        "appendixes": list(m.appendixes),
        "pages": m.pages,
        "copies": m.copies,
        "drafter": m.drafter or "",
        "known_extensions": [
            (KNOWN_EXTENSIONS[k], extension_text(v))
            for k, v in m.extensions
            if k in KNOWN_EXTENSIONS
        ],
        "extensions": [
            (k, extension_text(v)) for k, v in m.extensions if k not in KNOWN_EXTENSIONS
        ],
        "paper": business.paper,
        "reason": business.reason or "",
        "staff": business.staff,
    }
