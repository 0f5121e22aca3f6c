"""The cache of signed directories (the newest is in force, versions never go back; at the
centre both forms of each version) and the archive of every certificate they listed."""

from collections.abc import Iterable
from dataclasses import dataclass

from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import Conflict, RollbackRefused

# Versions kept: the one in force and a few before it, for diagnosis.
DIRECTORIES_KEPT = 3


@dataclass(frozen=True)
class CachedDirectory:
    version: int
    raw: bytes  # the signed directory exactly as received (at the centre: its form 1)
    issued_at: int
    expires_at: int
    fetched_at: int
    form2: bytes | None = None  # at the centre: the same version in form 2; units keep none


async def save_directory(
    tx: Tx,
    version: int,
    raw: bytes,
    issued_at: int,
    expires_at: int,
    fetched_at: int,
    *,
    form2: bytes | None = None,
    replaces: bytes | None = None,
) -> None:
    """Cache a verified directory (and, at the centre, the same version in form 2).

    RollbackRefused if a newer version is cached. The same version again only refreshes
    fetched_at; with other bytes it is a Conflict, unless `replaces` names the bytes held:
    the caller has verified that the new bytes are the same version in a form it prefers
    (bootstrap/directory.py: form 2 replacing form 1).
    """
    row = await tx.fetchone(
        "SELECT version, raw FROM directory_cache ORDER BY version DESC LIMIT 1"
    )
    if row is not None and version < row[0]:
        raise RollbackRefused(
            f"directory version {version} is older than the cached version {row[0]}"
        )
    if row is not None and version == row[0]:
        held = bytes(row[1])
        if held != raw and (replaces is None or held != replaces):
            raise Conflict(f"directory version {version} is cached with different bytes")
        await tx.execute(
            "UPDATE directory_cache SET raw = ?, fetched_at = ? WHERE version = ?",
            (raw, fetched_at, version),
        )
        return
    await tx.execute(
        "INSERT INTO directory_cache (version, raw, issued_at, expires_at, fetched_at, form2)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (version, raw, issued_at, expires_at, fetched_at, form2),
    )
    await tx.execute(
        "DELETE FROM directory_cache WHERE version NOT IN"
        " (SELECT version FROM directory_cache ORDER BY version DESC LIMIT ?)",
        (DIRECTORIES_KEPT,),
    )


async def latest_directory(conn: Queryable) -> CachedDirectory | None:
    row = await conn.fetchone(
        "SELECT version, raw, issued_at, expires_at, fetched_at, form2 FROM directory_cache"
        " ORDER BY version DESC LIMIT 1"
    )
    if row is None:
        return None
    form2 = None if row[5] is None else bytes(row[5])
    return CachedDirectory(row[0], bytes(row[1]), row[2], row[3], row[4], form2)


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
