"""Test material for signing at issue: a CA, signer certificates, PKCS#12 files and PDFs, all
made in the test (cryptography for keys and certificates, pyHanko for the PDFs)."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

# Certificates are valid around the real time: pyHanko's validation reads the system clock.
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
A4 = (595, 842)


@dataclass(frozen=True)
class Identity:
    """A private key and its certificate, with the CA certificate that issued it."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    ca_cert: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def pkcs12(self, passphrase: bytes) -> bytes:
        return pkcs12.serialize_key_and_certificates(
            b"to chuc",
            self.key,
            self.cert,
            [self.ca_cert],
            serialization.BestAvailableEncryption(passphrase),
        )


def _name(common: str, organisation: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if organisation:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common))
    return x509.Name(attrs)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_ca(name: str = "Test CA chuyên dùng") -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A self-signed root, valid ten years around NOW."""
    key = _key()
    subject = _name(name, "Ban Cơ yếu Chính phủ (test)")
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=3650))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_signer(
    ca: tuple[rsa.RSAPrivateKey, x509.Certificate],
    common: str = "Sở Nội vụ tỉnh Tây Ninh",
    organisation: str = "Sở Nội vụ tỉnh Tây Ninh",
    *,
    not_before: dt.datetime = NOW - dt.timedelta(days=365),
    not_after: dt.datetime = NOW + dt.timedelta(days=365),
    ecdsa: bool = False,
) -> Identity:
    """A signing certificate issued by `ca` (an organisation's, or a leader's); RSA 2048 as
    Vietnamese CAs issue them, or ECDSA P-256 with `ecdsa`."""
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1()) if ecdsa else _key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common, organisation))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Identity(key=key, cert=cert, ca_cert=ca_cert)


def asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def make_pdf(pages: int = 1, size: tuple[int, int] = A4) -> bytes:
    """A plain PDF of `pages` pages with a line of text on each (no signature)."""
    writer = PdfFileWriter()
    font = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Font"),
            generic.NameObject("/Subtype"): generic.NameObject("/Type1"),
            generic.NameObject("/BaseFont"): generic.NameObject("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {
            generic.NameObject("/Font"): generic.DictionaryObject(
                {generic.NameObject("/F1"): writer.add_object(font)}
            )
        }
    )
    for n in range(pages):
        text = f"BT /F1 12 Tf 72 720 Td (QUYET DINH - trang {n + 1}) Tj ET".encode()
        stream = writer.add_object(generic.StreamObject(stream_data=text))
        page = PageObject(
            contents=stream, media_box=generic.ArrayObject(map(generic.NumberObject, (0, 0, *size)))
        )
        page[generic.NameObject("/Resources")] = resources
        writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def leader_signed(pdf: bytes, leader: Identity) -> bytes:
    """`pdf` signed by the leader (người có thẩm quyền), invisibly, as pyHanko signs."""
    signer = signers.SimpleSigner(
        signing_cert=asn1_cert(leader.cert),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            leader.key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs([asn1_cert(leader.ca_cert)]),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(
        field_name="NguoiKy", subfilter=fields.SigSeedSubFilter.PADES
    )
    out = io.BytesIO()
    signers.PdfSigner(meta, signer).sign_pdf(writer, output=out)
    return out.getvalue()


def write_pkcs12(path: Path, identity: Identity, passphrase: str) -> Path:
    path.write_bytes(identity.pkcs12(passphrase.encode()))
    return path


def make_tsa(ca: tuple[rsa.RSAPrivateKey, x509.Certificate]):
    """pyHanko's in-process time-stamping authority (RFC 3161) with a certificate from `ca`."""
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    ca_key, ca_cert = ca
    key = _key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("TSA thử nghiệm", "Ban Cơ yếu Chính phủ (test)"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=365))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    der = serialization.Encoding.DER
    return DummyTimeStamper(
        tsa_cert=asn1_cert(cert),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        ),
        certs_to_embed=SimpleCertificateStore.from_certs([asn1_cert(ca_cert)]),
    )


def validate(pdf: bytes, ca_cert: x509.Certificate) -> dict[str, object]:
    """Each signature of `pdf` by field name: pyHanko's validation status against `ca_cert`."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    reader = PdfFileReader(io.BytesIO(pdf))
    context = ValidationContext(trust_roots=[asn1_cert(ca_cert)])
    return {
        sig.field_name: validate_pdf_signature(sig, context) for sig in reader.embedded_signatures
    }
