-- A copy (bản sao: sao y, trích sao, sao lục; Nghị định 30/2020/NĐ-CP Điều 25) is a new
-- outgoing document of this unit linked to the document it copies: document_links gains
-- the kind 'copy_of' (the copy names its original). The link is this unit's own: it is not
-- on the wire, the copy travels as a new document. SQLite cannot change a CHECK, so the
-- table is rebuilt with its rows and indexes; nothing refers to it.
CREATE TABLE document_links_0019 (
    document_id    TEXT NOT NULL REFERENCES documents (id),
    kind           TEXT NOT NULL
        CHECK (kind IN ('updates', 'replaces', 'replies_to', 'copy_of')),
    target_sender  TEXT,
    target_wire_id TEXT NOT NULL,
    target_id      TEXT REFERENCES documents (id),
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (document_id, kind, target_wire_id)
) WITHOUT ROWID;
INSERT INTO document_links_0019 (document_id, kind, target_sender, target_wire_id,
    target_id, created_at)
    SELECT document_id, kind, target_sender, target_wire_id, target_id, created_at
    FROM document_links;
DROP TABLE document_links;
ALTER TABLE document_links_0019 RENAME TO document_links;
CREATE INDEX document_links_to ON document_links (target_id) WHERE target_id IS NOT NULL;
CREATE INDEX document_links_unknown ON document_links (target_sender, target_wire_id)
    WHERE target_id IS NULL;
