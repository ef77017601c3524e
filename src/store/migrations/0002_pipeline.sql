-- 0002: the governed run pipeline. Money is integer micro-dollars (1e-6 USD)
-- so budget sums are exact and a hard cap can be compared without rounding.

CREATE TABLE runs (
    id              TEXT PRIMARY KEY,
    agent           TEXT NOT NULL,
    trigger         TEXT NOT NULL,          -- owner | contact | schedule | signal | manual
    actor           TEXT NOT NULL,          -- who asked, e.g. console:owner, imessage:phone:+1…
    dedup_key       TEXT UNIQUE,            -- the same key never runs twice
    input           TEXT NOT NULL,
    plan            TEXT NOT NULL,          -- JSON array of effects
    status          TEXT NOT NULL,          -- running | waiting | succeeded | refused | failed | expired
    reason          TEXT,
    day             TEXT NOT NULL,          -- the owner's local day the budget counts against
    forecast_micros INTEGER NOT NULL DEFAULT 0,
    reserved_micros INTEGER NOT NULL DEFAULT 0,
    cost_micros     INTEGER NOT NULL DEFAULT 0,
    tokens_in       INTEGER NOT NULL DEFAULT 0,
    tokens_out      INTEGER NOT NULL DEFAULT 0,
    model           TEXT,
    provider        TEXT,
    started_at      TEXT NOT NULL,
    finished_at     TEXT
) STRICT;
CREATE INDEX runs_by_agent ON runs (agent, started_at);
CREATE INDEX runs_by_status ON runs (status);

-- Each run's events in order; journalHash is computed over these rows.
CREATE TABLE journal (
    run_id  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) STRICT, WITHOUT ROWID;

-- Idempotency ledger for side effects: (run_id, step, attempt) is written as
-- 'intended' before the effect runs and 'done' after; a done step never reruns.
CREATE TABLE steps (
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    attempt    INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,               -- intended | done | failed
    result     TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (run_id, step, attempt)
) STRICT;

-- The tamper-evident audit chain: hash = SHA-256(canonical row without hash).
-- No foreign key: the chain outlives the rows it speaks of.
CREATE TABLE audit (
    seq            INTEGER PRIMARY KEY,
    ts             TEXT NOT NULL,
    run_id         TEXT,
    kind           TEXT NOT NULL,
    actor          TEXT NOT NULL,
    subject        TEXT NOT NULL,
    decision       TEXT NOT NULL,
    payload_digest TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
) STRICT;

CREATE TABLE receipts (
    run_id    TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    payload   TEXT NOT NULL,                -- canonical JSON, exactly as signed
    signature TEXT NOT NULL,                -- base64
    algorithm TEXT NOT NULL
) STRICT;

CREATE TABLE confirmations (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step        INTEGER NOT NULL,
    agent       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    text        TEXT NOT NULL,              -- the draft, exactly as proposed
    status      TEXT NOT NULL,              -- pending | approved | edited | rejected | expired
    final_text  TEXT,                       -- what will be sent (the edit, if edited)
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    decided_at  TEXT,
    decided_by  TEXT
) STRICT;
CREATE INDEX confirmations_pending ON confirmations (status, expires_at);

-- Spend per scope ('global' or 'agent:<name>') per owner-local day.
CREATE TABLE budget_usage (
    scope           TEXT NOT NULL,
    day             TEXT NOT NULL,
    spent_micros    INTEGER NOT NULL DEFAULT 0,
    reserved_micros INTEGER NOT NULL DEFAULT 0,
    runs            INTEGER NOT NULL DEFAULT 0,
    notified        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, day)
) STRICT;
