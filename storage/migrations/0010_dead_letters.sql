-- Dead letters (docs/STATES.md): an outgoing item its destination keeps refusing stops
-- being retried. Per row, the refusal it got last (its error name, docs/PROTOCOL.md 16.4)
-- and how many times in a row it got that same refusal; an envelope's row then takes the
-- state 'dead', a status's row a dead_at time. Either is retried only by hand.
ALTER TABLE outbox ADD COLUMN refused_with TEXT;
ALTER TABLE outbox ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
ALTER TABLE status_outbox ADD COLUMN refused_with TEXT;
ALTER TABLE status_outbox ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
ALTER TABLE status_outbox ADD COLUMN dead_at INTEGER;
-- The dead letters of a node, listed for its operator and counted by its metrics.
CREATE INDEX outbox_dead ON outbox (recipient) WHERE state = 'dead';
CREATE INDEX status_outbox_dead ON status_outbox (destination) WHERE dead_at IS NOT NULL;
