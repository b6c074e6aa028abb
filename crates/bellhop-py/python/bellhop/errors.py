"""Exceptions raised by bellhop, in the package and in the HTTP client.

Every error is a :class:`BellhopError`; the common cases also derive from the built-in
exception a Python caller would expect (``ValueError`` for bad input, ``FileNotFoundError``
for a missing model, ``LookupError`` for an unknown collection or document).
"""

from __future__ import annotations


class BellhopError(Exception):
    """Base class of every error bellhop raises."""


class InvalidInputError(BellhopError, ValueError):
    """The input was rejected: empty or malformed text, a bad filter, an invalid option."""


class ModelNotFoundError(BellhopError, FileNotFoundError):
    """The model directory or repo could not be found or is missing files."""


class NotFoundError(BellhopError, LookupError):
    """An unknown collection or document."""


class ConflictError(BellhopError, ValueError):
    """The write conflicts with what exists, e.g. a collection name that is taken or a
    collection built with another embedding model."""


class APIError(BellhopError):
    """An error response from a bellhop server.

    Attributes:
        status_code: the HTTP status.
        code: the server's machine-readable error code (e.g. ``collection_not_found``).
        message: the server's explanation.
        retry_after: seconds to wait before retrying, when the server said so (503).
    """

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.retry_after = retry_after


__all__ = [
    "APIError",
    "BellhopError",
    "ConflictError",
    "InvalidInputError",
    "ModelNotFoundError",
    "NotFoundError",
]
