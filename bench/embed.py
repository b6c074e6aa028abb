"""Embedding benchmark: bellhop against sentence-transformers, side by side, in one run.

Runs each peer ROUNDS times in fresh processes, alternating, on the same model directory, the
same data and the same thread count, then prints a Markdown table of medians and ratios.

Usage: python bench/embed.py [--rounds 3] [--repeats 10] [--threads 2] [--model DIR]
           [--passages N] [--python PYTHON] [--bellhop EMBED_BENCH]
(bench/embed.sh builds bellhop and sets up the Python peer first.) --passages limits bulk to the
corpus's first N passages, for models too slow to embed all of them in every round.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METRICS = [
    ("query_p50_ms", "query latency p50 (ms)", "lower"),
    ("query_p99_ms", "query latency p99 (ms)", "lower"),
    ("bulk_passages_per_s", "bulk throughput (passages/s)", "higher"),
    ("batched_queries_per_s", "all queries in one call (queries/s)", "higher"),
    ("load_ms", "model load (ms)", "lower"),
    ("peak_rss_mb", "peak RSS (MB)", "lower"),
]


def run(command, env):
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    parser.add_argument("--dataset", default=os.path.join(ROOT, "..", "shared", "data", "msmarco-5k"))
    parser.add_argument("--passages", type=int, default=None)
    parser.add_argument("--python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    parser.add_argument("--bellhop", default=os.path.join(ROOT, "target", "release", "examples", "embed_bench"))
    args = parser.parse_args()
    limit = [] if args.passages is None else [str(args.passages)]

    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    bellhop = [args.bellhop, args.model, args.dataset, str(args.repeats), "all", *limit]
    peer = [args.python, os.path.join(ROOT, "bench", "st_embed_bench.py"),
            args.model, args.dataset, str(args.repeats), str(args.threads), *limit]

    results = {"bellhop": [], "sentence-transformers": []}
    for round_index in range(args.rounds):
        for name, command in (("bellhop", bellhop), ("sentence-transformers", peer)):
            result = run(command, env)
            results[name].append(result)
            print(f"round {round_index + 1} {name}: {json.dumps(result)}", file=sys.stderr)

    print(f"| metric (median of {args.rounds} runs, {args.threads} threads) | bellhop | sentence-transformers | ratio |")
    print("|---|---:|---:|---:|")
    for key, label, better in METRICS:
        ours = statistics.median(r[key] for r in results["bellhop"])
        theirs = statistics.median(r[key] for r in results["sentence-transformers"])
        ratio = theirs / ours if better == "lower" else ours / theirs
        print(f"| {label} | {ours:.1f} | {theirs:.1f} | {ratio:.2f}× |")
    print("\n(ratio > 1 means bellhop is better)")


if __name__ == "__main__":
    main()
