"""Embedding benchmark: bellhop against sentence-transformers on torch and on ONNX Runtime (f32 and
int8), side by side, in one run.

Runs each peer ROUNDS times in fresh processes, alternating, on the same model, the same data and
the same thread count, then prints a Markdown table of medians and ratios, and how close the ONNX
peers' query vectors are to torch's.

Usage: python bench/embed.py [--rounds 3] [--repeats 10] [--threads 2] [--model DIR]
           [--passages N] [--peers bellhop,torch,onnx,onnx-int8] [--python PYTHON]
           [--bellhop EMBED_BENCH] [--onnx-dir DIR]
(bench/embed.sh builds bellhop, sets up the Python peers and exports the ONNX models first.)
--passages limits bulk to the corpus's first N passages, for models too slow to embed all of them
in every round. --peers runs a subset; the ONNX peers load the copy that bench/onnx_export.py
made of the model directory (--onnx-dir, by default where that script puts it).
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

from onnx_export import FILES, cache_dir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METRICS = [
    ("query_p50_ms", "query latency p50 (ms)", "lower"),
    ("query_p99_ms", "query latency p99 (ms)", "lower"),
    ("bulk_passages_per_s", "bulk throughput (passages/s)", "higher"),
    ("batched_queries_per_s", "all queries in one call (queries/s)", "higher"),
    ("load_ms", "model load (ms)", "lower"),
    ("peak_rss_mb", "peak RSS (MB)", "lower"),
]
# Peer name, its column heading; the sentence-transformers ones are named after their backend.
PEERS = [
    ("bellhop", "bellhop"),
    ("torch", "ST torch"),
    ("onnx", "ST ONNX f32"),
    ("onnx-int8", "ST ONNX int8"),
]
# Bellhop is compared with these peers, the nearest in kind and the usual default.
RATIOS = [("onnx", "vs ONNX f32"), ("torch", "vs torch")]


def run(command, env):
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


def cosines(vectors, reference):
    """Cosine of each vector to the reference vector of the same query."""
    result = []
    for a, b in zip(vectors, reference, strict=True):
        dot = sum(x * y for x, y in zip(a, b))
        result.append(dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))))
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    parser.add_argument("--dataset", default=os.path.join(ROOT, "..", "shared", "data", "msmarco-5k"))
    parser.add_argument("--passages", type=int, default=None)
    parser.add_argument("--peers", default=",".join(name for name, _ in PEERS),
                        help="comma-separated subset of " + ", ".join(name for name, _ in PEERS))
    parser.add_argument("--python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    parser.add_argument("--bellhop", default=os.path.join(ROOT, "target", "release", "examples", "embed_bench"))
    parser.add_argument("--onnx-dir", default=None, help="the ONNX copy of --model")
    args = parser.parse_args()
    limit = [] if args.passages is None else [str(args.passages)]
    chosen = args.peers.split(",")
    unknown = set(chosen) - {name for name, _ in PEERS}
    if unknown:
        parser.error(f"unknown peers: {', '.join(sorted(unknown))}")
    peers = [(name, heading) for name, heading in PEERS if name in chosen]
    onnx_dir = args.onnx_dir or cache_dir(args.model)
    for name, _ in peers:
        if name in FILES and not os.path.isfile(os.path.join(onnx_dir, "onnx", FILES[name])):
            sys.exit(f"{onnx_dir}/onnx/{FILES[name]} is missing: run bench/onnx_export.py {args.model}")

    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    results = {name: [] for name, _ in peers}
    with tempfile.TemporaryDirectory(prefix="bellhop-embed-") as vectors_dir:
        commands = {}
        for name, _ in peers:
            if name == "bellhop":
                commands[name] = [args.bellhop, args.model, args.dataset, str(args.repeats), "all", *limit]
            else:
                commands[name] = [args.python, os.path.join(ROOT, "bench", "st_embed_bench.py"),
                                  args.model if name == "torch" else onnx_dir, args.dataset,
                                  str(args.repeats), str(args.threads), *limit, "--backend", name,
                                  "--vectors", os.path.join(vectors_dir, f"{name}.json")]
        for round_index in range(args.rounds):
            for name, _ in peers:
                result = run(commands[name], env)
                results[name].append(result)
                print(f"round {round_index + 1} {name}: {json.dumps(result)}", file=sys.stderr)
        vectors = {}
        for name in results:
            if name != "bellhop":
                with open(os.path.join(vectors_dir, f"{name}.json"), encoding="utf-8") as f:
                    vectors[name] = json.load(f)

    ratios = [(peer, heading) for peer, heading in RATIOS if "bellhop" in results and peer in results]
    headings = [heading for _, heading in peers] + [f"bellhop {heading}" for _, heading in ratios]
    print(f"| metric (median of {args.rounds} runs, {args.threads} threads) | " + " | ".join(headings) + " |")
    print("|---|" + "---:|" * len(headings))
    for key, label, better in METRICS:
        medians = {name: statistics.median(r[key] for r in results[name]) for name, _ in peers}
        cells = [f"{medians[name]:.1f}" for name, _ in peers]
        for peer, _ in ratios:
            ours, theirs = medians["bellhop"], medians[peer]
            cells.append(f"{theirs / ours if better == 'lower' else ours / theirs:.2f}×")
        print(f"| {label} | " + " | ".join(cells) + " |")
    if ratios:
        print("\n(ratio > 1 means bellhop is better)")

    compared = [(name, heading) for name, heading in peers if name in FILES and "torch" in results]
    if compared:
        reference = vectors["torch"]
        print(f"\n| cosine to ST torch's query vectors ({len(reference)} queries) | mean | min |")
        print("|---|---:|---:|")
        for name, heading in compared:
            values = cosines(vectors[name], reference)
            print(f"| {heading} | {statistics.fmean(values):.6f} | {min(values):.6f} |")


if __name__ == "__main__":
    main()
