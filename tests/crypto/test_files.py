"""Owner-only files and folders: created with their mode, whatever the umask."""

import os
import stat

import pytest

from lienthong.crypto.files import create_private, make_private_dir


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """umask 0: a file created without its mode would be 0666, a folder 0777."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_create_private_is_0600_and_never_reuses_a_file(tmp_path, open_umask):
    """A new file is 0600; an existing one is refused, or replaced by a new 0600 file (an
    existing file opened for writing would keep its 0644)."""
    path = tmp_path / "plain.bin"
    with create_private(path) as file:
        file.write(b"van ban")
    assert mode(path) == 0o600 and path.read_bytes() == b"van ban"
    with pytest.raises(FileExistsError):
        create_private(path)
    path.chmod(0o644)
    with create_private(path, replace=True) as file:
        file.write(b"moi")
    assert mode(path) == 0o600 and path.read_bytes() == b"moi"


def test_make_private_dir_makes_each_missing_folder_0700(tmp_path, open_umask):
    """Every folder it creates is 0700, parents included; one already there is left."""
    (tmp_path / "kept").mkdir(mode=0o755)
    make_private_dir(tmp_path / "kept" / "a" / "b" / "keys", parents=True)
    for folder in ("a", "a/b", "a/b/keys"):
        assert mode(tmp_path / "kept" / folder) == 0o700
    assert mode(tmp_path / "kept") == 0o755
    make_private_dir(tmp_path / "kept" / "a")  # already there: no error
