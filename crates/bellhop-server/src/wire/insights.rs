//! What staff learn from the question log: questions per day, and the questions the sources
//! did not answer or guests voted down, grouped by meaning.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The parameters of `GET /v1/collections/{name}/insights`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InsightsParams {
    /// Days to look back, today (UTC) included (default 7).
    #[param(minimum = 1, maximum = 3650)]
    pub days: Option<u32>,
}

/// Questions per day and the questions that went wrong, grouped by meaning.
#[derive(Debug, Serialize, ToSchema)]
pub struct InsightsResponse {
    /// Days looked back, today (UTC) included.
    pub days: u32,
    /// Days the collection keeps its log: nothing older than that is left to count.
    pub retention_days: u32,
    /// Questions asked in those days (of the newest 1000 at most).
    pub questions: usize,
    /// Whether there were more questions than the 1000 counted, so that the oldest days
    /// are undercounted.
    pub truncated: bool,
    /// The share of questions the sources did not answer, from 0 to 1 (0 without questions).
    pub abstained_share: f64,
    /// The share of questions whose answer a guest voted down, from 0 to 1.
    pub down_voted_share: f64,
    /// Every day of the period, oldest first, days without questions included.
    pub per_day: Vec<DayCount>,
    /// Groups of abstained or down-voted questions that mean the same, most asked first.
    pub groups: Vec<QuestionGroup>,
    /// The cosine similarity at which a question joins a group.
    pub similarity_threshold: f32,
}

/// One day's questions.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayCount {
    /// The day (UTC), as `YYYY-MM-DD`.
    pub day: String,
    /// Questions asked.
    pub questions: usize,
    /// Of those, the ones the sources did not answer.
    pub abstained: usize,
    /// Of those, the ones whose answer a guest voted down.
    pub down_voted: usize,
}

/// Abstained or down-voted questions that mean the same.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionGroup {
    /// The group's most asked question, as a guest wrote it.
    pub question: String,
    /// How often the group's questions were asked.
    pub count: usize,
    /// Of those, how many the sources did not answer.
    pub abstained: usize,
    /// Of those, how many answers a guest voted down.
    pub down_voted: usize,
    /// Different wordings in the group, most asked first (the representative first; five
    /// at most).
    pub examples: Vec<String>,
    /// When a question of the group was last asked, seconds since the Unix epoch.
    pub last_asked_at: i64,
}
