//! The question log: answers logged, feedback recorded, listings, and expiry.

use std::sync::PoisonError;

use rusqlite::{Row, params};

use super::{Inner, stored_json};
use crate::conversations::{
    AnswerRecord, Feedback, NewAnswerRecord, QuestionQuery, Rating, expiry_cutoff,
};
use crate::error::{Result, StoreError};

const ANSWER_COLUMNS: &str = "id, question, answer, abstained, cited_documents, language, asked_at, rating, comment, rated_at";

impl Inner {
    pub(super) fn record_answer(&self, collection: &str, record: NewAnswerRecord) -> Result<()> {
        record.validate()?;
        let state = self.state(collection)?;
        let cited = serde_json::to_string(&record.cited_documents).expect("ids serialise");
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        writer.execute(
            "INSERT INTO answers (id, collection_id, question, answer, abstained, cited_documents, language, asked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                record.id,
                state.id,
                record.question,
                record.answer,
                record.abstained,
                cited,
                record.language,
                record.asked_at
            ],
        )?;
        Ok(())
    }

    pub(super) fn record_feedback(
        &self,
        collection: &str,
        answer_id: &str,
        feedback: Feedback,
    ) -> Result<()> {
        feedback.validate()?;
        let state = self.state(collection)?;
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let updated = writer.execute(
            "UPDATE answers SET rating = ?1, comment = ?2, rated_at = ?3
             WHERE collection_id = ?4 AND id = ?5",
            params![
                feedback.rating.as_str(),
                feedback.comment,
                feedback.rated_at,
                state.id,
                answer_id
            ],
        )?;
        if updated == 0 {
            return Err(StoreError::AnswerNotFound {
                collection: collection.to_string(),
                answer: answer_id.to_string(),
            });
        }
        Ok(())
    }

    pub(super) fn questions(
        &self,
        collection: &str,
        query: &QuestionQuery,
    ) -> Result<Vec<AnswerRecord>> {
        query.validate()?;
        let state = self.state(collection)?;
        let abstained = query.answered.map(|answered| !answered);
        let rating = query.rating.map(Rating::as_str);
        self.with_reader(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {ANSWER_COLUMNS} FROM answers
                 WHERE collection_id = ?1
                   AND (?2 IS NULL OR abstained = ?2)
                   AND (?3 IS NULL OR asked_at >= ?3)
                   AND (?4 IS NULL OR rating = ?4)
                 ORDER BY asked_at DESC, id
                 LIMIT ?5"
            ))?;
            let rows = statement.query_map(
                params![state.id, abstained, query.since, rating, query.limit as i64],
                answer_fields,
            )?;
            rows.map(|row| {
                let fields = row?;
                fields.into_record(collection)
            })
            .collect()
        })
    }

    pub(super) fn delete_expired_answers(&self, now: i64) -> Result<u64> {
        let states = self.all_states();
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut deleted = 0;
        for state in states {
            deleted += writer.execute(
                "DELETE FROM answers WHERE collection_id = ?1 AND asked_at < ?2",
                params![state.id, expiry_cutoff(now, state.spec().retention_days())],
            )? as u64;
        }
        Ok(deleted)
    }
}

/// A row's columns before its JSON and rating are read.
struct AnswerFields {
    id: String,
    question: String,
    answer: String,
    abstained: bool,
    cited_documents: String,
    language: Option<String>,
    asked_at: i64,
    rating: Option<String>,
    comment: Option<String>,
    rated_at: Option<i64>,
}

fn answer_fields(row: &Row<'_>) -> rusqlite::Result<AnswerFields> {
    Ok(AnswerFields {
        id: row.get(0)?,
        question: row.get(1)?,
        answer: row.get(2)?,
        abstained: row.get(3)?,
        cited_documents: row.get(4)?,
        language: row.get(5)?,
        asked_at: row.get(6)?,
        rating: row.get(7)?,
        comment: row.get(8)?,
        rated_at: row.get(9)?,
    })
}

impl AnswerFields {
    fn into_record(self, collection: &str) -> Result<AnswerRecord> {
        let row = || format!("answer {:?}", self.id);
        let cited_documents: Vec<String> =
            stored_json(&self.cited_documents, collection, row, "cited_documents")?;
        let feedback = match self.rating {
            None => None,
            Some(rating) => Some(Feedback {
                rating: Rating::parse(&rating).ok_or_else(|| {
                    StoreError::corrupt(collection, row(), "rating", format!("{rating:?}"))
                })?,
                comment: self.comment,
                rated_at: self.rated_at.unwrap_or(self.asked_at),
            }),
        };
        Ok(AnswerRecord {
            id: self.id,
            question: self.question,
            answer: self.answer,
            abstained: self.abstained,
            cited_documents,
            language: self.language,
            asked_at: self.asked_at,
            feedback,
        })
    }
}
