"""Digital signatures inside a PDF (chữ ký số): verify each with pyHanko against trust anchors.

Pure: a file path and anchor certificates in, plain dataclasses out; nothing fetched from the
network, no event loop of ours (pyHanko runs its own, so call this from a worker thread).
"""

import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from lienthong.crypto.errors import CertificateError

# A PDF larger than this is not verified (marked "cannot verify", it still arrives). pyHanko
# streams the signed byte ranges through the digest, so memory stays flat; the bound is on time:
# a 256 MiB file takes a few seconds of a worker thread, and official documents with scans are
# well below it (a 100 MB scan is the largest we measure, bench/signatures.py).
MAX_VERIFY_BYTES = 256 * 1024 * 1024
# Signatures read in one PDF. A document carries a few (the signer's, the organisation's, a
# copy's); each costs a chain validation and a diff analysis over the revisions after it, so
# many signatures cost quadratic time. Beyond this the file is marked, not verified.
MAX_SIGNATURES = 16
# Form fields looked at to count the signatures: an official document's form has a few; a
# form of thousands is read no further (each field is an object parsed from the file).
MAX_FORM_FIELDS = 1000
# An embedded file (attachment inside the PDF) larger than this stops verification: the diff
# analysis may decode embedded streams, and a compressed bomb there would cost memory.
MAX_EMBEDDED_FILE_BYTES = 32 * 1024 * 1024
# Embedded files looked at in the name tree (a flat /Names array; beyond, the file is marked).
MAX_EMBEDDED_FILES = 256
# A certificate's name attribute longer than this is cut (odd names stay readable on screen).
MAX_NAME_CHARS = 200

VALID = "valid"
UNTRUSTED = "untrusted"
INVALID = "invalid"
UNSIGNED = "unsigned"
UNREADABLE = "unreadable"
# Worst first: a file's status is its worst signature's.
_RANK = {INVALID: 0, UNTRUSTED: 1, VALID: 2}

# What the clerk reads, per reason code (Vietnamese; the web page translates by status).
REASONS = {
    "trusted": "Hợp lệ",
    "untrusted_ca": (
        "Chữ ký hợp lệ nhưng từ tổ chức cung cấp dịch vụ chứng thực chưa được tin cậy"
    ),
    "not_intact": "Không hợp lệ: nội dung không khớp với chữ ký (tệp đã bị sửa)",
    "bad_signature": "Không hợp lệ: chữ ký không đúng với chứng thư số",
    "changed_after_signing": "Không hợp lệ hoặc đã bị sửa sau khi ký",
    "revoked": "Không hợp lệ: chứng thư số đã bị thu hồi",
    "expired": "Không hợp lệ: chứng thư số đã hết hạn",
    "not_yet_valid": "Không hợp lệ: chứng thư số chưa có hiệu lực",
    "key_usage": "Không hợp lệ: chứng thư số không dùng để ký văn bản",
    "chain_invalid": "Không hợp lệ: chuỗi chứng thư số không hợp lệ",
    "unsigned": "Không có chữ ký số",
    "not_pdf": "Không đọc được tệp PDF",
    "too_large": "Tệp quá lớn để kiểm tra chữ ký số",
    "too_many_signatures": "Tệp có quá nhiều chữ ký số để kiểm tra",
    "embedded_too_large": "Tệp đính kèm bên trong PDF quá lớn để kiểm tra",
    "cannot_verify": "Không kiểm tra được chữ ký số",
    "timeout": "Không kiểm tra được: quá thời gian",
}
REVOCATION_NOT_CHECKED = "not_checked"
REVOCATION_CHECKED = "checked"
# A CRL file given to `lienthong trust add-crl`: a national CA's CRL lists every certificate it
# revoked and runs to a few MiB; more is not a CRL we will parse on every check.
MAX_CRL_BYTES = 16 * 1024 * 1024
# CRL distribution points read from one signer's certificate (a real one names one or two).
MAX_CRL_URLS = 4


class TrustAnchorError(CertificateError):
    """A trust anchor is not a certificate (PEM or DER) or not a CA certificate."""


class CrlError(CertificateError):
    """A certificate revocation list given to trust add-crl is not one (PEM or DER)."""


@dataclass(frozen=True)
class Crl:
    """A certificate revocation list, with what is shown of it."""

    der: bytes
    issuer: str
    fingerprint: str  # SHA-256 of the DER, lowercase hex
    next_update: str | None  # ISO 8601


def _pem_or_der(data: bytes, pem, der):
    """`data` read by the PEM loader when it is PEM, else by the DER one (ValueError)."""
    return pem(data) if data.lstrip().startswith(b"-----BEGIN") else der(data)


def load_crl(data: bytes) -> Crl:
    """A CRL from PEM or DER bytes; CrlError names what is wrong."""
    if len(data) > MAX_CRL_BYTES:
        raise CrlError(f"over {MAX_CRL_BYTES} bytes: not a CRL this node reads")
    try:
        crl = _pem_or_der(data, x509.load_pem_x509_crl, x509.load_der_x509_crl)
    except ValueError as e:
        raise CrlError(f"not a certificate revocation list in PEM or DER: {e}") from None
    der = crl.public_bytes(serialization.Encoding.DER)
    return Crl(
        der=der,
        issuer=_clip(crl.issuer.rfc4514_string()),
        fingerprint=hashlib.sha256(der).hexdigest(),
        next_update=crl.next_update_utc.isoformat() if crl.next_update_utc else None,
    )


def crl_urls(path: str | os.PathLike) -> list[str]:
    """The http(s) CRL distribution points of the certificates that signed the PDF at `path`
    (at most MAX_CRL_URLS each); an unreadable file has none (verify_pdf says why)."""
    urls: list[str] = []
    try:
        if os.path.getsize(path) > MAX_VERIFY_BYTES:
            return []
        with open(path, "rb") as stream:
            reader = PdfFileReader(stream, strict=False)
            if _signature_field_count(reader) > MAX_SIGNATURES:
                return []
            for sig in reader.embedded_regular_signatures:
                cert = x509.load_der_x509_certificate(sig.signer_cert.dump())
                for url in _distribution_points(cert)[:MAX_CRL_URLS]:
                    if url not in urls:
                        urls.append(url)
    except Exception:  # a hostile or broken PDF: no URLs; verify_pdf gives the verdict
        return []
    return urls


def _distribution_points(cert: x509.Certificate) -> list[str]:
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    urls = []
    for point in points:
        for name in point.full_name or []:
            if isinstance(name, x509.UniformResourceIdentifier) and name.value.lower().startswith(
                ("http://", "https://")
            ):
                urls.append(name.value)
    return urls


@dataclass(frozen=True)
class Anchor:
    """A CA certificate trusted for document signatures, with what is shown of it."""

    der: bytes
    subject: str
    fingerprint: str  # SHA-256 of the DER, lowercase hex


@dataclass(frozen=True)
class SignatureResult:
    """One signature inside a PDF, as verified."""

    field: str
    status: str  # VALID, UNTRUSTED or INVALID
    reason_code: str
    reason: str
    signer_name: str
    organisation: str
    position: str
    issuer: str
    signing_time: str | None  # ISO 8601, as the signature claims
    timestamp_time: str | None  # ISO 8601 of an RFC 3161 timestamp token, if any
    intact: bool
    trusted: bool
    changed_after: str  # "none", "allowed" (signatures, forms) or "changed"
    revocation: str  # REVOCATION_NOT_CHECKED or REVOCATION_CHECKED
    # Why revocation was not checked (no CRL of the signer's CA configured, a fetch that
    # failed), in English for the technician; empty when it was checked.
    revocation_note: str = ""


@dataclass(frozen=True)
class FileVerdict:
    """Every signature of one PDF, and the file's status (its worst signature's)."""

    status: str
    reason_code: str
    reason: str
    signatures: list[SignatureResult] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "FileVerdict":
        data = json.loads(text)
        data["signatures"] = [SignatureResult(**s) for s in data["signatures"]]
        return cls(**data)


def load_anchor(data: bytes) -> Anchor:
    """A trust anchor from PEM or DER bytes; TrustAnchorError names what is wrong."""
    try:
        cert = _pem_or_der(data, x509.load_pem_x509_certificate, x509.load_der_x509_certificate)
    except ValueError as e:
        raise TrustAnchorError(f"not an X.509 certificate in PEM or DER: {e}") from None
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        basic = None
    if basic is None or not basic.ca:
        raise TrustAnchorError("not a CA certificate (basicConstraints CA:TRUE is missing)")
    der = cert.public_bytes(serialization.Encoding.DER)
    return Anchor(
        der=der,
        subject=_clip(cert.subject.rfc4514_string()),
        fingerprint=hashlib.sha256(der).hexdigest(),
    )


def _clip(text: str) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= MAX_NAME_CHARS else text[: MAX_NAME_CHARS - 1] + "…"


def _file_verdict(code: str, signatures: list[SignatureResult] | None = None) -> FileVerdict:
    status = {"unsigned": UNSIGNED}.get(code, UNREADABLE)
    return FileVerdict(status, code, REASONS[code], signatures or [])


def verify_pdf(
    path: str | os.PathLike,
    anchors: list[bytes],
    crls: list[bytes] | None = None,
    moment: datetime | None = None,
    revocation_note: str = "",
) -> FileVerdict:
    """Verify every signature in the PDF at `path` against the DER `anchors`. Never raises for
    the file's content: an unreadable or oversized PDF is a verdict. `crls` (DER) turn on the
    revocation check; without them revocation is REVOCATION_NOT_CHECKED."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return _file_verdict("not_pdf")
    if size > MAX_VERIFY_BYTES:
        return _file_verdict("too_large")
    try:
        with open(path, "rb") as stream:
            return _verify_stream(stream, anchors, crls, moment, revocation_note)
    except Exception:  # whatever a hostile or broken PDF makes pyHanko raise: a verdict
        return _file_verdict("not_pdf")


def _verify_stream(stream, anchors, crls, moment, note="") -> FileVerdict:
    reader = PdfFileReader(stream, strict=False)
    code = _check_embedded_files(reader)
    if code:
        return _file_verdict(code)
    fields = _signature_field_count(reader)
    if fields > MAX_SIGNATURES:
        return _file_verdict("too_many_signatures")
    embedded = reader.embedded_regular_signatures
    if not embedded:
        return _file_verdict("unsigned")
    results = []
    crl_issuers = {x509.load_der_x509_crl(c).issuer for c in crls or []}
    for sig in embedded:
        issuer = x509.load_der_x509_certificate(sig.signer_cert.dump()).issuer
        covered = issuer in crl_issuers
        context = ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(a) for a in anchors],
            allow_fetching=False,
            crls=crls or None,
            # "require" when a CRL of the signer's CA is at hand (it must cover the chain);
            # otherwise nothing can be checked and "soft-fail" says so without failing
            revocation_mode="require" if covered else "soft-fail",
            moment=moment,
        )
        why = "" if covered else note or "no CRL of the signer's CA is configured"
        results.append(_verify_one(sig, context, covered, why))
    worst = min(results, key=lambda r: _RANK[r.status])
    return FileVerdict(worst.status, worst.reason_code, worst.reason, results)


# Key usages a document signer's certificate may carry: CAs in Vietnam issue signing
# certificates with digitalSignature, nonRepudiation or both.
_KEY_USAGE = KeyUsageConstraints(
    key_usage={"non_repudiation", "digital_signature"}, match_all_key_usages=False
)


def _verify_one(sig, context, revocation_checked: bool, note: str) -> SignatureResult:
    status = validate_pdf_signature(sig, context, key_usage_settings=_KEY_USAGE)
    cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    level = status.modification_level
    if level is None or level == ModificationLevel.OTHER or status.docmdp_ok is False:
        changed = "changed"
    elif status.coverage == SignatureCoverageLevel.ENTIRE_FILE or level == ModificationLevel.NONE:
        changed = "none"
    else:
        changed = "allowed"
    if status.coverage is not None and status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        changed = "changed"
    code = _reason_code(status, changed, cert, context.moment)
    timestamp = status.timestamp_validity
    return SignatureResult(
        field=_clip(str(sig.field_name)),
        status=VALID if code == "trusted" else UNTRUSTED if code == "untrusted_ca" else INVALID,
        reason_code=code,
        reason=REASONS[code],
        signer_name=_attribute(cert, x509.NameOID.COMMON_NAME),
        organisation=_attribute(cert, x509.NameOID.ORGANIZATION_NAME),
        position=_attribute(cert, x509.NameOID.TITLE)
        or _attribute(cert, x509.NameOID.ORGANIZATIONAL_UNIT_NAME),
        issuer=_clip(cert.issuer.rfc4514_string()),
        signing_time=status.signer_reported_dt.isoformat() if status.signer_reported_dt else None,
        timestamp_time=timestamp.timestamp.isoformat() if timestamp is not None else None,
        intact=bool(status.intact and status.valid),
        trusted=status.trusted,
        changed_after=changed,
        revocation=REVOCATION_CHECKED if revocation_checked else REVOCATION_NOT_CHECKED,
        revocation_note=note,
    )


def _reason_code(status, changed: str, cert: x509.Certificate, moment: datetime) -> str:
    if not status.intact:
        return "not_intact"
    if not status.valid:
        return "bad_signature"
    if changed == "changed":
        return "changed_after_signing"
    if status.revoked:
        return "revoked"
    indic = status.trust_problem_indic
    if indic is None and status.validation_path is not None:
        return "trusted"
    if indic in (AdESIndeterminate.EXPIRED, AdESIndeterminate.OUT_OF_BOUNDS_NO_POE):
        return "expired"
    if indic in (AdESIndeterminate.NOT_YET_VALID, AdESFailure.NOT_YET_VALID):
        return "not_yet_valid"
    if indic in (AdESFailure.REVOKED, AdESIndeterminate.REVOKED_NO_POE):
        return "revoked"
    if indic == AdESIndeterminate.SIG_CONSTRAINTS_FAILURE:
        return "key_usage"
    if indic == AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND:
        return "untrusted_ca"
    # pyHanko reports a signer's certificate outside its validity as a general chain failure
    if cert.not_valid_before_utc > moment:
        return "not_yet_valid"
    if cert.not_valid_after_utc < moment:
        return "expired"
    return "chain_invalid"


def _attribute(cert: x509.Certificate, oid) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    return _clip(", ".join(str(v.value) for v in values)) if values else ""


def _signature_field_count(reader: PdfFileReader) -> int:
    """Signature fields (/FT /Sig) at the top of the AcroForm, counted before any is
    validated; a form with more than MAX_FORM_FIELDS fields counts as too many."""
    form = reader.root.get("/AcroForm")
    if form is None:
        return 0
    fields = form.get_object().get("/Fields")
    if fields is None:
        return 0
    fields = fields.get_object()
    if len(fields) > MAX_FORM_FIELDS:
        return MAX_SIGNATURES + 1
    return sum(1 for f in fields if f.get_object().get("/FT") == "/Sig")


def _check_embedded_files(reader: PdfFileReader) -> str | None:
    """A reason code if an embedded file is over MAX_EMBEDDED_FILE_BYTES, judged by the
    declared /Length of its stream (never decoded here)."""
    names = reader.root.get("/Names")
    if names is None:
        return None
    tree = names.get_object().get("/EmbeddedFiles")
    if tree is None:
        return None
    entries = tree.get_object().get("/Names")
    if entries is None:
        # A nested name tree (/Kids): not walked; count what the PDF declares as too much.
        return "embedded_too_large" if "/Kids" in tree.get_object() else None
    entries = entries.get_object()
    if len(entries) > 2 * MAX_EMBEDDED_FILES:
        return "embedded_too_large"
    for spec in list(entries)[1::2]:
        spec = spec.get_object()
        ef = spec.get("/EF") if isinstance(spec, generic.DictionaryObject) else None
        if ef is None:
            continue
        for ref in ef.get_object().values():
            stream = ref.get_object()
            if int(stream.get("/Length", 0)) > MAX_EMBEDDED_FILE_BYTES:
                return "embedded_too_large"
    return None


def verify_pdf_bytes(data: bytes, anchors: list[bytes], **kwargs) -> FileVerdict:
    """verify_pdf for bytes already in memory (tests, small files)."""
    if len(data) > MAX_VERIFY_BYTES:
        return _file_verdict("too_large")
    try:
        return _verify_stream(
            io.BytesIO(data),
            anchors,
            kwargs.get("crls"),
            kwargs.get("moment"),
            kwargs.get("revocation_note", ""),
        )
    except Exception:  # as verify_pdf: never an exception for the file's content
        return _file_verdict("not_pdf")
