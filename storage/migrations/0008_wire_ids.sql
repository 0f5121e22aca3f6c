-- An envelope id is unique per sender, not per node (docs/PROTOCOL.md 3.1; docs/STORE.md):
-- a co-recipient who learns a letter's id must not be able to take it first. A document
-- is found from a message of its sender by (sender_code, wire_id), wire_id being the id
-- its envelope carries. Its own id here, documents.id (what the clerk's pages, the
-- commands, the registers, envelopes.id, outbox.envelope_id and status_events.envelope_id
-- hold), is that same id unless another document here already had it when it arrived;
-- then it is a new ULID made by this node. An outgoing document's id is always its wire
-- id. wire_id is NULL only for a paper document entered by hand (it has no envelope).
ALTER TABLE documents ADD COLUMN wire_id TEXT;
UPDATE documents SET wire_id = id WHERE manual = 0;
-- Unique among incoming documents only: an envelope this node sent to itself is stored
-- as an incoming document beside the outgoing one with the same (sender, wire id).
CREATE UNIQUE INDEX documents_by_wire_id ON documents (sender_code, wire_id)
    WHERE direction = 'in';
