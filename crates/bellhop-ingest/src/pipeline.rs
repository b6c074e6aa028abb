//! Files → documents → chunks → vectors → store: the one ingest path that the CLI, the
//! server and the Python package share.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bellhop_embed::Embedder;
use bellhop_store::{
    ChunkingSettings, CollectionInfo, CollectionSpec, IndexKind, NewChunk, NewDocument,
    SourceUpdate, Store, StoreError, WriteReceipt,
};
use rayon::prelude::*;
use serde::Serialize;

use crate::chunker::{Chunker, ChunkingOptions, TokenCounter};
use crate::error::{IngestError, Result};
use crate::walk::collect_files;
use bellhop_readers::ParsedDocument;
use bellhop_readers::{Format, ReadOptions, read_document_bytes};

/// Progress of an ingest, for progress bars and logs.
#[derive(Debug, Clone)]
pub enum IngestEvent {
    /// Files found; the total chunk count is known per file only once it is chunked.
    Planned {
        /// Files to process.
        files: usize,
    },
    /// A file was read and chunked; `chunks` of them will be embedded.
    FileChunked {
        /// The file's name.
        name: String,
        /// Chunks to embed.
        chunks: usize,
    },
    /// Chunks embedded since the last event.
    ChunksEmbedded(usize),
    /// A file is done, one way or another.
    FileFinished(FileReport),
}

/// A callback for [`IngestEvent`]s.
pub type ProgressSink = Arc<dyn Fn(IngestEvent) + Send + Sync>;

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileOutcome {
    /// Written: documents and chunks, and stale documents of the file removed.
    Ingested {
        /// Documents written.
        documents: usize,
        /// Chunks written.
        chunks: usize,
        /// Documents the file no longer yields, removed.
        removed: usize,
    },
    /// Same content as last time: skipped.
    Unchanged,
    /// Not ingested; nothing of it was written.
    Failed {
        /// Why, naming the file.
        error: String,
    },
}

/// One file's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// The file's name in the collection.
    pub name: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: FileOutcome,
}

/// The result of ingesting paths.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    /// Per file, in walk order.
    pub files: Vec<FileReport>,
    /// Files skipped because their format is not supported.
    pub unsupported: Vec<PathBuf>,
    /// Wall time.
    pub elapsed: Duration,
}

impl IngestReport {
    /// Chunks written.
    pub fn chunks(&self) -> usize {
        self.files
            .iter()
            .map(|file| match file.outcome {
                FileOutcome::Ingested { chunks, .. } => chunks,
                _ => 0,
            })
            .sum()
    }

    /// Files that failed.
    pub fn failed(&self) -> impl Iterator<Item = &FileReport> {
        self.files
            .iter()
            .filter(|file| matches!(file.outcome, FileOutcome::Failed { .. }))
    }
}

/// Counts tokens with the embedding model's own tokenizer, as a chunk is embedded: with the
/// model's document prompt, if it has one.
pub struct ModelTokens<'a>(pub &'a Embedder);

impl TokenCounter for ModelTokens<'_> {
    fn count(&self, text: &str) -> usize {
        // A tokenizer failure on one piece must not pass an over-long chunk: count it as
        // too long so that it is split further. So must a count at the sequence length,
        // where the model's tokenizer truncates: the text may be any length beyond it. The
        // count includes the model's document prompt, which every chunk is embedded with.
        match self
            .0
            .count_tokens_with_prompt(text, self.0.document_prompt_name())
        {
            Ok(count) if count < self.0.max_seq_length() => count,
            Ok(_) | Err(_) => usize::MAX / 4,
        }
    }
}

/// Ingests into a store with one embedding model.
#[derive(Clone)]
pub struct Ingestor {
    store: Arc<dyn Store>,
    embedder: Arc<Embedder>,
    read_options: ReadOptions,
    force: bool,
    max_document_chars: Option<usize>,
}

impl Ingestor {
    /// An ingestor over `store` embedding with `embedder`.
    pub fn new(store: Arc<dyn Store>, embedder: Arc<Embedder>) -> Self {
        Self {
            store,
            embedder,
            read_options: ReadOptions::default(),
            force: false,
            max_document_chars: None,
        }
    }

    /// Refuses a file holding a document longer than `chars` characters (none by default):
    /// for a server, where chunking and embedding one would outlast the request.
    pub fn with_max_document_chars(mut self, chars: usize) -> Self {
        self.max_document_chars = Some(chars);
        self
    }

    /// Options for CSV and JSON records.
    pub fn with_read_options(mut self, options: ReadOptions) -> Self {
        self.read_options = options;
        self
    }

    /// Re-ingests files even when their content is unchanged.
    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// The same ingestor embedding with `embedder`: for a collection of another model.
    pub fn embedding_with(&self, embedder: Arc<Embedder>) -> Self {
        Self {
            embedder,
            ..self.clone()
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The embedding model.
    pub fn embedder(&self) -> &Arc<Embedder> {
        &self.embedder
    }

    /// Returns the collection, creating it for this model when it is missing. An existing
    /// collection must hold this model's vectors.
    pub async fn ensure_collection(
        &self,
        name: &str,
        chunking: ChunkingSettings,
        index: IndexKind,
    ) -> Result<CollectionInfo> {
        self.ensure_collection_sized(name, chunking, index, None)
            .await
    }

    /// [`Self::ensure_collection`], storing vectors of `dimensions` (the model's full size when
    /// `None`; a shorter one must be among the model's Matryoshka sizes). An existing
    /// collection must already store that many.
    pub async fn ensure_collection_sized(
        &self,
        name: &str,
        chunking: ChunkingSettings,
        index: IndexKind,
        dimensions: Option<usize>,
    ) -> Result<CollectionInfo> {
        let dim = self.embedder.dimensions_or_full(dimensions)?;
        let info = match self.store.collection(name).await {
            Ok(info) => info,
            Err(StoreError::CollectionNotFound(_)) => {
                let mut spec = CollectionSpec::new(name, self.embedder.model_id(), dim);
                spec.chunking = ChunkingSettings {
                    max_tokens: chunking.max_tokens.min(self.embedder.max_seq_length()),
                    overlap_tokens: chunking.overlap_tokens,
                };
                spec.index = index;
                match self.store.create_collection(spec).await {
                    Ok(info) => info,
                    // Created concurrently by another writer: use it.
                    Err(StoreError::CollectionExists(_)) => self.store.collection(name).await?,
                    Err(err) => return Err(err.into()),
                }
            }
            Err(err) => return Err(err.into()),
        };
        self.check_model(&info)?;
        if let Some(dimensions) = dimensions
            && dimensions != info.spec.dim
        {
            return Err(StoreError::Invalid(format!(
                "collection {name:?} stores vectors of {} dimensions, not {dimensions}; the size \
                 is chosen when a collection is created",
                info.spec.dim
            ))
            .into());
        }
        Ok(info)
    }

    fn check_model(&self, info: &CollectionInfo) -> Result<()> {
        Ok(bellhop_retrieval::ensure_same_model(
            &info.spec,
            &self.embedder,
        )?)
    }

    /// Ingests files and directories into an existing collection. A file that fails is
    /// reported and leaves nothing written; the others proceed. Unchanged files (same
    /// content hash) are skipped unless forced.
    pub async fn ingest_paths(
        &self,
        collection: &str,
        paths: &[PathBuf],
        progress: Option<ProgressSink>,
    ) -> Result<IngestReport> {
        let started = Instant::now();
        let info = self.store.collection(collection).await?;
        self.check_model(&info)?;
        let (files, unsupported) = collect_files(paths)?;
        for path in &unsupported {
            tracing::warn!(file = %path.display(), "skipped: unsupported file type");
        }
        emit(&progress, IngestEvent::Planned { files: files.len() });
        let mut report = IngestReport {
            unsupported,
            ..Default::default()
        };
        for file in files {
            let outcome = match std::fs::read(&file.path) {
                Ok(bytes) => {
                    self.ingest_file_bytes(&info, &file.name, bytes, file.format, progress.clone())
                        .await
                }
                Err(err) => Err(IngestError::Io {
                    path: file.path.clone(),
                    source: err,
                }),
            };
            let outcome = outcome.unwrap_or_else(|err| FileOutcome::Failed {
                error: err.to_string(),
            });
            let file_report = FileReport {
                name: file.name,
                outcome,
            };
            emit(&progress, IngestEvent::FileFinished(file_report.clone()));
            report.files.push(file_report);
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Ingests one file's content under `name` (an upload, or a file read by the caller).
    pub async fn ingest_bytes(
        &self,
        collection: &str,
        name: &str,
        bytes: Vec<u8>,
        format: Format,
    ) -> Result<FileOutcome> {
        let info = self.store.collection(collection).await?;
        self.check_model(&info)?;
        self.ingest_file_bytes(&info, name, bytes, format, None)
            .await
    }

    async fn ingest_file_bytes(
        &self,
        info: &CollectionInfo,
        name: &str,
        bytes: Vec<u8>,
        format: Format,
        progress: Option<ProgressSink>,
    ) -> Result<FileOutcome> {
        let content_hash = self.content_hash(info, &bytes);
        if !self.force
            && self
                .store
                .source_hash(&info.spec.name, name)
                .await?
                .as_deref()
                == Some(&content_hash)
        {
            return Ok(FileOutcome::Unchanged);
        }
        let this = self.clone();
        let (name_owned, chunking, dim) = (name.to_string(), info.spec.chunking, info.spec.dim);
        let documents = tokio::task::spawn_blocking(move || {
            let parsed = read_document_bytes(&bytes, &name_owned, format, &this.read_options)?;
            this.check_lengths(&parsed, &name_owned)?;
            this.embed_documents(
                parsed,
                chunking,
                dim,
                true,
                |event| emit(&progress, event),
                &name_owned,
            )
        })
        .await
        .map_err(|err| IngestError::malformed(name, format!("ingest task failed: {err}")))??;
        let receipt = self
            .store
            .put_documents(
                &info.spec.name,
                documents,
                Some(SourceUpdate {
                    name: name.to_string(),
                    content_hash,
                }),
            )
            .await?;
        Ok(FileOutcome::Ingested {
            documents: receipt.documents,
            chunks: receipt.chunks,
            removed: receipt.removed,
        })
    }

    /// Chunks, embeds and writes parsed documents in one transaction (records from an API,
    /// a dataset). `context_header` prefixes each chunk's embedding text with its title and
    /// section.
    pub async fn put_parsed(
        &self,
        collection: &str,
        documents: Vec<ParsedDocument>,
        source: Option<SourceUpdate>,
        context_header: bool,
        progress: Option<ProgressSink>,
    ) -> Result<WriteReceipt> {
        let info = self.store.collection(collection).await?;
        self.check_model(&info)?;
        let this = self.clone();
        let (chunking, dim) = (info.spec.chunking, info.spec.dim);
        let documents = tokio::task::spawn_blocking(move || {
            this.embed_documents(
                documents,
                chunking,
                dim,
                context_header,
                |event| emit(&progress, event),
                "documents",
            )
        })
        .await
        .map_err(|err| {
            IngestError::malformed("documents", format!("ingest task failed: {err}"))
        })??;
        Ok(self
            .store
            .put_documents(collection, documents, source)
            .await?)
    }

    fn check_lengths(&self, parsed: &[ParsedDocument], name: &str) -> Result<()> {
        let Some(limit) = self.max_document_chars else {
            return Ok(());
        };
        for document in parsed {
            let chars: usize = document
                .blocks
                .iter()
                .map(|block| block.text.chars().count())
                .sum();
            if chars > limit {
                return Err(IngestError::TooLarge {
                    name: name.to_string(),
                    reason: format!(
                        "document {:?} has {chars} characters; the limit is {limit}",
                        document.id
                    ),
                });
            }
        }
        Ok(())
    }

    /// The hash that decides whether a file changed: its bytes, plus everything that
    /// changes how they are chunked and embedded.
    fn content_hash(&self, info: &CollectionInfo, bytes: &[u8]) -> String {
        let mut hasher = blake3::Hasher::new();
        let settings = format!(
            "{}|{}|{}|{}|{:?}|{:?}|{:?}\n",
            bellhop_readers::READERS_VERSION,
            info.spec.model,
            info.spec.chunking.max_tokens,
            info.spec.chunking.overlap_tokens,
            self.read_options.text_columns,
            self.read_options.list_columns,
            self.read_options.id_field
        );
        hasher.update(settings.as_bytes());
        hasher.update(bytes);
        hasher.finalize().to_hex().to_string()
    }

    /// Chunks and embeds documents into vectors of `dim` dimensions (the model's, or one of
    /// its Matryoshka sizes).
    fn embed_documents(
        &self,
        parsed: Vec<ParsedDocument>,
        chunking: ChunkingSettings,
        dim: usize,
        context_header: bool,
        progress: impl Fn(IngestEvent),
        name: &str,
    ) -> Result<Vec<NewDocument>> {
        let counter = ModelTokens(&self.embedder);
        let options = ChunkingOptions {
            max_tokens: chunking.max_tokens.min(self.embedder.max_seq_length()),
            overlap_tokens: chunking.overlap_tokens,
            context_header,
        };
        let chunker = Chunker::new(options, &counter);
        // Counting tokens while chunking is a tokenizer pass over all the text: spread it over
        // the cores, as the embedding after it is.
        let chunked: Vec<(ParsedDocument, Vec<crate::chunker::Chunk>)> = parsed
            .into_par_iter()
            .map(|document| {
                let chunks = chunker.chunk(&document);
                (document, chunks)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .filter(|(document, chunks)| {
                if chunks.is_empty() {
                    tracing::warn!(document = %document.id, "skipped: no text");
                }
                !chunks.is_empty()
            })
            .collect();
        let texts: Vec<&str> = chunked
            .iter()
            .flat_map(|(_, chunks)| chunks.iter().map(|chunk| chunk.embedding_text.as_str()))
            .collect();
        progress(IngestEvent::FileChunked {
            name: name.to_string(),
            chunks: texts.len(),
        });
        let prompt_name = self.embedder.document_prompt_name();
        let vectors = self
            .embedder
            .embed_with_progress(&texts, prompt_name, |done| {
                progress(IngestEvent::ChunksEmbedded(done))
            })?;
        let mut rows = vectors.rows();
        Ok(chunked
            .into_iter()
            .map(|(document, chunks)| NewDocument {
                id: document.id,
                title: document.title,
                source: document.source,
                metadata: document.metadata,
                chunks: chunks
                    .into_iter()
                    .map(|chunk| NewChunk {
                        section: chunk.section,
                        text: chunk.text,
                        vector: bellhop_embed::matryoshka::sized(
                            rows.next().expect("one vector per chunk").to_vec(),
                            dim,
                        ),
                    })
                    .collect(),
            })
            .collect())
    }
}

fn emit(progress: &Option<ProgressSink>, event: IngestEvent) {
    if let Some(progress) = progress {
        progress(event);
    }
}
