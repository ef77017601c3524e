-- 0005: the owner's self-chat: switches, pauses, echoes, lists, teaching, commitments.

-- Small durable owner state by key: killSwitch, pause, presence, the last
-- numbered list, a question awaiting yes/no, the last profile problem reported.
CREATE TABLE owner_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL,               -- JSON
    at_ms INTEGER NOT NULL
) STRICT;

-- Per-contact pauses (the owner's "pause Ann for 1h", or a takeover).
CREATE TABLE contact_pauses (
    person_id  TEXT PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    until_ms   INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

-- What Steward itself sent to an owner chat, so the copy that comes back from
-- the bridge (chat.db shows our send as the owner's own line) is never read as
-- a command. Written before the send, consumed when the echo arrives.
CREATE TABLE owner_echoes (
    id        INTEGER PRIMARY KEY,
    channel   TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
) STRICT;
CREATE INDEX owner_echoes_by_hash ON owner_echoes (channel, text_hash);

-- "don't tell Ravi where I am" (allow = 0) / "you can tell Ravi where I am" (allow = 1).
CREATE TABLE disclosure_rules (
    person_id  TEXT PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    allow      INTEGER NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- Open loops: the owner's reminders and promises; the concierge nudges them.
CREATE TABLE commitments (
    id            INTEGER PRIMARY KEY,
    title         TEXT NOT NULL,
    person_id     TEXT REFERENCES people (id) ON DELETE SET NULL,
    source        TEXT NOT NULL,         -- owner | promise | agent
    urgency       TEXT NOT NULL DEFAULT 'normal',   -- now | soon | normal | fyi
    status        TEXT NOT NULL DEFAULT 'open',     -- open | snoozed | done | dismissed
    dedup_key     TEXT UNIQUE,
    due_ms        INTEGER,
    next_nudge_ms INTEGER,
    nudges        INTEGER NOT NULL DEFAULT 0,
    created_ms    INTEGER NOT NULL,
    closed_ms     INTEGER
) STRICT;
CREATE INDEX commitments_open ON commitments (status, next_nudge_ms);
