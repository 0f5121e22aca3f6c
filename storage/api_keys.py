"""Keys of the integration API (/api/v1): made, listed, revoked and found by their token;
the store keeps only the SHA-256 of a token, shown once when the key is made."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from lienthong.protocol.text import pattern
from lienthong.storage import audit
from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import Conflict, NotFound, StoreError

# What a key may do: read documents and registers; send documents; process received ones
# (statuses, recall answers); admin: everything.
READ = "read"
SEND = "send"
PROCESS = "process"
ADMIN = "admin"
SCOPES = (READ, SEND, PROCESS, ADMIN)
# A key's name appears in the audit log and on the command line: short, plain ASCII.
KEY_NAME = pattern("API key name", "[a-z0-9][a-z0-9._-]{0,63}", "dms-vanthu")
# A token carries 256 random bits (32 bytes, base64url: 43 characters) behind a prefix
# that says what it is when it turns up in a log or a file.
TOKEN_BYTES = 32
TOKEN_PREFIX = "lt_"  # noqa: S105 - a label, not a secret
# Longer Authorization values are refused before they are hashed.
MAX_TOKEN_CHARS = 128


@dataclass(frozen=True)
class ApiKey:
    name: str
    scopes: tuple[str, ...]
    created_at: int
    revoked_at: int | None = None

    def allows(self, scope: str) -> bool:
        """Whether the key may do what `scope` names (admin may do everything)."""
        return scope in self.scopes or ADMIN in self.scopes


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def parse_scopes(text: str) -> tuple[str, ...]:
    """Scopes written "read,send" (commas or spaces), each one of SCOPES, sorted, unique."""
    given = [s for s in text.replace(",", " ").split() if s]
    unknown = [s for s in given if s not in SCOPES]
    if not given or unknown:
        raise StoreError(
            f"scopes are one or more of {', '.join(SCOPES)}"
            + (f"; {', '.join(map(repr, unknown))} is not one" if unknown else "")
        )
    return tuple(sorted(set(given), key=SCOPES.index))


def _key(row) -> ApiKey:
    return ApiKey(row[0], tuple(row[1].split()), row[2], row[3])


async def add_key(
    tx: Tx, name: str, scopes: tuple[str, ...], *, actor: str, at: int
) -> tuple[ApiKey, str]:
    """Make a key; return it and its token (given once: only its hash is kept)."""
    if not KEY_NAME.matches(name):
        raise StoreError(
            f"an API key name is like {KEY_NAME.example!r} (a-z, 0-9, . _ -), not {name!r}"
        )
    scopes = parse_scopes(" ".join(scopes))
    if await tx.fetchone("SELECT 1 FROM api_keys WHERE name = ?", (name,)):
        raise Conflict(f"an API key named {name!r} exists already (names are never reused)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    await tx.execute(
        "INSERT INTO api_keys (name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?)",
        (name, token_hash(token), " ".join(scopes), at),
    )
    await audit.append(
        tx, at=at, actor=actor, action="api_key.add", subject=name, details={"scopes": list(scopes)}
    )
    return ApiKey(name, scopes, at), token


async def list_keys(conn: Queryable) -> list[ApiKey]:
    rows = await conn.fetchall(
        "SELECT name, scopes, created_at, revoked_at FROM api_keys ORDER BY name"
    )
    return [_key(r) for r in rows]


async def revoke_key(tx: Tx, name: str, *, actor: str, at: int) -> bool:
    """Revoke a key; False if it was revoked already."""
    row = await tx.fetchone("SELECT revoked_at FROM api_keys WHERE name = ?", (name,))
    if row is None:
        raise NotFound(f"no API key named {name!r}")
    if row[0] is not None:
        return False
    await tx.execute("UPDATE api_keys SET revoked_at = ? WHERE name = ?", (at, name))
    await audit.append(tx, at=at, actor=actor, action="api_key.revoke", subject=name, details={})
    return True


async def key_for_token(conn: Queryable, token: str) -> ApiKey | None:
    """The live key whose token this is, or None (unknown, revoked or malformed)."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    digest = token_hash(token)
    row = await conn.fetchone(
        "SELECT name, scopes, created_at, revoked_at, token_hash FROM api_keys"
        " WHERE token_hash = ?",
        (digest,),
    )
    # The lookup is by a hash of the token (nothing to learn from its timing); the compare
    # in constant time keeps it so should the lookup ever change.
    if row is None or not hmac.compare_digest(bytes(row[4]), digest) or row[3] is not None:
        return None
    return _key(row)
