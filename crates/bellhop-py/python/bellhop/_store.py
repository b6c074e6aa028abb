"""The in-process store: the Rust store with DataFrame input and typed hits."""

from __future__ import annotations

import math
import os
from typing import Any, Iterable, Mapping, Sequence, Union

from . import _core
from .types import Hit, Hits

PathLike = Union[str, "os.PathLike[str]"]


def _plain(value: Any) -> Any:
    """A DataFrame cell as a JSON-like Python value: numpy scalars unwrapped, missing
    values (None, NaN, NaT) as None."""
    if value is None:
        return None
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (str, bytes)):
        try:
            value = item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _plain(value.tolist())
    return value


def _dataframe_rows(frame: Any) -> list[dict[str, Any]] | None:
    """Rows of a pandas or polars DataFrame as dicts, or None for anything else."""
    module = type(frame).__module__
    if module.startswith("pandas") and hasattr(frame, "to_dict"):
        return frame.to_dict(orient="records")
    if module.startswith("polars") and hasattr(frame, "to_dicts"):
        return frame.to_dicts()
    return None


def _documents_from_rows(
    rows: list[dict[str, Any]],
    *,
    id_column: str,
    text_columns: Sequence[str],
    title_column: str | None,
    metadata_columns: Sequence[str] | None,
) -> list[dict[str, Any]]:
    if not rows:
        return []
    columns = list(rows[0].keys())
    for column in [id_column, *text_columns, *([title_column] if title_column else [])]:
        if column not in columns:
            raise KeyError(f"the DataFrame has no column {column!r} (columns: {columns})")
    if metadata_columns is None:
        used = {id_column, *text_columns, *([title_column] if title_column else [])}
        metadata_columns = [c for c in columns if c not in used]
    documents = []
    for index, row in enumerate(rows):
        present = [c for c in text_columns if _plain(row[c]) not in (None, "")]
        if len(text_columns) == 1:
            parts = [str(row[c]) for c in present]
        else:
            parts = [f"{c}: {row[c]}" for c in present]
        identifier = _plain(row[id_column])
        if identifier is None:
            raise ValueError(f"row {index} has no {id_column!r}")
        document: dict[str, Any] = {
            "id": str(identifier),
            "text": "\n".join(parts),
            "metadata": {c: v for c in metadata_columns if (v := _plain(row[c])) is not None},
        }
        if title_column:
            title = _plain(row[title_column])
            if title is not None:
                document["title"] = str(title)
        documents.append(document)
    return documents


class Store:
    """The on-disk store the server uses, opened in this process.

    Only one process may have a data directory open at a time: :meth:`close` it (or use
    ``with Store(path) as store:``) before starting ``bellhop serve`` on the same directory.

    Args:
        path: the data directory (created if missing).
        embedder: the :class:`bellhop.Embedder` for documents and queries.
        model: instead of ``embedder``, a model directory or Hugging Face repo id, loaded on
            first use (default: ``$BELLHOP_MODEL``, else ``models/all-MiniLM-L6-v2`` when
            present, else ``sentence-transformers/all-MiniLM-L6-v2``).
    """

    def __init__(
        self,
        path: PathLike,
        *,
        embedder: _core.Embedder | None = None,
        model: str | None = None,
    ) -> None:
        self._inner = _core.Store(os.fspath(path), embedder=embedder, model=model)

    @property
    def path(self) -> str:
        """The data directory."""
        return str(self._inner.path)

    def close(self) -> None:
        """Releases the data directory; later calls raise :class:`bellhop.BellhopError`."""
        self._inner.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    def create_collection(
        self,
        name: str,
        *,
        chunk_tokens: int = 256,
        chunk_overlap: int = 32,
        index: str = "auto",
        system_prompt: str | None = None,
        generator: str | None = None,
        answer_deadline_ms: int | None = None,
        dimensions: int | None = None,
    ) -> dict[str, Any]:
        """Creates a collection for this store's model and returns its info.

        ``index`` is "auto" (exact scan, HNSW above 100,000 chunks), "exact" or "hnsw".
        ``dimensions`` stores shorter vectors: one of the sizes a Matryoshka model's card
        lists (``Embedder.matryoshka_dimensions``); the model's full size by default.
        Raises :class:`bellhop.ConflictError` if the name is taken."""
        return self._inner.create_collection(
            name,
            chunk_tokens=chunk_tokens,
            chunk_overlap=chunk_overlap,
            index=index,
            system_prompt=system_prompt,
            generator=generator,
            answer_deadline_ms=answer_deadline_ms,
            dimensions=dimensions,
        )

    def collection(self, name: str) -> dict[str, Any]:
        """A collection's definition and counts (:class:`bellhop.NotFoundError` if none)."""
        return self._inner.collection(name)

    def list_collections(self) -> list[dict[str, Any]]:
        """All collections, by name."""
        return self._inner.list_collections()

    def delete_collection(self, name: str) -> None:
        """Deletes a collection and everything in it."""
        self._inner.delete_collection(name)

    def add_documents(
        self,
        collection: str,
        documents: Iterable[Mapping[str, Any]] | Any,
        *,
        id_column: str = "id",
        text_column: str | Sequence[str] = "text",
        title_column: str | None = None,
        metadata_columns: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Adds or replaces documents in one transaction, chunked and embedded; the
        collection is created when missing. Returns the write receipt.

        ``documents`` is a list of dicts (``id``, ``text``, optional ``title``,
        ``metadata``, ``source``) or a pandas/polars DataFrame: then each row is a document,
        ``id_column`` its id, ``text_column`` (one column, or several joined as
        ``column: value`` lines) its text, ``title_column`` its title, and
        ``metadata_columns`` (default: every other column) its metadata for filters."""
        rows = _dataframe_rows(documents)
        if rows is not None:
            text_columns = [text_column] if isinstance(text_column, str) else list(text_column)
            prepared: list[Any] = _documents_from_rows(
                rows,
                id_column=id_column,
                text_columns=text_columns,
                title_column=title_column,
                metadata_columns=metadata_columns,
            )
        elif isinstance(documents, (str, bytes, Mapping)):
            raise TypeError("documents must be a list of dicts or a DataFrame")
        else:
            prepared = [dict(document) for document in documents]
        return self._inner.add_documents(collection, prepared)

    def ingest(
        self,
        collection: str,
        paths: PathLike | Sequence[PathLike],
        *,
        force: bool = False,
        text_columns: Sequence[str] | None = None,
        list_columns: Sequence[str] | None = None,
        id_field: str | None = None,
    ) -> dict[str, Any]:
        """Ingests files and directories as ``bellhop ingest`` does and returns the report
        (``files``: one entry per file with its ``name`` and ``status``; a malformed file is
        reported with ``status == "failed"`` and its ``error``, and
        leaves nothing written, while the others proceed)."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        return self._inner.ingest(
            collection,
            [os.fspath(p) for p in paths],
            force=force,
            text_columns=list(text_columns) if text_columns is not None else None,
            list_columns=list(list_columns) if list_columns is not None else None,
            id_field=id_field,
        )

    def search(
        self,
        collection: str,
        query: str,
        k: int = 10,
        *,
        mode: str = "hybrid",
        filter: Mapping[str, Any] | None = None,
        min_score: float | None = None,
    ) -> Hits:
        """Searches a collection; ``mode`` is "hybrid" (default), "dense" or "keyword",
        ``filter`` a metadata filter as in the HTTP API. Returns :class:`bellhop.Hits`,
        best first (``.to_pandas()`` for a DataFrame)."""
        raw = self._inner.search(
            collection, query, k, mode=mode, filter=filter, min_score=min_score
        )
        return Hits(Hit.from_dict(hit) for hit in raw)

    def document(self, collection: str, document_id: str) -> dict[str, Any]:
        """One document's fields and chunk count."""
        return self._inner.document(collection, document_id)

    def list_documents(
        self, collection: str, offset: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Documents ordered by id, paged."""
        return self._inner.list_documents(collection, offset, limit)

    def delete_document(self, collection: str, document_id: str) -> dict[str, Any]:
        """Deletes one document and its chunks (:class:`bellhop.NotFoundError` if none)."""
        return self._inner.delete_document(collection, document_id)

    def evaluate(
        self, dataset_dir: PathLike, *, collection: str | None = None
    ) -> dict[str, dict[str, float]]:
        """nDCG@10, Recall@10 and MRR@10 of each mode on a BEIR-layout dataset, after
        ingesting its corpus into ``collection`` (default ``eval-<directory name>``;
        skipped when the corpus is already there). Returns
        ``{"dense": {"ndcg@10": ..., "recall@10": ..., "mrr@10": ..., "queries": N}, ...}``."""
        return self._inner.evaluate(os.fspath(dataset_dir), collection=collection)


__all__ = ["Store"]
