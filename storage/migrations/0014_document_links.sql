-- Links between documents (docs/STATES.md, "Updates and replacements"): an update (cập
-- nhật) names the document it changes, a replacement (thay thế) the documents it
-- supersedes, a reply the document it answers. One row per (newer document, kind,
-- target), written in the transaction that stores the newer document, at its sender and
-- at each recipient alike. storage/links.py owns the SQL.
--
-- A target is named on the wire by its envelope's id, unique per sender only
-- (docs/STORE.md): target_sender and target_wire_id say which document was named, and
-- target_id is that document's id here, NULL while this node holds none (an "unknown
-- target": kept and shown, filled in if that document arrives later). target_sender is
-- NULL only for a reply whose target this node never held (a reply names no sender).
CREATE TABLE document_links (
    document_id    TEXT NOT NULL REFERENCES documents (id),
    kind           TEXT NOT NULL CHECK (kind IN ('updates', 'replaces', 'replies_to')),
    target_sender  TEXT,
    target_wire_id TEXT NOT NULL,
    target_id      TEXT REFERENCES documents (id),
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (document_id, kind, target_wire_id)
) WITHOUT ROWID;
-- The other way: what names a document (its page shows "Đã được cập nhật bởi …").
CREATE INDEX document_links_to ON document_links (target_id) WHERE target_id IS NOT NULL;
-- Unknown targets, looked up when an envelope arrives (it may be one of them).
CREATE INDEX document_links_unknown ON document_links (target_sender, target_wire_id)
    WHERE target_id IS NULL;
