"""Migration 0019_copy_links: a store of the previous release keeps its links (and their
lookup both ways) when document_links is rebuilt, and then holds the kind copy_of; the
table still refuses a kind it does not know."""

import sqlite3
from pathlib import Path

import pytest

import lienthong.storage.db as db
from lienthong.storage import links
from lienthong.storage.db import Store, migrations
from lienthong.storage.errors import StoreError

COPY_LINKS = next(v for v, name, _ in migrations() if name == "copy_links")
OLD, NEW, COPY = "01J" + "X" * 23, "01J" + "Y" * 23, "01J" + "Z" * 23


async def test_links_survive_the_rebuild_and_copy_of_is_kept(tmp_path: Path, monkeypatch):
    """An update link written before 0019 reads the same both ways after it; a copy_of link
    is written and read back; an unknown kind is refused by add_links and by the CHECK."""
    path = tmp_path / "node.db"
    shipped = migrations()
    with monkeypatch.context() as patch:
        patch.setattr(db, "migrations", lambda: shipped[: COPY_LINKS - 1])
        async with await Store.open(path):
            pass
    conn = sqlite3.connect(path)
    with conn:
        for doc_id in (OLD, NEW, COPY):
            conn.execute(
                "INSERT INTO documents (id, direction, sender_code, number, notation, doc_type,"
                " subject, issuer_code, issuer_name, issued_on, metadata, state, created_at,"
                " updated_at, wire_id) VALUES (?, 'out', 'A', '05', 'VP', 'cong_van', 'V/v',"
                " 'A', 'Unit A', '2025-03-01', x'80', 'sent', 1, 1, ?)",
                (doc_id, doc_id),
            )
        conn.execute(
            "INSERT INTO document_links (document_id, kind, target_sender, target_wire_id,"
            " target_id, created_at) VALUES (?, 'updates', 'A', ?, ?, 5)",
            (NEW, OLD, OLD),
        )
    conn.close()
    async with await Store.open(path) as store:
        async with store.write() as tx:
            target = links.Target(wire_id=OLD, sender="A", id=OLD)
            await links.add_links(tx, COPY, links.COPY_OF, [target], at=9)
            with pytest.raises(StoreError, match="not 'copies'"):
                await links.add_links(tx, COPY, "copies", [target], at=9)
        async with store.read() as conn:
            seen = await links.links_of(conn, OLD)
    assert [(x.document_id, x.kind, x.target_id) for x in seen] == [
        (NEW, links.UPDATES, OLD),
        (COPY, links.COPY_OF, OLD),
    ]
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        raw.execute(
            "INSERT INTO document_links VALUES (?, 'copies', 'A', ?, ?, 1)", (COPY, NEW, NEW)
        )
    raw.close()
