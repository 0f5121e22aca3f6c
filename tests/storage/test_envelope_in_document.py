"""Migration 0020_envelope_in_document: a store of the previous release keeps every envelope
byte for byte (now in its document's row), its SHA-256, its outbox rows and their delivery
state; a store holding an envelope without a document is refused, unchanged."""

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

import lienthong.storage.db as db
from lienthong.storage import documents as docs
from lienthong.storage import outbox
from lienthong.storage.db import Store, copy_path, migrations, schema_version
from lienthong.storage.errors import MigrationError

ENVELOPE_IN_DOCUMENT = next(v for v, name, _ in migrations() if name == "envelope_in_document")
A, B, C = "000.00.05.H53", "000.00.04.H53", "000.00.03.H53"
# (id, direction, sender, envelope size): sent and received letters, one far larger than
# a page (it spills to overflow pages), and an edXML import that has no envelope (None).
DOCS = [
    ("01J" + "S" * 23, "out", A, 2600),
    ("01J" + "T" * 23, "out", A, 300_000),
    ("01J" + "R" * 23, "in", B, 2600),
    ("01J" + "Q" * 23, "in", C, 1),
    ("0" + "E" * 25, "in", "G99.ORG", None),
]
STATES = {"in": "arrived", "out": "sent"}


async def _previous_store(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = migrations()
    with monkeypatch.context() as patch:
        patch.setattr(db, "migrations", lambda: shipped[: ENVELOPE_IN_DOCUMENT - 1])
        async with await Store.open(path):
            pass
    assert schema_version(path) == ENVELOPE_IN_DOCUMENT - 1


def _fill(path: Path, orphan: bool = False) -> dict[str, bytes]:
    """Documents, envelopes and outbox rows written with 0019's tables, as that release did;
    returns each envelope's bytes by id."""
    raws: dict[str, bytes] = {}
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    with conn:
        for doc_id, direction, sender, size in DOCS:
            conn.execute(
                "INSERT INTO documents (id, direction, sender_code, doc_type, subject,"
                " issuer_code, issuer_name, issued_on, metadata, state, created_at, updated_at,"
                " wire_id) VALUES (?, ?, ?, 'cong_van', 'V/v thử', ?, 'Văn phòng', '2014-05-23',"
                " x'80', ?, 7, 7, ?)",
                (doc_id, direction, sender, sender, STATES[direction], doc_id),
            )
            if size is None:
                continue
            raws[doc_id] = raw = os.urandom(size)
            conn.execute(
                "INSERT INTO envelopes (id, raw, sha256, sender_code, received_at, size)"
                " VALUES (?, ?, ?, ?, 7, ?)",
                (doc_id, raw, hashlib.sha256(raw).digest(), sender, size),
            )
        sent, big = DOCS[0][0], DOCS[1][0]
        conn.executemany(
            "INSERT INTO outbox (envelope_id, recipient, state, attempts, next_attempt_at,"
            " last_error, updated_at, refused_with, refusals) VALUES (?, ?, ?, ?, ?, ?, 9, ?, ?)",
            [
                (sent, B, "queued", 2, 10, "timeout", None, 0),
                (sent, C, "dead", 5, None, "refused", "EnvelopeIdReused", 3),
                (big, B, "delivered", 1, None, None, None, 0),
            ],
        )
        if orphan:
            conn.execute(
                "INSERT INTO envelopes (id, raw, sha256, sender_code, received_at, size)"
                " VALUES ('01JORPHAN', x'01', x'02', ?, 7, 1)",
                (A,),
            )
    conn.close()
    return raws


async def test_every_envelope_is_kept_byte_for_byte(tmp_path: Path, monkeypatch):
    """After 0020 each envelope of a 0019 store reads back identical with its SHA-256, the
    delivery worker gets the same bytes from the outbox, the outbox rows keep their state,
    an import still has no envelope, and envelopes is gone (the copy at 19 keeps it)."""
    path = tmp_path / "store.sqlite3"
    await _previous_store(path, monkeypatch)
    raws = _fill(path)
    async with await Store.open(path) as store:
        assert store.schema_version == len(migrations())
        async with store.read() as conn:
            for doc_id, _, _, size in DOCS:
                raw = raws.get(doc_id)
                assert await docs.get_envelope_raw(conn, doc_id) == raw
                assert await docs.came_in_envelope(conn, doc_id) is (size is not None)
                digest = None if raw is None else hashlib.sha256(raw).digest()
                assert await docs.envelope_sha256(conn, doc_id) == digest
            held = await docs.held_envelopes(conn, [(B, DOCS[2][0]), (C, DOCS[3][0])])
            assert {k: h.sha256 for k, h in held.items()} == {
                (B, DOCS[2][0]): hashlib.sha256(raws[DOCS[2][0]]).digest(),
                (C, DOCS[3][0]): hashlib.sha256(raws[DOCS[3][0]]).digest(),
            }
            assert await docs.held_envelopes(conn, [("G99.ORG", DOCS[4][0])]) == {}
            (due,) = await outbox.due_for(conn, B, now=10, limit=10)
            assert (due.id, due.raw, due.attempts) == (DOCS[0][0], raws[DOCS[0][0]], 2)
            rows = await outbox.rows_for(conn, DOCS[0][0])
            assert [(r.recipient, r.state, r.refused_with, r.refusals) for r in rows] == [
                (C, "dead", "EnvelopeIdReused", 3),
                (B, "queued", None, 0),
            ]
            names = {r[0] for r in await conn.fetchall("SELECT name FROM sqlite_master")}
    assert "envelopes" not in names
    assert {"outbox_destination_due", "outbox_dead"} <= names
    raw_conn = sqlite3.connect(path)
    raw_conn.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        raw_conn.execute(
            "INSERT INTO outbox (envelope_id, recipient, state, updated_at)"
            " VALUES ('01JNODOCUMENT', ?, 'queued', 1)",
            (B,),
        )
    raw_conn.close()
    old = sqlite3.connect(copy_path(path, ENVELOPE_IN_DOCUMENT - 1))
    assert old.execute("SELECT count(*) FROM envelopes").fetchone()[0] == len(raws)
    old.close()


async def test_an_envelope_without_its_document_stops_the_migration(tmp_path: Path, monkeypatch):
    """A 0019 store holding an envelope with no document row is not migrated: the error
    names what is wrong, and the store stays at 19 with that envelope and the others."""
    path = tmp_path / "store.sqlite3"
    await _previous_store(path, monkeypatch)
    raws = _fill(path, orphan=True)
    with pytest.raises(MigrationError, match="envelopes_without_document"):
        await Store.open(path)
    assert schema_version(path) == ENVELOPE_IN_DOCUMENT - 1
    conn = sqlite3.connect(path)
    kept = dict(conn.execute("SELECT id, raw FROM envelopes WHERE id != '01JORPHAN'"))
    conn.close()
    assert kept == raws
