"""A client for the HTTP API of ``bellhop serve``: :class:`Client` (blocking) and
:class:`AsyncClient` (asyncio), both on httpx.

Both clients send the same requests and read the same responses: each endpoint is described
once (its request and the parser of its response), and the two clients only differ in how
they send it.

Every non-2xx response raises :class:`~bellhop.errors.APIError` with the server's status,
error code and message; a server that cannot be reached raises
:class:`ConnectionFailedError`.

The names are re-exported here from :mod:`bellhop._client`: ``types`` (the results),
``requests`` (the requests, with the parameters of the four ``ask`` methods written once),
``signature`` (how those methods take them), ``sse`` (the answer stream), ``transport``
(what both clients do the same) and ``sync`` and ``aio`` (the clients).
"""

from __future__ import annotations

from ._client.aio import AsyncClient
from ._client.requests import FilePart
from ._client.sse import AskEventReader as _AskEventReader
from ._client.sync import Client
from ._client.transport import DEFAULT_BASE_URL, ConnectionFailedError
from ._client.transport import api_error as _api_error
from ._client.types import (
    AskEvent,
    AskResult,
    AskTimings,
    Chunking,
    Citation,
    CitationsEvent,
    Collection,
    DeltaEvent,
    Document,
    DocumentPage,
    DoneEvent,
    GeneratorName,
    Health,
    IndexKind,
    Model,
    Readiness,
    SearchMode,
    SearchResult,
    SearchTimings,
    UploadedFile,
    UploadReport,
    Usage,
    WriteReceipt,
)
from .errors import APIError, BellhopError
from .types import Hit, Hits

__all__ = [
    "AskEvent",
    "AskResult",
    "AskTimings",
    "AsyncClient",
    "Chunking",
    "Citation",
    "CitationsEvent",
    "Client",
    "Collection",
    "ConnectionFailedError",
    "DeltaEvent",
    "Document",
    "DocumentPage",
    "DoneEvent",
    "GeneratorName",
    "Health",
    "IndexKind",
    "Model",
    "Readiness",
    "SearchMode",
    "SearchResult",
    "SearchTimings",
    "UploadReport",
    "UploadedFile",
    "Usage",
    "WriteReceipt",
]
