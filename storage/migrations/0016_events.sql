-- Events for an office's own document system (docs/INTEGRATION.md, "Events"): what happened
-- at this node, each written in the same transaction as the change it reports, delivered
-- to webhooks and read from the feed (GET /api/v1/events). storage/events.py owns the SQL.
--
-- AUTOINCREMENT: an id is never given twice, even after the newest rows were pruned, so a
-- reader's "after this id" never skips or repeats an event. `data` is a JSON object.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    document_id TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
-- Retention removes the oldest events first.
CREATE INDEX events_by_time ON events (created_at);
-- Per webhook endpoint (its name in node.toml [events]): the last event it acknowledged.
CREATE TABLE event_cursors (
    endpoint    TEXT PRIMARY KEY,
    last_id     INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
