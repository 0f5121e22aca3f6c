"""[signing] in node.toml and the unit's signing of a document's files: one key source, a
token's key named, the PIN's variable and the TSA's URL checked; the stamp's font found;
PDFs signed, other files kept as they are, a document without a PDF refused."""

from __future__ import annotations

import pytest

from lienthong.crypto import pdf_sign
from lienthong.crypto.pdf_sign import Pkcs11Key, Pkcs12Key
from lienthong.node.config import Config, ConfigError, validate
from lienthong.node.unit.signing import (
    SigningNotConfigured,
    sign_files,
    signing_key,
    stamp_font,
)
from tests.crypto.signing_fixtures import make_ca, make_pdf, make_signer, write_pkcs12

UNIT = {"code": "000.00.02.H53", "name": "Văn phòng UBND tỉnh Tây Ninh"}
TOKEN = {"pkcs11_module": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "vp"}


def _config(tmp_path, **signing) -> Config:
    return Config(tmp_path, validate({"unit": UNIT, "signing": signing}))


@pytest.mark.parametrize(
    ("signing", "words"),
    [
        ({"pkcs12": "k.p12", **TOKEN, "key_label": "k"}, "give one of them"),
        ({"pkcs11_module": "/x.so", "key_label": "k"}, r"needs signing\.token_label"),
        (TOKEN, r"needs signing\.key_label or key_id"),
        ({**TOKEN, "key_id": "zz"}, "hex digits"),
        ({"pin_env": "lienthong pin"}, r"signing\.pin_env"),
        ({"tsa_url": "ftp://tsa"}, r"signing\.tsa_url"),
    ],
    ids=["both", "no-token", "no-key", "bad-id", "bad-env", "bad-tsa"],
)
def test_bad_signing_configuration_is_refused_by_name(tmp_path, signing, words):
    """Each mistake in [signing] stops the node at start with the key it concerns."""
    with pytest.raises(ConfigError, match=words):
        _config(tmp_path, **signing)


def test_the_configured_key(tmp_path):
    """No key: None (and signing is refused by name); a PKCS#12 path is read from the data
    directory; a token's key by label or by id."""
    assert _config(tmp_path).signing_key is None
    with pytest.raises(SigningNotConfigured, match=r"signing\.pkcs12"):
        signing_key(_config(tmp_path))
    assert _config(tmp_path, pkcs12="keys/k.p12").signing_key == Pkcs12Key(
        tmp_path / "keys" / "k.p12"
    )
    assert _config(tmp_path, **TOKEN, key_id="0a01").signing_key == Pkcs11Key(
        TOKEN["pkcs11_module"], "vp", key_id=b"\x0a\x01"
    )


async def test_pdfs_are_signed_and_other_files_kept(tmp_path):
    """sign_files returns the files in order: each PDF's signed copy (same name, in the
    output folder, beginning with the original bytes), any other file as it was."""
    ca = make_ca()
    write_pkcs12(tmp_path / "k.p12", make_signer(ca), "p")
    config = _config(tmp_path, pkcs12="k.p12")
    pdf, note = tmp_path / "in" / "QD.PDF", tmp_path / "in" / "ghi-chu.txt"
    pdf.parent.mkdir()
    pdf.write_bytes(make_pdf(1))
    note.write_bytes(b"ghi chu")
    out = tmp_path / "out"
    out.mkdir()
    files = await sign_files(config, [note, pdf], "p", out)
    assert files == [note, out / "QD.PDF"]
    assert files[1].read_bytes().startswith(pdf.read_bytes())
    with pytest.raises(SigningNotConfigured, match="no PDF"):
        await sign_files(config, [note], "p", out)


def test_the_stamp_font_is_the_configured_one_or_the_first_found(tmp_path, monkeypatch, caplog):
    """[signing] stamp_font is read from the data directory and must exist (else refused by
    name); unset, the first of STAMP_FONTS found is used; none found: None, and the log says
    the stamp drops the diacritics."""
    font = tmp_path / "fonts" / "vn.ttf"
    with pytest.raises(SigningNotConfigured, match=r"signing\.stamp_font"):
        stamp_font(_config(tmp_path, stamp_font="fonts/vn.ttf"))
    font.parent.mkdir()
    font.write_bytes(b"a font file")
    assert stamp_font(_config(tmp_path, stamp_font="fonts/vn.ttf")) == str(font)
    monkeypatch.setattr(pdf_sign, "STAMP_FONTS", (str(tmp_path / "none.ttf"), str(font)))
    assert stamp_font(_config(tmp_path)) == str(font)
    monkeypatch.setattr(pdf_sign, "STAMP_FONTS", (str(tmp_path / "none.ttf"),))
    assert stamp_font(_config(tmp_path)) is None
    assert "drops the diacritics" in caplog.text
