"""Pinned client contexts: a server certificate from the right CA is not enough; its leaf must
be one of the destination's pins (real TLS 1.3 handshakes on 127.0.0.1)."""

import hashlib
import ssl

import pytest

from lienthong.crypto import x509 as cx
from lienthong.crypto.pinning import MAX_PINS, PinMismatch, pinned_client_context
from tests.crypto.test_tls import OneShotServer, connect, write_ca, write_identity

STAND_IN = "000.00.06.H53"


@pytest.fixture
def pki(tmp_path):
    """One federation CA: the real server, a stand-in unit on the same host, a client; and a
    foreign CA with a server."""
    key, cert, ca_path = write_ca(tmp_path, "fed")
    f_key, f_cert, f_path = write_ca(tmp_path, "foreign")
    return {
        "ca": ca_path,
        "server": write_identity(tmp_path, "real", key, cert, "000.00.04.H53", ["127.0.0.1"], 1),
        "stand_in": write_identity(tmp_path, "other", key, cert, STAND_IN, ["127.0.0.1"], 3),
        "client": write_identity(tmp_path, "me", key, cert, "000.00.05.H53", [], 2),
        "foreign": write_identity(tmp_path, "far", f_key, f_cert, STAND_IN, ["127.0.0.1"], 4),
        "foreign_ca": f_path,
    }


def leaf_sha256(cert_path) -> bytes:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert_path.read_text())).digest()


def test_the_pinned_server_is_reached(pki):
    """The destination's own leaf passes, with the CA and host name checks still on."""
    client = pinned_client_context(*pki["client"], pki["ca"], [leaf_sha256(pki["server"][0])])
    with OneShotServer(cx.server_context(*pki["server"], pki["ca"])) as server:
        assert connect(server.port, client) == b"hello 000.00.05.H53"


def test_another_unit_of_the_same_ca_cannot_stand_in(pki):
    """A leaf the same CA issued for the same host, but another unit's, is refused as the
    handshake ends: the client hangs up before writing a byte of its request."""
    context = pinned_client_context(*pki["client"], pki["ca"], [leaf_sha256(pki["server"][0])])
    with (
        OneShotServer(cx.server_context(*pki["stand_in"], pki["ca"])) as server,
        pytest.raises(PinMismatch, match="not pinned"),
    ):
        connect(server.port, context)


def test_the_previous_leaf_counts_during_an_overlap(pki):
    """Two pins (current and previous certificate): either leaf is accepted."""
    pins = [leaf_sha256(pki["server"][0]), hashlib.sha256(b"next certificate").digest()]
    client = pinned_client_context(*pki["client"], pki["ca"], pins)
    with OneShotServer(cx.server_context(*pki["server"], pki["ca"])) as server:
        assert connect(server.port, client).startswith(b"hello")


def test_a_pin_does_not_replace_the_ca_check(pki):
    """A server from a foreign CA is refused even if its leaf is pinned."""
    client = pinned_client_context(*pki["client"], pki["ca"], [leaf_sha256(pki["foreign"][0])])
    with (
        OneShotServer(cx.server_context(*pki["foreign"], pki["foreign_ca"])) as server,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        connect(server.port, client)


@pytest.mark.parametrize("pins", [[], [b"short"], [bytes([i]) * 32 for i in range(MAX_PINS + 1)]])
def test_bad_pin_sets_are_refused(pki, pins):
    """No pins, a pin that is not a SHA-256, or more than MAX_PINS: a clear error."""
    with pytest.raises(ValueError, match="pins"):
        pinned_client_context(*pki["client"], pki["ca"], pins)
