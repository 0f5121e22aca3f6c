"""Deterministic keys, clocks and documents shared by the protocol tests."""

import hashlib
from collections.abc import Callable

from lienthong.crypto.keys import NodeKeys
from lienthong.protocol.codes import Urgency
from lienthong.protocol.document import (
    Attachment,
    DocumentBody,
    DocumentMetadata,
    Organisation,
    Signer,
)

NOW = 1_764_000_000_000  # 2025-11-24T16:00:00Z in milliseconds
A = "000.00.02.H53"  # VP UBND tỉnh Tây Ninh
B = "000.00.03.H53"
C = "000.00.04.H53"


def keys(name: str) -> NodeKeys:
    """Keys derived from a name, so every run and every vector uses the same ones."""
    seed = hashlib.sha256(f"sign:{name}".encode()).digest()
    enc = hashlib.sha256(f"enc:{name}".encode()).digest()
    return NodeKeys.from_seeds(seed, enc)


def counter_random(label: str = "r") -> Callable[[int], bytes]:
    """A reproducible stand-in for os.urandom: SHA-256 in counter mode."""
    state = {"n": 0}

    def random(n: int) -> bytes:
        out = b""
        while len(out) < n:
            state["n"] += 1
            out += hashlib.sha256(f"{label}:{state['n']}".encode()).digest()
        return out[:n]

    return random


def letter_2340(attachments: tuple[Attachment, ...] = ()) -> DocumentBody:
    """The province office's letter 2340/VP-TTTH of 23 May 2014."""
    return DocumentBody(
        metadata=DocumentMetadata(
            number="2340",
            notation="VP-TTTH",
            doc_type="cong_van",
            issuer=Organisation(name="Văn phòng", code=A, parent="UBND tỉnh Tây Ninh"),
            place="Tây Ninh",
            issued_on="2014-05-23",
            subject="V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)",
            signer=Signer(
                name="Trương Văn Hùng",
                position="Phó Chánh Văn phòng",
                authority="KT.",
                acts_for="Chánh Văn phòng",
            ),
            urgency=Urgency.URGENT,
            addressees=("Các đơn vị đã triển khai Phần mềm eOffice (đính kèm danh sách)",),
            distribution=("Như danh sách đính kèm", "LĐVP", "Lưu: VT.VPUBND Tỉnh"),
            copies=35,
            drafter="KTrang",
        ),
        attachments=attachments,
    )
