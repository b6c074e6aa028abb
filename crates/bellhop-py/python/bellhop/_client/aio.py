"""The asyncio client of a bellhop server."""

from __future__ import annotations

import os
from typing import Any, AsyncGenerator, Iterable, Mapping, Sequence, TypeVar

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


class AsyncClient(ClientBase):
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

    async def _send(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(**self._request_args(call))
        except httpx.TransportError as err:
            raise self._connection_failed(call, err) from err
        return parse(call, response)

    async def health(self) -> Health:
        """``GET /health``; see :meth:`Client.health`."""
        return await self._send(health_call())

    async def ready(self) -> Readiness:
        """``GET /ready``; see :meth:`Client.ready`."""
        return await self._send(ready_call())

    async def list_collections(self) -> list[Collection]:
        """The collections this key may use; see :meth:`Client.list_collections`."""
        return await self._send(list_collections_call())

    async def get_collection(self, name: str) -> Collection:
        """One collection; see :meth:`Client.get_collection`."""
        return await self._send(get_collection_call(name))

    @takes_params_of(create_collection_call)
    async def create_collection(self, call: Call[Collection]) -> Collection:
        """Creates a collection; see :meth:`Client.create_collection`."""
        return await self._send(call)

    async def update_collection(self, name: str, **settings: Any) -> Collection:
        """Changes a collection's answer settings; see :meth:`Client.update_collection`."""
        return await self._send(update_collection_call(name, settings))

    async def delete_collection(self, name: str) -> None:
        """Deletes a collection; see :meth:`Client.delete_collection`."""
        await self._send(delete_collection_call(name))

    async def add_documents(
        self, collection: str, documents: Iterable[Mapping[str, Any]]
    ) -> WriteReceipt:
        """Adds or replaces documents; see :meth:`Client.add_documents`."""
        return await self._send(add_documents_call(collection, documents))

    async def upload_files(
        self, collection: str, paths: Iterable[str | os.PathLike[str]]
    ) -> UploadReport:
        """Uploads files; see :meth:`Client.upload_files`."""
        return await self._send(upload_files_call(collection, paths))

    async def list_documents(
        self, collection: str, offset: int = 0, limit: int = 100
    ) -> DocumentPage:
        """A page of documents; see :meth:`Client.list_documents`."""
        return await self._send(list_documents_call(collection, offset, limit))

    async def get_document(self, collection: str, id: str) -> Document:
        """One document; see :meth:`Client.get_document`."""
        return await self._send(get_document_call(collection, id))

    async def delete_document(self, collection: str, id: str) -> WriteReceipt:
        """Deletes one document; see :meth:`Client.delete_document`."""
        return await self._send(delete_document_call(collection, id))

    @takes_params_of(search_call)
    async def search(self, call: Call[SearchResult]) -> SearchResult:
        """Searches a collection; see :meth:`Client.search`."""
        return await self._send(call)

    @takes_ask_params
    async def ask(self, request: AskRequest) -> AskResult:
        """Answers a question; see :meth:`Client.ask`."""
        return await self._send(request.call(stream=False))

    @takes_ask_params
    def ask_stream(self, request: AskRequest) -> AsyncGenerator[AskEvent, None]:
        """The answer as it is written, as an async generator (``async for event in
        client.ask_stream(...)``; ``aclose()`` ends it early); see :meth:`Client.ask_stream`."""
        return self._stream_events(request.call(stream=True))

    async def _stream_events(self, call: Call[Any]) -> AsyncGenerator[AskEvent, None]:
        try:
            async with self._http.stream(**self._request_args(call, stream=True)) as response:
                if not response.is_success:
                    await response.aread()
                    raise api_error(response)
                reader = AskEventReader(response.status_code)
                async for line in response.aiter_lines():
                    event = reader.feed(line)
                    if event is not None:
                        yield event
                        if reader.done:
                            return
                reader.end()
        except httpx.TransportError as err:
            raise self._connection_failed(call, err) from err

    async def embeddings(
        self,
        texts: str | Sequence[str],
        model: str | None = None,
        dimensions: int | None = None,
    ) -> NDArray[np.float32]:
        """Embeds texts; see :meth:`Client.embeddings`."""
        if model is None:
            if self._embedding_model is None:
                self._embedding_model = (await self.ready()).model
            model = self._embedding_model
        return await self._send(embeddings_call(texts, model, dimensions))

    async def models(self) -> list[Model]:
        """``GET /v1/models``; see :meth:`Client.models`."""
        return await self._send(models_call())

