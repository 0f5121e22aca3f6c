"""DirectoryState: which directories it takes, what it refuses, what it caches and reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from lienthong.bootstrap.directory import DirectoryState
from lienthong.crypto.keys import NodeKeys
from lienthong.protocol.errors import BadSignature, Expired, Revoked, Rollback, UnknownSigner
from lienthong.storage import audit
from lienthong.storage.db import Store
from lienthong.storage.directory import latest_directory
from tests.bootstrap.support import DAY, HOUR, UNIT_A, Clock, Federation


@pytest.fixture
def fed() -> Federation:
    f = Federation()
    f.certify(UNIT_A, NodeKeys.generate(), f.leaf(UNIT_A, f.ca_key.public_key()))
    return f


@pytest.fixture
def clock(fed: Federation) -> Clock:
    return Clock(fed.now)


@pytest.fixture
async def store(tmp_path: Path, clock: Clock):
    async with await Store.open(tmp_path / "store.sqlite3", clock=clock) as opened:
        yield opened


async def audit_actions(store: Store) -> list[tuple[str, dict]]:
    async with store.read() as conn:
        return [(e.action, e.details) for e in await audit.entries(conn)]


async def cached_version(store: Store) -> int | None:
    async with store.read() as conn:
        cached = await latest_directory(conn)
    return cached.version if cached else None


async def test_newer_directory_is_accepted_cached_and_audited(fed, clock, store):
    """A newer directory replaces the current one, is cached, and the audit names its source."""
    state = await DirectoryState.load(store, fed.root.sign_public, clock)
    assert state.version == 0 and state.current is None
    assert await state.accept(fed.directory(1), source="centre https://c") is True
    assert await state.accept(fed.directory(2), source="peer https://p") is True
    assert state.version == 2 and state.current.version == 2
    assert await cached_version(store) == 2
    actions = await audit_actions(store)
    assert [a for a, _ in actions] == ["directory.accepted", "directory.accepted"]
    assert actions[1][1]["source"] == "peer https://p"
    assert actions[1][1]["previous"] == 1


async def test_same_version_changes_nothing(fed, clock, store):
    """Offering the version already held returns False and writes nothing."""
    raw = fed.directory(1)
    state = await DirectoryState.load(store, fed.root.sign_public, clock)
    await state.accept(raw, source="centre")
    before = await audit_actions(store)
    assert await state.accept(raw, source="peer") is False
    assert await audit_actions(store) == before
    assert state.version == 1


async def test_rollback_is_refused_and_audited(fed, clock, store):
    """An older directory raises Rollback, leaves a refusal in the audit log, changes nothing."""
    old = fed.directory(1)
    state = await DirectoryState.load(store, fed.root.sign_public, clock)
    await state.accept(fed.directory(2), source="centre")
    with pytest.raises(Rollback, match="older than v2"):
        await state.accept(old, source="peer https://evil")
    assert state.version == 2
    assert await cached_version(store) == 2
    action, details = (await audit_actions(store))[-1]
    assert action == "directory.refused"
    assert details["error"] == "Rollback" and details["source"] == "peer https://evil"


async def test_expired_directory_is_refused(fed, clock, store):
    """A directory already past its expiry raises Expired and is audited, not cached."""
    raw = fed.directory(1, expires_in=HOUR)
    clock.advance(2 * HOUR)
    state = await DirectoryState.load(store, fed.root.sign_public, clock)
    with pytest.raises(Expired):
        await state.accept(raw, source="centre")
    assert state.current is None and await cached_version(store) is None
    assert (await audit_actions(store))[-1][1]["error"] == "Expired"


async def test_tampered_directory_is_refused(fed, clock, store):
    """A directory whose signed bytes were altered raises BadSignature and is audited."""
    raw = bytearray(fed.directory(1))
    index = raw.index(b"Trung")
    raw[index] ^= 0x01
    state = await DirectoryState.load(store, fed.root.sign_public, clock)
    with pytest.raises(BadSignature):
        await state.accept(bytes(raw), source="peer")
    assert state.version == 0
    assert (await audit_actions(store))[-1][0] == "directory.refused"


async def test_directory_of_another_root_is_refused(fed, clock, store):
    """A directory signed by another centre's root key is refused."""
    other = Federation()
    state = await DirectoryState.load(store, fed.root.sign_public, clock)
    with pytest.raises(BadSignature, match="not signed by this federation's centre"):
        await state.accept(other.directory(5), source="peer")
    assert state.version == 0


async def test_cache_survives_a_store_reopen(fed, clock, tmp_path):
    """The accepted directory is what load() finds after the store is closed and reopened."""
    path = tmp_path / "reopen.sqlite3"
    raw = fed.directory(3)
    async with await Store.open(path, clock=clock) as store:
        state = await DirectoryState.load(store, fed.root.sign_public, clock)
        await state.accept(raw, source="centre")
    async with await Store.open(path, clock=clock) as store:
        again = await DirectoryState.load(store, fed.root.sign_public, clock)
        assert again.version == 3 and again.current.raw == raw
        assert again.expired is False
        with pytest.raises(Rollback):
            await again.accept(fed.directory(2), source="peer")


async def test_expired_cache_loads_but_is_reported(fed, clock, tmp_path, caplog):
    """An expired cache still loads: `expired` is true, warned, and lookups raise Expired."""
    path = tmp_path / "expired.sqlite3"
    async with await Store.open(path, clock=clock) as store:
        state = await DirectoryState.load(store, fed.root.sign_public, clock)
        await state.accept(fed.directory(1, expires_in=DAY), source="centre")
    clock.advance(2 * DAY)
    async with await Store.open(path, clock=clock) as store:
        state = await DirectoryState.load(store, fed.root.sign_public, clock)
        assert state.version == 1 and state.expired is True
        assert "directory v1 expired" in caplog.text
        assert state.warnings(clock())[0].startswith("directory v1 expired at")
        with pytest.raises(Expired):
            state.key_lookup(UNIT_A, 2)
        fed.now = clock()
        assert await state.accept(fed.directory(2), source="centre") is True
        assert state.expired is False


async def test_warnings_before_expiry(fed, clock, store):
    """Within directory_warn_hours of expiry a warning says how many hours are left."""
    state = await DirectoryState.load(store, fed.root.sign_public, clock, warn_hours=48)
    assert "no directory yet" in state.warnings(clock())[0]
    await state.accept(fed.directory(1, expires_in=72 * HOUR), source="centre")
    assert state.warnings(clock()) == []
    clock.advance(30 * HOUR)
    warnings = state.warnings(clock())
    assert len(warnings) == 1 and "directory v1 expires within 42 hours" in warnings[0]
    assert state.warnings(clock(), warn_hours=24) == []


async def test_key_lookup(fed, clock, store):
    """key_lookup gives the listed key, and refuses unknown and revoked certificates."""
    state = await DirectoryState.load(store, fed.root.sign_public, clock)
    with pytest.raises(UnknownSigner, match="no directory yet"):
        state.key_lookup(UNIT_A, 2)
    await state.accept(fed.directory(1), source="centre")
    assert state.key_lookup(UNIT_A, 2) == state.current.certificates[0].sign_key
    with pytest.raises(UnknownSigner):
        state.key_lookup(UNIT_A, 99)
    await state.accept(fed.directory(2, revoked=[2]), source="centre")
    with pytest.raises(Revoked):
        state.key_lookup(UNIT_A, 2)
