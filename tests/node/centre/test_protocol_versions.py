"""The envelope versions each unit reads, end to end: the centre signs each directory version
in both forms, keeps what each unit's report declares and signs the next directory once per
change; real unit nodes ask for form 2, declare (1, 2) and then receive version-2 envelopes,
while a version-1 client still gets form 1 (docs/PROTOCOL.md 10, 15, 18)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lienthong.node.centre.rules import Centre
from lienthong.node.unit.documents import envelope_version
from lienthong.node.unit.report import send_report
from lienthong.protocol.directory import Directory, verify_directory
from lienthong.protocol.wire import unpack, unwrap
from lienthong.storage import audit
from lienthong.storage import centre as db
from lienthong.storage.directory import latest_directory
from tests.node.centre_support import UNIT_A, UNIT_B, UnitSide
from tests.node.test_time_travel import CENTRE, Province, province

# The fields of a directory as a version-1 node knows them: nothing else may appear in form 1.
FORM_1_FIELDS = {
    "v",
    "kind",
    "version",
    "issued_at",
    "expires_at",
    "centre",
    "certificates",
    "revoked",
    "relays",
}


@pytest.fixture
async def centre(make_centre) -> AsyncIterator[Centre]:
    async with make_centre() as opened:
        yield opened


async def enrolled(centre: Centre, side: UnitSide) -> None:
    new = await centre.add_unit(side.code, side.name)
    await centre.enrol(side.request(new.token, created=centre.clock()))


async def newest(centre: Centre) -> tuple[Directory, Directory]:
    """Form 1 and form 2 of the newest directory in the centre's store, verified."""
    async with centre.store.read() as conn:
        latest = await latest_directory(conn)
    assert latest is not None and latest.form2 is not None
    root, now = centre.root.sign_public, centre.clock()
    return (
        verify_directory(latest.raw, root, now=now, forms=(1,)),
        verify_directory(latest.form2, root, now=now),
    )


async def declare(centre: Centre, code: str, versions: tuple[int, ...]) -> Directory | None:
    async with centre.store.write() as tx:
        unit = await db.get_unit(tx, code)
        assert unit is not None
        signed = await centre.declare_protocols(tx, unit, versions)
    if signed is not None:
        centre.publish(signed)
    return signed


def signed_fields(raw: bytes) -> set[str]:
    wrapper = unwrap(raw, what="directory", max_bytes=1 << 24)
    return set(unpack(wrapper.signed, what="directory", max_bytes=1 << 24))


# -- the centre alone ------------------------------------------------------------------------


async def test_every_version_is_signed_in_both_forms(centre):
    """centre init and every later signing store form 1 (the fields of version 1 only, read by
    a version-1 verifier) and form 2 of the same version with the same listing."""
    await enrolled(centre, UnitSide(*UNIT_A))
    one, two = await newest(centre)
    assert one.version == two.version == 2
    assert (one.form, two.form) == (1, 2)
    assert signed_fields(one.raw) == FORM_1_FIELDS
    assert signed_fields(two.raw) == FORM_1_FIELDS | {"protocols", "external"}
    assert one.same_listing(two) and dict(two.protocols) == {}


async def test_a_changed_declaration_signs_one_directory_stating_it(centre):
    """A unit declaring (1, 2) makes the centre sign the next version at once, whose form 2
    says it reads version 2 (form 1 says nothing); the same declaration again signs nothing;
    going back to (1,) signs a version that no longer lists it. Each change is audited."""
    await enrolled(centre, UnitSide(*UNIT_A))
    await enrolled(centre, UnitSide(*UNIT_B))
    before = await centre.directory_version()
    signed = await declare(centre, UNIT_A[0], (1, 2))
    assert signed is not None and signed.version == before + 1 and signed.form == 1
    assert centre.published_version == before + 1
    one, two = await newest(centre)
    assert two.reads(UNIT_A[0]) == (1, 2) and two.reads(UNIT_B[0]) == (1,)
    assert one.reads(UNIT_A[0]) == (1,)
    assert await declare(centre, UNIT_A[0], (1, 2)) is None
    assert await centre.directory_version() == before + 1
    assert (await declare(centre, UNIT_A[0], (1,))).version == before + 2
    _, two = await newest(centre)
    assert dict(two.protocols) == {}
    async with centre.store.read() as conn:
        entries = [e for e in await audit.entries(conn, limit=1000) if e.action == "unit.protocols"]
    assert [(e.subject, e.details["protocols"]) for e in entries] == [
        (UNIT_A[0], [1, 2]),
        (UNIT_A[0], [1]),
    ]


async def test_a_revoked_unit_is_not_listed_and_a_new_enrolment_starts_at_version_1(centre):
    """Revoking a unit that declared (1, 2) drops it from form 2; added again, it reads
    version 1 only until it reports again."""
    await enrolled(centre, UnitSide(*UNIT_A))
    await declare(centre, UNIT_A[0], (1, 2))
    await centre.revoke(UNIT_A[0])
    _, two = await newest(centre)
    assert dict(two.protocols) == {}
    await enrolled(centre, UnitSide(*UNIT_A))
    async with centre.store.read() as conn:
        assert (await db.get_unit(conn, UNIT_A[0])).protocols == (1,)


async def test_a_directory_signed_before_migration_0012_is_signed_again_with_form_2(centre):
    """The newest directory of a centre upgraded from version 1 has no form 2: the re-sign
    check signs the next version at once, in both forms."""
    version = await centre.directory_version()
    async with centre.store.write() as tx:
        await tx.execute("UPDATE directory_cache SET form2 = NULL")
    assert await centre.resign_if_due() is True
    one, two = await newest(centre)
    assert one.version == two.version == version + 1
    assert await centre.resign_if_due() is False


# -- real nodes ------------------------------------------------------------------------------

A, B, C = "000.00.02.H53", "000.00.03.H53", "000.00.04.H53"


def quiet(p: Province) -> None:
    """Stop the units' own report loops (the first fires 15 s after start): the tests send
    each report themselves, so that no other report changes what the centre holds."""
    for code, node in p.nodes.items():
        if code != CENTRE:
            for task in node.tasks:
                if task.get_name() == "unit report":
                    task.cancel()


async def held(p: Province, code: str) -> Directory:
    directory = p.nodes[code].ctx.directory.current
    assert directory is not None
    return directory


async def test_a_unit_that_declares_version_2_gets_version_2_envelopes(tmp_path):
    """Real centre and unit nodes over mutual TLS. Enrolled units hold form 1 (the enrolment
    answer); their first refresh asks for form 2 and takes form 2 of the same version. A's
    report then declares (1, 2): the centre signs the next directory once, and after a
    refresh B's directory says A reads version 2, so envelope_version picks 2 for A and 1 for
    C, a unit enrolled that never ran nor reported. A second report changes nothing."""
    async with province(tmp_path, [A, B]) as p:
        quiet(p)
        a = p.nodes[A]
        assert (await held(p, A)).form == (await held(p, B)).form == 2
        await p.enrol(C)  # certified, never started: it never reports
        await p.refresh(A, B)
        p.clock.advance(1_000)  # after any report the units' own loops made
        assert a.session is not None
        await send_report(a.ctx, a.session)
        centre = p.centre.ctx
        async with centre.store.read() as conn:
            unit = await db.get_unit(conn, A)
            assert unit is not None and unit.protocols == (1, 2)
        signed = centre.directory.version
        await p.refresh(B)
        directory = await held(p, B)
        assert directory.version == signed and directory.form == 2
        assert directory.reads(A) == (1, 2) and directory.reads(C) == (1,)
        assert envelope_version(directory, [A]) == 2
        assert envelope_version(directory, [C]) == 1
        assert envelope_version(directory, [A, C]) == 1
        p.clock.advance(1_000)
        await send_report(a.ctx, a.session)
        assert centre.directory.version == signed  # the same versions: nothing signed
        async with centre.store.read() as conn:
            changes = [
                e for e in await audit.entries(conn, limit=1000) if e.action == "unit.protocols"
            ]
        assert [e.subject for e in changes].count(A) == 1


async def test_a_version_1_client_gets_form_1_from_the_centre(tmp_path):
    """GET /v1/directory without the query (a version-1 unit) answers form 1 under the
    version-1 ETag; a strict version-1 verifier (forms=(1,)) accepts it, and it lists no
    protocols even though a unit declared (1, 2). With ?form=2 the same version comes in
    form 2 under "v<n>.2"."""
    async with province(tmp_path, [A]) as p:
        quiet(p)
        a = p.nodes[A]
        assert a.session is not None
        p.clock.advance(1_000)
        await send_report(a.ctx, a.session)
        version = p.centre.ctx.directory.version
        url = f"{p.centre_url}/v1/directory"
        async with a.session.get(url) as response:
            assert response.status == 200
            assert response.headers["ETag"] == f'"v{version}"'
            raw = await response.read()
        root = p.centre.ctx.directory.root_public
        one = verify_directory(raw, root, now=p.clock(), forms=(1,))
        assert one.version == version and signed_fields(raw) == FORM_1_FIELDS
        async with a.session.get(url, params={"form": "2"}) as response:
            assert response.headers["ETag"] == f'"v{version}.2"'
            two = verify_directory(await response.read(), root, now=p.clock())
        assert two.reads(A) == (1, 2) and one.same_listing(two)
        assert CENTRE in {c.code for c in one.certificates}
