//! Insights from the question log: questions per day, and the questions the sources did not
//! answer or guests voted down, grouped by meaning with the collection's embedding model, so that
//! staff see what to add to the documents first.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use bellhop_answer::cosine;
use bellhop_store::{AnswerRecord, MAX_QUESTIONS_PAGE, QuestionQuery, Rating};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::question_log::now;
use crate::state::AppState;
use crate::wire::ErrorBody;
use crate::wire::collections::CollectionPath;
use crate::wire::errors::ApiErrors;
use crate::wire::insights::{DayCount, InsightsParams, InsightsResponse, QuestionGroup};

const SECONDS_PER_DAY: i64 = 86_400;

/// Days looked back when the request names none.
const DEFAULT_DAYS: u32 = 7;

/// The longest period, the longest retention a collection may have.
const MAX_DAYS: u32 = bellhop_store::MAX_QUESTION_RETENTION_DAYS;

/// Cosine similarity at which two questions are taken to ask the same; with
/// all-MiniLM-L6-v2, rewordings of one question score above it and different questions
/// on one topic ("pool hours" and "pool temperature") mostly below.
const SIMILARITY_THRESHOLD: f32 = 0.75;

/// The most distinct wordings embedded: the most asked ones, so that a flood of one-off
/// questions cannot make the endpoint slow.
const MAX_GROUPED_WORDINGS: usize = 200;

/// Texts per embedding request, well inside the embedding queue.
const EMBED_BATCH: usize = 32;

/// The most groups returned.
const MAX_GROUPS: usize = 50;

/// The most example wordings per group.
const MAX_EXAMPLES: usize = 5;

/// Questions per day over the last `days` days, the shares abstained and voted down, and the
/// abstained or voted-down questions grouped by meaning (admin keys only).
#[utoipa::path(get, path = "/v1/collections/{name}/insights", operation_id = "question_insights", tag = "collections", params(CollectionPath, InsightsParams),
    responses((status = 200, body = InsightsResponse), ApiErrors,
        (status = 400, description = "`days` out of range", body = ErrorBody),
        (status = 403, description = "The key is not an admin's", body = ErrorBody),
        (status = 404, description = "No such collection", body = ErrorBody)))]
pub async fn insights(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(CollectionPath { name }): ApiPath<CollectionPath>,
    ApiQuery(params): ApiQuery<InsightsParams>,
) -> Result<Json<InsightsResponse>, ApiError> {
    caller.require_admin()?;
    let days = params.days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::invalid(format!(
            "days must be between 1 and {MAX_DAYS}, got {days}"
        )));
    }
    let store = state.engine.store();
    let spec = store.collection(&name).await?.spec;
    let retention_days = spec.retention_days();
    let today = now().div_euclid(SECONDS_PER_DAY);
    let first_day = today - i64::from(days) + 1;
    let query = QuestionQuery {
        since: Some(first_day * SECONDS_PER_DAY),
        limit: MAX_QUESTIONS_PAGE,
        ..QuestionQuery::default()
    };
    let records = store.questions(&name, &query).await?;
    let truncated = records.len() == MAX_QUESTIONS_PAGE;
    // A clock set back could have logged questions "tomorrow": they belong to no day shown.
    let records: Vec<AnswerRecord> = records
        .into_iter()
        .filter(|record| record.asked_at.div_euclid(SECONDS_PER_DAY) <= today)
        .collect();

    let per_day = count_per_day(&records, first_day, today);
    let total = records.len();
    let abstained: usize = per_day.iter().map(|day| day.abstained).sum();
    let down_voted: usize = per_day.iter().map(|day| day.down_voted).sum();
    let share = |part: usize| {
        if total == 0 {
            0.0
        } else {
            part as f64 / total as f64
        }
    };

    let wordings = troubled_wordings(&records);
    // Questions are grouped by meaning as the collection's own model reads them.
    let queue = state.engine.models().queue(&spec.model).await?;
    let mut vectors = Vec::with_capacity(wordings.len());
    for batch in wordings.chunks(EMBED_BATCH) {
        let texts: Vec<&str> = batch.iter().map(|wording| wording.text.as_str()).collect();
        vectors.extend(queue.embed_many(&texts).await?);
    }
    let mut groups: Vec<QuestionGroup> = group_by_meaning(&vectors, SIMILARITY_THRESHOLD)
        .into_iter()
        .map(|members| {
            let members: Vec<&Wording> = members.iter().map(|&at| &wordings[at]).collect();
            QuestionGroup {
                question: members[0].text.clone(),
                count: members.iter().map(|wording| wording.count).sum(),
                abstained: members.iter().map(|wording| wording.abstained).sum(),
                down_voted: members.iter().map(|wording| wording.down_voted).sum(),
                examples: members
                    .iter()
                    .take(MAX_EXAMPLES)
                    .map(|wording| wording.text.clone())
                    .collect(),
                last_asked_at: members
                    .iter()
                    .map(|wording| wording.last_asked_at)
                    .max()
                    .unwrap_or_default(),
            }
        })
        .collect();
    // Stable: groups asked equally often keep the order of their most asked wording.
    groups.sort_by_key(|group| std::cmp::Reverse(group.count));
    groups.truncate(MAX_GROUPS);

    Ok(Json(InsightsResponse {
        days,
        retention_days,
        questions: total,
        truncated,
        abstained_share: share(abstained),
        down_voted_share: share(down_voted),
        per_day,
        groups,
        similarity_threshold: SIMILARITY_THRESHOLD,
    }))
}

fn is_down_voted(record: &AnswerRecord) -> bool {
    record
        .feedback
        .as_ref()
        .is_some_and(|feedback| feedback.rating == Rating::Down)
}

/// Every day from `first_day` to `last_day` (days since the epoch), with its counts; records
/// outside those days are left out.
fn count_per_day(records: &[AnswerRecord], first_day: i64, last_day: i64) -> Vec<DayCount> {
    let mut per_day: Vec<DayCount> = (first_day..=last_day)
        .map(|day| DayCount {
            day: iso_date(day),
            questions: 0,
            abstained: 0,
            down_voted: 0,
        })
        .collect();
    for record in records {
        let day = record.asked_at.div_euclid(SECONDS_PER_DAY);
        let Some(count) = usize::try_from(day - first_day)
            .ok()
            .and_then(|at| per_day.get_mut(at))
        else {
            continue;
        };
        count.questions += 1;
        count.abstained += usize::from(record.abstained);
        count.down_voted += usize::from(is_down_voted(record));
    }
    per_day
}

/// A day since the Unix epoch as `YYYY-MM-DD`, in UTC.
fn iso_date(days_since_epoch: i64) -> String {
    jiff::Timestamp::from_second(days_since_epoch * SECONDS_PER_DAY)
        .map(|moment| moment.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        // Days the question log can hold are well inside jiff's range (years −9999 to 9999).
        .unwrap_or_default()
}

/// One way a troubled question was worded, with how it fared.
#[derive(Debug)]
struct Wording {
    /// Its most frequent spelling (spacing collapsed), the one shown.
    text: String,
    count: usize,
    abstained: usize,
    down_voted: usize,
    last_asked_at: i64,
    /// Each spelling (case kept) with how often it was asked.
    spellings: HashMap<String, usize>,
}

/// The abstained or down-voted questions, one per wording (case and spacing aside), most
/// asked first, then most recent; ties in both (questions asked in the same second) go by
/// text, so that the order does not depend on the log's.
fn troubled_wordings(records: &[AnswerRecord]) -> Vec<Wording> {
    let mut by_key: HashMap<String, Wording> = HashMap::new();
    for record in records {
        let down_voted = is_down_voted(record);
        if !record.abstained && !down_voted {
            continue;
        }
        let spelling = record
            .question
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let wording = by_key
            .entry(spelling.to_lowercase())
            .or_insert_with(|| Wording {
                text: String::new(),
                count: 0,
                abstained: 0,
                down_voted: 0,
                last_asked_at: record.asked_at,
                spellings: HashMap::new(),
            });
        wording.count += 1;
        wording.abstained += usize::from(record.abstained);
        wording.down_voted += usize::from(down_voted);
        wording.last_asked_at = wording.last_asked_at.max(record.asked_at);
        *wording.spellings.entry(spelling).or_default() += 1;
    }
    let mut wordings: Vec<Wording> = by_key
        .into_values()
        .map(|mut wording| {
            // The most asked spelling; of equally asked ones, the first in text order.
            wording.text = wording
                .spellings
                .iter()
                .max_by(|(a, a_count), (b, b_count)| a_count.cmp(b_count).then_with(|| b.cmp(a)))
                .map(|(spelling, _)| spelling.clone())
                .unwrap_or_default();
            wording
        })
        .collect();
    wordings.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.last_asked_at.cmp(&a.last_asked_at))
            .then_with(|| a.text.cmp(&b.text))
    });
    wordings.truncate(MAX_GROUPED_WORDINGS);
    wordings
}

/// Groups items by meaning, greedily: in the given order (most frequent first), each item
/// joins the first group whose first item's vector is at least `threshold` cosine-similar
/// to its own, or starts a group. Returns each group's indices, its first item first.
///
/// Comparing with the first item only keeps a group about its representative: a chain of
/// small steps cannot drift from "pool hours" to "parking fees".
pub fn group_by_meaning(vectors: &[Vec<f32>], threshold: f32) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (at, vector) in vectors.iter().enumerate() {
        let joined = groups
            .iter_mut()
            .find(|group| cosine(&vectors[group[0]], vector) >= threshold);
        match joined {
            Some(group) => group.push(at),
            None => groups.push(vec![at]),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use bellhop_store::Feedback;

    fn record(
        question: &str,
        asked_at: i64,
        abstained: bool,
        rating: Option<Rating>,
    ) -> AnswerRecord {
        AnswerRecord {
            id: format!("{question}-{asked_at}"),
            question: question.into(),
            answer: String::new(),
            abstained,
            cited_documents: Vec::new(),
            language: None,
            asked_at,
            feedback: rating.map(|rating| Feedback {
                rating,
                comment: None,
                rated_at: asked_at,
            }),
        }
    }

    #[test]
    fn similar_items_join_the_group_of_the_first_like_them() {
        let vectors = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.9, 0.1, 0.0],
            vec![0.0, 0.0, 1.0],
            vec![0.1, 0.95, 0.0],
        ];
        assert_eq!(
            group_by_meaning(&vectors, 0.75),
            vec![vec![0, 2], vec![1, 4], vec![3]]
        );
    }

    #[test]
    fn a_group_is_compared_with_its_first_item_only() {
        // 1 is close to 0, 2 is close to 1 but not to 0: no chaining.
        let vectors = vec![vec![1.0, 0.0], vec![0.8, 0.6], vec![0.28, 0.96]];
        assert_eq!(group_by_meaning(&vectors, 0.75), vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn the_threshold_is_inclusive_and_zero_vectors_stand_alone() {
        let vectors = vec![vec![1.0, 0.0], vec![1.0, 0.0], vec![0.0, 0.0]];
        assert_eq!(group_by_meaning(&vectors, 1.0), vec![vec![0, 1], vec![2]]);
        assert!(group_by_meaning(&[], 0.75).is_empty());
    }

    #[test]
    fn wordings_count_case_and_spacing_as_one_and_skip_good_answers() {
        let records = vec![
            record("Is there a casino?", 30, true, None),
            record("  is there a   CASINO? ", 20, true, Some(Rating::Down)),
            record("Is there a  casino?", 15, true, None),
            record("When is breakfast?", 25, false, None),
            record("Is the bar open late?", 10, false, Some(Rating::Down)),
            record("Is the bar open late?", 5, false, Some(Rating::Up)),
        ];
        let wordings = troubled_wordings(&records);
        assert_eq!(wordings.len(), 2, "{wordings:?}");
        assert_eq!(wordings[0].text, "Is there a casino?");
        assert_eq!(
            (
                wordings[0].count,
                wordings[0].abstained,
                wordings[0].down_voted
            ),
            (3, 3, 1)
        );
        assert_eq!(wordings[0].last_asked_at, 30);
        assert_eq!(wordings[1].text, "Is the bar open late?");
        assert_eq!((wordings[1].count, wordings[1].down_voted), (1, 1));
    }

    #[test]
    fn equally_asked_wordings_and_spellings_go_by_text() {
        let records = vec![
            record("is there a casino?", 10, true, None),
            record("Is there a casino?", 10, true, None),
            record("Can I rent a kayak?", 10, true, None),
            record("Can I rent a kayak?", 10, true, None),
        ];
        let mut reversed = records.clone();
        reversed.reverse();
        for records in [records, reversed] {
            let texts: Vec<String> = troubled_wordings(&records)
                .into_iter()
                .map(|wording| wording.text)
                .collect();
            assert_eq!(texts, ["Can I rent a kayak?", "Is there a casino?"]);
        }
    }

    #[test]
    fn days_are_counted_in_utc_with_empty_days_kept() {
        let day = 20_000;
        let records = vec![
            record("a", day * SECONDS_PER_DAY + 5, true, None),
            record(
                "b",
                day * SECONDS_PER_DAY + 86_399,
                false,
                Some(Rating::Down),
            ),
            record("c", (day + 2) * SECONDS_PER_DAY, false, None),
        ];
        let counts = count_per_day(&records, day, day + 2);
        let summary: Vec<(usize, usize, usize)> = counts
            .iter()
            .map(|count| (count.questions, count.abstained, count.down_voted))
            .collect();
        assert_eq!(summary, vec![(2, 1, 1), (0, 0, 0), (1, 0, 0)]);
        assert_eq!(counts[0].day, "2024-10-04");
    }

    #[test]
    fn dates_are_iso_calendar_days() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(-1), "1969-12-31");
        assert_eq!(iso_date(11_016), "2000-02-29");
        assert_eq!(iso_date(19_782), "2024-02-29");
    }
}
