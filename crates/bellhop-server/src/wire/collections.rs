//! Collections: their settings and counts, and the requests that create and change one.

use std::collections::BTreeMap;

use bellhop_answer::GeneratorChoice;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The collection a path names.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CollectionPath {
    /// The collection.
    #[param(pattern = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    pub name: String,
}

/// How a collection's documents are chunked, in tokens.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct ChunkingSettings {
    /// Most tokens per chunk, context header and special tokens included; at most what the
    /// model reads (256 for the default model).
    #[schema(minimum = 8, maximum = 256)]
    #[serde(deserialize_with = "super::integer::required")]
    pub max_tokens: usize,
    /// Tokens repeated between consecutive chunks of a section; less than `max_tokens` (a
    /// 400 otherwise: a bound between two fields, which the schema cannot state).
    #[schema(minimum = 0, maximum = 255)]
    #[serde(deserialize_with = "super::integer::required")]
    pub overlap_tokens: usize,
}

super::object_only!(serialize ChunkingSettings);

impl From<bellhop_store::ChunkingSettings> for ChunkingSettings {
    fn from(settings: bellhop_store::ChunkingSettings) -> Self {
        Self {
            max_tokens: settings.max_tokens,
            overlap_tokens: settings.overlap_tokens,
        }
    }
}

impl From<ChunkingSettings> for bellhop_store::ChunkingSettings {
    fn from(settings: ChunkingSettings) -> Self {
        Self {
            max_tokens: settings.max_tokens,
            overlap_tokens: settings.overlap_tokens,
        }
    }
}

/// The vector index a collection asks for.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IndexKind {
    /// The exact scan, then HNSW from 100k chunks.
    #[default]
    Auto,
    /// Always the exact scan.
    Exact,
    /// Always HNSW.
    Hnsw,
}

impl From<bellhop_store::IndexKind> for IndexKind {
    fn from(kind: bellhop_store::IndexKind) -> Self {
        match kind {
            bellhop_store::IndexKind::Auto => Self::Auto,
            bellhop_store::IndexKind::Exact => Self::Exact,
            bellhop_store::IndexKind::Hnsw => Self::Hnsw,
        }
    }
}

impl From<IndexKind> for bellhop_store::IndexKind {
    fn from(kind: IndexKind) -> Self {
        match kind {
            IndexKind::Auto => Self::Auto,
            IndexKind::Exact => Self::Exact,
            IndexKind::Hnsw => Self::Hnsw,
        }
    }
}

/// The vector index a collection is searched with now.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActiveIndex {
    /// The exact scan.
    Exact,
    /// The HNSW graph.
    Hnsw,
}

impl From<bellhop_store::ActiveIndex> for ActiveIndex {
    fn from(index: bellhop_store::ActiveIndex) -> Self {
        match index {
            bellhop_store::ActiveIndex::Exact => Self::Exact,
            bellhop_store::ActiveIndex::Hnsw => Self::Hnsw,
        }
    }
}

/// A generator of answers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Generator {
    /// No model: the best matching sentences of the sources.
    Extractive,
    /// The server's own GGUF model.
    Local,
    /// The OpenAI-compatible upstreams.
    Openai,
}

impl From<Generator> for GeneratorChoice {
    fn from(generator: Generator) -> Self {
        match generator {
            Generator::Extractive => Self::Extractive,
            Generator::Local => Self::Local,
            Generator::Openai => Self::Openai,
        }
    }
}

/// Overrides of the embedding model's calibrated thresholds for abstaining, each from 0 to 1.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct AnswerabilitySettings {
    /// Below this cosine of the best chunk, the answer abstains.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "unit_interval"
    )]
    #[schema(minimum = 0, maximum = 1)]
    pub min_dense: Option<f32>,
    /// Below this cosine of the best chunk, a question in another language than the
    /// collection's abstains.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "unit_interval"
    )]
    #[schema(minimum = 0, maximum = 1)]
    pub min_dense_other_language: Option<f32>,
    /// From this cosine on, missing key terms do not make it abstain.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "unit_interval"
    )]
    #[schema(minimum = 0, maximum = 1)]
    pub confident_dense: Option<f32>,
    /// Below this share of the question's key terms found in the sources (and under
    /// `confident_dense`), the answer abstains.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "unit_interval"
    )]
    #[schema(minimum = 0, maximum = 1)]
    pub min_term_coverage: Option<f32>,
    /// From this cosine between the question with and without the words the collection
    /// never uses, those words do not make it abstain.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "unit_interval"
    )]
    #[schema(minimum = 0, maximum = 1)]
    pub min_meaning_kept: Option<f32>,
    /// Up to this share of the collection's texts a word names a specific thing: a price,
    /// time or number asked of it that no source states with it makes the answer abstain.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "unit_interval"
    )]
    #[schema(minimum = 0, maximum = 1)]
    pub max_specific_share: Option<f32>,
}

super::object_only!(serialize AnswerabilitySettings);

/// A threshold from 0 to 1, checked before it is narrowed to `f32`: 1.0000000000000002 is
/// above the schema's maximum, though as an `f32` it is 1.
fn unit_interval<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<f32>, D::Error> {
    let value = Option::<f64>::deserialize(deserializer)?;
    match value {
        Some(value) if !(0.0..=1.0).contains(&value) => Err(serde::de::Error::custom(format!(
            "a threshold must be between 0 and 1, got {value}"
        ))),
        value => Ok(value.map(|value| value as f32)),
    }
}

impl AnswerabilitySettings {
    fn is_unset(&self) -> bool {
        self.min_dense.is_none()
            && self.min_dense_other_language.is_none()
            && self.confident_dense.is_none()
            && self.min_term_coverage.is_none()
            && self.min_meaning_kept.is_none()
            && self.max_specific_share.is_none()
    }
}

impl From<bellhop_store::AnswerabilitySettings> for AnswerabilitySettings {
    fn from(settings: bellhop_store::AnswerabilitySettings) -> Self {
        Self {
            min_dense: settings.min_dense,
            min_dense_other_language: settings.min_dense_other_language,
            confident_dense: settings.confident_dense,
            min_term_coverage: settings.min_term_coverage,
            min_meaning_kept: settings.min_meaning_kept,
            max_specific_share: settings.max_specific_share,
        }
    }
}

impl From<AnswerabilitySettings> for bellhop_store::AnswerabilitySettings {
    fn from(settings: AnswerabilitySettings) -> Self {
        Self {
            min_dense: settings.min_dense,
            min_dense_other_language: settings.min_dense_other_language,
            confident_dense: settings.confident_dense,
            min_term_coverage: settings.min_term_coverage,
            min_meaning_kept: settings.min_meaning_kept,
            max_specific_share: settings.max_specific_share,
        }
    }
}

/// `POST /v1/collections`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    /// Letters, digits, `-` and `_`, at most 64 characters, starting with a letter or digit.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    pub name: String,
    /// Must name the served model when given.
    #[serde(default)]
    pub model: Option<String>,
    /// Store vectors of this many dimensions: the model's full size (the default) or, for a
    /// model trained for it (Matryoshka), one of the shorter sizes its card lists; each
    /// vector is cut to its first `dimensions` values and scaled to unit length again.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 16384)]
    #[serde(deserialize_with = "super::integer::optional")]
    pub dimensions: Option<usize>,
    /// Chunk size and overlap in tokens (default 256 and 32).
    #[serde(default)]
    pub chunking: Option<ChunkingSettings>,
    /// `auto` (exact scan, HNSW from 100k chunks), `exact` or `hnsw`.
    #[serde(default)]
    pub index: IndexKind,
    /// Instructions for answer generation.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// The generator of answers that name none (the server's default when absent); one this
    /// server has (409 otherwise).
    #[serde(default)]
    pub generator: Option<Generator>,
    /// The deadline of answers that set none, in milliseconds (the server's default when
    /// absent).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 28000)]
    #[serde(deserialize_with = "super::integer::optional")]
    pub answer_deadline_ms: Option<u64>,
    /// What answers say when the sources do not hold the answer, e.g. "I don't have that
    /// information. Reception is happy to help: dial 9."
    #[serde(default)]
    pub fallback_text: Option<String>,
    /// The same in other languages, by ISO 639-1 code.
    #[serde(default)]
    pub fallback_texts: BTreeMap<String, String>,
    /// Overrides of the embedding model's calibrated thresholds for abstaining.
    #[serde(default)]
    pub answerability: AnswerabilitySettings,
    /// Days the question log keeps guests' questions, answers and feedback (default 30).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    #[serde(deserialize_with = "super::integer::optional")]
    pub question_retention_days: Option<u32>,
}

super::object_only!(CreateCollection);

/// `PATCH /v1/collections/{name}`: a JSON merge patch (RFC 7396) of the answer settings. A
/// field left out keeps its value, `null` clears it (back to the server's default), any
/// other value replaces it; the name, model, chunking and index cannot change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    /// Instructions for answer generation.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub system_prompt: Option<Option<String>>,
    /// The generator of answers that name none; one this server has (409 otherwise).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Generator>)]
    pub generator: Option<Option<Generator>>,
    /// The deadline of answers that set none, in milliseconds.
    #[serde(default, deserialize_with = "super::integer::present")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 28000)]
    pub answer_deadline_ms: Option<Option<u64>>,
    /// What answers say when the sources do not hold the answer.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub fallback_text: Option<Option<String>>,
    /// The same in other languages, by ISO 639-1 code; replaces all of them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub fallback_texts: Option<Option<BTreeMap<String, String>>>,
    /// Overrides of the answerability thresholds; replaces all of them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AnswerabilitySettings>)]
    pub answerability: Option<Option<AnswerabilitySettings>>,
    /// Days the question log keeps guests' questions, answers and feedback.
    #[serde(default, deserialize_with = "super::integer::present")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 3650)]
    pub question_retention_days: Option<Option<u32>>,
}

super::object_only!(SettingsUpdate);

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`, by `default`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A collection: its settings and counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionInfo {
    /// Letters, digits, `-` and `_`.
    pub name: String,
    /// The embedding model its vectors come from.
    pub model: String,
    /// Vector dimension.
    pub dim: usize,
    /// How documents are chunked.
    pub chunking: ChunkingSettings,
    /// The vector index asked for.
    pub index: IndexKind,
    /// Instructions for answer generation.
    pub system_prompt: Option<String>,
    /// The generator of answers that name none, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    /// The deadline of answers that set none, in milliseconds, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "super::integer::optional")]
    pub answer_deadline_ms: Option<u64>,
    /// What answers say when the sources do not hold the answer, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_text: Option<String>,
    /// The same in other languages, by ISO 639-1 code, when set.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fallback_texts: BTreeMap<String, String>,
    /// Overrides of the answerability thresholds, when set.
    #[serde(skip_serializing_if = "AnswerabilitySettings::is_unset")]
    pub answerability: AnswerabilitySettings,
    /// Days the question log keeps guests' questions, answers and feedback, when set (30
    /// otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question_retention_days: Option<u32>,
    /// Documents in it.
    pub documents: u64,
    /// Chunks in it.
    pub chunks: u64,
    /// Bumped by every write; caches key on it.
    pub version: u64,
    /// The vector index in use.
    pub active_index: ActiveIndex,
}

impl From<bellhop_store::CollectionInfo> for CollectionInfo {
    fn from(info: bellhop_store::CollectionInfo) -> Self {
        let spec = info.spec;
        Self {
            name: spec.name,
            model: spec.model,
            dim: spec.dim,
            chunking: spec.chunking.into(),
            index: spec.index.into(),
            system_prompt: spec.system_prompt,
            generator: spec.generator,
            answer_deadline_ms: spec.answer_deadline_ms,
            fallback_text: spec.fallback_text,
            fallback_texts: spec.fallback_texts,
            answerability: spec.answerability.into(),
            question_retention_days: spec.question_retention_days,
            documents: info.documents,
            chunks: info.chunks,
            version: info.version,
            active_index: info.active_index.into(),
        }
    }
}

/// The collections a key may use.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionList {
    /// By name.
    pub collections: Vec<CollectionInfo>,
}
