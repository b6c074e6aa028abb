"""The blocking client of a bellhop server."""

from __future__ import annotations

import os
from typing import Any, Generator, Iterable, Mapping, Sequence, TypeVar

import httpx
import numpy as np
from numpy.typing import NDArray

from .requests import (
    AskRequest,
    Call,
    add_documents_call,
    create_collection_call,
    delete_collection_call,
    delete_document_call,
    embeddings_call,
    get_collection_call,
    get_document_call,
    health_call,
    list_collections_call,
    list_documents_call,
    models_call,
    ready_call,
    search_call,
    takes_ask_params,
    update_collection_call,
    upload_files_call,
)
from .signature import takes_params_of
from .sse import AskEventReader
from .transport import DEFAULT_BASE_URL, ClientBase, api_error, parse
from .types import (
    AskEvent,
    AskResult,
    Collection,
    Document,
    DocumentPage,
    Health,
    Model,
    Readiness,
    SearchResult,
    UploadReport,
    WriteReceipt,
)

T = TypeVar("T")


class Client(ClientBase):
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

    def _send(self, call: Call[T]) -> T:
        try:
            response = self._http.request(**self._request_args(call))
        except httpx.TransportError as err:
            raise self._connection_failed(call, err) from err
        return parse(call, response)

    def health(self) -> Health:
        """``GET /health``: whether the process is alive."""
        return self._send(health_call())

    def ready(self) -> Readiness:
        """``GET /ready``: whether the server answers requests. Raises :class:`APIError`
        (503) while it is shutting down."""
        return self._send(ready_call())

    def list_collections(self) -> list[Collection]:
        """The collections this key may use, with their counts."""
        return self._send(list_collections_call())

    def get_collection(self, name: str) -> Collection:
        """One collection's settings and counts."""
        return self._send(get_collection_call(name))

    @takes_params_of(create_collection_call)
    def create_collection(self, call: Call[Collection]) -> Collection:
        """Creates a collection for the served embedding model (admin keys only). Raises
        :class:`APIError` 409 ``collection_exists`` when the name is taken."""
        return self._send(call)

    def update_collection(self, name: str, **settings: Any) -> Collection:
        """Changes a collection's answer settings (admin keys only) and returns it. Each
        setting given replaces its value, ``None`` clears it (back to the server's default),
        and the ones left out keep theirs. Answers follow at once: the collection's version
        changes, so none given under the old settings comes from a cache.

        Args:
            name: the collection.
            settings: any of ``system_prompt``, ``generator``, ``answer_deadline_ms``,
                ``fallback_text``, ``fallback_texts`` (a dict by ISO 639-1 code),
                ``answerability`` (a dict of thresholds) and ``question_retention_days``.

        Raises:
            TypeError: for a setting that cannot change (``chunk_tokens``, ``name``, …).
            APIError: 404 ``collection_not_found``; 400 for a value out of range.
        """
        return self._send(update_collection_call(name, settings))

    def delete_collection(self, name: str) -> None:
        """Deletes a collection and everything in it (admin keys only)."""
        self._send(delete_collection_call(name))

    def add_documents(
        self, collection: str, documents: Iterable[Mapping[str, Any]]
    ) -> WriteReceipt:
        """Adds or replaces documents, in one transaction.

        Each document is a mapping with ``id`` and ``text``, and optionally ``title``,
        ``metadata`` (string, number, bool or string-list values, for filters) and
        ``source``.
        """
        return self._send(add_documents_call(collection, documents))

    def upload_files(
        self, collection: str, paths: Iterable[str | os.PathLike[str]]
    ) -> UploadReport:
        """Uploads files for the server to read and ingest (txt, md, html, pdf, csv, json,
        jsonl, by extension), one multipart part per file, read into memory first. Each file
        is its own transaction: the first that fails raises, and the files before it stay
        written; a file whose content was ingested before is reported ``unchanged``."""
        return self._send(upload_files_call(collection, paths))

    def list_documents(self, collection: str, offset: int = 0, limit: int = 100) -> DocumentPage:
        """A page of a collection's documents, by id (``limit`` at most 1000)."""
        return self._send(list_documents_call(collection, offset, limit))

    def get_document(self, collection: str, id: str) -> Document:
        """One document's fields and chunk count."""
        return self._send(get_document_call(collection, id))

    def delete_document(self, collection: str, id: str) -> WriteReceipt:
        """Deletes one document and its chunks."""
        return self._send(delete_document_call(collection, id))

    @takes_params_of(search_call)
    def search(self, call: Call[SearchResult]) -> SearchResult:
        """Searches a collection."""
        return self._send(call)

    @takes_ask_params
    def ask(self, request: AskRequest) -> AskResult:
        """Answers a question from a collection, citing its sources. Unset options take the
        collection's, then the server's defaults."""
        return self._send(request.call(stream=False))

    @takes_ask_params
    def ask_stream(self, request: AskRequest) -> Generator[AskEvent, None, None]:
        """Like :meth:`ask`, as the answer is written: a :class:`CitationsEvent`, then
        :class:`DeltaEvent` pieces of text, then a :class:`DoneEvent` with the whole answer.

        The request is sent when iteration starts, so its errors (:class:`APIError`,
        :class:`ConnectionFailedError`) are raised by the iterator. So is an error the
        server reports within the stream, as an :class:`APIError` with the stream's status
        (200), and a stream that ends before its ``done`` event (code
        ``stream_incomplete``). ``close()`` on the generator ends it early and closes the
        connection.
        """
        return self._stream_events(request.call(stream=True))

    def _stream_events(self, call: Call[Any]) -> Generator[AskEvent, None, None]:
        try:
            with self._http.stream(**self._request_args(call, stream=True)) as response:
                if not response.is_success:
                    response.read()
                    raise api_error(response)
                reader = AskEventReader(response.status_code)
                for line in response.iter_lines():
                    event = reader.feed(line)
                    if event is not None:
                        yield event
                        if reader.done:
                            return
                reader.end()
        except httpx.TransportError as err:
            raise self._connection_failed(call, err) from err

    def embeddings(
        self,
        texts: str | Sequence[str],
        model: str | None = None,
        dimensions: int | None = None,
    ) -> NDArray[np.float32]:
        """Embeds texts with the server's model, through ``/v1/embeddings``.

        Args:
            texts: one text or a sequence of texts.
            model: the served embedding model's id; looked up from ``/ready`` when ``None``.
            dimensions: shorten the vectors to one of a Matryoshka model's sizes.

        Returns:
            A float32 array of shape ``(len(texts), dim)`` (one row for a single string).
        """
        if model is None:
            if self._embedding_model is None:
                self._embedding_model = self.ready().model
            model = self._embedding_model
        return self._send(embeddings_call(texts, model, dimensions))

    def models(self) -> list[Model]:
        """``GET /v1/models``: the embedding model, the local chat model, and the
        collections this key may use."""
        return self._send(models_call())

