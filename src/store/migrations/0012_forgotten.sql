-- Handles the owner told Steward to forget (`person forget`): a salted SHA-256
-- of the canonical handle, never the handle itself, so the next import or live
-- message from it is dropped instead of bringing the person back.
CREATE TABLE forgotten_handles (
    hash TEXT PRIMARY KEY,
    at   TEXT NOT NULL
);
-- One random salt per store: the hashes of two stores cannot be compared, and
-- a precomputed table of phone-number hashes does not apply.
CREATE TABLE forget_salt (
    salt BLOB NOT NULL
);
INSERT INTO forget_salt (salt) VALUES (randomblob(16));
