"""The audit log: the hash chain, its verification and its append-only triggers."""

import hashlib
import json
import sqlite3

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lienthong.storage import audit
from lienthong.storage.db import Store


async def _append(store: Store, n: int) -> None:
    async with store.write() as tx:
        for i in range(n):
            await audit.append(
                tx,
                at=1000 + i,
                actor="clerk",
                action="test",
                subject=f"s{i}",
                details={"i": i, "tên": "Văn thư"},
            )


async def test_first_entry_hash_follows_the_documented_formula(store: Store) -> None:
    """Entry 1 hashes 32 zero bytes || msgpack([seq, at, actor, action, subject, json])."""
    async with store.write() as tx:
        seq = await audit.append(
            tx, at=5, actor="a", action="x", subject="s", details={"b": 1, "a": "ổ"}
        )
    assert seq == 1
    details = '{"a":"ổ","b":1}'
    expected = hashlib.sha256(bytes(32) + msgpack.packb([1, 5, "a", "x", "s", details]))
    async with store.read() as conn:
        row = await conn.fetchone("SELECT details, prev_hash, hash FROM audit_log")
    assert row[0] == details
    assert row[1] == bytes(32)
    assert row[2] == expected.digest()


# What entries' details hold: text (any Unicode, control characters too), integers, booleans,
# None, and lists and objects of them.
_DETAILS = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), _DETAILS, max_size=6))
def test_details_text_is_the_documented_json(details: dict) -> None:
    """details_json writes what json.dumps(sort_keys, ensure_ascii=False, compact) writes."""
    expected = json.dumps(details, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert audit.details_json(details) == expected


async def test_chain_verifies(store: Store) -> None:
    """A log written by append verifies, and entries are numbered from 1."""
    await _append(store, 30)
    async with store.read() as conn:
        report = await audit.verify(conn)
        listed = await audit.entries(conn, after=28)
    assert report == audit.AuditReport(ok=True, entries=30)
    assert [e.seq for e in listed] == [29, 30]
    assert listed[0].details == {"i": 28, "tên": "Văn thư"}


async def test_empty_log_verifies(store: Store) -> None:
    """An empty log is a valid chain of zero entries."""
    async with store.read() as conn:
        assert await audit.verify(conn) == audit.AuditReport(ok=True, entries=0)


async def test_update_and_delete_are_refused(store: Store) -> None:
    """The triggers abort any UPDATE or DELETE of audit_log."""
    await _append(store, 2)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        async with store.write() as tx:
            await tx.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        async with store.write() as tx:
            await tx.execute("DELETE FROM audit_log WHERE seq = 2")


async def test_tampering_names_the_first_bad_entry(store: Store) -> None:
    """Editing an entry behind the triggers' back is found at that entry's seq."""
    await _append(store, 10)
    async with store.write() as tx:
        await tx.execute("DROP TRIGGER audit_log_no_update")
        await tx.execute("UPDATE audit_log SET details = '{\"i\":99}' WHERE seq = 4")
    async with store.read() as conn:
        report = await audit.verify(conn)
    assert not report.ok
    assert report.first_bad_seq == 4
    assert report.entries == 3
    assert "hash" in (report.reason or "")


async def test_deleted_entry_is_found(store: Store) -> None:
    """A missing entry in the middle is reported by its seq."""
    await _append(store, 6)
    async with store.write() as tx:
        await tx.execute("DROP TRIGGER audit_log_no_delete")
        await tx.execute("DELETE FROM audit_log WHERE seq = 3")
    async with store.read() as conn:
        report = await audit.verify(conn)
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert "missing" in (report.reason or "")


async def test_verify_crosses_batches(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Verification reads in batches and still finds a bad entry in a later batch."""
    monkeypatch.setattr(audit, "VERIFY_BATCH", 4)
    await _append(store, 11)
    async with store.read() as conn:
        assert await audit.verify(conn) == audit.AuditReport(ok=True, entries=11)
    async with store.write() as tx:
        await tx.execute("DROP TRIGGER audit_log_no_update")
        await tx.execute("UPDATE audit_log SET at = 0 WHERE seq = 9")
    async with store.read() as conn:
        assert (await audit.verify(conn)).first_bad_seq == 9
