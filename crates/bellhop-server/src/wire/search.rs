//! Search and answers: requests, hits, citations, answers and their stream events.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::collections::Generator;
use super::documents::MetadataValue;

/// Longest query or question, in characters.
pub const MAX_QUERY_CHARS: usize = 2_000;
/// Most hits one search may ask for.
pub const MAX_K: usize = 100;
/// Longest deadline an answer may ask for, in milliseconds: the request timeout less the
/// time to send the fallback answer.
pub const MAX_DEADLINE_MS: u64 = 28_000;

/// Which retrievers a search uses.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Vector similarity only.
    Dense,
    /// BM25 only.
    Keyword,
    /// Both, fused by reciprocal rank.
    #[default]
    Hybrid,
}

impl From<SearchMode> for bellhop_store::SearchMode {
    fn from(mode: SearchMode) -> Self {
        match mode {
            SearchMode::Dense => Self::Dense,
            SearchMode::Keyword => Self::Keyword,
            SearchMode::Hybrid => Self::Hybrid,
        }
    }
}

/// A metadata filter: conditions by key, all of which must hold. A bare value is equality;
/// an object holds operators. Keys `document_id` and `source` name the document's own
/// fields, and take no ranges.
pub struct Filter;

impl utoipa::PartialSchema for Filter {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .description(Some(
                "Conditions by metadata key, all of which must hold, e.g. \
                 `{\"category\": \"dessert\", \"price\": {\"lte\": 12}}`. Keys are letters, \
                 digits, `_` and `-`; `document_id` and `source` name the document's own \
                 fields and take no ranges.",
            ))
            .property_names(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[A-Za-z0-9_-]{1,64}$")),
            ))
            .additional_properties(Some(utoipa::openapi::Ref::from_schema_name("Condition")))
            .into()
    }
}

impl ToSchema for Filter {}

/// What must hold for one key's value.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum Condition {
    /// Equals this (any element equals, for lists).
    Equals(super::documents::Scalar),
    /// Operators, all of which must hold.
    Operators(Box<Operators>),
}

/// Comparisons of one key's value; list-valued metadata matches by element.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct Operators {
    #[schema(nullable = false)]
    /// Equals.
    eq: Option<super::documents::Scalar>,
    #[schema(nullable = false)]
    /// Does not equal; true when the key is absent.
    ne: Option<super::documents::Scalar>,
    /// Equals one of these.
    #[schema(nullable = false, min_items = 1)]
    r#in: Option<Vec<super::documents::Scalar>>,
    /// Equals one of these.
    #[schema(nullable = false, min_items = 1)]
    any: Option<Vec<super::documents::Scalar>>,
    /// Equals none of these; true when the key is absent.
    #[schema(nullable = false, min_items = 1)]
    not_in: Option<Vec<super::documents::Scalar>>,
    /// Equals none of these; true when the key is absent.
    #[schema(nullable = false, min_items = 1)]
    none: Option<Vec<super::documents::Scalar>>,
    /// Equals none of these; true when the key is absent.
    #[schema(nullable = false, min_items = 1)]
    nin: Option<Vec<super::documents::Scalar>>,
    /// Holds every one of these (lists).
    #[schema(nullable = false, min_items = 1)]
    all: Option<Vec<super::documents::Scalar>>,
    #[schema(nullable = false)]
    /// Greater than.
    gt: Option<f64>,
    #[schema(nullable = false)]
    /// Greater than or equal.
    gte: Option<f64>,
    #[schema(nullable = false)]
    /// Less than.
    lt: Option<f64>,
    #[schema(nullable = false)]
    /// Less than or equal.
    lte: Option<f64>,
}

/// `POST /v1/collections/{name}/search`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    /// What to look for.
    #[schema(pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f\\ufeff]", max_length = 2000)]
    pub query: String,
    /// Hits to return (default 10).
    #[serde(default = "default_search_k")]
    #[schema(minimum = 1, maximum = 100)]
    #[serde(deserialize_with = "super::integer::required")]
    pub k: usize,
    /// `hybrid` (default), `dense` or `keyword`.
    #[serde(default)]
    pub mode: SearchMode,
    /// Metadata filter, e.g. `{"category": "dessert", "price": {"lte": 12}}`.
    #[serde(default)]
    #[schema(value_type = Option<Filter>)]
    pub filter: Option<serde_json::Value>,
    /// Drop hits scoring below this; any number, those beyond the scores' range saturating.
    #[serde(default)]
    pub min_score: Option<f64>,
}

super::object_only!(SearchBody);

fn default_search_k() -> usize {
    10
}

/// A retriever.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Retriever {
    /// Vector similarity.
    Dense,
    /// BM25.
    Keyword,
}

/// Where one retriever ranked a hit.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct RetrieverMatch {
    /// The retriever.
    pub retriever: Retriever,
    /// Its rank, from 1.
    pub rank: usize,
    /// Its own score (cosine or BM25).
    pub score: f32,
}

impl From<&bellhop_store::RetrieverMatch> for RetrieverMatch {
    fn from(found: &bellhop_store::RetrieverMatch) -> Self {
        Self {
            retriever: match found.retriever {
                bellhop_store::Retriever::Dense => Retriever::Dense,
                bellhop_store::Retriever::Keyword => Retriever::Keyword,
            },
            rank: found.rank,
            score: found.score,
        }
    }
}

/// One search result: a chunk with its document's fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hit {
    /// Chunk id, stable while the document is not rewritten.
    pub chunk_id: u64,
    /// Document id.
    pub document_id: String,
    /// Document title.
    pub title: String,
    /// Headings above the chunk.
    pub section: Vec<String>,
    /// Chunk text.
    pub text: String,
    /// Document source.
    pub source: String,
    /// Document metadata.
    #[schema(value_type = std::collections::BTreeMap<String, MetadataValue>)]
    pub metadata: bellhop_store::Metadata,
    /// The score in the requested mode.
    pub score: f32,
    /// The retrievers that found it.
    pub found_by: Vec<RetrieverMatch>,
}

impl From<&bellhop_store::Hit> for Hit {
    fn from(hit: &bellhop_store::Hit) -> Self {
        Self {
            chunk_id: hit.chunk_id,
            document_id: hit.document_id.clone(),
            title: hit.title.clone(),
            section: hit.section.clone(),
            text: hit.text.clone(),
            source: hit.source.clone(),
            metadata: hit.metadata.clone(),
            score: hit.score,
            found_by: hit.found_by.iter().map(RetrieverMatch::from).collect(),
        }
    }
}

/// Hits of a search.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    /// Best first.
    pub hits: Vec<Hit>,
    /// Whether the hits came from the cache.
    pub cached: bool,
    /// Where the time went.
    pub timings: SearchTimings,
}

/// Where a search spent its time, in milliseconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchTimings {
    /// Embedding the query.
    pub embed_ms: f64,
    /// Searching.
    pub search_ms: f64,
    /// The whole request.
    pub total_ms: f64,
}

/// Who wrote an earlier message of a conversation.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TurnRole {
    /// The guest.
    User,
    /// The answers.
    Assistant,
    /// Instructions (the collection's own system prompt governs answers).
    System,
}

/// One earlier message of a conversation.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(remote = "Self")]
pub struct Turn {
    /// Who wrote it.
    pub role: TurnRole,
    /// What it says.
    #[schema(max_length = 200000)]
    pub content: String,
}

super::object_only!(Turn);

impl From<Turn> for bellhop_generate::ChatMessage {
    fn from(turn: Turn) -> Self {
        let role = match turn.role {
            TurnRole::User => bellhop_generate::Role::User,
            TurnRole::Assistant => bellhop_generate::Role::Assistant,
            TurnRole::System => bellhop_generate::Role::System,
        };
        Self::new(role, turn.content)
    }
}

/// Strings that end the answer: one, or up to 4.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Stop {
    /// One.
    One(String),
    /// Up to 4.
    Many(StopList),
}

super::constrained!(
    /// Up to 4 stop strings.
    StopList(Vec<String>): utoipa::openapi::schema::ArrayBuilder::new()
        .items(utoipa::openapi::schema::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::String))
        .max_items(Some(4))
);

impl Stop {
    /// The stop strings.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(stop) => vec![stop],
            Self::Many(stops) => stops.0,
        }
    }
}

/// `POST /v1/collections/{name}/ask`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    /// The guest's question.
    #[schema(pattern = "[^\\s\\x00-\\x1f\\x7f-\\x9f\\ufeff]", max_length = 2000)]
    pub question: String,
    /// Passages retrieved (default 5).
    #[serde(default = "default_ask_k")]
    #[schema(minimum = 1, maximum = 100)]
    #[serde(deserialize_with = "super::integer::required")]
    pub k: usize,
    /// `hybrid` (default), `dense` or `keyword`.
    #[serde(default)]
    pub mode: SearchMode,
    /// Metadata filter of the passages.
    #[serde(default)]
    #[schema(value_type = Option<Filter>)]
    pub filter: Option<serde_json::Value>,
    /// Answer as Server-Sent Events: `citations`, then `delta` events, then `done`.
    #[serde(default)]
    pub stream: bool,
    /// Most sentences in an extractive answer (default 3).
    #[serde(default = "default_max_sentences")]
    #[schema(minimum = 1, maximum = 10)]
    #[serde(deserialize_with = "super::integer::required")]
    pub max_sentences: usize,
    /// The collection's, then the server's default when absent.
    #[serde(default)]
    pub generator: Option<Generator>,
    /// The answer's deadline in milliseconds; the collection's, then the server's default.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 28000)]
    #[serde(deserialize_with = "super::integer::optional")]
    pub deadline_ms: Option<u64>,
    /// The conversation before the question.
    #[serde(default)]
    #[schema(max_items = 64)]
    pub messages: Vec<Turn>,
    /// Most tokens the model writes (the server's default when absent).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 4096)]
    #[serde(deserialize_with = "super::integer::optional")]
    pub max_tokens: Option<usize>,
    /// 0 (default) is greedy and deterministic.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2)]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default)]
    #[schema(exclusive_minimum = 0, maximum = 1)]
    pub top_p: Option<f64>,
    /// Seeds sampling; at most 2^63 - 1, as clients and schema tools read `int64`.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    #[serde(deserialize_with = "super::integer::optional")]
    pub seed: Option<i64>,
    /// Strings that end the answer.
    #[serde(default)]
    pub stop: Option<Stop>,
}

super::object_only!(AskBody);

fn default_ask_k() -> usize {
    5
}

fn default_max_sentences() -> usize {
    3
}

/// One source an answer cites.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Citation {
    /// The number the answer cites it by (`[1]` is 1).
    pub index: usize,
    /// The chunk.
    pub chunk_id: u64,
    /// Its document.
    pub document_id: String,
    /// The document's title.
    pub title: String,
    /// The chunk's section path.
    pub section: Vec<String>,
    /// Where the document came from.
    pub source: String,
    /// The retrieval score.
    pub score: f32,
    /// The chunk's text.
    pub text: String,
}

impl From<&bellhop_answer::Citation> for Citation {
    fn from(citation: &bellhop_answer::Citation) -> Self {
        Self {
            index: citation.index,
            chunk_id: citation.chunk_id,
            document_id: citation.document_id.clone(),
            title: citation.title.clone(),
            section: citation.section.clone(),
            source: citation.source.clone(),
            score: citation.score,
            text: citation.text.clone(),
        }
    }
}

/// The citations of an answer, by number.
pub fn citations(citations: &[bellhop_answer::Citation]) -> Vec<Citation> {
    citations.iter().map(Citation::from).collect()
}

/// Tokens of a model's prompt and answer.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct AnswerUsage {
    /// Tokens of the prompt.
    pub prompt_tokens: usize,
    /// Tokens written.
    pub completion_tokens: usize,
}

/// Where the time of an answer went, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct AskTimings {
    /// Embedding and search.
    pub retrieval_ms: f64,
    /// From the request to the model's first token (absent when no model answered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_token_ms: Option<f64>,
    /// The whole request.
    pub total_ms: f64,
}

/// The evidence the decision to answer or abstain rests on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Answerability {
    /// Whether the sources are taken to answer the question.
    pub answerable: bool,
    /// The cosine of the best chunk the dense retriever found (absent in keyword mode).
    pub dense_score: Option<f32>,
    /// The share of the question's key terms found in the best sources.
    pub term_coverage: f32,
    /// The question's key terms.
    pub key_terms: Vec<String>,
    /// Key terms the best sources do not contain.
    pub missing_terms: Vec<String>,
    /// Key terms the whole collection never uses.
    pub unknown_terms: Vec<String>,
    /// How much of the question's meaning is left without its unknown terms (cosine).
    pub meaning_kept: Option<f32>,
    /// The question's language (ISO 639-1), when it could be told.
    pub question_language: Option<String>,
    /// Why, in a few words.
    pub reason: String,
}

impl From<&bellhop_answer::Answerability> for Answerability {
    fn from(evidence: &bellhop_answer::Answerability) -> Self {
        Self {
            answerable: evidence.answerable,
            dense_score: evidence.dense_score,
            term_coverage: evidence.term_coverage,
            key_terms: evidence.key_terms.clone(),
            missing_terms: evidence.missing_terms.clone(),
            unknown_terms: evidence.unknown_terms.clone(),
            meaning_kept: evidence.meaning_kept,
            question_language: evidence.question_language.clone(),
            reason: evidence.reason.clone(),
        }
    }
}

/// A finished answer, as `/ask` sends it (and as the `done` event of its stream carries it).
#[derive(Debug, Serialize, ToSchema)]
pub struct AskResponse {
    /// The answer's id, which feedback refers to (absent where answers are not logged, as
    /// in `bellhop ask`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The answer, citing its sources as `[n]`; the collection's fallback text when it
    /// abstained.
    pub answer: String,
    /// The cited sources, by number (none when it abstained).
    pub citations: Vec<Citation>,
    /// The generator that answered or would have: `extractive`, `local` or `openai`.
    pub generator: String,
    /// Whether the sources do not hold the answer, so that it says so instead.
    pub abstained: bool,
    /// Whether a fallback answered instead of the generator asked for.
    pub degraded: bool,
    /// Why the answer is degraded.
    pub reason: Option<String>,
    /// Tokens of the model's prompt and answer (absent for extractive answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<AnswerUsage>,
    /// Where the time went.
    pub timings: AskTimings,
    /// Whether the answer came from the cache.
    pub cached: bool,
    /// The deadline the answer was held to, in milliseconds.
    pub deadline_ms: u64,
    /// The evidence the decision to answer or abstain rests on.
    pub answerability: Answerability,
    /// The question's language (ISO 639-1), when it could be told.
    pub question_language: Option<String>,
    /// The answer's language (ISO 639-1), when it could be told: a model answers in the
    /// question's, an extractive answer quotes the sources as they are written, and an
    /// abstention is in the fallback text's.
    pub answer_language: Option<String>,
}

impl AskResponse {
    /// The response sent with the id it is logged under.
    pub fn with_id(self, id: String) -> Self {
        Self {
            id: Some(id),
            ..self
        }
    }
}

impl From<&bellhop_answer::AskOutcome> for AskResponse {
    fn from(outcome: &bellhop_answer::AskOutcome) -> Self {
        let answer = &outcome.answer;
        Self {
            id: None,
            answer: answer.answer.clone(),
            citations: citations(&answer.citations),
            generator: answer.generator.clone(),
            abstained: answer.abstained,
            degraded: answer.degraded,
            reason: answer.reason.clone(),
            usage: answer.usage.map(|usage| AnswerUsage {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
            }),
            timings: AskTimings {
                retrieval_ms: outcome.timings.retrieval_ms,
                first_token_ms: outcome.timings.first_token_ms,
                total_ms: outcome.timings.total_ms,
            },
            cached: outcome.cached,
            deadline_ms: u64::try_from(outcome.deadline.as_millis()).unwrap_or(u64::MAX),
            answerability: Answerability::from(&outcome.answerability),
            question_language: outcome.question_language.clone(),
            answer_language: answer.language(),
        }
    }
}

/// The first event of an answer stream: the sources the answer may cite.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CitationsEvent {
    /// By number.
    pub citations: Vec<Citation>,
}

/// A piece of an answer as it is written.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeltaEvent {
    /// The next text.
    pub text: String,
}

/// An event of an answer stream: `citations`, `delta`, then `done` (the whole answer) or
/// `error`, each with its data as JSON. Described as the event itself, name and data, as schema tools read
/// Server-Sent Events.
pub struct AskStreamEvent;

impl utoipa::PartialSchema for AskStreamEvent {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(super::sse_event("citations", "CitationsEvent"))
            .item(super::sse_event("delta", "DeltaEvent"))
            .item(super::sse_event("done", "AskResponse"))
            .item(super::sse_event("error", "ErrorBody"))
            .description(Some(
                "An event of an answer stream: `citations`, `delta`, then `done` (the whole answer), or `error` (code `internal`) when the server failed while writing it.",
            ))
            .into()
    }
}

impl ToSchema for AskStreamEvent {}
