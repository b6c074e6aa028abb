-- Per-collection counts kept by every write transaction, so that reading them (collection
-- listings, /metrics) never counts a collection's rows; filled from the rows once here.
ALTER TABLE bellhop_collections
    ADD COLUMN document_count bigint NOT NULL DEFAULT 0,
    ADD COLUMN chunk_count bigint NOT NULL DEFAULT 0;
UPDATE bellhop_collections c SET
    document_count = (SELECT count(*) FROM bellhop_documents d WHERE d.collection_id = c.id),
    chunk_count = (SELECT count(*) FROM bellhop_chunks k WHERE k.collection_id = c.id);
