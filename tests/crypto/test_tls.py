"""Real TLS 1.3 mutual handshakes on 127.0.0.1 with the contexts crypto.x509 builds."""

import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta

import nacl.pwhash.argon2id as argon2id
import pytest
from cryptography.hazmat.primitives import serialization

from lienthong.crypto import x509 as cx
from lienthong.crypto.errors import CertificateError, KeystoreError, WrongPassphraseError
from lienthong.crypto.pinning import pinned_client_context

NOW = datetime.now(UTC) - timedelta(minutes=5)
LATER = NOW + timedelta(days=30)
SERVER_CODE = "000.00.04.H53"
CLIENT_CODE = "000.00.05.H53"
# Safety net so a broken handshake fails the test instead of hanging it; not a timing assertion.
IO_TIMEOUT = 10


def write_identity(tmp_path, name, ca_key, ca_cert, code, hosts, serial):
    key = cx.generate_tls_key()
    cert = cx.issue_leaf(
        ca_key,
        ca_cert,
        key.public_key(),
        unit_code=code,
        unit_name=f"Unit {code}",
        serial=serial,
        hosts=hosts,
        not_before=NOW,
        not_after=LATER,
    )
    (tmp_path / f"{name}.crt").write_bytes(cx.cert_to_pem(cert))
    (tmp_path / f"{name}.key").write_bytes(cx.key_to_pem(key))
    return tmp_path / f"{name}.crt", tmp_path / f"{name}.key"


def write_ca(tmp_path, name):
    key = cx.generate_tls_key()
    cert = cx.issue_ca(key, f"{name} CA", not_before=NOW, not_after=LATER)
    (tmp_path / f"{name}-ca.crt").write_bytes(cx.cert_to_pem(cert))
    return key, cert, tmp_path / f"{name}-ca.crt"


@pytest.fixture
def pki(tmp_path):
    """A federation CA with a server and a client identity, and a foreign CA with a client."""
    ca_key, ca_cert, ca_path = write_ca(tmp_path, "centre")
    server = write_identity(tmp_path, "server", ca_key, ca_cert, SERVER_CODE, ["127.0.0.1"], 1)
    client = write_identity(tmp_path, "client", ca_key, ca_cert, CLIENT_CODE, [], 2)
    f_key, f_cert, f_path = write_ca(tmp_path, "foreign")
    foreign = write_identity(tmp_path, "foreign", f_key, f_cert, CLIENT_CODE, ["127.0.0.1"], 3)
    return {
        "ca": ca_path,
        "server": server,
        "client": client,
        "foreign": foreign,
        "foreign_ca": f_path,
    }


class OneShotServer:
    """Accepts one TLS connection in a thread and records what it saw."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(IO_TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.peercert: dict | None = None
        self.version: str | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.thread.join(IO_TIMEOUT)
        self.listener.close()
        assert not self.thread.is_alive()

    def _serve(self) -> None:
        try:
            raw, _ = self.listener.accept()
            raw.settimeout(IO_TIMEOUT)
            with self.context.wrap_socket(raw, server_side=True) as tls:
                self.peercert = tls.getpeercert()
                self.version = tls.version()
                tls.sendall(b"hello " + cx.unit_code_of_peercert(self.peercert).encode())
        except (ssl.SSLError, OSError) as exc:
            self.error = exc


def connect(port: int, context: ssl.SSLContext, server_hostname: str = "127.0.0.1") -> bytes:
    """Open a TLS connection and read what the server says (b"" if it hung up)."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        return tls.recv(100)


def test_contexts_require_tls13_and_certificates(pki):
    """Both contexts refuse TLS below 1.3 and require the peer's certificate."""
    server = cx.server_context(*pki["server"], pki["ca"])
    client = cx.client_context(*pki["client"], pki["ca"])
    for context in (server, client):
        assert context.minimum_version == ssl.TLSVersion.TLSv1_3
        assert context.verify_mode == ssl.CERT_REQUIRED
    assert client.check_hostname


def test_mutual_handshake_server_sees_client_unit_code(pki):
    """A client with a federation certificate connects over TLS 1.3; the server reads its code."""
    with OneShotServer(cx.server_context(*pki["server"], pki["ca"])) as server:
        reply = connect(server.port, cx.client_context(*pki["client"], pki["ca"]))
    assert server.error is None
    assert server.version == "TLSv1.3"
    assert cx.unit_code_of_peercert(server.peercert) == CLIENT_CODE
    assert reply == b"hello " + CLIENT_CODE.encode()


def test_client_certificate_from_another_ca_is_refused(pki):
    """The server refuses a client whose certificate another CA issued."""
    client = cx.client_context(*pki["foreign"], pki["ca"])
    with (
        OneShotServer(cx.server_context(*pki["server"], pki["ca"])) as server,
        pytest.raises((ssl.SSLError, ConnectionResetError)),
    ):
        connect(server.port, client)
    assert isinstance(server.error, ssl.SSLError)
    assert server.peercert is None


def test_client_without_certificate_is_refused(pki):
    """The server refuses a client that presents no certificate."""
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.minimum_version = ssl.TLSVersion.TLSv1_3
    client.load_verify_locations(cafile=str(pki["ca"]))
    with (
        OneShotServer(cx.server_context(*pki["server"], pki["ca"])) as server,
        pytest.raises((ssl.SSLError, ConnectionResetError)),
    ):
        connect(server.port, client)
    assert isinstance(server.error, ssl.SSLError)
    assert server.peercert is None


def test_client_refuses_server_from_another_ca(pki):
    """The client refuses a server whose certificate another CA issued."""
    server_context = cx.server_context(*pki["foreign"], pki["foreign_ca"])
    with OneShotServer(server_context) as server, pytest.raises(ssl.SSLCertVerificationError):
        connect(server.port, cx.client_context(*pki["client"], pki["ca"]))
    assert server.peercert is None


def test_client_refuses_wrong_host_name(pki):
    """The client checks the server's name against its certificate's SANs."""
    with (
        OneShotServer(cx.server_context(*pki["server"], pki["ca"])) as server,
        pytest.raises(ssl.SSLCertVerificationError, match="mismatch"),
    ):
        connect(server.port, cx.client_context(*pki["client"], pki["ca"]), "localhost")
    assert server.peercert is None


def test_context_with_missing_or_bad_files_names_them(pki, tmp_path):
    """Missing certificate files or a garbage CA file raise CertificateError naming the path."""
    crt, key = pki["server"]
    with pytest.raises(CertificateError, match=r"absent\.crt"):
        cx.server_context(tmp_path / "absent.crt", key, pki["ca"])
    garbage = tmp_path / "garbage-ca.crt"
    garbage.write_bytes(b"not a certificate")
    with pytest.raises(CertificateError, match=r"garbage-ca\.crt"):
        cx.client_context(crt, key, garbage)
    with pytest.raises(CertificateError, match=r"absent\.key"):
        cx.client_context(crt, tmp_path / "absent.key", pki["ca"])


PASSPHRASE = "cụm mật khẩu của đơn vị".encode()


def seal_key_file(path, passphrase=PASSPHRASE):
    """Rewrite an unsealed TLS key file sealed with the passphrase (argon2id at its minimum)."""
    key = cx.key_from_pem(path.read_bytes())
    fast = {"opslimit": argon2id.OPSLIMIT_MIN, "memlimit": argon2id.MEMLIMIT_MIN}
    path.write_bytes(cx.key_to_pem(key, passphrase, **fast))
    return key


def test_a_sealed_tls_key_serves_mutual_tls(pki):
    """Server and client keys sealed with the passphrase hold no key in clear, and with the
    passphrase they make the same TLS 1.3 mutual handshake."""
    for name in ("server", "client"):
        seal_key_file(pki[name][1])
        data = pki[name][1].read_bytes()
        assert cx.is_sealed_key(data) and b"BEGIN ENCRYPTED PRIVATE KEY" in data
        assert b"BEGIN PRIVATE KEY" not in data
    server_context = cx.server_context(*pki["server"], pki["ca"], passphrase=PASSPHRASE)
    with OneShotServer(server_context) as server:
        reply = connect(
            server.port, cx.client_context(*pki["client"], pki["ca"], passphrase=PASSPHRASE)
        )
    assert server.error is None and server.version == "TLSv1.3"
    assert cx.unit_code_of_peercert(server.peercert) == CLIENT_CODE
    assert reply == b"hello " + CLIENT_CODE.encode()


def test_a_sealed_tls_key_needs_its_passphrase(pki, tmp_path):
    """Without the passphrase a sealed key is refused saying so, with a wrong one it says the
    passphrase does not open it; a key encrypted some other way is refused, never prompted
    for on the terminal."""
    key = seal_key_file(pki["server"][1])
    data = pki["server"][1].read_bytes()
    with pytest.raises(KeystoreError, match="sealed with a passphrase; none was given"):
        cx.server_context(*pki["server"], pki["ca"])
    with pytest.raises(WrongPassphraseError, match="does not open the TLS key"):
        cx.server_context(*pki["server"], pki["ca"], passphrase=b"sai mat khau")
    with pytest.raises(WrongPassphraseError):
        cx.key_from_pem(data, b"sai mat khau")
    assert cx.key_from_pem(data, PASSPHRASE).public_key() == key.public_key()
    foreign = tmp_path / "foreign.key"
    foreign.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"other"),
        )
    )
    with pytest.raises(CertificateError, match="not sealed the lienthong way"):
        cx.server_context(pki["server"][0], foreign, pki["ca"])


def test_a_sealed_key_is_derived_once_for_many_contexts(pki):
    """A node makes a server context, a client context and a pinned context per
    destination from one sealed key: argon2id (a second and 256 MiB at the sealing limits)
    runs once for all of them, not once each."""
    seal_key_file(pki["client"][1])
    cx._derived_password.cache_clear()
    cx.client_context(*pki["client"], pki["ca"], passphrase=PASSPHRASE)
    for n in range(5):
        pins = [bytes([n]) * 32]
        pinned_client_context(*pki["client"], pki["ca"], pins, passphrase=PASSPHRASE)
    info = cx._derived_password.cache_info()
    assert (info.misses, info.hits) == (1, 10)
