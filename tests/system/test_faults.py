"""Faults with real processes: kill -9 of sender, recipient and relay mid-batch; outages."""

import json
import subprocess
import sys
import time

import pytest

from tests.system.harness import Federation, lienthong, lienthong_json, wait_until

pytestmark = pytest.mark.system

A, B = "000.00.02.H53", "000.00.03.H53"
BATCH = 500


def bulk(*args: str):
    out = subprocess.run(
        [sys.executable, "-m", "tests.system.bulk", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(out.stdout)


def states(data_dir, ids) -> dict[str, str]:
    """Per envelope id, A's delivery state towards B."""
    found = {}
    for doc in lienthong_json("outbox", "--data-dir", str(data_dir), "--all")["items"]:
        if doc["id"] in ids:
            found[doc["id"]] = doc["recipients"][0]["state"]
    return found


@pytest.fixture
def federation(tmp_path):
    fed = Federation(tmp_path)
    yield fed
    fed.close()


def test_kill_9_everywhere_during_a_batch_of_500(federation):
    """Sender, recipient and relay each killed mid-batch: all 500 arrive once, 01 for all."""
    a = federation.add_unit(A, "VP UBND tỉnh Tây Ninh")
    b = federation.add_unit(B, "Sở Nội vụ")
    federation.start()
    ids = set(bulk("send", str(a.data_dir), "--to", B, "--count", str(BATCH)))
    assert len(ids) == BATCH
    time.sleep(0.5)  # let delivery get going before the first kill
    b.kill()
    time.sleep(1.0)
    a.kill()
    federation.nodes["centre"].kill()
    b.start()
    a.start()
    time.sleep(1.0)
    b.kill()
    federation.nodes["centre"].start()
    b.start()
    wait_until(
        lambda: (
            (s := states(a.data_dir, ids))
            and all(v == "arrived" for v in s.values())
            and len(s) == BATCH
        ),
        timeout=240,
        every=2,
        what="01 for all 500 at the sender",
    )
    inbox = lienthong_json("inbox", "--data-dir", str(b.data_dir), "--all")["items"]
    assert sorted(d["id"] for d in inbox) == sorted(ids)  # each exactly once
    numbers = bulk("accept-all", str(b.data_dir))
    assert sorted(numbers.values()) == list(range(1, BATCH + 1))  # no gap, no duplicate
    assert bulk("accept-all", str(b.data_dir)) == {}  # nothing left to register twice
    for node in (a, b):
        lienthong("audit", "verify", "--data-dir", str(node.data_dir))


def test_recipient_and_relay_down_then_back(federation):
    """B and the relay both down: queued at A; the relay returns first and carries it to B."""
    a = federation.add_unit(A, "VP UBND tỉnh Tây Ninh")
    b = federation.add_unit(B, "Sở Nội vụ")
    federation.start()
    b.stop()
    federation.nodes["centre"].stop()
    ids = set(bulk("send", str(a.data_dir), "--to", B, "--count", "3"))
    wait_until(
        lambda: any(
            r["last_error"]
            for d in lienthong_json("outbox", "--data-dir", str(a.data_dir))["items"]
            for r in d["recipients"]
        ),
        what="a failed attempt recorded while everything is down",
    )
    assert set(states(a.data_dir, ids).values()) == {"queued"}
    federation.nodes["centre"].start()
    wait_until(
        lambda: set(states(a.data_dir, ids).values()) == {"relayed"},
        timeout=120,
        what="deposit once the relay is back",
    )
    b.start()
    wait_until(
        lambda: set(states(a.data_dir, ids).values()) == {"arrived"},
        timeout=120,
        what="01 once B is back",
    )
