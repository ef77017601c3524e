-- Where a reply goes: the sender's Reply-To if they set one, else From
-- (the address as written, for the SMTP envelope; memory keeps it canonical).
ALTER TABLE email_messages ADD COLUMN reply_address TEXT;
