//! The store's data: collections, documents, chunks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// Free metadata: string, number, bool or string-list values by key.
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// How a collection's documents are chunked (kept with the collection so every writer uses
/// the same settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkingSettings {
    /// Most tokens per chunk, context header and special tokens included.
    pub max_tokens: usize,
    /// Tokens repeated between consecutive chunks of a section.
    pub overlap_tokens: usize,
}

impl Default for ChunkingSettings {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            overlap_tokens: 32,
        }
    }
}

/// Which vector index a collection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexKind {
    /// Exact scan below [`IndexKind::AUTO_HNSW_THRESHOLD`] chunks, HNSW above.
    #[default]
    Auto,
    /// Always the exact scan.
    Exact,
    /// Always HNSW.
    Hnsw,
}

impl IndexKind {
    /// Chunk count from which `auto` switches to HNSW. The exact scan returns the true top k
    /// and its cost grows with the row count (it is bound by memory bandwidth); the HNSW
    /// graph is approximate, slows every write, takes memory beside the vectors, and is built
    /// again at open whenever its saved file does not match the data (after a crash, say).
    /// Below this size the scan is fast enough that exact results win. The figures behind
    /// the choice are in `bench/RESULTS.md` ("Store: search latency and open time").
    pub const AUTO_HNSW_THRESHOLD: usize = 100_000;
}

/// The index a collection is searched with right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActiveIndex {
    /// Exact scan.
    Exact,
    /// HNSW graph.
    Hnsw,
}

/// What a collection is: its name, the model its vectors come from, and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionSpec {
    /// Name: letters, digits, `-` and `_`, at most 64 characters.
    pub name: String,
    /// The embedding model id the vectors come from.
    pub model: String,
    /// Vector dimension.
    pub dim: usize,
    /// Chunking settings.
    #[serde(default)]
    pub chunking: ChunkingSettings,
    /// Vector index choice.
    #[serde(default)]
    pub index: IndexKind,
    /// Instructions for answer generation (e.g. "You are the concierge of …").
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// The answer generator used when a request names none (`extractive`, `local`, `openai`);
    /// the server's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    /// Milliseconds within which every answer is given (a fallback answers when the model is
    /// late); the server's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_deadline_ms: Option<u64>,
    /// What an answer says when the sources do not hold it (the server's default when
    /// unset), e.g. "I don't have that information. Reception is happy to help: dial 9."
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_text: Option<String>,
    /// The same in other languages, by ISO 639-1 code (`de`, `ja`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fallback_texts: BTreeMap<String, String>,
    /// Overrides of the embedding model's calibrated answerability thresholds.
    #[serde(default, skip_serializing_if = "AnswerabilitySettings::is_unset")]
    pub answerability: AnswerabilitySettings,
    /// Days the question log keeps guests' questions, answers and feedback (30 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question_retention_days: Option<u32>,
}

/// A collection's overrides of the thresholds that decide whether its sources answer a
/// question; each unset value keeps the model's calibrated one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerabilitySettings {
    /// Below this cosine of the best chunk, the answer abstains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_dense: Option<f32>,
    /// Below this cosine of the best chunk, a question in another language than the
    /// collection's abstains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_dense_other_language: Option<f32>,
    /// From this cosine on, missing key terms do not make it abstain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confident_dense: Option<f32>,
    /// Below this share of the question's key terms found in the sources (and under
    /// `confident_dense`), the answer abstains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_term_coverage: Option<f32>,
    /// From this cosine between the question with and without the words the collection
    /// never uses, those words do not make it abstain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_meaning_kept: Option<f32>,
    /// Up to this share of the collection's texts a word names a specific thing: a price,
    /// time or number asked of it that no source states with it makes the answer abstain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_specific_share: Option<f32>,
}

impl AnswerabilitySettings {
    /// Whether no threshold is overridden.
    pub fn is_unset(&self) -> bool {
        *self == Self::default()
    }

    /// Checks that every threshold is a number from 0 to 1.
    pub fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("min_dense", self.min_dense),
            ("min_dense_other_language", self.min_dense_other_language),
            ("confident_dense", self.confident_dense),
            ("min_term_coverage", self.min_term_coverage),
            ("min_meaning_kept", self.min_meaning_kept),
            ("max_specific_share", self.max_specific_share),
        ] {
            if let Some(value) = value
                && !(0.0..=1.0).contains(&value)
            {
                return Err(StoreError::Invalid(format!(
                    "answerability.{name} must be between 0 and 1, got {value}"
                )));
            }
        }
        Ok(())
    }
}

impl CollectionSpec {
    /// A spec with default settings.
    pub fn new(name: impl Into<String>, model: impl Into<String>, dim: usize) -> Self {
        Self {
            name: name.into(),
            model: model.into(),
            dim,
            chunking: ChunkingSettings::default(),
            index: IndexKind::default(),
            system_prompt: None,
            generator: None,
            answer_deadline_ms: None,
            fallback_text: None,
            fallback_texts: BTreeMap::new(),
            answerability: AnswerabilitySettings::default(),
            question_retention_days: None,
        }
    }

    /// Days the question log keeps this collection's records.
    pub fn retention_days(&self) -> u32 {
        self.question_retention_days
            .unwrap_or(crate::conversations::DEFAULT_QUESTION_RETENTION_DAYS)
    }

    /// Checks the name and settings.
    pub fn validate(&self) -> Result<()> {
        validate_collection_name(&self.name)?;
        if self.dim == 0 || self.dim > 16_384 {
            return Err(StoreError::Invalid(format!(
                "vector dimension {} is out of range",
                self.dim
            )));
        }
        if self.chunking.max_tokens < 8 {
            return Err(StoreError::Invalid(
                "chunk size must be at least 8 tokens".into(),
            ));
        }
        if self.chunking.overlap_tokens >= self.chunking.max_tokens {
            return Err(StoreError::Invalid(
                "chunk overlap must be smaller than the chunk size".into(),
            ));
        }
        self.answerability.validate()?;
        if let Some(days) = self.question_retention_days
            && !(1..=crate::conversations::MAX_QUESTION_RETENTION_DAYS).contains(&days)
        {
            return Err(StoreError::Invalid(format!(
                "question_retention_days must be between 1 and {}, got {days}",
                crate::conversations::MAX_QUESTION_RETENTION_DAYS
            )));
        }
        Ok(())
    }
}

/// Checks a collection name: 1–64 of `[A-Za-z0-9_-]`, starting with a letter or digit.
pub fn validate_collection_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "invalid collection name {name:?}: use 1-64 letters, digits, '-' or '_', starting with a letter or digit"
        )))
    }
}

/// A collection with its counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionInfo {
    /// Its definition.
    #[serde(flatten)]
    pub spec: CollectionSpec,
    /// Documents in it.
    pub documents: u64,
    /// Chunks in it.
    pub chunks: u64,
    /// Bumped by every write; caches key on it.
    pub version: u64,
    /// The vector index in use.
    pub active_index: ActiveIndex,
}

/// One chunk to write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewChunk {
    /// Headings above the chunk.
    pub section: Vec<String>,
    /// The chunk's text.
    pub text: String,
    /// Its embedding.
    pub vector: Vec<f32>,
}

/// One document to write; replaces any document with the same id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDocument {
    /// Document id, unique in its collection.
    pub id: String,
    /// Title.
    pub title: String,
    /// Where it came from (file name or URL).
    pub source: String,
    /// Metadata for filters.
    pub metadata: Metadata,
    /// Its chunks in order.
    pub chunks: Vec<NewChunk>,
}

/// A source file written with its documents: its hash makes re-ingesting resumable, and
/// documents it no longer yields are removed in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceUpdate {
    /// The source's name (relative path).
    pub name: String,
    /// A hash of its content.
    pub content_hash: String,
}

/// A collection's identity and committed version: equal stamps mean equal contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CollectionVersion {
    /// Never reused, so a collection deleted and created again under the same name differs.
    pub collection_uid: u64,
    /// Bumped by every write.
    pub version: u64,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteReceipt {
    /// The collection's version after the write.
    pub version: u64,
    /// Documents written.
    pub documents: usize,
    /// Chunks written.
    pub chunks: usize,
    /// Documents removed because their source no longer yields them.
    pub removed: usize,
}

/// A stored document, without its chunks' vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentInfo {
    /// Document id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Source.
    pub source: String,
    /// Metadata.
    pub metadata: Metadata,
    /// Number of chunks.
    pub chunks: u64,
    /// Last write, seconds since the Unix epoch.
    pub updated_at: i64,
}

/// The result of an integrity check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrityReport {
    /// Problems found; empty when the store is sound.
    pub problems: Vec<String>,
    /// Collections checked.
    pub collections: usize,
    /// Chunks checked.
    pub chunks: u64,
}

impl IntegrityReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Disagreements between a collection's kept counts and its rows, `(kept, counted)` each.
pub(crate) fn counter_problems(
    collection: &str,
    documents: (i64, i64),
    chunks: (i64, i64),
) -> Vec<String> {
    [("documents", documents), ("chunks", chunks)]
        .into_iter()
        .filter(|(_, (kept, counted))| kept != counted)
        .map(|(what, (kept, counted))| {
            format!("{collection}: counts {kept} {what} where there are {counted}")
        })
        .collect()
}
