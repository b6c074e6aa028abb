"""A client for the HTTP API of ``bellhop serve``: :class:`Client` (blocking) and
:class:`AsyncClient` (asyncio), both on httpx.

Both clients send the same requests and read the same responses: each endpoint is described
once (its request and the parser of its response), and the two clients only differ in how
they send it.

Every non-2xx response raises :class:`~bellhop.errors.APIError` with the server's status,
error code and message; a server that cannot be reached raises
:class:`ConnectionFailedError`.
"""

from __future__ import annotations

import base64
import email.utils
import json
import mimetypes
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    AsyncGenerator,
    Callable,
    Generator,
    Generic,
    Iterable,
    Literal,
    Mapping,
    Sequence,
    TypeVar,
    Union,
)
from urllib.parse import quote

import httpx
import numpy as np
from numpy.typing import NDArray

from .errors import APIError, BellhopError
from .types import Hit, Hits

SearchMode = Literal["hybrid", "dense", "keyword"]
"""Which retrievers a search uses."""

GeneratorName = Literal["extractive", "local", "openai"]
"""Which generator writes an answer."""

IndexKind = Literal["auto", "exact", "hnsw"]
"""Which vector index a collection uses."""

DEFAULT_BASE_URL = "http://127.0.0.1:8080"

T = TypeVar("T")


class ConnectionFailedError(BellhopError, ConnectionError):
    """The request did not complete: the server could not be reached, the connection broke,
    or it timed out. The httpx exception is chained as ``__cause__``."""


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Health:
    """``GET /health``: the process is alive."""

    status: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Health:
        """Reads the server's JSON."""
        return cls(status=str(data.get("status", "")))


@dataclass(frozen=True)
class Readiness:
    """``GET /ready``: the server answers requests."""

    ready: bool
    model: str
    """The embedding model the server serves."""
    collections: int
    """How many collections the server holds."""
    generators: dict[str, Any] = field(default_factory=dict)
    """The default generator, the local model and the upstreams' health."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Readiness:
        """Reads the server's JSON."""
        return cls(
            ready=bool(data.get("ready", False)),
            model=str(data.get("model", "")),
            collections=int(data.get("collections", 0)),
            generators=dict(data.get("generators") or {}),
        )


@dataclass(frozen=True)
class Chunking:
    """How a collection's documents are split into chunks."""

    max_tokens: int
    overlap_tokens: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Chunking:
        """Reads the server's JSON."""
        return cls(max_tokens=int(data["max_tokens"]), overlap_tokens=int(data["overlap_tokens"]))


@dataclass(frozen=True)
class Collection:
    """A collection's settings and counts."""

    name: str
    model: str
    """The embedding model its vectors come from."""
    dim: int
    chunking: Chunking
    index: str
    """The configured index: ``auto``, ``exact`` or ``hnsw``."""
    active_index: str
    """The index in use now: ``exact`` or ``hnsw``."""
    documents: int
    chunks: int
    version: int
    """Bumped by every write."""
    system_prompt: str | None = None
    generator: str | None = None
    """The generator of answers that name none; the server's default when ``None``."""
    answer_deadline_ms: int | None = None
    """The deadline of answers that set none; the server's default when ``None``."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Collection:
        """Reads the server's JSON."""
        chunking = data.get("chunking") or {"max_tokens": 256, "overlap_tokens": 32}
        return cls(
            name=str(data["name"]),
            model=str(data["model"]),
            dim=int(data["dim"]),
            chunking=Chunking.from_dict(chunking),
            index=str(data.get("index", "auto")),
            active_index=str(data.get("active_index", "exact")),
            documents=int(data.get("documents", 0)),
            chunks=int(data.get("chunks", 0)),
            version=int(data.get("version", 0)),
            system_prompt=_optional_str(data.get("system_prompt")),
            generator=_optional_str(data.get("generator")),
            answer_deadline_ms=_optional_int(data.get("answer_deadline_ms")),
        )


@dataclass(frozen=True)
class WriteReceipt:
    """What a write did."""

    version: int
    """The collection's version after the write."""
    documents: int
    """Documents written."""
    chunks: int
    """Chunks written."""
    removed: int
    """Documents removed because their source no longer yields them."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WriteReceipt:
        """Reads the server's JSON."""
        return cls(
            version=int(data["version"]),
            documents=int(data.get("documents", 0)),
            chunks=int(data.get("chunks", 0)),
            removed=int(data.get("removed", 0)),
        )


@dataclass(frozen=True)
class UploadedFile:
    """What an upload did with one file."""

    name: str
    status: str
    """``ingested``, or ``unchanged`` when the same content was ingested before."""
    documents: int
    chunks: int
    removed: int
    """Documents the file no longer yields, removed."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UploadedFile:
        """Reads the server's JSON."""
        return cls(
            name=str(data["name"]),
            status=str(data["status"]),
            documents=int(data.get("documents", 0)),
            chunks=int(data.get("chunks", 0)),
            removed=int(data.get("removed", 0)),
        )


@dataclass(frozen=True)
class UploadReport:
    """What an upload did, file by file, in the order sent."""

    files: list[UploadedFile]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UploadReport:
        """Reads the server's JSON."""
        return cls(files=[UploadedFile.from_dict(item) for item in data.get("files", [])])


@dataclass(frozen=True)
class Document:
    """A stored document (without its chunks)."""

    id: str
    title: str
    source: str
    metadata: dict[str, Any]
    chunks: int
    updated_at: int
    """Last write, seconds since the Unix epoch."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Document:
        """Reads the server's JSON."""
        return cls(
            id=str(data["id"]),
            title=str(data.get("title", "")),
            source=str(data.get("source", "")),
            metadata=dict(data.get("metadata") or {}),
            chunks=int(data.get("chunks", 0)),
            updated_at=int(data.get("updated_at", 0)),
        )


@dataclass(frozen=True)
class DocumentPage:
    """One page of a collection's documents, by id."""

    documents: list[Document]
    offset: int
    limit: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DocumentPage:
        """Reads the server's JSON."""
        return cls(
            documents=[Document.from_dict(item) for item in data.get("documents", [])],
            offset=int(data.get("offset", 0)),
            limit=int(data.get("limit", 0)),
        )


@dataclass(frozen=True)
class SearchTimings:
    """Where a search spent its time, in milliseconds."""

    embed_ms: float
    search_ms: float
    total_ms: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchTimings:
        """Reads the server's JSON."""
        return cls(
            embed_ms=float(data.get("embed_ms", 0.0)),
            search_ms=float(data.get("search_ms", 0.0)),
            total_ms=float(data.get("total_ms", 0.0)),
        )


@dataclass(frozen=True)
class SearchResult:
    """The hits of a search, best first."""

    hits: Hits
    cached: bool
    """Whether the hits came from the server's cache."""
    timings: SearchTimings

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchResult:
        """Reads the server's JSON."""
        return cls(
            hits=Hits(Hit.from_dict(hit) for hit in data.get("hits", [])),
            cached=bool(data.get("cached", False)),
            timings=SearchTimings.from_dict(data.get("timings") or {}),
        )


@dataclass(frozen=True)
class Citation:
    """One source an answer cites."""

    index: int
    """The number the answer cites it by (``[1]`` is 1)."""
    chunk_id: int
    document_id: str
    title: str
    section: list[str]
    source: str
    score: float
    text: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Citation:
        """Reads the server's JSON."""
        return cls(
            index=int(data["index"]),
            chunk_id=int(data["chunk_id"]),
            document_id=str(data["document_id"]),
            title=str(data.get("title", "")),
            section=[str(part) for part in data.get("section", [])],
            source=str(data.get("source", "")),
            score=float(data.get("score", 0.0)),
            text=str(data.get("text", "")),
        )


@dataclass(frozen=True)
class Usage:
    """Tokens of a model's prompt and answer."""

    prompt_tokens: int
    completion_tokens: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        """Reads the server's JSON."""
        return cls(
            prompt_tokens=int(data.get("prompt_tokens", 0)),
            completion_tokens=int(data.get("completion_tokens", 0)),
        )


@dataclass(frozen=True)
class AskTimings:
    """Where an answer spent its time, in milliseconds."""

    retrieval_ms: float
    total_ms: float
    first_token_ms: float | None = None
    """From the request to the model's first token; ``None`` when no model answered."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AskTimings:
        """Reads the server's JSON."""
        return cls(
            retrieval_ms=float(data.get("retrieval_ms", 0.0)),
            total_ms=float(data.get("total_ms", 0.0)),
            first_token_ms=_optional_float(data.get("first_token_ms")),
        )


@dataclass(frozen=True)
class AskResult:
    """An answer with the sources it cites."""

    answer: str
    """The answer text, citing sources as ``[n]``."""
    citations: list[Citation]
    generator: str
    """The generator that answered (``extractive``, ``local`` or ``openai``)."""
    degraded: bool
    """Whether a fallback answered instead of the generator asked for."""
    degraded_reason: str | None = None
    """Why the answer is degraded."""
    usage: Usage | None = None
    """Token counts; ``None`` for extractive answers."""
    timings: AskTimings | None = None
    cached: bool = False
    """Whether the answer came from the server's cache."""
    deadline_ms: int | None = None
    """The deadline the answer was held to."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AskResult:
        """Reads the server's JSON."""
        usage = data.get("usage")
        timings = data.get("timings")
        return cls(
            answer=str(data["answer"]),
            citations=[Citation.from_dict(item) for item in data.get("citations", [])],
            generator=str(data.get("generator", "")),
            degraded=bool(data.get("degraded", False)),
            degraded_reason=_optional_str(data.get("reason")),
            usage=None if usage is None else Usage.from_dict(usage),
            timings=None if timings is None else AskTimings.from_dict(timings),
            cached=bool(data.get("cached", False)),
            deadline_ms=_optional_int(data.get("deadline_ms")),
        )


@dataclass(frozen=True)
class CitationsEvent:
    """The first event of a streamed answer: the sources it may cite."""

    citations: list[Citation]


@dataclass(frozen=True)
class DeltaEvent:
    """The next piece of a streamed answer's text."""

    text: str


@dataclass(frozen=True)
class DoneEvent:
    """The last event of a streamed answer: the whole answer."""

    result: AskResult


AskEvent = Union[CitationsEvent, DeltaEvent, DoneEvent]
"""An event of :meth:`Client.ask_stream`."""


@dataclass(frozen=True)
class Model:
    """One entry of ``GET /v1/models``: the embedding model, the local chat model, or a
    collection the key may use."""

    id: str
    created: int
    owned_by: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Model:
        """Reads the server's JSON."""
        return cls(
            id=str(data["id"]),
            created=int(data.get("created", 0)),
            owned_by=str(data.get("owned_by", "")),
        )


def _embeddings_array(data: Mapping[str, Any]) -> NDArray[np.float32]:
    """Decodes an OpenAI embeddings list (float or base64) into a float32 (n, dim) array."""
    items = sorted(data["data"], key=lambda item: int(item["index"]))
    rows = []
    for item in items:
        embedding = item["embedding"]
        if isinstance(embedding, str):
            rows.append(np.frombuffer(base64.b64decode(embedding), dtype="<f4"))
        else:
            rows.append(np.asarray(embedding, dtype=np.float32))
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.vstack(rows).astype(np.float32, copy=False)


# --------------------------------------------------------------------------------------
# Requests, described once for both clients
# --------------------------------------------------------------------------------------

FilePart = tuple[str, tuple[str, bytes, str]]


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One request and the parser of its successful response's JSON (``None`` when the
    response has no body)."""

    method: str
    path: str
    parse: Callable[[Any], T]
    json: Any = None
    params: Mapping[str, Any] | None = None
    files: list[FilePart] | None = None


def _segment(value: str) -> str:
    """Encodes a path segment: ids may hold `/`, `#` or `?` (e.g. ``rooms.csv#double``)."""
    return quote(str(value), safe="")


def _collection_path(collection: str, *rest: str) -> str:
    return "/".join(["/v1/collections", _segment(collection), *rest])


def _without_none(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Leaves out unset fields, so that the server applies its defaults."""
    return {key: value for key, value in fields.items() if value is not None}


def _nothing(_: Any) -> None:
    return None


def _health_call() -> _Call[Health]:
    return _Call("GET", "/health", Health.from_dict)


def _ready_call() -> _Call[Readiness]:
    return _Call("GET", "/ready", Readiness.from_dict)


def _list_collections_call() -> _Call[list[Collection]]:
    return _Call(
        "GET",
        "/v1/collections",
        lambda data: [Collection.from_dict(item) for item in data.get("collections", [])],
    )


def _get_collection_call(name: str) -> _Call[Collection]:
    return _Call("GET", _collection_path(name), Collection.from_dict)


def _create_collection_call(
    name: str,
    *,
    model: str | None,
    chunk_tokens: int | None,
    chunk_overlap: int | None,
    index: str | None,
    system_prompt: str | None,
    generator: str | None,
    answer_deadline_ms: int | None,
) -> _Call[Collection]:
    chunking = None
    if chunk_tokens is not None or chunk_overlap is not None:
        # The API takes both or neither; an unset one keeps the server's default.
        chunking = {
            "max_tokens": 256 if chunk_tokens is None else chunk_tokens,
            "overlap_tokens": 32 if chunk_overlap is None else chunk_overlap,
        }
    body = _without_none(
        {
            "name": name,
            "model": model,
            "chunking": chunking,
            "index": index,
            "system_prompt": system_prompt,
            "generator": generator,
            "answer_deadline_ms": answer_deadline_ms,
        }
    )
    return _Call("POST", "/v1/collections", Collection.from_dict, json=body)


def _delete_collection_call(name: str) -> _Call[None]:
    return _Call("DELETE", _collection_path(name), _nothing)


def _add_documents_call(
    collection: str, documents: Iterable[Mapping[str, Any]]
) -> _Call[WriteReceipt]:
    body = {"documents": [_without_none(document) for document in documents]}
    return _Call(
        "POST", _collection_path(collection, "documents"), WriteReceipt.from_dict, json=body
    )


def _upload_files_call(
    collection: str, paths: Iterable[str | os.PathLike[str]]
) -> _Call[UploadReport]:
    parts: list[FilePart] = []
    for path in paths:
        path = Path(path)
        # The server reads each part by its file name's extension.
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts.append(("file", (path.name, path.read_bytes(), content_type)))
    if not parts:
        raise ValueError("upload_files needs at least one path")
    return _Call("POST", _collection_path(collection, "files"), UploadReport.from_dict, files=parts)


def _list_documents_call(collection: str, offset: int, limit: int) -> _Call[DocumentPage]:
    return _Call(
        "GET",
        _collection_path(collection, "documents"),
        DocumentPage.from_dict,
        params={"offset": offset, "limit": limit},
    )


def _get_document_call(collection: str, document_id: str) -> _Call[Document]:
    return _Call(
        "GET", _collection_path(collection, "documents", _segment(document_id)), Document.from_dict
    )


def _delete_document_call(collection: str, document_id: str) -> _Call[WriteReceipt]:
    return _Call(
        "DELETE",
        _collection_path(collection, "documents", _segment(document_id)),
        WriteReceipt.from_dict,
    )


def _search_call(
    collection: str,
    query: str,
    *,
    k: int,
    mode: str,
    filter: Mapping[str, Any] | None,
    min_score: float | None,
) -> _Call[SearchResult]:
    body = _without_none(
        {"query": query, "k": k, "mode": mode, "filter": filter, "min_score": min_score}
    )
    return _Call("POST", _collection_path(collection, "search"), SearchResult.from_dict, json=body)


def _ask_body(
    question: str,
    *,
    stream: bool,
    k: int | None,
    mode: str | None,
    filter: Mapping[str, Any] | None,
    max_sentences: int | None,
    generator: str | None,
    deadline_ms: int | None,
    messages: Sequence[Mapping[str, Any]] | None,
    max_tokens: int | None,
    temperature: float | None,
    top_p: float | None,
    seed: int | None,
    stop: str | Sequence[str] | None,
) -> dict[str, Any]:
    return _without_none(
        {
            "question": question,
            "stream": stream,
            "k": k,
            "mode": mode,
            "filter": filter,
            "max_sentences": max_sentences,
            "generator": generator,
            "deadline_ms": deadline_ms,
            "messages": None if messages is None else [dict(message) for message in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "seed": seed,
            "stop": stop if stop is None or isinstance(stop, str) else list(stop),
        }
    )


def _ask_call(collection: str, body: dict[str, Any]) -> _Call[AskResult]:
    return _Call("POST", _collection_path(collection, "ask"), AskResult.from_dict, json=body)


def _embeddings_call(texts: str | Sequence[str], model: str) -> _Call[NDArray[np.float32]]:
    inputs = [texts] if isinstance(texts, str) else list(texts)
    # base64 is a quarter of the size of JSON floats and decodes without parsing.
    body = {"input": inputs, "model": model, "encoding_format": "base64"}
    return _Call("POST", "/v1/embeddings", _embeddings_array, json=body)


def _models_call() -> _Call[list[Model]]:
    return _Call(
        "GET", "/v1/models", lambda data: [Model.from_dict(item) for item in data.get("data", [])]
    )


# --------------------------------------------------------------------------------------
# Responses, read once for both clients
# --------------------------------------------------------------------------------------


def _retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds: a number, or an HTTP date."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _api_error(response: httpx.Response) -> APIError:
    """The error a non-2xx response stands for; its body must have been read."""
    code, message = "http_error", response.reason_phrase or f"HTTP {response.status_code}"
    try:
        detail = response.json()["error"]
        code = str(detail["code"])
        message = str(detail["message"])
    except (ValueError, KeyError, TypeError):
        # Not the API's error shape (e.g. a proxy in between): keep what text there is.
        text = response.text.strip()
        if text:
            message = text[:500]
    return APIError(response.status_code, code, message, _retry_after(response))


def _parse(call: _Call[T], response: httpx.Response) -> T:
    """The parsed result of a read response, or the error it carries."""
    if not response.is_success:
        raise _api_error(response)
    try:
        data = response.json() if response.content else None
        return call.parse(data)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise BellhopError(
            f"{call.method} {call.path}: unexpected response from the server: {err!r}"
        ) from err


def _connection_failed(
    base_url: str, call: _Call[Any], err: httpx.HTTPError
) -> ConnectionFailedError:
    return ConnectionFailedError(f"{call.method} {base_url}{call.path} failed: {err!r}")


@dataclass(frozen=True)
class _SSEMessage:
    event: str
    data: str


class _SSEDecoder:
    """Turns the lines of a ``text/event-stream`` into messages (the WHATWG rules: ``event``
    and ``data`` fields, comments from ``:``, a blank line ends a message).

    Written here rather than taken from ``httpx-sse``: the rules are a few lines, and the
    package then depends on numpy and httpx only, for both the sync and async clients."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> _SSEMessage | None:
        """Takes one line (without its line ending); returns the message it completes."""
        if not line:
            if not self._data:
                self._event = ""
                return None
            message = _SSEMessage(self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return message
        if line.startswith(":"):
            return None  # a comment: the server's keep-alive
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


class _AskEventReader:
    """Turns the messages of an ``/ask`` stream into :data:`AskEvent` values, and raises
    :class:`APIError` for an error in the stream or a stream that ends without ``done``."""

    def __init__(self, status_code: int) -> None:
        self._status_code = status_code
        self._decoder = _SSEDecoder()
        self.done = False

    def feed(self, line: str) -> AskEvent | None:
        """Takes one line; returns the event it completes, if any."""
        message = self._decoder.feed(line)
        if message is None:
            return None
        try:
            data = json.loads(message.data) if message.data else {}
            if not isinstance(data, dict):
                raise TypeError(f"expected a JSON object, got {type(data).__name__}")
            # Named `error` events, and unnamed ones with an error body as OpenAI sends them.
            if message.event == "error" or (message.event == "message" and "error" in data):
                detail = data.get("error")
                if not isinstance(detail, dict):
                    detail = {}
                raise APIError(
                    self._status_code,
                    str(detail.get("code", "stream_error")),
                    str(detail.get("message", message.data)),
                )
            if message.event == "citations":
                citations = [Citation.from_dict(item) for item in data.get("citations", [])]
                return CitationsEvent(citations)
            if message.event == "delta":
                return DeltaEvent(str(data["text"]))
            if message.event == "done":
                self.done = True
                return DoneEvent(AskResult.from_dict(data))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise BellhopError(
                f"the answer stream sent an unreadable {message.event!r} event: "
                f"{message.data[:200]!r} ({err})"
            ) from err
        return None  # an event this client does not know: newer servers may add some

    def end(self) -> None:
        """Called when the stream ends; raises unless the answer was complete."""
        if not self.done:
            raise APIError(
                self._status_code,
                "stream_incomplete",
                "the answer stream ended before its done event",
            )


def _headers(api_key: str | None, *, stream: bool = False) -> dict[str, str]:
    headers = {"Accept": "text/event-stream" if stream else "application/json"}
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def _request_args(call: _Call[Any]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if call.json is not None:
        args["json"] = call.json
    if call.params is not None:
        args["params"] = dict(call.params)
    if call.files is not None:
        args["files"] = call.files
    return args


# --------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------


class _ClientBase:
    """What both clients keep: where the server is, the key, and the embedding model."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        # Looked up on the first `embeddings()` call without a model.
        self._embedding_model: str | None = None

    def _url(self, call: _Call[Any]) -> str:
        return self.base_url + call.path

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class Client(_ClientBase):
    """A blocking client of a bellhop server.

    Args:
        base_url: the server's root URL (without ``/v1``).
        api_key: sent as ``Authorization: Bearer KEY``; ``None`` for a server without keys.
        timeout: seconds allowed for connecting, and between bytes read or written
            (``None``: no limit).
        http_client: an ``httpx.Client`` to send requests with (proxies, TLS, transports),
            with its own timeout; the client does not close one it was given.

    Use it as a context manager, or call :meth:`close`::

        with Client("http://127.0.0.1:8080", api_key) as client:
            hits = client.search("hotel", "is the pool heated?").hits
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        timeout: float | None = 30.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, api_key)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Closes the connections (unless the ``httpx.Client`` was given)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(self, call: _Call[T]) -> T:
        try:
            response = self._http.request(
                call.method,
                self._url(call),
                headers=_headers(self.api_key),
                **_request_args(call),
            )
        except httpx.TransportError as err:
            raise _connection_failed(self.base_url, call, err) from err
        return _parse(call, response)

    def health(self) -> Health:
        """``GET /health``: whether the process is alive."""
        return self._send(_health_call())

    def ready(self) -> Readiness:
        """``GET /ready``: whether the server answers requests. Raises :class:`APIError`
        (503) while it is shutting down."""
        return self._send(_ready_call())

    def list_collections(self) -> list[Collection]:
        """The collections this key may use, with their counts."""
        return self._send(_list_collections_call())

    def get_collection(self, name: str) -> Collection:
        """One collection's settings and counts."""
        return self._send(_get_collection_call(name))

    def create_collection(
        self,
        name: str,
        *,
        model: str | None = None,
        chunk_tokens: int | None = None,
        chunk_overlap: int | None = None,
        index: IndexKind | None = None,
        system_prompt: str | None = None,
        generator: GeneratorName | None = None,
        answer_deadline_ms: int | None = None,
    ) -> Collection:
        """Creates a collection for the served embedding model (admin keys only).

        Args:
            name: letters, digits, ``-`` and ``_``, at most 64 characters.
            model: must name the served model when given.
            chunk_tokens: most tokens per chunk (server default 256).
            chunk_overlap: tokens repeated between consecutive chunks (default 32).
            index: ``auto`` (default), ``exact`` or ``hnsw``.
            system_prompt: instructions for answer generation.
            generator: the generator of answers that name none.
            answer_deadline_ms: the deadline of answers that set none.

        Raises:
            APIError: 409 ``collection_exists`` when the name is taken.
        """
        return self._send(
            _create_collection_call(
                name,
                model=model,
                chunk_tokens=chunk_tokens,
                chunk_overlap=chunk_overlap,
                index=index,
                system_prompt=system_prompt,
                generator=generator,
                answer_deadline_ms=answer_deadline_ms,
            )
        )

    def delete_collection(self, name: str) -> None:
        """Deletes a collection and everything in it (admin keys only)."""
        self._send(_delete_collection_call(name))

    def add_documents(
        self, collection: str, documents: Iterable[Mapping[str, Any]]
    ) -> WriteReceipt:
        """Adds or replaces documents, in one transaction.

        Each document is a mapping with ``id`` and ``text``, and optionally ``title``,
        ``metadata`` (string, number, bool or string-list values, for filters) and
        ``source``.
        """
        return self._send(_add_documents_call(collection, documents))

    def upload_files(
        self, collection: str, paths: Iterable[str | os.PathLike[str]]
    ) -> UploadReport:
        """Uploads files for the server to read and ingest (txt, md, html, pdf, csv, json,
        jsonl, by extension), one multipart part per file, read into memory first. Each file
        is its own transaction: the first that fails raises, and the files before it stay
        written; a file whose content was ingested before is reported ``unchanged``."""
        return self._send(_upload_files_call(collection, paths))

    def list_documents(self, collection: str, offset: int = 0, limit: int = 100) -> DocumentPage:
        """A page of a collection's documents, by id (``limit`` at most 1000)."""
        return self._send(_list_documents_call(collection, offset, limit))

    def get_document(self, collection: str, id: str) -> Document:
        """One document's fields and chunk count."""
        return self._send(_get_document_call(collection, id))

    def delete_document(self, collection: str, id: str) -> WriteReceipt:
        """Deletes one document and its chunks."""
        return self._send(_delete_document_call(collection, id))

    def search(
        self,
        collection: str,
        query: str,
        *,
        k: int = 10,
        mode: SearchMode = "hybrid",
        filter: Mapping[str, Any] | None = None,
        min_score: float | None = None,
    ) -> SearchResult:
        """Searches a collection.

        Args:
            k: hits to return.
            mode: ``hybrid`` (dense and keyword, fused), ``dense`` or ``keyword``.
            filter: a metadata filter, e.g. ``{"area": "dining", "price": {"lte": 12}}``.
            min_score: drops hits scoring below it.
        """
        return self._send(
            _search_call(collection, query, k=k, mode=mode, filter=filter, min_score=min_score)
        )

    def ask(
        self,
        collection: str,
        question: str,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
        filter: Mapping[str, Any] | None = None,
        max_sentences: int | None = None,
        generator: GeneratorName | None = None,
        deadline_ms: int | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
    ) -> AskResult:
        """Answers a question from a collection, citing its sources. Unset options take the
        collection's, then the server's defaults.

        Args:
            k: passages retrieved (server default 5).
            mode: the search mode of the retrieval.
            filter: a metadata filter on the passages.
            max_sentences: most sentences of an extractive answer (1 to 10).
            generator: ``extractive``, ``local`` or ``openai``.
            deadline_ms: within which the answer is given; a fallback answers when the
                model is late (``degraded`` is then true).
            messages: the conversation before the question, as
                ``{"role": "user" | "assistant", "content": ...}``.
            max_tokens, temperature, top_p, seed, stop: the model's generation settings.
        """
        body = _ask_body(
            question,
            stream=False,
            k=k,
            mode=mode,
            filter=filter,
            max_sentences=max_sentences,
            generator=generator,
            deadline_ms=deadline_ms,
            messages=messages,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            stop=stop,
        )
        return self._send(_ask_call(collection, body))

    def ask_stream(
        self,
        collection: str,
        question: str,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
        filter: Mapping[str, Any] | None = None,
        max_sentences: int | None = None,
        generator: GeneratorName | None = None,
        deadline_ms: int | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
    ) -> Generator[AskEvent, None, None]:
        """Like :meth:`ask`, as the answer is written: a :class:`CitationsEvent`, then
        :class:`DeltaEvent` pieces of text, then a :class:`DoneEvent` with the whole answer.

        The request is sent when iteration starts, so its errors (:class:`APIError`,
        :class:`ConnectionFailedError`) are raised by the iterator. So is an error the
        server reports within the stream, as an :class:`APIError` with the stream's status
        (200), and a stream that ends before its ``done`` event (code
        ``stream_incomplete``). ``close()`` on the generator ends it early and closes the
        connection.
        """
        body = _ask_body(
            question,
            stream=True,
            k=k,
            mode=mode,
            filter=filter,
            max_sentences=max_sentences,
            generator=generator,
            deadline_ms=deadline_ms,
            messages=messages,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            stop=stop,
        )
        return self._stream_events(_ask_call(collection, body))

    def _stream_events(self, call: _Call[Any]) -> Generator[AskEvent, None, None]:
        try:
            with self._http.stream(
                call.method,
                self._url(call),
                headers=_headers(self.api_key, stream=True),
                **_request_args(call),
            ) as response:
                if not response.is_success:
                    response.read()
                    raise _api_error(response)
                reader = _AskEventReader(response.status_code)
                for line in response.iter_lines():
                    event = reader.feed(line)
                    if event is not None:
                        yield event
                        if reader.done:
                            return
                reader.end()
        except httpx.TransportError as err:
            raise _connection_failed(self.base_url, call, err) from err

    def embeddings(
        self, texts: str | Sequence[str], model: str | None = None
    ) -> NDArray[np.float32]:
        """Embeds texts with the server's model, through ``/v1/embeddings``.

        Args:
            texts: one text or a sequence of texts.
            model: the served embedding model's id; looked up from ``/ready`` when ``None``.

        Returns:
            A float32 array of shape ``(len(texts), dim)`` (one row for a single string).
        """
        if model is None:
            if self._embedding_model is None:
                self._embedding_model = self.ready().model
            model = self._embedding_model
        return self._send(_embeddings_call(texts, model))

    def models(self) -> list[Model]:
        """``GET /v1/models``: the embedding model, the local chat model, and the
        collections this key may use."""
        return self._send(_models_call())


class AsyncClient(_ClientBase):
    """An asyncio client of a bellhop server: the methods of :class:`Client`, awaited.

    Args:
        base_url: the server's root URL (without ``/v1``).
        api_key: sent as ``Authorization: Bearer KEY``; ``None`` for a server without keys.
        timeout: seconds allowed for connecting, and between bytes read or written
            (``None``: no limit).
        http_client: an ``httpx.AsyncClient`` to send requests with, with its own timeout;
            the client does not close one it was given.

    Use it as an async context manager, or call :meth:`aclose`::

        async with AsyncClient("http://127.0.0.1:8080", api_key) as client:
            result = await client.ask("hotel", "when is breakfast?")
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        timeout: float | None = 30.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, api_key)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        """Closes the connections (unless the ``httpx.AsyncClient`` was given)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _send(self, call: _Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method,
                self._url(call),
                headers=_headers(self.api_key),
                **_request_args(call),
            )
        except httpx.TransportError as err:
            raise _connection_failed(self.base_url, call, err) from err
        return _parse(call, response)

    async def health(self) -> Health:
        """``GET /health``; see :meth:`Client.health`."""
        return await self._send(_health_call())

    async def ready(self) -> Readiness:
        """``GET /ready``; see :meth:`Client.ready`."""
        return await self._send(_ready_call())

    async def list_collections(self) -> list[Collection]:
        """The collections this key may use; see :meth:`Client.list_collections`."""
        return await self._send(_list_collections_call())

    async def get_collection(self, name: str) -> Collection:
        """One collection; see :meth:`Client.get_collection`."""
        return await self._send(_get_collection_call(name))

    async def create_collection(
        self,
        name: str,
        *,
        model: str | None = None,
        chunk_tokens: int | None = None,
        chunk_overlap: int | None = None,
        index: IndexKind | None = None,
        system_prompt: str | None = None,
        generator: GeneratorName | None = None,
        answer_deadline_ms: int | None = None,
    ) -> Collection:
        """Creates a collection; see :meth:`Client.create_collection`."""
        return await self._send(
            _create_collection_call(
                name,
                model=model,
                chunk_tokens=chunk_tokens,
                chunk_overlap=chunk_overlap,
                index=index,
                system_prompt=system_prompt,
                generator=generator,
                answer_deadline_ms=answer_deadline_ms,
            )
        )

    async def delete_collection(self, name: str) -> None:
        """Deletes a collection; see :meth:`Client.delete_collection`."""
        await self._send(_delete_collection_call(name))

    async def add_documents(
        self, collection: str, documents: Iterable[Mapping[str, Any]]
    ) -> WriteReceipt:
        """Adds or replaces documents; see :meth:`Client.add_documents`."""
        return await self._send(_add_documents_call(collection, documents))

    async def upload_files(
        self, collection: str, paths: Iterable[str | os.PathLike[str]]
    ) -> UploadReport:
        """Uploads files; see :meth:`Client.upload_files`."""
        return await self._send(_upload_files_call(collection, paths))

    async def list_documents(
        self, collection: str, offset: int = 0, limit: int = 100
    ) -> DocumentPage:
        """A page of documents; see :meth:`Client.list_documents`."""
        return await self._send(_list_documents_call(collection, offset, limit))

    async def get_document(self, collection: str, id: str) -> Document:
        """One document; see :meth:`Client.get_document`."""
        return await self._send(_get_document_call(collection, id))

    async def delete_document(self, collection: str, id: str) -> WriteReceipt:
        """Deletes one document; see :meth:`Client.delete_document`."""
        return await self._send(_delete_document_call(collection, id))

    async def search(
        self,
        collection: str,
        query: str,
        *,
        k: int = 10,
        mode: SearchMode = "hybrid",
        filter: Mapping[str, Any] | None = None,
        min_score: float | None = None,
    ) -> SearchResult:
        """Searches a collection; see :meth:`Client.search`."""
        return await self._send(
            _search_call(collection, query, k=k, mode=mode, filter=filter, min_score=min_score)
        )

    async def ask(
        self,
        collection: str,
        question: str,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
        filter: Mapping[str, Any] | None = None,
        max_sentences: int | None = None,
        generator: GeneratorName | None = None,
        deadline_ms: int | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
    ) -> AskResult:
        """Answers a question; see :meth:`Client.ask`."""
        body = _ask_body(
            question,
            stream=False,
            k=k,
            mode=mode,
            filter=filter,
            max_sentences=max_sentences,
            generator=generator,
            deadline_ms=deadline_ms,
            messages=messages,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            stop=stop,
        )
        return await self._send(_ask_call(collection, body))

    def ask_stream(
        self,
        collection: str,
        question: str,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
        filter: Mapping[str, Any] | None = None,
        max_sentences: int | None = None,
        generator: GeneratorName | None = None,
        deadline_ms: int | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
    ) -> AsyncGenerator[AskEvent, None]:
        """The answer as it is written, as an async generator (``async for event in
        client.ask_stream(...)``; ``aclose()`` ends it early); see :meth:`Client.ask_stream`."""
        body = _ask_body(
            question,
            stream=True,
            k=k,
            mode=mode,
            filter=filter,
            max_sentences=max_sentences,
            generator=generator,
            deadline_ms=deadline_ms,
            messages=messages,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            stop=stop,
        )
        return self._stream_events(_ask_call(collection, body))

    async def _stream_events(self, call: _Call[Any]) -> AsyncGenerator[AskEvent, None]:
        try:
            async with self._http.stream(
                call.method,
                self._url(call),
                headers=_headers(self.api_key, stream=True),
                **_request_args(call),
            ) as response:
                if not response.is_success:
                    await response.aread()
                    raise _api_error(response)
                reader = _AskEventReader(response.status_code)
                async for line in response.aiter_lines():
                    event = reader.feed(line)
                    if event is not None:
                        yield event
                        if reader.done:
                            return
                reader.end()
        except httpx.TransportError as err:
            raise _connection_failed(self.base_url, call, err) from err

    async def embeddings(
        self, texts: str | Sequence[str], model: str | None = None
    ) -> NDArray[np.float32]:
        """Embeds texts; see :meth:`Client.embeddings`."""
        if model is None:
            if self._embedding_model is None:
                self._embedding_model = (await self.ready()).model
            model = self._embedding_model
        return await self._send(_embeddings_call(texts, model))

    async def models(self) -> list[Model]:
        """``GET /v1/models``; see :meth:`Client.models`."""
        return await self._send(_models_call())


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
