"""The envelope versions a unit's report declares (docs/PROTOCOL.md 15): none beyond version 1
while the unit holds a form-1 directory (a version-1 centre would refuse the field), all it
reads once it holds form 2 (its centre signs form 2, so it reads the field)."""

from __future__ import annotations

from lienthong.node.unit.report import build_report
from lienthong.protocol.directory import issue_directory, verify_directory
from lienthong.protocol.envelope import ENVELOPE_VERSIONS
from lienthong.protocol.report import verify_report
from lienthong.protocol.wire import unpack, unwrap
from tests.node.helpers import DAY
from tests.node.tls_federation import CENTRE, A, B, C, federation


def signed_map(raw: bytes) -> dict:
    return unpack(unwrap(raw, what="report", max_bytes=1 << 16).signed, what="r", max_bytes=1 << 16)


async def test_a_unit_declares_what_it_reads_once_it_holds_form_2(tmp_path):
    """Holding form 1, A's report has no `protocols` (it reads as (1,)); holding form 2 of a
    newer version, it declares ENVELOPE_VERSIONS, and the centre's verifier reads (1, 2)."""
    async with federation(tmp_path) as fed:
        unit = fed.units[A].ctx
        assert unit.directory.current.form == 1
        raw = await build_report(unit)
        assert "protocols" not in signed_map(raw)
        assert verify_report(raw, fed.centre.directory.key_lookup).report.protocols == (1,)
        held = unit.directory.current
        now = fed.clock()
        form_2 = verify_directory(
            issue_directory(
                fed.root,
                version=held.version + 1,
                issued_at=now,
                expires_at=now + 30 * DAY,
                centre_name=held.centre_name,
                centre_url=held.centre_url,
                certificates=[fed.certificates[c] for c in (CENTRE, A, B, C)],
                relays=held.relays,
                protocols={},
            ),
            fed.root.sign_public,
            now=now,
        )
        unit.directory.current = form_2  # type: ignore[misc]
        raw = await build_report(unit)
        assert signed_map(raw)["protocols"] == list(ENVELOPE_VERSIONS) == [1, 2]
        report = verify_report(raw, fed.centre.directory.key_lookup).report
        assert report.protocols == (1, 2) and report.sender == A
