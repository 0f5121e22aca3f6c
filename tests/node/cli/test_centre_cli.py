"""`lienthong centre ...` as an operator types it: init, add-unit with its sheet, units,
approve, revoke, the offline sign-request, and a root key sealed with a passphrase."""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path

import pytest

from lienthong.crypto.errors import LienthongError
from lienthong.node.centre import errors
from lienthong.node.centre import rules as service
from lienthong.node.centre.rules import open_centre
from lienthong.node.cli.commands import centre as commands
from lienthong.protocol.certificate import verify_certificate
from lienthong.protocol.directory import verify_directory
from lienthong.storage import audit
from tests.node.centre_support import CENTRE_NAME, UNIT_A, UNIT_B, UnitSide, open_bundle


async def lienthong(*argv: str) -> object:
    """Parse and run one `lienthong centre ...` command line, as node/cli/main.py does."""
    parser = argparse.ArgumentParser(prog="lienthong")
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["centre", *argv])
    result = args.func(args)
    return await result if inspect.iscoroutine(result) else result


def printed_json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


@pytest.fixture
async def centre_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    data_dir = tmp_path / "centre"
    await lienthong("init", "--data-dir", str(data_dir), "--name", CENTRE_NAME)
    capsys.readouterr()
    return data_dir


async def test_init_prints_the_fingerprint_and_url(tmp_path, capsys):
    """init prints the centre's URL and the root fingerprint the units will pin."""
    data_dir = tmp_path / "centre"
    await lienthong(
        "init", "--data-dir", str(data_dir), "--name", CENTRE_NAME, "--listen", "127.0.0.1:7100"
    )
    out = capsys.readouterr().out
    async with open_centre(data_dir) as centre:
        assert centre.fingerprint in out
    assert "https://127.0.0.1:7100" in out


async def test_add_unit_prints_token_and_enrolment_sheet(centre_dir, capsys, tmp_path):
    """add-unit --json prints token, URL, fingerprint and a bilingual sheet with the enrol line."""
    sheet_file = tmp_path / "phieu.txt"
    code, name = UNIT_A
    await lienthong(
        "add-unit", "--data-dir", str(centre_dir), "--code", code, "--name", name,
        "--state", "Thử nghiệm", "--json", "--sheet-out", str(sheet_file),
    )  # fmt: skip
    data = printed_json(capsys)
    assert data["code"] == code and data["state"] == "Thử nghiệm"
    sheet = data["sheet"]
    assert "PHIẾU ĐĂNG KÝ" in sheet and "Enrolment sheet" in sheet
    # No --data-dir on the commands: each platform's location, both named on the sheet.
    assert f"lienthong enrol --centre {data['centre_url']}" in sheet
    assert "--data-dir /" not in sheet and commands.SHEET_DATA_DIRS in sheet
    assert f"--fingerprint {data['fingerprint']}" in sheet
    assert f"--token {data['token']}" in sheet
    assert sheet_file.read_text(encoding="utf-8") == sheet + "\n"


async def test_add_unit_refuses_a_code_outside_the_pattern(centre_dir):
    """A malformed organisation code is refused with the pattern named."""
    with pytest.raises(LienthongError, match="pattern"):
        await lienthong(
            "add-unit", "--data-dir", str(centre_dir), "--code", "00.00.05.H53", "--name", "X"
        )


async def test_units_lists_status_serial_and_times(centre_dir, capsys):
    """units --json lists the centre itself, an enrolled unit and a pending one."""
    async with open_centre(centre_dir) as centre:
        new = await centre.add_unit(*UNIT_A)
        await centre.enrol(UnitSide(*UNIT_A).request(new.token))
        await centre.add_unit(*UNIT_B)
    await lienthong("units", "--data-dir", str(centre_dir), "--json")
    answer = printed_json(capsys)
    assert answer["total"] == len(answer["items"]) == 3 and answer["next"] is None
    rows = {row["code"]: row for row in answer["items"]}
    assert (
        rows[UNIT_B[0]]["state"] == "deployed"
    )  # English in JSON; the console says it in Vietnamese
    assert rows[UNIT_A[0]]["status"] == "active" and rows[UNIT_A[0]]["serial"] == 2
    assert rows[UNIT_A[0]]["enrolled_at"][10] == "T"  # ISO 8601 with the offset
    assert rows[UNIT_B[0]]["status"] == "pending" and rows[UNIT_B[0]]["serial"] is None
    assert set(rows[UNIT_B[0]]) >= {"name", "state", "last_seen"}
    await lienthong("units", "--data-dir", str(centre_dir))
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == [
        "CODE", "NAME", "STATE", "STATUS", "SERIAL", "ENROLLED", "LAST", "SEEN",
    ]  # fmt: skip
    assert UNIT_B[1] in text


async def test_offline_sign_request_writes_the_same_answer_as_online(centre_dir, tmp_path):
    """sign-request writes the online answer to a file; a reused token writes nothing."""
    async with open_centre(centre_dir) as centre:
        new = await centre.add_unit(*UNIT_A)
        root = centre.root.sign_public
    unit = UnitSide(*UNIT_A)
    request_file, cert_file = tmp_path / "yeu-cau.bin", tmp_path / "chung-thu.bin"
    request_file.write_bytes(unit.request(new.token))
    await lienthong(
        "sign-request", "--data-dir", str(centre_dir),
        "--in", str(request_file), "--out", str(cert_file),
    )  # fmt: skip
    bundle = open_bundle(cert_file.read_bytes())
    cert = verify_certificate(bundle["certificate"], root)
    assert (cert.code, cert.sign_key) == (UNIT_A[0], unit.keys.sign_public)
    directory = verify_directory(bundle["directory"], root, now=cert.not_before + 1)
    assert directory.current(UNIT_A[0]) == cert
    other_file, other_out = tmp_path / "other.bin", tmp_path / "other-out.bin"
    other_file.write_bytes(UnitSide(*UNIT_A).request(new.token))
    with pytest.raises(errors.TokenUsed):
        await lienthong(
            "sign-request", "--data-dir", str(centre_dir),
            "--in", str(other_file), "--out", str(other_out),
        )  # fmt: skip
    assert not other_out.exists()
    async with open_centre(centre_dir) as centre, centre.store.read() as conn:
        entries = await audit.entries(conn, limit=100)
    refused = [e for e in entries if e.action == "enrolment.refused"]
    assert len(refused) == 1 and refused[0].details["origin"] == f"file {other_file}"


async def test_approve_and_revoke_commands(tmp_path, capsys):
    """approve and revoke work from the command line and are audited under the operator."""
    data_dir = tmp_path / "centre"
    await lienthong(
        "init", "--data-dir", str(data_dir), "--name", CENTRE_NAME, "--require-approval"
    )
    async with open_centre(data_dir) as centre:
        new = await centre.add_unit(*UNIT_A)
        assert isinstance(await centre.enrol(UnitSide(*UNIT_A).request(new.token)), service.Pending)
    capsys.readouterr()
    await lienthong("approve", "--data-dir", str(data_dir), "--code", UNIT_A[0], "--json")
    approved = printed_json(capsys)
    assert approved["serial"] == 2
    await lienthong("revoke", "--data-dir", str(data_dir), "--code", UNIT_A[0], "--json")
    revoked = printed_json(capsys)
    assert revoked == {"code": UNIT_A[0], "revoked_serials": [2], "directory_version": 3}
    async with open_centre(data_dir) as centre, centre.store.read() as conn:
        entries = await audit.entries(conn, limit=100)
    actions = {e.action: e.actor for e in entries}
    assert actions["enrolment.approved"].startswith("operator")
    assert actions["unit.revoked"].startswith("operator")


ROOT_PASSPHRASE = "mật khẩu dài của trung tâm"


async def sealed_centre(tmp_path, monkeypatch) -> Path:
    """A centre made by init --passphrase-file (its root key sealed), with no passphrase in
    the environment; returns its data directory."""
    secret = tmp_path / "passphrase"
    secret.write_text(ROOT_PASSPHRASE + "\n", encoding="utf-8")
    data_dir = tmp_path / "centre"
    monkeypatch.delenv(service.ROOT_PASSPHRASE_ENV, raising=False)
    await lienthong(
        "init", "--data-dir", str(data_dir), "--name", CENTRE_NAME,
        "--passphrase-file", str(secret),
    )  # fmt: skip
    return data_dir


async def test_a_sealed_root_key_needs_its_passphrase(tmp_path, monkeypatch):
    """A root key sealed by init --passphrase-file needs $LIENTHONG_ROOT_PASSPHRASE."""
    data_dir = await sealed_centre(tmp_path, monkeypatch)
    with pytest.raises(errors.CentreError, match=service.ROOT_PASSPHRASE_ENV):
        await lienthong("units", "--data-dir", str(data_dir))
    monkeypatch.setenv(service.ROOT_PASSPHRASE_ENV, ROOT_PASSPHRASE)
    await lienthong("units", "--data-dir", str(data_dir))


async def test_a_sealed_root_key_opens_with_a_systemd_credential(tmp_path, monkeypatch):
    """Under systemd the passphrase comes as the credential root-passphrase (LoadCredential=)
    in $CREDENTIALS_DIRECTORY, not through the environment."""
    data_dir = await sealed_centre(tmp_path, monkeypatch)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "root-passphrase").write_text(ROOT_PASSPHRASE, encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    await lienthong("units", "--data-dir", str(data_dir))


async def test_centre_commands_refuse_a_unit_data_directory(tmp_path):
    """Run in a unit's data directory, a centre command says where it belongs."""
    from lienthong.node.cli.commands.local import init

    data_dir = tmp_path / "unit"
    init(
        argparse.Namespace(
            data_dir=data_dir, code=UNIT_A[0], name=UNIT_A[1], listen="127.0.0.1:7443",
            web="127.0.0.1:8080", unreachable=False, passphrase_file=None,
        )
    )  # fmt: skip
    with pytest.raises(errors.CentreError, match="centre's data directory"):
        await lienthong("units", "--data-dir", str(data_dir))
