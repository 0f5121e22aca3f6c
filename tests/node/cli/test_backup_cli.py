"""`lienthong backup --passphrase-file` and `restore` of an encrypted backup, from a shell."""

import os
import stat
import subprocess
import sys

from lienthong.node.cli.commands.local import BACKUP_PASSPHRASE_ENV

CODE = "000.00.02.H53"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lienthong.node.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def make_node(tmp_path):
    """A node with its store (made by adding an account)."""
    data = tmp_path / "node"
    init = run("init", "--data-dir", str(data), "--code", CODE, "--name", "Sở Nội vụ")
    assert init.returncode == 0, init.stderr
    password = tmp_path / "password"
    password.write_text("mat-khau-rat-dai\n")
    user = ("--username", "vt", "--role", "clerk", "--password-file", str(password))
    added = run("user", "add", "--data-dir", str(data), *user)
    assert added.returncode == 0, added.stderr
    return data


def test_encrypted_backup_restores_with_its_passphrase_only(tmp_path):
    """A backup made with --passphrase-file is 0600 and sealed; restore without a passphrase
    (no terminal to ask on) or with a wrong one exits 1 saying why and writes nothing; with
    the passphrase from the environment it restores the node, keys/ 0700 and keys 0600."""
    data = make_node(tmp_path)
    secret = tmp_path / "backup-passphrase"
    secret.write_text("cụm mật khẩu sao lưu\n")
    out = tmp_path / "node.tar.sealed"
    made = run(
        "backup", "--data-dir", str(data), "--out", str(out), "--passphrase-file", str(secret)
    )
    assert made.returncode == 0, made.stderr
    assert "encrypted" in made.stdout and "NOT" not in made.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert b"identity" not in out.read_bytes()

    target = tmp_path / "restored"
    missing = run("restore", "--data-dir", str(target), "--from", str(out))
    assert missing.returncode == 1
    assert "encrypted backup" in missing.stderr and "--passphrase-file" in missing.stderr
    wrong = run(
        "restore", "--data-dir", str(target), "--from", str(out),
        env={BACKUP_PASSPHRASE_ENV: "sai mat khau"},
    )  # fmt: skip
    assert wrong.returncode == 1 and "the passphrase does not open" in wrong.stderr
    assert "Traceback" not in wrong.stderr and not target.exists()

    right = run(
        "restore", "--data-dir", str(target), "--from", str(out),
        env={BACKUP_PASSPHRASE_ENV: "cụm mật khẩu sao lưu"},
    )  # fmt: skip
    assert right.returncode == 0, right.stderr
    assert stat.S_IMODE((target / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE((target / "keys" / "identity.key").stat().st_mode) == 0o600
    shown = run("keys", "show", "--data-dir", str(target))
    assert shown.returncode == 0 and CODE in shown.stdout


def test_plain_backup_says_it_is_not_encrypted(tmp_path):
    """Without a passphrase the backup is still 0600, and the command says it is in clear."""
    data = make_node(tmp_path)
    out = tmp_path / "node.tar"
    made = run("backup", "--data-dir", str(data), "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert "NOT encrypted" in made.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
