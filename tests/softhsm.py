"""A SoftHSM2 token initialised by the test run: the USB token a clerk signs with, in software.

One token directory per test session: a PKCS#11 module is initialised once per process and
reads SOFTHSM2_CONF then, so every test of the session shares this configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pytest
from asn1crypto.core import Integer
from pkcs11 import Attribute, CertificateType, ObjectClass

from tests.crypto.signing_fixtures import Identity, asn1_cert, make_ca, make_signer

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_LABEL = "lienthong-test"
KEY_LABEL = "to-chuc"
KEY_ID = b"\x01"
USER_PIN = "123456"
SO_PIN = "87654321"


@dataclass(frozen=True)
class Token:
    """The token's module, label, key label and id, PIN and the identity stored on it."""

    module: str
    label: str
    key_label: str
    key_id: bytes
    pin: str
    identity: Identity


def softhsm_available() -> bool:
    return Path(SOFTHSM_MODULE).is_file() and shutil.which("softhsm2-util") is not None


def _util(*args: str) -> None:
    subprocess.run(["softhsm2-util", *args], check=True, capture_output=True, timeout=60)


_made: list[Token] = []  # the session's one token, however many modules import the fixture


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Token:
    """A fresh token holding an organisation's key and certificate (issued by a test CA),
    made once per session: each module importing this fixture gets the same token."""
    if not softhsm_available():
        pytest.skip("SoftHSM2 is not installed (apt install softhsm2)")
    if not _made:
        _made.append(_make_token(tmp_path_factory))
    return _made[0]


def _make_token(tmp_path_factory: pytest.TempPathFactory) -> Token:
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    _util("--init-token", "--free", "--label", TOKEN_LABEL, "--pin", USER_PIN, "--so-pin", SO_PIN)
    identity = make_signer(make_ca(), "Văn phòng UBND tỉnh Tây Ninh", "UBND tỉnh Tây Ninh")
    key_file = root / "key.pem"
    key_file.write_bytes(identity.key_pem())
    _util(
        "--import", str(key_file), "--token", TOKEN_LABEL, "--label", KEY_LABEL,
        "--id", KEY_ID.hex(), "--pin", USER_PIN,
    )  # fmt: skip
    key_file.unlink()
    token = pkcs11.lib(SOFTHSM_MODULE).get_token(token_label=TOKEN_LABEL)
    cert = asn1_cert(identity.cert)
    with token.open(rw=True, user_pin=USER_PIN) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: KEY_LABEL,
                Attribute.ID: KEY_ID,
                Attribute.VALUE: identity.cert_der(),
                Attribute.SUBJECT: cert.subject.dump(),
                Attribute.ISSUER: cert.issuer.dump(),
                Attribute.SERIAL_NUMBER: Integer(cert.serial_number).dump(),
            }
        )
    return Token(SOFTHSM_MODULE, TOKEN_LABEL, KEY_LABEL, KEY_ID, USER_PIN, identity)
