"""lienthong is not tied to POSIX: what can be proved of Windows on this Linux machine.

No module imports a POSIX-only module but the portable helpers (and they behind a guard);
every file of text is read and written as UTF-8, named; and in a Python where fcntl, pwd,
grp, termios and resource cannot be imported and the locale's encoding is ASCII (as cp1258
on a Vietnamese Windows cannot hold every letter), every module of lienthong imports,
`lienthong --help` prints its Vietnamese, and a set of unit tests passes. What was not run
(no Windows CPython can be had here) is in docs/WINDOWS.md.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lienthong.crypto import files
from lienthong.node import platform

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bootstrap", "crypto", "node", "protocol", "storage")
# Modules Windows' Python does not have (and the Windows-only ones POSIX lacks).
POSIX_ONLY = {"fcntl", "pwd", "grp", "termios", "tty", "pty", "resource", "posix", "syslog"}
POSIX_ONLY |= {"crypt", "spwd", "nis", "_posixsubprocess", "readline"}
WINDOWS_ONLY = {"msvcrt", "winreg", "_winapi", "winsound", "nt", "_overlapped"}
# The portable helpers, and the platform modules each may import (never at top level
# unguarded: inside an `if`, a `try` or a function).
HELPERS = {
    "storage/filelock.py": {"fcntl", "msvcrt", "_winapi"},
    "node/platform.py": {"resource"},
    "crypto/files.py": {"msvcrt"},
}
# What the lane blocks, as Windows lacks them (the brief of the issue, plus their kin).
BLOCKED = ("fcntl", "pwd", "grp", "termios", "resource", "tty", "pty", "syslog")
# Unit tests run in the lane: pure ones, and those of the files and helpers touched for
# Windows (keys, blobs without fcntl, doctor's checks, the command line's output).
LANE_TESTS = (
    "tests/crypto",
    "tests/protocol/test_status.py",
    "tests/storage/test_db.py",
    "tests/protocol/test_envelope.py",
    "tests/node/cli/test_doctor.py",
    "tests/test_portability.py::test_platform_helpers_work_on_this_platform",
    "tests/test_portability.py::test_a_blob_upload_is_locked_by_the_portable_helper",
)


def python_files() -> list[Path]:
    return sorted(p for top in (*PACKAGES, "bench") for p in (ROOT / top).rglob("*.py"))


def _top_level_imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _all_imports(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_imports_a_platform_only_module_but_the_helpers():
    """fcntl, resource, msvcrt and their kin are imported only by storage/filelock.py,
    node/platform.py and crypto/files.py, each only the ones it is allowed and never at
    module level unguarded: importing lienthong never fails for lack of them."""
    offenders = []
    for path in sorted(p for top in PACKAGES for p in (ROOT / top).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text("utf-8"), filename=rel)
        platform_only = _all_imports(tree) & (POSIX_ONLY | WINDOWS_ONLY)
        allowed = HELPERS.get(rel, set())
        offenders += [f"{rel}: {name}" for name in sorted(platform_only - allowed)]
        offenders += [
            f"{rel}: {name} at module level, unguarded"
            for name in sorted(_top_level_imports(tree) & (POSIX_ONLY | WINDOWS_ONLY))
        ]
    assert offenders == []


def test_the_import_rule_sees_an_offence():
    """The check above is not vacuous: a module importing fcntl at its top is seen."""
    tree = ast.parse(
        "import os\nimport fcntl\ntry:\n    import msvcrt\nexcept ImportError:\n    pass\n"
    )
    assert _all_imports(tree) & POSIX_ONLY == {"fcntl"}
    assert _top_level_imports(tree) & (POSIX_ONLY | WINDOWS_ONLY) == {"fcntl"}


def _text_mode(mode: ast.expr | None) -> bool | None:
    """Whether an open mode is text (True), binary (False) or unknown (None)."""
    if mode is None:
        return True
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return "b" not in mode.value
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def unnamed_encodings(source: str) -> list[int]:
    """Lines of calls that read or write text in the locale's encoding: read_text and
    write_text, open/Path.open/os.fdopen in text mode, subprocess with text=True, and
    io.TextIOWrapper, each without an encoding."""
    lines = []
    for call in ast.walk(ast.parse(source)):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        has = _keyword(call, "encoding") is not None
        args = call.args
        if name == "read_text":
            bad = not has and not args
        elif name == "write_text":
            bad = not has and len(args) < 2
        elif (name == "open" and isinstance(func, ast.Name)) or name == "fdopen":
            mode = args[1] if len(args) > 1 else _keyword(call, "mode")
            bad = not has and len(args) < 4 and _text_mode(mode) is True
        elif name == "open" and isinstance(func, ast.Attribute):
            # Path.open(mode): a literal mode first, or no argument at all (Store.open,
            # tarfile.open and the like take other arguments).
            mode = args[0] if args else None
            literal = (not args and not call.keywords) or (
                isinstance(mode, ast.Constant) and isinstance(mode.value, str)
            )
            bad = literal and not has and len(args) < 3 and _text_mode(mode) is True
        elif name in ("run", "Popen", "check_output", "check_call"):
            text = _keyword(call, "text") or _keyword(call, "universal_newlines")
            bad = isinstance(text, ast.Constant) and text.value is True and not has
        elif name == "TextIOWrapper":
            bad = not has and len(args) < 2
        else:
            bad = False
        if bad:
            lines.append(call.lineno)
    return lines


def test_every_text_file_is_read_and_written_as_utf8():
    """No read_text(), write_text(), open() in text mode or text subprocess without its
    encoding, in the packages and bench/: on Windows the default is the code page (cp1258
    here), which cannot hold every Vietnamese letter, and reads UTF-8 files wrongly."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in python_files()
        for line in unnamed_encodings(path.read_text("utf-8"))
    ]
    assert offenders == []


def test_the_encoding_rule_sees_each_kind_of_offence():
    """Each kind the rule knows is caught, and its well-formed twin is not."""
    bad = [
        "p.read_text()",
        "p.write_text(s)",
        "open(p)",
        "open(p, 'w')",
        "p.open()",
        "p.open('a')",
        "os.fdopen(fd, 'w')",
        "subprocess.run(a, text=True)",
        "io.TextIOWrapper(b)",
    ]
    good = [
        "p.read_text('utf-8')",
        "p.write_text(s, encoding='utf-8')",
        "open(p, 'rb')",
        "open(p, 'w', encoding='utf-8')",
        "p.open('rb')",
        "p.open('a', encoding='utf-8')",
        "Store.open(path)",
        "tarfile.open(archive, 'r:')",
        "subprocess.run(a, text=True, encoding='utf-8')",
        "subprocess.run(a)",
    ]
    assert [unnamed_encodings(code) for code in bad] == [[1]] * len(bad)
    assert [unnamed_encodings(code) for code in good] == [[]] * len(good)


# -- the lane: a Python without the POSIX-only modules, in an ASCII locale -------------------

SITECUSTOMIZE = """
    '''Make this Python look like Windows' where that is safe: the POSIX-only modules
    cannot be imported (by anyone, as there).'''
    import sys

    BLOCKED = {blocked!r}

    class _Windowsish:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"No module named {{name!r}} (blocked: as on Windows)", name=name)
            return None

    for _name in list(sys.modules):
        if _name.split(".")[0] in BLOCKED:
            del sys.modules[_name]
    sys.meta_path.insert(0, _Windowsish())
"""


@pytest.fixture(scope="module")
def lane_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of a Python with BLOCKED unimportable and the locale's encoding ASCII:
    no UTF-8 mode, no locale coercion, LC_ALL=C."""
    site = tmp_path_factory.mktemp("windowsish")
    (site / "sitecustomize.py").write_text(
        textwrap.dedent(SITECUSTOMIZE.format(blocked=set(BLOCKED))), encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LC_", "LANG"))}
    env |= {
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
        "PYTHONUTF8": "0",
        "PYTHONCOERCECLOCALE": "0",
        "LC_ALL": "C",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return env


def _lane(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=timeout,
    )


def test_the_lane_is_windowsish(lane_env):
    """In the lane fcntl and resource cannot be imported and text defaults to ASCII: what
    the other lane tests pass is proved without them."""
    probe = (
        "import locale, sys\n"
        "for name in ('fcntl', 'resource', 'termios', 'pwd', 'grp'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError:\n"
        "        print(name, 'missing')\n"
        "print(locale.getpreferredencoding(False), sys.flags.utf8_mode)\n"
    )
    result = _lane(lane_env, "-c", probe)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert out.splitlines() == [
        "fcntl missing",
        "resource missing",
        "termios missing",
        "pwd missing",
        "grp missing",
        "ANSI_X3.4-1968 0",
    ]


def test_every_module_imports_without_the_posix_only_modules(lane_env):
    """Each module under lienthong.* imports in the lane (one process each would take
    minutes: one process imports them all in turn, and names every one that failed)."""
    modules = sorted(
        "lienthong." + ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for top in PACKAGES
        for p in (ROOT / top).rglob("*.py")
        if p.name != "__main__.py"
    )
    probe = (
        "import importlib, sys, traceback\n"
        "failed = []\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except BaseException:\n"
        "        failed.append(name + ': ' + traceback.format_exc(limit=-1).strip())\n"
        "print('\\n'.join(failed) or 'all imported')\n"
        "print('fcntl' in sys.modules, 'resource' in sys.modules)\n"
    )
    result = _lane(lane_env, "-c", probe)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().splitlines() == ["all imported", "False False"]
    assert len(modules) > 100


def test_lienthong_help_prints_vietnamese_on_an_ascii_console(lane_env):
    """`lienthong --help` and `init --help` run in the lane and write UTF-8 (their text
    holds 'Sở Nội vụ'), though the console's encoding is ASCII: the CLI sets its streams."""
    result = _lane(lane_env, "-m", "lienthong.node.cli", "--help")
    assert result.returncode == 0, result.stderr.decode()
    assert b"usage: lienthong" in result.stdout
    result = _lane(lane_env, "-m", "lienthong.node.cli", "init", "--help")
    assert result.returncode == 0, result.stderr.decode()
    assert "Sở Nội vụ" in result.stdout.decode("utf-8")


def test_unit_tests_pass_without_the_posix_only_modules(lane_env, tmp_path):
    """LANE_TESTS pass in the lane: the key files, the blob store and its lock, the store,
    the command line's output and the platform helpers work without fcntl or resource and
    with an ASCII locale."""
    result = _lane(
        lane_env,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--basetemp={tmp_path / 'lane'}",
        *LANE_TESTS,
    )
    out = result.stdout.decode("utf-8", "replace")
    assert result.returncode == 0, out[-4000:] + result.stderr.decode("utf-8", "replace")
    assert " passed" in out and " failed" not in out


# -- the helpers, run here and in the lane ---------------------------------------------------


def test_platform_helpers_work_on_this_platform():
    """The port probe sees a listener as taken and a closed port as free; the open-file limit
    is a positive number; a private file is private (crypto/files.exposure)."""
    import socket
    import tempfile

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert platform.port_is_free("127.0.0.1", port) is not None
    assert platform.port_is_free("127.0.0.1", port) is None
    assert platform.raise_open_files_limit(4096) > 0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "secret"
        with files.create_private(path) as f:
            f.write(b"khoa")
        assert files.exposure(path) is None
        files.sync_directory(Path(folder))


def test_a_blob_upload_is_locked_by_the_portable_helper(tmp_path):
    """A resumable upload being written cannot be taken by a second writer, and is free again
    once the first suspends it: storage/filelock.py, whichever lock the platform has."""
    from lienthong.storage.blobs import BlobStore
    from lienthong.storage.errors import BlobError

    store = BlobStore(tmp_path / "blobs")
    upload = "0" * 32
    first = store.partial(upload)
    first.write(b"phan dau ")
    with pytest.raises(BlobError, match="being written by another request"):
        store.partial(upload)
    first.suspend()
    second = store.partial(upload)
    assert second.size == len(b"phan dau ")
    second.write(b"phan sau")
    assert second.commit().size == len(b"phan dau phan sau")


# -- Windows' text, proved as text ----------------------------------------------------------

USER = "S-1-5-21-1004336348-1177238915-682003330-1001"


def test_a_private_descriptor_lets_nobody_else_in():
    """The descriptor a private file is created with on Windows names only the user, SYSTEM
    and the Administrators, and is protected from inheritance."""
    sddl = files.private_sddl(USER)
    assert sddl == f"O:{USER}D:P(A;;FA;;;{USER})(A;;FA;;;SY)(A;;FA;;;BA)"
    assert files.acl_others(sddl, USER) == []
    assert "(A;OICI;FA;;;SY)" in files.private_sddl(USER, folder=True)


@pytest.mark.parametrize(
    ("sddl", "others"),
    [
        # What Windows gives a file made under C:\ProgramData by a plain open(): Users read.
        (
            f"O:{USER}D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;OICIIOID;GA;;;CO)"
            "(A;ID;0x1200a9;;;BU)(A;ID;0x1301bf;;;BU)",
            ["S-1-5-32-545"],
        ),
        (f"O:{USER}D:P(A;;FA;;;{USER})(A;;FR;;;WD)", ["S-1-1-0"]),
        (f"O:{USER}D:P(A;;FA;;;{USER})(A;;FR;;;S-1-5-21-1-2-3-1002)", ["S-1-5-21-1-2-3-1002"]),
        (f"O:{USER}D:NO_ACCESS_CONTROL", ["S-1-1-0"]),
        (f"O:{USER}", ["S-1-1-0"]),
        # Deny entries and entries only for children let nobody in.
        (f"O:{USER}D:P(A;;FA;;;{USER})(D;;FA;;;WD)(A;OICIIO;FA;;;BU)", []),
        ("O:BAD:P(A;;FA;;;BA)(A;;FA;;;SY)", []),
    ],
)
def test_an_access_list_open_to_others_is_seen(sddl, others):
    """acl_others names every account besides the owner, the user, SYSTEM and the
    Administrators that an access list grants anything (a null list: everyone)."""
    assert files.acl_others(sddl, USER) == others


def test_the_icacls_fix_names_the_owner_and_the_others():
    """The fix for an exposed key on Windows drops inherited entries, grants its owner, and
    removes the named others' grants."""
    fix = files.icacls_fix(
        Path(r"C:\ProgramData\lienthong\keys\identity.key"), ["S-1-5-32-545"], f"O:{USER}D:AI"
    )
    assert fix == (
        r'icacls "C:\ProgramData\lienthong\keys\identity.key" /inheritance:r'
        f" /grant:r *{USER}:F, then: "
        r'icacls "C:\ProgramData\lienthong\keys\identity.key" /remove:g *S-1-5-32-545'
    )


def test_stop_signals_per_platform(monkeypatch):
    """A node stops on SIGTERM and Ctrl-C on POSIX; on Windows on Ctrl-C and Ctrl-Break,
    what a service wrapper sends (SIGTERM there cannot be caught)."""
    import signal

    assert platform.stop_signals() == (signal.SIGTERM, signal.SIGINT)
    monkeypatch.setattr(platform, "WINDOWS", True)
    monkeypatch.setattr(signal, "SIGBREAK", 21, raising=False)
    assert platform.stop_signals() == (signal.SIGINT, 21)


async def test_a_stop_signal_reaches_the_loop_without_add_signal_handler(monkeypatch):
    """Where the loop has no add_signal_handler (Windows' loops raise NotImplementedError),
    a stop signal still sets the event, through signal.signal and the loop's thread-safe
    call; the previous handlers are back after."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()

    def refuse(*_args):
        raise NotImplementedError

    monkeypatch.setattr(loop, "add_signal_handler", refuse)
    before = signal.getsignal(signal.SIGINT)
    stop = asyncio.Event()
    restore = platform.on_stop_signal(stop.set)
    try:
        signal.raise_signal(signal.SIGINT)
        await asyncio.wait_for(stop.wait(), 30)
    finally:
        restore()
    assert stop.is_set() and signal.getsignal(signal.SIGINT) is before


def test_the_console_becomes_utf8(monkeypatch):
    """use_utf8_console turns an ASCII stream into UTF-8 (a cp1258 console the same way)."""
    import io

    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stream)
    platform.use_utf8_console()
    print("Văn thư", end="")
    stream.flush()
    assert stream.buffer.getvalue().decode("utf-8") == "Văn thư"
