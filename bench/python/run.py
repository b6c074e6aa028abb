"""The Python package against sentence-transformers, in one Python process.

`bellhop.Embedder.embed` and `SentenceTransformer.encode` on the same model directory, the
same threads: bulk throughput on the msmarco-5k passages, and the latency of the 50 queries
embedded one by one. Rounds alternate between the two; the table gives medians over rounds.

Usage: python bench/python/run.py [--rounds 3] [--repeats 5] [--threads 2]
(bench/python/run.sh installs both into .venv first.)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]


def read_texts(path: Path) -> list[str]:
    texts = []
    # Line by line on "\n" only: str.splitlines() would also split on separators that
    # passages contain inside their JSON strings.
    with path.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    for record in records:
        title, text = record.get("title") or "", record.get("text") or ""
        texts.append(f"{title} {text}" if title else text)
    return texts


def measure(embed, queries: list[str], passages: list[str], repeats: int) -> dict:
    embed([queries[0]])
    latencies = []
    for _ in range(repeats):
        for query in queries:
            started = time.perf_counter()
            embed([query])
            latencies.append((time.perf_counter() - started) * 1e3)
    started = time.perf_counter()
    vectors = embed(passages)
    throughput = len(passages) / (time.perf_counter() - started)
    assert vectors.shape[0] == len(passages)
    return {
        "query_p50_ms": statistics.median(latencies),
        "bulk_passages_per_s": throughput,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    parser.add_argument("--dataset", default=str(ROOT.parent / "shared" / "data" / "msmarco-5k"))
    args = parser.parse_args()

    import bellhop
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    queries = read_texts(Path(args.dataset) / "queries.jsonl")
    passages = read_texts(Path(args.dataset) / "corpus.jsonl")

    started = time.perf_counter()
    ours = bellhop.Embedder(args.model)
    ours_load_ms = (time.perf_counter() - started) * 1e3
    started = time.perf_counter()
    theirs = SentenceTransformer(args.model, device="cpu")
    theirs_load_ms = (time.perf_counter() - started) * 1e3

    sample = passages[:200]
    a, b = ours.embed(sample), theirs.encode(sample, convert_to_numpy=True)
    cosine = float(
        np.min(np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))
    )

    runs: dict[str, list[dict]] = {"bellhop": [], "sentence-transformers": []}
    for _ in range(args.rounds):
        runs["bellhop"].append(measure(ours.embed, queries, passages, args.repeats))
        runs["sentence-transformers"].append(
            measure(
                lambda t: theirs.encode(t, batch_size=32, convert_to_numpy=True),
                queries,
                passages,
                args.repeats,
            )
        )

    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    summary = {
        "date": datetime.date.today().isoformat(),
        "threads": args.threads,
        "rounds": args.rounds,
        "min_cosine_first_200_passages": cosine,
        "load_ms": {"bellhop": ours_load_ms, "sentence-transformers": theirs_load_ms},
        "runs": runs,
    }
    out = ROOT / "bench" / "python"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"results-{summary['date']}.json").write_text(json.dumps(summary, indent=2) + "\n")

    q_ours, q_theirs = (
        median("bellhop", "query_p50_ms"),
        median("sentence-transformers", "query_p50_ms"),
    )
    b_ours, b_theirs = (
        median("bellhop", "bulk_passages_per_s"),
        median("sentence-transformers", "bulk_passages_per_s"),
    )
    print(
        f"| metric (median of {args.rounds} rounds, {args.threads} threads) | bellhop.Embedder | SentenceTransformer | ratio |"
    )
    print("|---|---:|---:|---:|")
    print(
        f"| query latency p50, one by one (ms) | {q_ours:.2f} | {q_theirs:.2f} | {q_theirs / q_ours:.2f}x |"
    )
    print(
        f"| bulk throughput, 5,000 passages (passages/s) | {b_ours:.1f} | {b_theirs:.1f} | {b_ours / b_theirs:.2f}x |"
    )
    print(
        f"| model load (ms) | {ours_load_ms:.0f} | {theirs_load_ms:.0f} | {theirs_load_ms / ours_load_ms:.2f}x |"
    )
    print(f"\nlowest cosine between the two on 200 passages: {cosine:.6f}")


if __name__ == "__main__":
    main()
