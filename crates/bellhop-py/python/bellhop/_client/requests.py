"""The requests of the API, described once for both clients: each endpoint's method, path,
body or parameters, and the parser of its response (a :class:`Call`); and the parameters
of an answer, described once for the four ``ask`` methods (:func:`ask_request`)."""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, Iterable, Mapping, Sequence, TypeVar
from urllib.parse import quote

import numpy as np
from numpy.typing import NDArray

from .signature import takes_params_of
from .types import (
    AskResult,
    Collection,
    Document,
    DocumentPage,
    GeneratorName,
    Health,
    IndexKind,
    Model,
    Readiness,
    SearchMode,
    SearchResult,
    UploadReport,
    WriteReceipt,
    embeddings_array,
)

T = TypeVar("T")

FilePart = tuple[str, tuple[str, bytes, str]]


@dataclass(frozen=True)
class Call(Generic[T]):
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


def health_call() -> Call[Health]:
    return Call("GET", "/health", Health.from_dict)


def ready_call() -> Call[Readiness]:
    return Call("GET", "/ready", Readiness.from_dict)


def list_collections_call() -> Call[list[Collection]]:
    return Call(
        "GET",
        "/v1/collections",
        lambda data: [Collection.from_dict(item) for item in data.get("collections", [])],
    )


def get_collection_call(name: str) -> Call[Collection]:
    return Call("GET", _collection_path(name), Collection.from_dict)


def create_collection_call(
    name: str,
    *,
    model: str | None = None,
    chunk_tokens: int | None = None,
    chunk_overlap: int | None = None,
    index: IndexKind | None = None,
    system_prompt: str | None = None,
    generator: GeneratorName | None = None,
    answer_deadline_ms: int | None = None,
    dimensions: int | None = None,
) -> Call[Collection]:
    """The parameters of ``create_collection`` on both clients, and its request.

    Args:
        name: letters, digits, ``-`` and ``_``, at most 64 characters.
        model: must name the served model when given.
        chunk_tokens: most tokens per chunk (server default 256).
        chunk_overlap: tokens repeated between consecutive chunks (default 32).
        index: ``auto`` (default), ``exact`` or ``hnsw``.
        system_prompt: instructions for answer generation.
        generator: the generator of answers that name none.
        answer_deadline_ms: the deadline of answers that set none.
        dimensions: store vectors of this many dimensions, one of the shorter sizes of a
            Matryoshka model (the model's full size by default).
    """
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
            "dimensions": dimensions,
        }
    )
    return Call("POST", "/v1/collections", Collection.from_dict, json=body)


COLLECTION_SETTINGS = frozenset(
    {
        "system_prompt",
        "generator",
        "answer_deadline_ms",
        "fallback_text",
        "fallback_texts",
        "answerability",
        "question_retention_days",
    }
)
"""The settings ``update_collection`` may change."""


def update_collection_call(name: str, settings: Mapping[str, Any]) -> Call[Collection]:
    unknown = sorted(set(settings) - COLLECTION_SETTINGS)
    if unknown:
        raise TypeError(
            f"update_collection() got unknown settings {unknown}; "
            f"it changes {sorted(COLLECTION_SETTINGS)}"
        )
    # A merge patch: `None` is sent as `null`, which clears the setting.
    return Call("PATCH", _collection_path(name), Collection.from_dict, json=dict(settings))


def delete_collection_call(name: str) -> Call[None]:
    return Call("DELETE", _collection_path(name), _nothing)


def add_documents_call(
    collection: str, documents: Iterable[Mapping[str, Any]]
) -> Call[WriteReceipt]:
    body = {"documents": [_without_none(document) for document in documents]}
    return Call(
        "POST", _collection_path(collection, "documents"), WriteReceipt.from_dict, json=body
    )


def upload_files_call(
    collection: str, paths: Iterable[str | os.PathLike[str]]
) -> Call[UploadReport]:
    parts: list[FilePart] = []
    for path in paths:
        path = Path(path)
        # The server reads each part by its file name's extension.
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts.append(("file", (path.name, path.read_bytes(), content_type)))
    if not parts:
        raise ValueError("upload_files needs at least one path")
    return Call("POST", _collection_path(collection, "files"), UploadReport.from_dict, files=parts)


def list_documents_call(collection: str, offset: int, limit: int) -> Call[DocumentPage]:
    return Call(
        "GET",
        _collection_path(collection, "documents"),
        DocumentPage.from_dict,
        params={"offset": offset, "limit": limit},
    )


def get_document_call(collection: str, document_id: str) -> Call[Document]:
    return Call(
        "GET", _collection_path(collection, "documents", _segment(document_id)), Document.from_dict
    )


def delete_document_call(collection: str, document_id: str) -> Call[WriteReceipt]:
    return Call(
        "DELETE",
        _collection_path(collection, "documents", _segment(document_id)),
        WriteReceipt.from_dict,
    )


def search_call(
    collection: str,
    query: str,
    *,
    k: int = 10,
    mode: SearchMode = "hybrid",
    filter: Mapping[str, Any] | None = None,
    min_score: float | None = None,
) -> Call[SearchResult]:
    """The parameters of ``search`` on both clients, and its request.

    Args:
        collection: the collection.
        query: what to search for.
        k: hits to return.
        mode: ``hybrid`` (dense and keyword, fused), ``dense`` or ``keyword``.
        filter: a metadata filter, e.g. ``{"area": "dining", "price": {"lte": 12}}``.
        min_score: drops hits scoring below it.
    """
    body = _without_none(
        {"query": query, "k": k, "mode": mode, "filter": filter, "min_score": min_score}
    )
    return Call("POST", _collection_path(collection, "search"), SearchResult.from_dict, json=body)


@dataclass(frozen=True)
class AskRequest:
    """A question to a collection, with the options of its answer that are set."""

    collection: str
    question: str
    options: dict[str, Any]
    """The set options, as the API names them."""

    def call(self, *, stream: bool) -> Call[AskResult]:
        """``POST /v1/collections/{name}/ask``: the answer whole, or as an event stream."""
        body = _without_none({"question": self.question, "stream": stream, **self.options})
        path = _collection_path(self.collection, "ask")
        return Call("POST", path, AskResult.from_dict, json=body)


def ask_request(
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
) -> AskRequest:
    """The parameters of ``ask`` and ``ask_stream`` on both clients (they take them
    through :data:`takes_ask_params`), and the request they make; unset options are left
    out.

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
    options = {
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
    return AskRequest(collection, question, _without_none(options))


takes_ask_params = takes_params_of(ask_request)
"""Gives a method ``method(self, request: AskRequest)`` the parameters of
:func:`ask_request`: ``ask`` and ``ask_stream``, on both clients."""


def embeddings_call(
    texts: str | Sequence[str], model: str, dimensions: int | None = None
) -> Call[NDArray[np.float32]]:
    inputs = [texts] if isinstance(texts, str) else list(texts)
    # base64 is a quarter of the size of JSON floats and decodes without parsing.
    body = _without_none(
        {"input": inputs, "model": model, "encoding_format": "base64", "dimensions": dimensions}
    )
    return Call("POST", "/v1/embeddings", embeddings_array, json=body)


def models_call() -> Call[list[Model]]:
    return Call(
        "GET", "/v1/models", lambda data: [Model.from_dict(item) for item in data.get("data", [])]
    )

