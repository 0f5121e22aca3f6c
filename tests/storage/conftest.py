"""Fixtures of the storage tests: a store in tmp_path with a clock the test moves."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from lienthong.storage.db import Store
from lienthong.storage.documents import DocumentRecord


class FakeClock:
    def __init__(self, now: int = 1_700_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "store.sqlite3", clock=clock) as opened:
        yield opened


def _ulid(n: int) -> str:
    return f"01J{n:023d}"


@pytest.fixture
def make_doc() -> Callable[..., DocumentRecord]:
    """A factory of documents numbered n, incoming unless direction='out'."""

    def make(n: int, **overrides: object) -> DocumentRecord:
        fields: dict[str, object] = {
            "id": _ulid(n),
            "direction": "in",
            "sender_code": "000.00.05.H53",
            "doc_type": "Công văn",
            "subject": f"V/v triển khai liên thông phần mềm số {n}",
            "issuer_code": "000.00.05.H53",
            "issuer_name": "Văn phòng UBND tỉnh Tây Ninh",
            "issued_on": "2014-05-23",
            "metadata": b"\x81\xa1n" + n.to_bytes(4, "big"),
            "number": n,
            "notation": "VP-TTTH",
        }
        fields.update(overrides)
        return DocumentRecord(**fields)  # type: ignore[arg-type]

    return make
