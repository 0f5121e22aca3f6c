"""`--tls-key` on the command line: `centre init --tls-key ecdsa-p256` prints the algorithm and
add-unit's sheet carries it to the offline request; `enrol --tls-key` writes a P-256 request
and is refused where it would be ignored (run as the installed `lienthong` command)."""

import json

from lienthong.crypto import x509 as tls
from lienthong.protocol.certificate import verify_registration
from tests.node.cli.test_cli import run

CODE = "000.00.05.H53"
TOKEN = "3f9a0c7e21.MFRGGZDFMZTWQ2LKMFRGGZDFMZTWQ2LK"


def test_centre_init_and_add_unit_name_the_tls_algorithm(tmp_path):
    """init --tls-key ecdsa-p256 --json reports it and keeps keys/ca.key; add-unit's JSON and
    sheet name it for the offline request."""
    data_dir = tmp_path / "centre"
    result = run(
        "centre", "init", "--data-dir", str(data_dir), "--name", "Trung tâm",
        "--tls-key", "ecdsa-p256", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tls_key"] == "ecdsa-p256"
    assert (data_dir / "keys" / "ca.key").is_file()
    result = run(
        "centre", "add-unit", "--data-dir", str(data_dir), "--code", CODE, "--name", "Sở Tư pháp",
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    added = json.loads(result.stdout)
    assert added["tls_key"] == "ecdsa-p256"
    assert "--request-out yeu-cau.bin --tls-key ecdsa-p256" in added["sheet"]


def test_centre_init_refuses_an_unknown_algorithm(tmp_path):
    """Only ed25519 and ecdsa-p256 are offered; nothing is created for another name."""
    result = run(
        "centre", "init", "--data-dir", str(tmp_path / "centre"), "--name", "Trung tâm",
        "--tls-key", "rsa-2048",
    )  # fmt: skip
    assert result.returncode != 0
    assert "invalid choice: 'rsa-2048'" in result.stderr
    assert not (tmp_path / "centre").exists()


def test_enrol_request_out_with_an_ecdsa_tls_key(tmp_path):
    """enrol --request-out --tls-key ecdsa-p256 writes a request whose tls_key is the 65-byte
    P-256 point of the new keys/tls.key; --tls-key without --request-out is refused."""
    data_dir = tmp_path / "unit"
    result = run("init", "--data-dir", str(data_dir), "--code", CODE, "--name", "Sở Tư pháp")
    assert result.returncode == 0, result.stderr
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    request = tmp_path / "yeu-cau.bin"
    result = run(
        "enrol", "--data-dir", str(data_dir), "--token-file", str(token),
        "--request-out", str(request), "--tls-key", "ecdsa-p256",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    key = tls.key_from_pem((data_dir / "keys" / "tls.key").read_bytes())
    assert verify_registration(request.read_bytes()).tls_key == tls.public_key_bytes(
        key.public_key()
    )
    result = run(
        "enrol", "--data-dir", str(data_dir), "--token-file", str(token),
        "--centre", "https://127.0.0.1:9", "--fingerprint", "AAAA", "--tls-key", "ecdsa-p256",
    )  # fmt: skip
    assert result.returncode == 1
    assert "--tls-key goes with --request-out only" in result.stderr
