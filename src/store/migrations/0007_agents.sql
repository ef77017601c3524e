-- 0007: loop agents: schedule state, nudges, life events, feeds and news.

-- Per agent: enabled or not, and the last slot it ran (or was first seen at).
CREATE TABLE agent_state (
    agent      TEXT PRIMARY KEY,
    enabled    INTEGER,                -- NULL: the spec's default
    last_slot  TEXT,                   -- RFC 3339 UTC of the last slot fired
    cursor     INTEGER,                -- per-agent scan position (messages.id)
    updated_at TEXT NOT NULL
) STRICT;

-- Every nudge Steward proposed to the owner: dedup keys live 3 days; held
-- nudges wait for quiet hours or focus to end.
CREATE TABLE nudges (
    id         INTEGER PRIMARY KEY,
    agent      TEXT NOT NULL,
    dedup_key  TEXT NOT NULL UNIQUE,
    text       TEXT NOT NULL,
    urgent     INTEGER NOT NULL DEFAULT 0,
    status     TEXT NOT NULL,          -- sent | held | capped
    created_ms INTEGER NOT NULL,
    sent_ms    INTEGER
) STRICT;
CREATE INDEX nudges_by_status ON nudges (status, created_ms);

-- Life events extracted from messages (rules first): bills, deliveries,
-- appointments, travel.
CREATE TABLE life_events (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,        -- bill | delivery | appointment | travel
    payee        TEXT,
    amount_cents INTEGER,
    summary      TEXT NOT NULL,
    message_id   INTEGER UNIQUE,
    at_ms        INTEGER NOT NULL
) STRICT;
CREATE INDEX life_events_by_kind ON life_events (kind, payee, at_ms);

-- RSS/Atom feeds ai-radar reads, with conditional-GET validators and backoff.
CREATE TABLE feeds (
    url           TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,
    next_try_ms   INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    fetched_ms    INTEGER
) STRICT;

CREATE TABLE news_items (
    id           INTEGER PRIMARY KEY,
    url          TEXT NOT NULL UNIQUE,
    title        TEXT NOT NULL,
    title_key    TEXT NOT NULL UNIQUE, -- normalised title: the same story from two feeds
    source       TEXT NOT NULL,
    published_ms INTEGER NOT NULL,
    seen_ms      INTEGER NOT NULL
) STRICT;
CREATE INDEX news_by_time ON news_items (published_ms);
