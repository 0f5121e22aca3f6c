-- An envelope is kept in its document's row: `documents.envelope` holds its bytes exactly
-- as signed (sent) or received, `documents.envelope_sha256` their SHA-256 (what a 01
-- proves). A document and its envelope always had the same id here (envelopes.id was the
-- document's id), so a send now writes one row and one key instead of a document row, an
-- envelope row and the envelopes' key index (docs/STORE.md, "The envelope in its
-- document's row"). Both are NULL for a document that came in no envelope (a paper entry,
-- an edXML import). envelopes.sender_code, received_at and size were the document's
-- sender_code, created_at and length(envelope): they are not kept twice.
--
-- An envelope without a document row cannot be moved: the migration stops (CHECK below),
-- nothing changed, rather than drop it.
CREATE TEMP TABLE migration_0020_check (
    envelopes_without_document INTEGER NOT NULL CHECK (envelopes_without_document = 0)
);
INSERT INTO migration_0020_check (envelopes_without_document)
    SELECT count(*) FROM envelopes e WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = e.id);
DROP TABLE migration_0020_check;

ALTER TABLE documents ADD COLUMN envelope BLOB;
ALTER TABLE documents ADD COLUMN envelope_sha256 BLOB;
UPDATE documents SET (envelope, envelope_sha256) =
    (SELECT e.raw, e.sha256 FROM envelopes e WHERE e.id = documents.id)
    WHERE id IN (SELECT id FROM envelopes);

-- outbox.envelope_id named envelopes (id): it now names the document. SQLite cannot change
-- a foreign key, so the table is rebuilt with its rows and indexes; nothing refers to it.
CREATE TABLE outbox_0020 (
    envelope_id     TEXT NOT NULL REFERENCES documents (id),
    recipient       TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT,
    updated_at      INTEGER NOT NULL,
    refused_with    TEXT,
    refusals        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (envelope_id, recipient)
) WITHOUT ROWID;
INSERT INTO outbox_0020 (envelope_id, recipient, state, attempts, next_attempt_at,
    last_error, updated_at, refused_with, refusals)
    SELECT envelope_id, recipient, state, attempts, next_attempt_at, last_error, updated_at,
        refused_with, refusals
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_0020 RENAME TO outbox;
CREATE INDEX outbox_destination_due ON outbox (recipient, next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX outbox_dead ON outbox (recipient) WHERE state = 'dead';

DROP TABLE envelopes;
