"""Kills `bellhop serve` with SIGKILL while clients write to it over HTTP, again and again,
and checks after every restart that nothing acknowledged was lost and nothing else is half
there.

Writers add documents as JSON, upload Markdown files, replace documents and delete them, on
two collections (exact search and an HNSW graph). A write answered 2xx is acknowledged: after
the next restart it must be there, whole (the document and its text found by keyword search)
or, for a delete, gone. A write in flight at the kill may have happened or not, but never in
part: either the old text or the new one is found, never both, never neither for a replace.
After every kill `bellhop check` runs the store's integrity checks.

With `--postgres` the server is a replica of a PostgreSQL database (started here from
scripts/postgres.sh), and every third kill also takes the database down with an immediate
shutdown (no checkpoint: it recovers from its write-ahead log on the next start) at the
same moment; writes answered 5xx while it is down are not acknowledged.

    python3 tests/crash/crash_loop.py --bin target/debug/bellhop --kills 10
    python3 tests/crash/crash_loop.py --bin target/debug/bellhop --kills 10 --postgres

Prints one line per kill and a summary; exits 1 on the first violation. Only the standard
library is used.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

COLLECTIONS = {"crash-exact": "exact", "crash-hnsw": "hnsw"}


def token(rng: random.Random) -> str:
    """A word no other document holds, found by keyword search."""
    return "qz" + "".join(rng.choice(string.ascii_lowercase) for _ in range(12))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Database:
    """A PostgreSQL server of scripts/postgres.sh, in a directory of its own."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = ""

    def start(self) -> None:
        self.url = self._script("start", self.directory, str(self.port)).strip()

    def crash(self) -> None:
        """Immediate shutdown: every backend stops at once, nothing is flushed."""
        self._script("crash", self.directory)

    def stop(self) -> None:
        self._script("stop", self.directory)

    def _script(self, *args: str) -> str:
        return subprocess.run(
            ["bash", os.path.join(ROOT, "scripts", "postgres.sh"), *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout


class Server:
    def __init__(self, binary: str, store: list[str], log_path: str) -> None:
        self.binary = binary
        # `--data-dir DIR` or `--database-url URL`, for `serve` and `check` alike.
        self.store = store
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # Open for the server's whole life, across restarts.
        self.log = open(log_path, "ab")  # noqa: SIM115
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        started = time.monotonic()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BELLHOP_")}
        self.process = subprocess.Popen(
            [
                self.binary,
                "serve",
                *self.store,
                "--addr",
                f"127.0.0.1:{self.port}",
                "--log",
                "warn",
            ],
            stdout=self.log,
            stderr=self.log,
            env=env,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bellhop serve exited with {self.process.returncode}")
            try:
                status, _ = request(self.base, "GET", "/ready", timeout=2)
                if status == 200:
                    return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("bellhop serve did not get ready within 120 s")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def request(
    base: str,
    method: str,
    path: str,
    body: object = None,
    *,
    data: bytes | None = None,
    content_type: str = "application/json",
    timeout: float = 30,
) -> tuple[int, object]:
    if body is not None:
        data = json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except ValueError:
            return err.code, raw.decode(errors="replace")


def multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: text/markdown\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass
class Expectation:
    """What a document (or an uploaded file) may be after the next restart: one of
    `possible`, each a token its text holds, or `None` for absent."""

    possible: set[str | None]
    document_id: str | None = None


@dataclass
class Ledger:
    """Acknowledged and in-flight writes, per collection, keyed by document or file."""

    entries: dict[tuple[str, str], Expectation] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: int = 0
    in_flight_at_kill: int = 0
    errors: list[str] = field(default_factory=list)
    # Set just before the database goes down with the replica: from then on a 5xx answer
    # is a write that was not acknowledged, not a failure.
    database_down: threading.Event = field(default_factory=threading.Event)
    refused_while_down: int = 0


def refused(ledger: Ledger, what: str, status: int, body: object) -> bool:
    """Whether a write answered `status` was merely not acknowledged (the database was going
    down); any other answer but 200 fails the run."""
    if status >= 500 and ledger.database_down.is_set():
        with ledger.lock:
            ledger.refused_while_down += 1
        return True
    raise SystemExit(f"{what} answered {status}: {body}")


def writer(
    server: Server, ledger: Ledger, rng: random.Random, stop: threading.Event
) -> None:
    try:
        write_until(server, ledger, rng, stop)
    except SystemExit as err:
        with ledger.lock:
            ledger.errors.append(str(err))


def write_until(
    server: Server, ledger: Ledger, rng: random.Random, stop: threading.Event
) -> None:
    while not stop.is_set():
        collection = rng.choice(list(COLLECTIONS))
        action = rng.random()
        # The document is claimed under the lock: no two writes to one document are in
        # flight at once, so the order of acknowledgements is the order of the writes.
        with ledger.lock:
            known = [
                key
                for key, expectation in ledger.entries.items()
                if key[0] == collection
                and expectation.document_id is not None
                and len(expectation.possible) == 1
                and None not in expectation.possible
            ]
            key = rng.choice(known) if known and action < 0.45 else None
            new = token(rng) if key is not None and action >= 0.2 else None
            if key is not None:
                ledger.entries[key].possible.add(new)
        if key is not None and new is None:
            try:
                status, body = request(
                    server.base,
                    "DELETE",
                    f"/v1/collections/{collection}/documents/{key[1]}",
                )
            except OSError:
                continue
            if status != 200 and refused(ledger, "delete", status, body):
                continue
            with ledger.lock:
                ledger.entries[key].possible = {None}
                ledger.acknowledged += 1
        elif key is not None:
            text = f"Replacement {new}. " + " ".join(
                token(rng) for _ in range(rng.randint(5, 30))
            )
            try:
                status, body = request(
                    server.base,
                    "POST",
                    f"/v1/collections/{collection}/documents",
                    {"documents": [{"id": key[1], "text": text}]},
                )
            except OSError:
                continue
            if status != 200 and refused(ledger, "replace", status, body):
                continue
            with ledger.lock:
                ledger.entries[key].possible = {new}
                ledger.acknowledged += 1
        elif action < 0.8:
            batch = []
            for _ in range(rng.randint(1, 5)):
                document_id = "doc-" + uuid.uuid4().hex[:12]
                word = token(rng)
                batch.append((document_id, word))
                with ledger.lock:
                    ledger.entries[(collection, document_id)] = Expectation(
                        {None, word}, document_id
                    )
            documents = [
                {
                    "id": document_id,
                    "title": f"Note {document_id}",
                    "text": f"Note {word}. "
                    + " ".join(token(rng) for _ in range(rng.randint(5, 30))),
                }
                for document_id, word in batch
            ]
            try:
                status, body = request(
                    server.base,
                    "POST",
                    f"/v1/collections/{collection}/documents",
                    {"documents": documents},
                )
            except OSError:
                continue
            if status != 200 and refused(ledger, "add", status, body):
                continue
            with ledger.lock:
                for document_id, word in batch:
                    ledger.entries[(collection, document_id)].possible = {word}
                ledger.acknowledged += 1
        else:
            name = "file-" + uuid.uuid4().hex[:12] + ".md"
            word = token(rng)
            with ledger.lock:
                ledger.entries[(collection, name)] = Expectation({None, word})
            content = f"# Uploaded {name}\n\nThe file {word}.\n\n" + "\n\n".join(
                " ".join(token(rng) for _ in range(20))
                for _ in range(rng.randint(1, 4))
            )
            data, content_type = multipart(name, content.encode())
            try:
                status, body = request(
                    server.base,
                    "POST",
                    f"/v1/collections/{collection}/files",
                    data=data,
                    content_type=content_type,
                )
            except OSError:
                continue
            if status != 200 and refused(ledger, "upload", status, body):
                continue
            with ledger.lock:
                ledger.entries[(collection, name)].possible = {word}
                ledger.acknowledged += 1


def found(server: Server, collection: str, word: str) -> bool:
    status, body = request(
        server.base,
        "POST",
        f"/v1/collections/{collection}/search",
        {"query": word, "mode": "keyword", "k": 3},
    )
    if status != 200:
        raise SystemExit(f"search answered {status}: {body}")
    return any(word in hit["text"] for hit in body["hits"])  # type: ignore[index]


def verify(server: Server, ledger: Ledger) -> int:
    """Checks every entry against the store and narrows it to what is there, and that dense
    search (the HNSW graph restored or rebuilt) finds a document of each collection."""
    checked = 0
    for collection in COLLECTIONS:
        status, body = request(
            server.base,
            "POST",
            f"/v1/collections/{collection}/search",
            {"query": "Note", "mode": "dense", "k": 1},
        )
        if status != 200:
            raise SystemExit(f"dense search answered {status}: {body}")
        stored = any(
            key[0] == collection
            and len(expectation.possible) == 1
            and None not in expectation.possible
            for key, expectation in ledger.entries.items()
        )
        if stored and not body["hits"]:  # type: ignore[index]
            raise SystemExit(
                f"dense search of {collection} found nothing after a restart"
            )
    for (collection, key), expectation in list(ledger.entries.items()):
        present = {
            word
            for word in expectation.possible
            if word is not None and found(server, collection, word)
        }
        if len(present) > 1:
            raise SystemExit(f"{collection}/{key}: both {sorted(present)} are there")
        if expectation.document_id is not None:
            status, body = request(
                server.base, "GET", f"/v1/collections/{collection}/documents/{key}"
            )
            exists = status == 200
            if status not in (200, 404):
                raise SystemExit(f"get answered {status}: {body}")
            if exists != bool(present):
                raise SystemExit(
                    f"{collection}/{key}: document {'exists' if exists else 'missing'} but its "
                    f"text is {'not ' if not present else ''}found ({expectation.possible})"
                )
        state = next(iter(present)) if present else None
        if state not in expectation.possible:
            raise SystemExit(
                f"{collection}/{key}: lost an acknowledged write (expected one of "
                f"{expectation.possible}, found {state})"
            )
        expectation.possible = {state}
        checked += 1
    return checked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default="target/debug/bellhop")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="a PostgreSQL replica, the database crashed too every third kill",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="bellhop-crash-")
    # The database's own user (PostgreSQL does not run as root) must reach its directory.
    os.chmod(work, 0o755)
    database = Database(os.path.join(work, "postgres")) if args.postgres else None
    if database is not None:
        database.start()
        store = ["--database-url", database.url]
    else:
        store = ["--data-dir", os.path.join(work, "data")]
    server = Server(os.path.abspath(args.bin), store, os.path.join(work, "server.log"))
    ledger = Ledger()
    restarts = []
    database_crashes = 0
    try:
        server.start()
        for name, index in COLLECTIONS.items():
            status, body = request(
                server.base, "POST", "/v1/collections", {"name": name, "index": index}
            )
            if status != 201:
                raise SystemExit(f"create answered {status}: {body}")
        for kill in range(1, args.kills + 1):
            stop = threading.Event()
            threads = [
                threading.Thread(
                    target=writer,
                    args=(server, ledger, random.Random(rng.random()), stop),
                    daemon=True,
                )
                for _ in range(args.writers)
            ]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(1.0, 6.0))
            # No write starts after this; the ones under way meet the kill.
            stop.set()
            crash_database = database is not None and kill % 3 == 0
            if crash_database:
                ledger.database_down.set()
                database.crash()
                database_crashes += 1
            server.kill()
            for thread in threads:
                thread.join(timeout=60)
            if ledger.errors:
                raise SystemExit(
                    f"a writer failed before kill {kill}: {ledger.errors[0]}"
                )
            ledger.in_flight_at_kill += sum(
                len(expectation.possible) > 1 for expectation in ledger.entries.values()
            )
            if crash_database:
                database.start()
                ledger.database_down.clear()
            check = subprocess.run(
                [server.binary, "check", *store],
                capture_output=True,
                text=True,
                check=False,
            )
            if check.returncode != 0:
                raise SystemExit(
                    f"bellhop check after kill {kill}: {check.stderr.strip()}"
                )
            restarts.append(server.start())
            checked = verify(server, ledger)
            print(
                f"kill {kill}: {checked} documents and files checked, "
                f"restart {restarts[-1] * 1000:.0f} ms"
                f"{', database crashed too' if crash_database else ''}, "
                f"{check.stdout.strip()}",
                flush=True,
            )
        server.kill()
    except BaseException:
        if server.process is not None and server.process.poll() is None:
            server.kill()
        if database is not None:
            database.stop()
        print(f"work directory kept: {work}", file=sys.stderr)
        raise
    restarts.sort()
    print(
        f"{args.kills} kills survived: {ledger.acknowledged} acknowledged writes kept, "
        f"{ledger.in_flight_at_kill} in flight at a kill and whole either way, "
        f"{len(ledger.entries)} documents and files at the end; restart p50 "
        f"{restarts[len(restarts) // 2] * 1000:.0f} ms"
        + (
            f"; the database crashed {database_crashes} times "
            f"({ledger.refused_while_down} writes answered 5xx as it went down)"
            if database
            else ""
        )
    )
    if database is not None:
        database.stop()
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
