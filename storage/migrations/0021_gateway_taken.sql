-- The files a gateway took from its incoming folder, by the SHA-256 of their bytes: written
-- in the transaction that sends a file's document or status on, so that a gateway stopped
-- between sending and moving the file never sends it twice (docs/GATEWAY.md). Before this,
-- the record was a file under gateway/taken/, which the gateway still reads.
CREATE TABLE gateway_taken (
    digest   TEXT PRIMARY KEY CHECK (length(digest) = 64),
    outcome  TEXT NOT NULL,
    taken_at INTEGER NOT NULL
) WITHOUT ROWID;
