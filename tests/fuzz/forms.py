"""What the web fuzz tests type into the clerk's forms: field values a clerk might type or a
script forge, urlencoded bodies in odd charsets, and the compose form's multipart written by
hand (odd file names, parts no browser sends, broken framing)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from tests.node.web.test_web_support import B

# What a clerk might type, paste or a forged request might carry: edge cases, numbers in
# forms int() refuses or SQLite cannot hold, and anything.
TYPED = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "x" * 300,
            "x" * 2_001,
            "x" * 70_000,
            "<script>alert(1)</script>",
            "2025-02-30",
            "9999-12-31",
            "2025-11-24",
            "2340/VP-TTTH",
            "2340/",
            "/VP",
            "\x00",
            "\r\n",
            "\u202e",
            "a\r\nSet-Cookie: x=1",
            B,
            "__all__",
            "cong_van",
            "KT.",
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "//evil.example/",
            "/\t/evil.example",
            "/a\r\nLocation: //evil",
            "clerk",
            "admin",
        ]
    ),
    st.sampled_from(
        ["0", "1", "-1", "²", "١٢", "٣", "1_0", "+1", "1.5", "1e3", "99999999999999999999"]
    ),
    st.text(max_size=60),
)

# Raw bytes for a field: what no browser sends but a script can.
RAW_VALUES = st.sampled_from([b"\xff\xfe", b"\xc3(", b"\xed\xa0\x80", b"\x00" * 10, b"%ff%fe"])


def urlencoded(data: st.DataObject, fields: dict[str, Any]) -> tuple[bytes, str]:
    """A form body as browsers send it, or with raw bytes and an odd charset."""
    parts = []
    for name, value in fields.items():
        raw = value if isinstance(value, bytes) else quote(value, safe="").encode()
        parts.append(quote(name, safe="").encode() + b"=" + raw)
    body = b"&".join(parts)
    content_type = data.draw(
        st.sampled_from(
            ["application/x-www-form-urlencoded"] * 6
            + [
                "application/x-www-form-urlencoded; charset=utf-16",
                "application/x-www-form-urlencoded; charset=nope",
                "application/x-www-form-urlencoded; charset=latin-1",
                "text/plain",
                "multipart/form-data",
            ]
        )
    )
    if data.draw(st.integers(0, 5)) == 0:
        body += b"&note=" + data.draw(RAW_VALUES)  # not percent-encoded: invalid UTF-8
    return body, content_type


def form_values(data: st.DataObject, names: list[str], valid: dict[str, str]) -> dict[str, Any]:
    """The valid form with some fields changed, dropped or added."""
    fields: dict[str, Any] = dict(valid)
    for _ in range(data.draw(st.integers(0, 4))):
        name = data.draw(st.sampled_from([*names, "extra"]))
        if data.draw(st.integers(0, 4)) == 0:
            fields.pop(name, None)
        else:
            fields[name] = data.draw(TYPED | RAW_VALUES)
    return fields


VALID_COMPOSE = {
    "number": "2340/VP-TTTH",
    "doc_type": "cong_van",
    "place": "Tây Ninh",
    "issued_on": "2025-11-24",
    "subject": "V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)",
    "authority": "KT.",
    "acts_for": "Chánh Văn phòng",
    "position": "Phó Chánh Văn phòng",
    "signer": "Trương Văn Hùng",
    "urgency": "0",
    "confidentiality": "0",
    "distribution": "Như danh sách đính kèm\nLưu: VT",
    "to": B,
}

FILE_NAMES = st.one_of(
    st.sampled_from(
        [
            b"danh-s\xc3\xa1ch.pdf",
            b"\xff\xfe.pdf",
            b"",
            b".",
            b"..",
            b"../../store.sqlite3",
            b"a\x00b.pdf",
            "ư".encode() * 200 + b".pdf",
            b"x" * 300,
            b"C:\\scan\\van-ban.pdf",
            b'quote".pdf',
            b".hidden",
            b"same.pdf",
        ]
    ),
    st.text(max_size=30).map(lambda s: s.encode("utf-8")),
)

# Parts no browser sends: no name, a nested multipart, no headers, an encoding header.
ODD_PARTS = [
    b"Content-Disposition: form-data\r\n\r\nno name",
    b"Content-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\n\r\nx\r\n--inner--",
    b"garbage without headers",
    b'Content-Disposition: form-data; name="subject"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!",
]


def part(name: bytes, value: bytes, filename: bytes | None = None, extra: bytes = b"") -> bytes:
    disposition = b'Content-Disposition: form-data; name="' + name + b'"'
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    return disposition + b"\r\n" + extra + b"\r\n" + value


def multipart(data: st.DataObject, csrf: str) -> tuple[bytes, dict[str, str]]:
    """The compose form written by hand: fields changed, files with odd names, and (now and
    then) a body whose multipart framing is broken."""
    fields = form_values(data, list(VALID_COMPOSE), VALID_COMPOSE)
    parts = [part(b"csrf", csrf.encode())] if data.draw(st.integers(0, 9)) else []
    for name, value in fields.items():
        raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
        parts.append(part(name.encode("utf-8", "surrogatepass"), raw))
    for _ in range(data.draw(st.integers(0, 2))):
        content = data.draw(st.sampled_from([b"%PDF-1.4 scan\n" * 50, b"", b"x"]))
        parts.append(
            part(b"files", content, data.draw(FILE_NAMES), b"Content-Type: application/pdf\r\n")
        )
    if data.draw(st.integers(0, 9)) == 0:
        parts.append(data.draw(st.sampled_from(ODD_PARTS)))
    boundary = b"lienthongfuzz"
    body = (
        b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
        + b"--"
        + boundary
        + b"--\r\n"
    )
    content_type = "multipart/form-data; boundary=lienthongfuzz"
    framing = data.draw(
        st.sampled_from(["ok"] * 8 + ["truncated", "no boundary", "other boundary", "empty"])
    )
    if framing == "truncated":
        body = body[: data.draw(st.integers(0, len(body)))]
    elif framing == "no boundary":
        content_type = "multipart/form-data"
    elif framing == "other boundary":
        content_type = 'multipart/form-data; boundary="' + "b" * 80 + '"'
    elif framing == "empty":
        body = b""
    return body, {"Content-Type": content_type}


PAPER = {
    "incoming": {
        "arrived_on": "2025-11-24",
        "issuer_name": "Sở Nội vụ",
        "number_notation": "12/SNV",
        "doc_date": "2025-11-20",
        "doc_type": "cong_van",
        "subject": "Giấy mời",
    },
    "outgoing": {
        "issued_on": "2025-11-24",
        "notation": "UBND",
        "doc_type": "cong_van",
        "subject": "Báo cáo",
        "recipients": "Sở Nội vụ",
        "sent_on": "2025-11-24",
        "number": "7",
        "copies": "2",
    },
}

PAPER_NAMES = [
    "arrived_on",
    "issuer_name",
    "issuer_code",
    "number_notation",
    "doc_date",
    "doc_type",
    "subject",
    "passed_to",
    "notes",
    "issued_on",
    "notation",
    "recipients",
    "signer",
    "archive_holder",
    "sent_on",
    "number",
    "copies",
]

ACTIONS = [
    "accepted",
    "rejected",
    "assigned",
    "in-progress",
    "completed",
    "recall",
    "recall-agree",
    "recall-refuse",
    "",
    "delete",
    "accepted\x00",
]

PAGES = [
    "/",
    "/outbox",
    "/registers",
    "/registers/incoming/2025.csv",
    "/paper",
    "/compose",
    "/health",
    "/admin/users",
    "/login",
    "/documents/{doc}",
    "/documents/{doc}/files/0",
    "/documents/{doc}/files/9999",
    "/compose/confirm/nothing",
]

QUERY_NAMES = [
    "year",
    "kind",
    "page",
    "q",
    "to",
    "reply_to",
    "subject",
    "lang",
    "next",
    "inline",
    "print",
    "highlight",
    "done",
    "state",
    "urgent",
]
