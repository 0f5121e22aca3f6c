"""Attachment cipher: libsodium secretstream XChaCha20-Poly1305 in fixed 64 KiB chunks.

Layout: a 24-byte header, then chunks of CHUNK_SIZE + ABYTES ciphertext bytes, each tagged
TAG_MESSAGE, and one last chunk (shorter, possibly of 0 plaintext bytes) tagged TAG_FINAL.
A stream without the final tag is truncated and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import nacl.bindings as sodium
import nacl.exceptions

from lienthong.crypto.errors import DecryptionError, TruncatedStreamError

# Plaintext bytes per chunk: memory per stream stays near this, whatever the file size.
CHUNK_SIZE = 64 * 1024
HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES  # 17: tag byte + Poly1305 MAC
KEY_BYTES = sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES  # 32
FULL_CHUNK_BYTES = CHUNK_SIZE + ABYTES

TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


def ciphertext_size(plain_size: int) -> int:
    """Bytes of the whole stream (header included) for plain_size bytes of plaintext."""
    if plain_size < 0:
        raise ValueError(f"plain_size must not be negative, got {plain_size}")
    chunks = plain_size // CHUNK_SIZE + 1  # full chunks, then one final (maybe empty) chunk
    return HEADER_BYTES + plain_size + chunks * ABYTES


class StreamEncryptor:
    """Encrypts a stream fed in pieces of any size; holds at most one chunk of plaintext."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"stream key must be {KEY_BYTES} bytes, got {len(key)}")
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        self.header: bytes = sodium.crypto_secretstream_xchacha20poly1305_init_push(
            self._state, bytes(key)
        )
        self._buffer = bytearray()
        self._finalized = False

    def update(self, data: bytes) -> bytes:
        """Ciphertext of every chunk completed by data (possibly b"")."""
        return b"".join(self.update_pieces(data))

    def update_pieces(self, data: bytes) -> list[bytes]:
        """As `update`, but each chunk's ciphertext apart (no copy to join them): for a
        caller that writes them out one by one. Whole chunks of `data` are encrypted
        straight from it; only a tail shorter than a chunk is buffered."""
        if self._finalized:
            raise ValueError("stream encryptor is already finalized")
        out = []
        start = 0
        if self._buffer:
            start = min(CHUNK_SIZE - len(self._buffer), len(data))
            self._buffer += data[:start]
            if len(self._buffer) < CHUNK_SIZE:
                return out
            out.append(self._push(bytes(self._buffer), TAG_MESSAGE))
            self._buffer.clear()
        if start == 0 and len(data) == CHUNK_SIZE:
            out.append(self._push(bytes(data), TAG_MESSAGE))  # no copy for bytes
            return out
        view = memoryview(data)
        while len(data) - start >= CHUNK_SIZE:
            out.append(self._push(bytes(view[start : start + CHUNK_SIZE]), TAG_MESSAGE))
            start += CHUNK_SIZE
        self._buffer += view[start:]
        return out

    def finalize(self) -> bytes:
        """The last chunk, tagged final, holding whatever plaintext is still buffered."""
        if self._finalized:
            raise ValueError("stream encryptor is already finalized")
        self._finalized = True
        last = self._push(bytes(self._buffer), TAG_FINAL)
        self._buffer.clear()
        return last

    def _push(self, chunk: bytes, tag: int) -> bytes:
        return sodium.crypto_secretstream_xchacha20poly1305_push(self._state, chunk, None, tag)


class StreamDecryptor:
    """Decrypts ciphertext fed in pieces of any size; holds at most one chunk of it.

    The last chunk is shorter than the others, and nothing marks where it ends but its
    authentication tag: while the buffered tail is shorter than a full chunk, each update
    tries to open it as the final chunk (libsodium leaves the state untouched on failure).
    That costs one MAC over the tail per call, so feed pieces of kilobytes, not single bytes.
    """

    def __init__(self, key: bytes, header: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise DecryptionError(f"stream key is {len(key)} bytes, expected {KEY_BYTES}")
        if len(header) != HEADER_BYTES:
            raise DecryptionError(f"stream header is {len(header)} bytes, expected {HEADER_BYTES}")
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(
            self._state, bytes(header), bytes(key)
        )
        self._buffer = bytearray()
        self._chunk_index = 0
        self._final_seen = False

    def update(self, data: bytes) -> bytes:
        """Plaintext of every chunk completed by data, the final one included."""
        if self._final_seen:
            if data:
                raise DecryptionError("stream has data after its final chunk")
            return b""
        self._buffer += data
        out = []
        start = 0
        while len(self._buffer) - start >= FULL_CHUNK_BYTES:
            chunk = bytes(self._buffer[start : start + FULL_CHUNK_BYTES])
            start += FULL_CHUNK_BYTES
            plain, tag = self._pull(chunk)
            out.append(plain)
            if tag == TAG_FINAL:
                if len(self._buffer) > start:
                    raise DecryptionError("stream has data after its final chunk")
                break
        del self._buffer[:start]
        if not self._final_seen and len(self._buffer) >= ABYTES:
            out.append(self._try_final())
        return b"".join(out)

    def finalize(self) -> None:
        """Check the stream ended with its final chunk; TruncatedStreamError otherwise."""
        if self._final_seen:
            return
        if self._buffer:
            raise TruncatedStreamError(
                f"stream ends inside chunk {self._chunk_index}: {len(self._buffer)} bytes left "
                "over do not open as a final chunk (cut short, altered, or followed by extra data)"
            )
        raise TruncatedStreamError(
            f"stream ends after {self._chunk_index} chunks without its final chunk"
        )

    def _try_final(self) -> bytes:
        """Open the buffered tail if it is a complete final chunk; else keep buffering."""
        try:
            plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self._state, bytes(self._buffer), None
            )
        except nacl.exceptions.CryptoError:
            return b""
        if tag != TAG_FINAL:
            raise DecryptionError(
                f"chunk {self._chunk_index} is shorter than {CHUNK_SIZE} bytes but not final"
            )
        self._chunk_index += 1
        self._final_seen = True
        self._buffer.clear()
        return plain

    def _pull(self, chunk: bytes) -> tuple[bytes, int]:
        try:
            plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(self._state, chunk, None)
        except nacl.exceptions.CryptoError:
            raise DecryptionError(
                f"chunk {self._chunk_index} does not authenticate (altered, reordered, "
                "or the wrong key or header)"
            ) from None
        if tag not in (TAG_MESSAGE, TAG_FINAL):
            raise DecryptionError(f"chunk {self._chunk_index} has unexpected tag {tag}")
        self._chunk_index += 1
        self._final_seen = tag == TAG_FINAL
        return plain, tag


def encrypt_chunks(key: bytes, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Encrypt an iterable of plaintext pieces; the first item yielded is the header."""
    encryptor = StreamEncryptor(key)
    yield encryptor.header
    for piece in chunks:
        out = encryptor.update(piece)
        if out:
            yield out
    yield encryptor.finalize()


def decrypt_chunks(key: bytes, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decrypt an iterable of ciphertext pieces (header first, split anywhere)."""
    header = bytearray()
    decryptor: StreamDecryptor | None = None
    for piece in chunks:
        if decryptor is None:
            header += piece
            if len(header) < HEADER_BYTES:
                continue
            decryptor = StreamDecryptor(key, bytes(header[:HEADER_BYTES]))
            piece = bytes(header[HEADER_BYTES:])
        out = decryptor.update(piece)
        if out:
            yield out
    if decryptor is None:
        raise TruncatedStreamError(
            f"stream ends inside its {HEADER_BYTES}-byte header ({len(header)} bytes)"
        )
    decryptor.finalize()
