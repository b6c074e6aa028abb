-- The question log: one row per answer given, with the guest's feedback on it. No column
-- says who asked; rows past their collection's retention are deleted by the server.
CREATE TABLE bellhop_answers (
    id text PRIMARY KEY,
    collection_id bigint NOT NULL REFERENCES bellhop_collections (id) ON DELETE CASCADE,
    question text NOT NULL,
    answer text NOT NULL,
    abstained boolean NOT NULL,
    cited_documents jsonb NOT NULL,
    language text,
    asked_at bigint NOT NULL,
    rating text CHECK (rating IN ('up', 'down')),
    comment text,
    rated_at bigint
);
CREATE INDEX bellhop_answers_by_time ON bellhop_answers (collection_id, asked_at);
