"""Result types shared by the in-process :class:`bellhop.Store` and the HTTP client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class RetrieverMatch:
    """How one retriever ranked a hit."""

    retriever: str
    """``dense`` or ``keyword``."""
    rank: int
    """1-based rank in that retriever's list."""
    score: float
    """The retriever's own score (cosine or BM25)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetrieverMatch:
        return cls(
            retriever=str(data["retriever"]),
            rank=int(data["rank"]),
            score=float(data["score"]),
        )


@dataclass(frozen=True)
class Hit:
    """One chunk found by a search."""

    chunk_id: int
    document_id: str
    title: str
    section: list[str]
    text: str
    source: str
    metadata: dict[str, Any]
    score: float
    found_by: list[RetrieverMatch] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hit:
        return cls(
            chunk_id=int(data["chunk_id"]),
            document_id=str(data["document_id"]),
            title=str(data.get("title", "")),
            section=list(data.get("section", [])),
            text=str(data["text"]),
            source=str(data.get("source", "")),
            metadata=dict(data.get("metadata", {})),
            score=float(data["score"]),
            found_by=[RetrieverMatch.from_dict(m) for m in data.get("found_by", [])],
        )


class Hits(list[Hit]):
    """Search hits, best first: a list with a pandas view."""

    def to_pandas(self) -> Any:
        """One row per hit (metadata keys become ``metadata.KEY`` columns). Needs pandas."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("Hits.to_pandas() needs pandas: pip install pandas") from err
        rows = []
        for hit in self:
            row: dict[str, Any] = {
                "chunk_id": hit.chunk_id,
                "document_id": hit.document_id,
                "title": hit.title,
                "section": " > ".join(hit.section),
                "text": hit.text,
                "source": hit.source,
                "score": hit.score,
                "found_by": ",".join(m.retriever for m in hit.found_by),
            }
            for key, value in hit.metadata.items():
                row[f"metadata.{key}"] = value
            rows.append(row)
        return pd.DataFrame(rows)


__all__ = ["Hit", "Hits", "RetrieverMatch"]
