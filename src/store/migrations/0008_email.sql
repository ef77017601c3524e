-- Email beside the message rows: what a chat row cannot hold.
-- One row per Message-ID (the same mail seen in two folders or accounts is one).
CREATE TABLE email_messages (
    message_id   TEXT PRIMARY KEY,
    message_row  INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    account      TEXT NOT NULL,              -- the account name, or `mbox` for an import
    folder       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    in_reply_to  TEXT,
    refs         TEXT NOT NULL,              -- JSON array of Message-IDs
    list_id      TEXT,
    bulk         INTEGER NOT NULL,           -- list, bulk, automatic or no-reply: never drafted to
    attachments  TEXT NOT NULL,              -- JSON [{name, contentType, size}], never opened
    body         TEXT NOT NULL               -- the whole text body; messages.text is the trimmed copy
) STRICT;
CREATE INDEX email_by_row ON email_messages (message_row);

-- The IMAP reader's place per (account, folder): written in the same
-- transaction as the rows it read, so a crash never skips or doubles a mail.
CREATE TABLE email_cursors (
    account      TEXT NOT NULL,
    folder       TEXT NOT NULL,
    uid_validity INTEGER NOT NULL,
    last_uid     INTEGER NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (account, folder)
) STRICT;
