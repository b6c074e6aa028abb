"""sentence-transformers side of bench/embed.py: the same measurements as
crates/bellhop-embed/examples/embed_bench.rs, printed as one JSON object.

Usage: python st_embed_bench.py MODEL_DIR DATASET_DIR REPEATS THREADS [PASSAGES]

Queries go through encode_query and passages through encode_document, which put the model's
prompts before them (none for models without prompts), as bellhop's benchmark does.
"""

import json
import os
import resource
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def read_texts(path):
    texts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            title = record.get("title") or ""
            text = record.get("text") or ""
            texts.append(f"{title} {text}" if title else text)
    return texts


def percentile(sorted_values, p):
    rank = max(1, min(len(sorted_values), -(-len(sorted_values) * p // 100)))
    return sorted_values[int(rank) - 1]


def main():
    model_dir, dataset, repeats, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    passage_limit = int(sys.argv[5]) if len(sys.argv) > 5 else None
    import torch

    torch.set_num_threads(threads)
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    model = SentenceTransformer(model_dir, device="cpu")
    load_ms = (time.perf_counter() - started) * 1e3

    queries = read_texts(os.path.join(dataset, "queries.jsonl"))
    passages = read_texts(os.path.join(dataset, "corpus.jsonl"))[:passage_limit]

    model.encode_query(queries)
    t = time.perf_counter()
    for _ in range(repeats):
        model.encode_query(queries, batch_size=len(queries))
    batched = repeats * len(queries) / (time.perf_counter() - t)

    model.encode_query([queries[0]])
    latencies = []
    for _ in range(repeats):
        for query in queries:
            t = time.perf_counter()
            model.encode_query([query])
            latencies.append((time.perf_counter() - t) * 1e3)
    latencies.sort()

    t = time.perf_counter()
    vectors = model.encode_document(passages, batch_size=32)
    assert len(vectors) == len(passages)
    throughput = len(passages) / (time.perf_counter() - t)

    print(json.dumps({
        "load_ms": load_ms,
        "query_p50_ms": percentile(latencies, 50),
        "query_p99_ms": percentile(latencies, 99),
        "bulk_passages_per_s": throughput,
        "batched_queries_per_s": batched,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
