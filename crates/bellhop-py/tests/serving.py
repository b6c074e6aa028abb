"""Runs a real `bellhop serve` for tests: on a free loopback port, with API keys passed as
SHA-256 digests in a config file, ready once `/ready` answers 200, and stopped with SIGTERM
(which must end it with status 0).

The binary is `$BELLHOP_BIN`, or `target/debug/bellhop` under the repository root; the
server runs from the repository root so that it finds `models/all-MiniLM-L6-v2`.

    with start_server(data_dir, admin_key=key, repo_root=root) as server:
        client = Client(server.url, server.admin_key)
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def bypass_proxy_for_loopback() -> None:
    """Makes HTTP clients that read the environment (httpx, urllib) reach loopback
    directly rather than through a proxy configured for the machine."""
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [host for host in os.environ.get(name, "").split(",") if host]
        missing = [host for host in LOOPBACK_HOSTS if host not in hosts]
        os.environ[name] = ",".join(hosts + missing)


bypass_proxy_for_loopback()


@dataclass(frozen=True)
class ApiKey:
    """A key the server accepts besides the admin key."""

    name: str
    key: str
    role: str = "query"
    """``admin`` or ``query``."""
    collections: Sequence[str] = ()
    """The collections a ``query`` key may use."""


def sha256_hex(key: str) -> str:
    """A key as the server's config stores it."""
    return hashlib.sha256(key.encode()).hexdigest()


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def binary_path(repo_root: Path) -> Path:
    """The `bellhop` binary under test."""
    path = Path(os.environ.get("BELLHOP_BIN", "target/debug/bellhop"))
    if not path.is_absolute():
        path = repo_root / path
    if not path.is_file():
        raise FileNotFoundError(
            f"the bellhop binary is missing at {path}: build it with "
            "`cargo build -p bellhop-cli` or point BELLHOP_BIN at it"
        )
    return path


def _toml_string(value: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(value)


def config_toml(admin_key: str | None, extra_keys: Sequence[ApiKey]) -> str:
    """The `[[keys]]` of a server config; empty (an open server) without keys."""
    keys = list(extra_keys)
    if admin_key is not None:
        keys.insert(0, ApiKey("admin", admin_key, role="admin"))
    blocks = []
    for key in keys:
        lines = [
            "[[keys]]",
            f"name = {_toml_string(key.name)}",
            f'sha256 = "{sha256_hex(key.key)}"',
            f"role = {_toml_string(key.role)}",
        ]
        if key.collections:
            listed = ", ".join(_toml_string(name) for name in key.collections)
            lines.append(f"collections = [{listed}]")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def get_json(url: str, timeout: float = 10.0) -> tuple[int, object]:
    """A GET without a key; returns (status, parsed body). HTTP errors are returned."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


@dataclass
class RunningServer:
    """A started `bellhop serve`; stop it with :meth:`stop` or by leaving its `with`."""

    process: subprocess.Popen
    port: int
    admin_key: str | None
    data_dir: Path
    stderr_path: Path
    model: str = ""
    """The embedding model the server serves (from `/ready`)."""
    extra_keys: Sequence[ApiKey] = field(default_factory=tuple)

    @property
    def url(self) -> str:
        """The root URL (the client's `base_url`)."""
        return f"http://127.0.0.1:{self.port}"

    def key(self, name: str) -> str:
        """The key named `name` among the extra keys."""
        for key in self.extra_keys:
            if key.name == name:
                return key.key
        raise KeyError(name)

    def stderr(self) -> str:
        """What the server has logged so far."""
        return self.stderr_path.read_text(errors="replace")

    def stop(self) -> None:
        """Sends SIGTERM and checks that the server exits with status 0 in time. Raises
        AssertionError (with the server's log) when it had died or does not exit cleanly."""
        if self.process.poll() is not None:
            raise AssertionError(
                f"bellhop serve exited early with status {self.process.returncode}; "
                f"stderr:\n{self.stderr()}"
            )
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"bellhop serve did not stop within {STOP_TIMEOUT_S:.0f} s of SIGTERM; "
                f"stderr:\n{self.stderr()}"
            ) from None
        if code != 0:
            raise AssertionError(
                f"bellhop serve exited with status {code} after SIGTERM; stderr:\n{self.stderr()}"
            )

    def kill(self) -> None:
        """Ends the server at once (after a failure); no checks."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.stop()
        else:
            # The test already failed: do not hide its error behind a shutdown check.
            self.kill()


def _wait_until_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        code = server.process.poll()
        if code is not None:
            raise RuntimeError(
                f"bellhop serve exited with status {code} before it was ready; stderr:\n"
                + server.stderr()
            )
        try:
            status, body = get_json(f"{server.url}/ready", timeout=5.0)
            if status == 200 and isinstance(body, dict):
                server.model = str(body.get("model", ""))
                return
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(
                f"bellhop serve was not ready within {READY_TIMEOUT_S:.0f} s; stderr:\n"
                + server.stderr()
            )
        time.sleep(0.2)


def start_server(
    data_dir: Path,
    *,
    admin_key: str | None,
    extra_keys: Sequence[ApiKey] = (),
    repo_root: Path,
    work_dir: Path | None = None,
    extra_args: Sequence[str] = (),
) -> RunningServer:
    """Starts `bellhop serve` on `data_dir` (created if absent, or one filled beforehand)
    and returns once it is ready.

    Args:
        admin_key: the admin key; ``None`` with no `extra_keys` serves without keys.
        extra_keys: more keys, e.g. a query key scoped to some collections.
        repo_root: where the binary and the embedding model are found.
        work_dir: where the config and the server's stderr go (a new temporary directory
            when absent).
        extra_args: more `bellhop serve` flags.
    """
    binary = binary_path(repo_root)
    work_dir = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="bellhop-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = work_dir / f"bellhop-{port}.toml"
    config.write_text(config_toml(admin_key, extra_keys))
    stderr_path = work_dir / f"server-{port}.stderr"
    # Only the config file and the flags configure the server under test.
    env = {name: value for name, value in os.environ.items() if not name.startswith("BELLHOP_")}
    command = [
        str(binary),
        "serve",
        "--config",
        str(config),
        "--data-dir",
        str(data_dir),
        "--addr",
        f"127.0.0.1:{port}",
        *extra_args,
    ]
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            cwd=repo_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    server = RunningServer(
        process=process,
        port=port,
        admin_key=admin_key,
        data_dir=Path(data_dir),
        stderr_path=stderr_path,
        extra_keys=tuple(extra_keys),
    )
    try:
        _wait_until_ready(server)
    except BaseException:
        server.kill()
        raise
    return server
