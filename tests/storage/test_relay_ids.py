"""Relay mailbox items named by author and id: a store of the previous schema is migrated in
place, envelopes and statuses renamed <sender>/<id>, notices kept as they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from lienthong.storage import db
from lienthong.storage import relay as mailbox
from lienthong.storage.db import Store, migrations

RELAY_IDS = next(v for v, name, _ in migrations() if name == "relay_ids_per_sender")
A, B = "000.00.02.H53", "000.00.03.H53"


async def test_held_mail_is_renamed_by_its_author(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "centre.sqlite3"
    shipped = migrations()
    with monkeypatch.context() as patch:
        patch.setattr(db, "migrations", lambda: shipped[: RELAY_IDS - 1])
        async with await Store.open(path) as old, old.write() as tx:
            for item_id, kind, sender in (
                ("01JE4ZQ6V0S3N0D0AXM2F1K9QX", "envelope", A),
                ("01JE4ZQ6V0S3N0D0AXM2F1K9QY", "status", B),
                (f"expired:01JE4ZQ6V0S3N0D0AXM2F1K9QZ:{B}", "notice", "000.00.01.H53"),
            ):
                await mailbox.deposit(
                    tx, mailbox.MailItem(B, item_id, kind, sender, b"x", (), 1, 9)
                )
    async with await Store.open(path) as store, store.read() as conn:
        rows = await conn.fetchall("SELECT kind, item_id FROM relay_mailbox ORDER BY kind")
    assert dict(rows) == {
        "envelope": f"{A}/01JE4ZQ6V0S3N0D0AXM2F1K9QX",
        "notice": f"expired:01JE4ZQ6V0S3N0D0AXM2F1K9QZ:{B}",
        "status": f"{B}/01JE4ZQ6V0S3N0D0AXM2F1K9QY",
    }
