"""Type stubs of the native module `bellhop._core` (use the re-exports in `bellhop`)."""

from os import PathLike
from typing import Any, Iterable, Optional, Union

import numpy as np
import numpy.typing as npt

__version__: str

class Embedder:
    """A sentence-transformers model (BERT family or EmbeddingGemma) from a directory or a
    Hugging Face repo id; its vectors match sentence-transformers'."""

    def __init__(self, model: Optional[str] = None, precision: str = "f32") -> None:
        """`precision` is what the dense weights are kept in: "f32" (sentence-transformers'
        vectors) or "bf16" (rounded at load; faster short queries on CPUs with AVX-512)."""
    def embed(
        self,
        texts: Iterable[str],
        batch_size: Optional[int] = None,
        prompt_name: Optional[str] = None,
        dimensions: Optional[int] = None,
    ) -> npt.NDArray[np.float32]:
        """Embeds texts into a C-contiguous float32 array of shape (len(texts), dim),
        releasing the GIL while the model runs; `prompt_name` puts one of the model's
        `prompts` before every text; `dimensions` shortens the vectors to one of
        `matryoshka_dimensions`."""
    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text`, special tokens included."""
    @property
    def prompts(self) -> dict[str, str]: ...
    @property
    def dim(self) -> int: ...
    @property
    def matryoshka_dimensions(self) -> list[int]: ...
    @property
    def max_seq_length(self) -> int: ...
    @property
    def model_id(self) -> str: ...

class Store:
    def __init__(
        self,
        path: Union[str, PathLike[str]],
        *,
        embedder: Optional[Embedder] = None,
        model: Optional[str] = None,
    ) -> None: ...
    @property
    def path(self) -> str: ...
    def close(self) -> None: ...
    def create_collection(
        self,
        name: str,
        *,
        chunk_tokens: int = 256,
        chunk_overlap: int = 32,
        index: str = "auto",
        system_prompt: Optional[str] = None,
        generator: Optional[str] = None,
        answer_deadline_ms: Optional[int] = None,
        dimensions: Optional[int] = None,
    ) -> dict[str, Any]: ...
    def collection(self, name: str) -> dict[str, Any]: ...
    def list_collections(self) -> list[dict[str, Any]]: ...
    def delete_collection(self, name: str) -> None: ...
    def add_documents(self, collection: str, documents: list[dict[str, Any]]) -> dict[str, Any]: ...
    def ingest(
        self,
        collection: str,
        paths: list[str],
        *,
        force: bool = False,
        text_columns: Optional[list[str]] = None,
        list_columns: Optional[list[str]] = None,
        id_field: Optional[str] = None,
    ) -> dict[str, Any]: ...
    def search(
        self,
        collection: str,
        query: str,
        k: int = 10,
        *,
        mode: str = "hybrid",
        filter: Optional[dict[str, Any]] = None,
        min_score: Optional[float] = None,
    ) -> list[dict[str, Any]]: ...
    def document(self, collection: str, document_id: str) -> dict[str, Any]: ...
    def list_documents(
        self, collection: str, offset: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]: ...
    def delete_document(self, collection: str, document_id: str) -> dict[str, Any]: ...
    def evaluate(
        self, dataset_dir: str, *, collection: Optional[str] = None
    ) -> dict[str, dict[str, float]]: ...
    def __enter__(self) -> Store: ...
    def __exit__(self, *exc_info: object) -> None: ...

def chunk(
    text: str,
    max_tokens: int = 256,
    overlap: int = 32,
    *,
    format: str = "text",
    title: Optional[str] = None,
    embedder: Optional[Embedder] = None,
) -> list[dict[str, Any]]:
    """Splits text into chunks as ingestion does; each a dict with `text`, `section` and
    `embedding_text`."""
