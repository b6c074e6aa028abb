//! Guests' feedback on answers, and the question log staff read.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A guest's verdict on an answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    /// Helpful.
    Up,
    /// Not helpful.
    Down,
}

impl From<Rating> for bellhop_store::Rating {
    fn from(rating: Rating) -> Self {
        match rating {
            Rating::Up => Self::Up,
            Rating::Down => Self::Down,
        }
    }
}

impl From<bellhop_store::Rating> for Rating {
    fn from(rating: bellhop_store::Rating) -> Self {
        match rating {
            bellhop_store::Rating::Up => Self::Up,
            bellhop_store::Rating::Down => Self::Down,
        }
    }
}

/// `POST /v1/collections/{name}/feedback`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(remote = "Self")]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    /// The `id` of the answer, as `/ask` sent it.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]+$")]
    pub answer_id: String,
    /// `up` or `down`; a later rating of the same answer replaces this one.
    pub rating: Rating,
    /// What the guest wrote, if anything.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

super::object_only!(FeedbackBody);

/// The filters of `GET /v1/collections/{name}/questions`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuestionsParams {
    /// `false`: only questions the sources did not answer; `true`: only answered ones.
    pub answered: Option<bool>,
    /// Only questions asked at or after this time, in seconds since the Unix epoch.
    pub since: Option<i64>,
    /// Only answers rated `up` or `down`.
    pub rating: Option<Rating>,
    /// Most questions returned, newest first (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// Logged questions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionsResponse {
    /// Newest first.
    pub questions: Vec<LoggedQuestion>,
    /// Days the collection keeps its log.
    pub retention_days: u32,
}

/// One logged question with its answer and feedback.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedQuestion {
    /// The answer's id.
    pub id: String,
    /// The question as asked.
    pub question: String,
    /// The answer as sent (the fallback text when it abstained).
    pub answer: String,
    /// Whether the sources did not hold the answer.
    pub abstained: bool,
    /// The ids of the documents the answer cites.
    pub cited_documents: Vec<String>,
    /// The question's language (ISO 639-1), when it could be told.
    pub language: Option<String>,
    /// Seconds since the Unix epoch.
    pub asked_at: i64,
    /// The guest's rating, if any.
    pub feedback: Option<FeedbackView>,
}

/// A guest's rating of an answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackView {
    /// Up or down.
    pub rating: Rating,
    /// What the guest wrote, if anything.
    pub comment: Option<String>,
    /// Seconds since the Unix epoch.
    pub rated_at: i64,
}

impl From<bellhop_store::AnswerRecord> for LoggedQuestion {
    fn from(record: bellhop_store::AnswerRecord) -> Self {
        Self {
            id: record.id,
            question: record.question,
            answer: record.answer,
            abstained: record.abstained,
            cited_documents: record.cited_documents,
            language: record.language,
            asked_at: record.asked_at,
            feedback: record.feedback.map(|feedback| FeedbackView {
                rating: feedback.rating.into(),
                comment: feedback.comment,
                rated_at: feedback.rated_at,
            }),
        }
    }
}
