"""`centre init --tls-key`: a federation whose TLS certificates are ECDSA P-256. The CA key
beside the root key, sealed the same way; one TLS algorithm per federation, refused before
anything is stored; the sheet and the offline request name it. Real key files and SQLite."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from lienthong.bootstrap.enrolment import import_certificate, write_request
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import fingerprint
from lienthong.node import config as cfg
from lienthong.node.centre import errors
from lienthong.node.centre.issuer import ca_key_path
from lienthong.node.centre.rules import Issued, open_centre
from lienthong.node.centre.setup import create_centre
from lienthong.node.cli.commands.centre import enrolment_sheet
from lienthong.node.datadir import ROOT_PASSPHRASE_ENV, create_node, federation_saver
from lienthong.protocol.certificate import verify_certificate
from lienthong.storage import audit
from tests.node.centre_support import CENTRE_NAME, UNIT_A, FakeClock, UnitSide, open_bundle

PASSPHRASE = b"mat khau khoa goc"


async def _ecdsa_centre(tmp_path: Path, clock: FakeClock, **options) -> Path:
    data_dir = tmp_path / "centre"
    await create_centre(data_dir, name=CENTRE_NAME, clock=clock, tls_key="ecdsa-p256", **options)
    return data_dir


async def test_init_with_an_unknown_algorithm_creates_nothing(tmp_path, clock):
    """--tls-key outside ed25519/ecdsa-p256 is refused by name before any file is written."""
    with pytest.raises(errors.CentreError, match="--tls-key 'rsa' is not one of"):
        await create_centre(tmp_path / "centre", name=CENTRE_NAME, clock=clock, tls_key="rsa")
    assert not (tmp_path / "centre").exists()


async def test_init_keeps_the_ecdsa_ca_key_sealed_beside_the_root_key(tmp_path, clock, monkeypatch):
    """keys/ca.key is a P-256 key, 0600, sealed with the root passphrase; tls/ca.pem holds
    its key and stands for the root key; the centre's own leaf is P-256 too. Opening the
    centre needs the passphrase for both keys."""
    data_dir = await _ecdsa_centre(tmp_path, clock, passphrase=PASSPHRASE)
    config = cfg.load_config(data_dir)
    key_file = ca_key_path(config)
    assert key_file.stat().st_mode & 0o777 == 0o600
    data = key_file.read_bytes()
    assert tls.is_sealed_key(data) and b"PRIVATE KEY" in data
    ca_key = tls.key_from_pem(data, PASSPHRASE)
    ca = tls.cert_from_pem(config.ca_path.read_bytes())
    assert tls.spki_der(ca_key.public_key()) == tls.spki_der(ca.public_key())
    own = tls.cert_from_pem(config.tls_cert_path.read_bytes())
    assert tls.algorithm_of(own.public_key()) == tls.ECDSA_P256
    tls.verify_issued_by(own, ca)
    monkeypatch.setenv(ROOT_PASSPHRASE_ENV, PASSPHRASE.decode())
    async with open_centre(data_dir, clock=clock) as centre:
        assert tls.ca_root_key(ca) == centre.root.sign_public
        assert centre.issuer.tls_algorithm == tls.ECDSA_P256


async def test_a_centre_without_its_ca_key_does_not_open(tmp_path, clock):
    """A missing keys/ca.key, or one that is not the CA certificate's key, is named."""
    data_dir = await _ecdsa_centre(tmp_path, clock)
    key_file = ca_key_path(cfg.load_config(data_dir))
    original = key_file.read_bytes()
    key_file.unlink()
    with pytest.raises(errors.CentreError, match=r"keys/ca\.key is missing"):
        async with open_centre(data_dir, clock=clock):
            pass
    other = tls.key_to_pem(tls.generate_tls_key(tls.ECDSA_P256))
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(other)
    with pytest.raises(errors.CentreError, match="is not the key of the CA certificate"):
        async with open_centre(data_dir, clock=clock):
            pass
    key_file.write_bytes(original)
    async with open_centre(data_dir, clock=clock) as centre:
        assert centre.issuer.tls_algorithm == tls.ECDSA_P256


async def test_a_sealed_ca_key_needs_the_root_passphrase(tmp_path, clock, monkeypatch):
    """Without $LIENTHONG_ROOT_PASSPHRASE the sealed keys do not open, and the error says
    what to export."""
    data_dir = await _ecdsa_centre(tmp_path, clock, passphrase=PASSPHRASE)
    monkeypatch.delenv(ROOT_PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(errors.CentreError, match=ROOT_PASSPHRASE_ENV):
        async with open_centre(data_dir, clock=clock):
            pass


async def test_an_ecdsa_federation_certifies_p256_keys_only(tmp_path, clock):
    """An Ed25519 TLS key is refused (MalformedRequest, audited) before the token is looked
    at: the token stays unused, and the same token then enrols the P-256 key, whose leaf is
    signed by the ECDSA CA and pinned by the node certificate."""
    data_dir = await _ecdsa_centre(tmp_path, clock)
    async with open_centre(data_dir, clock=clock) as centre:
        new = await centre.add_unit(*UNIT_A)
        assert new.tls_key == tls.ECDSA_P256
        wrong = UnitSide(*UNIT_A)
        with pytest.raises(errors.MalformedRequest, match="tls_key is an ed25519 key"):
            await centre.enrol(wrong.request(new.token))
        async with centre.store.read() as conn:
            actions = [e.action for e in await audit.entries(conn, limit=100)]
        assert "enrolment.refused" in actions and "enrolment" not in actions
        right = UnitSide(*UNIT_A, tls_key=tls.generate_tls_key(tls.ECDSA_P256))
        assert len(right.tls_public) == 65
        issued = await centre.enrol(right.request(new.token))
        assert isinstance(issued, Issued)
        bundle = open_bundle(issued.bundle)
        leaf = tls.cert_from_pem(bundle["tls_certificate"])
        ca = tls.cert_from_pem(bundle["ca_certificate"])
        tls.verify_issued_by(leaf, ca)
        assert leaf.public_key() == right.tls_key.public_key()
        cert = verify_certificate(bundle["certificate"], centre.root.sign_public)
        assert cert.tls_sha256 == hashlib.sha256(leaf.public_bytes(Encoding.DER)).digest()


async def test_an_ed25519_federation_refuses_a_p256_key(tmp_path, clock):
    """The default federation stays Ed25519: a P-256 TLS key is refused before use."""
    await create_centre(tmp_path / "centre", name=CENTRE_NAME, clock=clock)
    async with open_centre(tmp_path / "centre", clock=clock) as centre:
        new = await centre.add_unit(*UNIT_A)
        assert new.tls_key == tls.ED25519
        unit = UnitSide(*UNIT_A, tls_key=tls.generate_tls_key(tls.ECDSA_P256))
        with pytest.raises(errors.MalformedRequest, match="this federation's TLS keys are ed25519"):
            await centre.enrol(unit.request(new.token))


async def test_the_sheet_names_the_algorithm_of_an_offline_request(tmp_path, clock):
    """The enrolment sheet's offline command carries --tls-key ecdsa-p256 in an ECDSA
    federation, and nothing more in an Ed25519 one."""
    data_dir = await _ecdsa_centre(tmp_path, clock)
    async with open_centre(data_dir, clock=clock) as centre:
        new = await centre.add_unit(*UNIT_A)
    sheet = enrolment_sheet(new)
    assert "--request-out yeu-cau.bin --tls-key ecdsa-p256" in sheet
    await create_centre(tmp_path / "ed", name=CENTRE_NAME, clock=clock)
    async with open_centre(tmp_path / "ed", clock=clock) as centre:
        plain = enrolment_sheet(await centre.add_unit(*UNIT_A))
    assert "--tls-key" not in plain and "--request-out yeu-cau.bin\n" in plain


async def test_offline_enrolment_in_an_ecdsa_federation(tmp_path, clock):
    """The air-gapped path: the unit writes its request with a P-256 TLS key (--tls-key
    ecdsa-p256), the centre answers it, and the unit installs the answer, checking the CA
    against the pinned fingerprint through the root key's endorsement."""
    data_dir = await _ecdsa_centre(tmp_path, clock)
    unit_dir = tmp_path / UNIT_A[0]
    keys = create_node(
        unit_dir, {"unit": {"code": UNIT_A[0], "name": UNIT_A[1]}, "node": {"discovery": False}}
    )
    config = cfg.load_config(unit_dir)
    async with open_centre(data_dir, clock=clock) as centre:
        new = await centre.add_unit(*UNIT_A)
        request = write_request(
            config.node_settings,
            keys,
            new.token,
            tmp_path / "yeu-cau.bin",
            tls_algorithm=new.tls_key,
            clock=clock,
        )
        issued = await centre.enrol(request)
        assert isinstance(issued, Issued)
        root_fingerprint = centre.fingerprint
    (tmp_path / "chung-thu.bin").write_bytes(issued.bundle)
    enrolled = await import_certificate(
        config.node_settings,
        keys,
        tmp_path / "chung-thu.bin",
        fingerprint=root_fingerprint,
        save_federation=federation_saver(config),
        clock=clock,
    )
    assert enrolled.code == UNIT_A[0]
    key = tls.key_from_pem(config.tls_key_path.read_bytes())
    assert tls.algorithm_of(key) == tls.ECDSA_P256
    assert tls.cert_from_pem(config.tls_cert_path.read_bytes()).public_key() == key.public_key()
    ca = tls.cert_from_pem(config.ca_path.read_bytes())
    assert fingerprint(tls.ca_root_key(ca)) == root_fingerprint
