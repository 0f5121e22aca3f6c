"""The centre's renewal rules without HTTP: a certificate renewed before it ends, one renewed
after it ended once the operator approves, approval when the centre requires it, and each
refusal (audited, nothing changed), on real SQLite files and key files in tmp_path."""

from __future__ import annotations

import pytest

from lienthong.node.centre import errors
from lienthong.node.centre.issuer import MS_PER_DAY
from lienthong.node.centre.rules import (
    RENEWAL_GRACE_DAYS,
    Centre,
    Issued,
    Pending,
)
from lienthong.protocol.directory import verify_directory
from lienthong.storage import audit
from lienthong.storage.reports import units_overview
from tests.node.centre_support import UNIT_A, UnitSide, open_bundle

DAY = MS_PER_DAY


async def enrolled(centre: Centre) -> tuple[UnitSide, Issued]:
    unit = UnitSide(*UNIT_A)
    new = await centre.add_unit(unit.code, unit.name)
    outcome = await centre.enrol(unit.request(new.token, created=centre.clock()))
    assert isinstance(outcome, Issued)
    return unit, outcome


async def entries(centre: Centre, action: str) -> list[audit.AuditEntry]:
    async with centre.store.read() as conn:
        assert (await audit.verify(conn)).ok
        return [e for e in await audit.entries(conn, limit=1000) if e.action == action]


async def version_of(centre: Centre) -> int:
    version = await centre.directory_version()
    assert version is not None
    return version


async def waiting(centre: Centre) -> tuple[bytes | None, bool]:
    """The waiting key `centre units` shows for A, and the console's "awaiting" badge."""
    (record,) = [u for u in await centre.units() if u.code == UNIT_A[0]]
    async with centre.store.read() as conn:
        (row,) = [u for u in await units_overview(conn) if u.code == UNIT_A[0]]
    return record.waiting_key, row.awaiting_approval


async def test_a_certificate_that_ended_is_renewed_once_the_operator_approves(make_centre, clock):
    """Ten days after A's certificate ended, a request signed by its key is held (202, audited
    once however often it comes, shown as awaiting with the new key); approval issues a
    certificate replacing the old one, and the same request then gets it."""
    async with make_centre() as centre:
        old, first = await enrolled(centre)
        clock.now = first.certificate.not_after + 10 * DAY
        new = UnitSide(*UNIT_A)
        version = await version_of(centre)
        for created in (1, 2):
            outcome = await centre.renew(
                new.rotation(old, first.certificate.serial, created=created)
            )
            assert isinstance(outcome, Pending) and "approval" in outcome.message
        assert await version_of(centre) == version
        assert await waiting(centre) == (new.keys.sign_public, True)
        (held,) = await entries(centre, "renewal.pending")
        assert held.details["replaces"] == first.certificate.serial
        assert held.details["ended_at"] == first.certificate.not_after

        approved = await centre.approve(UNIT_A[0], actor="operator:test")
        cert = approved.certificate
        assert (cert.via, cert.replaces, cert.sign_key) == (
            "rotation",
            first.certificate.serial,
            new.keys.sign_public,
        )
        directory = verify_directory(
            open_bundle(approved.bundle)["directory"], centre.root.sign_public, now=clock()
        )
        assert directory.current(UNIT_A[0]).serial == cert.serial
        again = await centre.renew(new.rotation(old, first.certificate.serial, created=3))
        assert isinstance(again, Issued) and again.certificate == cert
        assert await waiting(centre) == (None, False)
        (entry,) = await entries(centre, "renewal.approved")
        assert (entry.actor, entry.details["replaces"]) == (
            "operator:test",
            first.certificate.serial,
        )


async def test_a_valid_certificate_is_renewed_at_once(make_centre, clock):
    """Twenty-nine days before the end a renewal is issued at once, as a rotation."""
    async with make_centre() as centre:
        old, first = await enrolled(centre)
        clock.now = first.certificate.not_after - 29 * DAY
        new = UnitSide(*UNIT_A)
        outcome = await centre.renew(new.rotation(old, first.certificate.serial))
        assert isinstance(outcome, Issued)
        assert outcome.certificate.replaces == first.certificate.serial
        assert outcome.certificate.not_after > first.certificate.not_after
        assert not await entries(centre, "renewal.pending")
        (entry,) = await entries(centre, "rotation")
        assert entry.details["replaces"] == first.certificate.serial


async def test_approval_required_holds_rotation_and_renewal_alike(make_centre, clock):
    """With require_approval, a rotation over mutual TLS and a renewal are both held; the
    operator approves and both paths then answer with the same certificate."""
    async with make_centre(require_approval=True) as centre:
        unit = UnitSide(*UNIT_A)
        new_token = await centre.add_unit(unit.code, unit.name)
        assert isinstance(await centre.enrol(unit.request(new_token.token)), Pending)
        first = await centre.approve(UNIT_A[0])
        new = UnitSide(*UNIT_A)
        rotation = new.rotation(unit, first.certificate.serial)
        assert isinstance(await centre.rotate(rotation, peer=UNIT_A[0]), Pending)
        assert isinstance(await centre.renew(rotation), Pending)
        assert await waiting(centre) == (new.keys.sign_public, True)
        approved = await centre.approve(UNIT_A[0])
        assert approved.certificate.replaces == first.certificate.serial
        for outcome in (
            await centre.renew(rotation),
            await centre.rotate(rotation, peer=UNIT_A[0]),
        ):
            assert isinstance(outcome, Issued) and outcome.certificate == approved.certificate
        assert len(await entries(centre, "renewal.pending")) == 1


async def test_a_newer_request_replaces_the_waiting_one_and_revocation_closes_it(
    make_centre, clock
):
    """Another request signed by the same key replaces the one waiting (audited as such);
    revoking the unit closes it, and then there is nothing to approve."""
    async with make_centre() as centre:
        old, first = await enrolled(centre)
        clock.now = first.certificate.not_after + DAY
        serial = first.certificate.serial
        lost, kept = UnitSide(*UNIT_A), UnitSide(*UNIT_A)
        assert isinstance(await centre.renew(lost.rotation(old, serial)), Pending)
        assert isinstance(await centre.renew(kept.rotation(old, serial)), Pending)
        assert await waiting(centre) == (kept.keys.sign_public, True)
        held = await entries(centre, "renewal.pending")
        assert [e.details["replaces_request"] for e in held] == [False, True]
        await centre.revoke(UNIT_A[0])
        assert await waiting(centre) == (None, False)
        with pytest.raises(errors.UnitRevoked):
            await centre.approve(UNIT_A[0])


async def test_nothing_to_approve_for_an_active_unit_that_asked_nothing(make_centre):
    """Approving an enrolled unit with no request waiting is refused and says why."""
    async with make_centre() as centre:
        await enrolled(centre)
        with pytest.raises(errors.NothingToApprove, match="enrolled already"):
            await centre.approve(UNIT_A[0])


async def test_each_renewal_refusal_is_audited_and_changes_nothing(make_centre, clock):
    """A revoked unit, a key that is not the unit's latest (an older certificate of its own,
    or a stranger's), a serial not of the unit, a certificate ended beyond the grace period
    and a token request: each refused with its error, audited as renewal.refused, with no
    directory signed and nothing left waiting."""
    async with make_centre() as centre:
        old, first = await enrolled(centre)
        serial = first.certificate.serial
        clock.now = first.certificate.not_after - 5 * DAY
        second = UnitSide(*UNIT_A)
        renewed = await centre.renew(second.rotation(old, serial))
        assert isinstance(renewed, Issued)
        latest = renewed.certificate.serial
        stranger = UnitSide(*UNIT_A)
        cases = [
            (UnitSide(*UNIT_A).rotation(old, serial), errors.StaleCertificate),
            (UnitSide(*UNIT_A).rotation(old, latest), errors.RotationSignature),
            (UnitSide(*UNIT_A).rotation(stranger, latest), errors.RotationSignature),
            (UnitSide(*UNIT_A).rotation(second, 1), errors.UnknownCertificate),
            (UnitSide(*UNIT_A).request("0123.AAAAAAAAAAAAAAAAAAAAAAAAAA"), errors.MalformedRequest),
        ]
        clock.now = renewed.certificate.not_after + (RENEWAL_GRACE_DAYS + 1) * DAY
        cases.append((UnitSide(*UNIT_A).rotation(second, latest), errors.RenewalTooLate))
        version = await version_of(centre)
        for raw, error in cases:
            with pytest.raises(error):
                await centre.renew(raw)
        assert await version_of(centre) == version
        clock.now = renewed.certificate.not_after + DAY
        await centre.revoke(UNIT_A[0])
        version = await version_of(centre)
        with pytest.raises(errors.UnitRevoked):
            await centre.renew(UnitSide(*UNIT_A).rotation(second, latest))
        assert await version_of(centre) == version
        assert await waiting(centre) == (None, False)
        refused = [e.details["error"] for e in await entries(centre, "renewal.refused")]
        assert refused == [error.__name__ for _, error in cases] + ["UnitRevoked"]
        assert not await entries(centre, "renewal.pending")
