"""Semantic search over a table of embedded chunks: FastAPI, sentence-transformers, pgvector.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bellhop MODEL=models/all-MiniLM-L6-v2 \
        uvicorn app:app --host 127.0.0.1 --port 8000

The collection in the path is the one `load.py` filled (`COLLECTION`, default `msmarco`);
hits come back in the shape of bellhop's `POST /v1/collections/{name}/search`.
"""

import os
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, Field
from sentence_transformers import SentenceTransformer

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bellhop")
MODEL = os.environ.get("MODEL", "models/all-MiniLM-L6-v2")
COLLECTION = os.environ.get("COLLECTION", "msmarco")
POOL_SIZE = int(os.environ.get("POOL_SIZE", "10"))

SEARCH_SQL = """
    SELECT id, document_id, title, text, embedding <=> %(query)s AS distance
    FROM chunks
    ORDER BY embedding <=> %(query)s
    LIMIT %(k)s
"""

state = {}


def configure(connection):
    register_vector(connection)


@asynccontextmanager
async def lifespan(_app):
    state["model"] = SentenceTransformer(MODEL, device="cpu")
    state["pool"] = ConnectionPool(
        DATABASE_URL, min_size=2, max_size=POOL_SIZE, configure=configure, open=True
    )
    yield
    state["pool"].close()


app = FastAPI(title="search prototype", lifespan=lifespan)


class SearchRequest(BaseModel):
    query: str = Field(min_length=1)
    k: int = Field(default=5, ge=1, le=100)
    # Accepted for compatibility with bellhop's API; the prototype only does dense search.
    mode: str = "dense"


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/v1/collections/{name}/search")
def search(name: str, request: SearchRequest):
    if name != COLLECTION:
        raise HTTPException(status_code=404, detail=f"collection {name} not found")
    started = time.perf_counter()
    embedding = state["model"].encode(request.query, normalize_embeddings=True)
    embedded = time.perf_counter()
    with state["pool"].connection() as connection:
        rows = connection.execute(SEARCH_SQL, {"query": embedding, "k": request.k}).fetchall()
    searched = time.perf_counter()
    hits = []
    for rank, (chunk_id, document_id, title, text, distance) in enumerate(rows, start=1):
        score = 1.0 - float(distance)
        hits.append(
            {
                "chunk_id": chunk_id,
                "document_id": document_id,
                "title": title,
                "section": [],
                "text": text,
                "source": "",
                "metadata": {},
                "score": score,
                "found_by": [{"retriever": "dense", "rank": rank, "score": score}],
            }
        )
    return {
        "hits": hits,
        "cached": False,
        "timings": {
            "embed_ms": (embedded - started) * 1e3,
            "search_ms": (searched - embedded) * 1e3,
            "total_ms": (time.perf_counter() - started) * 1e3,
        },
    }
