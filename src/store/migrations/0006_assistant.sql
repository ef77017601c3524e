-- 0006: contact assistants: the quiet-hours queue and monitored groups.

-- Contact messages that arrived in quiet hours, handled in order afterwards.
CREATE TABLE contact_queue (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    inbound     TEXT NOT NULL,             -- the Inbound as JSON
    reason      TEXT NOT NULL,
    queued_ms   INTEGER NOT NULL,
    UNIQUE (channel, external_id)
) STRICT;

-- Groups the owner asked Steward to watch (a mention or quote of the owner
-- is still needed before a draft is proposed).
CREATE TABLE monitored_chats (
    chat_id    INTEGER PRIMARY KEY REFERENCES chats (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL
) STRICT;
