"""bellhop in Python: the same Rust core as the server, in-process, and a client for the
server's HTTP API.

- :class:`Embedder` embeds texts into a float32 numpy array (the GIL is released while
  Rust works, so threads embed in parallel).
- :class:`Store` opens the on-disk store the server uses: collections, documents,
  ingestion of files, search and retrieval evaluation.
- :func:`chunk` splits text with the same chunker as ingestion.
- :class:`Client` and :class:`AsyncClient` drive a running ``bellhop serve``.
"""

from __future__ import annotations

from ._core import Embedder, __version__, chunk
from ._store import Store
from .client import (
    AskResult,
    AsyncClient,
    CitationsEvent,
    Client,
    ConnectionFailedError,
    DeltaEvent,
    DoneEvent,
    SearchResult,
)
from .errors import (
    APIError,
    BellhopError,
    ConflictError,
    InvalidInputError,
    ModelNotFoundError,
    NotFoundError,
)
from .types import Hit, Hits, RetrieverMatch

__all__ = [
    "APIError",
    "AskResult",
    "AsyncClient",
    "BellhopError",
    "CitationsEvent",
    "Client",
    "ConflictError",
    "ConnectionFailedError",
    "DeltaEvent",
    "DoneEvent",
    "Embedder",
    "Hit",
    "Hits",
    "InvalidInputError",
    "ModelNotFoundError",
    "NotFoundError",
    "RetrieverMatch",
    "SearchResult",
    "Store",
    "__version__",
    "chunk",
]
