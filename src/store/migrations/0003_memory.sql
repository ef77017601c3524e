-- 0003: the person-graph memory.

CREATE TABLE people (
    id          TEXT PRIMARY KEY,
    name        TEXT,
    name_source TEXT,                       -- contacts | config | manual | handle
    is_owner    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
) STRICT;
-- There is exactly one owner person at most.
CREATE UNIQUE INDEX people_one_owner ON people (is_owner) WHERE is_owner = 1;

-- One handle belongs to exactly one person.
CREATE TABLE handles (
    handle     TEXT PRIMARY KEY,            -- canonical kind:value
    person_id  TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    source     TEXT NOT NULL,
    first_seen TEXT NOT NULL
) STRICT;
CREATE INDEX handles_by_person ON handles (person_id);

-- Which person ids were merged into which, so a repeated merge is a no-op.
CREATE TABLE merges (
    from_id   TEXT PRIMARY KEY,
    into_id   TEXT NOT NULL,
    merged_at TEXT NOT NULL
) STRICT;

CREATE TABLE chats (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    kind        TEXT NOT NULL,              -- direct | group | self
    name        TEXT,
    UNIQUE (channel, external_id)
) STRICT;

CREATE TABLE chat_members (
    chat_id   INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    person_id TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (chat_id, person_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,              -- imessage | sms | rcs | …
    external_id TEXT NOT NULL,
    -- FNV-1a 64 of channel, NUL, external_id: a compact key for the "seen it?" check.
    -- A unique index on the GUID text itself made a 1M-row import 30% slower
    -- (random 40-byte keys); memory::messages checks the full pair on a hash hit.
    ext_key     INTEGER NOT NULL,
    chat_id     INTEGER REFERENCES chats (id) ON DELETE SET NULL,
    sender_id   TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    -- The person the message counts for: the sender, or for the owner's message
    -- in a 1:1 chat the other person; the owner for their own group lines.
    person_id   TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    handle      TEXT,                       -- the contact's handle involved (for split)
    direction   TEXT NOT NULL,              -- in | out
    text        TEXT NOT NULL,
    at          TEXT NOT NULL,              -- UTC, RFC 3339
    at_ms       INTEGER NOT NULL,
    reply_to    TEXT,                       -- external id of the message replied to
    edited      INTEGER NOT NULL DEFAULT 0,
    is_command  INTEGER NOT NULL DEFAULT 0  -- a self-chat line, for the command layer
) STRICT;
CREATE INDEX messages_by_ext_key ON messages (ext_key);
-- Covering for what context() and people ask per person (count, last, channels,
-- other chats), so they read the index and not 2,500 table rows.
CREATE INDEX messages_by_person ON messages (person_id, at_ms, chat_id, channel);
CREATE INDEX messages_by_chat ON messages (chat_id, at_ms);
-- No index on sender_id: only merge, split and forget filter on it, rarely, and
-- every import row would pay for it.

-- person_id is indexed too, so "this person's messages matching X" intersects two
-- doclists instead of filtering every match of a common word.
-- New rows are indexed in bulk by memory::messages::index_new at the end of each
-- write batch (a per-row trigger made FTS5 flush a segment per statement: 3x slower);
-- edits and deletes keep their triggers.
CREATE VIRTUAL TABLE messages_fts USING fts5 (text, person_id, content = 'messages', content_rowid = 'id');
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, person_id) VALUES ('delete', old.id, old.text, old.person_id);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, person_id ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, person_id) VALUES ('delete', old.id, old.text, old.person_id);
    INSERT INTO messages_fts (rowid, text, person_id) VALUES (new.id, new.text, new.person_id);
END;

-- Tapbacks: reactions on a target message, not messages.
CREATE TABLE reactions (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    target      TEXT NOT NULL,              -- external id of the message reacted to
    person_id   TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,              -- love | like | dislike | laugh | emphasize | question | emoji | sticker
    emoji       TEXT,
    removed     INTEGER NOT NULL DEFAULT 0,
    at          TEXT NOT NULL,
    UNIQUE (channel, external_id)
) STRICT;
CREATE INDEX reactions_by_target ON reactions (channel, target);

CREATE TABLE facts (
    id         INTEGER PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    source     TEXT NOT NULL,
    confidence REAL NOT NULL DEFAULT 1.0,
    learned_at TEXT NOT NULL,
    UNIQUE (person_id, key, value)
) STRICT;

-- Per-source read positions (e.g. the chat.db ROWID the live reader has reached).
CREATE TABLE source_cursors (
    source     TEXT PRIMARY KEY,
    value      INTEGER NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
