"""The centre's rules without HTTP: init, units, tokens, enrolment, approval, revocation,
rotation and directory signing, on real SQLite files and key files in tmp_path."""

from __future__ import annotations

import hashlib
import stat
import tomllib
from collections.abc import AsyncIterator

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lienthong.crypto import signing
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import fingerprint
from lienthong.node.centre import errors
from lienthong.node.centre.issuer import MS_PER_DAY, MS_PER_HOUR
from lienthong.node.centre.rules import (
    CENTRE_OWN_VALIDITY_DAYS,
    Centre,
    Issued,
    Pending,
    open_centre,
)
from lienthong.node.centre.setup import create_centre
from lienthong.protocol.certificate import verify_certificate
from lienthong.protocol.directory import verify_directory
from lienthong.protocol.wire import pack, unwrap, wrap
from lienthong.storage import audit
from tests.node.centre_support import (
    CENTRE_CODE,
    CENTRE_NAME,
    UNIT_A,
    UNIT_B,
    UnitSide,
    open_bundle,
)

DAY = MS_PER_DAY
HOUR = MS_PER_HOUR


@pytest.fixture
async def centre(make_centre) -> AsyncIterator[Centre]:
    async with make_centre() as opened:
        yield opened


async def version_of(centre: Centre) -> int:
    version = await centre.directory_version()
    assert version is not None
    return version


async def audit_actions(centre: Centre) -> list[tuple[str, str]]:
    async with centre.store.read() as conn:
        return [(e.action, e.subject) for e in await audit.entries(conn, limit=1000)]


async def enrol(centre: Centre, unit: UnitSide) -> Issued:
    new = await centre.add_unit(unit.code, unit.name)
    outcome = await centre.enrol(unit.request(new.token, created=centre.clock()))
    assert isinstance(outcome, Issued)
    return outcome


# centre init


async def test_init_creates_keys_ca_tls_config_and_first_directory(tmp_path, clock):
    """init writes 0600 keys, a CA keyed by the root, a TLS leaf and directory v1 with itself."""
    data_dir = tmp_path / "centre"
    created = await create_centre(data_dir, name=CENTRE_NAME, listen="127.0.0.1:7000", clock=clock)
    for key in ("keys/root.key", "keys/identity.key", "keys/tls.key"):
        assert stat.S_IMODE((data_dir / key).stat().st_mode) == 0o600, key
    ca = tls.cert_from_pem((data_dir / "tls/ca.pem").read_bytes())
    ca_public = ca.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert fingerprint(ca_public) == created.fingerprint
    leaf = tls.cert_from_pem((data_dir / "tls/cert.pem").read_bytes())
    tls.verify_issued_by(leaf, ca)
    assert tls.unit_code_of(leaf) == CENTRE_CODE
    san = leaf.extensions.get_extension_for_class(cx509.SubjectAlternativeName).value
    assert {str(ip) for ip in san.get_values_for_type(cx509.IPAddress)} == {"127.0.0.1"}
    assert san.get_values_for_type(cx509.DNSName) == ["localhost"]
    config = tomllib.loads((data_dir / "node.toml").read_text(encoding="utf-8"))
    assert config["node"]["role"] == "centre"
    assert config["unit"]["code"] == CENTRE_CODE
    assert created.url == "https://127.0.0.1:7000"
    async with open_centre(data_dir, clock=clock) as centre:
        latest = await centre.latest_directory()
    assert latest is not None
    directory = verify_directory(latest[1], ca_public, now=clock())
    assert directory.version == 1
    own = directory.current(CENTRE_CODE)
    assert own is not None and own.serial == created.serial == 1
    assert own.tls_sha256 == hashlib.sha256(leaf.public_bytes(Encoding.DER)).digest()
    assert directory.relays == ("https://127.0.0.1:7000/v1/relay",)
    # The centre's own certificates last as long as its CA, not a unit's year.
    days = (own.not_after - clock()) // 86_400_000
    assert days == CENTRE_OWN_VALIDITY_DAYS
    leaf_days = (leaf.not_valid_after_utc.timestamp() * 1000 - clock()) / 86_400_000
    assert round(leaf_days) == CENTRE_OWN_VALIDITY_DAYS


async def test_init_refuses_a_data_directory_in_use(tmp_path, clock):
    """A second init in the same data directory is refused and leaves the first intact."""
    data_dir = tmp_path / "centre"
    first = await create_centre(data_dir, name=CENTRE_NAME, clock=clock)
    before = (data_dir / "keys/root.key").read_bytes()
    with pytest.raises(errors.CentreError, match="exists already"):
        await create_centre(data_dir, name="Another", clock=clock)
    assert (data_dir / "keys/root.key").read_bytes() == before
    async with open_centre(data_dir, clock=clock) as centre:
        assert centre.fingerprint == first.fingerprint


# units and tokens


async def test_add_unit_prints_a_token_of_the_fixed_form(centre):
    """The token is 16 hex characters, a dot, 32 base32 characters; it expires in 7 days."""
    new = await centre.add_unit(*UNIT_A)
    token_id, secret = new.token.split(".")
    assert len(token_id) == 16 and int(token_id, 16) >= 0
    assert len(secret) == 32 and set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert new.expires_at == centre.clock() + 7 * DAY
    assert new.fingerprint == centre.fingerprint and new.centre_url == centre.url
    (unit,) = [u for u in await centre.units() if u.code == UNIT_A[0]]
    assert (unit.status, unit.name, unit.serial) == ("pending", UNIT_A[1], None)


async def test_add_unit_checks_the_configured_code_pattern(centre):
    """A code outside the pattern is refused and nothing is registered."""
    with pytest.raises(Exception, match="does not match the pattern"):
        await centre.add_unit("5.H53", "Sở lạ")
    assert [u.code for u in await centre.units()] == [CENTRE_CODE]


async def test_an_enrolled_unit_cannot_be_added_again(centre):
    """add-unit of an active unit is refused, with or without --new-token."""
    await enrol(centre, UnitSide(*UNIT_A))
    for new_token in (False, True):
        with pytest.raises(errors.UnitExists, match="enrolled already"):
            await centre.add_unit(*UNIT_A, new_token=new_token)


async def test_a_new_token_replaces_the_old_one_of_a_pending_unit(centre):
    """Without --new-token a pending unit is refused; with it the old token stops working."""
    old = await centre.add_unit(*UNIT_A)
    with pytest.raises(errors.UnitExists, match="--new-token"):
        await centre.add_unit(*UNIT_A)
    new = await centre.add_unit(*UNIT_A, new_token=True)
    unit = UnitSide(*UNIT_A)
    with pytest.raises(errors.TokenCancelled):
        await centre.enrol(unit.request(old.token))
    assert isinstance(await centre.enrol(unit.request(new.token)), Issued)


# enrolment


async def test_enrolment_issues_certificates_and_resigns_the_directory(centre):
    """Enrolment returns root-signed certificate, CA-issued TLS leaf, CA and directory v2."""
    unit = UnitSide(*UNIT_A, endpoints=("https://10.0.0.5:7443", "https://snv.tayninh.gov.vn"))
    issued = await enrol(centre, unit)
    bundle = open_bundle(issued.bundle)
    cert = verify_certificate(bundle["certificate"], centre.root.sign_public, now=centre.clock())
    assert (cert.code, cert.name, cert.serial) == (*UNIT_A, 2)
    assert (cert.sign_key, cert.enc_key) == (unit.keys.sign_public, unit.keys.enc_public)
    assert cert.endpoints == unit.endpoints
    leaf = tls.cert_from_pem(bundle["tls_certificate"])
    ca = tls.cert_from_pem(bundle["ca_certificate"])
    tls.verify_issued_by(leaf, ca)
    assert tls.unit_code_of(leaf) == UNIT_A[0] and leaf.serial_number == cert.serial
    assert leaf.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) == unit.tls_public
    san = leaf.extensions.get_extension_for_class(cx509.SubjectAlternativeName).value
    assert san.get_values_for_type(cx509.DNSName) == ["snv.tayninh.gov.vn"]
    assert [str(ip) for ip in san.get_values_for_type(cx509.IPAddress)] == ["10.0.0.5"]
    assert cert.tls_sha256 == hashlib.sha256(leaf.public_bytes(Encoding.DER)).digest()
    directory = verify_directory(bundle["directory"], centre.root.sign_public, now=centre.clock())
    assert directory.version == 2 == await version_of(centre)
    assert directory.current(UNIT_A[0]).raw == bundle["certificate"]
    (record,) = [u for u in await centre.units() if u.code == UNIT_A[0]]
    assert (record.status, record.serial, record.enrolled_at) == ("active", 2, centre.clock())
    actions = await audit_actions(centre)
    assert ("enrolment", UNIT_A[0]) in actions and ("directory.signed", "v2") in actions


async def refused(
    centre: Centre, raw: bytes, error: type[Exception], match: str | None = None
) -> None:
    """Assert the request is refused with `error`, audited, and that nothing else changed."""
    version = await version_of(centre)
    units = await centre.units()
    before = await audit_actions(centre)
    with pytest.raises(error, match=match):
        await centre.enrol(raw, origin="test")
    assert await version_of(centre) == version
    assert await centre.units() == units
    after = await audit_actions(centre)
    assert after[: len(before)] == before
    assert [a for a, _ in after[len(before) :]] == ["enrolment.refused"]


async def test_a_wrong_token_secret_is_refused(centre):
    """A request naming a real token id but MACed with another secret is refused."""
    new = await centre.add_unit(*UNIT_A)
    token_id = new.token.split(".")[0]
    forged = f"{token_id}.{'A' * 32}"
    await refused(centre, UnitSide(*UNIT_A).request(forged), errors.WrongToken, "secret")


async def test_an_unknown_token_is_refused(centre):
    """A token id the centre never issued is refused."""
    await centre.add_unit(*UNIT_A)
    raw = UnitSide(*UNIT_A).request(f"{'0' * 16}.{'B' * 32}")
    await refused(centre, raw, errors.UnknownToken, "not known")


async def test_a_reused_token_is_refused_unless_the_keys_are_the_same(centre):
    """Other keys with a used token: refused. The same keys: the same certificate again."""
    unit = UnitSide(*UNIT_A)
    new = await centre.add_unit(*UNIT_A)
    first = await centre.enrol(unit.request(new.token))
    assert isinstance(first, Issued)
    await refused(centre, UnitSide(*UNIT_A).request(new.token), errors.TokenUsed, "already used")
    version = await version_of(centre)
    again = await centre.enrol(unit.request(new.token, created=99))
    assert isinstance(again, Issued)
    assert again.certificate == first.certificate
    assert await version_of(centre) == version


async def test_an_expired_token_is_refused(centre):
    """A token first used after its expiry is refused."""
    new = await centre.add_unit(*UNIT_A)
    centre.clock.advance(7 * DAY + 1)
    await refused(centre, UnitSide(*UNIT_A).request(new.token), errors.TokenExpired, "expired")


async def test_a_code_other_than_the_tokens_is_refused(centre):
    """A's token used to enrol B (with a valid MAC over B's code) is refused."""
    new = await centre.add_unit(*UNIT_A)
    await centre.add_unit(*UNIT_B)
    raw = UnitSide(*UNIT_B).request(new.token)
    await refused(centre, raw, errors.CodeMismatch, f"issued to {UNIT_A[0]}")


async def test_a_request_signed_by_another_key_is_refused(centre):
    """The request's signature made by a key other than the one it carries is refused."""
    new = await centre.add_unit(*UNIT_A)
    wrapper = unwrap(UnitSide(*UNIT_A).request(new.token), what="request", max_bytes=8192)
    other = UnitSide(*UNIT_A).keys
    sig = signing.sign(other.signing, signing.REGISTRATION, wrapper.signed)
    forged = wrap(wrapper.signed, sig, wrapper.signer)
    await refused(centre, forged, errors.RequestSignature, "not signed by the key")


async def test_malformed_and_oversized_requests_are_refused(centre):
    """Bytes that are not a request, or more than 8 KiB, are refused and audited."""
    await refused(centre, b"\x93not a request", errors.MalformedRequest)
    await refused(centre, pack({"x": b"\0" * 9000}), errors.RequestTooLarge, "8192")


async def test_a_rotation_request_is_not_an_enrolment(centre):
    """A request authorised by an old key is refused on the enrolment path."""
    first = UnitSide(*UNIT_A)
    issued = await enrol(centre, first)
    raw = UnitSide(*UNIT_A).rotation(first, issued.certificate.serial)
    await refused(centre, raw, errors.MalformedRequest, "/v1/rotate")


async def test_endpoints_that_are_not_https_urls_are_refused(centre):
    """An endpoint without https or a host cannot name a TLS certificate: refused."""
    new = await centre.add_unit(*UNIT_A)
    unit = UnitSide(*UNIT_A, endpoints=("http://10.0.0.5:7443",))
    await refused(centre, unit.request(new.token), errors.MalformedRequest, "endpoints")


# approval


async def test_approval_holds_the_request_until_the_operator_approves(make_centre):
    """With require_approval a request waits; approve issues; the same request then gets it."""
    async with make_centre(require_approval=True) as centre:
        unit = UnitSide(*UNIT_A)
        new = await centre.add_unit(*UNIT_A)
        outcome = await centre.enrol(unit.request(new.token))
        assert isinstance(outcome, Pending)
        assert await version_of(centre) == 1
        (record,) = [u for u in await centre.units() if u.code == UNIT_A[0]]
        assert record.status == "pending" and record.waiting_key == unit.keys.sign_public
        assert isinstance(await centre.enrol(unit.request(new.token)), Pending)
        with pytest.raises(errors.TokenUsed):
            await centre.enrol(UnitSide(*UNIT_A).request(new.token))
        approved = await centre.approve(UNIT_A[0])
        assert await version_of(centre) == 2
        again = await centre.enrol(unit.request(new.token, created=7))
        assert isinstance(again, Issued) and again.certificate == approved.certificate
        (record,) = [u for u in await centre.units() if u.code == UNIT_A[0]]
        assert (record.status, record.approved_at, record.waiting_key) == (
            "active",
            centre.clock(),
            None,
        )
        actions = await audit_actions(centre)
        assert ("enrolment.pending", UNIT_A[0]) in actions
        assert ("enrolment.approved", UNIT_A[0]) in actions


async def test_approve_needs_a_waiting_request(make_centre):
    """Approving a unit that has sent nothing (or is unknown) is refused."""
    async with make_centre(require_approval=True) as centre:
        await centre.add_unit(*UNIT_A)
        with pytest.raises(errors.NothingToApprove):
            await centre.approve(UNIT_A[0])
        with pytest.raises(errors.UnknownUnit):
            await centre.approve(UNIT_B[0])


# revocation


async def test_revocation_lists_the_serials_and_kills_the_tokens(centre):
    """Revocation lists the serials in a new directory and kills the tokens; re-adding works."""
    unit = UnitSide(*UNIT_A)
    new = await centre.add_unit(*UNIT_A)
    issued = await centre.enrol(unit.request(new.token))
    assert isinstance(issued, Issued)
    assert await centre.revoke(UNIT_A[0]) == [issued.certificate.serial]
    latest = await centre.latest_directory()
    assert latest is not None and latest[0] == 3
    directory = verify_directory(latest[1], centre.root.sign_public, now=centre.clock())
    assert issued.certificate.serial in directory.revoked
    assert directory.current(UNIT_A[0]) is None
    await refused(centre, unit.request(new.token), errors.UnitRevoked, "revoked")
    with pytest.raises(errors.UnitRevoked, match="already"):
        await centre.revoke(UNIT_A[0])
    again = await centre.add_unit(*UNIT_A)
    assert isinstance(await centre.enrol(UnitSide(*UNIT_A).request(again.token)), Issued)
    assert ("unit.revoked", UNIT_A[0]) in await audit_actions(centre)


async def test_the_centre_cannot_revoke_itself(centre):
    """Revoking the centre's own code is refused."""
    with pytest.raises(errors.CentreError, match="own code"):
        await centre.revoke(CENTRE_CODE)


# rotation


async def test_rotation_adds_a_certificate_and_keeps_the_old_one(centre):
    """Rotation adds a new current certificate; the old one stays listed and unrevoked."""
    old = UnitSide(*UNIT_A)
    first = (await enrol(centre, old)).certificate
    new = UnitSide(*UNIT_A)
    rotated = await centre.rotate(new.rotation(old, first.serial), peer=UNIT_A[0])
    assert rotated.certificate.serial > first.serial
    directory = verify_directory(
        open_bundle(rotated.bundle)["directory"], centre.root.sign_public, now=centre.clock()
    )
    assert directory.current(UNIT_A[0]).sign_key == new.keys.sign_public
    assert directory.signing_key(UNIT_A[0], first.serial) == old.keys.sign_public
    assert first.serial not in directory.revoked
    again = await centre.rotate(new.rotation(old, first.serial, created=3), peer=UNIT_A[0])
    assert again.certificate == rotated.certificate
    assert ("rotation", UNIT_A[0]) in await audit_actions(centre)


async def test_rotation_refusals(centre):
    """Bad signer, foreign unit, unknown or stale serial, revoked unit: refused and audited."""
    old = UnitSide(*UNIT_A)
    first = (await enrol(centre, old)).certificate
    stranger = UnitSide(*UNIT_A)
    cases = [
        (UnitSide(*UNIT_A).rotation(stranger, first.serial), UNIT_A[0], errors.RotationSignature),
        (UnitSide(*UNIT_A).rotation(old, first.serial), UNIT_B[0], errors.CodeMismatch),
        (UnitSide(*UNIT_A).rotation(old, 999), UNIT_A[0], errors.UnknownCertificate),
    ]
    for raw, peer, error in cases:
        version = await version_of(centre)
        with pytest.raises(error):
            await centre.rotate(raw, peer=peer)
        assert await version_of(centre) == version
    second = UnitSide(*UNIT_A)
    await centre.rotate(second.rotation(old, first.serial), peer=UNIT_A[0])
    with pytest.raises(errors.StaleCertificate):
        await centre.rotate(UnitSide(*UNIT_A).rotation(old, first.serial), peer=UNIT_A[0])
    await centre.revoke(UNIT_A[0])
    with pytest.raises(errors.UnitRevoked):
        await centre.rotate(UnitSide(*UNIT_A).rotation(second, 3), peer=UNIT_A[0])
    refusals = [a for a, _ in await audit_actions(centre) if a == "rotation.refused"]
    assert len(refusals) == 5


# directory signing


async def test_resign_when_half_the_validity_has_passed(centre):
    """The directory is re-signed once half its validity has passed, dropping ended certificates
    (every one but the centre's own, which lasts as long as its CA)."""
    assert await centre.resign_if_due() is False
    centre.clock.advance(84 * HOUR - 1)
    assert await centre.resign_if_due() is False
    assert await version_of(centre) == 1
    centre.clock.advance(1)
    assert await centre.resign_if_due() is True
    latest = await centre.latest_directory()
    assert latest is not None and latest[0] == 2
    directory = verify_directory(latest[1], centre.root.sign_public, now=centre.clock())
    assert directory.issued_at == centre.clock()
    assert directory.expires_at == centre.clock() + 168 * HOUR
    centre.clock.advance(366 * DAY)
    assert await centre.resign_if_due() is True
    latest = await centre.latest_directory()
    assert latest is not None
    expired = verify_directory(latest[1], centre.root.sign_public, now=centre.clock())
    assert [c.code for c in expired.certificates] == [centre.config.code]


async def test_resign_publishes_a_directory_signed_by_another_process(tmp_path, clock):
    """A directory signed by another process reaches the running centre's hook at its check."""
    data_dir = tmp_path / "centre"
    await create_centre(data_dir, name=CENTRE_NAME, clock=clock)
    seen: list[int] = []
    async with open_centre(data_dir, clock=clock) as running:
        running.on_directory = lambda d: seen.append(d.version)
        running.published_version = 1
        async with open_centre(data_dir, clock=clock) as cli:
            await enrol(cli, UnitSide(*UNIT_A))
        assert await running.resign_if_due() is False
        assert seen == [2]
