"""The centre's registry in SQL: units (with the envelope versions each reads), enrolment
tokens, issued certificates, renewal requests waiting for approval, counters."""

from dataclasses import dataclass

from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import Conflict, NotFound

SERIAL = "serial"
DIRECTORY_VERSION = "directory_version"


@dataclass(frozen=True)
class UnitRecord:
    code: str
    name: str
    state: str  # deployment state: 'Đã triển khai' or 'Thử nghiệm'
    status: str  # 'pending', 'active' or 'revoked'
    created_at: int
    approved_at: int | None
    enrolled_at: int | None
    revoked_at: int | None
    last_seen: int | None
    serial: int | None = None  # the current (newest unrevoked) certificate
    # Sign key of a request waiting for approval: an enrolment, or (an active unit) a renewal.
    waiting_key: bytes | None = None
    # The envelope versions the unit's newest report declared (docs/PROTOCOL.md 15).
    protocols: tuple[int, ...] = (1,)


@dataclass(frozen=True)
class TokenRecord:
    token_id: str
    code: str
    secret: bytes
    created_at: int
    expires_at: int
    used_at: int | None
    sign_key: bytes | None
    enc_key: bytes | None
    tls_key: bytes | None
    request: bytes | None
    serial: int | None
    cancelled_at: int | None


@dataclass(frozen=True)
class RenewalRecord:
    """A unit's request for a new certificate, authorised by the key of `old_serial`."""

    id: int
    code: str
    old_serial: int
    sign_key: bytes
    enc_key: bytes
    tls_key: bytes
    request: bytes  # the registration request, byte for byte
    requested_at: int
    origin: str
    serial: int | None  # the certificate issued once approved
    closed_at: int | None  # replaced by a newer request, or the unit revoked

    @property
    def keys(self) -> tuple[bytes, bytes, bytes]:
        return self.sign_key, self.enc_key, self.tls_key


@dataclass(frozen=True)
class CertificateRecord:
    serial: int
    code: str
    raw: bytes  # node certificate wire bytes
    tls_pem: bytes
    sign_key: bytes
    enc_key: bytes
    tls_key: bytes
    issued_at: int
    not_after: int
    via: str  # 'centre', 'enrolment' or 'rotation'
    replaces: int | None = None
    revoked_at: int | None = None


_UNIT_SELECT = (
    "SELECT u.code, u.name, u.state, u.status, u.created_at, u.approved_at, u.enrolled_at,"
    " u.revoked_at, u.last_seen,"
    " (SELECT max(c.serial) FROM centre_certificates c"
    "  WHERE c.code = u.code AND c.revoked_at IS NULL),"
    " coalesce((SELECT t.sign_key FROM centre_tokens t WHERE t.code = u.code"
    "  AND t.used_at IS NOT NULL AND t.serial IS NULL AND t.cancelled_at IS NULL),"
    " (SELECT r.sign_key FROM centre_renewals r WHERE r.code = u.code AND r.serial IS NULL"
    "  AND r.closed_at IS NULL)), u.protocols"
    " FROM centre_units u"
)
_TOKEN_SELECT = (
    "SELECT token_id, code, secret, created_at, expires_at, used_at, sign_key, enc_key,"  # noqa: S105
    " tls_key, request, serial, cancelled_at FROM centre_tokens"
)
_RENEWAL_COLUMNS = (
    "id, code, old_serial, sign_key, enc_key, tls_key, request, requested_at, origin, serial,"
    " closed_at"
)
_RENEWAL_SELECT = f"SELECT {_RENEWAL_COLUMNS} FROM centre_renewals"  # noqa: S608
_CERT_COLUMNS = (
    "serial, code, raw, tls_pem, sign_key, enc_key, tls_key, issued_at, not_after, via,"
    " replaces, revoked_at"
)
_CERT_SELECT = f"SELECT {_CERT_COLUMNS} FROM centre_certificates"  # noqa: S608
_CERT_INSERT = f"INSERT INTO centre_certificates ({_CERT_COLUMNS}) VALUES ({', '.join('?' * 12)})"  # noqa: S608


def _blob(value: object) -> bytes | None:
    return None if value is None else bytes(value)  # type: ignore[arg-type]


def _unit(row) -> UnitRecord:
    return UnitRecord(*row[:10], waiting_key=_blob(row[10]), protocols=versions_of(row[11]))


def versions_of(text: str) -> tuple[int, ...]:
    """The versions of a `protocols` column: sorted integers separated by spaces."""
    return tuple(int(v) for v in text.split())


def versions_text(versions: tuple[int, ...]) -> str:
    return " ".join(str(v) for v in versions)


def _token(row) -> TokenRecord:
    return TokenRecord(
        row[0], row[1], bytes(row[2]), row[3], row[4], row[5],
        _blob(row[6]), _blob(row[7]), _blob(row[8]), _blob(row[9]), row[10], row[11],
    )  # fmt: skip


def _renewal(row) -> RenewalRecord:
    return RenewalRecord(
        row[0], row[1], row[2], bytes(row[3]), bytes(row[4]), bytes(row[5]), bytes(row[6]),
        row[7], row[8], row[9], row[10],
    )  # fmt: skip


def _certificate(row) -> CertificateRecord:
    return CertificateRecord(
        row[0], row[1], bytes(row[2]), bytes(row[3]), bytes(row[4]), bytes(row[5]),
        bytes(row[6]), row[7], row[8], row[9], row[10], row[11],
    )  # fmt: skip


async def next_value(tx: Tx, name: str) -> int:
    """The next value of an increasing counter (1 the first time)."""
    row = await tx.fetchone("SELECT value FROM centre_counters WHERE name = ?", (name,))
    value = 1 if row is None else row[0] + 1
    await tx.execute(
        "INSERT INTO centre_counters (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )
    return value


async def counter(conn: Queryable, name: str) -> int:
    """The last value a counter gave out (0 if none yet)."""
    row = await conn.fetchone("SELECT value FROM centre_counters WHERE name = ?", (name,))
    return 0 if row is None else row[0]


# Units


async def get_unit(conn: Queryable, code: str) -> UnitRecord | None:
    row = await conn.fetchone(_UNIT_SELECT + " WHERE code = ?", (code,))
    return None if row is None else _unit(row)


async def list_units(conn: Queryable) -> list[UnitRecord]:
    rows = await conn.fetchall(_UNIT_SELECT + " ORDER BY code")
    return [_unit(r) for r in rows]


async def put_unit(tx: Tx, code: str, name: str, state: str, status: str, at: int) -> None:
    """Register a unit, or start it over (a revoked or pending unit added again: it reads
    version 1 only until its first report says more)."""
    await tx.execute(
        "INSERT INTO centre_units (code, name, state, status, created_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (code) DO UPDATE SET name = excluded.name, state = excluded.state,"
        " status = excluded.status, created_at = excluded.created_at, approved_at = NULL,"
        " enrolled_at = NULL, revoked_at = NULL, protocols = '1'",
        (code, name, state, status, at),
    )


async def mark_enrolled(tx: Tx, code: str, at: int, *, approved: bool) -> None:
    await tx.execute(
        "UPDATE centre_units SET status = 'active', enrolled_at = ?,"
        " approved_at = CASE WHEN ? THEN ? ELSE approved_at END WHERE code = ?",
        (at, approved, at, code),
    )


async def mark_revoked(tx: Tx, code: str, at: int) -> None:
    await tx.execute(
        "UPDATE centre_units SET status = 'revoked', revoked_at = ? WHERE code = ?", (at, code)
    )


async def touch_unit(tx: Tx, code: str, at: int) -> None:
    """Record that the unit was seen (a request from it was served) at `at`."""
    await tx.execute(
        "UPDATE centre_units SET last_seen = max(coalesce(last_seen, 0), ?) WHERE code = ?",
        (at, code),
    )


async def set_protocols(tx: Tx, code: str, versions: tuple[int, ...]) -> bool:
    """Record the envelope versions a unit declared; True if they differ from those held."""
    text = versions_text(versions)
    cursor = await tx.execute(
        "UPDATE centre_units SET protocols = ? WHERE code = ? AND protocols != ?",
        (text, code, text),
    )
    return cursor.rowcount == 1


async def declared_protocols(conn: Queryable, now: int) -> dict[str, tuple[int, ...]]:
    """The active units that declared more than version 1 and that a directory signed at
    `now` lists (a certificate not yet expired): what its form 2 states."""
    rows = await conn.fetchall(
        "SELECT u.code, u.protocols FROM centre_units u"
        " WHERE u.status = 'active' AND u.protocols != '1' AND EXISTS"
        " (SELECT 1 FROM centre_certificates c WHERE c.code = u.code AND c.not_after >= ?)"
        " ORDER BY u.code",
        (now,),
    )
    return {code: versions_of(text) for code, text in rows}


# Enrolment tokens


async def add_token(
    tx: Tx, token_id: str, code: str, secret: bytes, created_at: int, expires_at: int
) -> None:
    await tx.execute(
        "INSERT INTO centre_tokens (token_id, code, secret, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (token_id, code, secret, created_at, expires_at),
    )


async def get_token(conn: Queryable, token_id: str) -> TokenRecord | None:
    row = await conn.fetchone(_TOKEN_SELECT + " WHERE token_id = ?", (token_id,))
    return None if row is None else _token(row)


async def waiting_token(conn: Queryable, code: str) -> TokenRecord | None:
    """The token whose request waits for the operator's approval, if any."""
    row = await conn.fetchone(
        _TOKEN_SELECT + " WHERE code = ? AND used_at IS NOT NULL"
        " AND serial IS NULL AND cancelled_at IS NULL ORDER BY used_at DESC LIMIT 1",
        (code,),
    )
    return None if row is None else _token(row)


async def bind_token(
    tx: Tx, token_id: str, at: int, sign_key: bytes, enc_key: bytes, tls_key: bytes, request: bytes
) -> None:
    """Bind an unused token to the keys of the first valid request made with it."""
    cursor = await tx.execute(
        "UPDATE centre_tokens SET used_at = ?, sign_key = ?, enc_key = ?, tls_key = ?,"
        " request = ? WHERE token_id = ? AND used_at IS NULL",
        (at, sign_key, enc_key, tls_key, request, token_id),
    )
    if cursor.rowcount != 1:
        raise Conflict(f"enrolment token {token_id} is already used")


async def token_issued(tx: Tx, token_id: str, serial: int) -> None:
    await tx.execute("UPDATE centre_tokens SET serial = ? WHERE token_id = ?", (serial, token_id))


async def cancel_tokens(tx: Tx, code: str, at: int) -> int:
    """Cancel the unit's tokens that have not produced a certificate; return how many."""
    cursor = await tx.execute(
        "UPDATE centre_tokens SET cancelled_at = ?"
        " WHERE code = ? AND cancelled_at IS NULL AND serial IS NULL",
        (at, code),
    )
    return cursor.rowcount


async def cancel_all_tokens(tx: Tx, code: str, at: int) -> None:
    """Cancel every token of the unit, used ones too (the unit is revoked)."""
    await tx.execute(
        "UPDATE centre_tokens SET cancelled_at = ? WHERE code = ? AND cancelled_at IS NULL",
        (at, code),
    )


# Renewal requests waiting for approval


async def add_renewal(
    tx: Tx,
    code: str,
    old_serial: int,
    keys: tuple[bytes, bytes, bytes],
    request: bytes,
    at: int,
    origin: str,
) -> int:
    """Keep a renewal request for the operator; close the unit's earlier waiting one first."""
    await close_renewals(tx, code, at)
    row = await tx.fetchone(  # RETURNING, not lastrowid: PostgreSQL reads it too
        "INSERT INTO centre_renewals (code, old_serial, sign_key, enc_key, tls_key, request,"
        " requested_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (code, old_serial, *keys, request, at, origin),
    )
    assert row is not None
    return int(row[0])


async def waiting_renewal(conn: Queryable, code: str) -> RenewalRecord | None:
    """The unit's renewal request that waits for the operator's approval, if any."""
    row = await conn.fetchone(
        _RENEWAL_SELECT + " WHERE code = ? AND serial IS NULL AND closed_at IS NULL"
        " ORDER BY id DESC LIMIT 1",
        (code,),
    )
    return None if row is None else _renewal(row)


async def renewal_issued(tx: Tx, renewal_id: int, serial: int) -> None:
    await tx.execute("UPDATE centre_renewals SET serial = ? WHERE id = ?", (serial, renewal_id))


async def close_renewals(tx: Tx, code: str, at: int) -> int:
    """Close the unit's renewal requests still waiting (replaced, or the unit revoked)."""
    cursor = await tx.execute(
        "UPDATE centre_renewals SET closed_at = ?"
        " WHERE code = ? AND serial IS NULL AND closed_at IS NULL",
        (at, code),
    )
    return cursor.rowcount


# Certificates


async def add_certificate(tx: Tx, cert: CertificateRecord) -> None:
    existing = await tx.fetchone(
        "SELECT 1 FROM centre_certificates WHERE serial = ?", (cert.serial,)
    )
    if existing is not None:
        raise Conflict(f"certificate serial {cert.serial} is already issued")
    await tx.execute(
        _CERT_INSERT,
        (
            cert.serial, cert.code, cert.raw, cert.tls_pem, cert.sign_key, cert.enc_key,
            cert.tls_key, cert.issued_at, cert.not_after, cert.via, cert.replaces,
            cert.revoked_at,
        ),
    )  # fmt: skip


async def get_certificate(conn: Queryable, serial: int) -> CertificateRecord:
    row = await conn.fetchone(_CERT_SELECT + " WHERE serial = ?", (serial,))
    if row is None:
        raise NotFound(f"no certificate with serial {serial}")
    return _certificate(row)


async def find_certificate(conn: Queryable, serial: int) -> CertificateRecord | None:
    row = await conn.fetchone(_CERT_SELECT + " WHERE serial = ?", (serial,))
    return None if row is None else _certificate(row)


async def certificate_replacing(
    conn: Queryable, code: str, replaces: int, sign_key: bytes, enc_key: bytes, tls_key: bytes
) -> CertificateRecord | None:
    """A certificate already issued by rotating `replaces` to exactly these keys."""
    row = await conn.fetchone(
        _CERT_SELECT + " WHERE code = ? AND replaces = ?"
        " AND sign_key = ? AND enc_key = ? AND tls_key = ? AND via = 'rotation'",
        (code, replaces, sign_key, enc_key, tls_key),
    )
    return None if row is None else _certificate(row)


async def revoke_certificates(tx: Tx, code: str, at: int) -> list[int]:
    """Revoke every unrevoked certificate of the unit; return their serials."""
    rows = await tx.fetchall(
        "SELECT serial FROM centre_certificates WHERE code = ? AND revoked_at IS NULL"
        " ORDER BY serial",
        (code,),
    )
    await tx.execute(
        "UPDATE centre_certificates SET revoked_at = ? WHERE code = ? AND revoked_at IS NULL",
        (at, code),
    )
    return [r[0] for r in rows]


async def directory_contents(conn: Queryable, now: int) -> tuple[list[bytes], list[int]]:
    """What a directory signed at `now` lists: every certificate not yet expired (current,
    superseded and revoked alike) and the revoked serials among them."""
    rows = await conn.fetchall(
        "SELECT serial, raw, revoked_at FROM centre_certificates WHERE not_after >= ?"
        " ORDER BY serial",
        (now,),
    )
    return [bytes(r[1]) for r in rows], [r[0] for r in rows if r[2] is not None]


async def directory_times(conn: Queryable) -> tuple[int, int, int, bool] | None:
    """(version, issued_at, expires_at, whether form 2 is held) of the newest directory in
    the cache, without its bytes (a directory signed before migration 0012 has no form 2)."""
    row = await conn.fetchone(
        "SELECT version, issued_at, expires_at, form2 IS NOT NULL FROM directory_cache"
        " ORDER BY version DESC LIMIT 1"
    )
    return None if row is None else (row[0], row[1], row[2], bool(row[3]))
