-- The owner's documents (issue 17): one row per file under a configured root,
-- its extracted text searchable through FTS5. `readable = 0` marks a file that is
-- listed but not read (an image without the `ocr` feature).
CREATE TABLE documents (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    pages       INTEGER,
    readable    INTEGER NOT NULL DEFAULT 1,
    body        TEXT NOT NULL DEFAULT '',
    modified_at TEXT NOT NULL,
    indexed_at  TEXT NOT NULL
);

CREATE VIRTUAL TABLE documents_fts USING fts5 (
    path, body,
    content = 'documents', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- `rank` is BM25 with the file name weighted double, so ORDER BY rank LIMIT n
-- needs no auxiliary call per matching row.
INSERT INTO documents_fts (documents_fts, rank) VALUES ('rank', 'bm25(2.0, 1.0)');

CREATE TRIGGER documents_ai AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts (rowid, path, body) VALUES (new.id, new.path, new.body);
END;
CREATE TRIGGER documents_ad AFTER DELETE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, path, body) VALUES ('delete', old.id, old.path, old.body);
END;
CREATE TRIGGER documents_au AFTER UPDATE ON documents BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, path, body) VALUES ('delete', old.id, old.path, old.body);
    INSERT INTO documents_fts (rowid, path, body) VALUES (new.id, new.path, new.body);
END;
