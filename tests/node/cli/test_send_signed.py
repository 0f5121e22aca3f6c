"""`lienthong send --sign-pdf`: every PDF file gets the organisation's signature (key from
[signing], PIN from LIENTHONG_SIGN_PIN) before the document is stored; the exported copy
verifies with the leader's and the organisation's signatures. A wrong PIN, no PIN and no
key each stop the command by name with nothing queued."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.crypto.signing_fixtures import (
    leader_signed,
    make_ca,
    make_pdf,
    make_signer,
    validate,
    write_pkcs12,
)
from tests.node.cli.cli_node import B, unit_with_a_letter
from tests.node.cli.test_cli import run

PASSPHRASE = "mat khau to chuc"
PROMPT = b"PIN of the signing key: "
SEND = (
    "send", "--to", B, "--subject", "V/v triển khai liên thông phần mềm eOffice",
    "--number", "05/VP-TTTH", "--signer", "Trương Văn Hùng", "--position", "Chánh Văn phòng",
    "--place", "Tây Ninh",
)  # fmt: skip


@pytest.fixture(scope="module")
def material():
    """A CA, the organisation's identity and a PDF the leader signed (made once)."""
    ca = make_ca()
    leader = make_signer(ca, "Trương Văn Hùng", "Văn phòng UBND tỉnh")
    return ca, make_signer(ca, "Văn phòng UBND tỉnh Tây Ninh"), leader_signed(make_pdf(2), leader)


@pytest.fixture
async def unit(tmp_path, material) -> tuple[Path, Path]:
    """Unit A with its key file configured in [signing]; (data dir, the leader's PDF)."""
    data_dir = tmp_path / "a"
    await unit_with_a_letter(data_dir, tmp_path)
    (data_dir / "keys").mkdir(exist_ok=True)
    write_pkcs12(data_dir / "keys" / "to-chuc.p12", material[1], PASSPHRASE)
    toml = data_dir / "node.toml"
    text = toml.read_text(encoding="utf-8").replace('pkcs12 = ""', 'pkcs12 = "keys/to-chuc.p12"', 1)
    toml.write_text(text, encoding="utf-8")
    pdf = tmp_path / "quyet-dinh.pdf"
    pdf.write_bytes(material[2])
    return data_dir, pdf


def send(data_dir: Path, pdf: Path, pin: str | None, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LIENTHONG_SIGN_PIN"}
    if pin is not None:
        env["LIENTHONG_SIGN_PIN"] = pin
    return run(
        *SEND, "--file", str(pdf), *extra, "--data-dir", str(data_dir), "--json",
        env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def queued(data_dir: Path) -> int:
    result = run("outbox", "--all", "--data-dir", str(data_dir), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["total"]


def test_send_sign_pdf_signs_what_is_stored(unit, material, tmp_path):
    """The stored PDF begins with the leader's bytes and carries both signatures, valid."""
    data_dir, pdf = unit
    result = send(data_dir, pdf, PASSPHRASE, "--sign-pdf")
    assert result.returncode == 0, result.stderr
    sent = json.loads(result.stdout)
    assert sent["signed"] == ["quyet-dinh.pdf"]
    out = tmp_path / "export"
    exported = run("export", sent["envelope_id"], "--out", str(out), "--data-dir", str(data_dir))
    assert exported.returncode == 0, exported.stderr
    stored = (out / "quyet-dinh.pdf").read_bytes()
    assert stored.startswith(pdf.read_bytes()) and len(stored) > len(pdf.read_bytes())
    status = validate(stored, material[0][1])
    assert set(status) == {"NguoiKy", "ToChuc"}
    assert all(s.bottom_line for s in status.values())
    assert not list(data_dir.glob("signed-*"))  # the signed copies' folder is gone


@pytest.mark.parametrize(
    ("pin", "words"),
    [("sai", "passphrase does not open"), (None, "LIENTHONG_SIGN_PIN")],
    ids=["wrong-pin", "no-pin"],
)
def test_a_signing_failure_queues_nothing(unit, pin, words):
    """A wrong PIN, or no PIN and no terminal to ask on: exit 1 naming it, outbox empty."""
    data_dir, pdf = unit
    result = send(data_dir, pdf, pin, "--sign-pdf")
    assert result.returncode == 1
    assert words in result.stderr and "Traceback" not in result.stderr
    assert queued(data_dir) == 0
    assert not list(data_dir.glob("signed-*"))


def test_sign_pdf_without_a_key_says_what_to_configure(unit):
    """No [signing] key: the error names signing.pkcs12 and nothing is queued."""
    data_dir, pdf = unit
    toml = data_dir / "node.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('pkcs12 = "keys/to-chuc.p12"', 'pkcs12 = ""'),
        encoding="utf-8",
    )
    result = send(data_dir, pdf, PASSPHRASE, "--sign-pdf")
    assert result.returncode == 1 and "signing.pkcs12" in result.stderr
    assert queued(data_dir) == 0


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX")
def test_without_the_variable_the_pin_is_asked_on_the_terminal(unit):
    """With no LIENTHONG_SIGN_PIN and a terminal, the command asks for the PIN (without
    echoing it back in its output) and signs with what is typed."""
    import pty
    import threading

    data_dir, pdf = unit
    env = {k: v for k, v in os.environ.items() if k != "LIENTHONG_SIGN_PIN"}
    master, slave = pty.openpty()
    # A new session has no controlling terminal: getpass reads the pty on standard input.
    proc = subprocess.Popen(
        [sys.executable, "-m", "lienthong.node.cli", *SEND, "--file", str(pdf),
         "--sign-pdf", "--data-dir", str(data_dir), "--json"],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        start_new_session=True,
    )  # fmt: skip
    watchdog = threading.Timer(120, proc.kill)  # a bound, should the prompt never come
    watchdog.start()
    try:
        asked = b""
        while PROMPT not in asked:  # typed before the prompt, it would be flushed unread
            byte = proc.stderr.read(1)
            assert byte, f"the command ended without asking: {asked!r}"
            asked += byte
        os.write(master, f"{PASSPHRASE}\n".encode())
        out, err = proc.communicate()
    finally:
        watchdog.cancel()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, err
    assert json.loads(out)["signed"] == ["quyet-dinh.pdf"]
    assert PASSPHRASE.encode() not in out + err
