"""Tests of crypto.x509: CA and leaf issuance, PEM round trips, issuer checks."""

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ec import SECP384R1, generate_private_key
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lienthong.crypto import x509 as cx
from lienthong.crypto.errors import CertificateError

NOW = datetime(2026, 11, 25, tzinfo=UTC)
LATER = NOW + timedelta(days=365)
CODE = "000.00.05.H53"
NAME = "Sở Thông tin và Truyền thông"


@pytest.fixture(scope="module")
def ca():
    key = cx.generate_tls_key()
    return key, cx.issue_ca(key, "Lienthong Tay Ninh CA", not_before=NOW, not_after=LATER)


def leaf(ca, hosts=("node1.tayninh.gov.vn", "127.0.0.1", "::1"), serial=7, key=None):
    ca_key, ca_cert = ca
    key = key or cx.generate_tls_key()
    cert = cx.issue_leaf(
        ca_key,
        ca_cert,
        key.public_key(),
        unit_code=CODE,
        unit_name=NAME,
        serial=serial,
        hosts=list(hosts),
        not_before=NOW,
        not_after=LATER,
    )
    return key, cert


def test_ca_certificate_extensions(ca):
    """The CA is self-signed, CA=true with path length 0, may sign certs and CRLs, has an SKI."""
    _, cert = ca
    assert cert.subject == cert.issuer
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert cert.not_valid_before_utc == NOW and cert.not_valid_after_utc == LATER
    cx.verify_issued_by(cert, cert)


def test_leaf_certificate_fields(ca):
    """A leaf names the unit, lists hosts as DNS/IP SANs, serves and connects, is not a CA."""
    key, cert = leaf(ca)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CODE
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == NAME
    assert cert.issuer == ca[1].subject
    assert cert.serial_number == 7
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["node1.tayninh.gov.vn"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca[1].extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert cert.public_key() == key.public_key()
    assert cx.unit_code_of(cert) == CODE
    cx.verify_issued_by(cert, ca[1])


def test_leaf_accepts_raw_public_key_bytes(ca):
    """A 32-byte raw Ed25519 public key can be certified directly."""
    ca_key, ca_cert = ca
    key = cx.generate_tls_key()
    raw = key.public_key().public_bytes(Encoding.Raw, cx.serialization.PublicFormat.Raw)
    cert = cx.issue_leaf(
        ca_key,
        ca_cert,
        raw,
        unit_code=CODE,
        unit_name=NAME,
        serial=1,
        hosts=[],
        not_before=NOW,
        not_after=LATER,
    )
    assert cert.public_key() == key.public_key()
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    with pytest.raises(CertificateError, match="is 31 bytes"):
        cx.issue_leaf(
            ca_key,
            ca_cert,
            raw[:31],
            unit_code=CODE,
            unit_name=NAME,
            serial=1,
            hosts=[],
            not_before=NOW,
            not_after=LATER,
        )


def test_leaf_from_another_ca_is_refused(ca):
    """verify_issued_by rejects a certificate issued by a different CA of the same name."""
    other_key = cx.generate_tls_key()
    other = (
        other_key,
        cx.issue_ca(other_key, "Lienthong Tay Ninh CA", not_before=NOW, not_after=LATER),
    )
    _, cert = leaf(other)
    with pytest.raises(CertificateError, match="was not issued by"):
        cx.verify_issued_by(cert, ca[1])


def test_leaf_with_other_issuer_name_is_refused(ca):
    """verify_issued_by rejects a certificate whose issuer name differs."""
    other_key = cx.generate_tls_key()
    other = other_key, cx.issue_ca(other_key, "Someone else", not_before=NOW, not_after=LATER)
    _, cert = leaf(other)
    with pytest.raises(CertificateError, match="was not issued by"):
        cx.verify_issued_by(cert, ca[1])


def test_issue_leaf_refuses_mismatched_ca_key(ca):
    """Signing with a key that is not the CA certificate's is refused."""
    _, ca_cert = ca
    with pytest.raises(CertificateError, match="does not match the CA certificate"):
        leaf((cx.generate_tls_key(), ca_cert))


@pytest.mark.parametrize("serial", [0, -1, 2**159])
def test_issue_leaf_refuses_bad_serial(ca, serial):
    """Serials outside RFC 5280's 1..2**159-1 are refused."""
    with pytest.raises(CertificateError, match="RFC 5280"):
        leaf(ca, serial=serial)


def test_validity_must_be_ordered_and_timezone_aware():
    """not_after must follow not_before; naive datetimes are refused."""
    key = cx.generate_tls_key()
    with pytest.raises(CertificateError, match="is not after"):
        cx.issue_ca(key, "CA", not_before=LATER, not_after=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        cx.issue_ca(key, "CA", not_before=datetime(2026, 1, 1), not_after=LATER)


def test_unit_code_of_requires_one_common_name(ca):
    """A certificate without a CN has no unit code."""
    ca_key, ca_cert = ca
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, NAME)]))
        .issuer_name(ca_cert.subject)
        .public_key(cx.generate_tls_key().public_key())
        .serial_number(5)
        .not_valid_before(NOW)
        .not_valid_after(LATER)
        .sign(ca_key, None)
    )
    with pytest.raises(CertificateError, match="0 common names"):
        cx.unit_code_of(cert)


def test_unit_code_of_peercert():
    """The unit code is read from the dict form ssl's getpeercert() returns."""
    peer = {"subject": ((("commonName", CODE),), (("organizationName", NAME),))}
    assert cx.unit_code_of_peercert(peer) == CODE
    with pytest.raises(CertificateError, match="0 common names"):
        cx.unit_code_of_peercert({"subject": ((("organizationName", NAME),),)})


def test_key_pem_round_trip():
    """A key survives PKCS#8 PEM (unencrypted) and back."""
    key = cx.generate_tls_key()
    pem = cx.key_to_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert cx.key_from_pem(pem).private_bytes_raw() == key.private_bytes_raw()


def test_key_from_pem_refuses_garbage_and_other_algorithms():
    """Garbage, oversized input and keys other than Ed25519 and P-256 raise CertificateError."""
    with pytest.raises(CertificateError, match="does not load"):
        cx.key_from_pem(b"garbage")
    with pytest.raises(CertificateError, match="over the limit"):
        cx.key_from_pem(b"x" * (cx.MAX_PEM_BYTES + 1))
    ec_pem = generate_private_key(SECP384R1()).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    with pytest.raises(CertificateError, match="secp384r1: only P-256"):
        cx.key_from_pem(ec_pem)


def test_cert_pem_round_trip_and_garbage(ca):
    """A certificate survives PEM; garbage raises CertificateError."""
    _, cert = leaf(ca)
    assert cx.cert_from_pem(cx.cert_to_pem(cert)) == cert
    with pytest.raises(CertificateError, match="does not load"):
        cx.cert_from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(CertificateError, match="over the limit"):
        cx.cert_from_pem(b"x" * (cx.MAX_PEM_BYTES + 1))


def test_long_names_are_shortened_to_the_x509_bound():
    """A centre or unit name over 64 characters still gets a certificate (RFC 5280 bound)."""
    from datetime import UTC, datetime, timedelta

    from cryptography.x509.oid import NameOID

    from lienthong.crypto.x509 import MAX_NAME_BYTES, generate_tls_key, issue_ca

    now = datetime.now(UTC)
    name = "Trung tâm Công nghệ thông tin và Truyền thông (Sở Thông tin và Truyền thông)"
    ca = issue_ca(generate_tls_key(), name, not_before=now, not_after=now + timedelta(days=1))
    cn = ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert len(name.encode()) > MAX_NAME_BYTES >= len(cn.encode()) and cn.startswith("Trung tâm")
