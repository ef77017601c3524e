-- 0015: what the dashboard reads on every page view, kept so each is an index
-- read instead of a scan.

-- Each person's newest message time (ms), so the People list (most recently
-- active first) reads `people` alone instead of a MAX over `messages` per
-- person. Kept by `memory::messages::index_new` at the end of every write
-- batch (one UPDATE for the batch, grouped by person) and read again for the
-- people a merge or split touches. NULL: no message.
ALTER TABLE people ADD COLUMN last_message_ms INTEGER;

UPDATE people SET last_message_ms =
    (SELECT MAX(at_ms) FROM messages m WHERE m.person_id = people.id);

CREATE INDEX people_by_last_message ON people (last_message_ms);

-- Each channel's newest delivered and failed send (the Channels page's last
-- send and last error): the audit's `send` entries by the channel part of
-- their subject (`console:ann` → `console`). Queries must spell the
-- expression exactly so for SQLite to use the index.
CREATE INDEX audit_sends ON audit (substr(subject, 1, instr(subject, ':') - 1), decision, seq)
    WHERE kind = 'send';
