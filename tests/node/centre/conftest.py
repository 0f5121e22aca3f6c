"""What the centre's tests share: a fake clock, and a centre made by `centre init` in
tmp_path and opened (a test file may define its own)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from lienthong.node.centre.rules import Centre, open_centre
from lienthong.node.centre.setup import create_centre
from tests.node.centre_support import CENTRE_NAME, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_centre(
    tmp_path: Path, clock: FakeClock
) -> Callable[..., AbstractAsyncContextManager[Centre]]:
    """Create a centre in tmp_path (options as for `centre init`) and open it."""

    @contextlib.asynccontextmanager
    async def make(**options: object) -> AsyncIterator[Centre]:
        data_dir = tmp_path / "centre"
        await create_centre(data_dir, name=CENTRE_NAME, clock=clock, **options)  # type: ignore[arg-type]
        async with open_centre(data_dir, clock=clock) as centre:
            yield centre

    return make
