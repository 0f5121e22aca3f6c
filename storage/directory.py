"""The cache of signed directories (the newest is in force, versions never go back) and the
archive of every certificate they listed."""

from collections.abc import Iterable
from dataclasses import dataclass

from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import Conflict, RollbackRefused

# Versions kept: the one in force and a few before it, for diagnosis.
DIRECTORIES_KEPT = 3


@dataclass(frozen=True)
class CachedDirectory:
    version: int
    raw: bytes  # the signed directory exactly as received
    issued_at: int
    expires_at: int
    fetched_at: int


async def save_directory(
    tx: Tx, version: int, raw: bytes, issued_at: int, expires_at: int, fetched_at: int
) -> None:
    """Cache a verified directory. RollbackRefused if a newer version is cached; the
    same version again only refreshes fetched_at (Conflict if its bytes differ)."""
    row = await tx.fetchone(
        "SELECT version, raw FROM directory_cache ORDER BY version DESC LIMIT 1"
    )
    if row is not None and version < row[0]:
        raise RollbackRefused(
            f"directory version {version} is older than the cached version {row[0]}"
        )
    if row is not None and version == row[0]:
        if bytes(row[1]) != raw:
            raise Conflict(f"directory version {version} is cached with different bytes")
        await tx.execute(
            "UPDATE directory_cache SET fetched_at = ? WHERE version = ?", (fetched_at, version)
        )
        return
    await tx.execute(
        "INSERT INTO directory_cache (version, raw, issued_at, expires_at, fetched_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (version, raw, issued_at, expires_at, fetched_at),
    )
    await tx.execute(
        "DELETE FROM directory_cache WHERE version NOT IN"
        " (SELECT version FROM directory_cache ORDER BY version DESC LIMIT ?)",
        (DIRECTORIES_KEPT,),
    )


async def latest_directory(conn: Queryable) -> CachedDirectory | None:
    row = await conn.fetchone(
        "SELECT version, raw, issued_at, expires_at, fetched_at FROM directory_cache"
        " ORDER BY version DESC LIMIT 1"
    )
    if row is None:
        return None
    return CachedDirectory(row[0], bytes(row[1]), row[2], row[3], row[4])


async def archive_certificates(
    tx: Tx, certificates: Iterable[tuple[int, str, bytes]], revoked: Iterable[int]
) -> None:
    """Keep (serial, code, raw) of each certificate of an accepted directory, and mark the
    revoked serials; a certificate already kept is not rewritten, a revocation never undone."""
    await tx.executemany(
        "INSERT OR IGNORE INTO certificate_archive (serial, code, raw) VALUES (?, ?, ?)",
        list(certificates),
    )
    await tx.executemany(
        "UPDATE certificate_archive SET revoked = 1 WHERE serial = ?", [(s,) for s in revoked]
    )


async def archived_certificate(conn: Queryable, serial: int) -> tuple[bytes, bool] | None:
    """The raw certificate kept under `serial` and whether it was revoked; None if never seen."""
    row = await conn.fetchone(
        "SELECT raw, revoked FROM certificate_archive WHERE serial = ?", (serial,)
    )
    return None if row is None else (bytes(row[0]), bool(row[1]))
