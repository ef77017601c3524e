-- What the domain trackers (garage, household, care-coordinator,
-- travel-concierge, upskill) found in the owner's mail: records (a service
-- done, a booking made) and obligations (a renewal due). An obligation with a
-- future due date is also a commitment, so the concierge nudges it.
CREATE TABLE domain_records (
    id          INTEGER PRIMARY KEY,
    agent       TEXT NOT NULL,
    domain      TEXT NOT NULL,          -- vehicle | home | health | travel | career
    kind        TEXT NOT NULL,          -- record | obligation
    title       TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    due_date    TEXT,                   -- YYYY-MM-DD, obligations only
    message_row INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    at_ms       INTEGER NOT NULL,       -- when the mail arrived
    UNIQUE (agent, message_row, kind, title)
) STRICT;
CREATE INDEX domain_records_by_domain ON domain_records (domain, at_ms);

-- The ISO week (`2026-W49`) a tracker last sent its weekly coach brief in.
ALTER TABLE agent_state ADD COLUMN coached_week TEXT;

-- The Message-IDs of the mails Steward wrote to the owner (email as an owner
-- channel). Each holds 128 random bits: a mail from an owner address that
-- answers one of them is the owner's command; any other mail never is.
CREATE TABLE owner_mail (
    message_id TEXT PRIMARY KEY,
    sent_ms    INTEGER NOT NULL
) STRICT;
