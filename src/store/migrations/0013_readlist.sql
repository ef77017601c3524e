-- "save 2" on the numbered news list keeps the story on the owner's readlist.
ALTER TABLE news_items ADD COLUMN saved_ms INTEGER;
CREATE INDEX news_saved ON news_items (saved_ms) WHERE saved_ms IS NOT NULL;
