"""Two centre workers (`lienthong run` processes) on one PostgreSQL database behind a TCP
load balancer: units enrol, send and collect through whichever worker a connection reaches,
and a worker killed with kill -9 mid-batch loses nothing and doubles nothing."""

from __future__ import annotations

import contextlib
import itertools
import shutil
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.pg import PgServer, pg_server  # noqa: F401 - the session's server, used by name
from tests.system.harness import (
    NodeProcess,
    free_port,
    lienthong,
    lienthong_json,
    set_config,
    wait_until,
)
from tests.system.test_faults import bulk, states

pytestmark = pytest.mark.system

A, B = "000.00.02.H53", "000.00.03.H53"
NAMES = {A: "VP UBND tỉnh Tây Ninh", B: "Sở Nội vụ"}
BATCH = 60


class Balancer:
    """A TCP load balancer on 127.0.0.1: each connection goes to the next backend in turn,
    or to the one after if that one refuses (a dead worker), bytes passed through as they
    are (mutual TLS ends at the worker)."""

    def __init__(self, port: int, backends: list[int]) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.backends = backends
        self.turn = itertools.count()
        self.served: dict[int, int] = dict.fromkeys(backends, 0)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._link, args=(client,), daemon=True).start()

    def _link(self, client: socket.socket) -> None:
        first = next(self.turn)
        for i in range(len(self.backends)):
            port = self.backends[(first + i) % len(self.backends)]
            try:
                backend = socket.create_connection(("127.0.0.1", port))
            except OSError:
                continue
            self.served[port] += 1
            threading.Thread(target=_pump, args=(backend, client), daemon=True).start()
            _pump(client, backend)
            return
        client.close()

    def close(self) -> None:
        self.server.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, target):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def _together(steps: Iterable[Callable[[], object]]) -> None:
    """Run independent slow steps (process starts) at the same time; re-raise a failure."""
    with ThreadPoolExecutor() as pool:
        for done in [pool.submit(step) for step in steps]:
            done.result()


class Centre:
    def __init__(self, root: Path, database: str) -> None:
        self.lb_port = free_port()
        self.url = f"https://127.0.0.1:{self.lb_port}"
        first = root / "worker-1"
        created = lienthong_json(
            "centre", "init", "--data-dir", str(first), "--name", "Trung tâm CNTT-TT Tây Ninh",
            "--listen", f"127.0.0.1:{free_port()}", "--public-url", self.url,
            "--database", database,
        )  # fmt: skip
        self.fingerprint = created["fingerprint"]
        shared = root / "blobs"  # the shared filesystem every worker mounts as blobs/
        shared.mkdir()
        self.workers: list[NodeProcess] = []
        for n in (1, 2):
            data_dir = root / f"worker-{n}"
            if n > 1:
                shutil.copytree(first, data_dir, symlinks=True)
            if not (data_dir / "blobs").is_symlink():  # a copy has the link already
                shutil.rmtree(data_dir / "blobs", ignore_errors=True)
                (data_dir / "blobs").symlink_to(shared)
            port = free_port()
            set_config(data_dir, "node", "listen", f"127.0.0.1:{port}")
            set_config(data_dir, "node", "web", f"127.0.0.1:{free_port()}")
            self.workers.append(NodeProcess(f"worker-{n}", data_dir, port, root / f"w{n}.log"))
        _together(worker.start for worker in self.workers)
        self.balancer = Balancer(self.lb_port, [w.port for w in self.workers])

    def add_unit(self, root: Path, code: str, name: str) -> NodeProcess:
        data_dir = root / code
        port = free_port()
        lienthong(
            "init", "--data-dir", str(data_dir), "--code", code, "--name", name,
            "--listen", f"127.0.0.1:{port}", "--web", f"127.0.0.1:{free_port()}",
            "--unreachable",
        )  # fmt: skip
        centre_dir = str(self.workers[1].data_dir)  # a command on the other worker's machine
        token = lienthong_json(
            "centre", "add-unit", "--data-dir", centre_dir, "--code", code, "--name", name
        )["token"]
        lienthong(
            "enrol", "--data-dir", str(data_dir), "--centre", self.url,
            "--fingerprint", self.fingerprint, "--token", token,
        )  # fmt: skip
        # A unit enrolled first learns of the later one from its next fetch: soon, here.
        set_config(data_dir, "federation", "directory_refresh_seconds", 2)
        return NodeProcess(code, data_dir, port, root / f"{code}.log")

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.balancer.close()


@pytest.fixture
def centre(tmp_path: Path, pg_server: PgServer) -> Iterator[tuple[Centre, PgServer, str]]:  # noqa: F811
    database = pg_server.new_database()
    made = Centre(tmp_path, database)
    try:
        yield made, pg_server, database.rsplit("/", 1)[1]
    finally:
        made.close()


def test_kill_9_of_a_worker_mid_batch_loses_nothing_and_doubles_nothing(centre, tmp_path):
    """A sends 60 letters to B, both behind NAT (all through the relay); worker 1 is killed
    once B has some: every letter arrives exactly once, every 01 comes back, both workers
    served connections, and the relay's mailboxes end empty."""
    made, server, name = centre
    with ThreadPoolExecutor() as pool:  # two technicians at once
        enrolled = [pool.submit(made.add_unit, tmp_path, c, n) for c, n in NAMES.items()]
        a, b = units = tuple(done.result() for done in enrolled)
    try:
        _together(unit.start for unit in units)

        def listed() -> set[str]:
            shown = lienthong_json("directory", "show", "--data-dir", str(a.data_dir))
            return {unit["code"] for unit in shown["units"]}

        wait_until(lambda: B in listed(), timeout=60, every=0.5, what="B in A's directory")
        ids = set(bulk("send", str(a.data_dir), "--to", B, "--count", str(BATCH)))
        assert len(ids) == BATCH

        def inbox() -> list[str]:
            found = lienthong_json("inbox", "--data-dir", str(b.data_dir), "--all")["items"]
            return [d["id"] for d in found]

        wait_until(lambda: len(inbox()) >= 5, timeout=120, every=0.5, what="B's first letters")
        made.workers[0].kill()
        wait_until(
            lambda: (
                (s := states(a.data_dir, ids))
                and len(s) == BATCH
                and all(v == "arrived" for v in s.values())
            ),
            timeout=240,
            every=2,
            what="01 for all letters at the sender",
        )
        assert sorted(inbox()) == sorted(ids)  # each exactly once
        assert all(made.balancer.served.values()), made.balancer.served
        # A unit acknowledges what it pulled after applying it, and an item a dead worker
        # offered shows again after REOFFER_SECONDS: the mailboxes empty soon after.
        wait_until(
            lambda: server.sql("SELECT count(*) FROM relay_mailbox", name).strip() == "0",
            timeout=120,
            every=1,
            what="the relay's mailboxes empty",
        )
        assert sorted(inbox()) == sorted(ids)  # still each exactly once
        lienthong("audit", "verify", "--data-dir", str(b.data_dir))
    finally:
        for unit in units:
            unit.stop()
