-- Statuses waiting to be delivered to their destination (the sender of the envelope,
-- or a recipient for a recall request), with the delivery engine's retry state.
CREATE TABLE status_outbox (
    status_id       TEXT PRIMARY KEY REFERENCES status_events (id),
    destination     TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER,
    updated_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX status_outbox_due ON status_outbox (destination, next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX outbox_destination_due ON outbox (recipient, next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
-- The per-destination index serves both "what is due" queries; the global one only
-- cost a page per send (bench/store.py).
DROP INDEX outbox_due;

-- The relay's mailboxes (role centre): ciphertext kept for a unit until it acknowledges,
-- or until retention ends (then the sender is told, through its own mailbox).
CREATE TABLE relay_mailbox (
    recipient    TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('envelope', 'status', 'notice')),
    sender       TEXT NOT NULL,
    raw          BLOB NOT NULL,
    blobs        TEXT NOT NULL DEFAULT '',
    deposited_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (recipient, item_id)
) WITHOUT ROWID;
CREATE INDEX relay_mailbox_expiry ON relay_mailbox (expires_at);
