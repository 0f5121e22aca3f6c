"""Vectors of document envelopes: valid ones opened by a recipient, and each refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack
import nacl.public

from lienthong.crypto import aead, signing
from lienthong.protocol import wire
from lienthong.protocol.document import DocumentBody, body_to_wire
from lienthong.protocol.envelope import BODY_AAD_PREFIX, seal_envelope
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.limits import MAX_ENVELOPE_BYTES
from tests.protocol.fixtures import NOW, A, B, C, counter_random, keys, letter_2340
from tests.vectors.common import (
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
from tests.vectors.make_streams import attachments, stream_parts

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


def ok(raw: bytes, header: dict, body: DocumentBody, open_as: str | None) -> dict:
    """What a verifier must find: the header, the hash of the bytes, and the opened body."""
    found: dict[str, Any] = {"header": header, "sha256": sha256_hex(raw)}
    if open_as is not None:
        m = inner(raw)
        sealed_key = m["body"]["keys"][m["header"]["recipients"].index(open_as)]
        found["content_key"] = hx(
            nacl.public.SealedBox(keys(open_as).encryption).decrypt(sealed_key)
        )
        found["body"] = jsonable(body_to_wire(body))
    return {"ok": found}


def with_body_changed(raw: bytes, opener: str, change: Callable[[dict], Any]) -> bytes:
    """`raw` with its body decrypted (as `opener`), changed by `change`, encrypted again under
    the same content key and nonce, and signed again by A: what a sender that skips its own
    checks (5.2) would send."""
    m = inner(raw)
    content_key = nacl.public.SealedBox(keys(opener).encryption).decrypt(
        m["body"]["keys"][m["header"]["recipients"].index(opener)]
    )
    aad = BODY_AAD_PREFIX + m["header"]["id"].encode()
    plaintext = aead.decrypt(content_key, m["body"]["nonce"], m["body"]["ciphertext"], aad)
    body = msgpack.unpackb(plaintext)
    change(body)
    m["body"]["ciphertext"] = aead.encrypt(content_key, m["body"]["nonce"], wire.pack(body), aad)
    return resign(m, signing.ENVELOPE, HINT, A)


def refused(name: str, description: str, signed_map: dict, error: str) -> dict:
    """A message A signs correctly whose content is refused."""
    raw = resign(signed_map, signing.ENVELOPE, HINT, A)
    return vector(name, description, raw, err(error), keys=KEYS_A)


def valid_vectors() -> list[dict]:
    letter = letter_2340()
    base = seal(letter)
    header = {
        "id": ENV_ID,
        "business": "new",
        "sender": A,
        "serial": 1,
        "recipients": [B, C],
        "created": NOW,
        "reply_to": None,
        "target": None,
        "blobs": [],
    }
    att = attachments()
    with_att = seal(letter_2340(att), (B,), label="attachments")
    sizes = [len(stream_parts()[n][2]) for n in ("short", "two-chunks")]
    att_header = {
        **header,
        "recipients": [B],
        "blobs": [{"id": a.blob, "size": s} for a, s in zip(att, sizes, strict=True)],
    }
    update_id = new_ulid(NOW + MINUTE, counter_random("envelope-id-update"))
    update = seal(
        letter,
        (C,),
        envelope_id=update_id,
        created=NOW + MINUTE,
        label="update",
        business="update",
        target=ENV_ID,
    )
    update_header = {
        **header,
        "id": update_id,
        "business": "update",
        "recipients": [C],
        "created": NOW + MINUTE,
        "target": ENV_ID,
    }
    bad_blobs = inner(with_att)
    bad_blobs["header"]["blobs"][0]["size"] += 1
    padded = with_body_changed(
        with_att,
        B,
        lambda body: body["attachments"][0].update(name="hop-dong.pdf" + " " * 120 + ".exe"),
    )
    return [
        vector(
            "letter-2340",
            "Letter 2340/VP-TTTH from A to B and C, opened by B.",
            base,
            ok(base, header, letter, B),
            keys=KEYS_A,
            open_as=recipient(B),
        ),
        vector(
            "letter-2340-verify-only",
            "The same bytes checked by a relay, which holds no private key: header only.",
            base,
            ok(base, header, letter, None),
            keys=KEYS_A,
        ),
        vector(
            "with-attachments",
            "The letter to B with two attachments whose blobs are streams.json 'short' and "
            "'two-chunks'; the header lists their blob ids and ciphertext sizes.",
            with_att,
            ok(with_att, att_header, letter_2340(att), B),
            keys=KEYS_A,
            open_as=recipient(B),
        ),
        vector(
            "update",
            "An update (edXML business type 2) of letter-2340 to C, naming it as its target.",
            update,
            ok(update, update_header, letter, C),
            keys=KEYS_A,
            open_as=recipient(C),
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


def invalid_vectors() -> list[dict]:
    base = seal(letter_2340())
    m = inner(base)
    hdr = m["header"]
    no_created = {k: v for k, v in hdr.items() if k != "created"}
    w = split(base)
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
        refused(
            "update-without-target",
            "Signed correctly with business 'update' and target nil.",
            {**m, "header": {**hdr, "business": "update"}},
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
    ]


def envelopes() -> dict:
    return file_document(
        "envelopes",
        "keys: signer hint -> Ed25519 public key known to the verifier; open_as: the unit "
        "that decrypts (its X25519 private key is the raw 32-byte scalar).",
        valid_vectors() + invalid_vectors(),
    )
