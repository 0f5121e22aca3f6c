"""Tests of crypto.keystore: key files on disk, plain and sealed."""

import base64
import json
import os
import stat

import nacl.pwhash.argon2id as argon2id
import pytest

from lienthong.crypto import keystore
from lienthong.crypto.errors import InsecureKeyFileError, KeystoreError, WrongPassphraseError
from lienthong.crypto.keys import NodeKeys
from lienthong.crypto.keystore import is_sealed, load_keys, save_keys

FAST = {"opslimit": argon2id.OPSLIMIT_INTERACTIVE, "memlimit": argon2id.MEMLIMIT_INTERACTIVE}
KEYS = NodeKeys.from_seeds(b"\x44" * 32, b"\x55" * 32)
PASS = b"correct horse battery staple"


def same(a: NodeKeys, b: NodeKeys) -> bool:
    return (
        a.signing.encode() == b.signing.encode() and a.encryption.encode() == b.encryption.encode()
    )


def rewrite(path, **changes):
    """Edit the JSON of a key file in place, keeping its 0600 mode."""
    document = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document))


def test_unsealed_round_trip_and_format(tmp_path):
    """An unsealed file holds seed || X25519 key in base64 and loads back to the same keys."""
    path = tmp_path / "node.key"
    save_keys(path, KEYS)
    document = json.loads(path.read_text("utf-8"))
    assert document == {
        "format": "lienthong-keys",
        "version": 1,
        "sealed": False,
        "kdf": None,
        "nonce": None,
        "data": base64.b64encode(KEYS.signing.encode() + KEYS.encryption.encode()).decode(),
    }
    assert same(load_keys(path), KEYS)
    assert not is_sealed(path)


def test_sealed_round_trip_and_format(tmp_path):
    """A sealed file records argon2id parameters, hides the keys, and opens with the passphrase."""
    path = tmp_path / "node.key"
    save_keys(path, KEYS, PASS, **FAST)
    document = json.loads(path.read_text("utf-8"))
    assert document["sealed"] is True
    assert document["kdf"]["alg"] == "argon2id13"
    assert document["kdf"]["opslimit"] == FAST["opslimit"]
    assert document["kdf"]["memlimit"] == FAST["memlimit"]
    assert len(base64.b64decode(document["kdf"]["salt"])) == 16
    assert len(base64.b64decode(document["nonce"])) == 24
    assert len(base64.b64decode(document["data"])) == 64 + 16
    assert KEYS.signing.encode() not in base64.b64decode(document["data"])
    assert is_sealed(path)
    assert same(load_keys(path, PASS), KEYS)


def test_file_is_created_with_mode_0600(tmp_path):
    """The key file is readable and writable by its owner only, whatever the umask."""
    old = os.umask(0)
    try:
        save_keys(tmp_path / "node.key", KEYS)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "node.key").st_mode) == 0o600


def test_no_temp_file_is_left_behind(tmp_path):
    """After a save, and after a refused save, the directory holds only the key file."""
    save_keys(tmp_path / "node.key", KEYS)
    with pytest.raises(KeystoreError):
        save_keys(tmp_path / "node.key", KEYS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node.key"]


def test_refuses_to_overwrite_unless_asked(tmp_path):
    """An existing key file is kept unless overwrite=True."""
    path = tmp_path / "node.key"
    save_keys(path, KEYS)
    other = NodeKeys.generate()
    with pytest.raises(KeystoreError, match="already exists"):
        save_keys(path, other)
    assert same(load_keys(path), KEYS)
    save_keys(path, other, overwrite=True)
    assert same(load_keys(path), other)


def test_save_into_missing_directory_fails(tmp_path):
    """Saving where the directory does not exist raises KeystoreError naming the directory."""
    with pytest.raises(KeystoreError, match="missing"):
        save_keys(tmp_path / "missing" / "node.key", KEYS)


def test_empty_passphrase_is_refused(tmp_path):
    """An empty passphrase would be a seal in name only."""
    with pytest.raises(KeystoreError, match="empty"):
        save_keys(tmp_path / "node.key", KEYS, b"", **FAST)


def test_missing_file_names_the_path(tmp_path):
    """Loading a missing file says which path."""
    path = tmp_path / "absent.key"
    with pytest.raises(KeystoreError, match=r"absent\.key does not exist"):
        load_keys(path)
    with pytest.raises(KeystoreError, match="does not exist"):
        is_sealed(path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644, 0o700 | 0o007])
def test_insecure_mode_is_refused_with_the_fix(tmp_path, mode):
    """A file open to group or others is refused, naming the path and `chmod 600 PATH`."""
    path = tmp_path / "node.key"
    save_keys(path, KEYS)
    os.chmod(path, mode)
    with pytest.raises(InsecureKeyFileError) as info:
        load_keys(path)
    assert f"chmod 600 {path}" in str(info.value)
    assert f"{mode:04o}" in str(info.value)


def test_owner_only_modes_are_accepted(tmp_path):
    """Modes 0400 and 0600 load."""
    path = tmp_path / "node.key"
    save_keys(path, KEYS)
    os.chmod(path, 0o400)
    assert same(load_keys(path), KEYS)


def test_sealed_without_passphrase(tmp_path):
    """A sealed file loaded without a passphrase says it is sealed."""
    path = tmp_path / "node.key"
    save_keys(path, KEYS, PASS, **FAST)
    with pytest.raises(KeystoreError, match=r"node\.key is sealed with a passphrase"):
        load_keys(path)


def test_wrong_passphrase(tmp_path):
    """A wrong passphrase raises WrongPassphraseError naming the file."""
    path = tmp_path / "node.key"
    save_keys(path, KEYS, PASS, **FAST)
    with pytest.raises(WrongPassphraseError, match=r"node\.key"):
        load_keys(path, b"wrong")


def test_passphrase_for_unsealed_file_is_ignored(tmp_path):
    """A passphrase given for an unsealed file is not needed and does not hurt."""
    path = tmp_path / "node.key"
    save_keys(path, KEYS)
    assert same(load_keys(path, PASS), KEYS)


def test_altered_sealed_data_reads_as_wrong_passphrase(tmp_path):
    """SecretBox authenticates the sealed data: altering it is detected."""
    path = tmp_path / "node.key"
    save_keys(path, KEYS, PASS, **FAST)
    document = json.loads(path.read_text())
    data = bytearray(base64.b64decode(document["data"]))
    data[0] ^= 1
    rewrite(path, data=base64.b64encode(bytes(data)).decode())
    with pytest.raises(WrongPassphraseError):
        load_keys(path, PASS)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe", "not valid UTF-8 JSON"),
        (b"{not json", "not valid UTF-8 JSON"),
        (b"[1, 2]", "does not hold a JSON object"),
        (b'{"format": "other"}', "field 'format' is 'other'"),
        (b'{"format": "lienthong-keys", "version": 2}', "unsupported version 2"),
        (b'{"format": "lienthong-keys", "version": true}', "unsupported version True"),
        (b'{"format": "lienthong-keys", "version": 1}', "field 'sealed' is missing"),
    ],
)
def test_malformed_files_name_the_problem(tmp_path, content, message):
    """Garbage, foreign and future-version files are refused with a specific message."""
    path = tmp_path / "node.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(KeystoreError, match=message):
        load_keys(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sealed": "no"}, "'sealed' is not true or false"),
        ({"data": 5}, "'data' is not a base64 string"),
        ({"data": "not base64!"}, "'data' is not valid base64"),
        ({"data": base64.b64encode(b"\x00" * 63).decode()}, "key data is 63 bytes, expected 64"),
        ({"nonce": base64.b64encode(b"\x00" * 24).decode()}, "unsealed but has a kdf or nonce"),
    ],
)
def test_malformed_unsealed_fields(tmp_path, changes, message):
    """Each malformed field of an unsealed file is named."""
    path = tmp_path / "node.key"
    save_keys(path, KEYS)
    rewrite(path, **changes)
    with pytest.raises(KeystoreError, match=message):
        load_keys(path)


@pytest.mark.parametrize(
    ("kdf_changes", "top_changes", "message"),
    [
        ({"alg": "scrypt"}, {}, "kdf.alg is 'scrypt'"),
        ({"opslimit": "3"}, {}, "kdf.opslimit is not an integer"),
        ({"opslimit": 10**6}, {}, "kdf.opslimit 1000000 is outside"),
        ({"memlimit": 2**40}, {}, "kdf.memlimit 1099511627776 is outside"),
        ({"salt": base64.b64encode(b"\x00" * 8).decode()}, {}, "kdf.salt is 8 bytes"),
        ({"salt": None}, {}, "'kdf.salt' is not a base64 string"),
        ({}, {"nonce": base64.b64encode(b"\x00" * 12).decode()}, "nonce is 12 bytes"),
        ({}, {"kdf": None}, "'kdf' is not an object"),
    ],
)
def test_malformed_sealed_fields(tmp_path, kdf_changes, top_changes, message):
    """Each malformed field of a sealed file is named, and absurd KDF limits are refused."""
    path = tmp_path / "node.key"
    save_keys(path, KEYS, PASS, **FAST)
    document = json.loads(path.read_text())
    document["kdf"].update(kdf_changes)
    document.update(top_changes)
    path.write_text(json.dumps(document))
    with pytest.raises(KeystoreError, match=message):
        load_keys(path, PASS)


def test_oversized_file_is_refused(tmp_path):
    """A file over MAX_KEY_FILE_BYTES is refused before parsing."""
    path = tmp_path / "node.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b" " * (keystore.MAX_KEY_FILE_BYTES + 1))
    os.close(fd)
    with pytest.raises(KeystoreError, match="over the limit"):
        load_keys(path)


def test_directory_is_not_a_key_file(tmp_path):
    """A path naming a directory is refused as not a regular file."""
    directory = tmp_path / "dir.key"
    directory.mkdir(mode=0o700)
    with pytest.raises(KeystoreError, match="not a regular file"):
        load_keys(directory)


def test_root_key_uses_the_same_format(tmp_path):
    """The centre's root key is just another key file; its signing key survives a round trip."""
    root = NodeKeys.generate()
    path = tmp_path / "root.key"
    save_keys(path, root, PASS, **FAST)
    assert load_keys(path, PASS).sign_public == root.sign_public
