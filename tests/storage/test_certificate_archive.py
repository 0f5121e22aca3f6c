"""The certificate archive: what accepted directories listed stays, revocations stick."""

from lienthong.storage.directory import archive_certificates, archived_certificate


async def test_a_certificate_stays_after_later_directories_drop_it(store):
    """Kept once seen; a later directory without it changes nothing; unknown serials are None."""
    async with store.write() as tx:
        await archive_certificates(tx, [(1, "000.00.02.H53", b"cert-1")], revoked=[])
    async with store.write() as tx:
        await archive_certificates(tx, [(2, "000.00.02.H53", b"cert-2")], revoked=[])
    async with store.read() as conn:
        assert await archived_certificate(conn, 1) == (b"cert-1", False)
        assert await archived_certificate(conn, 2) == (b"cert-2", False)
        assert await archived_certificate(conn, 3) is None


async def test_a_revocation_is_never_undone_and_bytes_never_rewritten(store):
    """Once a directory lists a serial as revoked it stays revoked, whatever comes later."""
    async with store.write() as tx:
        await archive_certificates(tx, [(5, "000.00.03.H53", b"original")], revoked=[5])
    async with store.write() as tx:
        await archive_certificates(tx, [(5, "000.00.03.H53", b"other bytes")], revoked=[])
    async with store.read() as conn:
        assert await archived_certificate(conn, 5) == (b"original", True)
