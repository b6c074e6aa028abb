#!/usr/bin/env python3
"""Load benchmark of `bellhop serve` on the msmarco-5k corpus, on the path users take.

Closed loop with wrk (1, 10, 100, 500 connections) on `POST /v1/collections/msmarco/search`
in the default mode (hybrid, what `/ask` retrieves with) and on its `/ask`, open loop with
oha at a fixed rate (latency corrected for coordinated omission; skipped when oha is not
installed), peak RSS and cold start, with the caches off and then on. The bodies are unique:
the dataset's queries, then the first six words of its passages, 3,000 in all by default,
rotated. Prints one JSON document.

Usage: python3 bench/load/run.py [--bin target/release/bellhop] [--seconds 20]
           [--dataset ../shared/data/msmarco-5k] [--queries 3000] [--endpoints search,ask]
Needs: a release build of bellhop, wrk (Debian package); oha (cargo install oha) optional.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from serving import unique_queries  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "release" / "bellhop"
COLLECTION = "msmarco"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


class Server:
    def __init__(self, binary, data_dir, cache):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [str(binary), "serve", "--data-dir", str(data_dir), "--addr", f"127.0.0.1:{self.port}", "--log", "warn"]
        if not cache:
            args.append("--no-cache")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE)

    def wait_first_search(self, query):
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"server exited: {self.process.stderr.read().decode()}")
            try:
                status, _ = post(f"{self.url}/v1/collections/{COLLECTION}/search", {"query": query})
                if status == 200:
                    return (time.perf_counter() - self.started) * 1e3
            except OSError:
                pass
            time.sleep(0.002)

    def rss_mb(self, field):
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        return None

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def wrk(url, bodies, connections, seconds):
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "-s", str(Path(__file__).with_name("rotate.lua")), url, "--", str(bodies)],
        capture_output=True, text=True, check=True,
    ).stdout
    summary = json.loads(out.strip().splitlines()[-1])
    seconds_run = summary["duration_us"] / 1e6
    errors = sum(summary[k] for k in summary if k.startswith("errors_"))
    return {
        "connections": connections,
        "requests_per_s": round(summary["requests"] / seconds_run, 1),
        "p50_ms": summary["p50_us"] / 1e3,
        "p90_ms": summary["p90_us"] / 1e3,
        "p99_ms": summary["p99_us"] / 1e3,
        "max_ms": summary["max_us"] / 1e3,
        "requests": summary["requests"],
        "errors": errors,
    }


def oha_open_loop(url, body_file, rate, seconds):
    out = subprocess.run(
        ["oha", "--no-tui", "--output-format", "json", "-z", f"{seconds}s", "-q", str(rate),
         "--latency-correction", "-c", "500", "-m", "POST", "-H", "content-type: application/json",
         "-D", str(body_file), url],
        capture_output=True, text=True, check=True,
    ).stdout
    report = json.loads(out)
    percentiles = report["latencyPercentiles"]
    statuses = report.get("statusCodeDistribution", {})
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "requests_per_s": round(report["summary"]["requestsPerSec"], 1),
        "p50_ms": percentiles["p50"] * 1e3,
        "p90_ms": percentiles["p90"] * 1e3,
        "p99_ms": percentiles["p99"] * 1e3,
        "max_ms": report["summary"]["slowest"] * 1e3,
        "status_codes": statuses,
        # Requests still in flight when the run's time is up are cut off by oha, not failed.
        "errors": sum(n for kind, n in report.get("errorDistribution", {}).items() if "deadline" not in kind)
        + sum(n for code, n in statuses.items() if not code.startswith("2")),
        "error_kinds": report.get("errorDistribution", {}),
    }


ENDPOINTS = {
    "search": (lambda url: f"{url}/v1/collections/{COLLECTION}/search", lambda q: {"query": q, "k": 5}),
    "ask": (lambda url: f"{url}/v1/collections/{COLLECTION}/ask", lambda q: {"question": q}),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=str(BIN))
    parser.add_argument("--dataset", default=str(ROOT.parent / "shared" / "data" / "msmarco-5k"))
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--open-seconds", type=int, default=60)
    parser.add_argument("--connections", default="1,10,100,500")
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--endpoints", default="search,ask")
    parser.add_argument("--caches", default="off,on")
    parser.add_argument("--data-dir", default=str(ROOT / "target" / "bench-load-data"))
    args = parser.parse_args()
    dataset = Path(args.dataset)
    data_dir = Path(args.data_dir)
    # Resumable: an unchanged corpus is skipped.
    subprocess.run(
        [args.bin, "ingest", str(dataset / "corpus.jsonl"), "--collection", COLLECTION,
         "--data-dir", str(data_dir)],
        cwd=ROOT, check=True, stdout=sys.stderr,
    )
    queries = unique_queries(dataset, args.queries)
    work = Path(tempfile.mkdtemp())
    # oha sends one body: the query of median length stands for the rotation.
    median_query = sorted(queries, key=len)[len(queries) // 2]
    results = {
        "machine": os.uname().nodename, "cpus": os.cpu_count(), "queries": len(queries),
        "mode": "default (hybrid)", "runs": {},
    }
    for cache in (c == "on" for c in args.caches.split(",")):
        cold = []
        for _ in range(5):
            server = Server(args.bin, data_dir, cache)
            cold.append(server.wait_first_search(queries[0]))
            server.stop()
        server = Server(args.bin, data_dir, cache)
        server.wait_first_search(queries[0])
        run = {
            "cold_start_ms_median": round(statistics.median(cold), 1),
            "cold_start_ms": [round(c, 1) for c in cold],
            "idle_rss_mb": round(server.rss_mb("VmRSS"), 1),
            "idle_rss_anon_mb": round(server.rss_mb("RssAnon"), 1),
            "endpoints": {},
        }
        for endpoint in args.endpoints.split(","):
            path, body = ENDPOINTS[endpoint]
            url = path(server.url)
            bodies = work / f"{endpoint}.jsonl"
            bodies.write_text("".join(json.dumps(body(q)) + "\n" for q in queries))
            single = work / f"{endpoint}.json"
            single.write_text(json.dumps(body(median_query)))
            closed = [wrk(url, bodies, int(c), args.seconds) for c in args.connections.split(",")]
            open_loop = oha_open_loop(url, single, 100, args.open_seconds) if shutil.which("oha") else None
            run["endpoints"][endpoint] = {"closed_loop": closed, "open_loop": open_loop}
            print(json.dumps({endpoint: closed}), file=sys.stderr)
        run["peak_rss_mb"] = round(server.rss_mb("VmHWM"), 1)
        run["rss_after_mb"] = round(server.rss_mb("VmRSS"), 1)
        # Anonymous memory is the server's own; file pages (the binary, the mapped store) are
        # shared and reclaimable, but count in RSS too.
        run["rss_after_anon_mb"] = round(server.rss_mb("RssAnon"), 1)
        run["rss_after_file_mb"] = round(server.rss_mb("RssFile"), 1)
        server.stop()
        results["runs"]["caches_on" if cache else "caches_off"] = run
        print(json.dumps({k: v for k, v in run.items() if k != "endpoints"}), file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
