-- bellhop's tables. Vectors of every collection share one column without a fixed
-- dimension; each collection gets its own partial HNSW index on the column cast to its
-- dimension (created with the collection), so collections of different models coexist.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE bellhop_collections (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    spec jsonb NOT NULL,
    -- Bumped in every write transaction; replicas key their caches on it.
    version bigint NOT NULL DEFAULT 0,
    created_at bigint NOT NULL
);

CREATE TABLE bellhop_documents (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection_id bigint NOT NULL REFERENCES bellhop_collections (id) ON DELETE CASCADE,
    external_id text NOT NULL,
    title text NOT NULL,
    source text NOT NULL,
    metadata jsonb NOT NULL,
    updated_at bigint NOT NULL,
    UNIQUE (collection_id, external_id)
);
CREATE INDEX bellhop_documents_by_source ON bellhop_documents (collection_id, source);
-- Serves the filters' containment tests (`metadata @> '{"key": value}'`).
CREATE INDEX bellhop_documents_metadata ON bellhop_documents USING gin (metadata jsonb_path_ops);

CREATE TABLE bellhop_chunks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection_id bigint NOT NULL REFERENCES bellhop_collections (id) ON DELETE CASCADE,
    document_id bigint NOT NULL REFERENCES bellhop_documents (id) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    section jsonb NOT NULL,
    text text NOT NULL,
    embedding vector NOT NULL,
    -- Title and section headings weighted B, the body A.
    keywords tsvector NOT NULL
);
CREATE INDEX bellhop_chunks_by_document ON bellhop_chunks (document_id);
CREATE INDEX bellhop_chunks_by_collection ON bellhop_chunks (collection_id);
CREATE INDEX bellhop_chunks_keywords ON bellhop_chunks USING gin (keywords);

CREATE TABLE bellhop_sources (
    collection_id bigint NOT NULL REFERENCES bellhop_collections (id) ON DELETE CASCADE,
    name text NOT NULL,
    content_hash text NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (collection_id, name)
);
