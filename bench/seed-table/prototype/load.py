"""Loads a BEIR corpus into the `chunks` table: embeds each passage and builds the HNSW index.

    python load.py ../shared/data/msmarco-5k/corpus.jsonl \
        --database-url postgres://postgres@127.0.0.1:5432/bellhop --model models/all-MiniLM-L6-v2

The table is emptied first, so a second run gives the same table.
"""

import argparse
import json
import time

import psycopg
from pgvector.psycopg import register_vector
from sentence_transformers import SentenceTransformer

SCHEMA = """
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE IF NOT EXISTS chunks (
        id bigserial PRIMARY KEY,
        document_id text NOT NULL,
        title text NOT NULL,
        text text NOT NULL,
        embedding vector(384) NOT NULL
    );
"""
INDEX = "CREATE INDEX IF NOT EXISTS chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops)"


def read_corpus(path):
    with open(path, encoding="utf-8") as corpus:
        for line in corpus:
            if line.strip():
                record = json.loads(line)
                title = record.get("title") or ""
                text = record.get("text") or ""
                yield record["_id"], title, f"{title} {text}" if title else text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", help="a BEIR corpus.jsonl")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--model", default="models/all-MiniLM-L6-v2")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    started = time.perf_counter()
    records = list(read_corpus(args.corpus))
    model = SentenceTransformer(args.model, device="cpu")
    embeddings = model.encode(
        [passage for _, _, passage in records],
        batch_size=args.batch_size,
        normalize_embeddings=True,
        show_progress_bar=False,
    )
    embedded = time.perf_counter()

    with psycopg.connect(args.database_url, autocommit=True) as connection:
        connection.execute(SCHEMA)
        register_vector(connection)
        connection.execute("DROP INDEX IF EXISTS chunks_embedding")
        connection.execute("TRUNCATE chunks RESTART IDENTITY")
        with connection.cursor() as cursor:
            with cursor.copy(
                "COPY chunks (document_id, title, text, embedding) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["text", "text", "text", "vector"])
                for (document_id, title, passage), embedding in zip(records, embeddings):
                    copy.write_row([document_id, title, passage, embedding])
        connection.execute(INDEX)
        connection.execute("ANALYZE chunks")
    print(
        json.dumps(
            {
                "chunks": len(records),
                "embed_s": round(embedded - started, 1),
                "load_s": round(time.perf_counter() - embedded, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
