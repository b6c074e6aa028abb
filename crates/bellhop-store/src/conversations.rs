//! The question log: guests' questions, the answers they got, and their feedback.
//!
//! Guests' questions are personal data: a record holds what was asked and answered and
//! when, never who asked (no address, no key), and it is deleted once its collection's
//! retention has passed.

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// How long a collection keeps its question log when its spec does not say.
pub const DEFAULT_QUESTION_RETENTION_DAYS: u32 = 30;

/// The longest retention a collection may ask for.
pub const MAX_QUESTION_RETENTION_DAYS: u32 = 3_650;

/// Longest feedback comment, in characters.
pub const MAX_FEEDBACK_COMMENT_CHARS: usize = 2_000;

/// Most records one listing returns.
pub const MAX_QUESTIONS_PAGE: usize = 1_000;

/// One answer given, to be logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAnswerRecord {
    /// The id the answer was sent with, which feedback refers to.
    pub id: String,
    /// The question as asked.
    pub question: String,
    /// The answer as sent (the fallback text when it abstained).
    pub answer: String,
    /// Whether the sources did not hold the answer.
    pub abstained: bool,
    /// The ids of the documents the answer cites, in citation order, without repeats.
    pub cited_documents: Vec<String>,
    /// The question's language (ISO 639-1), when it could be told.
    pub language: Option<String>,
    /// When it was answered, seconds since the Unix epoch.
    pub asked_at: i64,
}

impl NewAnswerRecord {
    /// Checks the id and texts.
    pub fn validate(&self) -> Result<()> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            return Err(StoreError::Invalid(format!(
                "invalid answer id {:?}: use 1-64 letters, digits, '-' or '_'",
                self.id
            )));
        }
        if self.question.trim().is_empty() {
            return Err(StoreError::Invalid(
                "a logged question must not be empty".into(),
            ));
        }
        Ok(())
    }
}

/// A guest's verdict on an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    /// Helpful.
    Up,
    /// Not helpful.
    Down,
}

impl Rating {
    /// As stored and sent: `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Up => "up",
            Rating::Down => "down",
        }
    }

    /// Reads a stored rating.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "up" => Some(Rating::Up),
            "down" => Some(Rating::Down),
            _ => None,
        }
    }
}

/// Feedback on one answer; a later verdict replaces an earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// Up or down.
    pub rating: Rating,
    /// What the guest wrote, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When it was given, seconds since the Unix epoch.
    pub rated_at: i64,
}

impl Feedback {
    /// Checks the comment's length.
    pub fn validate(&self) -> Result<()> {
        if let Some(comment) = &self.comment {
            let chars = comment.chars().count();
            if chars > MAX_FEEDBACK_COMMENT_CHARS {
                return Err(StoreError::Invalid(format!(
                    "the comment has {chars} characters; the limit is {MAX_FEEDBACK_COMMENT_CHARS}"
                )));
            }
        }
        Ok(())
    }
}

/// A logged answer with its feedback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerRecord {
    /// The answer's id.
    pub id: String,
    /// The question as asked.
    pub question: String,
    /// The answer as sent.
    pub answer: String,
    /// Whether the sources did not hold the answer.
    pub abstained: bool,
    /// The ids of the documents the answer cites.
    pub cited_documents: Vec<String>,
    /// The question's language, when it could be told.
    pub language: Option<String>,
    /// When it was answered, seconds since the Unix epoch.
    pub asked_at: i64,
    /// The guest's feedback, if any.
    pub feedback: Option<Feedback>,
}

/// Which logged answers to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestionQuery {
    /// `Some(false)`: only abstained answers; `Some(true)`: only answered ones.
    pub answered: Option<bool>,
    /// Only answers given at or after this time, seconds since the Unix epoch.
    pub since: Option<i64>,
    /// Only answers with this rating.
    pub rating: Option<Rating>,
    /// Most records to return.
    pub limit: usize,
}

impl Default for QuestionQuery {
    fn default() -> Self {
        Self {
            answered: None,
            since: None,
            rating: None,
            limit: 100,
        }
    }
}

impl QuestionQuery {
    /// Checks the page size.
    pub fn validate(&self) -> Result<()> {
        if self.limit == 0 || self.limit > MAX_QUESTIONS_PAGE {
            return Err(StoreError::Invalid(format!(
                "limit must be between 1 and {MAX_QUESTIONS_PAGE}, got {}",
                self.limit
            )));
        }
        Ok(())
    }
}

/// The cutoff before which a collection's records have expired at `now`.
pub(crate) fn expiry_cutoff(now: i64, retention_days: u32) -> i64 {
    now - i64::from(retention_days) * 86_400
}
