"""What both clients do the same around httpx: the headers and arguments of a request, the
result or error of its response, and where the server is."""

from __future__ import annotations

import email.utils
import time
from typing import Any, TypeVar

import httpx

from ..errors import APIError, BellhopError
from .requests import Call

DEFAULT_BASE_URL = "http://127.0.0.1:8080"

T = TypeVar("T")


class ConnectionFailedError(BellhopError, ConnectionError):
    """The request did not complete: the server could not be reached, the connection broke,
    or it timed out. The httpx exception is chained as ``__cause__``."""


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


def api_error(response: httpx.Response) -> APIError:
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


def parse(call: Call[T], response: httpx.Response) -> T:
    """The parsed result of a read response, or the error it carries."""
    if not response.is_success:
        raise api_error(response)
    try:
        data = response.json() if response.content else None
        return call.parse(data)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise BellhopError(
            f"{call.method} {call.path}: unexpected response from the server: {err!r}"
        ) from err


def _headers(api_key: str | None, *, stream: bool) -> dict[str, str]:
    headers = {"Accept": "text/event-stream" if stream else "application/json"}
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


class ClientBase:
    """What both clients keep: where the server is, the key, and the embedding model."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        # Looked up on the first `embeddings()` call without a model.
        self._embedding_model: str | None = None

    def _request_args(self, call: Call[Any], *, stream: bool = False) -> dict[str, Any]:
        """The arguments of ``request`` (or ``stream``) on an httpx client that send
        ``call``."""
        args: dict[str, Any] = {
            "method": call.method,
            "url": self.base_url + call.path,
            "headers": _headers(self.api_key, stream=stream),
        }
        if call.json is not None:
            args["json"] = call.json
        if call.params is not None:
            args["params"] = dict(call.params)
        if call.files is not None:
            args["files"] = call.files
        return args

    def _connection_failed(self, call: Call[Any], err: httpx.HTTPError) -> ConnectionFailedError:
        return ConnectionFailedError(f"{call.method} {self.base_url}{call.path} failed: {err!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"
