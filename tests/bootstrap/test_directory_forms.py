"""DirectoryState and the two forms of one directory version (docs/PROTOCOL.md 10.2): form 2
of the version held in form 1 replaces it, the other way round changes nothing, and a
same-version directory that lists anything else is never taken."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lienthong.bootstrap.directory import DirectoryState, held_tags
from lienthong.crypto.keys import NodeKeys
from lienthong.storage import audit
from lienthong.storage.db import Store
from lienthong.storage.directory import latest_directory
from tests.bootstrap.support import UNIT_A, UNIT_B, Clock, Federation

READS_2 = {UNIT_A: [1, 2]}


@pytest.fixture
def fed() -> Federation:
    f = Federation()
    for code in (UNIT_A, UNIT_B):
        f.certify(code, NodeKeys.generate(), f.leaf(code, f.ca_key.public_key()))
    return f


@pytest.fixture
async def store(tmp_path: Path, fed: Federation):
    async with await Store.open(tmp_path / "store.sqlite3", clock=Clock(fed.now)) as opened:
        yield opened


async def state_holding(store: Store, fed: Federation, raw: bytes) -> DirectoryState:
    state = await DirectoryState.load(store, fed.root.sign_public, Clock(fed.now))
    assert await state.accept(raw, source="centre") is True
    return state


async def cached(store: Store) -> bytes:
    async with store.read() as conn:
        latest = await latest_directory(conn)
    assert latest is not None and latest.form2 is None  # a unit keeps one form, in raw
    return latest.raw


async def actions(store: Store) -> list[tuple[str, dict]]:
    async with store.read() as conn:
        return [(e.action, e.details) for e in await audit.entries(conn)]


async def test_form_2_of_the_version_held_in_form_1_replaces_it(fed, store):
    """A unit holding form 1 of v3 (as enrolment leaves it) takes form 2 of v3: it is
    cached in place of form 1, audited with its form, in force at once and after a
    restart, and states what each unit reads."""
    state = await state_holding(store, fed, fed.directory(3))
    form_2 = fed.directory(3, protocols=READS_2)
    assert await state.accept(form_2, source="centre https://c") is True
    assert state.version == 3 and state.form == 2 and state.current.raw == form_2
    assert state.current.reads(UNIT_A) == (1, 2) and state.current.reads(UNIT_B) == (1,)
    assert await cached(store) == form_2
    action, details = (await actions(store))[-1]
    assert action == "directory.accepted" and details["form"] == 2 and details["previous"] == 3
    again = await DirectoryState.load(store, fed.root.sign_public, Clock(fed.now))
    assert again.current.raw == form_2 and again.current.reads(UNIT_A) == (1, 2)


async def test_form_1_of_the_version_held_in_form_2_changes_nothing(fed, store, caplog):
    """Form 1 of the version held in form 2 (a version-1 peer's push, a version-1 centre's
    answer) is the same directory with less in it: False, nothing written, no warning."""
    form_2 = fed.directory(3, protocols=READS_2)
    state = await state_holding(store, fed, form_2)
    before = await actions(store)
    with caplog.at_level(logging.WARNING, logger="lienthong.directory"):
        assert await state.accept(fed.directory(3), source="peer https://p") is False
    assert state.current.raw == form_2 and await cached(store) == form_2
    assert await actions(store) == before
    assert not caplog.records


async def test_a_same_version_directory_listing_otherwise_is_not_taken(fed, store, caplog):
    """Form 2 of v3 whose listing differs from the form 1 held (another issue time) is no
    other form of the same directory: it is not taken, and the difference is logged."""
    form_1 = fed.directory(3)
    state = await state_holding(store, fed, form_1)
    other = fed.directory(3, issued_at=fed.now - 1, protocols=READS_2)
    with caplog.at_level(logging.WARNING, logger="lienthong.directory"):
        assert await state.accept(other, source="peer https://p") is False
    assert state.current.raw == form_1 and await cached(store) == form_1
    assert "differs from the one held" in caplog.text


async def test_a_newer_version_is_taken_in_either_form(fed, store):
    """Versions still decide: a newer form 1 replaces an older form 2, and the other way."""
    state = await state_holding(store, fed, fed.directory(3, protocols=READS_2))
    assert await state.accept(fed.directory(4), source="peer") is True
    assert state.form == 1 and state.current.reads(UNIT_A) == (1,)
    assert await state.accept(fed.directory(5, protocols=READS_2), source="centre") is True
    assert state.form == 2


def test_the_tags_a_node_sends_name_what_it_holds():
    """If-None-Match: nothing without a directory, "v<n>" for form 1, and for form 2 both
    tags (form 1 of the version held is nothing new either)."""
    assert held_tags(None) is None and held_tags(0) is None
    assert held_tags(7) == '"v7"'
    assert held_tags(7, 2) == '"v7.2", "v7"'
