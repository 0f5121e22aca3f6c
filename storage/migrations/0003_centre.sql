-- The centre's registry (role centre): units, one-time enrolment tokens, the certificates
-- it issued, and its counters. Units never write these tables. docs/FEDERATION.md.

-- One row per unit of the federation, the centre's own organisation code included.
-- state is the deployment state of the province's unit list ('Đã triển khai',
-- 'Thử nghiệm'); status is where enrolment stands.
CREATE TABLE centre_units (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    state       TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
    created_at  INTEGER NOT NULL,
    approved_at INTEGER,
    enrolled_at INTEGER,
    revoked_at  INTEGER,
    last_seen   INTEGER
);

-- The secret is kept because the centre recomputes the token MAC of each request
-- (docs/PROTOCOL.md 9.2). The first valid request binds the token to its keys
-- (used_at, the three keys and the request bytes); serial is set once a certificate
-- is issued for it. cancelled_at: replaced by a newer token, or the unit was revoked.
CREATE TABLE centre_tokens (
    token_id     TEXT PRIMARY KEY,
    code         TEXT NOT NULL REFERENCES centre_units (code),
    secret       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    sign_key     BLOB,
    enc_key      BLOB,
    tls_key      BLOB,
    request      BLOB,
    serial       INTEGER,
    cancelled_at INTEGER
);
CREATE INDEX centre_tokens_by_unit ON centre_tokens (code);

-- Every node certificate issued, byte-exact, with the PEM of the X.509 TLS
-- certificate issued with it under the same serial.
CREATE TABLE centre_certificates (
    serial     INTEGER PRIMARY KEY,
    code       TEXT NOT NULL REFERENCES centre_units (code),
    raw        BLOB NOT NULL,
    tls_pem    BLOB NOT NULL,
    sign_key   BLOB NOT NULL,
    enc_key    BLOB NOT NULL,
    tls_key    BLOB NOT NULL,
    issued_at  INTEGER NOT NULL,
    not_after  INTEGER NOT NULL,
    via        TEXT NOT NULL CHECK (via IN ('centre', 'enrolment', 'rotation')),
    replaces   INTEGER,
    revoked_at INTEGER
);
CREATE INDEX centre_certificates_by_unit ON centre_certificates (code, serial);
CREATE INDEX centre_certificates_by_expiry ON centre_certificates (not_after);

-- Counters that only grow: 'serial' (certificates, node and X.509 alike) and
-- 'directory_version'.
CREATE TABLE centre_counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
