"""Vectors of attachment blobs: secretstream ciphertext with a fixed header."""

from __future__ import annotations

import hashlib
from typing import Any

import nacl.bindings as sodium

from lienthong.crypto.stream import ABYTES, CHUNK_SIZE, HEADER_BYTES, TAG_FINAL, TAG_MESSAGE
from lienthong.protocol.document import Attachment
from tests.protocol.fixtures import counter_random
from tests.vectors.common import err, file_document, hx, sha256_hex, vector

SHORT_TEXT = (
    "DANH SÁCH CÁC ĐƠN VỊ ĐÃ TRIỂN KHAI PHẦN MỀM eOFFICE\n"
    "1. Văn phòng UBND tỉnh — Đã triển khai\n"
    "2. Sở Nội vụ — Đã triển khai\n"
    "3. Sở Tài chính — Thử nghiệm\n"
).encode()
LONG_LENGTH = CHUNK_SIZE + 100  # one full chunk and a final chunk of 100 bytes


def encrypt_stream(key: bytes, header: bytes, plaintext: bytes) -> bytes:
    """secretstream ciphertext (header included) with a chosen header, so it is reproducible.

    libsodium's init_push draws the header at random. init_pull with a chosen header
    leaves the state exactly as init_push would have for that header, so push then
    produces the bytes a sender who drew that header would produce.
    """
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    out = [header]
    full = len(plaintext) // CHUNK_SIZE
    for i in range(full):
        chunk = plaintext[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE]
        out.append(
            sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, None, TAG_MESSAGE)
        )
    last = plaintext[full * CHUNK_SIZE :]
    out.append(sodium.crypto_secretstream_xchacha20poly1305_push(state, last, None, TAG_FINAL))
    return b"".join(out)


def pattern(length: int) -> bytes:
    """Plaintext of the long stream: byte i is i mod 251."""
    return bytes(i % 251 for i in range(length))


def stream_parts() -> dict[str, tuple[bytes, bytes, bytes]]:
    """name -> (key, plaintext, ciphertext) of the two valid streams."""
    parts = {}
    for name, plain in (("short", SHORT_TEXT), ("two-chunks", pattern(LONG_LENGTH))):
        key = counter_random(f"stream-key-{name}")(32)
        header = counter_random(f"stream-header-{name}")(HEADER_BYTES)
        parts[name] = (key, plain, encrypt_stream(key, header, plain))
    return parts


def attachments() -> tuple[Attachment, ...]:
    """The manifest entries of the two streams, as envelope with-attachments carries them."""
    parts = stream_parts()
    return tuple(
        Attachment(
            name=name,
            media_type=media,
            size=len(plain),
            sha256=hashlib.sha256(plain).digest(),
            blob=sha256_hex(ct),
            key=key,
        )
        for name, media, (key, plain, ct) in (
            ("danh-sach-don-vi.txt", "text/plain; charset=utf-8", parts["short"]),
            ("bang-tong-hop.bin", "application/octet-stream", parts["two-chunks"]),
        )
    )


def streams() -> dict:
    parts = stream_parts()
    vectors = []
    for name, (key, plain, ct) in parts.items():
        plain_field: Any = (
            hx(plain) if name == "short" else {"length": len(plain), "rule": "i % 251"}
        )
        ok = {
            "blob_id": sha256_hex(ct),
            "size": len(plain),
            "sha256": sha256_hex(plain),
            "chunks": len(plain) // CHUNK_SIZE + 1,
        }
        vectors.append(
            vector(
                name,
                f"A valid attachment stream of {len(plain)} plaintext bytes.",
                ct,
                {"ok": ok},
                key=hx(key),
                plaintext=plain_field,
            )
        )
    key, plain, ct = parts["two-chunks"]
    cut = len(ct) - (len(plain) % CHUNK_SIZE + ABYTES)
    flip = HEADER_BYTES + 100
    vectors += [
        vector(
            "truncated",
            "two-chunks cut before its final chunk: it ends on a TAG_MESSAGE chunk.",
            None,
            err("TruncatedStreamError"),
            key=hx(key),
            derived={"from": "two-chunks", "truncate_to": cut},
        ),
        vector(
            "altered",
            "two-chunks with one bit of chunk 0 flipped.",
            None,
            err("DecryptionError"),
            key=hx(key),
            derived={"from": "two-chunks", "xor": {"offset": flip, "mask": 1}},
        ),
    ]
    return file_document(
        "streams",
        "Attachment blobs: libsodium secretstream XChaCha20-Poly1305 in 64 KiB chunks; "
        "bytes is the whole blob (24-byte header, then chunks); derived: the bytes of another "
        "vector, cut to truncate_to bytes or with the byte at offset XORed with mask.",
        vectors,
        chunk_size=CHUNK_SIZE,
    )
