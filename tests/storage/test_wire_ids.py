"""Received documents are keyed by (sender code, wire id) (docs/STORE.md): an id taken here
gives the newcomer an id of its own, and a store of the previous schema is migrated in place
to that key, its copy kept."""

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

import lienthong.storage.db as db
from lienthong.storage import documents as docs
from lienthong.storage.db import Store, copy_path, migrations, schema_version
from lienthong.storage.registers import incoming_number_of
from lienthong.storage.statuses import statuses_of

MakeDoc = Callable[..., docs.DocumentRecord]
A, B, C = "000.00.02.H53", "000.00.03.H53", "000.00.04.H53"
X, Y, Z = "01J" + "X" * 23, "01J" + "Y" * 23, "01J" + "Z" * 23
# The migration this file is about, and the schema before it.
WIRE_IDS = next(v for v, name, _ in migrations() if name == "wire_ids")


async def test_a_received_id_taken_here_gets_an_id_of_its_own(store: Store, make_doc: MakeDoc):
    """C's envelope X arrives first and keeps X; A's X, and an envelope of A under the id of
    a letter this node sent, are stored too, each under a new id with its wire id kept;
    each is found by (sender, wire id) with the SHA-256 of its own bytes."""
    async with store.write() as tx:
        await docs.record_outgoing(
            tx, make_doc(1, id=Y, direction="out", sender_code=B), b"mine", [A], actor="vt", at=1
        )
        assert await docs.record_incoming(tx, make_doc(2, id=X, sender_code=C), b"c", at=2) == X
        local_x = await docs.record_incoming(tx, make_doc(3, id=X, sender_code=A), b"a", at=3)
        local_y = await docs.record_incoming(tx, make_doc(4, id=Y, sender_code=A), b"y", at=4)
        assert await docs.record_incoming(tx, make_doc(5, id=X, sender_code=A), b"?", at=5) is None
    assert len({X, Y, local_x, local_y}) == 4
    async with store.read() as conn:
        held = await docs.held_envelopes(conn, [(C, X), (A, X), (A, Y), (B, Y), (C, Y)])
        found = {key: (h.document_id, h.sha256) for key, h in held.items()}
        own = await docs.get_document(conn, Y)
        doc_a = await docs.incoming_document(conn, A, X)
        arrivals = await conn.fetchall("SELECT subject, details FROM audit_log")
    assert found == {
        (C, X): (X, hashlib.sha256(b"c").digest()),
        (A, X): (local_x, hashlib.sha256(b"a").digest()),
        (A, Y): (local_y, hashlib.sha256(b"y").digest()),
    }
    assert (own.direction, own.wire_id) == ("out", Y)  # B's own letter, as sent
    assert (doc_a.id, doc_a.wire_id, doc_a.sender_code) == (local_x, X, A)
    details = {subject: text for subject, text in arrivals}
    assert f'"envelope":"{X}"' in details[local_x] and "envelope" not in details[X]


async def _previous_store(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty store at the schema before WIRE_IDS, as the previous release made it."""
    shipped = migrations()
    with monkeypatch.context() as patch:
        patch.setattr(db, "migrations", lambda: shipped[: WIRE_IDS - 1])
        async with await Store.open(path):
            pass


async def test_a_store_of_the_previous_schema_is_keyed_by_sender_and_wire_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Migrating a store of the previous schema keeps every document under its id, gives
    each its wire id (that same id), keeps its registers and timeline, and copies the store
    first; then A's envelope X, refused before because C's X was there, is stored. The rows
    are written with the previous schema's columns: C's X and A's Y arrived (Y registered,
    with its 01 and a 03), and B's own letter Z."""
    path = tmp_path / "store.sqlite3"
    await _previous_store(path, monkeypatch)
    assert schema_version(path) == WIRE_IDS - 1
    conn = sqlite3.connect(path)
    with conn:
        for doc_id, direction, sender in ((X, "in", C), (Y, "in", A), (Z, "out", B)):
            conn.execute(
                "INSERT INTO documents (id, direction, sender_code, doc_type, subject,"
                " issuer_code, issuer_name, issued_on, metadata, state, created_at, updated_at)"
                " VALUES (?, ?, ?, 'cong_van', 'V/v thử', ?, 'Văn phòng', '2014-05-23', x'80',"
                " ?, 1, 1)",
                (doc_id, direction, sender, sender, "arrived" if direction == "in" else "sent"),
            )
            conn.execute(
                "INSERT INTO envelopes (id, raw, sha256, sender_code, received_at, size)"
                " VALUES (?, ?, ?, ?, 1, 1)",
                (doc_id, doc_id.encode(), hashlib.sha256(doc_id.encode()).digest(), sender),
            )
        for status_id, doc_id, to, code in (("S1", X, C, 1), ("S2", Y, A, 1), ("S3", Y, A, 3)):
            conn.execute(
                "INSERT INTO status_events (id, envelope_id, from_code, to_code, code, at, raw,"
                " direction) VALUES (?, ?, ?, ?, ?, 1, ?, 'out')",
                (status_id, doc_id, B, to, code, status_id.encode()),
            )
        conn.execute(
            "INSERT INTO incoming_register (year, number, document_id, arrived_on, issuer_name,"
            " number_notation, doc_date, doc_type, subject, created_at)"
            " VALUES (2026, 1, ?, '2026-01-02', 'Văn phòng', '1/VP', '2014-05-23', 'cong_van',"
            " 'V/v thử', 1)",
            (Y,),
        )
    conn.close()

    async with await Store.open(path) as store:
        assert store.schema_version == len(migrations())
        async with store.read() as reader:
            rows = await reader.fetchall("SELECT id, wire_id FROM documents ORDER BY id")
            held = await docs.held_envelopes(reader, [(C, X), (A, Y), (A, X), (B, Z)])
            assert await incoming_number_of(reader, Y) == (2026, 1)
            assert [e.id for e in await statuses_of(reader, Y)] == ["S2", "S3"]
        assert [tuple(r) for r in rows] == [(X, X), (Y, Y), (Z, Z)]
        assert {k: (h.document_id, h.arrival) for k, h in held.items()} == {
            (C, X): (X, b"S1"),
            (A, Y): (Y, b"S2"),
        }
        async with store.write() as tx:
            record = docs.DocumentRecord(
                id=X,
                direction="in",
                sender_code=A,
                doc_type="cong_van",
                subject="V/v thư thật",
                issuer_code=A,
                issuer_name="Văn phòng UBND tỉnh",
                issued_on="2014-05-23",
                metadata=b"\x80",
            )
            local = await docs.record_incoming(tx, record, b"A's X", at=2)
        assert local not in (None, X)
    copy = copy_path(path, WIRE_IDS - 1)
    assert schema_version(copy) == WIRE_IDS - 1
    kept = sqlite3.connect(copy)
    assert kept.execute("SELECT count(*) FROM documents").fetchone() == (3,)
    kept.close()
