"""Enrolment online and by files, and key rotation, against a fake centre over real TLS."""

from __future__ import annotations

import asyncio
import copy
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from lienthong.bootstrap.enrolment import (
    Enrolled,
    Pending,
    import_certificate,
    parse_token,
    write_request,
)
from lienthong.bootstrap.errors import (
    AlreadyEnrolled,
    AnswerRejected,
    CentreRefused,
    FingerprintMismatch,
    InvalidToken,
)
from lienthong.bootstrap.rotation import rotate
from lienthong.crypto import x509 as tls
from lienthong.crypto.errors import KeystoreError
from lienthong.crypto.keys import NodeKeys
from lienthong.crypto.keystore import load_keys
from lienthong.node import config as cfg
from lienthong.node.cli.main import main
from lienthong.node.datadir import config_saver, federation_saver
from lienthong.node.runtime import client_ssl_context, server_ssl_context
from lienthong.protocol.certificate import verify_certificate, verify_registration
from lienthong.storage.db import Store
from lienthong.storage.directory import latest_directory
from tests.bootstrap.support import (
    TOKEN,
    TOKEN_ID,
    TOKEN_SECRET,
    FakeCentre,
    Federation,
    files_under,
    make_unit_dir,
)


async def cached_version(config: cfg.Config) -> int | None:
    async with await Store.open(config.store_path) as store, store.read() as conn:
        cached = await latest_directory(conn)
    return cached.version if cached else None


def test_token_parsing_matches_the_printed_form():
    """`<hex id>.<base32 secret>` gives the id and the decoded secret; typing slips forgiven."""
    assert parse_token(TOKEN) == (TOKEN_ID, TOKEN_SECRET)
    token_id, secret = TOKEN.split(".")
    spaced = f" {token_id.upper()}.{'-'.join([secret[:8].lower(), secret[8:]])} "
    assert parse_token(spaced) == (TOKEN_ID, TOKEN_SECRET)
    for bad in ("no-dot", f"{token_id}.", f".{secret}", f"{token_id}.{secret[:10]}", "a.b!c"):
        with pytest.raises(InvalidToken):
            parse_token(bad)


async def test_online_enrolment_installs_everything(tmp_path: Path):
    """Over TLS checked against the pinned CA: certificate, TLS files, directory and node.toml."""
    fed = Federation()
    config, keys = make_unit_dir(tmp_path)
    async with FakeCentre(fed, tmp_path) as centre:
        result = await centre.enrol(
            config, keys, centre_url=centre.url + "/", fingerprint=fed.fingerprint.lower()
        )
    assert isinstance(result, Enrolled)
    assert centre.requests == ["GET /v1/ca", "POST /v1/enrol"]
    cert = verify_certificate(config.certificate_path.read_bytes(), fed.root.sign_public)
    assert (cert.serial, cert.sign_key) == (result.serial, keys.sign_public)
    assert cert.endpoints == ("https://127.0.0.1:7443",)
    assert config.ca_path.read_bytes() == fed.ca_pem
    assert config.tls_cert_path.is_file()
    assert stat.S_IMODE(config.tls_key_path.stat().st_mode) == 0o600
    assert await cached_version(config) == 1
    reloaded = cfg.load_config(config.data_dir)
    assert reloaded.get("federation", "centre_url") == centre.url
    assert reloaded.get("federation", "centre_fingerprint") == fed.fingerprint
    with pytest.raises(AlreadyEnrolled):
        await centre.enrol(reloaded, keys)


async def test_wrong_fingerprint_refuses_and_writes_nothing(tmp_path: Path):
    """A CA of another key: refused naming both fingerprints; only GET /v1/ca was sent."""
    fed, impostor = Federation(), Federation()
    config, keys = make_unit_dir(tmp_path)
    before = files_under(config.data_dir)
    async with FakeCentre(fed, tmp_path, ca_pem=impostor.ca_pem) as centre:
        with pytest.raises(FingerprintMismatch) as caught:
            await centre.enrol(config, keys)
    assert impostor.fingerprint in str(caught.value)
    assert fed.fingerprint in str(caught.value)
    assert centre.requests == ["GET /v1/ca"]
    assert files_under(config.data_dir) == before


def _ecdsa_ca_pem(key, endorsement: tls.CaEndorsement) -> bytes:
    """A self-signed P-256 CA certificate carrying `endorsement`, whoever made either."""
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "Trung tâm CA")])
    start = datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=30))
        .add_extension(cx509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            cx509.UnrecognizedExtension(tls.CA_ENDORSEMENT_OID, endorsement.to_der()), False
        )
        .sign(key, hashes.SHA256())
    )
    return tls.cert_to_pem(cert)


async def test_an_ecdsa_ca_not_endorsed_by_the_pinned_root_is_refused(tmp_path: Path):
    """A stand-in at GET /v1/ca serves a P-256 CA of its own key: with the federation's real
    endorsement copied in (it names the real CA key) it is refused as unusable; endorsed by
    its own root key it is refused naming both fingerprints. Only GET /v1/ca was sent and
    nothing was written."""
    fed = Federation()
    real_ca_key = tls.generate_tls_key(tls.ECDSA_P256)
    real = tls.endorse_ca_key(fed.root.signing, real_ca_key.public_key())
    assert tls.ca_root_key(tls.cert_from_pem(_ecdsa_ca_pem(real_ca_key, real))) == (
        fed.root.sign_public
    )
    own_key, own_root = tls.generate_tls_key(tls.ECDSA_P256), NodeKeys.generate()
    copied = _ecdsa_ca_pem(own_key, real)
    own = _ecdsa_ca_pem(own_key, tls.endorse_ca_key(own_root.signing, own_key.public_key()))
    config, keys = make_unit_dir(tmp_path)
    before = files_under(config.data_dir)
    for served, refusal, words in (
        (copied, AnswerRejected, "not the one its root key endorsed"),
        (own, FingerprintMismatch, fed.fingerprint),
    ):
        async with FakeCentre(fed, tmp_path / str(len(served)), ca_pem=served) as centre:
            with pytest.raises(refusal, match=words):
                await centre.enrol(config, keys)
        assert centre.requests == ["GET /v1/ca"]
    assert files_under(config.data_dir) == before


async def test_pending_keeps_the_tls_key_for_the_re_run(tmp_path: Path):
    """202 pending writes only the TLS key; the re-run after approval sends the same key."""
    fed = Federation()
    config, keys = make_unit_dir(tmp_path)
    async with FakeCentre(fed, tmp_path) as centre:
        centre.pending = True
        first = await centre.enrol(config, keys)
        assert isinstance(first, Pending) and first.message == "wait"
        assert not config.certificate_path.exists()
        tls_key = config.tls_key_path.read_bytes()
        centre.pending = False
        second = await centre.enrol(config, keys)
    assert isinstance(second, Enrolled)
    assert config.tls_key_path.read_bytes() == tls_key


async def test_answer_for_other_keys_is_rejected_online(tmp_path: Path):
    """A certificate for keys that are not ours is refused and nothing at all is written."""
    fed = Federation()
    config, keys = make_unit_dir(tmp_path)
    before = files_under(config.data_dir)
    async with FakeCentre(fed, tmp_path) as centre:
        centre.answer_keys = NodeKeys.generate()
        with pytest.raises(AnswerRejected, match="another signing key"):
            await centre.enrol(config, keys)
    assert files_under(config.data_dir) == before


async def test_centre_refusal_is_reported_with_its_reason(tmp_path: Path):
    """A 4xx JSON refusal becomes CentreRefused carrying the centre's error and message."""
    fed = Federation()
    config, keys = make_unit_dir(tmp_path)
    async with FakeCentre(fed, tmp_path) as centre:
        centre.refusal = (410, {"error": "ExpiredToken", "message": "token 01 expired"})
        with pytest.raises(CentreRefused, match=r"ExpiredToken, HTTP 410\): token 01 expired"):
            await centre.enrol(config, keys)
    assert not config.tls_key_path.exists()


def answer_file(fed: Federation, tmp_path: Path, request: bytes, **overrides) -> Path:
    """What `lienthong centre sign-request` writes for a request file."""
    centre = FakeCentre(fed, tmp_path)
    for name, value in overrides.items():
        setattr(centre, name, value)
    path = tmp_path / "answer.bin"
    path.write_bytes(centre.answer(verify_registration(request)))
    return path


async def test_offline_request_and_import(tmp_path: Path):
    """Request file out, certificate file in: installed and pinned with --fingerprint."""
    fed = Federation()
    config, keys = make_unit_dir(tmp_path)
    out = tmp_path / "request.bin"
    request = write_request(config.node_settings, keys, TOKEN, out)
    assert out.read_bytes() == request and config.tls_key_path.is_file()
    path = answer_file(fed, tmp_path, request)
    result = await import_certificate(
        config.node_settings,
        keys,
        path,
        fingerprint=fed.fingerprint,
        save_federation=federation_saver(config),
    )
    assert result.code == config.code and result.directory_version == 1
    assert config.certificate_path.is_file() and await cached_version(config) == 1
    reloaded = cfg.load_config(config.data_dir)
    assert reloaded.get("federation", "centre_fingerprint") == fed.fingerprint
    assert reloaded.get("federation", "centre_url") == "https://127.0.0.1:1"  # the directory's


async def test_offline_import_refuses_a_certificate_for_other_keys(tmp_path: Path):
    """A certificate file made for other keys is refused; the data directory is unchanged."""
    fed = Federation()
    config, keys = make_unit_dir(tmp_path)
    request = write_request(config.node_settings, keys, TOKEN, tmp_path / "request.bin")
    path = answer_file(fed, tmp_path, request, answer_keys=NodeKeys.generate())
    before = files_under(config.data_dir)
    with pytest.raises(AnswerRejected, match="another signing key"):
        await import_certificate(
            config.node_settings,
            keys,
            path,
            fingerprint=fed.fingerprint,
            save_federation=federation_saver(config),
        )
    assert files_under(config.data_dir) == before


async def test_offline_import_checks_the_pinned_fingerprint(tmp_path: Path):
    """The file's CA must match federation.centre_fingerprint when node.toml pins one."""
    fed, other = Federation(), Federation()
    config, keys = make_unit_dir(tmp_path, centre_fingerprint=other.fingerprint)
    request = write_request(config.node_settings, keys, TOKEN, tmp_path / "request.bin")
    path = answer_file(fed, tmp_path, request)
    with pytest.raises(FingerprintMismatch, match=other.fingerprint):
        await import_certificate(
            config.node_settings, keys, path, save_federation=federation_saver(config)
        )
    with pytest.raises(FingerprintMismatch, match=r"differs from federation\.centre_fingerprint"):
        await import_certificate(
            config.node_settings,
            keys,
            path,
            fingerprint=fed.fingerprint,
            save_federation=federation_saver(config),
        )
    assert not config.certificate_path.exists()


async def test_key_rotation_replaces_keys_and_keeps_the_old_one(tmp_path: Path):
    """keys rotate: new keys certified over mutual TLS; the old key file kept as .<serial>.old."""
    fed = Federation()
    config, keys = make_unit_dir(tmp_path)
    async with FakeCentre(fed, tmp_path) as centre:
        first = await centre.enrol(config, keys)
        key_path = config.path("keys", "identity")
        old_file = key_path.read_bytes()
        old_tls = config.tls_key_path.read_bytes()
        result = await rotate(cfg.load_config(config.data_dir).node_settings, passphrase=None)
    assert centre.requests[-1] == "POST /v1/rotate"
    new_keys = load_keys(key_path)
    assert new_keys.sign_public != keys.sign_public
    assert (key_path.parent / f"identity.key.{first.serial}.old").read_bytes() == old_file
    assert not (key_path.parent / "identity.key.next").exists()
    assert config.tls_key_path.read_bytes() != old_tls
    cert = verify_certificate(config.certificate_path.read_bytes(), fed.root.sign_public)
    assert cert.serial == result.serial > first.serial
    assert cert.sign_key == new_keys.sign_public
    assert await cached_version(config) == 2
    assert result.fingerprint == fed.fingerprint


def test_cli_offline_enrolment_and_directory_show(tmp_path: Path, capsys):
    """`enrol --request-out`, `enrol --certificate-in`, then `directory show --json`."""
    fed = Federation()
    config, _ = make_unit_dir(tmp_path)
    data_dir = str(config.data_dir)
    out = tmp_path / "request.bin"
    assert main(["enrol", "--data-dir", data_dir, "--request-out", str(out), "--token", TOKEN]) == 0
    path = answer_file(fed, tmp_path, out.read_bytes())
    args = ["--certificate-in", str(path), "--fingerprint", fed.fingerprint]
    assert main(["enrol", "--data-dir", data_dir, *args]) == 0
    capsys.readouterr()
    assert main(["directory", "show", "--data-dir", data_dir, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == 1 and shown["expired"] is False
    assert [u["code"] for u in shown["units"]] == [config.code]
    assert shown["warnings"] == []
    assert main(["enrol", "--data-dir", data_dir, "--centre", "https://x"]) == 1
    assert "the enrolment token is missing" in capsys.readouterr().err


async def test_a_sealed_tls_key_from_enrolment_serves_mutual_tls(tmp_path: Path, monkeypatch):
    """Enrolled with the identity key's passphrase, keys/tls.key is sealed (0600, no key in
    clear); the node's own server and client contexts open it with the passphrase from
    keys.passphrase_env and make a mutual TLS 1.3 handshake; without it they say why."""
    fed = Federation()
    config, keys = make_unit_dir(tmp_path)
    passphrase = "cụm mật khẩu của đơn vị".encode()
    async with FakeCentre(fed, tmp_path) as centre:
        await centre.enrol(config, keys, passphrase=passphrase)
    data = config.tls_key_path.read_bytes()
    assert tls.is_sealed_key(data) and b"BEGIN PRIVATE KEY" not in data
    assert stat.S_IMODE(config.tls_key_path.stat().st_mode) == 0o600
    config = cfg.load_config(config.data_dir)
    values = copy.deepcopy(config.values)
    values["keys"]["passphrase_env"] = "LIENTHONG_TEST_TLS_PASSPHRASE"
    config_saver(config)(values)
    config = cfg.load_config(config.data_dir)
    monkeypatch.delenv("LIENTHONG_TEST_TLS_PASSPHRASE", raising=False)
    with pytest.raises(KeystoreError, match="sealed with a passphrase"):
        server_ssl_context(config)
    monkeypatch.setenv("LIENTHONG_TEST_TLS_PASSPHRASE", passphrase.decode())

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("ssl_object").getpeercert()
        writer.write(tls.unit_code_of_peercert(peer).encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_ssl_context(config))
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_ssl_context(config), server_hostname="127.0.0.1"
        )
        assert writer.get_extra_info("ssl_object").version() == "TLSv1.3"
        assert await reader.read() == config.code.encode()
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
