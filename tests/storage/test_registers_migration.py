"""Migration 0013_registers: a store whose numbers were integers is migrated in place, its
copy kept first; numbers become text as the decree writes them ("05"), every register line
goes to the one series the node had ("chung") with its register key."""

import sqlite3
from pathlib import Path

import pytest

import lienthong.storage.db as db
from lienthong.storage import registers as reg
from lienthong.storage.db import Store, copy_path, migrations, schema_version
from lienthong.storage.documents import get_document
from lienthong.storage.errors import Conflict

REGISTERS = next(v for v, name, _ in migrations() if name == "registers")
X, Y, Z = "01J" + "X" * 23, "01J" + "Y" * 23, "01J" + "Z" * 23


async def _previous_store(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty store at the schema before REGISTERS, as the previous release made it."""
    shipped = migrations()
    with monkeypatch.context() as patch:
        patch.setattr(db, "migrations", lambda: shipped[: REGISTERS - 1])
        async with await Store.open(path):
            pass


def _fill(path: Path) -> None:
    """Rows written with the previous schema's columns: integer numbers 5 and 2340, a legal
    document 49/2025/QĐ-UBND, and register lines of each kind."""
    conn = sqlite3.connect(path)
    with conn:
        for doc_id, direction, number, year, notation in (
            (X, "out", 5, None, "VP-TTTH"),
            (Y, "out", 49, 2025, "QĐ-UBND"),
            (Z, "in", 2340, None, "SNV-VP"),
        ):
            conn.execute(
                "INSERT INTO documents (id, direction, sender_code, number, number_year,"
                " notation, doc_type, subject, issuer_code, issuer_name, issued_on, metadata,"
                " state, created_at, updated_at, wire_id) VALUES"
                " (?, ?, 'A', ?, ?, ?, 'cong_van', 'V/v', 'A', 'Unit A', '2025-03-01', x'80',"
                " 'sent', 1, 1, ?)",
                (doc_id, direction, number, year, notation, doc_id),
            )
        for doc_id, number, notation in ((X, 5, "VP-TTTH"), (Y, 49, "QĐ-UBND")):
            conn.execute(
                "INSERT INTO outgoing_register (year, number, notation, document_id, issued_on,"
                " doc_type, subject, signer, recipients, created_at)"
                " VALUES (2025, ?, ?, ?, '2025-03-01', 'cong_van', 'V/v', 'H', 'B', 1)",
                (number, notation, doc_id),
            )
        for number, doc_id, text in ((1, Z, "2340/SNV-VP"), (2, None, "05/2025/QĐ-UBND")):
            conn.execute(
                "INSERT INTO incoming_register (year, number, document_id, arrived_on,"
                " issuer_name, issuer_code, number_notation, doc_date, doc_type, subject,"
                " manual, created_at) VALUES (2025, ?, ?, '2025-03-02', 'Sở Nội vụ', 'A', ?,"
                " '2025-03-01', 'cong_van', 'V/v', ?, 1)",
                (number, doc_id, text, int(doc_id is None)),
            )
    conn.close()


async def test_integer_numbers_become_text_in_place_and_the_store_is_copied_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the migration: document numbers "05", "49", "2340" as text; outgoing lines in
    "chung" with their text numbers and keys (the legal one with its year); incoming lines
    in "chung" keyed; the store as it was kept in store.schema-N.sqlite3, integers and all.
    The migrated keys are those the register computes: "5/VP-TTTH" is taken."""
    path = tmp_path / "store.sqlite3"
    await _previous_store(path, monkeypatch)
    _fill(path)
    async with await Store.open(path) as store:
        assert store.schema_version >= REGISTERS
        async with store.read() as conn:
            numbers = {d: (await get_document(conn, d)).number for d in (X, Y, Z)}
            kinds = await conn.fetchall("SELECT typeof(number) FROM documents")
            out = await reg.list_register(conn, "outgoing", 2025)
            incoming = await reg.list_register(conn, "incoming", 2025)
            assert await reg.next_outgoing_number(conn, "chung", 2025) == "50"
        with pytest.raises(Conflict, match="already taken"):
            async with store.write() as tx:
                await reg.register_outgoing(
                    tx,
                    reg.OutgoingEntry(
                        issued_on="2025-05-01",
                        notation="vp-ttth",
                        doc_type="cong_van",
                        subject="V/v",
                        signer="H",
                        recipients="B",
                        manual=True,
                        number="5",
                    ),
                    actor="vt",
                    at=2,
                )
        async with store.read() as conn:
            twins = await reg.possible_duplicates(conn, "5/2025/qđ-ubnd", year=2025)
    assert numbers == {X: "05", Y: "49", Z: "2340"}
    assert {k[0] for k in kinds} == {"text"}
    assert [
        (e.register, e.number, e.number_value, e.number_notation, e.number_key) for e in out
    ] == [
        ("chung", "05", 5, "05/VP-TTTH", "5//vp-ttth"),
        ("chung", "49", 49, "49/2025/QĐ-UBND", "49/2025/qđ-ubnd"),
    ]
    assert [(e.register, e.number, e.number_key) for e in incoming] == [
        ("chung", 1, "2340//snv-vp"),
        ("chung", 2, "5/2025/qđ-ubnd"),
    ]
    assert [e.number for e in twins] == [2]
    kept = copy_path(path, REGISTERS - 1)
    assert schema_version(kept) == REGISTERS - 1
    old = sqlite3.connect(kept)
    try:
        assert old.execute(
            "SELECT number, typeof(number) FROM documents WHERE id = ?", (X,)
        ).fetchone() == (5, "integer")
    finally:
        old.close()
