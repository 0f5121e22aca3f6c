"""Signing at issue: the organisation's signature added to a PDF the leader signed, from a
PKCS#12 file or a SoftHSM2 token; each way it can fail has its own error."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter, copy_into_new_writer

from lienthong.crypto import pdf_sign
from lienthong.crypto.pdf_sign import (
    STAMP_MARGIN,
    PdfUnreadable,
    Pkcs11Key,
    Pkcs12Key,
    SigningCertificateExpired,
    SigningKeyNotFound,
    TokenAbsent,
    WrongPin,
    open_signer,
    sign_pdf,
    stamp_text,
)
from tests.crypto.signing_fixtures import (
    NOW,
    leader_signed,
    make_ca,
    make_pdf,
    make_signer,
    make_tsa,
    validate,
    write_pkcs12,
)
from tests.softhsm import softhsm_token  # noqa: F401 - the session's token

ORG = "Sở Nội vụ tỉnh Tây Ninh"


@pytest.fixture(scope="module")
def ca():
    return make_ca()


@pytest.fixture(scope="module")
def leader_pdf(ca):
    return leader_signed(make_pdf(2), make_signer(ca, "Nguyễn Văn An", "UBND tỉnh Tây Ninh"))


@pytest.fixture
def p12(tmp_path, ca):
    return write_pkcs12(tmp_path / "to-chuc.p12", make_signer(ca), "mat khau p12")


def _sign(data: bytes, key, pin: str, **kw) -> bytes:
    with open_signer(key, pin, NOW) as signer:
        return sign_pdf(data, signer, organisation=ORG, when=NOW, **kw)


def test_pkcs12_signature_is_added_and_the_leaders_stays_valid(ca, leader_pdf, p12):
    """The signed file begins with the leader's bytes unchanged; both signatures verify, the
    organisation's covers the whole file."""
    signed = _sign(leader_pdf, Pkcs12Key(p12), "mat khau p12")
    assert signed.startswith(leader_pdf)
    status = validate(signed, ca[1])
    assert set(status) == {"NguoiKy", "ToChuc"}
    assert all(s.bottom_line for s in status.values())
    assert status["ToChuc"].coverage.name == "ENTIRE_FILE"
    assert "Sở Nội vụ" in status["ToChuc"].signing_cert.subject.human_friendly


def test_an_ecdsa_key_file_signs_too(tmp_path, ca, leader_pdf):
    """A PKCS#12 file holding an ECDSA P-256 key signs, and the signature verifies."""
    path = write_pkcs12(tmp_path / "ec.p12", make_signer(ca, ecdsa=True), "p")
    status = validate(_sign(leader_pdf, Pkcs12Key(path), "p"), ca[1])
    assert status["ToChuc"].bottom_line and status["NguoiKy"].bottom_line
    assert status["ToChuc"].signing_cert.public_key.algorithm == "ec"


def test_the_stamp_is_in_the_top_right_corner_of_page_1(leader_pdf, p12):
    """The organisation's field is a widget on page 1 whose box touches the top right margin
    and whose appearance names the organisation (folded to the standard font's letters)."""
    signed = _sign(leader_pdf, Pkcs12Key(p12), "mat khau p12")
    reader = PdfFileReader(io.BytesIO(signed))
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    widgets = [a.get_object() for a in page["/Annots"]]
    ours = [w for w in widgets if w.get("/T") == "ToChuc"]
    assert len(ours) == 1
    x1, y1, x2, y2 = (float(v) for v in ours[0]["/Rect"])
    assert (x2, y2) == (595 - STAMP_MARGIN, 842 - STAMP_MARGIN)
    assert x2 - x1 > 100 and y2 - y1 > 30
    appearance = ours[0]["/AP"]["/N"].get_object().data
    assert b"So Noi vu tinh Tay Ninh" in appearance


def test_a_second_organisation_signature_gets_its_own_field(ca, leader_pdf, p12):
    """Signing an already signed copy again adds ToChuc2; all three signatures verify."""
    once = _sign(leader_pdf, Pkcs12Key(p12), "mat khau p12")
    twice = _sign(once, Pkcs12Key(p12), "mat khau p12")
    status = validate(twice, ca[1])
    assert set(status) == {"NguoiKy", "ToChuc", "ToChuc2"}
    assert all(s.bottom_line for s in status.values())


def test_a_timestamp_is_added_when_a_tsa_is_given(ca, leader_pdf, p12):
    """With a time-stamping authority the signature carries a valid RFC 3161 token."""
    signed = _sign(leader_pdf, Pkcs12Key(p12), "mat khau p12", timestamper=make_tsa(ca))
    status = validate(signed, ca[1])["ToChuc"]
    assert status.bottom_line
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.valid


def test_wrong_pkcs12_passphrase_is_named(leader_pdf, p12):
    """A wrong passphrase is WrongPin naming the file."""
    with pytest.raises(WrongPin, match=r"to-chuc\.p12"):
        _sign(leader_pdf, Pkcs12Key(p12), "sai")


def test_missing_pkcs12_file_is_named(tmp_path, leader_pdf):
    """A key file that is not there is SigningKeyNotFound naming the path."""
    with pytest.raises(SigningKeyNotFound, match=r"khong\.p12"):
        _sign(leader_pdf, Pkcs12Key(tmp_path / "khong.p12"), "x")


@pytest.mark.parametrize(
    ("before", "after", "word"),
    [(-400, -1, "expired"), (10, 400, "valid only from")],
)
def test_expired_or_future_certificate_refused(tmp_path, ca, leader_pdf, before, after, word):
    """A certificate outside its validity at the time of signing signs nothing."""
    identity = make_signer(
        ca,
        not_before=NOW + dt.timedelta(days=before),
        not_after=NOW + dt.timedelta(days=after),
    )
    path = write_pkcs12(tmp_path / "cu.p12", identity, "p")
    with pytest.raises(SigningCertificateExpired, match=word):
        _sign(leader_pdf, Pkcs12Key(path), "p")


def _encrypted_pdf() -> bytes:
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(make_pdf(1))))
    assert isinstance(writer, PdfFileWriter)
    writer.encrypt("chu", "doc")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "word"),
    [
        (b"not a pdf at all", "not a PDF"),
        (b"%PDF-1.7\n" + b"\x00" * 200, "cannot be read"),
        (make_pdf(1)[:300], "cannot be read"),
        (_encrypted_pdf(), "encrypted"),
    ],
    ids=["not-pdf", "garbage", "truncated", "encrypted"],
)
def test_unreadable_pdf_is_named(p12, data, word):
    """Garbage, a truncated file and a password-protected PDF are PdfUnreadable saying which."""
    with pytest.raises(PdfUnreadable, match=word):
        _sign(data, Pkcs12Key(p12), "mat khau p12")


def test_pdf_over_the_limit_is_refused_before_parsing(p12, monkeypatch):
    """A PDF over MAX_SIGN_PDF_BYTES is refused by its size alone (the limit lowered here so
    the test holds no 256 MB)."""
    monkeypatch.setattr(pdf_sign, "MAX_SIGN_PDF_BYTES", 1000)
    with (
        open_signer(Pkcs12Key(p12), "mat khau p12", NOW) as signer,
        pytest.raises(PdfUnreadable, match="at most 1000"),
    ):
        sign_pdf(make_pdf(20), signer, organisation=ORG, when=NOW)


def test_stamp_text_folds_vietnamese():
    """Every Vietnamese letter becomes its base letter (the standard fonts have no others)."""
    assert stamp_text("Đoàn Thị Hương, Ủy ban nhân dân") == "Doan Thi Huong, Uy ban nhan dan"


def test_softhsm_token_signs(softhsm_token, ca, leader_pdf):  # noqa: F811
    """The key and certificate on a PKCS#11 token sign; the signature verifies to its CA and
    the leader's stays valid."""
    key = Pkcs11Key(softhsm_token.module, softhsm_token.label, key_label=softhsm_token.key_label)
    signed = _sign(leader_pdf, key, softhsm_token.pin)
    status = validate(signed, softhsm_token.identity.ca_cert)
    assert status["ToChuc"].bottom_line
    assert status["NguoiKy"].intact and status["NguoiKy"].valid
    by_id = Pkcs11Key(softhsm_token.module, softhsm_token.label, key_id=softhsm_token.key_id)
    assert validate(_sign(leader_pdf, by_id, softhsm_token.pin), softhsm_token.identity.ca_cert)[
        "ToChuc"
    ].bottom_line


def test_softhsm_wrong_pin(softhsm_token, leader_pdf):  # noqa: F811
    """A wrong PIN is WrongPin naming the token."""
    key = Pkcs11Key(softhsm_token.module, softhsm_token.label, key_label=softhsm_token.key_label)
    with pytest.raises(WrongPin, match=softhsm_token.label):
        _sign(leader_pdf, key, "000000")


def test_softhsm_token_absent(softhsm_token, leader_pdf):  # noqa: F811
    """A token label no slot holds is TokenAbsent; so is a module that is not installed."""
    key = Pkcs11Key(softhsm_token.module, "khong-cam", key_label=softhsm_token.key_label)
    with pytest.raises(TokenAbsent, match="khong-cam"):
        _sign(leader_pdf, key, softhsm_token.pin)
    with pytest.raises(TokenAbsent, match="driver"):
        _sign(leader_pdf, Pkcs11Key("/nonexistent/libtoken.so", "x", key_label="k"), "1")


def test_softhsm_key_not_found(softhsm_token, leader_pdf):  # noqa: F811
    """A key label the token does not hold is SigningKeyNotFound naming it."""
    key = Pkcs11Key(softhsm_token.module, softhsm_token.label, key_label="khong-co")
    with pytest.raises(SigningKeyNotFound, match="khong-co"):
        _sign(leader_pdf, key, softhsm_token.pin)


def test_the_recipients_check_reads_both_signatures_valid(ca, leader_pdf, p12):
    """What a recipient's node runs on arrival (crypto/pdf_signatures.py) finds the leader's
    signature and the organisation's, both valid and trusted, the organisation named."""
    from cryptography.hazmat.primitives import serialization

    from lienthong.crypto.pdf_signatures import VALID, verify_pdf_bytes

    signed = _sign(leader_pdf, Pkcs12Key(p12), "mat khau p12")
    verdict = verify_pdf_bytes(signed, [ca[1].public_bytes(serialization.Encoding.DER)])
    assert verdict.status == VALID
    by_field = {s.field: s for s in verdict.signatures}
    assert set(by_field) == {"NguoiKy", "ToChuc"}
    assert all(s.status == VALID and s.trusted and s.intact for s in by_field.values())
    assert by_field["ToChuc"].organisation == ORG
    assert by_field["ToChuc"].changed_after == "none"


def _to_unicode(cmap: bytes) -> dict[str, str]:
    """A font's ToUnicode CMap as {glyph code hex: text} (bfchar and bfrange entries)."""
    mapping: dict[str, str] = {}
    section = ""
    for line in cmap.decode("latin-1").splitlines():
        words = line.replace("<", " ").replace(">", " ").replace("[", " ").replace("]", " ")
        words = words.split()
        if line.endswith(("beginbfchar", "beginbfrange")) or line in ("endbfchar", "endbfrange"):
            section = words[-1]
            continue
        if section == "beginbfchar" and len(words) == 2:
            mapping[words[0].lower()] = chr(int(words[1], 16))
        elif section == "beginbfrange" and len(words) >= 3:
            first, last = int(words[0], 16), int(words[1], 16)
            targets = words[2:]
            for n, code in enumerate(range(first, last + 1)):
                target = int(targets[n], 16) if len(targets) > 1 else int(targets[0], 16) + n
                mapping[f"{code:04x}"] = chr(target)
    return mapping


def _stamp_lines(signed: bytes) -> list[str]:
    """The text of the ToChuc stamp, line by line, read through its font's ToUnicode."""
    reader = PdfFileReader(io.BytesIO(signed))
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    (ours,) = [a.get_object() for a in page["/Annots"] if a.get_object().get("/T") == "ToChuc"]
    appearance = ours["/AP"]["/N"].get_object()
    (font,) = appearance["/Resources"]["/Font"].values()
    mapping = _to_unicode(font.get_object()["/ToUnicode"].get_object().data)
    lines = []
    for shown in appearance.data.decode("latin-1").split(" TJ")[:-1]:
        array = shown[shown.rindex("[") + 1 :]
        glyphs = "".join(part.split(">")[0] for part in array.split("<")[1:])
        lines.append("".join(mapping[glyphs[i : i + 4]] for i in range(0, len(glyphs), 4)))
    return lines


@pytest.mark.skipif(pdf_sign.default_stamp_font() is None, reason="no TrueType font here")
def test_the_stamp_keeps_vietnamese_letters_with_a_truetype_font(leader_pdf, p12):
    """With the default TrueType font the stamp's glyphs read back, through the embedded
    font's ToUnicode map, as the organisation's name with its diacritics; the signatures
    still verify."""
    font = pdf_sign.default_stamp_font()
    signed = _sign(leader_pdf, Pkcs12Key(p12), "mat khau p12", font=font)
    lines = _stamp_lines(signed)
    assert lines[0] == f"Ký bởi: {ORG}"
    assert lines[1].startswith("Thời gian ký: ")
    assert b"So Noi vu" not in signed


def test_an_unreadable_stamp_font_is_a_signing_error(leader_pdf, p12, tmp_path):
    """A font file that is not a font: SigningError naming it, nothing signed."""
    bad = tmp_path / "font.ttf"
    bad.write_bytes(b"not a font")
    with pytest.raises(pdf_sign.SigningError, match="cannot be read") as caught:
        _sign(leader_pdf, Pkcs12Key(p12), "mat khau p12", font=str(bad))
    assert str(bad) in str(caught.value)
