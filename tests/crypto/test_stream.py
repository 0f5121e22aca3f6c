"""Tests of crypto.stream: chunked secretstream encryption of attachments."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lienthong.crypto import stream
from lienthong.crypto.errors import DecryptionError, TruncatedStreamError
from lienthong.crypto.stream import (
    ABYTES,
    CHUNK_SIZE,
    HEADER_BYTES,
    StreamDecryptor,
    StreamEncryptor,
    ciphertext_size,
    decrypt_chunks,
    encrypt_chunks,
)

KEY = bytes(range(32))
FULL = CHUNK_SIZE + ABYTES
SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE]


def plaintext(size: int) -> bytes:
    return bytes(i * 7 % 251 for i in range(size))


def encrypt(data: bytes, key: bytes = KEY) -> bytes:
    return b"".join(encrypt_chunks(key, [data]))


def decrypt(blob: bytes, key: bytes = KEY) -> bytes:
    return b"".join(decrypt_chunks(key, [blob]))


def split(blob: bytes) -> tuple[bytes, list[bytes]]:
    """The header and the list of ciphertext chunks of a stream."""
    body = blob[HEADER_BYTES:]
    return blob[:HEADER_BYTES], [body[i : i + FULL] for i in range(0, len(body), FULL)]


def test_constants():
    """Chunk, header and tag sizes are the documented ones."""
    assert CHUNK_SIZE == 65536 and HEADER_BYTES == 24 and ABYTES == 17


@pytest.mark.parametrize("size", SIZES)
def test_round_trip(size):
    """Every boundary size round-trips and has exactly ciphertext_size bytes."""
    data = plaintext(size)
    blob = encrypt(data)
    assert len(blob) == ciphertext_size(size)
    assert decrypt(blob) == data


@pytest.mark.parametrize("size", SIZES)
def test_layout_full_chunks_then_a_shorter_final_one(size):
    """All chunks but the last are CHUNK_SIZE+ABYTES; the last holds size % CHUNK_SIZE bytes."""
    _, chunks = split(encrypt(plaintext(size)))
    assert len(chunks) == size // CHUNK_SIZE + 1
    assert all(len(c) == FULL for c in chunks[:-1])
    assert len(chunks[-1]) == size % CHUNK_SIZE + ABYTES


def test_ciphertext_size_values_and_negative():
    """ciphertext_size counts the header, one tag per chunk, and refuses negative sizes."""
    assert ciphertext_size(0) == 24 + 17
    assert ciphertext_size(CHUNK_SIZE) == 24 + CHUNK_SIZE + 2 * 17
    assert ciphertext_size(CHUNK_SIZE + 1) == 24 + CHUNK_SIZE + 1 + 2 * 17
    with pytest.raises(ValueError, match="negative"):
        ciphertext_size(-1)


def test_encryptor_emits_only_complete_chunks():
    """update returns nothing until a chunk is complete, then exactly one chunk."""
    enc = StreamEncryptor(KEY)
    assert len(enc.header) == HEADER_BYTES
    assert enc.update(b"a" * (CHUNK_SIZE - 1)) == b""
    assert len(enc.update(b"a")) == FULL
    assert len(enc.update(b"a" * (2 * CHUNK_SIZE + 5))) == 2 * FULL
    assert len(enc.finalize()) == 5 + ABYTES


def test_encryptor_refuses_use_after_finalize_and_bad_key():
    """A finalized encryptor cannot be fed; a key that is not 32 bytes is refused."""
    enc = StreamEncryptor(KEY)
    enc.finalize()
    with pytest.raises(ValueError, match="already finalized"):
        enc.update(b"x")
    with pytest.raises(ValueError, match="already finalized"):
        enc.finalize()
    with pytest.raises(ValueError, match="32 bytes"):
        StreamEncryptor(KEY[:16])


def test_decryptor_returns_final_chunk_from_update():
    """The final short chunk's plaintext comes from the update that completes it."""
    header, chunks = split(encrypt(plaintext(CHUNK_SIZE + 10)))
    dec = StreamDecryptor(KEY, header)
    assert dec.update(chunks[0]) == plaintext(CHUNK_SIZE)
    assert dec.update(chunks[1][:5]) == b""
    assert dec.update(chunks[1][5:]) == plaintext(CHUNK_SIZE + 10)[CHUNK_SIZE:]
    assert dec.finalize() is None


def test_two_streams_with_same_key_differ():
    """Each stream has a fresh random header, so equal plaintexts encrypt differently."""
    assert encrypt(b"same") != encrypt(b"same")


def test_wrong_key_fails():
    """A stream does not decrypt under another key."""
    blob = encrypt(plaintext(CHUNK_SIZE + 1))
    with pytest.raises(DecryptionError, match="chunk 0 does not authenticate"):
        decrypt(blob, key=b"\x01" * 32)


def test_decryptor_refuses_bad_key_or_header_length():
    """A key or header of the wrong size is a DecryptionError naming which."""
    with pytest.raises(DecryptionError, match="key is 31 bytes"):
        StreamDecryptor(KEY[:31], b"\x00" * 24)
    with pytest.raises(DecryptionError, match="header is 23 bytes"):
        StreamDecryptor(KEY, b"\x00" * 23)


@pytest.mark.parametrize("size", [0, CHUNK_SIZE, 3 * CHUNK_SIZE])
def test_dropping_the_final_chunk_is_truncation(size):
    """A stream missing its final chunk raises TruncatedStreamError at the end."""
    header, chunks = split(encrypt(plaintext(size)))
    with pytest.raises(TruncatedStreamError, match="without its final chunk"):
        decrypt(header + b"".join(chunks[:-1]))


@pytest.mark.parametrize("cut", [1, ABYTES, 1000, FULL - 1, FULL + 1000])
def test_cutting_mid_chunk_is_truncation(cut):
    """A stream cut inside a chunk raises TruncatedStreamError."""
    blob = encrypt(plaintext(3 * CHUNK_SIZE))
    with pytest.raises(TruncatedStreamError, match="ends inside chunk"):
        decrypt(blob[: HEADER_BYTES + cut])


def test_cutting_inside_the_final_chunk_is_truncation():
    """Losing the last bytes of the final chunk raises TruncatedStreamError."""
    blob = encrypt(plaintext(CHUNK_SIZE + 100))
    with pytest.raises(TruncatedStreamError):
        decrypt(blob[:-1])


def test_cutting_inside_the_header_is_truncation():
    """A stream shorter than its header raises TruncatedStreamError."""
    with pytest.raises(TruncatedStreamError, match="header"):
        decrypt(encrypt(b"abc")[:10])
    with pytest.raises(TruncatedStreamError, match="header"):
        list(decrypt_chunks(KEY, []))


def test_truncation_is_a_decryption_error():
    """Callers catching DecryptionError also catch truncation."""
    assert issubclass(TruncatedStreamError, DecryptionError)


def test_swapping_two_chunks_fails():
    """Reordered chunks do not authenticate."""
    header, chunks = split(encrypt(plaintext(3 * CHUNK_SIZE)))
    chunks[0], chunks[1] = chunks[1], chunks[0]
    with pytest.raises(DecryptionError, match="chunk 0 does not authenticate"):
        decrypt(header + b"".join(chunks))


def test_replaying_a_chunk_fails():
    """A chunk repeated in place of the next one does not authenticate."""
    header, chunks = split(encrypt(plaintext(3 * CHUNK_SIZE)))
    chunks[1] = chunks[0]
    with pytest.raises(DecryptionError, match="chunk 1 does not authenticate"):
        decrypt(header + b"".join(chunks))


@pytest.mark.parametrize("position", [0, HEADER_BYTES, HEADER_BYTES + FULL - 1, -1])
def test_flipping_a_bit_fails(position):
    """One flipped bit anywhere (header, a full chunk, the final chunk) is detected."""
    blob = bytearray(encrypt(plaintext(2 * CHUNK_SIZE + 3)))
    blob[position] ^= 0x80
    with pytest.raises(DecryptionError):
        decrypt(bytes(blob))


def test_data_after_final_chunk_fails():
    """Bytes after the final chunk, in the same piece or a later one, are refused."""
    blob = encrypt(plaintext(10))
    # Glued to a short final chunk, extra bytes hide where that chunk ends: still refused.
    with pytest.raises(DecryptionError, match="followed by extra data"):
        decrypt(blob + b"\x00" * 3)
    with pytest.raises(DecryptionError, match="after its final chunk"):
        list(decrypt_chunks(KEY, [blob, b"\x00"]))
    header, chunks = split(encrypt(plaintext(CHUNK_SIZE)))  # ends with an empty final chunk
    with pytest.raises(DecryptionError, match="after its final chunk"):
        list(decrypt_chunks(KEY, [header, *chunks, chunks[0]]))
    with pytest.raises(DecryptionError):
        decrypt(header + b"".join(chunks) + chunks[0])


def test_full_size_final_chunk_is_accepted():
    """A final chunk of exactly CHUNK_SIZE bytes (as other encoders may write) decrypts."""
    import nacl.bindings as sodium

    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, KEY)
    data = plaintext(CHUNK_SIZE)
    last = sodium.crypto_secretstream_xchacha20poly1305_push(state, data, None, stream.TAG_FINAL)
    assert decrypt(header + last) == data


def test_short_chunk_not_marked_final_fails():
    """A short chunk tagged TAG_MESSAGE breaks the fixed layout and is refused."""
    import nacl.bindings as sodium

    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, KEY)
    short = sodium.crypto_secretstream_xchacha20poly1305_push(state, b"abc", None, 0)
    with pytest.raises(DecryptionError, match="not final"):
        decrypt(header + short)


def test_generators_stream_piece_by_piece():
    """encrypt_chunks yields the header first; decrypt_chunks accepts any piece sizes."""
    data = plaintext(2 * CHUNK_SIZE + 7)
    pieces = list(encrypt_chunks(KEY, [data[:5000], data[5000:], b""]))
    assert len(pieces[0]) == HEADER_BYTES
    blob = b"".join(pieces)
    tiny = [blob[i : i + 4093] for i in range(0, len(blob), 4093)]
    assert b"".join(decrypt_chunks(KEY, tiny)) == data


@settings(max_examples=60, deadline=None)
@given(
    size=st.sampled_from([0, 1, 500, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE]),
    cuts=st.lists(st.integers(min_value=0, max_value=ciphertext_size(2 * CHUNK_SIZE)), max_size=8),
)
def test_any_split_of_the_ciphertext_decrypts(size, cuts):
    """Splitting the ciphertext at arbitrary points never changes the plaintext."""
    data = plaintext(size)
    blob = encrypt(data)
    points = sorted({c for c in cuts if c <= len(blob)} | {0, len(blob)})
    pieces = [blob[a:b] for a, b in itertools.pairwise(points)]
    assert b"".join(decrypt_chunks(KEY, pieces)) == data
    header = blob[:HEADER_BYTES]
    dec = StreamDecryptor(KEY, header)
    body = blob[HEADER_BYTES:]
    body_points = sorted({max(0, p - HEADER_BYTES) for p in points} | {len(body)})
    out = b"".join(dec.update(body[a:b]) for a, b in itertools.pairwise(body_points))
    dec.finalize()
    assert out == data


@settings(max_examples=60, deadline=None)
@given(
    size=st.sampled_from([0, 1, 500, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE]),
    cuts=st.lists(st.integers(min_value=0, max_value=3 * CHUNK_SIZE), max_size=8),
    as_bytearray=st.booleans(),
)
def test_any_split_of_the_plaintext_gives_one_chunk_per_piece(size, cuts, as_bytearray):
    """update_pieces over plaintext cut anywhere (bytes or bytearray) yields one full-size
    ciphertext piece per completed chunk, and the stream decrypts to the plaintext."""
    data = plaintext(size)
    points = sorted({c for c in cuts if c <= size} | {0, size})
    enc = StreamEncryptor(KEY)
    pieces = []
    for a, b in itertools.pairwise(points):
        piece = bytearray(data[a:b]) if as_bytearray else data[a:b]
        pieces += enc.update_pieces(piece)
    assert [len(p) for p in pieces] == [FULL] * (size // CHUNK_SIZE)
    blob = enc.header + b"".join(pieces) + enc.finalize()
    assert len(blob) == ciphertext_size(size)
    assert decrypt(blob) == data
