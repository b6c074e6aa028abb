"""Search latency at one connection, per mode, with unique queries and the caches off.

Ingests msmarco-5k into a data directory of its own (skipped when unchanged), serves it with
`bellhop serve --no-cache`, and sends each query once over one keep-alive connection: the
default mode (hybrid, what `/ask` uses), dense and keyword, each on its own third of the
queries. The queries are the dataset's and the first six words of its first passages, so that
none repeats. Prints one line per mode: queries, p50 and p95 in milliseconds.

Usage: python3 bench/one_connection.py [--bin target/release/bellhop]
           [--dataset ../shared/data/msmarco-5k] [--queries 500]
"""

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import free_port, stop_process, unique_queries  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = "msmarco"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=str(ROOT / "target" / "release" / "bellhop"))
    parser.add_argument("--dataset", default=str(ROOT.parent / "shared" / "data" / "msmarco-5k"))
    parser.add_argument("--data-dir", default=str(ROOT / "target" / "bench-one-connection"))
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    dataset = Path(args.dataset)
    subprocess.run(
        [args.bin, "ingest", str(dataset / "corpus.jsonl"), "--collection", COLLECTION,
         "--data-dir", args.data_dir],
        check=True, stdout=sys.stderr,
    )
    queries = unique_queries(dataset, args.queries)

    port = free_port()
    log = open(Path(args.data_dir) / "serve.log", "w")
    server = subprocess.Popen(
        [args.bin, "serve", "--data-dir", args.data_dir, "--addr", f"127.0.0.1:{port}",
         "--no-cache", "--log", "warn"],
        stdout=log, stderr=log, start_new_session=True,
    )
    try:
        connection = wait_for(port, server)

        def search(query, mode):
            body = {"query": query, "k": 10}
            if mode != "default":
                body["mode"] = mode
            started = time.perf_counter()
            connection.request("POST", f"/v1/collections/{COLLECTION}/search", json.dumps(body),
                               {"content-type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"search answered {response.status}")
            return (time.perf_counter() - started) * 1e3

        # Warm-up queries are not among the measured ones.
        for query in queries[:20]:
            search(query + " today", "default")
        for offset, mode in enumerate(["default", "dense", "keyword"]):
            latencies = sorted(search(query, mode) for query in queries[offset::3])
            p95 = latencies[int(len(latencies) * 0.95)]
            print(f"{mode}: {len(latencies)} queries, p50 {statistics.median(latencies):.2f} ms, "
                  f"p95 {p95:.2f} ms")
    finally:
        stop_process(server, log)


def wait_for(port, server):
    """A connection to the server once it answers."""
    while True:
        if server.poll() is not None:
            raise SystemExit("the server exited; see serve.log in the data directory")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", f"/v1/collections/{COLLECTION}")
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                return connection
        except OSError:
            pass
        time.sleep(0.2)


if __name__ == "__main__":
    main()
