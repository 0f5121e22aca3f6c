"""`lienthong doctor` on broken and healthy installs: findings, fixes, exit codes, no traceback."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path

from aiohttp import web
from nacl.pwhash.argon2id import MEMLIMIT_MIN, OPSLIMIT_MIN

from lienthong.crypto.keystore import save_keys
from lienthong.node import config as cfg
from lienthong.node.cli.doctor import FAIL, OK, WARN, _is_running_node, render, run_checks
from lienthong.node.cli.main import main
from tests.bootstrap.support import FakeCentre, Federation, make_unit_dir

LOCAL = [
    "config",
    "identity key",
    "TLS key",
    "TLS certificate",
    "node certificate",
    "centre CA",
    "directory",
    "disk space",
]


def by_name(checks) -> dict:
    return {c.name: c for c in checks}


def set_values(config: cfg.Config, section: str, **values) -> None:
    raw = {s: dict(v) for s, v in config.values.items()}
    raw[section].update(values)
    (config.data_dir / cfg.CONFIG_FILE).write_text(cfg.render(raw), encoding="utf-8")


async def enrolled(tmp_path: Path, centre: FakeCentre, fed: Federation) -> cfg.Config:
    config, keys = make_unit_dir(tmp_path)
    await centre.enrol(config, keys)
    return cfg.load_config(config.data_dir)


def test_missing_node_toml_fails_with_the_init_command(tmp_path: Path, capsys):
    """No node.toml: a config failure naming `lienthong init`, exit code 1, no traceback."""
    data_dir = tmp_path / "empty"
    data_dir.mkdir()
    code = main(["doctor", "--data-dir", str(data_dir), "--json"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    checks = {c["name"]: c for c in report["checks"]}
    assert code == 1 and report["ok"] is False
    assert checks["config"]["status"] == FAIL
    assert "lienthong init --data-dir" in checks["config"]["fix"]
    assert "Traceback" not in out + err


def test_bad_config_value_is_reported_with_the_key(tmp_path: Path):
    """A malformed node.toml: the ConfigError message names the key; fix says edit node.toml."""
    config, _ = make_unit_dir(tmp_path)
    path = config.data_dir / cfg.CONFIG_FILE
    path.write_text(
        path.read_text("utf-8").replace("reachable = true", "reachable = 3"), encoding="utf-8"
    )
    checks = by_name(asyncio.run(run_checks(config.data_dir)))
    assert checks["config"].status == FAIL
    assert "node.reachable" in checks["config"].finding
    assert "edit" in checks["config"].fix


async def test_wrong_key_mode_and_missing_certificates_fail_with_fixes(tmp_path: Path):
    """Key mode 0644 gives chmod 600; a node never enrolled gives the enrol command."""
    config, _ = make_unit_dir(tmp_path)
    key = config.path("keys", "identity")
    key.chmod(0o644)
    checks = by_name(await run_checks(config.data_dir))
    assert checks["identity key"].status == FAIL
    assert checks["identity key"].fix == f"chmod 600 {key}"
    for name in ("TLS key", "TLS certificate", "node certificate", "centre CA"):
        assert checks[name].status == FAIL, name
        assert "lienthong enrol --data-dir" in checks[name].fix, name
    assert checks["directory"].status == FAIL
    assert checks["centre reachable"].status == FAIL


async def test_garbage_certificate_is_reported_not_raised(tmp_path: Path):
    """An unreadable certificate file becomes a failed check with the parser's reason."""
    fed = Federation()
    async with FakeCentre(fed, tmp_path) as centre:
        config = await enrolled(tmp_path, centre, fed)
    config.tls_cert_path.write_bytes(b"not a certificate")
    config.certificate_path.write_bytes(b"\x00\x01")
    checks = by_name(await run_checks(config.data_dir))
    assert checks["TLS certificate"].status == FAIL
    assert "could not be checked" in checks["TLS certificate"].finding
    assert checks["node certificate"].status == FAIL


async def test_healthy_enrolled_node_passes_the_local_checks(tmp_path: Path):
    """After a real enrolment every local check is ok; a stopped centre fails with the error."""
    fed = Federation()
    async with FakeCentre(fed, tmp_path) as centre:
        config = await enrolled(tmp_path, centre, fed)
    checks = by_name(await run_checks(config.data_dir))
    for name in LOCAL:
        assert checks[name].status == OK, (name, checks[name].finding)
    assert "directory v1" in checks["directory"].finding
    assert checks["centre reachable"].status == FAIL
    assert "GET " in checks["centre reachable"].finding


async def test_centre_reachable_and_clock_skew(tmp_path: Path):
    """GET /v1/directory over mutual TLS succeeds; a Date an hour off is a clock-skew warning."""
    fed = Federation()
    centre = FakeCentre(fed, tmp_path)

    async def directory(request: web.Request) -> web.Response:
        return web.Response(body=b"", headers={"Date": "Mon, 01 Jan 2024 00:00:00 GMT"})

    centre.app.router.add_get("/v1/directory", directory)
    async with centre:
        config = await enrolled(tmp_path, centre, fed)
        checks = by_name(await run_checks(config.data_dir))
    assert checks["centre reachable"].status == OK
    assert checks["clock skew"].status == WARN
    assert "timedatectl" in checks["clock skew"].fix


async def test_directory_near_expiry_warns_and_expired_fails(tmp_path: Path):
    """Within directory_warn_hours of expiry: warn; past expiry: fail; both say how to refresh."""
    fed = Federation()
    async with FakeCentre(fed, tmp_path) as centre:
        config = await enrolled(tmp_path, centre, fed)
    expires = fed.now + 7 * 86_400_000
    soon = by_name(await run_checks(config.data_dir, clock=lambda: expires - 3_600_000))
    late = by_name(await run_checks(config.data_dir, clock=lambda: expires + 3_600_000))
    assert soon["directory"].status == WARN
    assert late["directory"].status == FAIL
    assert "expired" in late["directory"].finding
    assert "lienthong run" in late["directory"].fix


async def test_pinned_fingerprint_mismatch_fails(tmp_path: Path):
    """A CA whose key is not the pinned fingerprint fails the centre CA check."""
    fed, other = Federation(), Federation()
    async with FakeCentre(fed, tmp_path) as centre:
        config = await enrolled(tmp_path, centre, fed)
    set_values(config, "federation", centre_fingerprint=other.fingerprint)
    checks = by_name(await run_checks(config.data_dir))
    assert checks["centre CA"].status == FAIL
    assert other.fingerprint in checks["centre CA"].finding


async def test_ports_free_and_taken(tmp_path: Path):
    """A free port is ok; a port another process listens on fails, saying it is taken."""
    config, _ = make_unit_dir(tmp_path)
    with socket.socket() as taken, socket.socket() as probe:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
        probe.close()
        set_values(
            config,
            "node",
            listen=f"127.0.0.1:{free_port}",
            web=f"127.0.0.1:{taken.getsockname()[1]}",
        )
        checks = by_name(await run_checks(config.data_dir))
    assert checks["port node.listen"].status == OK
    assert checks["port node.web"].status == FAIL
    assert "is taken" in checks["port node.web"].finding
    assert "node.web" in checks["port node.web"].fix
    assert f"pid {os.getpid()}" in checks["port node.web"].finding


async def test_another_program_or_node_on_the_web_port_fails_and_this_node_passes(tmp_path):
    """The web port held by a page that is not this node's (another node's /healthz, or any
    HTTP server) fails; this node's own page, which /healthz names, passes."""
    config, _ = make_unit_dir(tmp_path)

    async def serve(code: str) -> tuple[web.AppRunner, int]:
        app = web.Application()
        app.router.add_get("/healthz", lambda r: web.json_response({"code": code}))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, runner.addresses[0][1]

    for code, expected in (("000.00.99.H53", FAIL), (config.code, OK)):
        runner, port = await serve(code)
        try:
            set_values(config, "node", web=f"127.0.0.1:{port}")
            check = by_name(await run_checks(config.data_dir))["port node.web"]
        finally:
            await runner.cleanup()
        assert check.status == expected, (code, check.finding)


def test_a_running_node_is_recognised_by_its_command_line():
    """`lienthong run` and `python -m node.cli run` hold ports legitimately; pytest does not."""
    assert _is_running_node(["/usr/bin/python3", "/opt/venv/bin/lienthong", "run", "--data-dir"])
    assert _is_running_node(["python", "-m", "lienthong.node.cli", "run"])
    assert not _is_running_node(["/srv/lienthong/.venv/bin/python", "-m", "pytest", "run"])
    mine, other = Path("/var/lib/lienthong"), "/var/lib/lienthong-2"
    assert _is_running_node(["lienthong", "run", "--data-dir", str(mine)], mine)
    assert not _is_running_node(["lienthong", "run", "--data-dir", other], mine)
    assert not _is_running_node(["lienthong", "demo"], mine)


async def test_sealed_key_without_passphrase_says_where_to_put_it(tmp_path: Path, monkeypatch):
    """A sealed identity key with its variable unset fails, naming the variable and the fix."""
    config, keys = make_unit_dir(tmp_path)
    key = config.path("keys", "identity")
    key.unlink()
    save_keys(key, keys, b"secret", opslimit=OPSLIMIT_MIN, memlimit=MEMLIMIT_MIN)
    set_values(config, "keys", passphrase_env="LIENTHONG_TEST_PASSPHRASE")
    monkeypatch.delenv("LIENTHONG_TEST_PASSPHRASE", raising=False)
    check = by_name(await run_checks(config.data_dir))["identity key"]
    assert check.status == FAIL
    assert "LIENTHONG_TEST_PASSPHRASE is not set" in check.finding
    assert "EnvironmentFile" in check.fix
    monkeypatch.setenv("LIENTHONG_TEST_PASSPHRASE", "secret")
    assert by_name(await run_checks(config.data_dir))["identity key"].status == OK


async def test_a_web_page_beyond_the_loopback_without_tls_in_front_is_a_warning_with_the_fix(
    tmp_path: Path,
):
    """node.web on 0.0.0.0 (or a LAN address) without web.behind_tls_proxy: a warning that
    names the exposure and the fix (loopback + a TLS reverse proxy, OPERATIONS.md); behind a
    proxy without allowed host names: a warning too; loopback, or a proxy with its name: ok."""
    config, _ = make_unit_dir(tmp_path)
    for bound in ("0.0.0.0:18080", "192.168.1.10:18080", "[::]:18080"):
        set_values(config, "node", web=bound)
        check = by_name(await run_checks(config.data_dir))["web page"]
        assert check.status == WARN, bound
        assert "plain HTTP" in check.finding and bound in check.finding
        assert "Reverse proxy (nginx)" in check.fix and "web.behind_tls_proxy" in check.fix
    printed = render(await run_checks(config.data_dir))
    assert "[WARN] web page" in printed and "fix: bind it to the loopback" in printed
    set_values(config, "web", behind_tls_proxy=True)
    check = by_name(await run_checks(config.data_dir))["web page"]
    assert check.status == WARN and "allowed_hosts is empty" in check.finding
    config = cfg.load_config(config.data_dir)
    set_values(config, "web", allowed_hosts=["vanban.sct.tayninh.gov.vn"])
    assert by_name(await run_checks(config.data_dir))["web page"].status == OK
    config = cfg.load_config(config.data_dir)
    set_values(config, "node", web="127.0.0.1:18080")
    config = cfg.load_config(config.data_dir)
    set_values(config, "web", behind_tls_proxy=False, allowed_hosts=[])
    assert by_name(await run_checks(config.data_dir))["web page"].status == OK
