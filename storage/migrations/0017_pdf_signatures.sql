-- Digital signatures inside documents' PDFs (docs/SIGNATURES.md): the CA certificates this
-- office trusts for them, what was found in each PDF, and the documents waiting to be
-- checked. storage/trust.py owns the SQL.
--
-- A trust anchor is kept as its DER bytes under the SHA-256 of those bytes (lowercase hex).
CREATE TABLE trust_anchors (
    fingerprint TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    der         BLOB NOT NULL,
    added_at    INTEGER NOT NULL
) WITHOUT ROWID;
-- One row per PDF attachment checked: `attachment` is its place in the manifest (0, 1, ...),
-- `status` the file's (valid, untrusted, invalid, unsigned, unreadable) for the inbox mark,
-- `verdict` the whole result as JSON (crypto/pdf_signatures.py, FileVerdict.to_json).
CREATE TABLE pdf_signatures (
    document_id TEXT NOT NULL,
    attachment  INTEGER NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    verified_at INTEGER NOT NULL,
    PRIMARY KEY (document_id, attachment)
) WITHOUT ROWID;
-- Documents whose PDFs wait to be checked: written in the same transaction that stores the
-- document, removed when the results are stored, so a node stopped in between checks them
-- when it starts again.
CREATE TABLE pdf_verify_queue (
    document_id TEXT PRIMARY KEY,
    queued_at   INTEGER NOT NULL
) WITHOUT ROWID;
