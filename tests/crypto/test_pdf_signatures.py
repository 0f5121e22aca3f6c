"""crypto/pdf_signatures.py: each signature in a PDF verified against anchors, no event loop."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from lienthong.crypto import pdf_signatures
from lienthong.crypto.pdf_signatures import (
    INVALID,
    REVOCATION_CHECKED,
    REVOCATION_NOT_CHECKED,
    UNREADABLE,
    UNSIGNED,
    UNTRUSTED,
    VALID,
    CrlError,
    FileVerdict,
    TrustAnchorError,
    crl_urls,
    load_anchor,
    load_crl,
    verify_pdf,
    verify_pdf_bytes,
)
from tests.crypto.pdf_fixtures import (
    NOW,
    SIGNER_NAME,
    SIGNER_ORG,
    SIGNER_TITLE,
    change_after_signing,
    flip_byte,
    make_ca,
    make_crl,
    make_pdf,
    make_signer,
    make_tsa,
    sign_pdf,
)


@pytest.fixture(scope="module")
def ca():
    return make_ca()


@pytest.fixture(scope="module")
def signed(ca):
    return sign_pdf(make_pdf(2), make_signer(ca))


def test_signed_by_a_trusted_ca_is_valid_with_the_signer(ca, signed, tmp_path):
    """A PDF signed under a configured anchor is valid and names signer, organisation,
    position and signing time; revocation is said to be not checked."""
    path = tmp_path / "a.pdf"
    path.write_bytes(signed)
    verdict = verify_pdf(path, [ca.der])
    assert verdict.status == VALID
    (sig,) = verdict.signatures
    assert (sig.signer_name, sig.organisation, sig.position) == (
        SIGNER_NAME,
        SIGNER_ORG,
        SIGNER_TITLE,
    )
    assert sig.intact and sig.trusted and sig.changed_after == "none"
    assert abs(datetime.datetime.fromisoformat(sig.signing_time) - NOW) < datetime.timedelta(days=1)
    assert sig.timestamp_time is None
    assert sig.revocation == REVOCATION_NOT_CHECKED


def test_a_ca_not_configured_is_untrusted(signed):
    """The same PDF under another CA is valid but untrusted, the reason in Vietnamese."""
    verdict = verify_pdf_bytes(signed, [make_ca("Other CA").der])
    assert verdict.status == UNTRUSTED
    assert "chưa được tin cậy" in verdict.reason
    assert verdict.signatures[0].intact


def test_an_incremental_update_after_signing_is_changed(ca, signed):
    """Text replaced in an update appended after the signature makes it invalid, 'changed'."""
    verdict = verify_pdf_bytes(change_after_signing(signed), [ca.der])
    assert verdict.status == INVALID
    assert verdict.reason_code == "changed_after_signing"
    assert verdict.signatures[0].changed_after == "changed"
    assert verdict.reason == "Không hợp lệ hoặc đã bị sửa sau khi ký"


def test_a_byte_changed_inside_the_signed_range_is_not_intact(ca, signed):
    """A byte flipped under the signature breaks integrity."""
    verdict = verify_pdf_bytes(flip_byte(signed), [ca.der])
    assert verdict.status == INVALID
    assert verdict.reason_code == "not_intact"
    assert not verdict.signatures[0].intact


def test_a_second_signature_leaves_the_first_valid(ca, signed):
    """The organisation's signature after the leader's is an allowed change for the first."""
    two = sign_pdf(signed, make_signer(ca, cn="Văn thư"), field="Signature2")
    verdict = verify_pdf_bytes(two, [ca.der])
    assert verdict.status == VALID
    assert [s.changed_after for s in verdict.signatures] == ["allowed", "none"]
    assert [s.signer_name for s in verdict.signatures] == [SIGNER_NAME, "Văn thư"]


def test_an_intermediate_embedded_in_the_signature_chains_to_the_root():
    """A signer under an intermediate the PDF embeds chains to the configured root."""
    root = make_ca("Root")
    sub = make_ca("Sub CA", issuer=root)
    verdict = verify_pdf_bytes(sign_pdf(make_pdf(), make_signer(sub), chain=(sub,)), [root.der])
    assert verdict.status == VALID


@pytest.mark.parametrize("revoked", ["none", "signer", "intermediate"])
def test_revocation_under_an_intermediate_uses_each_cas_own_crl(revoked):
    """Root -> intermediate -> signer, with the CRL of each CA configured: the signer is
    checked against the intermediate's CRL and the intermediate against the root's; either
    one revoked makes the signature invalid, "revoked"; neither, valid and checked."""
    root = make_ca("Root")
    sub = make_ca("Sub CA", issuer=root)
    signer = make_signer(sub)
    pdf = sign_pdf(make_pdf(), signer, chain=(sub,))
    crls = [
        make_crl(root, [sub.cert.serial_number] if revoked == "intermediate" else []),
        make_crl(sub, [signer.cert.serial_number] if revoked == "signer" else []),
    ]
    verdict = verify_pdf_bytes(pdf, [root.der], crls=crls)
    if revoked == "none":
        assert verdict.status == VALID
        assert verdict.signatures[0].revocation == REVOCATION_CHECKED
    else:
        assert verdict.status == INVALID
        assert verdict.reason_code == "revoked"


@pytest.mark.parametrize(
    ("days_before", "days_after", "code"),
    [(-400, -10, "expired"), (10, 400, "not_yet_valid")],
)
def test_a_certificate_outside_its_validity_is_invalid(ca, days_before, days_after, code):
    """An expired or not-yet-valid signer's certificate makes the signature invalid, named."""
    signer = make_signer(
        ca,
        not_before=NOW + datetime.timedelta(days=days_before),
        not_after=NOW + datetime.timedelta(days=days_after),
    )
    verdict = verify_pdf_bytes(sign_pdf(make_pdf(), signer), [ca.der])
    assert verdict.status == INVALID
    assert verdict.reason_code == code


def test_a_revoked_signer_is_invalid_when_a_crl_is_given(ca, signed):
    """With the CA's CRL listing the signer, the signature is revoked and revocation checked."""
    serial = x509.load_der_x509_certificate(_signer_der(signed)).serial_number
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(NOW - datetime.timedelta(minutes=1))
        .next_update(NOW + datetime.timedelta(days=7))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(NOW - datetime.timedelta(minutes=2))
            .build()
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
        .add_extension(x509.CRLNumber(1), False)
        .sign(ca.key, hashes.SHA256())
    )
    verdict = verify_pdf_bytes(
        signed, [ca.der], crls=[crl.public_bytes(serialization.Encoding.DER)]
    )
    assert verdict.status == INVALID
    assert verdict.reason_code == "revoked"
    assert verdict.signatures[0].revocation == REVOCATION_CHECKED


def _signer_der(pdf: bytes) -> bytes:
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    return PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0].signer_cert.dump()


@pytest.mark.filterwarnings("ignore:Attribute's length")
def test_a_timestamp_token_is_read_and_its_time_given(ca):
    """A signature with an RFC 3161 token from a TSA under the anchor: valid, with the
    token's time beside the claimed signing time."""
    pdf = sign_pdf(make_pdf(), make_signer(ca), tsa=make_tsa(ca))
    (sig,) = verify_pdf_bytes(pdf, [ca.der]).signatures
    assert sig.status == VALID
    stamped = datetime.datetime.fromisoformat(sig.timestamp_time)
    assert abs(stamped - datetime.datetime.fromisoformat(sig.signing_time)) < datetime.timedelta(
        minutes=5
    )


def test_more_signatures_than_the_limit_are_not_verified(ca):
    """A PDF with MAX_SIGNATURES + 1 real signatures is marked, not verified one by one."""
    pdf = make_pdf()
    signer = make_signer(ca)
    for n in range(pdf_signatures.MAX_SIGNATURES + 1):
        pdf = sign_pdf(pdf, signer, field=f"Signature{n}")
    verdict = verify_pdf_bytes(pdf, [ca.der])
    assert (verdict.status, verdict.reason_code) == (UNREADABLE, "too_many_signatures")
    assert verdict.signatures == []


def test_odd_names_are_kept_printable_and_short(ca):
    """A CN with control characters and 1000 letters is shown cleaned and cut, not refused."""
    signer = make_signer(ca, cn="A\x07B" + "x" * 1000, org=None, title=None)
    (sig,) = verify_pdf_bytes(sign_pdf(make_pdf(), signer), [ca.der]).signatures
    assert sig.signer_name.startswith("A?B")
    assert len(sig.signer_name) == pdf_signatures.MAX_NAME_CHARS
    assert (sig.organisation, sig.position) == ("", "")


@pytest.mark.parametrize(
    "data",
    [b"", b"%PDF-1.7\n garbage", b"not a pdf at all", make_pdf()[:300]],
    ids=["empty", "garbage", "not-pdf", "truncated"],
)
def test_a_corrupt_pdf_is_unreadable_never_an_exception(ca, data, tmp_path):
    """Whatever the bytes, the answer is a verdict 'cannot read'."""
    assert verify_pdf_bytes(data, [ca.der]).status == UNREADABLE
    path = tmp_path / "x.pdf"
    path.write_bytes(data)
    assert verify_pdf(path, [ca.der]).reason == "Không đọc được tệp PDF"


def test_a_missing_file_is_unreadable(tmp_path):
    """A path that is not there is unreadable, not an OSError."""
    assert verify_pdf(tmp_path / "nope.pdf", []).status == UNREADABLE


def test_an_unsigned_pdf_says_so(ca):
    """A PDF with no signature is 'unsigned', not invalid."""
    verdict = verify_pdf_bytes(make_pdf(), [ca.der])
    assert (verdict.status, verdict.reason) == (UNSIGNED, "Không có chữ ký số")


def test_limits_mark_the_file_without_verifying(ca, signed, monkeypatch, tmp_path):
    """Over the size, signature-count or embedded-file limit the file is marked, with the reason."""
    path = tmp_path / "a.pdf"
    path.write_bytes(signed)
    monkeypatch.setattr(pdf_signatures, "MAX_VERIFY_BYTES", len(signed) - 1)
    assert verify_pdf(path, [ca.der]).reason_code == "too_large"
    monkeypatch.undo()
    two = sign_pdf(signed, make_signer(ca), field="Signature2")
    monkeypatch.setattr(pdf_signatures, "MAX_SIGNATURES", 1)
    assert verify_pdf_bytes(two, [ca.der]).reason_code == "too_many_signatures"
    monkeypatch.undo()
    embedded = sign_pdf(make_pdf(embedded=b"z" * 5000), make_signer(ca))
    assert verify_pdf_bytes(embedded, [ca.der]).status == VALID
    monkeypatch.setattr(pdf_signatures, "MAX_EMBEDDED_FILE_BYTES", 4999)
    verdict = verify_pdf_bytes(embedded, [ca.der])
    assert (verdict.status, verdict.reason_code) == (UNREADABLE, "embedded_too_large")


def test_the_json_form_is_stable_and_reads_back(ca, signed):
    """to_json has sorted keys and from_json gives the same verdict."""
    verdict = verify_pdf_bytes(signed, [ca.der])
    text = verdict.to_json()
    assert FileVerdict.from_json(text) == verdict
    assert text.index('"reason"') < text.index('"signatures"') < text.index('"status"')


def test_anchors_load_from_pem_or_der_and_refuse_the_rest(ca):
    """A CA loads from PEM and DER with the same fingerprint; garbage and leaves are refused."""
    assert load_anchor(ca.pem) == load_anchor(ca.der)
    assert "Test Root CA" in load_anchor(ca.pem).subject
    assert len(load_anchor(ca.der).fingerprint) == 64
    with pytest.raises(TrustAnchorError, match="PEM or DER"):
        load_anchor(b"hello")
    with pytest.raises(TrustAnchorError, match="not a CA"):
        load_anchor(make_signer(ca).pem)


def test_a_crl_of_another_ca_leaves_revocation_not_checked_with_the_reason(ca, signed):
    """A CRL from a CA that did not issue the signer's certificate neither fails the
    signature nor counts as a check: valid, revocation not checked, the reason said."""
    other = make_ca("Một CA có CRL")
    verdict = verify_pdf_bytes(signed, [ca.der], crls=[make_crl(other)])
    assert verdict.status == VALID
    assert verdict.signatures[0].revocation == REVOCATION_NOT_CHECKED
    assert verdict.signatures[0].revocation_note == "no CRL of the signer's CA is configured"


def test_a_crl_of_the_signers_ca_not_listing_it_is_a_checked_valid_signature(ca, signed):
    """The signer's CA's CRL without the signer: valid, revocation checked, no note."""
    verdict = verify_pdf_bytes(signed, [ca.der], crls=[make_crl(ca)])
    assert verdict.status == VALID
    assert verdict.signatures[0].revocation == REVOCATION_CHECKED
    assert verdict.signatures[0].revocation_note == ""


def test_load_crl_reads_pem_and_der_and_refuses_what_is_not_one(ca):
    """A CRL loads from DER and PEM alike (same fingerprint, the issuer named); a
    certificate or junk is refused with CrlError saying what it is not."""
    der = make_crl(ca)
    pem = x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
    assert load_crl(der).fingerprint == load_crl(pem).fingerprint
    assert "Test Root CA" in load_crl(der).issuer
    for bad in (ca.pem, b"junk", b""):
        with pytest.raises(CrlError, match="not a certificate revocation list"):
            load_crl(bad)


def test_crl_urls_are_the_signers_distribution_points(ca, tmp_path):
    """crl_urls lists the http distribution point of each signer's certificate, none for a
    certificate without one or a file that is not a PDF."""
    url = "http://crl.example.vn/ca.crl"
    path = tmp_path / "a.pdf"
    path.write_bytes(sign_pdf(make_pdf(), make_signer(ca, crl_url=url)))
    assert crl_urls(path) == [url]
    path.write_bytes(sign_pdf(make_pdf(), make_signer(ca)))
    assert crl_urls(path) == []
    path.write_bytes(b"not a pdf")
    assert crl_urls(path) == []
