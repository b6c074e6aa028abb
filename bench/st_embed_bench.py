"""sentence-transformers side of bench/embed.py: the same measurements as
crates/bellhop-embed/examples/embed_bench.rs, printed as one JSON object.

Usage: python st_embed_bench.py MODEL_DIR DATASET_DIR REPEATS THREADS [PASSAGES]
           [--backend torch|onnx|onnx-int8] [--vectors FILE]

Queries go through encode_query and passages through encode_document, which put the model's
prompts before them (none for models without prompts), as bellhop's benchmark does.

The ONNX backends run on ONNX Runtime from a copy that bench/onnx_export.py prepared (MODEL_DIR is
that copy), f32 or int8. --vectors writes the query vectors as JSON, so that embed.py can compare
the backends' output.
"""

import argparse
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


def load(model_dir, backend, threads):
    """Loads the model on the backend; returns it and the thread count its inference runs on."""
    import torch
    from sentence_transformers import SentenceTransformer

    # Pooling and normalizing stay on torch with every backend.
    torch.set_num_threads(threads)
    if backend == "torch":
        return SentenceTransformer(model_dir, device="cpu"), torch.get_num_threads()

    import onnxruntime
    from onnx_export import FILES

    # ONNX Runtime sizes its own thread pool from the cores, not from OMP_NUM_THREADS.
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if not os.path.isfile(os.path.join(model_dir, "onnx", FILES[backend])):
        sys.exit(f"{model_dir}/onnx/{FILES[backend]} is missing: run bench/onnx_export.py first")
    model = SentenceTransformer(model_dir, device="cpu", backend="onnx", model_kwargs={
        "file_name": FILES[backend],
        "provider": "CPUExecutionProvider",
        "session_options": options,
    })
    session = model[0].auto_model.session
    return model, session.get_session_options().intra_op_num_threads


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("dataset")
    parser.add_argument("repeats", type=int)
    parser.add_argument("threads", type=int)
    parser.add_argument("passages", type=int, nargs="?", default=None)
    parser.add_argument("--backend", choices=("torch", "onnx", "onnx-int8"), default="torch")
    parser.add_argument("--vectors", help="write the query vectors to this file, as JSON")
    args = parser.parse_args()
    dataset, repeats, passage_limit = args.dataset, args.repeats, args.passages

    started = time.perf_counter()
    model, threads = load(args.model_dir, args.backend, args.threads)
    load_ms = (time.perf_counter() - started) * 1e3

    queries = read_texts(os.path.join(dataset, "queries.jsonl"))
    passages = read_texts(os.path.join(dataset, "corpus.jsonl"))[:passage_limit]

    model.encode_query(queries)
    t = time.perf_counter()
    for _ in range(repeats):
        query_vectors = model.encode_query(queries, batch_size=len(queries))
    batched = repeats * len(queries) / (time.perf_counter() - t)
    if args.vectors:
        with open(args.vectors, "w", encoding="utf-8") as f:
            json.dump(query_vectors.tolist(), f)

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
        "backend": args.backend,
        "load_ms": load_ms,
        "query_p50_ms": percentile(latencies, 50),
        "query_p99_ms": percentile(latencies, 99),
        "bulk_passages_per_s": throughput,
        "batched_queries_per_s": batched,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": threads,
    }))


if __name__ == "__main__":
    main()
