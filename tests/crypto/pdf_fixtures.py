"""Test material for PDF digital signatures: a CA chain and signers made with cryptography,
small PDFs written by hand, signed with pyHanko, changed after signing or broken."""

import datetime
import io
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers, timestamps
from pyhanko_certvalidator.registry import SimpleCertificateStore

NOW = datetime.datetime.now(datetime.UTC)
SIGNER_NAME = "Nguyễn Văn An"
SIGNER_ORG = "Ủy ban nhân dân tỉnh Tây Ninh"
SIGNER_TITLE = "Chủ tịch"


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def _name(cn: str, org: str | None = None, title: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    if title:
        attrs.append(x509.NameAttribute(NameOID.TITLE, title))
    # _validate=False: tests make names longer than X.520 allows, as some CAs issue
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False))
    return x509.Name(attrs)


def make_ca(cn: str = "Test Root CA", issuer: Issued | None = None) -> Issued:
    """A CA certificate: self-signed, or issued by `issuer` (an intermediate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(cn, "Ban Cơ yếu Chính phủ (thử)")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=365))
        .not_valid_after(NOW + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Issued(cert, key)


def make_signer(
    ca: Issued,
    cn: str = SIGNER_NAME,
    org: str | None = SIGNER_ORG,
    title: str | None = SIGNER_TITLE,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    crl_url: str | None = None,
) -> Issued:
    """A signer's certificate issued by `ca`, for non-repudiation (chữ ký số); with `crl_url`
    as its CRL distribution point."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn, org, title))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - datetime.timedelta(days=30))
        .not_valid_after(not_after or NOW + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if crl_url:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def make_crl(ca: Issued, revoked: list[int] = ()) -> bytes:
    """The DER CRL of `ca` listing the serial numbers `revoked`, current at NOW."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(NOW - datetime.timedelta(minutes=1))
        .next_update(NOW + datetime.timedelta(days=7))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
        .add_extension(x509.CRLNumber(1), False)
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(NOW - datetime.timedelta(minutes=2))
            .build()
        )
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def make_tsa(ca: Issued) -> Issued:
    """A timestamping authority's certificate issued by `ca` (extended key usage
    timeStamping, critical, as RFC 3161 section 2.3 requires). RSA: pyHanko's in-process
    stamper signs with RSA only."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("TSA thử", "Ban Cơ yếu Chính phủ (thử)"))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=30))
        .not_valid_after(NOW + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, key)


def make_pdf(pages: int = 1, filler: int = 0, embedded: bytes | None = None) -> bytes:
    """A small valid PDF written by hand: `pages` pages of text, an optional uncompressed
    filler stream of `filler` bytes (for size), an optional embedded file."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    page_tree = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for n in range(pages):
        text = b"BT /F1 12 Tf 72 720 Td (Van ban so %d - trang %d) Tj ET" % (n, n + 1)
        content = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R"
                b" /Resources << /Font << /F1 %d 0 R >> >> >>" % (page_tree, content, font)
            )
        )
    extra = b""
    if filler:
        add(b"<< /Length %d >>\nstream\n" % filler + b"0" * filler + b"\nendstream")
    if embedded is not None:
        data = add(
            b"<< /Type /EmbeddedFile /Length %d >>\nstream\n" % len(embedded)
            + embedded
            + b"\nendstream"
        )
        spec = add(b"<< /Type /Filespec /F (a.bin) /UF (a.bin) /EF << /F %d 0 R >> >>" % data)
        extra = b" /Names << /EmbeddedFiles << /Names [(a.bin) %d 0 R] >> >>" % spec
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R%s >>" % (page_tree, extra)
    objects[page_tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        pages,
    )
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, catalog, xref)
    )
    return out.getvalue()


def _asn1(issued: Issued) -> tuple[asn1_x509.Certificate, asn1_keys.PrivateKeyInfo]:
    key = issued.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return asn1_x509.Certificate.load(issued.der), asn1_keys.PrivateKeyInfo.load(key)


def sign_pdf(
    pdf: bytes,
    signer: Issued,
    chain: tuple[Issued, ...] = (),
    field: str = "Signature1",
    tsa: Issued | None = None,
) -> bytes:
    """`pdf` with one more PAdES signature by `signer`, embedding `chain` (intermediates),
    with an RFC 3161 timestamp token from `tsa` (pyHanko's in-process stamper) if given."""
    cert, key = _asn1(signer)
    store = SimpleCertificateStore.from_certs([asn1_x509.Certificate.load(c.der) for c in chain])
    simple = signers.SimpleSigner(signing_cert=cert, signing_key=key, cert_registry=store)
    out = io.BytesIO()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    signers.sign_pdf(
        writer,
        signers.PdfSignatureMetadata(field_name=field, subfilter=None),
        signer=simple,
        output=out,
        timestamper=None if tsa is None else timestamps.DummyTimeStamper(*_asn1(tsa)),
    )
    return out.getvalue()


def change_after_signing(pdf: bytes) -> bytes:
    """`pdf` with an incremental update that replaces the first page's text (a forgery)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    text = b"BT /F1 12 Tf 72 720 Td (Noi dung da bi sua) Tj ET"
    stream = generic.StreamObject(stream_data=text)
    page["/Contents"] = writer.add_object(stream)
    writer.mark_update(page_ref)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def flip_byte(pdf: bytes) -> bytes:
    """`pdf` with one byte of the first page's text changed in place (not intact)."""
    at = pdf.index(b"Van ban so 0")
    return pdf[:at] + b"X" + pdf[at + 1 :]


def signatures_in(pdf: bytes) -> int:
    """How many signatures pyHanko sees in `pdf`."""
    return len(PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures)
