"""The event stream of an answer: ``text/event-stream`` lines decoded into messages, and
the messages of ``/ask`` read into :data:`~bellhop.client.AskEvent` values."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import APIError, BellhopError
from .types import AskEvent, AskResult, Citation, CitationsEvent, DeltaEvent, DoneEvent


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


class AskEventReader:
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
