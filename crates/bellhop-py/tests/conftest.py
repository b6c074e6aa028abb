"""Fixtures of the Python package's tests: one real `bellhop serve` for the session, with
an admin key and a query key scoped to the `hotel` collection."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Iterator

import pytest

# Test modules import the helpers next to them (`import serving`) however pytest is run.
TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

import serving  # noqa: E402

REPO_ROOT = TESTS_DIR.parents[2]

QUERY_KEY_NAME = "front-desk"
"""The query key's name; it may use only :data:`QUERY_COLLECTION`."""
QUERY_COLLECTION = "hotel"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root, where the binary and the embedding model are found."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[serving.RunningServer]:
    """A running server on a fresh, empty data directory; the query key is
    ``server.key(QUERY_KEY_NAME)``."""
    work_dir = tmp_path_factory.mktemp("bellhop-serve")
    query_key = serving.ApiKey(
        QUERY_KEY_NAME,
        "bh-query-" + secrets.token_hex(16),
        role="query",
        collections=(QUERY_COLLECTION,),
    )
    try:
        running = serving.start_server(
            work_dir / "data",
            admin_key="bh-admin-" + secrets.token_hex(16),
            extra_keys=[query_key],
            repo_root=REPO_ROOT,
            work_dir=work_dir,
        )
    except (FileNotFoundError, RuntimeError) as err:
        pytest.fail(str(err), pytrace=False)
    yield running
    running.stop()
