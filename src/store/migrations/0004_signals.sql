-- 0004: the owner's phones and the signals they send.

CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    secret     TEXT NOT NULL,                -- 256-bit hex; this file is 0600
    mode       TEXT NOT NULL,                -- signed | token
    created_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;

-- Nonces seen per device, kept past the 120 s clock window (240 s) so a replay
-- is refused even across a restart.
CREATE TABLE signal_nonces (
    device_id  TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    seen_at_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, nonce)
) STRICT, WITHOUT ROWID;

CREATE TABLE signals (
    id          INTEGER PRIMARY KEY,
    device_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    app         TEXT,
    detail      TEXT,
    metric      TEXT,
    value       TEXT,
    ts_ms       INTEGER NOT NULL,
    received_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX signals_by_ts ON signals (ts_ms);
