"""Vectors of document envelopes: valid ones of versions 2 and 1 opened by a recipient, and
each refusal (docs/PROTOCOL.md 4, 5 and 13)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import msgpack
import nacl.public

from lienthong.crypto import aead, signing
from lienthong.protocol import wire
from lienthong.protocol.codes import Urgency
from lienthong.protocol.document import (
    MAX_EXTENSIONS,
    Business,
    DocumentBody,
    DocumentMetadata,
    Organisation,
    Signer,
    StaffInfo,
    body_from_wire,
    body_to_wire,
)
from lienthong.protocol.envelope import BODY_AAD_PREFIX, MAX_TARGETS, seal_envelope
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.limits import MAX_ENVELOPE_BYTES
from tests.protocol.fixtures import NOW, A, B, C, counter_random, keys, letter_2340
from tests.vectors.common import (
    DAY,
    ENV_ID,
    MINUTE,
    OUTSIDER,
    err,
    file_document,
    flip_signed_byte,
    hx,
    inner,
    jsonable,
    key_table,
    oversized,
    rehint,
    resign,
    sha256_hex,
    split,
    vector,
)
from tests.vectors.make_streams import attachments

HINT = f"{A}:1"
KEYS_A = key_table((A, 1, A))


def recipient(code: str, owner: str | None = None) -> dict:
    """The unit that opens the envelope: its code and its X25519 key pair."""
    k = keys(owner or code)
    return {
        "code": code,
        "x25519_public": hx(k.enc_public),
        "x25519_private": hx(k.encryption.encode()),
    }


def seal(
    body: DocumentBody, recipients=(B, C), *, envelope_id=ENV_ID, created=NOW, label="e", **kw
):
    return seal_envelope(
        keys=keys(A),
        sender=A,
        serial=1,
        recipients={r: keys(r).enc_public for r in recipients},
        body=body,
        created=created,
        envelope_id=envelope_id,
        random=counter_random(f"envelope-{label}"),
        **kw,
    )


# Earlier envelopes of A that updates and replacements name (the vectors do not hold them).
OLD_1 = new_ulid(NOW - DAY, counter_random("envelope-id-old-1"))
OLD_2 = new_ulid(NOW - 2 * DAY, counter_random("envelope-id-old-2"))
UPDATE_ID = new_ulid(NOW + MINUTE, counter_random("envelope-id-update"))


def envelope_id(label: str, minutes: int) -> str:
    return new_ulid(NOW + minutes * MINUTE, counter_random(f"envelope-id-{label}"))


def with_metadata(body: DocumentBody, **changes: Any) -> DocumentBody:
    return dataclasses.replace(body, metadata=dataclasses.replace(body.metadata, **changes))


def letter_05() -> DocumentBody:
    """Letter 05/VP-TTTH, signed by the head of the office as head (no authority): a number
    below 10 is written with two digits, and the leading zero travels."""
    return with_metadata(
        letter_2340(),
        number="05",
        issued_on="2025-01-06",
        subject="V/v báo cáo tình hình sử dụng Hệ thống liên thông văn bản năm 2024",
        signer=Signer(name="Nguyễn Văn An", position="Chánh Văn phòng"),
        urgency=Urgency.NORMAL,
        addressees=("Các sở, ban, ngành tỉnh",),
        distribution=("Như trên", "Lưu: VT"),
        copies=None,
        drafter="VAn",
    )


def decision_49() -> DocumentBody:
    """Decision 49/2025/QĐ-UBND of the province's People's Committee: a legal document whose
    number carries its year, signed for the collective body (TM.), with the issuer's contacts,
    the type's name, a steering type, the sphere of promulgation and two appendixes."""
    return DocumentBody(
        metadata=DocumentMetadata(
            number="49",
            year=2025,
            notation="QĐ-UBND",
            doc_type="quyet_dinh",
            type_name="Quyết định",
            issuer=Organisation(
                name="Ủy ban nhân dân tỉnh Tây Ninh",
                code=A,
                in_charge="Ủy ban nhân dân tỉnh Tây Ninh",
                address="Số 1, đường Trung tâm, phường 3, Tây Ninh",
                email="vanthu@tayninh.gov.vn",
                phone="0276 3822 222",
                fax="0276 3822 223",
                website="https://tayninh.gov.vn",
            ),
            place="Tây Ninh",
            issued_on="2025-11-20",
            subject="Ban hành Quy chế quản lý, vận hành và sử dụng Hệ thống liên thông văn bản "
            "tỉnh Tây Ninh",
            signer=Signer(
                name="Trần Văn Minh",
                position="Chủ tịch",
                authority="TM.",
                acts_for="Ủy ban nhân dân",
            ),
            distribution=("Như Điều 3", "Văn phòng Chính phủ", "TT. Tỉnh ủy", "Lưu: VT, VP."),
            copies=40,
            pages=12,
            drafter="HLinh",
            steering_type=1,
            sphere="Toàn tỉnh",
            appendixes=(
                "Phụ lục I. Danh sách cơ quan, đơn vị tham gia",
                "Phụ lục II. Mẫu báo cáo định kỳ",
            ),
        )
    )


def invitation_flash() -> DocumentBody:
    """Invitation 112/GM-VP, hỏa tốc hẹn giờ (urgency 4): it must arrive by 07:30 on 25
    November 2025, local time."""
    return with_metadata(
        letter_2340(),
        number="112",
        notation="GM-VP",
        doc_type="giay_moi",
        type_name="Giấy mời",
        issued_on="2025-11-24",
        subject="Mời dự họp trực tuyến khắc phục sự cố Hệ thống liên thông văn bản",
        urgency=Urgency.FLASH_SCHEDULED,
        scheduled_at="2025-11-25T07:30",
        due_on="2025-11-25",
        copies=None,
    )


def with_extensions() -> DocumentBody:
    """Letter 2340 with one extension field of each kind: text, boolean, integer, texts."""
    return with_metadata(
        letter_2340(),
        extensions=(
            ("bieu-mau", "02/BC-UBND"),
            ("co-ban-giay", True),
            ("so-phu-luc", 2),
            ("tu-khoa", ("chuyển đổi số", "liên thông văn bản")),
        ),
    )


STAFF = StaffInfo(
    name="Nguyễn Thị Kim Trang",
    department="Phòng Hành chính - Tổ chức",
    mobile="0909 123 456",
    email="ktrang@tayninh.gov.vn",
)


def with_paper() -> DocumentBody:
    """Letter 2340 whose paper original follows by post (edXML Paper = 1), with its handler."""
    return dataclasses.replace(letter_2340(), business=Business(paper=True, staff=STAFF))


def everything() -> DocumentBody:
    """Decision 49/2025 with every version-2 field set: urgency 4 and its time, extensions,
    the business part. What a version-1 reader gets of it is vector v1-down-converted."""
    body = with_metadata(
        decision_49(),
        urgency=Urgency.FLASH_SCHEDULED,
        scheduled_at="2025-11-21T08:00",
        extensions=(("tu-khoa", ("liên thông",)), ("v1.steering", "Giao Sở Nội vụ chủ trì")),
    )
    return dataclasses.replace(body, business=Business(paper=True, staff=STAFF))


def decrypted(raw: bytes, opener: str) -> tuple[bytes, dict]:
    """The content key and the body map of `raw`, opened as `opener`, exactly as decoded."""
    m = inner(raw)
    content_key = nacl.public.SealedBox(keys(opener).encryption).decrypt(
        m["body"]["keys"][m["header"]["recipients"].index(opener)]
    )
    aad = BODY_AAD_PREFIX + m["header"]["id"].encode()
    plaintext = aead.decrypt(content_key, m["body"]["nonce"], m["body"]["ciphertext"], aad)
    return content_key, msgpack.unpackb(plaintext)


def printed(body: DocumentBody) -> dict:
    """What a reader prints of the document (5.6): the "Số", edXML Competence, the lines of the
    signature block."""
    m = body.metadata
    return {
        "number": m.number_notation,
        "competence": None if m.signer is None else m.signer.competence,
        "signature_block": None if m.signer is None else list(m.signer.block),
    }


def ok(raw: bytes, open_as: str | None) -> dict:
    """What a verifier must find: the version, the header as on the wire, the hash of the
    bytes; opened: the content key, the body map as decoded, what is printed of it, and for
    version 1 the document as a version-2 reader holds it (its version-2 map)."""
    m = inner(raw)
    found: dict[str, Any] = {
        "v": m["v"],
        "header": jsonable(m["header"]),
        "sha256": sha256_hex(raw),
    }
    if open_as is not None:
        content_key, body_map = decrypted(raw, open_as)
        body = body_from_wire(body_map, m["v"])
        found["content_key"] = hx(content_key)
        found["body"] = jsonable(body_map)
        if m["v"] == 1:
            found["document"] = jsonable(body_to_wire(body, 2))
        found["printed"] = printed(body)
    return {"ok": found}


def opened(name: str, description: str, raw: bytes, opener: str, **extra: Any) -> dict:
    """A valid envelope of A's, opened by `opener`."""
    return vector(
        name, description, raw, ok(raw, opener), keys=KEYS_A, open_as=recipient(opener), **extra
    )


def with_body_changed(raw: bytes, opener: str, change: Callable[[dict], Any]) -> bytes:
    """`raw` with its body decrypted (as `opener`), changed by `change`, encrypted again under
    the same content key and nonce, and signed again by A: what a sender that skips its own
    checks (5.2) would send."""
    m = inner(raw)
    content_key, body = decrypted(raw, opener)
    aad = BODY_AAD_PREFIX + m["header"]["id"].encode()
    change(body)
    m["body"]["ciphertext"] = aead.encrypt(content_key, m["body"]["nonce"], wire.pack(body), aad)
    return resign(m, signing.ENVELOPE, HINT, A)


def refused(name: str, description: str, signed_map: dict, error: str) -> dict:
    """A message A signs correctly whose content is refused."""
    raw = resign(signed_map, signing.ENVELOPE, HINT, A)
    return vector(name, description, raw, err(error), keys=KEYS_A)


def refused_body(
    name: str, description: str, raw: bytes, opener: str, change: Callable[[dict], Any], error: str
) -> dict:
    """Signed correctly, and `opener` can open it, but its body (changed) is refused."""
    return vector(
        name,
        description,
        with_body_changed(raw, opener, change),
        err(error),
        keys=KEYS_A,
        open_as=recipient(opener),
    )


def metadata_set(**fields: Any) -> Callable[[dict], None]:
    return lambda body: body["metadata"].update(fields)


def signer_set(**fields: Any) -> Callable[[dict], None]:
    return lambda body: body["metadata"]["signer"].update(fields)


def replaced_by(other: dict) -> Callable[[dict], None]:
    """Replace the whole body map by `other`."""

    def change(body: dict) -> None:
        body.clear()
        body.update(other)

    return change


def sealed_update() -> bytes:
    """An update of letter-2340 to C, with its reason."""
    return seal(
        dataclasses.replace(letter_2340(), business=Business(reason="Đính chính trích yếu")),
        (C,),
        envelope_id=UPDATE_ID,
        created=NOW + MINUTE,
        label="update",
        business="update",
        targets=(ENV_ID,),
    )


def valid_vectors() -> list[dict]:
    letter = letter_2340()
    base = seal(letter)
    att = attachments()
    with_att = seal(letter_2340(att), (B,), label="attachments")
    update = sealed_update()
    replace = seal(
        dataclasses.replace(
            decision_49(),
            business=Business(reason="Thay thế Quyết định số 12/2024 và số 30/2024"),
        ),
        (B, C),
        envelope_id=envelope_id("replace", 2),
        label="replace",
        business="replace",
        targets=(OLD_1, OLD_2),
    )

    def one(name: str, description: str, body: DocumentBody, minutes: int, **kw: Any) -> dict:
        raw = seal(body, (B,), envelope_id=envelope_id(name, minutes), label=name, **kw)
        return opened(name, description, raw, B)

    bad_blobs = inner(with_att)
    bad_blobs["header"]["blobs"][0]["size"] += 1
    padded = with_body_changed(
        with_att,
        B,
        lambda body: body["attachments"][0].update(name="hop-dong.pdf" + " " * 120 + ".exe"),
    )
    return [
        opened(
            "letter-2340",
            'Letter 2340/VP-TTTH from A to B and C (version 2), opened by B: number "2340", '
            "signature block KT. CHÁNH VĂN PHÒNG / PHÓ CHÁNH VĂN PHÒNG / Trương Văn Hùng.",
            base,
            B,
        ),
        vector(
            "letter-2340-verify-only",
            "The same bytes checked by a relay, which holds no private key: header only.",
            base,
            ok(base, None),
            keys=KEYS_A,
        ),
        opened(
            "with-attachments",
            "The letter to B with two attachments whose blobs are streams.json 'short' and "
            "'two-chunks'; the header lists their blob ids and ciphertext sizes.",
            with_att,
            B,
        ),
        one(
            "number-05",
            'Letter 05/VP-TTTH: the number "05" keeps its leading zero on the wire and after '
            "opening; signed by the head as head (no authority): CHÁNH VĂN PHÒNG / name.",
            letter_05(),
            3,
        ),
        one(
            "legal-49-2025",
            "Decision 49/2025/QĐ-UBND: year 2025 in the number, TM. ỦY BAN NHÂN DÂN / CHỦ TỊCH, "
            "the issuer's organisation in charge, address and contacts, type name, steering "
            "type 1, sphere and two appendixes.",
            decision_49(),
            4,
        ),
        one(
            "flash-scheduled",
            "Invitation 112/GM-VP, hỏa tốc hẹn giờ: urgency 4 with scheduled_at 2025-11-25T07:30.",
            invitation_flash(),
            5,
        ),
        opened(
            "update",
            "An update (business 'update', edXML BussinessDocType 2) of letter-2340 to C: "
            "targets [letter-2340's id], business.reason 'Đính chính trích yếu'.",
            update,
            C,
        ),
        opened(
            "replace-two-targets",
            "A replacement (business 'replace', edXML 3): decision 49/2025 replaces two "
            "earlier envelopes of A, both named in targets, with its reason.",
            replace,
            B,
        ),
        one(
            "paper",
            "Letter 2340 with business.paper true (the paper original follows by post) and "
            "business.staff, the clerk who handled it.",
            with_paper(),
            6,
        ),
        one(
            "extensions",
            "Letter 2340 with four extension fields: a text, a boolean, an integer and a list "
            "of texts (5.4); a reader keeps and shows them.",
            with_extensions(),
            7,
        ),
        vector(
            "not-a-recipient",
            "Valid letter-2340 bytes opened by a unit that is not among the recipients.",
            base,
            err("NotARecipient"),
            keys=KEYS_A,
            open_as=recipient(OUTSIDER),
        ),
        vector(
            "wrong-private-key",
            "Valid letter-2340 bytes opened as B with C's key pair: B's sealed key does not open.",
            base,
            err("DecodeError"),
            keys=KEYS_A,
            open_as=recipient(B, owner=C),
        ),
        vector(
            "attachment-name-padded",
            "Signed correctly, and B can open it, but the first attachment is named "
            "'hop-dong.pdf' + 120 spaces + '.exe' (5.2).",
            padded,
            err("InvalidField"),
            keys=KEYS_A,
            open_as=recipient(B),
        ),
        vector(
            "blobs-mismatch",
            "Signed correctly, but the header's first blob size differs from the manifest's.",
            resign(bad_blobs, signing.ENVELOPE, HINT, A),
            err("InvalidField"),
            keys=KEYS_A,
            open_as=recipient(B),
        ),
    ]


def v1_letter() -> bytes:
    return seal(
        letter_2340(), envelope_id=envelope_id("v1-letter", 10), label="v1-letter", version=1
    )


def version_1_vectors() -> list[dict]:
    """Version 1, as a node writes it for readers that read only version 1 (1.2), and as a
    version-1 node wrote it: a version-2 node reads every one of them."""
    letter = v1_letter()
    five = seal(letter_05(), (B,), envelope_id=envelope_id("v1-05", 11), label="v1-05", version=1)
    down = seal(
        everything(), (B,), envelope_id=envelope_id("v1-down", 12), label="v1-down", version=1
    )
    update = seal(
        letter_2340(),
        (C,),
        envelope_id=envelope_id("v1-update", 13),
        label="v1-update",
        business="update",
        targets=(ENV_ID,),
        version=1,
    )
    steering = with_body_changed(
        letter,
        B,
        metadata_set(steering="Giao Sở Nội vụ chủ trì, phối hợp các đơn vị liên quan triển khai"),
    )
    return [
        opened(
            "v1-letter-2340",
            "Letter 2340 sealed in version 1 for readers of version 1 only: the number is the "
            "integer 2340, the signer has no acts_for; `source` is the version-2 body the "
            "sender had, `document` what a version-2 reader makes of the bytes.",
            letter,
            B,
            source=jsonable(body_to_wire(letter_2340())),
        ),
        opened(
            "v1-number-05",
            'Letter 05/VP-TTTH in version 1: the wire holds the integer 5, which opens as "05".',
            five,
            B,
            source=jsonable(body_to_wire(letter_05())),
        ),
        opened(
            "v1-down-converted",
            "Decision 49/2025 with every version-2 field set, sealed in version 1: urgency 4 "
            "becomes 3, the extension v1.steering becomes `steering`, and every field version 1 "
            "has no place for is dropped (1.2, 5.5).",
            down,
            B,
            source=jsonable(body_to_wire(everything())),
        ),
        opened(
            "v1-update",
            "An update of letter-2340 in version 1: the header names one `target`; version 1 "
            "carries no reason.",
            update,
            C,
        ),
        opened(
            "v1-steering",
            "A version-1 body with a steering note, as a version-1 node writes it: a version-2 "
            "reader keeps it as the extension field v1.steering.",
            steering,
            B,
        ),
    ]


def invalid_vectors() -> list[dict]:
    base = seal(letter_2340())
    m = inner(base)
    hdr = m["header"]
    no_created = {k: v for k, v in hdr.items() if k != "created"}
    w = split(base)
    v1 = v1_letter()
    m1 = inner(v1)
    valid_update = sealed_update()
    v2_body = body_to_wire(letter_2340())
    v1_body = body_to_wire(letter_2340(), 1)
    v2_header_with_target = {k: v for k, v in hdr.items() if k != "targets"}
    v2_header_with_target["target"] = None
    many = [new_ulid(NOW - DAY, counter_random(f"many-{i}")) for i in range(MAX_TARGETS + 1)]
    return [
        vector(
            "bad-signature",
            "letter-2340 with one bit of the signed bytes flipped.",
            flip_signed_byte(base),
            err("BadSignature"),
            keys=KEYS_A,
        ),
        vector(
            "wrong-domain",
            "letter-2340's signed bytes signed by A in the status domain.",
            resign(m, signing.STATUS, HINT, A),
            err("BadSignature"),
            keys=KEYS_A,
        ),
        vector(
            "signed-by-other-key",
            "Names A:1 in the hint and the header but is signed with C's key.",
            resign(m, signing.ENVELOPE, HINT, C),
            err("BadSignature"),
            keys=KEYS_A,
        ),
        vector(
            "unknown-signer",
            "Valid bytes, but the verifier knows no key for A:1.",
            base,
            err("UnknownSigner"),
            keys=key_table((B, 1, B)),
        ),
        vector(
            "signer-mismatch",
            "B correctly signs, under hint B:1, an envelope whose header names A:1.",
            resign(m, signing.ENVELOPE, f"{B}:1", B),
            err("SignerMismatch"),
            keys=key_table((A, 1, A), (B, 1, B)),
        ),
        vector(
            "truncated",
            "letter-2340 without its last byte.",
            base[:-1],
            err("DecodeError"),
            keys=KEYS_A,
        ),
        vector(
            "trailing-bytes",
            "letter-2340 followed by one zero byte.",
            base + b"\x00",
            err("DecodeError"),
            keys=KEYS_A,
        ),
        vector(
            "oversized",
            f"{MAX_ENVELOPE_BYTES + 1} bytes of 0x80: refused by size before any parsing.",
            None,
            err("LimitExceeded"),
            keys=KEYS_A,
            oversized=oversized(MAX_ENVELOPE_BYTES),
        ),
        vector(
            "signer-hint-without-serial",
            "letter-2340's signed bytes and signature under the hint '000.00.02.H53'.",
            rehint(base, A),
            err("InvalidField"),
            keys=KEYS_A,
        ),
        vector(
            "short-signature",
            "A wrapper whose 'sig' is 63 bytes.",
            wire.pack({"signed": w.signed, "sig": w.sig[:63], "signer": HINT}),
            err("InvalidField"),
            keys=KEYS_A,
        ),
        refused("unknown-version", "Signed correctly with v = 3.", {**m, "v": 3}, "UnknownVersion"),
        refused(
            "version-as-text",
            'Signed correctly with v = "2" (a str, not the integer 2).',
            {**m, "v": "2"},
            "UnknownVersion",
        ),
        refused(
            "unknown-kind",
            "Signed correctly with kind 'status'.",
            {**m, "kind": "status"},
            "UnknownKind",
        ),
        refused(
            "unknown-field",
            "Signed correctly with an extra header field 'priority'.",
            {**m, "header": {**hdr, "priority": 1}},
            "InvalidField",
        ),
        refused(
            "missing-field",
            "Signed correctly without the header field 'created'.",
            {**m, "header": no_created},
            "InvalidField",
        ),
        refused(
            "duplicate-recipient",
            "Signed correctly with recipients [B, B].",
            {**m, "header": {**hdr, "recipients": [B, B]}},
            "InvalidField",
        ),
        refused(
            "float-timestamp",
            "Signed correctly with 'created' as a msgpack float 64.",
            {**m, "header": {**hdr, "created": float(NOW)}},
            "InvalidField",
        ),
        refused(
            "ext-type",
            "Signed correctly with 'reply_to' as a msgpack ext value (type 1, 1 byte).",
            {**m, "header": {**hdr, "reply_to": msgpack.ExtType(1, b"x")}},
            "DecodeError",
        ),
        # The business and its targets (4.1, 4.4).
        refused(
            "update-without-target",
            "Signed correctly with business 'update' and targets [].",
            {**m, "header": {**hdr, "business": "update"}},
            "InvalidField",
        ),
        refused(
            "update-two-targets",
            "Signed correctly with business 'update' naming two targets: an update changes "
            "one document.",
            {**m, "header": {**hdr, "business": "update", "targets": [OLD_1, OLD_2]}},
            "InvalidField",
        ),
        refused(
            "replace-without-targets",
            "Signed correctly with business 'replace' and targets [].",
            {**m, "header": {**hdr, "business": "replace"}},
            "InvalidField",
        ),
        refused(
            "targets-duplicate",
            "Signed correctly with business 'replace' and the same target twice.",
            {**m, "header": {**hdr, "business": "replace", "targets": [OLD_1, OLD_1]}},
            "InvalidField",
        ),
        refused(
            "new-with-target",
            "Signed correctly with business 'new' and one target.",
            {**m, "header": {**hdr, "targets": [OLD_1]}},
            "InvalidField",
        ),
        refused(
            "too-many-targets",
            f"Signed correctly with business 'replace' and {MAX_TARGETS + 1} distinct targets "
            f"(MAX_TARGETS is {MAX_TARGETS}).",
            {**m, "header": {**hdr, "business": "replace", "targets": many}},
            "LimitExceeded",
        ),
        refused(
            "target-trailing-newline",
            "Signed correctly with business 'update' and a target ULID followed by a newline.",
            {**m, "header": {**hdr, "business": "update", "targets": [OLD_1 + "\n"]}},
            "InvalidField",
        ),
        refused(
            "v2-header-with-target",
            "Signed correctly with v = 2 and the version-1 header field 'target' (nil) in "
            "place of 'targets'.",
            {**m, "header": v2_header_with_target},
            "InvalidField",
        ),
        refused(
            "v1-header-with-targets",
            "Signed correctly with v = 1 and a version-2 'targets' field beside 'target'.",
            {**m1, "header": {**m1["header"], "targets": []}},
            "InvalidField",
        ),
        refused(
            "v1-update-without-target",
            "Signed correctly with v = 1, business 'update' and target nil.",
            {**m1, "header": {**m1["header"], "business": "update"}},
            "InvalidField",
        ),
        # Patterns match the whole string, ASCII only (docs/PROTOCOL.md, "Patterns"): a
        # prefix match, or `$` before a final newline, would take these.
        refused(
            "id-trailing-newline",
            "Signed correctly with header.id followed by a newline.",
            {**m, "header": {**hdr, "id": hdr["id"] + "\n"}},
            "InvalidField",
        ),
        refused(
            "reply-to-trailing-newline",
            "Signed correctly with reply_to a ULID followed by a newline.",
            {**m, "header": {**hdr, "reply_to": hdr["id"] + "\n"}},
            "InvalidField",
        ),
        refused(
            "recipient-trailing-newline",
            "Signed correctly with the last recipient's code followed by a newline.",
            {
                **m,
                "header": {
                    **hdr,
                    "recipients": [*hdr["recipients"][:-1], hdr["recipients"][-1] + "\n"],
                },
            },
            "InvalidField",
        ),
        refused(
            "recipient-other-script-digit",
            "Signed correctly with the first digit of a recipient's code an Arabic-Indic three.",
            {
                **m,
                "header": {
                    **hdr,
                    "recipients": ["\u0663" + hdr["recipients"][0][1:], *hdr["recipients"][1:]],
                },
            },
            "InvalidField",
        ),
        vector(
            "signer-hint-code-newline",
            "letter-2340 under the hint '000.00.02.H53\\n:1': a malformed hint (field signer), "
            "not an unknown signer.",
            rehint(base, f"{A}\n:1"),
            err("InvalidField"),
            keys=KEYS_A,
        ),
        refused(
            "keys-count",
            "Signed correctly with one sealed key for two recipients.",
            {**m, "body": {**m["body"], "keys": m["body"]["keys"][:1]}},
            "InvalidField",
        ),
        # Bodies B can open whose content is refused (5): what a sender that skips its own
        # checks would send.
        refused_body(
            "update-without-reason",
            "The update vector with business.reason nil: an update of version 2 says why.",
            valid_update,
            C,
            lambda body: body["business"].update(reason=None),
            "InvalidField",
        ),
        refused_body(
            "body-v2-in-envelope-v1",
            'An envelope of v = 1 whose body is a version-2 map ("v": 2).',
            v1,
            B,
            replaced_by(v2_body),
            "InvalidField",
        ),
        refused_body(
            "body-v1-in-envelope-v2",
            'An envelope of v = 2 whose body is a version-1 map (no "v").',
            base,
            B,
            replaced_by(v1_body),
            "InvalidField",
        ),
        refused_body(
            "business-missing",
            "A version-2 body without its 'business' map.",
            base,
            B,
            lambda body: body.pop("business"),
            "InvalidField",
        ),
        refused_body(
            "signer-missing",
            "A version-2 body whose signer is nil: version 2 requires the signature block.",
            base,
            B,
            metadata_set(signer=None),
            "InvalidField",
        ),
        refused_body(
            "acts-for-without-authority",
            "signer.acts_for 'Chánh Văn phòng' with authority '': acts_for comes only with an "
            "authority.",
            base,
            B,
            signer_set(authority=""),
            "InvalidField",
        ),
        refused_body(
            "authority-without-acts-for",
            "signer.authority 'KT.' with acts_for '': an authority names whom it acts for.",
            base,
            B,
            signer_set(acts_for=""),
            "InvalidField",
        ),
        refused_body(
            "flash-scheduled-without-time",
            "urgency 4 (hỏa tốc hẹn giờ) with scheduled_at nil.",
            base,
            B,
            metadata_set(urgency=4, scheduled_at=None),
            "InvalidField",
        ),
        refused_body(
            "scheduled-at-not-a-time",
            "urgency 4 with scheduled_at '2025-02-30T08:00' (no 30 February).",
            base,
            B,
            metadata_set(urgency=4, scheduled_at="2025-02-30T08:00"),
            "InvalidField",
        ),
        refused_body(
            "scheduled-at-without-flash",
            "urgency 3 with scheduled_at '2025-11-25T08:00': only urgency 4 names a time.",
            base,
            B,
            metadata_set(urgency=3, scheduled_at="2025-11-25T08:00"),
            "InvalidField",
        ),
        refused_body(
            "number-other-script-digit",
            "number '0\u0665': an Arabic-Indic five is not an ASCII digit.",
            base,
            B,
            metadata_set(number="0\u0665"),
            "InvalidField",
        ),
        refused_body(
            "number-trailing-newline",
            "number '05\\n'.",
            base,
            B,
            metadata_set(number="05\n"),
            "InvalidField",
        ),
        refused_body(
            "number-as-integer",
            "number as the integer 2340 (version 1's form) in a version-2 body.",
            base,
            B,
            metadata_set(number=2340),
            "InvalidField",
        ),
        refused_body(
            "notation-with-space",
            "notation 'VP TTTH': a notation holds no space.",
            base,
            B,
            metadata_set(notation="VP TTTH"),
            "InvalidField",
        ),
        refused_body(
            "extension-name-uppercase",
            "Extension field 'Sphere': names are lowercase.",
            base,
            B,
            metadata_set(ext={"Sphere": "x"}),
            "InvalidField",
        ),
        refused_body(
            "extension-name-space",
            "Extension field 'sphere detail': a name holds no space.",
            base,
            B,
            metadata_set(ext={"sphere detail": "x"}),
            "InvalidField",
        ),
        refused_body(
            "extension-name-newline",
            "Extension field 'sphere\\n'.",
            base,
            B,
            metadata_set(ext={"sphere\n": "x"}),
            "InvalidField",
        ),
        refused_body(
            "extension-name-binary",
            "Extension map {'sphere': 'x', bin 'b': 1}: a bin key is not a field name.",
            base,
            B,
            metadata_set(ext={"sphere": "x", b"b": 1}),
            "InvalidField",
        ),
        refused_body(
            "extension-value-map",
            "Extension field 'sphere' whose value is a map.",
            base,
            B,
            metadata_set(ext={"sphere": {"a": 1}}),
            "InvalidField",
        ),
        refused_body(
            "extension-too-many",
            f"{MAX_EXTENSIONS + 1} extension fields (MAX_EXTENSIONS is {MAX_EXTENSIONS}).",
            base,
            B,
            metadata_set(ext={f"x{i:02d}": i for i in range(MAX_EXTENSIONS + 1)}),
            "LimitExceeded",
        ),
        refused_body(
            "v1-urgency-4",
            "A version-1 body with urgency 4: version 1 has urgencies 0 to 3.",
            v1,
            B,
            metadata_set(urgency=4),
            "InvalidField",
        ),
        refused_body(
            "v1-number-as-text",
            "A version-1 body with number '05' (text): version 1's number is an integer.",
            v1,
            B,
            metadata_set(number="05"),
            "InvalidField",
        ),
    ]


def envelopes() -> dict:
    return file_document(
        "envelopes",
        "keys: signer hint -> Ed25519 public key known to the verifier; open_as: the unit "
        "that decrypts (its X25519 private key is the raw 32-byte scalar); source: the "
        "version-2 body a version-1 envelope was written from.",
        valid_vectors() + version_1_vectors() + invalid_vectors(),
    )
