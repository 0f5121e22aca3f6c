-- Relay mailbox items of envelopes and statuses are named by their author and their own id
-- (<sender code>/<id>): an envelope id is unique per sender only, so a co-recipient can no
-- longer deposit first under a letter's id and have the real letter refused.
UPDATE relay_mailbox SET item_id = sender || '/' || item_id
WHERE kind IN ('envelope', 'status') AND instr(item_id, '/') = 0;
