//! `bellhop._core.Store`: the embedded on-disk store, with ingestion, search and evaluation.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use bellhop_embed::{Embedder as RustEmbedder, QueueOptions};
use bellhop_ingest::{Ingestor, ParsedDocument, ReadOptions, beir};
use bellhop_retrieval::{EmbeddingModels, Searcher};
use bellhop_store::{
    ChunkingSettings, CollectionSpec, EmbeddedStore, Filter, IndexKind, Metadata, SearchMode,
    SearchRequest, Store as _,
};
use pyo3::prelude::*;
use serde::Deserialize;

use crate::convert::{from_python, to_python};
use crate::embedder::{Embedder, default_model_spec, load};
use crate::errors::{
    Kind, embed_error, error, ingest_error, invalid, retrieval_error, store_error,
};

/// One document given as a dict.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentInput {
    id: String,
    text: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    source: Option<String>,
}

/// The on-disk store the server uses (one process at a time), opened in-process.
#[pyclass(frozen, module = "bellhop._core")]
pub struct Store {
    path: PathBuf,
    store: RwLock<Option<Arc<EmbeddedStore>>>,
    searcher: RwLock<Option<Arc<Searcher>>>,
    embedder: OnceLock<Arc<RustEmbedder>>,
    model: Option<String>,
    runtime: tokio::runtime::Runtime,
}

impl Store {
    fn store(&self) -> PyResult<Arc<EmbeddedStore>> {
        self.store
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| {
                error(
                    Kind::Bellhop,
                    format!("the store in {} is closed", self.path.display()),
                )
            })
    }

    /// The embedding model, loaded on first use.
    ///
    /// No lock is held while loading: the load releases the GIL, and a thread waiting on a
    /// lock with the GIL held would deadlock with it. Two threads racing here both load, and
    /// the first model stored wins.
    fn embedder(&self, py: Python<'_>) -> PyResult<Arc<RustEmbedder>> {
        if let Some(embedder) = self.embedder.get() {
            return Ok(embedder.clone());
        }
        let spec = self.model.clone().unwrap_or_else(default_model_spec);
        let loaded = load(py, &spec)?;
        Ok(self.embedder.get_or_init(|| loaded).clone())
    }

    /// The retrieval path over the open store, started on first use; closing the store drops
    /// it, so that nothing keeps the store open.
    fn searcher(&self, py: Python<'_>) -> PyResult<Arc<Searcher>> {
        let store = self.store()?;
        if let Some(searcher) = self
            .searcher
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            return Ok(Arc::clone(searcher));
        }
        let embedder = self.embedder(py)?;
        let mut slot = self
            .searcher
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let searcher = slot.get_or_insert_with(|| {
            Arc::new(Searcher::new(
                store,
                Arc::new(EmbeddingModels::single(embedder, QueueOptions::default())),
                0,
            ))
        });
        Ok(Arc::clone(searcher))
    }

    fn ingestor(&self, py: Python<'_>) -> PyResult<Ingestor> {
        Ok(Ingestor::new(self.store()?, self.embedder(py)?))
    }

    /// Runs a future on the store's runtime with the GIL released.
    fn block_on<T: Send>(
        &self,
        py: Python<'_>,
        future: impl std::future::Future<Output = T> + Send,
    ) -> T {
        py.detach(|| self.runtime.block_on(future))
    }
}

fn parse_index(index: &str) -> PyResult<IndexKind> {
    match index {
        "auto" => Ok(IndexKind::Auto),
        "exact" => Ok(IndexKind::Exact),
        "hnsw" => Ok(IndexKind::Hnsw),
        other => Err(invalid(format!(
            "unknown index {other:?}; use \"auto\", \"exact\" or \"hnsw\""
        ))),
    }
}

fn parse_mode(mode: &str) -> PyResult<SearchMode> {
    match mode {
        "hybrid" => Ok(SearchMode::Hybrid),
        "dense" => Ok(SearchMode::Dense),
        "keyword" => Ok(SearchMode::Keyword),
        other => Err(invalid(format!(
            "unknown mode {other:?}; use \"hybrid\", \"dense\" or \"keyword\""
        ))),
    }
}

#[pymethods]
impl Store {
    /// Opens (creating if needed) the store in `path`. `embedder` (or `model`, a model
    /// directory or repo id loaded on first use) embeds documents and queries; it must be the
    /// model a collection was built with.
    #[new]
    #[pyo3(signature = (path, *, embedder = None, model = None))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        embedder: Option<PyRef<'_, Embedder>>,
        model: Option<String>,
    ) -> PyResult<Self> {
        if embedder.is_some() && model.is_some() {
            return Err(invalid("pass either embedder or model, not both"));
        }
        let store = py
            .detach(|| EmbeddedStore::open(&path))
            .map_err(store_error)?;
        // Two workers: one for the store's blocking calls to wait on, one spare.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bellhop-store")
            .enable_all()
            .build()
            .map_err(|err| error(Kind::Bellhop, format!("starting the runtime: {err}")))?;
        Ok(Self {
            path,
            store: RwLock::new(Some(Arc::new(store))),
            searcher: RwLock::new(None),
            embedder: embedder
                .map(|embedder| OnceLock::from(embedder.inner.clone()))
                .unwrap_or_default(),
            model,
            runtime,
        })
    }

    /// Closes the store so that another process (a server, the CLI) can open it. Calls
    /// after this raise `BellhopError`.
    fn close(&self) {
        self.searcher
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.store
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// The data directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Creates a collection for this store's model; raises `ConflictError` if it exists.
    /// `dimensions` stores shorter vectors, one of the sizes a Matryoshka model's card lists
    /// (`Embedder.matryoshka_dimensions`); the model's full size by default.
    #[pyo3(signature = (name, *, chunk_tokens = 256, chunk_overlap = 32, index = "auto", system_prompt = None, generator = None, answer_deadline_ms = None, dimensions = None))]
    #[allow(clippy::too_many_arguments)]
    fn create_collection<'py>(
        &self,
        py: Python<'py>,
        name: String,
        chunk_tokens: usize,
        chunk_overlap: usize,
        index: &str,
        system_prompt: Option<String>,
        generator: Option<String>,
        answer_deadline_ms: Option<u64>,
        dimensions: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let embedder = self.embedder(py)?;
        let dim = embedder
            .dimensions_or_full(dimensions)
            .map_err(embed_error)?;
        let mut spec = CollectionSpec::new(name, embedder.model_id(), dim);
        spec.chunking = ChunkingSettings {
            max_tokens: chunk_tokens.min(embedder.max_seq_length()),
            overlap_tokens: chunk_overlap,
        };
        spec.index = parse_index(index)?;
        spec.system_prompt = system_prompt;
        spec.generator = generator;
        spec.answer_deadline_ms = answer_deadline_ms;
        let store = self.store()?;
        let info = self
            .block_on(py, store.create_collection(spec))
            .map_err(store_error)?;
        to_python(py, &info)
    }

    /// A collection's definition and counts; raises `NotFoundError` if there is none.
    fn collection<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let store = self.store()?;
        let info = self
            .block_on(py, store.collection(&name))
            .map_err(store_error)?;
        to_python(py, &info)
    }

    /// All collections, by name.
    fn list_collections<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let store = self.store()?;
        let list = self
            .block_on(py, store.list_collections())
            .map_err(store_error)?;
        to_python(py, &list)
    }

    /// Deletes a collection and everything in it.
    fn delete_collection(&self, py: Python<'_>, name: String) -> PyResult<()> {
        let store = self.store()?;
        self.block_on(py, store.delete_collection(&name))
            .map_err(store_error)
    }

    /// Adds or replaces documents (dicts with `id`, `text`, and optional `title`,
    /// `metadata`, `source`) in one transaction; the collection is created when missing.
    fn add_documents<'py>(
        &self,
        py: Python<'py>,
        collection: String,
        documents: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let documents: Vec<DocumentInput> = from_python(documents, "documents")?;
        if documents.is_empty() {
            return Err(invalid("documents is empty"));
        }
        let mut parsed = Vec::with_capacity(documents.len());
        for document in documents {
            if bellhop_store::is_blank(&document.id) {
                return Err(invalid("a document id is empty"));
            }
            if bellhop_store::is_blank(&document.text) {
                return Err(invalid(format!("document {:?} has no text", document.id)));
            }
            parsed.push(ParsedDocument::from_text(
                document.id,
                document.title,
                document.text,
                document.metadata,
                document.source.unwrap_or_else(|| "python".into()),
            ));
        }
        let ingestor = self.ingestor(py)?;
        let receipt = self
            .block_on(py, async {
                ingestor
                    .ensure_collection(&collection, ChunkingSettings::default(), IndexKind::Auto)
                    .await?;
                ingestor
                    .put_parsed(&collection, parsed, None, true, None)
                    .await
            })
            .map_err(ingest_error)?;
        to_python(py, &receipt)
    }

    /// Ingests files and directories (txt, md, html, pdf, csv, json, jsonl) as
    /// `bellhop ingest` does: unchanged files are skipped unless `force`, and a file that
    /// fails is reported (`status == "failed"`) while the others proceed.
    #[pyo3(signature = (collection, paths, *, force = false, text_columns = None, list_columns = None, id_field = None))]
    #[allow(clippy::too_many_arguments)]
    fn ingest<'py>(
        &self,
        py: Python<'py>,
        collection: String,
        paths: Vec<PathBuf>,
        force: bool,
        text_columns: Option<Vec<String>>,
        list_columns: Option<Vec<String>>,
        id_field: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if paths.is_empty() {
            return Err(invalid("paths is empty"));
        }
        let ingestor = self
            .ingestor(py)?
            .with_force(force)
            .with_read_options(ReadOptions {
                text_columns: text_columns.unwrap_or_default(),
                list_columns: list_columns.unwrap_or_default(),
                id_field,
            });
        let report = self
            .block_on(py, async {
                ingestor
                    .ensure_collection(&collection, ChunkingSettings::default(), IndexKind::Auto)
                    .await?;
                ingestor.ingest_paths(&collection, &paths, None).await
            })
            .map_err(ingest_error)?;
        to_python(py, &report)
    }

    /// Searches a collection: `mode` is "hybrid" (default), "dense" or "keyword"; `filter`
    /// is a metadata filter as in the HTTP API (e.g. `{"price": {"lte": 12}}`). Returns hit
    /// dicts, best first.
    #[pyo3(signature = (collection, query, k = 10, *, mode = "hybrid", filter = None, min_score = None))]
    #[allow(clippy::too_many_arguments)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        collection: String,
        query: String,
        k: usize,
        mode: &str,
        filter: Option<&Bound<'py, PyAny>>,
        min_score: Option<f32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mode = parse_mode(mode)?;
        let filter = match filter {
            Some(value) => {
                let json: serde_json::Value = from_python(value, "filter")?;
                Filter::from_json(&json).map_err(store_error)?
            }
            None => Filter::default(),
        };
        let request = SearchRequest::new(query, k)
            .and_then(|request| {
                request
                    .with_mode(mode)
                    .with_filter(filter)
                    .with_min_score(min_score)
            })
            .map_err(store_error)?;
        let searcher = self.searcher(py)?;
        let retrieval = self
            .block_on(py, searcher.search(&collection, &request))
            .map_err(retrieval_error)?;
        to_python(py, retrieval.hits.as_slice())
    }

    /// One document's fields and chunk count.
    fn document<'py>(
        &self,
        py: Python<'py>,
        collection: String,
        document_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = self.store()?;
        let info = self
            .block_on(py, store.document(&collection, &document_id))
            .map_err(store_error)?;
        to_python(py, &info)
    }

    /// Documents ordered by id, paged.
    #[pyo3(signature = (collection, offset = 0, limit = 100))]
    fn list_documents<'py>(
        &self,
        py: Python<'py>,
        collection: String,
        offset: usize,
        limit: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = self.store()?;
        let list = self
            .block_on(py, store.list_documents(&collection, offset, limit))
            .map_err(store_error)?;
        to_python(py, &list)
    }

    /// Deletes one document and its chunks; raises `NotFoundError` if there is none.
    fn delete_document<'py>(
        &self,
        py: Python<'py>,
        collection: String,
        document_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = self.store()?;
        let receipt = self
            .block_on(py, store.delete_document(&collection, &document_id))
            .map_err(store_error)?;
        to_python(py, &receipt)
    }

    /// Retrieval quality on a BEIR-layout dataset (`corpus.jsonl`, `queries.jsonl`,
    /// `qrels/test.tsv`): ingests the corpus into `collection` (default `eval-<dir name>`;
    /// skipped when already ingested) and returns nDCG@10, Recall@10 and MRR@10 per mode.
    #[pyo3(signature = (dataset_dir, *, collection = None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        dataset_dir: PathBuf,
        collection: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let dataset = py
            .detach(|| beir::BeirDataset::load(&dataset_dir))
            .map_err(ingest_error)?;
        let collection = collection.unwrap_or_else(|| {
            let name: String = dataset_dir
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            format!("eval-{}", if name.is_empty() { "dataset" } else { &name })
        });
        let ingestor = self.ingestor(py)?;
        // Passages are embedded whole, as sentence-transformers does.
        let chunking = ChunkingSettings {
            max_tokens: ingestor.embedder().max_seq_length(),
            overlap_tokens: 0,
        };
        let results = self
            .block_on(py, async {
                ingestor
                    .ensure_collection(&collection, chunking, IndexKind::Exact)
                    .await?;
                beir::evaluate(&ingestor, &collection, &dataset, None).await
            })
            .map_err(ingest_error)?;
        to_python(py, &results)
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __exit__(
        &self,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) {
        self.close();
    }

    fn __repr__(&self) -> String {
        format!("Store({:?})", self.path.display().to_string())
    }
}
