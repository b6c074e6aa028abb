"""The API's results as frozen dataclasses, each read from the server's JSON by
``from_dict`` (unknown fields are ignored), and the names of its options."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Union

import numpy as np
from numpy.typing import NDArray

from ..types import Hit, Hits

SearchMode = Literal["hybrid", "dense", "keyword"]
"""Which retrievers a search uses."""

GeneratorName = Literal["extractive", "local", "openai"]
"""Which generator writes an answer."""

IndexKind = Literal["auto", "exact", "hnsw"]
"""Which vector index a collection uses."""


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
    fallback_text: str | None = None
    """What answers say when the sources do not hold the answer; the server's default when
    ``None``."""
    fallback_texts: dict[str, str] = field(default_factory=dict)
    """The same in other languages, by ISO 639-1 code."""
    question_retention_days: int | None = None
    """Days the question log keeps guests' questions; the server's default when ``None``."""

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
            fallback_text=_optional_str(data.get("fallback_text")),
            fallback_texts={
                str(code): str(text) for code, text in (data.get("fallback_texts") or {}).items()
            },
            question_retention_days=_optional_int(data.get("question_retention_days")),
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


def embeddings_array(data: Mapping[str, Any]) -> NDArray[np.float32]:
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

