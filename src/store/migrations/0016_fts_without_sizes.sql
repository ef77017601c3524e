-- The messages' full-text index without its per-message size table
-- (columnsize = 0). Only bm25 ranking reads those sizes, and nothing ranks
-- messages by it: matches come newest first (ORDER BY rowid). Writing a size
-- row per message was about 45% of building the index in a first import
-- (issue 19). The index is rebuilt over exactly the rows the old one held (up
-- to its mark); later rows are indexed by the next write batch as before.
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, person_id, content = 'messages', content_rowid = 'id', columnsize = 0
);
INSERT INTO messages_fts (rowid, text, person_id)
    SELECT id, text, person_id FROM messages
    WHERE id <= COALESCE((SELECT value FROM source_cursors WHERE source = 'fts.messages'), 0)
    ORDER BY id;
