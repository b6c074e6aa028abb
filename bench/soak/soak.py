#!/usr/bin/env python3
"""Soak of `bellhop serve --demo`: many concurrent clients for minutes, mixing searches, answers
(streamed and whole) and ingestion, sampling the server's memory, open files and threads and
the latency of each interval.

Each client is a closed loop over one keep-alive connection pool: it picks an operation, sends
it, waits for the whole answer (an answer stream to its `done` event), pauses 0–200 ms like a
person between messages, and goes again. Questions come from the demo hotel's evaluation set,
each with a random room number, so that few repeat and the caches do not answer them all.
Documents are written to a collection of their own, replacing one of 200 ids each time, so
that the stored data stays the same size and memory should stay flat.

    python3 bench/soak/soak.py --bin target/release/bellhop --clients 500 --minutes 10

Writes `samples.jsonl` (one line per interval), `summary.json` and `soak.png` (RSS and p99 over
time) into `--out`, and prints the summary. Exits 1 when any answer was a 5xx or a transport
error, or when RSS after the warm-up left ±10 % of its median. Needs aiohttp and matplotlib
(`pip install aiohttp matplotlib`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = "demo-hotel"
NOTES = "soak-notes"
# Share of each operation in the mix.
MIX = [
    ("search", 0.40),
    ("ask", 0.25),
    ("ask_stream", 0.20),
    ("ingest", 0.10),
    ("search_notes", 0.05),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_figures(pid: int) -> dict[str, float]:
    """Resident memory (MB), threads and open file descriptors of `pid`."""
    figures: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                figures["rss_mb"] = int(line.split()[1]) / 1024
            elif line.startswith("Threads:"):
                figures["threads"] = int(line.split()[1])
    figures["open_files"] = len(os.listdir(f"/proc/{pid}/fd"))
    return figures


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Recorder:
    """Latencies and outcomes of the current interval, by operation."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, int] = defaultdict(int)
        self.failures: list[str] = []

    def record(self, operation: str, status: int | str, seconds: float) -> None:
        self.latencies[operation].append(seconds * 1000)
        self.statuses[str(status)] += 1
        if isinstance(status, str) or status >= 500:
            if len(self.failures) < 20:
                self.failures.append(f"{operation}: {status}")

    def take(self) -> Recorder:
        taken = Recorder()
        taken.latencies, self.latencies = self.latencies, defaultdict(list)
        taken.statuses, self.statuses = self.statuses, defaultdict(int)
        taken.failures, self.failures = self.failures, []
        return taken


async def read_stream(response: aiohttp.ClientResponse) -> bool:
    """Reads an answer stream to its end; whether it ended with `done`."""
    last_event = ""
    async for line in response.content:
        if line.startswith(b"event: "):
            last_event = line[7:].strip().decode()
    return last_event == "done"


async def client(
    number: int,
    session: aiohttp.ClientSession,
    base: str,
    questions: list[str],
    recorder: Recorder,
    stop_at: float,
) -> None:
    rng = random.Random(number)
    operations = [name for name, _ in MIX]
    weights = [weight for _, weight in MIX]
    while time.monotonic() < stop_at:
        operation = rng.choices(operations, weights)[0]
        question = f"{rng.choice(questions)} room {rng.randint(100, 999)}"
        if operation == "search":
            path, body = f"/v1/collections/{COLLECTION}/search", {"query": question, "k": 5}
        elif operation in ("ask", "ask_stream"):
            path = f"/v1/collections/{COLLECTION}/ask"
            body = {"question": question, "stream": operation == "ask_stream"}
        elif operation == "ingest":
            document = rng.randrange(200)
            path = f"/v1/collections/{NOTES}/documents"
            body = {
                "documents": [
                    {
                        "id": f"note-{document}",
                        "title": f"Shift note {document}",
                        "text": f"Shift note {rng.randint(0, 10**9)}: {question}. "
                        + " ".join(rng.choice(questions) for _ in range(rng.randint(1, 6))),
                        "metadata": {"desk": rng.choice(["front", "spa", "kitchen"])},
                    }
                ]
            }
        else:
            path, body = f"/v1/collections/{NOTES}/search", {"query": question, "k": 3}
        started = time.monotonic()
        try:
            async with session.post(base + path, json=body) as response:
                if operation == "ask_stream" and response.status == 200:
                    status: int | str = 200 if await read_stream(response) else "stream ended early"
                else:
                    await response.read()
                    status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            status = f"{type(err).__name__}"
        recorder.record(operation, status, time.monotonic() - started)
        await asyncio.sleep(rng.uniform(0, 0.2))


async def sampler(
    pid: int, recorder: Recorder, interval: float, stop_at: float, started: float, out
) -> list[dict]:
    samples = []
    while time.monotonic() < stop_at:
        await asyncio.sleep(interval)
        taken = recorder.take()
        everything = [value for values in taken.latencies.values() for value in values]
        sample = {
            "t_s": round(time.monotonic() - started, 1),
            **proc_figures(pid),
            "requests": len(everything),
            "statuses": dict(taken.statuses),
            "p50_ms": round(percentile(everything, 0.5), 1) if everything else None,
            "p99_ms": round(percentile(everything, 0.99), 1) if everything else None,
            "p99_ms_by_operation": {
                name: round(percentile(values, 0.99), 1)
                for name, values in taken.latencies.items()
            },
            "failures": taken.failures,
        }
        samples.append(sample)
        out.write(json.dumps(sample) + "\n")
        out.flush()
        print(
            f"{sample['t_s']:7.1f} s  {sample['requests'] / interval:6.0f} req/s  "
            f"p50 {sample['p50_ms']} ms  p99 {sample['p99_ms']} ms  "
            f"RSS {sample['rss_mb']:.0f} MB  threads {sample['threads']:.0f}  "
            f"files {sample['open_files']:.0f}  {dict(taken.statuses)}",
            flush=True,
        )
    return samples


def start_server(binary: str, data_dir: str, port: int, log) -> subprocess.Popen:
    process = subprocess.Popen(
        [binary, "serve", "--demo", "--data-dir", data_dir, "--addr", f"127.0.0.1:{port}",
         "--log", "warn"],
        stdout=log,
        stderr=log,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bellhop serve exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /ready HTTP/1.0\r\n\r\n")
                if b" 200 " in sock.recv(64):
                    return process
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("bellhop serve did not get ready within 600 s")


def plot(samples: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [sample["t_s"] / 60 for sample in samples]
    figure, (memory, latency) = plt.subplots(2, 1, sharex=True, figsize=(8, 5.5))
    memory.plot(minutes, [sample["rss_mb"] for sample in samples], color="tab:blue")
    memory.set_ylabel("RSS (MB)")
    memory.set_ylim(bottom=0)
    memory.grid(alpha=0.3)
    latency.plot(minutes, [sample["p99_ms"] for sample in samples], color="tab:red", label="p99")
    latency.plot(minutes, [sample["p50_ms"] for sample in samples], color="tab:gray", label="p50")
    latency.set_ylabel("latency per interval (ms)")
    latency.set_xlabel("minutes")
    latency.set_ylim(bottom=0)
    latency.grid(alpha=0.3)
    latency.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


async def run(args: argparse.Namespace) -> int:
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    questions = []
    for split in ("tune", "heldout"):
        with open(ROOT / "examples" / "demo-hotel-eval" / f"{split}.jsonl") as lines:
            questions += [json.loads(line)["question"] for line in lines if line.strip()]
    work = tempfile.mkdtemp(prefix="bellhop-soak-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(os.path.join(work, "server.log"), "wb") as log:
        process = start_server(os.path.abspath(args.bin), os.path.join(work, "data"), port, log)
        try:
            connector = aiohttp.TCPConnector(limit=args.clients)
            timeout = aiohttp.ClientTimeout(total=120)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                async with session.post(f"{base}/v1/collections", json={"name": NOTES}) as response:
                    if response.status != 201:
                        raise SystemExit(f"create answered {response.status}")
                recorder = Recorder()
                started = time.monotonic()
                stop_at = started + args.minutes * 60
                with open(out_dir / "samples.jsonl", "w") as samples_out:
                    results = await asyncio.gather(
                        sampler(process.pid, recorder, args.interval, stop_at, started, samples_out),
                        *(
                            client(number, session, base, questions, recorder, stop_at)
                            for number in range(args.clients)
                        ),
                    )
            samples = results[0]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)

    return summarize(samples, args, out_dir)


def summarize(samples: list[dict], args: argparse.Namespace, out_dir: Path) -> int:
    """Writes summary.json and soak.png from the samples; 0 when nothing failed and RSS after
    the warm-up stayed within ±10 % of its median."""
    statuses: dict[str, int] = defaultdict(int)
    for sample in samples:
        for status, count in sample["statuses"].items():
            statuses[status] += count
    failures = sum(
        count for status, count in statuses.items() if not status.isdigit() or int(status) >= 500
    )
    warm = [sample for sample in samples if sample["t_s"] > args.warmup_minutes * 60]
    rss = [sample["rss_mb"] for sample in warm]
    rss_median = statistics.median(rss)
    p99 = [sample["p99_ms"] for sample in warm if sample["p99_ms"] is not None]
    summary = {
        "binary": args.bin,
        "warmup_minutes": args.warmup_minutes,
        "clients": args.clients,
        "minutes": args.minutes,
        "requests": sum(statuses.values()),
        "requests_per_s": round(sum(statuses.values()) / (args.minutes * 60), 1),
        "statuses": dict(statuses),
        "failures": failures,
        "rss_mb_after_warmup": {
            "median": round(rss_median, 1),
            "min": round(min(rss), 1),
            "max": round(max(rss), 1),
            "spread_pct": round(100 * (max(rss) - min(rss)) / rss_median, 1),
        },
        "p99_ms_after_warmup": {
            "median": statistics.median(p99),
            "min": min(p99),
            "max": max(p99),
        },
        "threads": {"first": warm[0]["threads"], "last": warm[-1]["threads"],
                    "max": max(sample["threads"] for sample in warm)},
        "open_files": {"first": warm[0]["open_files"], "last": warm[-1]["open_files"],
                       "max": max(sample["open_files"] for sample in warm)},
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(samples, out_dir / "soak.png",
         f"bellhop serve --demo, {args.clients} clients, {args.minutes:g} min")
    print(json.dumps(summary, indent=2))
    within = all(abs(value - rss_median) <= 0.1 * rss_median for value in rss)
    return 0 if failures == 0 and within else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=str(ROOT / "target" / "release" / "bellhop"))
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--warmup-minutes", type=float, default=1)
    parser.add_argument("--interval", type=float, default=10, help="seconds per sample")
    parser.add_argument("--out", default=str(ROOT / "bench" / "soak"))
    parser.add_argument(
        "--from-samples",
        help="summarise a run's samples.jsonl again (another --warmup-minutes) instead of running",
    )
    args = parser.parse_args()
    if args.from_samples:
        with open(args.from_samples) as lines:
            samples = [json.loads(line) for line in lines if line.strip()]
        sys.exit(summarize(samples, args, Path(args.out)))
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
