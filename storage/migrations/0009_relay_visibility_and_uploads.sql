-- The relay's pull skips what its unit left for later (docs/PROTOCOL.md 19.2): an item a
-- pull answered is not answered again before visible_at, so items the unit cannot take yet
-- never hold back the mail behind them. 0: answered by the next pull.
ALTER TABLE relay_mailbox ADD COLUMN visible_at INTEGER NOT NULL DEFAULT 0;
-- A pull reads one mailbox oldest first.
CREATE INDEX relay_mailbox_queue ON relay_mailbox (recipient, deposited_at, item_id);

-- Blob uploads not yet tied to a letter (docs/PROTOCOL.md 17.2.1), on units and the centre:
-- who is uploading, the Upload-Length it declared, when it last sent or asked about it.
-- A row counts against its uploader's quota until an envelope naming the blob is stored
-- (a unit) or deposited (the centre), which removes it, or until the sweep removes the
-- upload with its bytes once touched_at is older than the time an upload has to be tied.
CREATE TABLE blob_uploads (
    blob_id    TEXT NOT NULL,
    uploader   TEXT NOT NULL,
    length     INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    touched_at INTEGER NOT NULL,
    PRIMARY KEY (blob_id, uploader)
) WITHOUT ROWID;
CREATE INDEX blob_uploads_by_uploader ON blob_uploads (uploader);
CREATE INDEX blob_uploads_by_age ON blob_uploads (touched_at);
