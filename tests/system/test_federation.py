"""Real nodes, real processes: enrolment, delivery direct and via the relay, gossip."""

import re
import time

import pytest

from tests.system.harness import Federation, lienthong, lienthong_json, wait_until

pytestmark = pytest.mark.system

A, B, C = "000.00.02.H53", "000.00.03.H53", "000.00.04.H53"
# What sending requires beside the number and subject: the signer and the place.
SIGNED = ("--signer", "Trương Văn Hùng", "--position", "Chánh Văn phòng", "--place", "Tây Ninh")


def set_key(data_dir, section: str, key: str, value: str) -> None:
    """Change one key of DATA_DIR/node.toml (as a technician would with an editor)."""
    path = data_dir / "node.toml"
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"(\[{section}\][^\[]*?\n){key} = [^\n]*", re.S)
    assert pattern.search(text), f"{section}.{key} not in {path}"
    path.write_text(pattern.sub(rf"\g<1>{key} = {value}", text), encoding="utf-8")


@pytest.fixture
def federation(tmp_path):
    fed = Federation(tmp_path)
    yield fed
    fed.close()


def outbox_state(data_dir, envelope_id, recipient):
    for doc in lienthong_json("outbox", "--data-dir", str(data_dir))["items"]:
        if doc["id"] == envelope_id:
            for r in doc["recipients"]:
                if r["recipient"] == recipient:
                    return r
    return None


def test_letter_with_attachment_end_to_end(federation, tmp_path):
    """A sends 2340/VP-TTTH with a file; B receives, registers it as số đến 1; A sees it."""
    a = federation.add_unit(A, "VP UBND tỉnh Tây Ninh")
    b = federation.add_unit(B, "Sở Thông tin và Truyền thông")
    federation.start()
    attachment = tmp_path / "danh-sach.pdf"
    attachment.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4096)
    sent = lienthong_json(
        "send",
        "--data-dir",
        str(a.data_dir),
        *SIGNED,
        "--to",
        B,
        "--number",
        "2340/VP-TTTH",
        "--subject",
        "V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)",
        "--file",
        str(attachment),
    )
    envelope_id = sent["envelope_id"]
    wait_until(
        lambda: (outbox_state(a.data_dir, envelope_id, B) or {}).get("state") == "arrived",
        what="01 arrived at A",
    )
    inbox = lienthong_json("inbox", "--data-dir", str(b.data_dir))["items"]
    assert [d["id"] for d in inbox] == [envelope_id]
    assert inbox[0]["number"] == "2340/VP-TTTH"
    shown = lienthong_json("show", "--data-dir", str(b.data_dir), envelope_id)
    assert shown["signature"]["verified"] and shown["signature"]["sender"] == A
    processed = lienthong_json(
        "process", "--data-dir", str(b.data_dir), envelope_id, "--status", "accepted"
    )
    assert processed["incoming_number"] == 1
    state = wait_until(
        lambda: (r := outbox_state(a.data_dir, envelope_id, B)) and r["state"] == "accepted" and r,
        what="03 accepted at A",
    )
    assert state["incoming_number"] == 1
    out = tmp_path / "export"
    lienthong("export", "--data-dir", str(b.data_dir), envelope_id, "--out", str(out))
    assert (out / "danh-sach.pdf").read_bytes() == attachment.read_bytes()
    for node in (a, b):
        lienthong("audit", "verify", "--data-dir", str(node.data_dir))


def test_recipient_down_gets_it_through_the_relay(federation):
    """With B stopped, A's letter waits at the relay; B collects it when it returns."""
    a = federation.add_unit(A, "VP UBND tỉnh Tây Ninh")
    b = federation.add_unit(B, "Sở Nội vụ")
    federation.start("centre", A)
    envelope_id = lienthong_json(
        "send",
        "--data-dir",
        str(a.data_dir),
        *SIGNED,
        "--to",
        B,
        "--number",
        "15/SNV-VP",
        "--subject",
        "V/v báo cáo",
    )["envelope_id"]
    wait_until(
        lambda: (outbox_state(a.data_dir, envelope_id, B) or {}).get("state") == "relayed",
        what="deposit at the relay",
    )
    b.start()
    wait_until(
        lambda: (outbox_state(a.data_dir, envelope_id, B) or {}).get("state") == "arrived",
        what="01 back through the relay",
    )
    assert [d["id"] for d in lienthong_json("inbox", "--data-dir", str(b.data_dir))["items"]] == [
        envelope_id
    ]


def test_directory_change_reaches_a_unit_through_a_peer_while_the_centre_is_down(federation):
    """C is enrolled; A learns it from the centre; the centre stops; B learns it from A."""
    a = federation.add_unit(A, "VP UBND tỉnh Tây Ninh")
    b = federation.add_unit(B, "Sở Nội vụ")
    set_key(a.data_dir, "federation", "directory_refresh_seconds", "1")
    set_key(b.data_dir, "federation", "directory_refresh_seconds", "3600")
    federation.start()
    before = lienthong_json("directory", "show", "--data-dir", str(b.data_dir))["version"]
    federation.add_unit(C, "Sở Tài chính")
    wait_until(
        lambda: (
            lienthong_json("directory", "show", "--data-dir", str(a.data_dir))["version"] > before
        ),
        what="A fetching the new directory from the centre",
    )
    federation.nodes["centre"].stop()
    # B only ever talks to A: a letter from B to A carries the versions both ways.
    lienthong(
        "send",
        "--data-dir",
        str(b.data_dir),
        *SIGNED,
        "--to",
        A,
        "--number",
        "01/SNV",
        "--subject",
        "V/v thử nghiệm",
    )
    after = wait_until(
        lambda: (
            (v := lienthong_json("directory", "show", "--data-dir", str(b.data_dir))["version"])
            > before
            and v
        ),
        what="B learning the directory from A",
    )
    units = lienthong_json("directory", "show", "--data-dir", str(b.data_dir))["units"]
    assert C in {u["code"] for u in units} and after > before


def test_a_revoked_unit_is_refused_once_the_directory_says_so(federation):
    """After `centre revoke`, A refuses B's letters; nothing from B is stored at A."""
    a = federation.add_unit(A, "VP UBND tỉnh Tây Ninh")
    b = federation.add_unit(B, "Sở Nội vụ")
    set_key(a.data_dir, "federation", "directory_refresh_seconds", "1")
    federation.start()
    before = lienthong_json("directory", "show", "--data-dir", str(a.data_dir))["version"]
    lienthong("centre", "revoke", "--data-dir", str(federation.centre_dir), "--code", B)
    wait_until(
        lambda: (
            lienthong_json("directory", "show", "--data-dir", str(a.data_dir))["version"] > before
        ),
        what="A seeing the directory that revokes B",
    )
    envelope_id = lienthong_json(
        "send",
        "--data-dir",
        str(b.data_dir),
        *SIGNED,
        "--to",
        A,
        "--number",
        "09/SNV",
        "--subject",
        "V/v thư từ đơn vị đã bị thu hồi chứng thư",
    )["envelope_id"]
    wait_until(
        lambda: (
            (r := outbox_state(b.data_dir, envelope_id, A))
            and (r["last_error"] or r["state"] != "queued")
        ),
        what="B's attempt refused by A (and by the relay)",
    )
    time.sleep(3)  # give a wrongly accepted letter time to show up
    assert lienthong_json("inbox", "--data-dir", str(a.data_dir))["items"] == []
    assert outbox_state(b.data_dir, envelope_id, A)["state"] in ("queued", "relayed")


def test_rotated_keys_keep_old_letters_verifiable(federation):
    """B rotates its keys; its earlier letter still verifies at A, and a new one arrives."""
    a = federation.add_unit(A, "VP UBND tỉnh Tây Ninh")
    b = federation.add_unit(B, "Sở Nội vụ")
    set_key(a.data_dir, "federation", "directory_refresh_seconds", "1")
    federation.start()

    def send(number):
        return lienthong_json(
            "send",
            "--data-dir",
            str(b.data_dir),
            *SIGNED,
            "--to",
            A,
            "--number",
            number,
            "--subject",
            "V/v thử",
        )["envelope_id"]

    def arrived(envelope_id):
        return (outbox_state(b.data_dir, envelope_id, A) or {}).get("state") == "arrived"

    old = send("01/SNV")
    wait_until(lambda: arrived(old), what="the first letter")
    b.stop()
    lienthong("keys", "rotate", "--data-dir", str(b.data_dir))
    b.start()
    new = send("02/SNV")
    wait_until(lambda: arrived(new), what="a letter signed with the new key")
    for envelope_id in (old, new):
        shown = lienthong_json("show", "--data-dir", str(a.data_dir), envelope_id)
        assert shown["signature"]["verified"], shown["signature"]
    serials = {
        lienthong_json("show", "--data-dir", str(a.data_dir), e)["signature"]["serial"]
        for e in (old, new)
    }
    assert len(serials) == 2
