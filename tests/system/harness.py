"""Real federations for system tests: `lienthong` processes, real TLS, real SQLite, 127.0.0.1.

Every unit is created and enrolled through the same commands a technician
types (init, centre add-unit, enrol) and runs as `lienthong run` in its own
process, so kill -9 and restarts are real.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.node.running import free_port

READY_TIMEOUT = 60.0  # seconds for a node to print that it is running (2 slow cores)
COMMAND_TIMEOUT = 120.0

# (node name, port it listens on) -> the URL other nodes are told to use for it, e.g. a
# proxy in front of it (tests/system/proxy.py). "centre" names the centre.
Advertise = Callable[[str, int], str]


COMPAT = Path(__file__).parent.parent / "compat"
# Runs the CLI of an unpacked earlier release: the editable install's import hook, which
# would find this checkout's lienthong first, is taken off sys.meta_path.
_RELEASE_BOOT = (
    "import sys; "
    "sys.meta_path[:] = [f for f in sys.meta_path "
    "if not type(f).__module__.startswith('__editable__')]; "
    "sys.path.insert(0, sys.argv.pop(1)); "
    "from lienthong.node.cli.main import main; sys.exit(main())"
)


def unpack_release(wheel: str, into: Path) -> Path:
    """Unpack tests/compat/`wheel` (an earlier release) into `into`; return the folder."""
    folder = into / wheel.removesuffix(".whl")
    if not folder.exists():
        with zipfile.ZipFile(COMPAT / wheel) as archive:
            archive.extractall(folder)
    return folder


def command(release: Path | None = None) -> list[str]:
    """The command line of `lienthong`: this checkout's, or an unpacked earlier release's."""
    if release is None:
        return [sys.executable, "-m", "lienthong.node.cli"]
    return [sys.executable, "-c", _RELEASE_BOOT, str(release)]


def lienthong(
    *args: str,
    check: bool = True,
    env: dict[str, str] | None = None,
    release: Path | None = None,
):
    """Run one CLI command in a fresh process; raises with its stderr if it fails."""
    result = subprocess.run(
        [*command(release), *args],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"lienthong {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
        )
    return result


def lienthong_json(*args: str, release: Path | None = None) -> Any:
    return json.loads(lienthong(*args, "--json", release=release).stdout)


def set_config(data_dir: Path, section: str, key: str, value: Any) -> None:
    """Change one key of DATA_DIR/node.toml, as a technician would with an editor."""
    path = Path(data_dir) / "node.toml"
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"(\[{section}\][^\[]*?\n){key} = [^\n]*", re.S)
    assert pattern.search(text), f"{section}.{key} not in {path}"
    literal = json.dumps(value)  # TOML writes strings, integers and booleans alike
    path.write_text(
        pattern.sub(lambda m: f"{m.group(1)}{key} = {literal}", text, count=1), encoding="utf-8"
    )


@dataclass
class NodeProcess:
    name: str
    data_dir: Path
    port: int
    log: Path
    process: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)
    release: Path | None = None  # an unpacked earlier release (unpack_release), else this one

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, f"{self.name} runs"
        self.lines.clear()
        log = self.log.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            [*command(self.release), "run", "--data-dir", str(self.data_dir)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        ready = threading.Event()

        def read(stream=self.process.stdout) -> None:
            for line in stream:
                self.lines.append(line)
                log.write(line)
                log.flush()
                if "running" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(READY_TIMEOUT) or self.process.poll() is not None:
            raise AssertionError(f"{self.name} did not start; see {self.log}")

    def stop(self) -> int:
        """SIGTERM and wait: a clean stop."""
        if self.process is None or self.process.poll() is not None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        """kill -9: the node gets no chance to tidy up."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


class Federation:
    """A centre and units in one temporary directory, each a real data directory.

    With `advertise`, each node publishes the URL it returns (the centre's URL, and so
    the relay's, and each reachable unit's directory endpoint) instead of its own port.
    """

    def __init__(
        self,
        root: Path,
        *,
        centre_name: str = "Trung tâm CNTT-TT Tây Ninh",
        advertise: Advertise | None = None,
    ) -> None:
        self.root = root
        self.advertise = advertise
        self.nodes: dict[str, NodeProcess] = {}
        port = free_port()
        self.centre_dir = root / "centre"
        public = ["--public-url", advertise("centre", port)] if advertise else []
        created = lienthong_json(
            "centre",
            "init",
            "--data-dir",
            str(self.centre_dir),
            "--name",
            centre_name,
            "--listen",
            f"127.0.0.1:{port}",
            *public,
        )
        self.centre_url = created["url"]
        self.fingerprint = created["fingerprint"]
        self.nodes["centre"] = NodeProcess("centre", self.centre_dir, port, root / "centre.log")
        self.nodes["centre"].start()  # units enrol online against the running centre

    def add_unit(
        self,
        code: str,
        name: str,
        *,
        reachable: bool = True,
        enrol: bool = True,
        release: Path | None = None,
    ):
        """Init (and enrol) a unit; `release` runs it as that earlier release."""
        port = free_port()
        data_dir = self.root / code
        args = [
            "init",
            "--data-dir",
            str(data_dir),
            "--code",
            code,
            "--name",
            name,
            "--listen",
            f"127.0.0.1:{port}",
            "--web",
            f"127.0.0.1:{free_port()}",
        ]
        if not reachable:
            args.append("--unreachable")
        lienthong(*args, release=release)
        if self.advertise is not None and reachable:  # before enrolment publishes it
            set_config(data_dir, "node", "public_url", self.advertise(code, port))
        node = NodeProcess(code, data_dir, port, self.root / f"{code}.log", release=release)
        self.nodes[code] = node
        if enrol:
            token = lienthong_json(
                "centre",
                "add-unit",
                "--data-dir",
                str(self.centre_dir),
                "--code",
                code,
                "--name",
                name,
            )["token"]
            lienthong(
                "enrol",
                "--data-dir",
                str(data_dir),
                "--centre",
                self.centre_url,
                "--fingerprint",
                self.fingerprint,
                "--token",
                token,
                release=release,
            )
        return node

    def start(self, *names: str) -> None:
        """Start the named nodes (default: every node not running yet)."""
        for name in names or tuple(self.nodes):
            node = self.nodes[name]
            if node.process is None or node.process.poll() is not None:
                node.start()

    def close(self) -> None:
        for node in self.nodes.values():
            node.stop()


def wait_until(
    check: Callable[[], Any], *, timeout: float = 60.0, every: float = 0.2, what: str = "condition"
) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
