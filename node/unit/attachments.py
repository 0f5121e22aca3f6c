"""Attachments: encrypt a file into a blob and decrypt a blob back, streaming, memory flat."""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from lienthong.crypto import aead
from lienthong.crypto.errors import LienthongError
from lienthong.crypto.files import create_private
from lienthong.crypto.stream import (
    CHUNK_SIZE,
    StreamDecryptor,
    StreamEncryptor,
    ciphertext_size,
)
from lienthong.node.unit.early_upload import Tee
from lienthong.protocol.document import Attachment
from lienthong.protocol.limits import MAX_ATTACHMENT_SIZE
from lienthong.storage.blobs import BlobStore

READ_SIZE = CHUNK_SIZE * 16  # 1 MiB reads: few system calls, bounded memory

# progress(done, total): plaintext bytes so far and in all, called from the thread doing
# the work; `done` never decreases, and reaches `total` in one last call once the work
# succeeded (the bytes hashed and checked, the file in place).
Progress = Callable[[int, int], None]


# A file name is at most 255 bytes on Linux file systems (ext4, XFS, btrfs: NAME_MAX) and
# 255 UTF-16 units on NTFS; an export's temp file adds "." and ".partial" (decrypt_to).
MAX_FILE_NAME_BYTES = 255
MAX_EXPORT_NAME_BYTES = MAX_FILE_NAME_BYTES - len(".") - len(".partial")
# An extension kept whole when a name is shortened ("pdf", "docx", "tar.gz" keeps "gz").
MAX_EXTENSION_BYTES = 16
SHORTENED = "…"  # marks where a shortened name was cut


class AttachmentError(LienthongError):
    """An attachment cannot be read, encrypted, found or verified."""


def _size(path: Path) -> int:
    """The attachment's size in bytes, refused above MAX_ATTACHMENT_SIZE."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AttachmentError(f"cannot read attachment {path}: {exc.strerror}") from None
    if size > MAX_ATTACHMENT_SIZE:
        raise AttachmentError(
            f"attachment {path} is {size} bytes; the limit is {MAX_ATTACHMENT_SIZE}"
        )
    return size


def encrypt_file(
    blobs: BlobStore,
    path: Path,
    *,
    name: str | None = None,
    progress: Progress | None = None,
    tee: Tee | None = None,
) -> Attachment:
    """Encrypt `path` with a fresh key into the blob store; return its manifest entry.
    With `tee`, the ciphertext also goes, as it is made, to the letter's early uploads."""
    path = Path(path)
    size = _size(path)
    key = aead.random_key()
    encryptor = StreamEncryptor(key)
    plain_hash = hashlib.sha256()
    done = 0
    # The plaintext's SHA-256 (the manifest's) runs in a second thread beside the encryption
    # and the blob's own SHA-256 (its id): both are on the wire, over different bytes, and
    # hashlib and libsodium let go of the GIL, so on two cores the hashes overlap.
    with (
        blobs.writer() as writer,
        path.open("rb") as source,
        ThreadPoolExecutor(1, thread_name_prefix="plain-sha256") as hasher,
    ):
        writer.write(encryptor.header)
        teed = tee is not None and tee.begin(ciphertext_size(size))
        unsent = [encryptor.header]  # for the tee: bytes written but not yet teed
        hashing: Future[None] | None = None
        try:
            while block := source.read(READ_SIZE):
                done += len(block)
                if done > size:  # the manifest's size must be the bytes encrypted
                    raise AttachmentError(f"attachment {path} grew while it was being encrypted")
                if hashing is not None:
                    hashing.result()
                hashing = hasher.submit(plain_hash.update, block)
                pieces = encryptor.update_pieces(block)
                writer.write_many(pieces)
                if teed:
                    tee.write(b"".join(unsent + pieces))  # type: ignore[union-attr]
                    unsent = []
                if progress is not None and done < size:
                    progress(done, size)
            if done != size:
                raise AttachmentError(f"attachment {path} shrank while it was being encrypted")
            final = encryptor.finalize()
            writer.write(final)
            if teed:
                tee.write(b"".join([*unsent, final]))  # type: ignore[union-attr]
                tee.end()  # type: ignore[union-attr]
        except BaseException:
            if teed:
                tee.abort()  # type: ignore[union-attr]
            raise
        finally:
            if hashing is not None:
                hashing.result()
        info = writer.commit()
    if progress is not None:
        progress(size, size)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Attachment(
        name=name or path.name,
        media_type=media_type,
        size=size,
        sha256=plain_hash.digest(),
        blob=info.id,
        key=key,
    )


def encrypt_files(
    blobs: BlobStore,
    paths: Sequence[Path],
    *,
    progress: Progress | None = None,
    tee: Tee | None = None,
) -> tuple[Attachment, ...]:
    """Encrypt several files (encrypt_file each); `progress` follows the bytes of them all."""
    paths = [Path(p) for p in paths]
    total = sum(_size(p) for p in paths)  # every file is checked before any is encrypted
    attachments: list[Attachment] = []
    for path in paths:
        on_file = None
        if progress is not None:
            on_file = _offset(progress, sum(a.size for a in attachments), total)
        attachments.append(encrypt_file(blobs, path, progress=on_file, tee=tee))
    if progress is not None:
        progress(total, total)
    return tuple(attachments)


def _offset(progress: Progress, before: int, total: int) -> Progress:
    """One file's progress as part of all files' (kept below the total until all are done)."""
    return lambda done, _: progress(min(before + done, max(total - 1, 0)), total)


def decrypt_to(
    blobs: BlobStore, attachment: Attachment, out: Path, *, progress: Progress | None = None
) -> None:
    """Decrypt an attachment's blob into `out` (temp file created 0600, hash checked, then
    renamed): the plaintext of a letter is readable by its owner only.
    `progress(done, attachment.size)` follows the plaintext written."""
    if not blobs.exists(attachment.blob):
        raise AttachmentError(f"attachment {attachment.name!r}: blob {attachment.blob} is missing")
    tmp = out.with_name(f".{out.name}.partial")
    plain_hash = hashlib.sha256()
    size = 0
    with blobs.open(attachment.blob) as source, create_private(tmp, replace=True) as sink:
        decryptor = StreamDecryptor(attachment.key, source.read(24))
        while chunk := source.read(READ_SIZE):
            plain = decryptor.update(chunk)
            plain_hash.update(plain)
            size += len(plain)
            sink.write(plain)
            if progress is not None and plain and size < attachment.size:
                progress(size, attachment.size)
        decryptor.finalize()
        sink.flush()
        os.fsync(sink.fileno())
    if plain_hash.digest() != attachment.sha256 or size != attachment.size:
        tmp.unlink(missing_ok=True)
        raise AttachmentError(
            f"attachment {attachment.name!r} does not match its manifest (hash or size)"
        )
    os.replace(tmp, out)
    if progress is not None:
        progress(attachment.size, attachment.size)


def iter_plaintext(blobs: BlobStore, attachment: Attachment):
    """Yield the decrypted bytes of an attachment (for streaming downloads)."""
    with blobs.open(attachment.blob) as source:
        decryptor = StreamDecryptor(attachment.key, source.read(24))
        while chunk := source.read(READ_SIZE):
            yield decryptor.update(chunk)
        decryptor.finalize()


def export_name(name: str, taken: set[str]) -> str:
    """The file name to write attachment `name` under, added to `taken`: the name itself if
    it fits MAX_EXPORT_NAME_BYTES in UTF-8, else its start cut on a character boundary and
    marked with SHORTENED, before its extension (kept whole up to MAX_EXTENSION_BYTES);
    " (2)", " (3)", ... before the extension when the name is taken already."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension.encode("utf-8")) > MAX_EXTENSION_BYTES:
        stem, extension = name, ""
    tail = f".{extension}" if extension else ""
    copy = 1
    while True:
        candidate = _fitted(stem, (f" ({copy})" if copy > 1 else "") + tail)
        if candidate not in taken:
            taken.add(candidate)
            return candidate
        copy += 1


def _fitted(stem: str, tail: str) -> str:
    if len((stem + tail).encode("utf-8")) <= MAX_EXPORT_NAME_BYTES:
        return stem + tail
    room = MAX_EXPORT_NAME_BYTES - len((SHORTENED + tail).encode("utf-8"))
    cut = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(" .")
    return cut + SHORTENED + tail


async def write_plaintext(response, blobs: BlobStore, attachment: Attachment) -> None:
    """Write an attachment's plaintext into a prepared HTTP response (the clerk's page, the
    integration API), decrypting chunk by chunk off the event loop."""
    chunks = iter_plaintext(blobs, attachment)
    try:
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            await response.write(chunk)
    finally:
        chunks.close()
