-- 0001: the store's own bookkeeping. Never edit this file once released;
-- add 0002_*.sql instead (the migration checksum in schema_version catches edits).

-- Small facts about this installation: when it was created, which version last booted.
CREATE TABLE meta (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
