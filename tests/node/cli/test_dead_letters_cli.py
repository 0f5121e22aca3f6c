"""The operator's view of dead letters: `outbox --dead --json` lists them (statuses too) in
the one list shape, `retry` sends a document's again, audited as done from the CLI."""

from __future__ import annotations

import json

from lienthong.node.runtime import open_context
from lienthong.storage import audit, outbox
from lienthong.storage.db import unix_ms
from tests.node.cli.cli_node import B, unit_with_a_letter
from tests.node.cli.test_cli import run


async def test_outbox_dead_lists_a_refused_status_and_retry_sends_it_again(tmp_path):
    """The 03 A sends back for B's letter, refused by B for good (InvalidField): listed by
    `outbox --dead --json` with its document, code and refusal; `retry ID --to B` makes it
    due again (exit 0); a second `retry` finds none (exit 1, one line); the list is empty."""
    data_dir = tmp_path / "node"
    incoming = await unit_with_a_letter(data_dir, tmp_path)
    processed = run("process", "--data-dir", str(data_dir), incoming, "--status", "accepted")
    assert processed.returncode == 0, processed.stderr
    ctx = await open_context(data_dir)
    try:
        async with ctx.store.read() as conn:
            (item,) = await outbox.due_for(conn, B, unix_ms() + 1, limit=10)
        async with ctx.store.write() as tx:  # what B's answer "InvalidField" makes of it
            assert await outbox.refused(
                tx, item, error="InvalidField", message="InvalidField: bad", next_attempt_at=0, at=1
            )
    finally:
        await ctx.store.close()
    listed = run("outbox", "--data-dir", str(data_dir), "--dead", "--json")
    assert listed.returncode == 0, listed.stderr
    answer = json.loads(listed.stdout)
    assert set(answer) == {"items", "total", "next"} and answer["total"] == 1
    (dead,) = answer["items"]
    assert (dead["kind"], dead["id"], dead["document_id"], dead["code"]) == (
        "status",
        item.id,
        incoming,
        "03",
    )
    assert (dead["destination"], dead["refused_with"], dead["refusals"]) == (B, "InvalidField", 1)
    retried = run("retry", "--data-dir", str(data_dir), incoming, "--to", B)
    assert retried.returncode == 0, retried.stderr
    assert "1 dead letter(s)" in retried.stdout
    again = run("retry", "--data-dir", str(data_dir), incoming)
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1
    assert "no dead letter" in again.stderr
    empty = run("outbox", "--data-dir", str(data_dir), "--dead")
    assert empty.returncode == 0 and "No dead letters." in empty.stdout
    ctx = await open_context(data_dir)
    try:
        async with ctx.store.read() as conn:
            assert [i.id for i in await outbox.due_for(conn, B, unix_ms() + 1, limit=10)] == [
                item.id
            ]
            entries = await audit.entries(conn, limit=1000)
    finally:
        await ctx.store.close()
    assert any(e.actor == "cli" and e.action == "status.retried" for e in entries)
