"""Starts one `bellhop serve` for the session, with an admin key, a query key scoped to
`hotel`, and two collections (`hotel`, which the query key may use, and `spa`, which it
may not), then stops it with SIGTERM and checks that it exits cleanly.

The binary is `$BELLHOP_BIN`, or `target/debug/bellhop` under the repository root; the
server runs from the repository root so that it finds `models/all-MiniLM-L6-v2`.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0

# The server is on loopback: never send its requests through a proxy from the environment.
for _name in ("NO_PROXY", "no_proxy"):
    _hosts = [host for host in os.environ.get(_name, "").split(",") if host]
    os.environ[_name] = ",".join(_hosts + ["127.0.0.1", "localhost"])

HOTEL_DOCUMENTS = [
    {
        "id": "pool",
        "title": "Indoor pool",
        "text": (
            "The indoor pool is on the lower ground floor. "
            "The pool is heated to 28 °C all year round. "
            "It is open from 07:00 to 22:00, and children under 16 swim until 19:00 with an adult."
        ),
        "metadata": {"area": "wellness", "floor": -1},
    },
    {
        "id": "breakfast",
        "title": "Breakfast",
        "text": (
            "Breakfast is served in the Harbour Restaurant from 06:30 to 10:30 on weekdays "
            "and until 11:00 at weekends. Gluten-free bread is available on request."
        ),
        "metadata": {"area": "dining"},
    },
    {
        "id": "checkout",
        "title": "Check-in and check-out",
        "text": (
            "Check-in starts at 15:00. Check-out is by 11:00; late check-out until 14:00 "
            "costs 30 euros and can be booked at reception."
        ),
        "metadata": {"area": "policies"},
    },
    {
        "id": "parking",
        "title": "Parking",
        "text": (
            "The hotel garage has 40 spaces and four electric vehicle chargers. "
            "Parking costs 18 euros per night; the garage entrance is on Quay Street."
        ),
        "metadata": {"area": "services"},
    },
]

SPA_DOCUMENTS = [
    {
        "id": "massage",
        "title": "Massages",
        "text": (
            "The spa offers a 60-minute deep tissue massage for 95 euros. "
            "The sauna is heated to 90 °C and opens at 10:00."
        ),
        "metadata": {"area": "spa"},
    },
]


@dataclass(frozen=True)
class Server:
    """How to reach the running server."""

    port: int
    admin_key: str
    query_key: str
    embedding_model: str
    stderr_path: Path

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI client's `base_url`."""
        return f"{self.root_url}/v1"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def sha256_hex(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(method: str, url: str, body: object | None = None, key: str | None = None):
    """One JSON request; returns (status, parsed body or None). HTTP errors are returned,
    not raised."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, parsed


def binary_path() -> Path:
    path = Path(os.environ.get("BELLHOP_BIN", "target/debug/bellhop"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file():
        pytest.fail(
            f"the bellhop binary is missing at {path}: build it with "
            "`cargo build -p bellhop-cli` or point BELLHOP_BIN at it",
            pytrace=False,
        )
    return path


def wait_until_ready(proc: subprocess.Popen, server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        code = proc.poll()
        if code is not None:
            pytest.fail(
                f"bellhop serve exited with status {code} before it was ready; stderr:\n"
                + server.stderr(),
                pytrace=False,
            )
        try:
            status, _ = request("GET", f"{server.root_url}/ready")
            if status == 200:
                return
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(
                f"bellhop serve was not ready within {READY_TIMEOUT_S:.0f} s; stderr:\n"
                + server.stderr(),
                pytrace=False,
            )
        time.sleep(0.2)


def stop(proc: subprocess.Popen, server: Server) -> None:
    if proc.poll() is not None:
        pytest.fail(
            f"bellhop serve exited early with status {proc.returncode}; stderr:\n"
            + server.stderr(),
            pytrace=False,
        )
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(
            f"bellhop serve did not stop within {STOP_TIMEOUT_S:.0f} s of SIGTERM; stderr:\n"
            + server.stderr(),
            pytrace=False,
        )
    assert code == 0, f"bellhop serve exited with status {code} after SIGTERM; stderr:\n{server.stderr()}"


def seed(server: Server) -> None:
    for name, documents in (("hotel", HOTEL_DOCUMENTS), ("spa", SPA_DOCUMENTS)):
        status, body = request(
            "POST", f"{server.base_url}/collections", {"name": name}, server.admin_key
        )
        assert status == 201, f"creating {name}: {status} {body}"
        status, body = request(
            "POST",
            f"{server.base_url}/collections/{name}/documents",
            {"documents": documents},
            server.admin_key,
        )
        assert status == 200, f"adding documents to {name}: {status} {body}"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    """A running, seeded bellhop server."""
    binary = binary_path()
    workdir = tmp_path_factory.mktemp("bellhop")
    admin_key = "bh-admin-" + secrets.token_hex(16)
    query_key = "bh-query-" + secrets.token_hex(16)
    config = workdir / "bellhop.toml"
    config.write_text(
        f"""[[keys]]
name = "ops"
sha256 = "{sha256_hex(admin_key)}"
role = "admin"

[[keys]]
name = "front-desk"
sha256 = "{sha256_hex(query_key)}"
role = "query"
collections = ["hotel"]
"""
    )
    port = free_port()
    stderr_path = workdir / "server.stderr"
    # Only the config file and the flags configure the server under test.
    env = {name: value for name, value in os.environ.items() if not name.startswith("BELLHOP_")}
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [
                str(binary),
                "serve",
                "--config",
                str(config),
                "--data-dir",
                str(workdir / "data"),
                "--addr",
                f"127.0.0.1:{port}",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    provisional = Server(port, admin_key, query_key, "", stderr_path)
    try:
        wait_until_ready(proc, provisional)
        status, ready = request("GET", f"{provisional.root_url}/ready")
        assert status == 200, ready
        server = Server(port, admin_key, query_key, ready["model"], stderr_path)
        seed(server)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    yield server
    stop(proc, server)
