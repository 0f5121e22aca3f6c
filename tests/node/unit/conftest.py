"""The federation the unit's peer-API tests share: `fed`, a centre and three units A, B, C,
each serving its peer API over mutual TLS (a test file may define its own `fed`)."""

from __future__ import annotations

import pytest

from tests.node.tls_federation import federation


@pytest.fixture
async def fed(tmp_path):
    """A centre and three units A, B, C, each serving its peer API over mutual TLS."""
    async with federation(tmp_path, serve_units=True) as built:
        yield built
