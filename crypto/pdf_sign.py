"""The organisation's digital signature (chữ ký số của cơ quan) added to a PDF at issue.

PAdES with pyHanko, as an incremental update: the bytes the leader signed stay as they were,
so the leader's signature still verifies. The key is in a PKCS#12 file or on a PKCS#11 token
(the USB tokens state bodies use). A visible stamp goes in the top-right corner of page 1
(docs/SIGNATURES.md says why); a timestamp (RFC 3161) is added when a time-stamping authority is
given. pyHanko runs its own event loop inside `sign_pdf`: call this from a worker thread.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import os
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from lienthong.crypto.errors import CryptoError

# pyHanko, pyhanko-certvalidator, asn1crypto and python-pkcs11 (~1 s of imports) load at the
# first signature, not with every node that reads this module's errors and key types.
if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.timestamps import TimeStamper

# A PDF to sign is read whole into memory by pyHanko and written out again beside it: an
# official document with its appendices is a few MB; scanned ones reach tens.
MAX_SIGN_PDF_BYTES = 256 * 1024 * 1024
# A PKCS#12 file holds one key, its certificate and a short chain: a few KiB.
MAX_PKCS12_BYTES = 256 * 1024
# PKCS#11 tokens take PINs of 4 to 16 characters; PKCS#12 passphrases a sentence at most.
MAX_PIN_CHARS = 128
# Signature fields already in the PDF we look past to name ours: an official document has
# the leader's and perhaps a few more; past this the file is not one a clerk issues.
MAX_EXISTING_SIGNATURES = 64
# The stamp: 230 x 64 points (8.1 x 2.3 cm) whose top right corner sits 20 points (7 mm)
# inside the top right corner of page 1, above the national motto's right edge.
STAMP_WIDTH, STAMP_HEIGHT, STAMP_MARGIN = 230, 64, 20
# Vietnam's time (UTC+7), in which the stamp shows the signing time.
VIETNAM = dt.timezone(dt.timedelta(hours=7))
FIELD_PREFIX = "ToChuc"  # the organisation's signature fields: ToChuc, ToChuc2, ...


class SigningError(CryptoError):
    """The organisation's signature could not be added to a PDF."""


class TokenAbsent(SigningError):
    """No token with the configured label is plugged in, or its module cannot be loaded."""


class WrongPin(SigningError):
    """The PIN of the token (or the passphrase of the PKCS#12 file) is wrong."""


class PinLocked(SigningError):
    """The token has locked its PIN after too many wrong tries."""


class SigningKeyNotFound(SigningError):
    """The token holds no key or certificate with the configured label or id."""


class SigningCertificateExpired(SigningError):
    """The signing certificate has expired, or is not valid yet, at the time of signing."""


class TimestampUnavailable(SigningError):
    """The configured time-stamping authority did not answer with a timestamp."""


class PdfUnreadable(SigningError):
    """The file is not a PDF pyHanko can read, is encrypted, or is over MAX_SIGN_PDF_BYTES."""


@dataclass(frozen=True)
class Pkcs12Key:
    """The organisation's key and certificate in a PKCS#12 (.p12, .pfx) file."""

    path: Path

    def describe(self) -> str:
        return f"PKCS#12 file {self.path.name}"


@dataclass(frozen=True)
class Pkcs11Key:
    """The organisation's key on a PKCS#11 token: its module (driver), token label, and the
    key's label or id (the certificate carries the same label or id, as tokens are issued)."""

    module: str
    token_label: str
    key_label: str = ""
    key_id: bytes = b""

    def describe(self) -> str:
        return f"token {self.token_label}, key {self.key_label or self.key_id.hex()}"


SigningKey = Pkcs12Key | Pkcs11Key


def _check_pin(pin: str) -> None:
    if len(pin) > MAX_PIN_CHARS:
        raise WrongPin(f"the PIN is {len(pin)} characters; at most {MAX_PIN_CHARS}")


def _check_validity(cert: asn1_x509.Certificate, when: dt.datetime) -> None:
    validity = cert["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    subject = cert.subject.human_friendly
    if when > not_after:
        raise SigningCertificateExpired(
            f"the signing certificate of {subject} expired on {not_after:%d/%m/%Y}: "
            "renew it with the CA before issuing"
        )
    if when < not_before:
        raise SigningCertificateExpired(
            f"the signing certificate of {subject} is valid only from {not_before:%d/%m/%Y}"
        )


# Signature algorithms (asn1crypto's names) signed here with the key parsed once.
RSA_PKCS1 = frozenset({"sha256_rsa", "sha384_rsa", "sha512_rsa", "rsassa_pkcs1v15"})
ECDSA = frozenset({"sha256_ecdsa", "sha384_ecdsa", "sha512_ecdsa", "ecdsa"})


@functools.cache
def _parsed_key_signer() -> type:
    """pyHanko's SimpleSigner with the private key parsed once: SimpleSigner parses and checks
    it on every signature (twice per PDF), ~95 ms for RSA 2048, two thirds of the signing.
    Made on first use, as pyHanko is imported only when something is signed."""
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from pyhanko.sign import signers
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    class ParsedKeySigner(signers.SimpleSigner):
        def __init__(self, private: PrivateKeyTypes, **kwargs) -> None:
            super().__init__(**kwargs)
            self._private = private

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
            algorithm = mechanism["algorithm"].native
            digest = get_pyca_cryptography_hash(digest_algorithm)
            private = self._private
            if algorithm in RSA_PKCS1 and isinstance(private, rsa.RSAPrivateKey):
                return private.sign(data, padding.PKCS1v15(), digest)
            if algorithm in ECDSA and isinstance(private, ec.EllipticCurvePrivateKey):
                return private.sign(data, ec.ECDSA(digest))
            return super().sign_raw(data, digest_algorithm)  # PSS, EdDSA: pyHanko's own

    return ParsedKeySigner


def _pkcs12_signer(key: Pkcs12Key, pin: str) -> signers.Signer:
    try:
        size = key.path.stat().st_size
        if size > MAX_PKCS12_BYTES:
            raise SigningKeyNotFound(f"{key.path}: {size} bytes is over {MAX_PKCS12_BYTES}")
        data = key.path.read_bytes()
    except OSError as exc:
        raise SigningKeyNotFound(f"the PKCS#12 file {key.path} cannot be read: {exc}") from None
    try:
        private, cert, chain = pkcs12.load_key_and_certificates(data, pin.encode() or None)
    except ValueError:
        raise WrongPin(
            f"the passphrase does not open {key.path} (wrong passphrase, or not a PKCS#12 file)"
        ) from None
    if private is None or cert is None:
        raise SigningKeyNotFound(f"{key.path} holds no private key with its certificate")
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der = serialization.Encoding.DER
    return _parsed_key_signer()(
        private,
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(der)),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            private.private_bytes(
                der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(c.public_bytes(der)) for c in chain]
        ),
    )


@contextmanager
def _pkcs11_signer(key: Pkcs11Key, pin: str) -> Iterator[signers.Signer]:
    # Imported here: python-pkcs11's binding is only loaded by offices that sign with a token.
    from pkcs11 import exceptions as p11
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign.general import SigningError as PyhankoSigningError
    from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

    if not (key.key_label or key.key_id):
        raise SigningKeyNotFound("name the key on the token: signing.key_label or key_id")
    if not Path(key.module).is_file():
        raise TokenAbsent(
            f"the PKCS#11 module {key.module} does not exist: install the token's driver"
        )
    try:
        session = open_pkcs11_session(
            key.module, token_criteria=TokenCriteria(label=key.token_label), user_pin=pin
        )
    except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange):
        raise WrongPin(f"the PIN of token {key.token_label!r} is wrong") from None
    except p11.PinLocked:
        raise PinLocked(
            f"token {key.token_label!r} has locked its PIN after too many wrong tries: "
            "unlock it with the token's tool (the SO PIN) or the CA"
        ) from None
    except (p11.TokenNotPresent, p11.NoSuchToken, p11.DeviceRemoved):
        raise TokenAbsent(f"token {key.token_label!r} is not plugged in") from None
    except p11.PKCS11Error as exc:
        if "No token" in str(exc):
            raise TokenAbsent(
                f"no token labelled {key.token_label!r} is plugged in (module {key.module})"
            ) from None
        raise TokenAbsent(f"token {key.token_label!r} cannot be opened: {exc!r}") from None
    try:
        signer = PKCS11Signer(
            session,
            key_label=key.key_label or None,
            key_id=key.key_id or None,
            cert_label=key.key_label or None,
            cert_id=key.key_id or None,
        )
        try:
            signer.signing_cert  # noqa: B018 - pulls key and certificate now, for a clear error
        except (p11.PKCS11Error, PyhankoSigningError) as exc:
            what = f"label {key.key_label!r}" if key.key_label else f"id {key.key_id.hex()}"
            raise SigningKeyNotFound(
                f"token {key.token_label!r} holds no single key and certificate with {what}: {exc}"
            ) from None
        yield signer
    finally:
        session.close()


@contextmanager
def open_signer(key: SigningKey, pin: str, when: dt.datetime) -> Iterator[signers.Signer]:
    """The organisation's signer, its certificate checked valid at `when`; a token's session
    stays open until the block ends (sign every PDF of one document inside it)."""
    _check_pin(pin)
    if isinstance(key, Pkcs12Key):
        signer = _pkcs12_signer(key, pin)
        _check_validity(signer.signing_cert, when)
        yield signer
        return
    with _pkcs11_signer(key, pin) as signer:
        _check_validity(signer.signing_cert, when)
        yield signer


# TrueType fonts with Vietnamese letters the stamp uses when [signing] stamp_font is not set,
# the first found: DejaVu Sans (Debian's fonts-dejavu-core), Liberation Sans, Arial on Windows.
STAMP_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
)


def default_stamp_font() -> str | None:
    """The first of STAMP_FONTS on this machine, or None (the stamp is then Latin-only)."""
    return next((f for f in STAMP_FONTS if os.path.isfile(f)), None)


def stamp_text(text: str) -> str:
    """`text` in the letters the stamp's font has: the PDF standard fonts carry no Vietnamese
    (ơ, ư, đ and the tone marks), so diacritics are dropped (Sở Nội vụ -> So Noi vu)."""
    folded = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in folded if not unicodedata.combining(c) and c.isprintable())


def _page_box(writer: IncrementalPdfFileWriter) -> tuple[float, float, float, float]:
    """(x1, y1, x2, y2) of page 1's media box, inherited from the page tree if need be."""
    page = writer.root["/Pages"]
    while "/Kids" in page:
        page = page["/Kids"][0].get_object()
    node = page
    while "/MediaBox" not in node and "/Parent" in node:
        node = node["/Parent"].get_object()
    box = node.get("/MediaBox")
    if box is None or len(box) != 4:
        return (0, 0, 595, 842)  # A4, the paper of Vietnamese official documents
    x1, y1, x2, y2 = (float(v) for v in box)
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def _field_name(writer: IncrementalPdfFileWriter) -> str:
    from pyhanko.sign import fields

    taken = set()
    for name, _value, _ref in fields.enumerate_sig_fields(writer.prev, filled_status=None):
        taken.add(name)
        if len(taken) > MAX_EXISTING_SIGNATURES:
            raise PdfUnreadable(f"the PDF holds more than {MAX_EXISTING_SIGNATURES} signatures")
    n = 1
    while (name := FIELD_PREFIX + (str(n) if n > 1 else "")) in taken:
        n += 1
    return name


def sign_pdf(
    data: bytes,
    signer: signers.Signer,
    *,
    organisation: str,
    when: dt.datetime,
    timestamper: TimeStamper | None = None,
    font: str | None = None,
) -> bytes:
    """`data` with the organisation's signature appended (PAdES B-B, or B-T with a
    timestamper), its stamp on page 1 naming `organisation` and `when` in Vietnam's time:
    in Vietnamese with the TrueType `font` (embedded, subset), else in Latin letters with
    the diacritics dropped (stamp_text)."""
    if len(data) > MAX_SIGN_PDF_BYTES:
        raise PdfUnreadable(
            f"the PDF is {len(data)} bytes; at most {MAX_SIGN_PDF_BYTES} are signed"
        )
    if not data.startswith(b"%PDF-"):
        raise PdfUnreadable("the file is not a PDF (it does not begin with %PDF-)")
    from pkcs11 import exceptions as p11
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign import fields, signers
    from pyhanko.sign.general import SigningError as PyhankoSigningError
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError
    from pyhanko.stamp import TextStampStyle

    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        if writer.prev.encrypted:
            raise PdfUnreadable(
                "the PDF is encrypted (password-protected): save it unprotected, then sign"
            )
        name = _field_name(writer)
        x1, _y1, x2, y2 = _page_box(writer)
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise PdfUnreadable(f"the PDF cannot be read: {exc}") from None
    box = (
        round(x2 - STAMP_MARGIN - STAMP_WIDTH),
        round(y2 - STAMP_MARGIN - STAMP_HEIGHT),
        round(x2 - STAMP_MARGIN),
        round(y2 - STAMP_MARGIN),
    )
    if box[0] < x1:
        raise PdfUnreadable("page 1 is too narrow for the signature's stamp")
    if font:
        from fontTools.ttLib import TTFont, TTLibError
        from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
        from pyhanko.pdf_utils.text import TextBoxStyle

        try:
            TTFont(font).close()  # pyHanko reads the font only while signing: check it first
            factory = GlyphAccumulatorFactory(font)
        except (OSError, ValueError, TTLibError) as exc:
            raise SigningError(f"the stamp's font {font} cannot be read: {exc}") from None
        style = TextStampStyle(
            stamp_text="Ký bởi: %(org)s\nThời gian ký: %(when)s",
            border_width=1,
            text_box_style=TextBoxStyle(font=factory),
        )
        org = organisation
    else:
        style = TextStampStyle(stamp_text="Ky boi: %(org)s\nThoi gian ky: %(when)s", border_width=1)
        org = stamp_text(organisation)
    meta = signers.PdfSignatureMetadata(
        field_name=name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        name=organisation,
        reason="Phat hanh van ban",
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer,
        timestamper=timestamper,
        stamp_style=style,
        new_field_spec=fields.SigFieldSpec(name, on_page=0, box=box),
    )
    out = io.BytesIO()
    try:
        pdf_signer.sign_pdf(
            writer,
            output=out,
            appearance_text_params={
                "org": org,
                "when": when.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M:%S +07:00"),
            },
        )
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise PdfUnreadable(f"the PDF cannot be signed: {exc}") from None
    except TimestampRequestError as exc:
        raise TimestampUnavailable(
            f"the time-stamping authority did not give a timestamp: {exc} ({exc.__cause__})"
        ) from None
    except (PyhankoSigningError, p11.PKCS11Error) as exc:
        raise SigningError(f"signing failed: {exc!r}") from None
    return out.getvalue()
