-- 0010: the Telegram bridge. The bot's messages to the owner that carry
-- controls: a draft's Send / Edit / Drop buttons (kind 'asks', edited in place
-- to show the outcome once decided) and the "new text?" question an Edit press
-- opens (kind 'edit', answered by the owner's reply to it).
CREATE TABLE telegram_prompts (
    chat_id      INTEGER NOT NULL,
    message_id   INTEGER NOT NULL,
    kind         TEXT NOT NULL,          -- asks | edit
    confirmation TEXT NOT NULL,
    text         TEXT NOT NULL,
    settled      INTEGER NOT NULL DEFAULT 0,
    at_ms        INTEGER NOT NULL,
    PRIMARY KEY (chat_id, message_id)
) STRICT;
CREATE INDEX telegram_prompts_by_confirmation ON telegram_prompts (confirmation, kind);
