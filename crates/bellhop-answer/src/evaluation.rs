//! Answer quality on a question set: right answers where the sources hold them, abstentions
//! where they do not.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::answerability::Answerability;
use crate::ask::AskOutcome;

/// One question of an answer evaluation set (a line of its JSON Lines file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalQuestion {
    /// Unique within the set.
    pub id: String,
    /// As a guest would type it.
    pub question: String,
    /// Its language (ISO 639-1).
    pub lang: String,
    /// Whether the knowledge base holds the answer.
    pub answerable: bool,
    /// For an answerable question: a right answer contains one of these (case-insensitive).
    #[serde(default)]
    pub expect_any: Vec<String>,
}

impl EvalQuestion {
    /// Checks what a set's author can get wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.question.trim().is_empty() {
            return Err(format!("{}: the question is empty", self.id));
        }
        if self.answerable && self.expect_any.iter().all(|text| text.trim().is_empty()) {
            return Err(format!(
                "{}: an answerable question needs expect_any",
                self.id
            ));
        }
        Ok(())
    }
}

/// How one question was answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionResult {
    /// The question's id.
    pub id: String,
    /// Its language.
    pub lang: String,
    /// Whether it was answerable.
    pub answerable: bool,
    /// Whether the answer abstained.
    pub abstained: bool,
    /// Whether the outcome is the right one: the fact for an answerable question, an
    /// abstention for an unanswerable one.
    pub right: bool,
    /// Whether a model's answer was replaced by a fallback.
    pub degraded: bool,
    /// Milliseconds from the question to the whole answer.
    pub latency_ms: f64,
    /// The answer's text.
    pub answer: String,
    /// Why it answered or abstained.
    pub answerability: Answerability,
}

/// Scores `outcome` as the answer to `question`, which took `latency_ms`.
pub fn score(question: &EvalQuestion, outcome: &AskOutcome, latency_ms: f64) -> QuestionResult {
    let answer = &outcome.answer;
    let text = answer.answer.to_lowercase();
    let right = if question.answerable {
        !answer.abstained
            && question
                .expect_any
                .iter()
                .any(|expected| text.contains(&expected.to_lowercase()))
    } else {
        answer.abstained
    };
    QuestionResult {
        id: question.id.clone(),
        lang: question.lang.clone(),
        answerable: question.answerable,
        abstained: answer.abstained,
        right,
        degraded: answer.degraded,
        latency_ms,
        answer: answer.answer.clone(),
        answerability: outcome.answerability.clone(),
    }
}

/// Counts of one group of questions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupReport {
    /// Answerable questions.
    pub answerable: usize,
    /// Answerable questions answered right.
    pub answered_right: usize,
    /// Answerable questions that abstained.
    pub wrong_abstentions: usize,
    /// Unanswerable questions.
    pub unanswerable: usize,
    /// Unanswerable questions that abstained.
    pub abstained_right: usize,
    /// Median milliseconds per answer.
    pub latency_p50_ms: f64,
    /// 95th percentile milliseconds per answer.
    pub latency_p95_ms: f64,
    /// Median milliseconds of the abstentions alone.
    pub abstention_p50_ms: Option<f64>,
}

/// The report of a run: per language group (`en`, `other`, and each other language).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Every question.
    pub all: GroupReport,
    /// By language group.
    pub groups: BTreeMap<String, GroupReport>,
    /// Each question's result.
    pub questions: Vec<QuestionResult>,
}

/// The `q` quantile (0–1) of sorted values, by nearest rank.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn group(results: &[&QuestionResult]) -> GroupReport {
    let mut latencies: Vec<f64> = results.iter().map(|result| result.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let mut abstentions: Vec<f64> = results
        .iter()
        .filter(|result| result.abstained)
        .map(|result| result.latency_ms)
        .collect();
    abstentions.sort_by(f64::total_cmp);
    GroupReport {
        answerable: results.iter().filter(|result| result.answerable).count(),
        answered_right: results
            .iter()
            .filter(|result| result.answerable && result.right)
            .count(),
        wrong_abstentions: results
            .iter()
            .filter(|result| result.answerable && result.abstained)
            .count(),
        unanswerable: results.iter().filter(|result| !result.answerable).count(),
        abstained_right: results
            .iter()
            .filter(|result| !result.answerable && result.abstained)
            .count(),
        latency_p50_ms: quantile(&latencies, 0.5),
        latency_p95_ms: quantile(&latencies, 0.95),
        abstention_p50_ms: (!abstentions.is_empty()).then(|| quantile(&abstentions, 0.5)),
    }
}

/// Sums up per-question results.
pub fn report(questions: Vec<QuestionResult>) -> EvalReport {
    let all: Vec<&QuestionResult> = questions.iter().collect();
    let mut groups = BTreeMap::new();
    let english: Vec<&QuestionResult> = all.iter().copied().filter(|r| r.lang == "en").collect();
    let other: Vec<&QuestionResult> = all.iter().copied().filter(|r| r.lang != "en").collect();
    if !english.is_empty() {
        groups.insert("en".to_string(), group(&english));
    }
    if !other.is_empty() {
        groups.insert("other".to_string(), group(&other));
        let mut languages: Vec<&str> = other.iter().map(|r| r.lang.as_str()).collect();
        languages.sort_unstable();
        languages.dedup();
        for language in languages {
            let of_language: Vec<&QuestionResult> = other
                .iter()
                .copied()
                .filter(|r| r.lang == language)
                .collect();
            groups.insert(language.to_string(), group(&of_language));
        }
    }
    EvalReport {
        all: group(&all),
        groups,
        questions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(
        lang: &str,
        answerable: bool,
        abstained: bool,
        right: bool,
        ms: f64,
    ) -> QuestionResult {
        QuestionResult {
            id: format!("{lang}-{ms}"),
            lang: lang.into(),
            answerable,
            abstained,
            right,
            degraded: false,
            latency_ms: ms,
            answer: String::new(),
            answerability: Answerability {
                answerable: !abstained,
                dense_score: None,
                term_coverage: 1.0,
                key_terms: Vec::new(),
                missing_terms: Vec::new(),
                unknown_terms: Vec::new(),
                meaning_kept: None,
                asked_fact: None,
                unoffered_variant: None,
                question_language: None,
                reason: String::new(),
            },
        }
    }

    #[test]
    fn groups_count_right_answers_and_abstentions() {
        let report = report(vec![
            result("en", true, false, true, 10.0),
            result("en", true, true, false, 2.0),
            result("en", false, true, true, 3.0),
            result("de", true, false, false, 20.0),
            result("de", false, false, false, 30.0),
        ]);
        let english = &report.groups["en"];
        assert_eq!(
            (
                english.answerable,
                english.answered_right,
                english.wrong_abstentions
            ),
            (2, 1, 1)
        );
        assert_eq!((english.unanswerable, english.abstained_right), (1, 1));
        assert_eq!(english.latency_p50_ms, 3.0);
        assert_eq!(english.abstention_p50_ms, Some(2.0));
        assert_eq!(report.groups["other"].answerable, 1);
        assert_eq!(report.groups["de"].unanswerable, 1);
        assert_eq!(report.all.latency_p95_ms, 30.0);
    }

    #[test]
    fn questions_parse_and_validate() {
        let question: EvalQuestion = serde_json::from_str(
            r#"{"id": "pool", "question": "is the pool heated", "lang": "en", "answerable": true, "expect_any": ["28"]}"#,
        )
        .unwrap();
        assert!(question.validate().is_ok());
        let without = EvalQuestion {
            expect_any: Vec::new(),
            ..question
        };
        assert!(without.validate().is_err());
    }
}
