-- The node's first schema: documents, envelopes, delivery, registers, users, audit log.
-- Times are integer Unix milliseconds; dates of documents are 'YYYY-MM-DD' text.

-- One row per document, incoming or outgoing. id is the envelope id (ULID),
-- or a ULID made by the node for a paper document entered by hand.
CREATE TABLE documents (
    id              TEXT PRIMARY KEY,
    direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    manual          INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
    sender_code     TEXT NOT NULL,
    number          INTEGER,
    number_year     INTEGER,
    notation        TEXT NOT NULL DEFAULT '',
    doc_type        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    issuer_code     TEXT NOT NULL,
    issuer_name     TEXT NOT NULL,
    issued_on       TEXT NOT NULL,
    urgency         INTEGER NOT NULL DEFAULT 0,
    confidentiality INTEGER NOT NULL DEFAULT 0,
    due_on          TEXT,
    metadata        BLOB NOT NULL,
    state           TEXT NOT NULL,
    recall          TEXT NOT NULL DEFAULT 'none',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- Inbox/outbox listing, newest first, keyset-paginated on (created_at, id). The
-- other indexes are partial: every index is one more page written per send, and
-- outgoing documents all have state 'sent' and our own sender code, while most
-- documents are not urgent (urgency 0 is found by scanning documents_by_time).
CREATE INDEX documents_by_time ON documents (direction, created_at, id);
CREATE INDEX documents_by_state ON documents (state, created_at, id)
    WHERE direction = 'in';
CREATE INDEX documents_by_sender ON documents (sender_code, created_at, id)
    WHERE direction = 'in';
CREATE INDEX documents_by_urgency ON documents (direction, urgency, created_at, id)
    WHERE urgency > 0;

-- Full-text search of the inbox on subject (trích yếu), notation and issuer,
-- diacritics folded so a clerk typing "trien khai" finds "triển khai". Outgoing
-- documents are not indexed (about five pages written per document): their
-- search scans them instead, in storage/documents.py.
CREATE VIRTUAL TABLE documents_fts USING fts5 (
    subject, notation, issuer_name,
    content = 'documents', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents WHEN new.direction = 'in' BEGIN
    INSERT INTO documents_fts (rowid, subject, notation, issuer_name)
    VALUES (new.rowid, new.subject, new.notation, new.issuer_name);
END;
CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents WHEN old.direction = 'in' BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, subject, notation, issuer_name)
    VALUES ('delete', old.rowid, old.subject, old.notation, old.issuer_name);
END;
CREATE TRIGGER documents_fts_update AFTER UPDATE OF subject, notation, issuer_name ON documents
WHEN new.direction = 'in' BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, subject, notation, issuer_name)
    VALUES ('delete', old.rowid, old.subject, old.notation, old.issuer_name);
    INSERT INTO documents_fts (rowid, subject, notation, issuer_name)
    VALUES (new.rowid, new.subject, new.notation, new.issuer_name);
END;

-- Envelopes exactly as signed and received: the proof of what was sent.
CREATE TABLE envelopes (
    id          TEXT PRIMARY KEY,
    raw         BLOB NOT NULL,
    sha256      BLOB NOT NULL,
    sender_code TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    size        INTEGER NOT NULL
);

-- Delivery of each outgoing envelope, one row per recipient. next_attempt_at is
-- NULL once nothing more is due for that recipient.
CREATE TABLE outbox (
    envelope_id     TEXT NOT NULL REFERENCES envelopes (id),
    recipient       TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (envelope_id, recipient)
) WITHOUT ROWID;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE next_attempt_at IS NOT NULL;

-- Signed status messages, sent and received, kept byte-exact.
CREATE TABLE status_events (
    id              TEXT PRIMARY KEY,
    envelope_id     TEXT NOT NULL,
    from_code       TEXT NOT NULL,
    to_code         TEXT NOT NULL,
    code            INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    raw             BLOB NOT NULL,
    direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    incoming_number INTEGER,
    note            TEXT
);
CREATE INDEX status_by_envelope ON status_events (envelope_id, at);

-- Signed directories as fetched or gossiped; the highest version is in force.
CREATE TABLE directory_cache (
    version    INTEGER PRIMARY KEY,
    raw        BLOB NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    fetched_at INTEGER NOT NULL
);

-- Sổ đăng ký văn bản đến (Nghị định 30/2020/NĐ-CP): numbered from 1 each year.
CREATE TABLE incoming_register (
    year              INTEGER NOT NULL,
    number            INTEGER NOT NULL CHECK (number >= 1),
    document_id       TEXT UNIQUE REFERENCES documents (id),
    arrived_on        TEXT NOT NULL,
    issuer_name       TEXT NOT NULL,
    issuer_code       TEXT,
    number_notation   TEXT NOT NULL,
    doc_date          TEXT NOT NULL,
    doc_type          TEXT NOT NULL,
    subject           TEXT NOT NULL,
    passed_to         TEXT,
    receipt_signature TEXT,
    notes             TEXT,
    manual            INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
    created_at        INTEGER NOT NULL,
    PRIMARY KEY (year, number)
);
CREATE INDEX incoming_register_reconcile
    ON incoming_register (issuer_code, number_notation, doc_date) WHERE document_id IS NULL;

-- Sổ đăng ký văn bản đi: the number is the document's số, notation its ký hiệu.
CREATE TABLE outgoing_register (
    year           INTEGER NOT NULL,
    number         INTEGER NOT NULL CHECK (number >= 1),
    notation       TEXT NOT NULL,
    document_id    TEXT UNIQUE REFERENCES documents (id),
    issued_on      TEXT NOT NULL,
    doc_type       TEXT NOT NULL,
    subject        TEXT NOT NULL,
    signer         TEXT NOT NULL,
    recipients     TEXT NOT NULL,
    archive_holder TEXT,
    copies         INTEGER,
    sent_on        TEXT,
    notes          TEXT,
    manual         INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
    created_at     INTEGER NOT NULL,
    UNIQUE (year, number, notation)
);

-- Content-addressed blob files under blobs/; id is the SHA-256 hex of the bytes.
CREATE TABLE blobs (
    id         TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('clerk', 'leader', 'admin')),
    display_name  TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER
);

-- Only the SHA-256 of a session token is stored: a copy of the store opens no session.
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Append-only, hash-chained (storage/audit.py documents the entry hash).
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;
