-- The integration API (/api/v1, docs/INTEGRATION.md): the keys an office's own document
-- system (DMS) calls with, and the answers kept for its retries. storage/api_keys.py and
-- storage/idempotency.py own the SQL.
--
-- A key is shown once when made; the store keeps only the SHA-256 of its token.
-- `scopes` is the space-separated set of what the key may do (read, send, process,
-- admin). A revoked key stays listed (revoked_at set) so its name stays in the audit
-- log's sense and is never given to another key.
CREATE TABLE api_keys (
    name        TEXT PRIMARY KEY,
    token_hash  BLOB NOT NULL UNIQUE,
    scopes      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) WITHOUT ROWID;
-- The first answer to a POST with an Idempotency-Key, replayed to a retry of the same
-- request (same key name, same Idempotency-Key, same body hash) until it expires.
CREATE TABLE api_idempotency (
    key_name        TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_sha256  BLOB NOT NULL,
    status          INTEGER NOT NULL,
    content_type    TEXT NOT NULL,
    body            BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (key_name, idempotency_key)
) WITHOUT ROWID;
-- Expired answers are removed oldest first.
CREATE INDEX api_idempotency_by_time ON api_idempotency (created_at);
