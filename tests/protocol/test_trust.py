"""Certificates, registration requests and the directory: root signatures and refusals."""

import pytest

from lienthong.protocol.certificate import (
    check_rotation,
    check_token,
    issue_certificate,
    make_registration,
    verify_certificate,
    verify_registration,
)
from lienthong.protocol.directory import issue_directory, verify_directory
from lienthong.protocol.errors import (
    BadSignature,
    Expired,
    InvalidField,
    Revoked,
    Rollback,
    UnknownSigner,
)
from tests.protocol.fixtures import NOW, A, B, keys

ROOT = keys("root")
DAY = 86_400_000


def cert(
    code: str,
    serial: int,
    name: str = "Sở Nội vụ",
    owner: str | None = None,
    tls: bytes = b"\x22" * 32,
    not_after: int = NOW + 365 * DAY,
    endpoints: tuple[str, ...] = ("https://127.0.0.1:7001",),
) -> bytes:
    k = keys(owner or code)
    return issue_certificate(
        ROOT,
        serial=serial,
        code=code,
        name=name,
        sign_key=k.sign_public,
        enc_key=k.enc_public,
        tls_sha256=tls,
        endpoints=list(endpoints),
        reachable=True,
        not_before=NOW - DAY,
        not_after=not_after,
    )


def directory(version=3, revoked=(), certs=None, expires=NOW + 7 * DAY, root=ROOT) -> bytes:
    return issue_directory(
        root,
        version=version,
        issued_at=NOW,
        expires_at=expires,
        centre_name="Trung tâm CNTT-TT Tây Ninh",
        centre_url="https://127.0.0.1:7000",
        certificates=certs if certs is not None else [cert(A, 1), cert(B, 2)],
        revoked=revoked,
        relays=["https://127.0.0.1:7000/relay"],
    )


def test_certificate_verifies_against_the_root_only():
    """A certificate verifies with the pinned root key and not with another."""
    c = verify_certificate(cert(A, 1), ROOT.sign_public, now=NOW)
    assert (c.code, c.serial, c.sign_key) == (A, 1, keys(A).sign_public)
    with pytest.raises(BadSignature, match="centre"):
        verify_certificate(cert(A, 1), keys("other root").sign_public)


def test_certificate_outside_validity_is_expired():
    """Checked at a time after not_after, the certificate is refused as expired."""
    with pytest.raises(Expired):
        verify_certificate(cert(A, 1), ROOT.sign_public, now=NOW + 400 * DAY)


def test_directory_lookup_and_revocation():
    """Current certificates resolve; a revoked serial is refused by name."""
    d = verify_directory(directory(revoked=[2]), ROOT.sign_public, now=NOW)
    assert d.signing_key(A, 1) == keys(A).sign_public
    assert d.current(B) is None
    with pytest.raises(Revoked, match=r"000\.00\.03\.H53"):
        d.signing_key(B, 2)
    with pytest.raises(UnknownSigner):
        d.signing_key(A, 2)  # serial 2 belongs to B


def test_rotated_key_keeps_old_envelopes_verifiable():
    """After rotation the new serial is current and the old serial still verifies."""
    d = verify_directory(
        directory(certs=[cert(A, 1), cert(A, 5, owner="A-new")]), ROOT.sign_public, now=NOW
    )
    assert d.current(A).serial == 5
    assert d.signing_key(A, 1) == keys(A).sign_public
    assert d.signing_key(A, 5) == keys("A-new").sign_public


def test_directory_rollback_expiry_and_forgery_are_refused():
    """An older version, an expired one and one signed by another key are all refused."""
    with pytest.raises(Rollback, match="v2 is older than v3"):
        verify_directory(directory(version=2), ROOT.sign_public, now=NOW, newer_than=3)
    with pytest.raises(Expired):
        verify_directory(directory(expires=NOW - 1), ROOT.sign_public, now=NOW)
    with pytest.raises(BadSignature):
        verify_directory(directory(root=keys("evil")), ROOT.sign_public, now=NOW)


def test_directory_refuses_duplicate_serials():
    """Two certificates with one serial would make key lookup ambiguous."""
    with pytest.raises(InvalidField, match="twice"):
        verify_directory(directory(certs=[cert(A, 1), cert(B, 1)]), ROOT.sign_public, now=NOW)


def test_registration_with_token():
    """A request bound to a token verifies with that token and not with another."""
    k = keys("new node")
    raw = make_registration(
        k,
        code=A,
        name="VP UBND tỉnh",
        tls_key=b"\x33" * 32,
        endpoints=["https://127.0.0.1:7001"],
        reachable=True,
        created=NOW,
        token_id="tok1",
        token_secret=b"s" * 32,
    )
    req = verify_registration(raw)
    assert req.sign_key == k.sign_public
    check_token(req, "tok1", b"s" * 32)
    with pytest.raises(BadSignature, match="wrong token"):
        check_token(req, "tok1", b"t" * 32)
    with pytest.raises(BadSignature, match="not bound"):
        check_token(req, "tok2", b"s" * 32)


def test_rotation_request_is_signed_by_the_old_key():
    """A rotation verifies with the old key and is refused with any other."""
    raw = make_registration(
        keys("A-new"),
        code=A,
        name="VP",
        tls_key=b"\x33" * 32,
        endpoints=[],
        reachable=False,
        created=NOW,
        old_keys=keys(A),
        old_serial=1,
    )
    req = verify_registration(raw)
    check_rotation(req, keys(A).sign_public)
    with pytest.raises(BadSignature, match="certificate 1"):
        check_rotation(req, keys(B).sign_public)


def test_the_centre_is_known_as_the_centre():
    """The unit whose certificate carries the centre's URL is the centre; others are not."""
    centre = issue_certificate(
        ROOT,
        serial=9,
        code="000.00.00.H53",
        name="Trung tâm",
        sign_key=keys("c").sign_public,
        enc_key=keys("c").enc_public,
        tls_sha256=b"\x01" * 32,
        endpoints=["https://127.0.0.1:7000"],
        reachable=True,
        not_before=NOW - DAY,
        not_after=NOW + DAY,
    )
    d = verify_directory(directory(certs=[cert(A, 1), centre]), ROOT.sign_public, now=NOW)
    assert d.is_centre("000.00.00.H53") and not d.is_centre(A) and not d.is_centre(B)


def test_tls_pins_are_the_unit_s_current_and_previous_leaves():
    """Pins: the newest two unrevoked, unexpired certificates of the unit, never another's."""
    d = verify_directory(
        directory(
            revoked=[4],
            certs=[
                cert(A, 1, tls=b"\x01" * 32),
                cert(A, 3, owner="A-2", tls=b"\x03" * 32),
                cert(A, 4, owner="A-3", tls=b"\x04" * 32),
                cert(A, 5, owner="A-4", tls=b"\x05" * 32),
                cert(B, 2, tls=b"\x02" * 32),
            ],
        ),
        ROOT.sign_public,
        now=NOW,
    )
    assert d.tls_pins(A, NOW) == {b"\x05" * 32, b"\x03" * 32}  # 4 is revoked, 1 is older
    assert d.tls_pins(B, NOW) == {b"\x02" * 32}
    assert d.tls_pins("000.00.99.H53", NOW) == frozenset()


def test_an_ended_certificate_is_no_pin():
    """A certificate past its end is not a pin, even the unit's only one."""
    d = verify_directory(
        directory(certs=[cert(A, 1, not_after=NOW + DAY), cert(B, 2)]), ROOT.sign_public, now=NOW
    )
    assert d.tls_pins(A, NOW) and d.tls_pins(A, NOW + 2 * DAY) == frozenset()


def test_the_units_serving_a_url_are_found_by_their_endpoints():
    """codes_serving matches a certified endpoint exactly (trailing slash aside)."""
    d = verify_directory(
        directory(certs=[cert(A, 1, endpoints=("https://centre.example:7000/",)), cert(B, 2)]),
        ROOT.sign_public,
        now=NOW,
    )
    assert d.codes_serving("https://centre.example:7000") == [A]
    assert d.codes_serving("https://centre.example:7001") == []
