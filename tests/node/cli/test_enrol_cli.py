"""`lienthong enrol` as a technician meets it: the token from a file, standard input or the
environment (never required on the command line), and every failure with its fix."""

import os
import socket

from tests.node.cli.test_cli import run

CODE = "000.00.05.H53"
FP = "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567"
TOKEN = "3f9a0c7e21.MFRGGZDFMZTWQ2LKMFRGGZDFMZTWQ2LK"


def node(tmp_path):
    data_dir = tmp_path / "unit"
    result = run("init", "--data-dir", str(data_dir), "--code", CODE, "--name", "Sở Tư pháp")
    assert result.returncode == 0, result.stderr
    return data_dir


def dead_centre() -> str:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return f"https://127.0.0.1:{s.getsockname()[1]}"


def enrol(data_dir, *extra, **kw):
    return run(
        "enrol",
        "--data-dir",
        str(data_dir),
        "--centre",
        dead_centre(),
        "--fingerprint",
        FP,
        *extra,
        **kw,
    )


def test_an_unreachable_centre_is_one_message_with_its_fix(tmp_path):
    """No traceback, no raw aiohttp class: what failed and what to check."""
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    result = enrol(node(tmp_path), "--token-file", str(token))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "fix: check the centre URL" in result.stderr


def test_the_token_comes_from_stdin_or_the_environment(tmp_path):
    """--token-file - reads standard input; $LIENTHONG_ENROL_TOKEN works with no option: both
    get as far as the centre (unreachable here), not to a "token missing" error."""
    data_dir = node(tmp_path)
    piped = enrol(data_dir, "--token-file", "-", input=TOKEN + "\n")
    from_env = enrol(data_dir, env={**os.environ, "LIENTHONG_ENROL_TOKEN": TOKEN})
    for result in (piped, from_env):
        assert result.returncode == 1 and "fix: check the centre URL" in result.stderr


def test_a_missing_token_names_every_way_to_give_it(tmp_path):
    """Without any token the error lists --token-file, standard input and the variable."""
    env = {k: v for k, v in os.environ.items() if k != "LIENTHONG_ENROL_TOKEN"}
    result = enrol(node(tmp_path), env=env)
    assert result.returncode == 1
    assert "--token-file" in result.stderr and "LIENTHONG_ENROL_TOKEN" in result.stderr


def test_a_token_given_twice_is_refused(tmp_path):
    token = tmp_path / "token"
    token.write_text(TOKEN, encoding="utf-8")
    result = enrol(node(tmp_path), "--token", TOKEN, "--token-file", str(token))
    assert result.returncode == 1 and "not both" in result.stderr
