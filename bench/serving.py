"""Helpers shared by the serving benchmarks (bench/seed-table, bench/scaling): free ports,
JSON requests, process CPU from /proc, unique queries, and wrk runs over rotating request
bodies."""

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

ROTATE = Path(__file__).resolve().parent / "load" / "rotate.lua"
# A request not answered within this counts as an error (wrk leaves it out of the percentiles).
REQUEST_TIMEOUT_S = 10


def unique_queries(dataset, count):
    """The dataset's queries, then the first six words of its passages, up to `count`: every
    request different, as guests' questions are."""
    queries = [json.loads(line)["text"] for line in (dataset / "queries.jsonl").read_text().splitlines()]
    seen = set(queries)
    with open(dataset / "corpus.jsonl") as corpus:
        for line in corpus:
            if len(queries) >= count:
                break
            query = " ".join(json.loads(line)["text"].split()[:6])
            if query not in seen:
                seen.add(query)
                queries.append(query)
    return queries[:count]


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body, timeout=30):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, json.loads(response.read())


def children(pid):
    """The process ids below `pid`, recursively."""
    by_parent = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            by_parent.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in by_parent.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def postgres_pids(data_dir):
    """The postmaster of the PostgreSQL cluster in `data_dir` and every process below it;
    none when it is not running."""
    try:
        postmaster = int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError):
        return []
    return [postmaster] + children(postmaster)


def cpu_seconds(pids):
    """utime + stime of `pids` (each process's threads included)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(url, bodies, connections, seconds):
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", f"{REQUEST_TIMEOUT_S}s",
         "-s", str(ROTATE), url, "--", str(bodies)],
        capture_output=True, text=True, check=True,
    ).stdout
    summary = json.loads(out.strip().splitlines()[-1])
    seconds_run = summary["duration_us"] / 1e6
    errors = {k.removeprefix("errors_"): summary[k] for k in summary if k.startswith("errors_")}
    return {
        "connections": connections,
        "seconds": seconds,
        "requests": summary["requests"],
        "requests_per_s": round(summary["requests"] / seconds_run, 1),
        "p50_ms": summary["p50_us"] / 1e3,
        "p90_ms": summary["p90_us"] / 1e3,
        "p99_ms": summary["p99_us"] / 1e3,
        "max_ms": summary["max_us"] / 1e3,
        "errors": sum(errors.values()),
        "error_kinds": errors,
    }


def stop_process(process, log_file):
    """SIGTERM, then after 30 s SIGKILL to its process group; closes its log."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    log_file.close()
