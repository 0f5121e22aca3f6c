"""Streams sealed with a passphrase: round trip, wrong passphrase, altered or cut bodies."""

import io

import nacl.pwhash.argon2id as argon2id
import pytest

from lienthong.crypto import sealed_stream as ss
from lienthong.crypto.errors import DecryptionError, TruncatedStreamError, WrongPassphraseError
from lienthong.crypto.stream import CHUNK_SIZE

FAST = {"opslimit": argon2id.OPSLIMIT_MIN, "memlimit": argon2id.MEMLIMIT_MIN}
PASS = "cụm mật khẩu sao lưu".encode()


def seal(plain: bytes, passphrase: bytes = PASS, piece: int = 10_000) -> bytes:
    sink = io.BytesIO()
    writer = ss.SealingWriter(sink, passphrase, **FAST)
    for start in range(0, len(plain), piece):
        assert writer.write(plain[start : start + piece]) == len(plain[start : start + piece])
    writer.finish()
    return sink.getvalue()


def unseal(sealed: bytes, passphrase: bytes = PASS, piece: int = 7_777) -> bytes:
    reader = ss.UnsealingReader(io.BytesIO(sealed), passphrase, "the test stream")
    out = bytearray()
    while chunk := reader.read(piece):
        out += chunk
    return bytes(out)


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, 3 * CHUNK_SIZE + 5])
def test_round_trip_across_chunk_boundaries(size):
    """Any length, written and read in pieces that do not match the chunks, comes back."""
    plain = bytes(range(256)) * (size // 256) + bytes(size % 256)
    sealed = seal(plain)
    assert ss.is_sealed(sealed[:64]) and not ss.is_sealed(plain[:64])
    assert plain[:32] not in sealed or size < 32
    assert unseal(sealed) == plain
    whole = ss.UnsealingReader(io.BytesIO(sealed), PASS, "s")
    assert whole.read() == plain and whole.read() == b""


def test_wrong_passphrase_is_refused_before_any_plaintext():
    """A wrong passphrase fails the header check, naming the stream."""
    sealed = seal(b"x" * 1000)
    with pytest.raises(WrongPassphraseError, match="the test stream"):
        ss.UnsealingReader(io.BytesIO(sealed), b"sai mat khau", "the test stream")


def test_altered_header_or_body_and_cut_streams_are_refused():
    """The header is checked under the key; every chunk is authenticated; a stream
    without its final chunk is cut short."""
    plain = b"van ban " * 30_000
    sealed = seal(plain)
    size = int.from_bytes(sealed[len(ss.MAGIC) : len(ss.MAGIC) + 2], "big")
    check_at = len(ss.MAGIC) + 2 + size
    header = bytearray(sealed)
    header[check_at] ^= 1
    with pytest.raises(WrongPassphraseError):
        unseal(bytes(header))
    limits = sealed.replace(b'"opslimit": 1', b'"opslimit": 2', 1)
    assert limits != sealed
    with pytest.raises(WrongPassphraseError):
        unseal(limits)
    body = bytearray(sealed)
    body[len(sealed) // 2] ^= 1
    with pytest.raises(DecryptionError):
        unseal(bytes(body))
    with pytest.raises(TruncatedStreamError):
        unseal(sealed[: len(sealed) - 100])
    with pytest.raises(DecryptionError, match="not a lienthong sealed stream"):
        unseal(b"PK\x03\x04 a zip file")
