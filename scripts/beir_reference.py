"""Reference retrieval quality of sentence-transformers with exact cosine search on a BEIR dataset.

Reads a BEIR-layout directory (corpus.jsonl, queries.jsonl, qrels/test.tsv), embeds every passage
("title text", or just "text" when the title is empty) and every judged query with
sentence-transformers, ranks the whole corpus for each query by cosine similarity (dot product of
normalized vectors, ties broken by corpus order), and reports nDCG@k, Recall@k and MRR@k averaged
over the queries that appear both in the qrels and in queries.jsonl. The metrics follow trec_eval
conventions as BEIR reports them: nDCG with linear gain (gain = relevance grade, discount
log2(rank + 1), ideal ranking from all judged documents of the query); for Recall and MRR only
grades > 0 count as relevant.

Usage:
    python scripts/beir_reference.py --dataset DIR --model MODEL_DIR \
        [--k 10] [--output RESULT.json] [--run-output RUN.tsv] [--device cpu]

The result JSON is printed to stdout and, with --output, written to a file. --run-output writes the
top-k ranking of each query as "query_id<TAB>doc_id<TAB>rank<TAB>score" lines.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

Qrels = dict[str, dict[str, int]]
Ranking = list[tuple[str, float]]


@dataclass(frozen=True)
class Dataset:
    doc_ids: list[str]
    passages: list[str]
    queries: dict[str, str]
    qrels: Qrels


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def passage_text(record: dict) -> str:
    title = (record.get("title") or "").strip()
    text = record.get("text") or ""
    return f"{title} {text}" if title else text


def read_qrels(path: Path) -> Qrels:
    """Reads query-id, corpus-id, score rows; a leading header line is skipped if present."""
    qrels: Qrels = {}
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 3 or not line.strip():
                continue
            query_id, doc_id, grade = fields[0], fields[1], fields[2]
            if line_no == 0 and query_id == "query-id":
                continue
            qrels.setdefault(query_id, {})[doc_id] = int(grade)
    return qrels


def load_dataset(directory: Path, split: str = "test") -> Dataset:
    corpus = read_jsonl(directory / "corpus.jsonl")
    queries = {str(r["_id"]): r["text"] for r in read_jsonl(directory / "queries.jsonl")}
    qrels = read_qrels(directory / "qrels" / f"{split}.tsv")
    return Dataset(
        doc_ids=[str(r["_id"]) for r in corpus],
        passages=[passage_text(r) for r in corpus],
        queries=queries,
        qrels=qrels,
    )


def search(query_vectors: np.ndarray, doc_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by dot product; returns (indices, scores), ties broken by corpus order."""
    scores = query_vectors @ doc_vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


def query_metrics(ranking: Ranking, judgments: dict[str, int], k: int) -> dict[str, float]:
    """nDCG@k, Recall@k and MRR@k of one ranked list against one query's judgments."""
    top = [doc_id for doc_id, _ in ranking[:k]]
    gains = [max(judgments.get(doc_id, 0), 0) for doc_id in top]
    dcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, start=1))
    ideal = sorted((g for g in judgments.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, start=1))
    num_relevant = sum(1 for g in judgments.values() if g > 0)
    retrieved_relevant = sum(1 for g in gains if g > 0)
    first_relevant = next((rank for rank, g in enumerate(gains, start=1) if g > 0), None)
    return {
        f"ndcg@{k}": dcg / idcg if idcg > 0 else 0.0,
        f"recall@{k}": retrieved_relevant / num_relevant if num_relevant else 0.0,
        f"mrr@{k}": 1.0 / first_relevant if first_relevant else 0.0,
    }


def mean_metrics(rankings: dict[str, Ranking], qrels: Qrels, k: int) -> dict[str, float]:
    per_query = [query_metrics(rankings[qid], qrels[qid], k) for qid in rankings]
    names = [f"ndcg@{k}", f"recall@{k}", f"mrr@{k}"]
    return {name: sum(m[name] for m in per_query) / len(per_query) for name in names}


def write_run(path: Path, rankings: dict[str, Ranking]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for query_id, ranking in rankings.items():
            for rank, (doc_id, score) in enumerate(ranking, start=1):
                f.write(f"{query_id}\t{doc_id}\t{rank}\t{score!r}\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="BEIR-layout dataset directory")
    parser.add_argument("--model", type=Path, required=True, help="sentence-transformers model directory")
    parser.add_argument("--k", type=int, default=10, help="ranking cutoff (default 10)")
    parser.add_argument("--output", type=Path, help="write the result JSON here too")
    parser.add_argument("--run-output", type=Path, help="write the top-k rankings as TSV here")
    parser.add_argument("--device", help="torch device (default: sentence-transformers' choice)")
    parser.add_argument("--batch-size", type=int, default=32, help="encoding batch size (default 32)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data = load_dataset(args.dataset)
    query_ids = [qid for qid in data.queries if qid in data.qrels]
    if not query_ids:
        sys.exit("no query appears in both queries.jsonl and the qrels")

    model = SentenceTransformer(str(args.model), device=args.device)
    encode = dict(batch_size=args.batch_size, convert_to_numpy=True, normalize_embeddings=True)
    started = time.perf_counter()
    doc_vectors = model.encode(data.passages, **encode)
    query_vectors = model.encode([data.queries[qid] for qid in query_ids], **encode)
    encode_seconds = time.perf_counter() - started

    indices, scores = search(query_vectors, doc_vectors, args.k)
    rankings: dict[str, Ranking] = {
        qid: [(data.doc_ids[i], float(s)) for i, s in zip(indices[row], scores[row])]
        for row, qid in enumerate(query_ids)
    }

    result = {
        "model": str(args.model),
        "dataset": str(args.dataset),
        "queries": len(query_ids),
        "corpus": len(data.doc_ids),
        **mean_metrics(rankings, data.qrels, args.k),
        "encode_seconds": encode_seconds,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    if args.run_output:
        write_run(args.run_output, rankings)


if __name__ == "__main__":
    main()
