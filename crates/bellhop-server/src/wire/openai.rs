//! OpenAI's shapes: embeddings, models, chat completions and their streamed chunks.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::collections::Generator;
use super::search::{Citation, Stop};
use super::{EmbeddingText, LongText, QuestionText};

/// What to embed, as OpenAI's API takes it. Token arrays parse, so that they are refused
/// with a clear 400 (the served model's tokens are not OpenAI's), but the schema does not
/// offer them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    Text(String),
    /// Several texts.
    Texts(Vec<String>),
    /// One text as token ids.
    Tokens(Vec<u32>),
    /// Several texts as token ids.
    TokenArrays(Vec<Vec<u32>>),
}

/// What to embed: one text, or up to 256 (token arrays are refused with 400).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = EmbeddingInput)]
#[allow(dead_code)]
pub enum TextInput {
    /// One text.
    Text(EmbeddingText),
    /// Several texts.
    Texts(EmbeddingTexts),
}

super::constrained!(
    /// 1 to 256 texts to embed.
    EmbeddingTexts(Vec<EmbeddingText>): utoipa::openapi::schema::ArrayBuilder::new()
        .items(<EmbeddingText as utoipa::PartialSchema>::schema())
        .min_items(Some(1))
        .max_items(Some(256))
);

/// How embeddings are sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// Arrays of numbers.
    #[default]
    Float,
    /// Little-endian `f32`s, base64-encoded.
    Base64,
}

/// `POST /v1/embeddings`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(remote = "Self")]
pub struct EmbeddingsRequest {
    /// One text or several.
    #[schema(value_type = TextInput)]
    pub input: EmbeddingInput,
    /// The served embedding model (`owner/name` or `name`).
    pub model: String,
    /// `float` (default) or `base64`.
    #[serde(default)]
    pub encoding_format: Option<EncodingFormat>,
    /// Shorten the embeddings to this many dimensions: the model's own size (384 for the
    /// default model), or, for a model trained for it (Matryoshka), one of the shorter sizes
    /// its card lists (400 otherwise). A shortened vector is the full one's prefix at unit
    /// length.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 16384)]
    #[serde(deserialize_with = "super::integer::optional")]
    pub dimensions: Option<usize>,
}

super::object_only!(EmbeddingsRequest);

/// `"list"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum ListObject {
    /// A list.
    #[serde(rename = "list")]
    List,
}

/// `"embedding"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum EmbeddingObject {
    /// An embedding.
    #[serde(rename = "embedding")]
    Embedding,
}

/// One embedding, as numbers or as base64.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// Numbers.
    Float(Vec<f32>),
    /// Little-endian `f32`s, base64-encoded.
    Base64(String),
}

/// One input's embedding.
#[derive(Debug, Serialize, ToSchema)]
pub struct Embedding {
    /// `embedding`.
    pub object: EmbeddingObject,
    /// The input's position.
    pub index: usize,
    /// The vector.
    pub embedding: EmbeddingVector,
}

/// Tokens read to embed the inputs.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingUsage {
    /// Tokens of the inputs.
    pub prompt_tokens: usize,
    /// The same.
    pub total_tokens: usize,
}

/// The embeddings of `POST /v1/embeddings`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingsResponse {
    /// `list`.
    pub object: ListObject,
    /// In the order of the inputs.
    pub data: Vec<Embedding>,
    /// The model that embedded them.
    pub model: String,
    /// Tokens read.
    pub usage: EmbeddingUsage,
}

/// `"model"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum ModelObject {
    /// A model.
    #[serde(rename = "model")]
    Model,
}

/// A model: the embedding model, the local chat model, or a collection.
#[derive(Debug, Serialize, ToSchema)]
pub struct Model {
    /// Its name.
    pub id: String,
    /// `model`.
    pub object: ModelObject,
    /// Seconds since the Unix epoch.
    pub created: u64,
    /// `bellhop`.
    pub owned_by: String,
}

/// `GET /v1/models`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// `list`.
    pub object: ListObject,
    /// The models this key may use.
    pub data: Vec<Model>,
}

/// A text part of a message; parts of other types are refused.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ContentPart {
    /// Text.
    Text {
        /// The text.
        text: LongText,
    },
}

/// A message's content: a string, or text parts joined by newlines.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum MessageContent {
    /// A string.
    Text(LongText),
    /// Text parts.
    Parts(Vec<ContentPart>),
}

/// A text part of a question.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum QuestionPart {
    /// Text.
    Text {
        /// The text.
        text: QuestionText,
    },
}

/// A guest's message: a string, or text parts joined by newlines; each text not blank and
/// at most 2000 characters.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum QuestionContent {
    /// A string.
    Text(QuestionText),
    /// Text parts.
    Parts(QuestionParts),
}

super::constrained!(
    /// At least one text part.
    QuestionParts(Vec<QuestionPart>): utoipa::openapi::schema::ArrayBuilder::new()
        .items(<QuestionPart as utoipa::PartialSchema>::schema())
        .min_items(Some(1))
);

impl MessageContent {
    /// The texts of the content.
    pub fn pieces(&self) -> Vec<&str> {
        match self {
            Self::Text(text) => vec![text.0.as_str()],
            Self::Parts(parts) => parts
                .iter()
                .map(|ContentPart::Text { text }| text.0.as_str())
                .collect(),
        }
    }
}

impl QuestionContent {
    /// The texts of the content.
    pub fn pieces(&self) -> Vec<&str> {
        match self {
            Self::Text(text) => vec![text.0.as_str()],
            Self::Parts(parts) => parts
                .0
                .iter()
                .map(|QuestionPart::Text { text }| text.0.as_str())
                .collect(),
        }
    }
}

/// One chat message, by its author's role.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    /// Instructions (a collection's own system prompt governs its answers).
    System {
        /// What it says.
        content: MessageContent,
    },
    /// Instructions, as newer OpenAI clients name them.
    Developer {
        /// What it says.
        content: MessageContent,
    },
    /// The guest.
    User {
        /// What they ask.
        content: QuestionContent,
    },
    /// An earlier answer.
    Assistant {
        /// What it said.
        #[serde(default)]
        content: Option<MessageContent>,
    },
}

impl ChatMessage {
    /// The texts of the message.
    pub fn pieces(&self) -> Vec<&str> {
        match self {
            Self::System { content } | Self::Developer { content } => content.pieces(),
            Self::User { content } => content.pieces(),
            Self::Assistant { content } => content
                .as_ref()
                .map(MessageContent::pieces)
                .unwrap_or_default(),
        }
    }

    /// The text of the message, parts joined by newlines.
    pub fn text(&self) -> String {
        self.pieces().join("\n")
    }

    /// Its role in generation.
    pub fn role(&self) -> bellhop_generate::Role {
        match self {
            Self::System { .. } | Self::Developer { .. } => bellhop_generate::Role::System,
            Self::User { .. } => bellhop_generate::Role::User,
            Self::Assistant { .. } => bellhop_generate::Role::Assistant,
        }
    }
}

/// Options of a streamed completion.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(remote = "Self")]
pub struct StreamOptions {
    /// Send a last chunk with the token counts.
    #[serde(default)]
    pub include_usage: Option<bool>,
}

super::object_only!(StreamOptions);

/// `POST /v1/chat/completions`, with bellhop's own `generator` and `deadline_ms`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(remote = "Self")]
pub struct ChatCompletionRequest {
    /// A collection (`NAME` or `collection:NAME`): a grounded answer with citations. Or the
    /// local chat model's name: the model itself, without retrieval.
    pub model: String,
    /// The conversation; the last user message is the question.
    #[schema(min_items = 1, max_items = 64)]
    pub messages: Vec<ChatMessage>,
    /// Send the completion as `chat.completion.chunk` events.
    #[serde(default)]
    pub stream: bool,
    /// Options of a streamed completion.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Completions to write: only 1.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1)]
    #[serde(deserialize_with = "super::integer::optional")]
    pub n: Option<u32>,
    /// Most tokens the model writes.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 4096)]
    #[serde(deserialize_with = "super::integer::optional")]
    pub max_tokens: Option<usize>,
    /// Most tokens the model writes (preferred over `max_tokens`).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 4096)]
    #[serde(deserialize_with = "super::integer::optional")]
    pub max_completion_tokens: Option<usize>,
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
    /// The generator of a collection's answer.
    #[serde(default)]
    pub generator: Option<Generator>,
    /// The deadline of a collection's answer, in milliseconds.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 28000)]
    #[serde(deserialize_with = "super::integer::optional")]
    pub deadline_ms: Option<u64>,
}

super::object_only!(ChatCompletionRequest);

/// `"chat.completion"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum CompletionObject {
    /// A completion.
    #[serde(rename = "chat.completion")]
    Completion,
}

/// `"chat.completion.chunk"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum ChunkObject {
    /// A chunk.
    #[serde(rename = "chat.completion.chunk")]
    Chunk,
}

/// `"assistant"`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum AssistantRole {
    /// The model.
    #[serde(rename = "assistant")]
    Assistant,
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// It finished, or met a stop string.
    Stop,
    /// It reached `max_tokens`.
    Length,
}

impl From<bellhop_generate::FinishReason> for FinishReason {
    fn from(reason: bellhop_generate::FinishReason) -> Self {
        match reason {
            bellhop_generate::FinishReason::Stop => Self::Stop,
            bellhop_generate::FinishReason::Length => Self::Length,
        }
    }
}

/// Tokens of a completion.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct CompletionUsage {
    /// Tokens of the prompt.
    pub prompt_tokens: usize,
    /// Tokens written.
    pub completion_tokens: usize,
    /// Both.
    pub total_tokens: usize,
}

impl CompletionUsage {
    /// Counts of a prompt and a completion.
    pub fn new(prompt_tokens: usize, completion_tokens: usize) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        }
    }
}

/// The answer's message.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssistantMessage {
    /// `assistant`.
    pub role: AssistantRole,
    /// The text.
    pub content: String,
}

/// The one choice of a completion.
#[derive(Debug, Serialize, ToSchema)]
pub struct Choice {
    /// 0.
    pub index: usize,
    /// The answer.
    pub message: AssistantMessage,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<()>,
}

/// What a collection's answer adds to a completion, or to its last chunk.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Grounding {
    /// The cited sources, by number.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub citations: Option<Vec<Citation>>,
    /// The generator that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub generator: Option<String>,
    /// Whether a fallback answered instead of the generator asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub degraded: Option<bool>,
    /// Whether the sources do not hold the answer, so that it says so instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub abstained: Option<bool>,
    /// Why the answer is degraded.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
}

impl From<&bellhop_answer::AskOutcome> for Grounding {
    fn from(outcome: &bellhop_answer::AskOutcome) -> Self {
        let answer = &outcome.answer;
        Self {
            citations: Some(super::search::citations(&answer.citations)),
            generator: Some(answer.generator.clone()),
            degraded: Some(answer.degraded),
            abstained: Some(answer.abstained),
            reason: answer.reason.clone(),
        }
    }
}

/// A whole chat completion.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatCompletion {
    /// `chatcmpl-…`.
    pub id: String,
    /// `chat.completion`.
    pub object: CompletionObject,
    /// Seconds since the Unix epoch.
    pub created: u64,
    /// The model asked for.
    pub model: String,
    /// One.
    pub choices: Vec<Choice>,
    /// Tokens.
    pub usage: CompletionUsage,
    /// A collection's citations and how it answered.
    #[serde(flatten)]
    pub grounding: Grounding,
}

/// What a chunk adds to the message.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Delta {
    /// `assistant`, on the first chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub role: Option<AssistantRole>,
    /// The next text.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub content: Option<String>,
}

/// The one choice of a chunk.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChunkChoice {
    /// 0.
    pub index: usize,
    /// The next piece.
    pub delta: Delta,
    /// Why it ended, on the last chunk.
    pub finish_reason: Option<FinishReason>,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<()>,
}

/// One event of a streamed completion.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatCompletionChunk {
    /// The same on every chunk of a completion.
    pub id: String,
    /// `chat.completion.chunk`.
    pub object: ChunkObject,
    /// Seconds since the Unix epoch.
    pub created: u64,
    /// The model asked for.
    pub model: String,
    /// One, or none on the usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// Tokens, on the usage chunk (`stream_options.include_usage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub usage: Option<CompletionUsage>,
    /// A collection's citations and how it answered, on the last chunk.
    #[serde(flatten)]
    pub grounding: Grounding,
}

/// The data of a streamed completion's event: a chunk, or the error that ended it.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ChatCompletionData {
    /// A chunk.
    Chunk(ChatCompletionChunk),
    /// The error that ended the stream (without `[DONE]`).
    Error(super::ErrorBody),
}

/// An event of a streamed completion, described as the event itself, as schema tools read
/// Server-Sent Events: unnamed (`message`), with a chunk or the error that ended the stream
/// as its JSON data, or `[DONE]` last.
pub struct ChatCompletionEvent;

impl utoipa::PartialSchema for ChatCompletionEvent {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(super::sse_event("message", "ChatCompletionData"))
            .item(super::sse_text_event("message", "[DONE]"))
            .description(Some(
                "An event of a streamed completion: unnamed, its data a `chat.completion.chunk` or the error that ended the stream as JSON, or `[DONE]` after the last chunk.",
            ))
            .into()
    }
}

impl ToSchema for ChatCompletionEvent {}
