"""Every CLI list has one JSON shape ({items, total, next}), pages with a cursor that never
skips or repeats, and refuses a page size it cannot honour."""

from __future__ import annotations

import argparse
import os

import pytest

from lienthong.crypto.errors import LienthongError
from lienthong.crypto.keys import NodeKeys
from lienthong.node.cli.commands.documents import _documents, _summary
from lienthong.node.cli.output import MAX_LIST_PAGE, list_answer
from lienthong.node.unit import documents as service
from tests.node.cli.test_cli import run
from tests.node.helpers import Clock, make_context, make_directory
from tests.node.unit.test_documents import letter

A, B = "000.00.02.H53", "000.00.03.H53"


def args(limit=50, every=False, cursor=None) -> argparse.Namespace:
    return argparse.Namespace(limit=limit, all=every, cursor=cursor)


@pytest.fixture
async def sender(tmp_path):
    keys = {code: NodeKeys.generate() for code in (A, B)}
    clock = Clock()
    directory = make_directory(NodeKeys.generate(), keys)
    ctx = await make_context(tmp_path, A, keys[A], directory, clock)
    for n in range(7):
        clock.now += 1000
        await service.send_document(ctx, letter(number=f"{n + 1:02d}"), [B], actor="vt")
    yield ctx
    await ctx.store.close()


async def test_pages_follow_the_cursor_to_the_end_without_gaps(sender):
    """Pages of 3 walk all 7 documents newest first; `next` is None on the last page; the
    total is the store's count whatever the page."""
    seen, cursor = [], None
    async with sender.store.read() as conn:
        while True:
            docs, total, cursor = await _documents(conn, "out", args(3, cursor=cursor))
            assert total == 7
            seen += [d.id for d in docs]
            if cursor is None:
                break
        everything, total, last = await _documents(conn, "out", args(every=True))
    assert seen == [d.id for d in everything] and len(set(seen)) == 7
    assert last is None and total == 7
    created = [d.created_at for d in everything]
    assert created == sorted(created, reverse=True)


async def test_the_json_shape_of_a_list(sender):
    """items / total / next, with English values and ISO 8601 times carrying their offset."""
    async with sender.store.read() as conn:
        docs, total, cursor = await _documents(conn, "out", args(2))
    answer = list_answer([_summary(d) for d in docs], total, cursor)
    assert set(answer) == {"items", "total", "next"}
    assert answer["total"] == 7 and len(answer["items"]) == 2 and answer["next"]
    item = answer["items"][0]
    assert item["urgency"] == "normal" and item["state"].isascii()
    assert item["received_at"][10] == "T" and item["received_at"][-6] in "+-"


async def test_a_cursor_not_printed_by_the_command_is_refused(sender):
    """A forged or damaged cursor is an error naming it, not a silent empty page."""
    async with sender.store.read() as conn:
        for bad in ("abc", "12.", ".01ABC", "12.a b", "１２.01ABC"):
            with pytest.raises(LienthongError, match="cursor"):
                await _documents(conn, "out", args(cursor=bad))


@pytest.mark.parametrize("value", ["0", str(MAX_LIST_PAGE + 1), "-3"])
def test_a_page_size_out_of_range_is_a_usage_error(tmp_path, value):
    """--limit 0 no longer says "no documents" while there are some; negatives never pass."""
    result = run("inbox", "--data-dir", str(tmp_path), "--limit", value)
    assert result.returncode == 2 and "--limit" in result.stderr


def test_limit_and_all_cannot_be_given_together(tmp_path):
    result = run("outbox", "--data-dir", str(tmp_path), "--limit", "5", "--all")
    assert result.returncode == 2 and "not allowed with" in result.stderr


def test_the_data_directory_comes_from_the_environment(tmp_path):
    """LIENTHONG_DATA_DIR stands in for --data-dir (the message names the directory used)."""
    env = {**os.environ, "LIENTHONG_DATA_DIR": str(tmp_path / "from-env")}
    result = run("inbox", env=env)
    assert result.returncode == 1 and "from-env" in result.stderr
