"""`lienthong send --update/--replace/--reason/--paper` and `lienthong show` of updates and
replacements, run as the technician runs them: real subprocesses on a real data directory."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lienthong.bootstrap.directory import DirectoryState
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import NodeKeys
from lienthong.crypto.keystore import load_keys
from lienthong.node.runtime import open_context
from lienthong.node.unit import documents as service
from lienthong.protocol.certificate import issue_certificate
from lienthong.protocol.directory import issue_directory
from lienthong.protocol.document import Business, DocumentBody
from lienthong.protocol.envelope import seal_envelope
from lienthong.storage.db import unix_ms
from tests.node.cli.test_cli import run
from tests.node.helpers import DAY
from tests.node.tls_federation import letter

A, B = "000.00.02.H53", "000.00.03.H53"


async def unit_with_letters(data_dir: Path) -> tuple[str, str]:
    """`init` unit A, give it a CA and a directory (form 2: A and B read version 2), and
    have a letter from B arrive (its paper original follows), then B's update of it; the
    two documents' ids at A."""
    result = run("init", "--data-dir", str(data_dir), "--code", A, "--name", "Sở Nội vụ")
    assert result.returncode == 0, result.stderr
    root = NodeKeys.generate()
    start = datetime.now(UTC) - timedelta(minutes=5)
    ca = tls.issue_ca(
        Ed25519PrivateKey.from_private_bytes(root.signing.encode()),
        "Trung tâm CA",
        not_before=start,
        not_after=start + timedelta(days=30),
    )
    (data_dir / "tls").mkdir()
    (data_dir / "tls" / "ca.pem").write_bytes(tls.cert_to_pem(ca))
    keys = {A: load_keys(data_dir / "keys" / "identity.key"), B: NodeKeys.generate()}
    now = unix_ms()
    certificates = [
        issue_certificate(
            root,
            serial=serial,
            code=code,
            name=f"Unit {code}",
            sign_key=keys[code].sign_public,
            enc_key=keys[code].enc_public,
            tls_sha256=hashlib.sha256(code.encode()).digest(),
            endpoints=[],
            reachable=True,
            not_before=now - DAY,
            not_after=now + 30 * DAY,
        )
        for serial, code in enumerate((A, B), start=1)
    ]
    directory = issue_directory(
        root,
        version=1,
        issued_at=now,
        expires_at=now + 7 * DAY,
        centre_name="Trung tâm",
        centre_url="https://127.0.0.1:1",
        certificates=certificates,
        protocols={A: (1, 2), B: (1, 2)},
    )

    def from_b(number: str, facts: Business, **header) -> bytes:
        return seal_envelope(
            keys=keys[B],
            sender=B,
            serial=2,
            recipients={A: keys[A].enc_public},
            body=DocumentBody(dataclasses.replace(letter(), number=number), (), facts),
            created=unix_ms(),
            **header,
        )

    original = from_b("05", Business(paper=True))
    ctx = await open_context(data_dir)
    try:
        state = await DirectoryState.load(ctx.store, root.sign_public, unix_ms)
        assert await state.accept(directory, source="test")
        ctx.directory = state
        await service.receive_envelope(ctx, original, via="direct")
        async with ctx.store.read() as conn:
            (first,) = await conn.fetchone("SELECT id FROM documents WHERE direction = 'in'")
        update = from_b("06", Business(reason="Sửa nơi nhận"), business="update", targets=(first,))
        await service.receive_envelope(ctx, update, via="direct")
        async with ctx.store.read() as conn:
            (second,) = await conn.fetchone(
                "SELECT id FROM documents WHERE direction = 'in' AND id != ?", (first,)
            )
    finally:
        await ctx.store.close()
    return first, second


def cli(data_dir: Path, *args: str) -> dict:
    result = run(*args, "--data-dir", str(data_dir), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


SEND = ("send", "--to", B, "--subject", "V/v họp giao ban", "--signer", "Nguyễn Văn A")
SEND += ("--position", "Giám đốc", "--place", "Tây Ninh")


@pytest.fixture
async def unit(tmp_path) -> tuple[Path, str, str]:
    data_dir = tmp_path / "a"
    first, second = await unit_with_letters(data_dir)
    return data_dir, first, second


def test_show_names_the_update_its_reason_and_the_paper_original(unit):
    """show of a received letter prints "Bản giấy sẽ gửi sau" and "Đã được cập nhật bởi";
    show of its update prints "Văn bản cập nhật", the reason and "Cập nhật cho"."""
    data_dir, first, second = unit
    shown = cli(data_dir, "show", first)
    assert (shown["business"], shown["paper"]) == ("new", True)
    (link,) = shown["links"]
    assert (link["label"], link["id"], link["effect"]) == ("link.updated_by", second, "pending")
    text = run("show", first, "--data-dir", str(data_dir)).stdout
    assert "Bản giấy sẽ gửi sau" in text
    assert f"Đã được cập nhật bởi 06/VP-TTTH ngày 23/05/2014 [{second}] (chờ vào sổ)" in text
    shown = cli(data_dir, "show", second)
    assert (shown["business"], shown["reason"], shown["paper"]) == ("update", "Sửa nơi nhận", False)
    assert [x["id"] for x in shown["links"]] == [first]
    text = run("show", second, "--data-dir", str(data_dir)).stdout
    assert "Văn bản cập nhật" in text and "Lý do: Sửa nơi nhận" in text
    assert f"Cập nhật cho 05/VP-TTTH ngày 23/05/2014 [{first}]" in text
    processed = cli(data_dir, "process", second, "--status", "accepted")
    assert processed["incoming_number"] == 1  # the update is registered in its own right
    text = run("show", first, "--data-dir", str(data_dir)).stdout
    assert f"[{second}] (đã vào sổ)" in text
    timeline = cli(data_dir, "show", second)["timeline"]
    assert ("15", "Đồng ý cập nhật") in [(t["code"], t["label"]) for t in timeline]


def test_send_update_and_replace_link_the_documents(unit):
    """send --update links the new letter to the old one (both shows say so); send
    --replace with two ids and --paper replaces both."""
    data_dir, _, _ = unit
    one = cli(data_dir, *SEND, "--number", "10/SNV-VP")["envelope_id"]
    two = cli(data_dir, *SEND, "--number", "11/SNV-VP")["envelope_id"]
    sent = cli(data_dir, *SEND, "--number", "12/SNV-VP", "--update", one, "--reason", "Sửa")
    assert (sent["business"], sent["targets"]) == ("update", [one])
    assert [x["label"] for x in cli(data_dir, "show", one)["links"]] == ["link.updated_by"]
    replaced = cli(
        data_dir,
        *SEND,
        "--number",
        "13/SNV-VP",
        "--replace",
        one,
        "--replace",
        two,
        "--reason",
        "Gộp",
        "--paper",
    )
    shown = cli(data_dir, "show", replaced["envelope_id"])
    assert (shown["business"], shown["paper"]) == ("replace", True)
    assert sorted(x["id"] for x in shown["links"]) == sorted([one, two])
    assert [x["label"] for x in cli(data_dir, "show", two)["links"]] == ["link.replaced_by"]


def test_bad_updates_are_refused_with_a_message_and_nothing_queued(unit):
    """--update without --reason, of a received letter, of an unknown id, and --reason
    alone: each exits 1 with the reason, and the outbox stays as it was."""
    data_dir, first, _ = unit
    mine = cli(data_dir, *SEND, "--number", "20/SNV-VP")["envelope_id"]
    before = cli(data_dir, "outbox", "--all")["total"]
    cases = [
        (("--update", mine), "says why"),
        (("--update", first, "--reason", "x"), f"sent by {B}, not by this unit"),
        (("--replace", "01J0000000000000000000000Z", "--reason", "x"), "no document"),
        (("--reason", "x"), "give --update ID or --replace ID"),
    ]
    for extra, message in cases:
        result = run(*SEND, "--number", "21/SNV-VP", *extra, "--data-dir", str(data_dir))
        assert result.returncode == 1, (extra, result.stdout)
        assert message in result.stderr and "Traceback" not in result.stderr
    result = run(*SEND, "--number", "21/SNV-VP", "--update", mine, "--replace", mine)
    assert result.returncode == 2 and "not allowed with" in result.stderr
    assert cli(data_dir, "outbox", "--all")["total"] == before
