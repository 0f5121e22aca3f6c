"""Attachments: encrypt a file into a blob and decrypt a blob back, streaming, memory flat."""

from __future__ import annotations

import hashlib
import mimetypes
import os
from pathlib import Path

from crypto import aead
from crypto.errors import LienthongError
from crypto.stream import CHUNK_SIZE, StreamDecryptor, StreamEncryptor
from protocol.document import Attachment
from protocol.limits import MAX_ATTACHMENT_SIZE
from storage.blobs import BlobStore

READ_SIZE = CHUNK_SIZE * 16  # 1 MiB reads: few system calls, bounded memory


class AttachmentError(LienthongError):
    """An attachment cannot be read, encrypted, found or verified."""


def encrypt_file(blobs: BlobStore, path: Path, *, name: str | None = None) -> Attachment:
    """Encrypt `path` with a fresh key into the blob store; return its manifest entry."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AttachmentError(f"cannot read attachment {path}: {exc.strerror}") from None
    if size > MAX_ATTACHMENT_SIZE:
        raise AttachmentError(
            f"attachment {path} is {size} bytes; the limit is {MAX_ATTACHMENT_SIZE}"
        )
    key = aead.random_key()
    encryptor = StreamEncryptor(key)
    plain_hash = hashlib.sha256()
    with blobs.writer() as writer, path.open("rb") as source:
        writer.write(encryptor.header)
        while chunk := source.read(READ_SIZE):
            plain_hash.update(chunk)
            writer.write(encryptor.update(chunk))
        writer.write(encryptor.finalize())
        info = writer.commit()
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Attachment(
        name=name or path.name,
        media_type=media_type,
        size=size,
        sha256=plain_hash.digest(),
        blob=info.id,
        key=key,
    )


def decrypt_to(blobs: BlobStore, attachment: Attachment, out: Path) -> None:
    """Decrypt an attachment's blob into `out` (temp file, hash checked, then renamed)."""
    if not blobs.exists(attachment.blob):
        raise AttachmentError(f"attachment {attachment.name!r}: blob {attachment.blob} is missing")
    tmp = out.with_name(f".{out.name}.partial")
    plain_hash = hashlib.sha256()
    size = 0
    with blobs.open(attachment.blob) as source, tmp.open("wb") as sink:
        decryptor = StreamDecryptor(attachment.key, source.read(24))
        while chunk := source.read(READ_SIZE):
            plain = decryptor.update(chunk)
            plain_hash.update(plain)
            size += len(plain)
            sink.write(plain)
        decryptor.finalize()
        sink.flush()
        os.fsync(sink.fileno())
    if plain_hash.digest() != attachment.sha256 or size != attachment.size:
        tmp.unlink(missing_ok=True)
        raise AttachmentError(
            f"attachment {attachment.name!r} does not match its manifest (hash or size)"
        )
    os.replace(tmp, out)


def iter_plaintext(blobs: BlobStore, attachment: Attachment):
    """Yield the decrypted bytes of an attachment (for streaming downloads)."""
    with blobs.open(attachment.blob) as source:
        decryptor = StreamDecryptor(attachment.key, source.read(24))
        while chunk := source.read(READ_SIZE):
            yield decryptor.update(chunk)
        decryptor.finalize()
