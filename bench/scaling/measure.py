#!/usr/bin/env python3
"""What one bellhop replica on PostgreSQL + pgvector costs, for sizing (docs/scaling.md).

Starts PostgreSQL 18 + pgvector (scripts/postgres.sh, on a free port, data in a temporary
directory) and copies msmarco-5k into it (5,000 chunks, 384-d) with `bellhop copy --index hnsw`
from the embedded store in target/seed-table-data (made with `bellhop eval` when missing;
`eval` makes the collection `exact`, the copy gets the HNSW index, m 16, ef_construction 64,
that an `auto` or `hnsw` collection has). Then, for each `[database] hnsw_ef_search` of
--ef-search, it starts one `bellhop serve --database-url … --no-cache` and measures dense and
hybrid search at 1 and 32 connections (wrk, 20 s each, the dataset's 50 queries in rotation,
every request embedded and searched):

- requests/s and latency;
- CPU seconds per request of PostgreSQL (utime + stime from /proc/<pid>/stat of the
  postmaster and every process below it, before and after; the postmaster's cutime + cstime
  hold those that ended meanwhile) and of bellhop;
- transactions PostgreSQL committed per request, and the replica's busy connections.

It also records:

- the plan PostgreSQL picks for a dense search at each ef_search: pgvector prices the HNSW
  index by ef_search, and the planner may scan a small collection instead;
- the same at other collection sizes (--planner-sizes; the extra collections are msmarco's
  vectors with a little noise), with what the chosen plan and the HNSW scan cost;
- sizes on disk: the HNSW index `bellhop_chunks_hnsw_<id>`, the chunks table (heap and
  TOAST), the other indexes and the documents table, per chunk, for extrapolation; and the
  index's size when built at once over the rows and when filled row by row;
- the planning time of bellhop's statements, and a backend's memory, with one partial HNSW
  index on the chunks table and with 1,000 (one a collection, as with one collection per
  hotel; the extra ones cover no rows).

Note: wrk, bellhop and PostgreSQL share the machine's cores, so requests/s is what this
machine gives with all three on it; the CPU seconds per request are what carries over to other
hosts (docs/scaling.md does that arithmetic). `cpu_s.other_share` in the JSON is the share of
the CPUs that unrelated processes took during a run; repeat runs where it is high.

Usage: python3 bench/scaling/measure.py [--seconds 20] [--connections 1,32] [--ef-search 40,100]
       [--extra-indexes 999] [--planner-sizes 2000,10000,20000]
Writes bench/scaling/results-YYYY-MM-DD.json (or --out) and prints a summary.
Needs: target/release/bellhop with --database-url, wrk, models/all-MiniLM-L6-v2.
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
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from serving import cpu_seconds, free_port, log, post, postgres_pids, stop_process, wrk  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = ROOT / "target" / "release" / "bellhop"
MODEL = ROOT / "models" / "all-MiniLM-L6-v2"
POSTGRES_SH = ROOT / "scripts" / "postgres.sh"
COLLECTION = "eval-msmarco-5k"


def machine_busy_seconds():
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


class Postgres:
    """The PostgreSQL of scripts/postgres.sh on a free port, data under `work`."""

    def __init__(self, work):
        self.dir = work / "pg"
        self.port = free_port()
        self.running = True  # before starting, so that a start that fails half way is stopped
        self.url = subprocess.run(
            ["bash", str(POSTGRES_SH), "start", str(self.dir), str(self.port)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True,
        ).stdout.strip().splitlines()[-1]
        bindir = subprocess.run(
            ["bash", str(ROOT / "scripts" / "fetch-postgres.sh")],
            cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True,
        ).stdout.strip().splitlines()[-1]
        self.psql_bin = Path(bindir) / "psql"

    def psql(self, sql):
        """Runs `sql`; returns its rows as lists of strings (unaligned, tab-separated)."""
        out = subprocess.run(
            [str(self.psql_bin), "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "bellhop", "-v", "ON_ERROR_STOP=1", "-tA", "-F", "\t", "-c", sql],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}\n{sql[:300]}")
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def psql_session(self, statements):
        """Runs `statements` in one session; returns each one's output as text."""
        script = "".join(f"{statement};\n\\echo @@@\n" for statement in statements)
        out = subprocess.run(
            [str(self.psql_bin), "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "bellhop", "-v", "ON_ERROR_STOP=1", "-tA", "-f", "-"],
            input=script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}\n{script[:300]}")
        return out.stdout.split("@@@\n")[:-1]

    def scalar(self, sql):
        return self.psql(sql)[0][0]

    def pids(self):
        return postgres_pids(self.dir)

    def cpu_seconds(self):
        """CPU seconds of the postmaster and every process it started, finished ones included
        (their time is in the postmaster's cutime and cstime once reaped)."""
        pids = self.pids()
        if not pids:
            return 0.0
        try:
            fields = Path(f"/proc/{pids[0]}/stat").read_text().rsplit(")", 1)[1].split()
            reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            reaped = 0.0
        return cpu_seconds(pids) + reaped

    def stop(self):
        if self.running:
            subprocess.run(["bash", str(POSTGRES_SH), "stop", str(self.dir)], cwd=ROOT, check=False)
            self.running = False


class Replica:
    """One `bellhop serve --database-url` with the caches off."""

    def __init__(self, url, work, database=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = work / "replica.log"
        self.log_file = open(self.log_path, "ab")
        config = []
        if database:  # a [database] section, e.g. {"hnsw_ef_search": 40}
            path = work / "replica.toml"
            path.write_text("[database]\n" + "".join(f"{k} = {v}\n" for k, v in database.items()))
            config = ["--config", str(path)]
        self.process = subprocess.Popen(
            [str(BIN), "serve", "--database-url", url, "--addr", f"127.0.0.1:{self.port}",
             "--model", str(MODEL), "--log", "warn", "--no-cache", *config],
            cwd=work, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def search_url(self):
        return f"{self.base}/v1/collections/{COLLECTION}/search"

    def wait_ready(self, limit_s=120):
        started = time.perf_counter()
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"bellhop serve exited:\n{self.log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/ready", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.perf_counter() - started > limit_s:
                raise SystemExit(f"bellhop serve not ready within {limit_s} s")
            time.sleep(0.1)

    def wait_idle(self, limit_s=120):
        """Waits until requests left over from a run are worked off (under 0.1 CPU s a second)."""
        started = time.perf_counter()
        before = cpu_seconds([self.process.pid])
        while time.perf_counter() - started < limit_s:
            time.sleep(1)
            now = cpu_seconds([self.process.pid])
            if now - before < 0.1:
                return round(time.perf_counter() - started, 1)
            before = now
        return None

    def metrics(self):
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=5) as response:
            text = response.read().decode()
        return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
                if line.startswith("bellhop_store_connections")}

    def stop(self):
        stop_process(self.process, self.log_file)


def commits(pg):
    """Transactions committed in database bellhop so far (statistics lag by up to a second)."""
    return int(pg.scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = 'bellhop'"))


def measure_run(pg, replica, bodies, mode, connections, seconds):
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = {
        "machine": machine_busy_seconds(),
        "bellhop": cpu_seconds([replica.process.pid]),
        "postgres": pg.cpu_seconds(),
    }
    commits_before = commits(pg)
    samples, stop = [], threading.Event()

    def sample_pool():  # busy database connections of the replica, twice a second
        while not stop.wait(0.5):
            try:
                samples.append(replica.metrics().get('bellhop_store_connections{state="busy"}', 0))
            except OSError:
                pass

    sampler = threading.Thread(target=sample_pool)
    sampler.start()
    try:
        run = wrk(replica.search_url(), bodies, connections, seconds)
    finally:
        stop.set()
        sampler.join()
    # The CPU of requests still queued at the end belongs to this run: wait until they are done.
    run["drain_s"] = replica.wait_idle()
    after = {
        "machine": machine_busy_seconds(),
        "bellhop": cpu_seconds([replica.process.pid]),
        "postgres": pg.cpu_seconds(),
    }
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {k: round(after[k] - before[k], 2) for k in before}
    cpu["wrk"] = round((children_after.ru_utime + children_after.ru_stime)
                       - (children_before.ru_utime + children_before.ru_stime), 2)
    cpu["other"] = round(cpu["machine"] - cpu["bellhop"] - cpu["postgres"] - cpu["wrk"], 2)
    elapsed = seconds + (run["drain_s"] or 0)
    cpu["other_share"] = round(max(cpu["other"], 0) / (elapsed * os.cpu_count()), 3)
    time.sleep(1.5)  # let the backends flush their statistics
    transactions = commits(pg) - commits_before
    requests = max(run["requests"], 1)
    run.update({
        "mode": mode,
        "cpu_s": cpu,
        "postgres_cpu_ms_per_request": round(cpu["postgres"] / requests * 1e3, 3),
        "bellhop_cpu_ms_per_request": round(cpu["bellhop"] / requests * 1e3, 3),
        "transactions_per_request": round(transactions / requests, 2),
        "busy_connections_mean": round(statistics.mean(samples), 2) if samples else None,
        "busy_connections_max": max(samples) if samples else None,
    })
    log(f"  {mode} c={connections}: {run['requests_per_s']} req/s, P50 {run['p50_ms']:.1f} ms, "
        f"P99 {run['p99_ms']:.1f} ms, errors {run['errors']}; CPU per request: PostgreSQL "
        f"{run['postgres_cpu_ms_per_request']} ms, bellhop {run['bellhop_cpu_ms_per_request']} ms; "
        f"{run['transactions_per_request']} transactions per request; busy connections "
        f"{run['busy_connections_mean']} on average, {run['busy_connections_max']} at most; other processes "
        f"{cpu['other_share']:.0%} of the CPUs")
    return run


def sizes(pg, collection_id):
    """Bytes on disk of the chunks table and its indexes, and per chunk."""
    chunks = int(pg.scalar(f"SELECT count(*) FROM bellhop_chunks WHERE collection_id = {collection_id}"))
    hnsw = f"bellhop_chunks_hnsw_{collection_id}"
    heap = pg.psql(
        "SELECT pg_relation_size('bellhop_chunks'), pg_table_size('bellhop_chunks'),"
        " coalesce(pg_total_relation_size(reltoastrelid), 0), pg_indexes_size('bellhop_chunks'),"
        " pg_total_relation_size('bellhop_chunks')"
        " FROM pg_class WHERE oid = 'bellhop_chunks'::regclass"
    )[0]
    indexes = {
        name: int(size)
        for name, size in pg.psql(
            "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index"
            " WHERE indrelid = 'bellhop_chunks'::regclass ORDER BY 1"
        )
    }
    documents = int(pg.scalar("SELECT pg_total_relation_size('bellhop_documents')"))
    columns = pg.psql(
        "SELECT avg(pg_column_size(embedding)), avg(pg_column_size(text)), avg(pg_column_size(keywords)),"
        " avg(pg_column_size(section)), avg(pg_column_size(c.*)) FROM bellhop_chunks c"
        f" WHERE collection_id = {collection_id}"
    )[0]
    reloptions = pg.scalar(f"SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class WHERE relname = '{hnsw}'")
    hnsw_bytes = indexes[hnsw]
    result = {
        "chunks": chunks,
        "hnsw_index": hnsw,
        "hnsw_reloptions": reloptions,
        "hnsw_index_bytes": hnsw_bytes,
        "hnsw_index_bytes_per_chunk": round(hnsw_bytes / chunks, 1),
        "chunks_heap_bytes": int(heap[0]),
        "chunks_table_bytes_with_toast": int(heap[1]),
        "chunks_toast_bytes_with_index": int(heap[2]),
        "chunks_indexes_bytes": int(heap[3]),
        "chunks_total_bytes": int(heap[4]),
        "indexes_bytes": indexes,
        "documents_total_bytes": documents,
        "avg_column_bytes": {
            "embedding": round(float(columns[0]), 1),
            "text": round(float(columns[1]), 1),
            "keywords": round(float(columns[2]), 1),
            "section": round(float(columns[3]), 1),
            "row": round(float(columns[4]), 1),
        },
    }
    result["per_chunk_bytes"] = {
        "hnsw_index": round(hnsw_bytes / chunks, 1),
        "table_with_toast": round(int(heap[1]) / chunks, 1),
        "other_indexes": round((int(heap[3]) - hnsw_bytes) / chunks, 1),
        "documents_table": round(documents / chunks, 1),
        "all": round((int(heap[4]) + documents) / chunks, 1),
    }
    return result


def planning(pg, collection_id, dim, vector_text, keyword_terms, ids, repeats=20):
    """Planning and execution time (ms) of bellhop's search statements as custom plans (literal
    values, as a statement re-prepared on a pooled connection gets), in one session: the first
    run (the session's catalog caches cold) and the median of the rest."""
    statements = {
        "dense": (
            dense_sql(collection_id, dim, vector_text)
        ),
        "keyword": (
            "SELECT c.id, ts_rank(c.keywords, q)::float4 AS score"
            " FROM bellhop_chunks c JOIN bellhop_documents d ON d.id = c.document_id,"
            f" to_tsquery('english', '{keyword_terms}') q"
            f" WHERE c.collection_id = {collection_id} AND c.keywords @@ q AND TRUE"
            " ORDER BY score DESC, c.id LIMIT 30"
        ),
        "fetch": (
            "SELECT c.id, c.section, c.text, d.external_id, d.title, d.source, d.metadata"
            " FROM bellhop_chunks c JOIN bellhop_documents d ON d.id = c.document_id"
            f" WHERE c.id = ANY('{{{','.join(str(i) for i in ids)}}}'::bigint[])"
        ),
    }
    settings = ["SET hnsw.ef_search = 40", "SET hnsw.iterative_scan = strict_order"]
    result = {}
    for name, sql in statements.items():
        outputs = pg.psql_session(settings + [f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"] * repeats)
        plans = [json.loads(out)[0] for out in outputs[len(settings):]]
        result[name] = {
            "planning_ms_first": round(plans[0]["Planning Time"], 3),
            "planning_ms_median": round(statistics.median(p["Planning Time"] for p in plans[1:]), 3),
            "execution_ms_median": round(statistics.median(p["Execution Time"] for p in plans[1:]), 3),
            "scan": find_scan(plans[-1]["Plan"]),
        }
    # What a backend holds once it has run each statement (catalog caches included).
    outputs = pg.psql_session(settings + [f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}" for sql in statements.values()]
                              + ["SELECT sum(total_bytes) FROM pg_backend_memory_contexts"])
    return {"statements": result, "backend_memory_bytes": int(outputs[-1].strip())}


def find_scan(node):
    """The first scan node of a plan, as `Seq Scan` or `Index Scan using NAME`."""
    if "Scan" in node["Node Type"]:
        return node["Node Type"] + (f" using {node['Index Name']}" if "Index Name" in node else "")
    for child in node.get("Plans", []):
        found = find_scan(child)
        if found:
            return found
    return None


def dense_sql(collection_id, dim, vector_text):
    """bellhop's dense search statement (PostgresStore::dense_query) with the vector spliced in."""
    return (f"SELECT c.id, (c.embedding::vector({dim}) <=> '{vector_text}'::vector)::float4 AS distance"
            f" FROM bellhop_chunks c WHERE c.collection_id = {collection_id} AND TRUE"
            f" ORDER BY c.embedding::vector({dim}) <=> '{vector_text}'::vector({dim}) LIMIT 5")


def dense_plans(pg, collection_id, dim, vector_text):
    """For ef_search 40 and 100: the dense plan PostgreSQL picks, and the HNSW scan forced, each
    with its estimated cost, median time and buffers touched."""
    sql = dense_sql(collection_id, dim, vector_text)
    plans = {}
    for ef in (40, 100):
        settings = [f"SET hnsw.ef_search = {ef}", "SET hnsw.iterative_scan = strict_order"]
        forced = ["SET enable_seqscan = off", "SET enable_sort = off", "SET enable_bitmapscan = off"]
        explain = f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"
        chosen = pg.psql_session(settings + [explain] * 6)[len(settings):]
        index = pg.psql_session(settings + forced + [explain] * 6)[len(settings) + len(forced):]
        chosen = [json.loads(o)[0] for o in chosen][1:]
        index = [json.loads(o)[0] for o in index][1:]

        def buffers(plan):
            return plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get("Shared Read Blocks", 0)

        plans[ef] = {
            "chosen": find_scan(chosen[0]["Plan"]),
            "chosen_cost": chosen[0]["Plan"]["Total Cost"],
            "chosen_ms": round(statistics.median(p["Execution Time"] for p in chosen), 3),
            "chosen_buffers": buffers(chosen[-1]),
            "hnsw": find_scan(index[0]["Plan"]),
            "hnsw_cost": index[0]["Plan"]["Total Cost"],
            "hnsw_ms": round(statistics.median(p["Execution Time"] for p in index), 3),
            "hnsw_buffers": buffers(index[-1]),
        }
    return plans


def planner_by_size(pg, source_id, dim, vector_text, chunks, collection_id):
    """Adds a collection of `chunks` rows (the source's vectors with a little noise, cycled) with
    its partial HNSW index, and records the dense plan PostgreSQL picks and what each costs."""
    copies = -(-chunks // 5000)
    pg.psql("INSERT INTO bellhop_collections (id, name, spec, created_at) OVERRIDING SYSTEM VALUE"
            f" SELECT {collection_id}, 'planner-{chunks}', jsonb_set(spec, '{{index}}', '\"hnsw\"'), 0"
            f" FROM bellhop_collections WHERE id = {source_id}")
    pg.psql(
        "INSERT INTO bellhop_chunks (collection_id, document_id, ordinal, section, text, embedding, keywords)"
        f" SELECT {collection_id}, document_id, ordinal, section, text,"
        " (SELECT array_agg(x + (random()::real - 0.5) * 0.01) FROM unnest(embedding::real[]) x)::vector,"
        f" keywords FROM bellhop_chunks, generate_series(1, {copies}) WHERE collection_id = {source_id}"
        f" LIMIT {chunks}")
    started = time.perf_counter()
    pg.psql_session(["SET maintenance_work_mem = '1GB'",
                     f"CREATE INDEX bellhop_chunks_hnsw_{collection_id} ON bellhop_chunks USING hnsw"
                     f" ((embedding::vector({dim})) vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
                     f" WHERE collection_id = {collection_id}"])
    build_s = round(time.perf_counter() - started, 1)
    pg.psql("ANALYZE bellhop_chunks")
    result = {"chunks": chunks, "index_build_s": build_s,
              "hnsw_index_bytes": int(pg.scalar(f"SELECT pg_relation_size('bellhop_chunks_hnsw_{collection_id}')")),
              "plans": dense_plans(pg, collection_id, dim, vector_text)}
    result["hnsw_index_bytes_per_chunk"] = round(result["hnsw_index_bytes"] / chunks, 1)
    log(f"  {chunks} chunks: " + "; ".join(
        f"ef_search {ef}: picks {p['chosen']} ({p['chosen_ms']} ms, cost {p['chosen_cost']}, "
        f"{p['chosen_buffers']} buffers), HNSW {p['hnsw_ms']} ms (cost {p['hnsw_cost']}, "
        f"{p['hnsw_buffers']} buffers)" for ef, p in result["plans"].items()))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default=str(ROOT.parent / "shared" / "data" / "msmarco-5k"))
    parser.add_argument("--data-dir", default=str(ROOT / "target" / "seed-table-data"),
                        help="embedded store holding eval-msmarco-5k (made with bellhop eval when missing)")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", default="1,32")
    parser.add_argument("--modes", default="dense,hybrid")
    parser.add_argument("--extra-indexes", type=int, default=999,
                        help="empty partial HNSW indexes added for the planning comparison (0: skip)")
    parser.add_argument("--ef-search", default="40,100",
                        help="the replica's [database] hnsw_ef_search values, each measured in turn")
    parser.add_argument("--planner-sizes", default="2000,10000,20000",
                        help="collection sizes at which to record PostgreSQL's dense search plan ('' to skip)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not BIN.exists():
        raise SystemExit(f"{BIN} is missing: cargo build --release -p bellhop-cli")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing (apt-get install wrk)")
    dataset = Path(args.dataset).resolve()
    data_dir = Path(args.data_dir).resolve()
    out_path = Path(args.out) if args.out else HERE / f"results-{datetime.date.today().isoformat()}.json"

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="bellhop-scaling-"))
    work.chmod(0o755)  # PostgreSQL runs as an unprivileged user under root
    pg = replica = None
    started = time.perf_counter()
    try:
        if not (data_dir / "bellhop.sqlite3").is_file():
            log(f"embedding msmarco-5k into {data_dir} with bellhop eval (a few minutes)")
            subprocess.run([str(BIN), "eval", "--dataset", str(dataset), "--data-dir", str(data_dir),
                            "--model", str(MODEL), "--json"], cwd=work, check=True, stdout=subprocess.DEVNULL)
        log("PostgreSQL: starting")
        pg = Postgres(work)
        subprocess.run([str(BIN), "migrate", "--database-url", pg.url], check=True, stdout=sys.stderr)
        copy_help = subprocess.run([str(BIN), "copy", "--help"], capture_output=True, text=True).stdout
        # `bellhop eval` made the collection `exact`; on PostgreSQL it gets the HNSW index that
        # an `auto` or `hnsw` collection has (older binaries: built after the copy, below).
        index_option = ["--index", "hnsw"] if "--index" in copy_help else []
        copy_started = time.perf_counter()
        subprocess.run([str(BIN), "copy", "--from", str(data_dir), "--to", pg.url, "--collection", COLLECTION,
                        *index_option], check=True, stdout=sys.stderr)
        copy_s = round(time.perf_counter() - copy_started, 1)
        pg.psql("VACUUM ANALYZE")
        collection_id, dim, index_kind = pg.psql(
            "SELECT id, (spec->>'dim')::int, spec->>'index' FROM bellhop_collections"
            f" WHERE name = '{COLLECTION}'")[0]
        collection_id, dim = int(collection_id), int(dim)

        queries = [json.loads(line)["text"] for line in (dataset / "queries.jsonl").read_text().splitlines()
                   if line.strip()]
        vector_text = pg.scalar(
            f"SELECT embedding::text FROM bellhop_chunks WHERE collection_id = {collection_id} ORDER BY id LIMIT 1")
        bodies = {}
        for mode in args.modes.split(","):
            bodies[mode] = work / f"{mode}.jsonl"
            bodies[mode].write_text("".join(json.dumps({"query": q, "k": 5, "mode": mode}) + "\n" for q in queries))
        levels = [int(c) for c in args.connections.split(",")]

        def start_replica(database=None):
            replica = Replica(pg.url, work, database)
            replica.wait_ready()
            prime(replica)
            return replica

        def prime(replica):
            # Every query once in each mode (pages into shared buffers, and no errors), then a
            # short run that fills the connection pool and PostgreSQL's backends.
            for mode in bodies:
                for query in queries:
                    status, body = post(replica.search_url(), {"query": query, "k": 5, "mode": mode})
                    assert status == 200 and body["hits"], body
            wrk(replica.search_url(), bodies[next(iter(bodies))], max(levels), 3)
            replica.wait_idle()

        def measure_all(replica, ef_search):
            runs = []
            for mode in bodies:
                for connections in levels:
                    run = measure_run(pg, replica, bodies[mode], f"{mode} ef_search={ef_search}",
                                      connections, args.seconds)
                    run["mode"], run["ef_search"] = mode, ef_search
                    runs.append(run)
            return runs

        if index_kind == "exact":  # a binary without `copy --index`: the index bellhop would make
            pg.psql(f"CREATE INDEX bellhop_chunks_hnsw_{collection_id} ON bellhop_chunks USING hnsw"
                    f" ((embedding::vector({dim})) vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
                    f" WHERE collection_id = {collection_id}")
            pg.psql("UPDATE bellhop_collections SET spec = jsonb_set(spec, '{index}', '\"hnsw\"'),"
                    f" version = version + 1 WHERE id = {collection_id}")
            pg.psql("ANALYZE bellhop_chunks")
        ef_values = [int(x) for x in args.ef_search.split(",") if x]
        plans_chosen = dense_plans(pg, collection_id, dim, vector_text)
        for ef, p in plans_chosen.items():
            log(f"  {COLLECTION}, ef_search {ef}: picks {p['chosen']} ({p['chosen_ms']} ms, cost "
                f"{p['chosen_cost']}, {p['chosen_buffers']} buffers), HNSW {p['hnsw_ms']} ms (cost "
                f"{p['hnsw_cost']}, {p['hnsw_buffers']} buffers)")
        runs, pool, bellhop_peak_rss_mb = [], None, None
        for ef in ef_values:
            replica = start_replica({"hnsw_ef_search": ef})
            runs += measure_all(replica, ef)
            if pool is None:
                pool = replica.metrics()
                bellhop_peak_rss_mb = round(int(next(
                    line.split()[1] for line in Path(f"/proc/{replica.process.pid}/status").read_text().splitlines()
                    if line.startswith("VmHWM:"))) / 1024, 1)
            replica.stop()
            replica = None

        size = sizes(pg, collection_id)
        build = {"main_index": "filled row by row by bellhop copy" if index_option else "built after the copy"}
        # The same rows in a scratch table, the index built once over them and filled row by row.
        for name, statements in {
            "bulk": ["INSERT INTO scaling_build_check SELECT * FROM bellhop_chunks"
                     f" WHERE collection_id = {collection_id}", "CREATE_INDEX"],
            "rows": ["CREATE_INDEX", "INSERT INTO scaling_build_check SELECT * FROM bellhop_chunks"
                     f" WHERE collection_id = {collection_id}"],
        }.items():
            create_index = ("CREATE INDEX scaling_build_check_hnsw ON scaling_build_check USING hnsw"
                            f" ((embedding::vector({dim})) vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
                            f" WHERE collection_id = {collection_id}")
            started_check = time.perf_counter()
            pg.psql_session(["CREATE TABLE scaling_build_check (LIKE bellhop_chunks)"]
                            + [create_index if x == "CREATE_INDEX" else x for x in statements])
            build[f"{name}_s"] = round(time.perf_counter() - started_check, 1)
            build[f"{name}_bytes"] = int(pg.scalar("SELECT pg_relation_size('scaling_build_check_hnsw')"))
            build[f"{name}_bytes_per_chunk"] = round(build[f"{name}_bytes"] / size["chunks"], 1)
            pg.psql("DROP TABLE scaling_build_check")
        log(f"  HNSW index of the copy: {size['hnsw_index_bytes']} B; built at once: {build['bulk_bytes']} B "
            f"in {build['bulk_s']} s; filled row by row: {build['rows_bytes']} B in {build['rows_s']} s")
        log(f"  sizes: HNSW {size['hnsw_index_bytes']} B ({size['hnsw_index_bytes_per_chunk']} B a chunk), "
            f"chunks table with TOAST {size['chunks_table_bytes_with_toast']} B, all {size['per_chunk_bytes']['all']} B a chunk")
        keyword_terms = "definition | environment"
        ids = [int(r[0]) for r in pg.psql(
            f"SELECT id FROM bellhop_chunks WHERE collection_id = {collection_id} ORDER BY id LIMIT 5")]
        plan = {"indexes_on_chunks": len(size["indexes_bytes"]),
                **planning(pg, collection_id, dim, vector_text, keyword_terms, ids)}
        plans = [plan]
        if args.extra_indexes > 0:
            log(f"  adding {args.extra_indexes} empty partial HNSW indexes")
            created = time.perf_counter()
            # Collection ids that do not exist: each index covers no rows, as the catalog of that
            # many collections looks to the planner.
            create = [f"CREATE INDEX bellhop_chunks_hnsw_extra_{n} ON bellhop_chunks USING hnsw"
                      f" ((embedding::vector({dim})) vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
                      f" WHERE collection_id = {-n}" for n in range(1, args.extra_indexes + 1)]
            for start in range(0, len(create), 100):
                pg.psql_session(create[start:start + 100])
            pg.psql("ANALYZE bellhop_chunks")
            extra = {"indexes_on_chunks": len(size["indexes_bytes"]) + args.extra_indexes,
                     "create_s": round(time.perf_counter() - created, 1),
                     "empty_index_bytes": int(pg.scalar(
                         "SELECT pg_relation_size('bellhop_chunks_hnsw_extra_1')")),
                     **planning(pg, collection_id, dim, vector_text, keyword_terms, ids)}
            plans.append(extra)
            pg.psql_session([f"DROP INDEX bellhop_chunks_hnsw_extra_{n}" for n in range(1, args.extra_indexes + 1)])
        by_size = [planner_by_size(pg, collection_id, dim, vector_text, int(n), 1_000_000 + i)
                   for i, n in enumerate(x for x in args.planner_sizes.split(",") if x)]
        for p in plans:
            log(f"  planning with {p['indexes_on_chunks']} indexes on bellhop_chunks: " + ", ".join(
                f"{name} {s['planning_ms_median']} ms (first {s['planning_ms_first']} ms; runs in "
                f"{s['execution_ms_median']} ms, {s['scan']})"
                for name, s in p["statements"].items())
                + f"; a backend holds {p['backend_memory_bytes'] / 2**20:.1f} MiB")

        settings = dict(pg.psql(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name IN"
            " ('shared_buffers', 'effective_cache_size', 'max_connections', 'work_mem',"
            " 'maintenance_work_mem', 'server_version', 'jit')"))
        settings["pgvector"] = pg.scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        results = {
            "date": datetime.date.today().isoformat(),
            "machine": os.uname().nodename,
            "cpus": os.cpu_count(),
            "commit": commit,
            "dataset": str(dataset),
            "collection": COLLECTION,
            "queries": len(queries),
            "k": 5,
            "bellhop": "serve --database-url --no-cache, default [database] settings (max_connections 16,"
                       " hnsw_m 16, hnsw_ef_construction 64, hnsw_ef_search 100)",
            "postgres_settings": settings,
            "copy_s": copy_s,
            "copied_index": index_kind,
            "dense_plan_by_ef_search": plans_chosen,
            "runs": runs,
            "hnsw_build": build,
            "pool_metrics_at_end": pool,
            "bellhop_peak_rss_mb": bellhop_peak_rss_mb,
            "sizes": size,
            "planning": plans,
            "planner_by_collection_size": by_size,
        }
    finally:
        if replica is not None:
            replica.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    results["wall_s"] = round(time.perf_counter() - started, 1)
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    print(summary(results))
    log(f"raw results: {out_path}")


def summary(results):
    lines = ["| mode | ef_search | connections | requests/s | P50 ms | P99 ms | errors | PostgreSQL CPU ms/request "
             "| bellhop CPU ms/request | transactions/request | busy connections (mean) | other processes |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in results["runs"]:
        lines.append(
            f"| {run['mode']} | {run['ef_search']} | {run['connections']} | {run['requests_per_s']} | {run['p50_ms']:.1f} "
            f"| {run['p99_ms']:.1f} | {run['errors']} | {run['postgres_cpu_ms_per_request']} "
            f"| {run['bellhop_cpu_ms_per_request']} | {run['transactions_per_request']} "
            f"| {run['busy_connections_mean']} | {run['cpu_s']['other_share']:.0%} |")
    size = results["sizes"]
    lines.append("")
    lines.append(f"{size['chunks']} chunks: HNSW index {size['hnsw_index_bytes']:,} B "
                 f"({size['per_chunk_bytes']['hnsw_index']} B a chunk), chunks table with TOAST "
                 f"{size['chunks_table_bytes_with_toast']:,} B ({size['per_chunk_bytes']['table_with_toast']} B a chunk), "
                 f"all relations {size['per_chunk_bytes']['all']} B a chunk")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
