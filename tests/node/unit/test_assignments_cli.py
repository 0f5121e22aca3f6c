"""`lienthong process` sets 04/05/06 only through the office's rules (node/unit/
assignments.py), never as a bare state: "assigned" names the lead and the leader and
writes the assignment, "in-progress" and "completed" are the lead's own, the result
closes the assignment; without those names it is refused with nothing written."""

from __future__ import annotations

import json

import pytest

from lienthong.crypto.errors import LienthongError
from lienthong.node.cli.main import build_parser
from lienthong.node.runtime import context
from lienthong.storage.assignments import get_assignment
from lienthong.storage.documents import get_document
from lienthong.storage.users import add_user
from tests.node.cli.cli_node import unit_with_a_letter

FAST = {"opslimit": 1, "memlimit": 8192}
COUNTED = ("assignments", "assignment_people", "status_events", "outbox")


async def process(data_dir, *argv: str) -> None:
    """The command as `lienthong process` runs it, in this process."""
    args = build_parser().parse_args(["process", "--data-dir", str(data_dir), *argv])
    await args.func(args)


async def _counts(data_dir) -> dict[str, int]:
    async with context(data_dir) as ctx, ctx.store.read() as conn:
        return {t: (await conn.fetchone(f"SELECT count(*) FROM {t}"))[0] for t in COUNTED}  # noqa: S608 - fixed names


async def test_process_goes_through_the_assignment_rules(tmp_path, capsys):
    """Bare 04 and 06 are refused naming the flags (nothing written); 04 with --lead and
    --leader writes the assignment naming both; 05 and 06 --as the lead close it with
    the result, and someone else's 06 is refused; `show --json` gives the lead and the
    result as fields of the 04, 05 and 06 it sent."""
    data_dir = tmp_path / "a"
    letter = await unit_with_a_letter(data_dir, tmp_path)
    async with context(data_dir) as ctx:
        for name, role in (("ld", "leader"), ("cv1", "specialist"), ("cv2", "specialist")):
            await add_user(
                ctx.store, name, "mật khẩu dài", role=role, display_name=name, actor="t", **FAST
            )
    await process(data_dir, letter, "--status", "accepted")
    before = await _counts(data_dir)
    with pytest.raises(LienthongError, match="--lead USER"):
        await process(data_dir, letter, "--status", "assigned", "--note", "cv1")
    with pytest.raises(LienthongError, match="--as USER"):
        await process(data_dir, letter, "--status", "completed", "--note", "xong")
    assert await _counts(data_dir) == before

    await process(
        data_dir, letter, "--status", "assigned", "--lead", "cv1", "--leader", "ld",
        "--note", "Tham mưu trả lời",
    )  # fmt: skip
    async with context(data_dir) as ctx, ctx.store.read() as conn:
        assigned = await get_assignment(conn, letter)
    assert (assigned.lead, assigned.instructed_by, assigned.completed_at) == ("cv1", "ld", None)
    with pytest.raises(LienthongError, match="not led by 'cv2'"):
        await process(data_dir, letter, "--status", "completed", "--as", "cv2", "--note", "x")
    await process(data_dir, letter, "--status", "in-progress", "--as", "cv1")
    await process(data_dir, letter, "--status", "completed", "--as", "cv1", "--note", "Đã xong")
    async with context(data_dir) as ctx, ctx.store.read() as conn:
        done = await get_assignment(conn, letter)
        doc = await get_document(conn, letter)
    assert done.completed_at is not None and done.result == "Đã xong"
    assert doc.state == "completed"
    capsys.readouterr()
    args = build_parser().parse_args(["show", "--data-dir", str(data_dir), "--json", letter])
    await args.func(args)
    timeline = json.loads(capsys.readouterr().out)["timeline"]
    work = {t["code"]: (t["lead"], t["result"]) for t in timeline if t["lead"] is not None}
    lead = {"name": "cv1", "department": None}
    assert work == {"04": (lead, None), "05": (lead, None), "06": (lead, "Đã xong")}
