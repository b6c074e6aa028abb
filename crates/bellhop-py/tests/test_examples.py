"""The walk-through in examples/python runs end to end: build a store from a CSV, serve it,
query it with the client."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import serving

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = REPO_ROOT / "examples" / "python"
MODEL_DIR = REPO_ROOT / "models" / "all-MiniLM-L6-v2"


def run_example(*args: str) -> str:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_menu_store_then_serve_then_ask(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    out = run_example(
        str(EXAMPLES / "menu_store.py"), "--data-dir", str(data_dir), "--model", str(MODEL_DIR)
    )
    assert "vectors (" in out and "float32" in out
    assert "room-service:" in out
    assert "serve it: bellhop serve" in out

    admin_key = "bh-admin-" + secrets.token_hex(16)
    running = serving.start_server(
        data_dir, admin_key=admin_key, repo_root=REPO_ROOT, work_dir=tmp_path / "serve"
    )
    try:
        answer = run_example(
            str(EXAMPLES / "ask_server.py"),
            "--url",
            running.url,
            "--api-key",
            admin_key,
            "Is there a vegan dessert?",
        )
    finally:
        running.stop()
    lines = [line for line in answer.splitlines() if line.strip()]
    assert len(lines) >= 2, answer
    assert "[1]" in answer, answer
