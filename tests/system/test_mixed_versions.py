"""A province upgrading unit by unit: a node of release 0.1.0 (envelope version 1 only) and
nodes of this release exchange documents both ways, each in the version its reader reads."""

import sqlite3

import pytest

from lienthong.protocol.envelope import header_of_own_envelope
from tests.system.harness import (
    Federation,
    lienthong_json,
    set_config,
    unpack_release,
    wait_until,
)

pytestmark = pytest.mark.system

A, B, C = "000.00.02.H53", "000.00.03.H53", "000.00.04.H53"
RELEASE_1 = "lienthong-0.1.0-py3-none-any.whl"


@pytest.fixture
def federation(tmp_path):
    fed = Federation(tmp_path)
    yield fed
    fed.close()


def outbox_state(data_dir, envelope_id, recipient, release=None):
    items = lienthong_json("outbox", "--data-dir", str(data_dir), release=release)["items"]
    for doc in items:
        if doc["id"] == envelope_id:
            for r in doc["recipients"]:
                if r["recipient"] == recipient:
                    return r["state"]
    return None


def envelope_version(data_dir, envelope_id: str) -> int:
    """The protocol version of an envelope as the sender stored it (read-only look)."""
    with sqlite3.connect(f"file:{data_dir / 'store.sqlite3'}?mode=ro", uri=True) as db:
        (raw,) = db.execute(
            "SELECT envelope FROM documents WHERE id = ?", (envelope_id,)
        ).fetchone()
    return header_of_own_envelope(raw).version


def reads(data_dir, code: str) -> list[int]:
    shown = lienthong_json("directory", "show", "--data-dir", str(data_dir))
    unit = next(u for u in shown["units"] if u["code"] == code)
    return unit.get("protocols", [1])


def send_new(data_dir, to: str, number: str):
    """Send with this release's CLI: the signature block and the place are required."""
    return lienthong_json(
        "send", "--data-dir", str(data_dir), "--to", to, "--number", number,
        "--subject", "V/v thử nghiệm liên thông giữa hai phiên bản",
        "--signer", "Trương Văn Hùng", "--position", "Phó Chánh Văn phòng",
        "--authority", "KT.", "--acts-for", "Chánh Văn phòng", "--place", "Tây Ninh",
    )["envelope_id"]  # fmt: skip


def test_a_release_1_unit_and_release_2_units_exchange_both_ways(federation, tmp_path):
    """A and C run this release, B release 0.1.0. B never declares version 2, so A writes
    version 1 to B and B registers it; B's version-1 letter opens at A with its number in
    the decree's form; C declares version 2 in its report, so A's letter to C is version 2
    and keeps "06" exactly."""
    release = unpack_release(RELEASE_1, tmp_path / "releases")
    a = federation.add_unit(A, "VP UBND tỉnh Tây Ninh")
    b = federation.add_unit(B, "Sở Nội vụ", release=release)
    c = federation.add_unit(C, "Sở Tài chính")
    # A learns new directory versions (C's declared versions) in seconds, not at the
    # default five-minute refresh.
    set_config(a.data_dir, "federation", "directory_refresh_seconds", 2)
    federation.start()

    # A -> B (release 1): version 1, registered at B, 03 back at A.
    to_b = send_new(a.data_dir, B, "05/VP-TTTH")
    assert envelope_version(a.data_dir, to_b) == 1
    wait_until(lambda: outbox_state(a.data_dir, to_b, B) == "arrived", what="01 from B")
    inbox_b = lienthong_json("inbox", "--data-dir", str(b.data_dir), release=release)["items"]
    assert [d["id"] for d in inbox_b] == [to_b]
    assert inbox_b[0]["number"] == "5/VP-TTTH"  # release 1 prints its integer number
    lienthong_json(
        "process", "--data-dir", str(b.data_dir), to_b, "--status", "accepted", release=release
    )
    wait_until(lambda: outbox_state(a.data_dir, to_b, B) == "accepted", what="03 from B")

    # B (release 1) -> A: a version-1 envelope opens at A, number written "07".
    from_b = lienthong_json(
        "send", "--data-dir", str(b.data_dir), "--to", A, "--number", "7/SNV-VP",
        "--subject", "V/v trả lời", "--signer", "Nguyễn Văn An", "--position", "Giám đốc",
        release=release,
    )["envelope_id"]  # fmt: skip
    wait_until(lambda: outbox_state(b.data_dir, from_b, A, release) == "arrived", what="01 from A")
    shown = lienthong_json("show", "--data-dir", str(a.data_dir), from_b)
    assert shown["number"] == "07/SNV-VP"

    # A -> C once C's report has made the directory say it reads version 2.
    wait_until(lambda: 2 in reads(a.data_dir, C), timeout=120, what="C reading version 2")
    assert reads(a.data_dir, B) == [1]
    to_c = send_new(a.data_dir, C, "06/VP-TTTH")
    assert envelope_version(a.data_dir, to_c) == 2
    wait_until(lambda: outbox_state(a.data_dir, to_c, C) == "arrived", what="01 from C")
    at_c = lienthong_json("show", "--data-dir", str(c.data_dir), to_c)
    assert at_c["number"] == "06/VP-TTTH"
