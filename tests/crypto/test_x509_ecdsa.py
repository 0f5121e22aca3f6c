"""ECDSA P-256 federations in crypto.x509: the root key's endorsement of the CA key, the chain
CA -> leaf with ecdsa-with-SHA256, one algorithm per federation, and a real TLS 1.3 mutual
handshake with ECDSA certificates on 127.0.0.1."""

from datetime import UTC, datetime, timedelta

import nacl.pwhash.argon2id as argon2id
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

from lienthong.crypto import x509 as cx
from lienthong.crypto.errors import CertificateError, WrongPassphraseError
from lienthong.crypto.keys import NodeKeys
from tests.crypto.test_tls import OneShotServer, connect

NOW = datetime.now(UTC) - timedelta(minutes=5)
LATER = NOW + timedelta(days=30)
CODE = "000.00.05.H53"
PASSPHRASE = b"mat khau trung tam"


@pytest.fixture(scope="module")
def root() -> NodeKeys:
    return NodeKeys.generate()


@pytest.fixture(scope="module")
def ecdsa_ca(root):
    key = cx.generate_tls_key(cx.ECDSA_P256)
    endorsement = cx.endorse_ca_key(root.signing, key.public_key())
    cert = cx.issue_ca(key, "CA", not_before=NOW, not_after=LATER, endorsement=endorsement)
    return key, cert


def leaf(ca, key=None, hosts=("127.0.0.1",), code=CODE, serial=7):
    ca_key, ca_cert = ca
    key = key or cx.generate_tls_key(cx.algorithm_of(ca_key))
    cert = cx.issue_leaf(
        ca_key,
        ca_cert,
        cx.public_key_bytes(key.public_key()),  # as a registration request carries it
        unit_code=code,
        unit_name=f"Unit {code}",
        serial=serial,
        hosts=list(hosts),
        not_before=NOW,
        not_after=LATER,
    )
    return key, cert


def test_p256_public_key_travels_as_the_uncompressed_point():
    """A P-256 key is 65 bytes 04 || X || Y on the wire and comes back equal; other lengths,
    the compressed form and a point off the curve are refused."""
    key = cx.generate_tls_key(cx.ECDSA_P256)
    raw = cx.public_key_bytes(key.public_key())
    assert len(raw) == 65 and raw[0] == 0x04
    assert cx.public_key_from_bytes(raw) == key.public_key()
    assert cx.algorithm_of(cx.public_key_from_bytes(raw)) == cx.ECDSA_P256
    ed = cx.generate_tls_key()
    assert len(cx.public_key_bytes(ed.public_key())) == 32
    compressed = bytes([2 + raw[-1] % 2]) + raw[1:33]
    for bad, why in (
        (compressed, "is 33 bytes"),
        (raw[:64], "is 64 bytes"),
        (b"\x05" + raw[1:], "is 65 bytes"),
        (b"\x04" + bytes(64), "not a usable key"),
    ):
        with pytest.raises(CertificateError, match=why):
            cx.public_key_from_bytes(bad)


def test_other_algorithms_are_refused():
    """Keys other than Ed25519 and P-256 have no algorithm name; an unknown name makes none."""
    with pytest.raises(CertificateError, match="secp384r1: only P-256"):
        cx.algorithm_of(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(CertificateError, match="not one of ed25519, ecdsa-p256"):
        cx.generate_tls_key("rsa-2048")


def test_the_ecdsa_ca_stands_for_the_root_key_that_endorses_it(root, ecdsa_ca):
    """The CA certificate is ECDSA P-256, self-signed with ecdsa-with-SHA256, and carries
    the root key's endorsement (non-critical): ca_root_key returns the root key."""
    _, cert = ecdsa_ca
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert cx.algorithm_of(cert.public_key()) == cx.ECDSA_P256
    extension = cert.extensions.get_extension_for_oid(cx.CA_ENDORSEMENT_OID)
    assert not extension.critical and len(extension.value.value) == cx.ENDORSEMENT_BYTES
    assert cx.ca_root_key(cert) == root.sign_public
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0


def test_an_ed25519_ca_stands_for_its_own_key(root):
    """The default federation: the CA key is the root key, and no extension is needed."""
    key = Ed25519PrivateKey.from_private_bytes(root.signing.encode())
    cert = cx.issue_ca(key, "Trung tâm CA", not_before=NOW, not_after=LATER)
    assert cx.ca_root_key(cert) == root.sign_public
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_oid(cx.CA_ENDORSEMENT_OID)


def test_an_ecdsa_chain_issues_and_verifies(ecdsa_ca):
    """A leaf for the 65-byte key of a request: ECDSA P-256, signed ecdsa-with-SHA256 by the
    CA, CN = the unit code, server and client use, digitalSignature only."""
    key, cert = leaf(ecdsa_ca)
    cx.verify_issued_by(cert, ecdsa_ca[1])
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert cert.public_key() == key.public_key()
    assert cx.unit_code_of(cert) == CODE
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CODE
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign and not ku.key_encipherment
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    other_key = cx.generate_tls_key(cx.ECDSA_P256)
    other = cx.issue_ca(
        other_key,
        "Another CA",
        not_before=NOW,
        not_after=LATER,
        endorsement=cx.endorse_ca_key(NodeKeys.generate().signing, other_key.public_key()),
    )
    with pytest.raises(CertificateError, match="was not issued by"):
        cx.verify_issued_by(cert, other)


def test_a_federation_has_one_tls_algorithm(root, ecdsa_ca):
    """An ECDSA CA refuses an Ed25519 leaf key and an Ed25519 CA an ECDSA one."""
    with pytest.raises(CertificateError, match=r"leaf key is ed25519.*are ecdsa-p256"):
        leaf(ecdsa_ca, key=cx.generate_tls_key(cx.ED25519))
    ed_key = cx.generate_tls_key()
    ed_ca = (ed_key, cx.issue_ca(ed_key, "Ed CA", not_before=NOW, not_after=LATER))
    with pytest.raises(CertificateError, match=r"leaf key is ecdsa-p256.*are ed25519"):
        leaf(ed_ca, key=cx.generate_tls_key(cx.ECDSA_P256))


def test_issue_ca_requires_a_matching_endorsement(root):
    """An ECDSA CA needs the root key's endorsement of exactly its key; an Ed25519 CA takes
    none (its key is the root key)."""
    key = cx.generate_tls_key(cx.ECDSA_P256)
    with pytest.raises(CertificateError, match="needs the root key's endorsement"):
        cx.issue_ca(key, "CA", not_before=NOW, not_after=LATER)
    elsewhere = cx.endorse_ca_key(root.signing, cx.generate_tls_key(cx.ECDSA_P256).public_key())
    with pytest.raises(CertificateError, match="not the one its root key endorsed"):
        cx.issue_ca(key, "CA", not_before=NOW, not_after=LATER, endorsement=elsewhere)
    with pytest.raises(CertificateError, match="takes no endorsement"):
        cx.issue_ca(
            cx.generate_tls_key(),
            "CA",
            not_before=NOW,
            not_after=LATER,
            endorsement=cx.endorse_ca_key(root.signing, key.public_key()),
        )
    with pytest.raises(CertificateError, match="only an ECDSA P-256 CA key is endorsed"):
        cx.endorse_ca_key(root.signing, cx.generate_tls_key().public_key())


def _forged_ca(key, extension_value: bytes, *, critical: bool = False) -> x509.Certificate:
    """A self-signed CA certificate of `key` with any endorsement bytes (what an attacker
    who holds `key` can make; issue_ca refuses to)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Giả mạo CA")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(LATER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.UnrecognizedExtension(cx.CA_ENDORSEMENT_OID, extension_value), critical)
        .sign(key, hashes.SHA256())
    )


def test_the_ca_binding_is_refused_when_it_is_not_the_root_signed_value(root, ecdsa_ca):
    """A CA of an attacker's key carrying the federation's real endorsement (of the real CA
    key), an endorsement in the wrong layout, a critical one, or a root key it does not
    match is refused by ca_root_key: the pinned root key vouches for one CA key only."""
    _, real = ecdsa_ca
    real_value = real.extensions.get_extension_for_oid(cx.CA_ENDORSEMENT_OID).value.value
    attacker = cx.generate_tls_key(cx.ECDSA_P256)
    with pytest.raises(CertificateError, match="not the one its root key endorsed"):
        cx.ca_root_key(_forged_ca(attacker, real_value))
    stranger = NodeKeys.generate()
    claims_root = cx.CaEndorsement(
        root.sign_public, cx.endorse_ca_key(stranger.signing, attacker.public_key()).signature
    ).to_der()
    with pytest.raises(CertificateError, match="not the one its root key endorsed"):
        cx.ca_root_key(_forged_ca(attacker, claims_root))
    own = cx.endorse_ca_key(root.signing, attacker.public_key()).to_der()
    with pytest.raises(CertificateError, match="is not SEQUENCE"):
        cx.ca_root_key(_forged_ca(attacker, own[:-1]))
    with pytest.raises(CertificateError, match="marked critical"):
        cx.ca_root_key(_forged_ca(attacker, own, critical=True))
    # With the root's own signature the attacker's CA stands for that root key: which is
    # why only the root key's holder can make one, and why the pin names the root key.
    assert cx.ca_root_key(_forged_ca(attacker, own)) == root.sign_public
    signed_by_stranger = cx.endorse_ca_key(stranger.signing, attacker.public_key()).to_der()
    assert cx.ca_root_key(_forged_ca(attacker, signed_by_stranger)) == stranger.sign_public


def test_a_ca_certificate_not_self_signed_is_refused(root, ecdsa_ca):
    """A CA certificate whose signature is not its own key's is no CA."""
    _, unit_leaf = leaf(ecdsa_ca)
    with pytest.raises(CertificateError, match="was not issued by"):
        cx.ca_root_key(unit_leaf)


def test_ecdsa_keys_seal_like_ed25519_keys():
    """A P-256 key goes through PKCS#8 PEM, sealed with a passphrase too, and back."""
    key = cx.generate_tls_key(cx.ECDSA_P256)
    assert cx.key_from_pem(cx.key_to_pem(key)).private_numbers() == key.private_numbers()
    fast = {"opslimit": argon2id.OPSLIMIT_MIN, "memlimit": argon2id.MEMLIMIT_MIN}
    sealed = cx.key_to_pem(key, PASSPHRASE, **fast)
    assert cx.is_sealed_key(sealed)
    assert cx.key_from_pem(sealed, PASSPHRASE).private_numbers() == key.private_numbers()
    with pytest.raises(WrongPassphraseError):
        cx.key_from_pem(sealed, b"sai mat khau")


def test_tls13_mutual_handshake_with_ecdsa_certificates(tmp_path, ecdsa_ca):
    """Python's ssl (OpenSSL 3) negotiates TLS 1.3 between an ECDSA server and an ECDSA
    client of the same CA, each checking the other's chain; the server reads the client's
    unit code, and the server's leaf is the P-256 one."""
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(cx.cert_to_pem(ecdsa_ca[1]))
    paths = {}
    for name, code, hosts, serial in (
        ("server", "000.00.04.H53", ["127.0.0.1"], 1),
        ("client", CODE, [], 2),
    ):
        key, cert = leaf(ecdsa_ca, hosts=hosts, code=code, serial=serial)
        paths[name] = (tmp_path / f"{name}.crt", tmp_path / f"{name}.key")
        paths[name][0].write_bytes(cx.cert_to_pem(cert))
        paths[name][1].write_bytes(cx.key_to_pem(key))
    server = OneShotServer(cx.server_context(*paths["server"], ca_path))
    with server:
        said = connect(server.port, cx.client_context(*paths["client"], ca_path))
    assert server.error is None
    assert server.version == "TLSv1.3"
    assert said == f"hello {CODE}".encode()
