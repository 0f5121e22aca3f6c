"""Byte streams sealed with a passphrase (encrypted backups): argon2id, a keyed header check,
then the secretstream cipher of crypto/stream.py, so any size passes in bounded memory.

Layout:
    MAGIC                       b"lienthong sealed stream\\n"
    header length               2 bytes, big-endian, at most MAX_HEADER_BYTES
    header                      JSON {"format", "version", "kdf"}: the argon2id salt and
                                limits (crypto/keystore.py new_kdf)
    check                       32 bytes: BLAKE2b of the three fields above, keyed with the
                                key argon2id derives from the passphrase
    body                        crypto/stream.py's secretstream of the plaintext

A wrong passphrase fails the check before any plaintext is produced (WrongPassphraseError);
an altered, reordered or cut body fails its chunk authentication (DecryptionError).
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

import nacl.bindings
import nacl.hash
from nacl.encoding import RawEncoder

from lienthong.crypto.errors import DecryptionError, KeystoreError, WrongPassphraseError
from lienthong.crypto.keystore import DEFAULT_MEMLIMIT, DEFAULT_OPSLIMIT, derive_key, new_kdf
from lienthong.crypto.stream import HEADER_BYTES, StreamDecryptor, StreamEncryptor

MAGIC = b"lienthong sealed stream\n"
FORMAT = "lienthong-sealed-stream"
VERSION = 1
# The header holds a salt and two limits (about 150 bytes); a larger one is not ours.
MAX_HEADER_BYTES = 4096
CHECK_BYTES = 32
# Ciphertext read per step when unsealing: a few secretstream chunks.
READ_SIZE = 256 * 1024
_CHECK_PERSON = b"lt-sealed-check"  # BLAKE2b personalisation: at most 16 bytes
_BODY_PERSON = b"lt-sealed-body"


def is_sealed(head: bytes) -> bool:
    """Whether bytes read from the start of a file begin a sealed stream."""
    return head.startswith(MAGIC)


def _subkey(master: bytes, person: bytes, data: bytes = b"") -> bytes:
    return nacl.hash.blake2b(data, digest_size=32, key=master, person=person, encoder=RawEncoder)


class SealingWriter:
    """Writes a sealed stream to `sink`: give it plaintext with write(), then call finish().

    The argon2id derivation runs once, in the constructor (about a second at the default
    limits); write() then costs what the stream cipher costs.
    """

    def __init__(
        self,
        sink: BinaryIO,
        passphrase: bytes,
        *,
        opslimit: int = DEFAULT_OPSLIMIT,
        memlimit: int = DEFAULT_MEMLIMIT,
    ) -> None:
        if not passphrase:
            raise KeystoreError("the passphrase to seal with is empty")
        kdf = new_kdf(opslimit=opslimit, memlimit=memlimit)
        master = derive_key(passphrase, kdf, "sealed stream")
        header = json.dumps({"format": FORMAT, "version": VERSION, "kdf": kdf}).encode()
        start = MAGIC + len(header).to_bytes(2, "big") + header
        self._sink = sink
        self._encryptor = StreamEncryptor(_subkey(master, _BODY_PERSON))
        sink.write(start + _subkey(master, _CHECK_PERSON, start) + self._encryptor.header)

    def write(self, data: bytes) -> int:
        self._sink.write(self._encryptor.update(bytes(data)))
        return len(data)

    def finish(self) -> None:
        """Write the final chunk: without it, the stream reads as cut short."""
        self._sink.write(self._encryptor.finalize())


class UnsealingReader:
    """Reads the plaintext of a sealed stream from `source` (positioned at its start).

    The constructor checks the passphrase (WrongPassphraseError, naming `where`); read()
    raises DecryptionError if the body was altered, and at the end TruncatedStreamError if
    it was cut short. Holds a few chunks in memory, whatever the stream's size.
    """

    def __init__(self, source: BinaryIO, passphrase: bytes, where: str) -> None:
        magic = source.read(len(MAGIC))
        if magic != MAGIC:
            raise DecryptionError(f"{where} is not a lienthong sealed stream")
        size_bytes = source.read(2)
        size = int.from_bytes(size_bytes, "big")
        if len(size_bytes) != 2 or not 0 < size <= MAX_HEADER_BYTES:
            raise DecryptionError(f"{where}: the header length is missing or over the limit")
        header = source.read(size)
        check = source.read(CHECK_BYTES)
        if len(header) != size or len(check) != CHECK_BYTES:
            raise DecryptionError(f"{where} ends inside its header")
        document = _parse_header(header, where)
        master = derive_key(passphrase, document["kdf"], where)
        expected = _subkey(master, _CHECK_PERSON, magic + size_bytes + header)
        if not nacl.bindings.sodium_memcmp(expected, check):
            raise WrongPassphraseError(
                f"the passphrase does not open {where} (a wrong passphrase, or its header "
                "was altered)"
            )
        stream_header = source.read(HEADER_BYTES)
        self._decryptor = StreamDecryptor(_subkey(master, _BODY_PERSON), stream_header)
        self._source = source
        self._buffer = bytearray()
        self._ended = False

    def read(self, n: int = -1) -> bytes:
        while not self._ended and (n < 0 or len(self._buffer) < n):
            piece = self._source.read(READ_SIZE)
            if piece:
                self._buffer += self._decryptor.update(piece)
            else:
                self._decryptor.finalize()
                self._ended = True
        if n < 0 or n >= len(self._buffer):
            out = bytes(self._buffer)
            self._buffer.clear()
        else:
            out = bytes(self._buffer[:n])
            del self._buffer[:n]
        return out


def _parse_header(header: bytes, where: str) -> dict[str, Any]:
    try:
        document = json.loads(header)
    except ValueError:
        raise DecryptionError(f"{where}: the header is not JSON") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DecryptionError(f"{where}: the header is not a {FORMAT} header")
    if document.get("version") != VERSION:
        raise DecryptionError(
            f"{where}: sealed stream version {document.get('version')!r} is not {VERSION}"
        )
    if "kdf" not in document:
        raise DecryptionError(f"{where}: the header has no kdf")
    return document
