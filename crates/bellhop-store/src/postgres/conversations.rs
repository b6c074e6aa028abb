//! The question log: answers logged, feedback recorded, listings, and expiry.

use sqlx_core::row::Row;
use sqlx_core::types::Json;
use sqlx_postgres::PgRow;

use super::PostgresStore;
use super::sql::query;
use crate::conversations::{
    AnswerRecord, DEFAULT_QUESTION_RETENTION_DAYS, Feedback, NewAnswerRecord, QuestionQuery, Rating,
};
use crate::error::{Result, StoreError};

const ANSWER_COLUMNS: &str = "id, question, answer, abstained, cited_documents, language, asked_at, rating, comment, rated_at";

pub(super) async fn record_answer(
    store: &PostgresStore,
    collection: &str,
    record: NewAnswerRecord,
) -> Result<()> {
    record.validate()?;
    let collection_id = store.collection_row(collection).await?.id;
    query(
        "INSERT INTO bellhop_answers (id, collection_id, question, answer, abstained, cited_documents, language, asked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            .to_string(),
    )
    .bind(record.id)
    .bind(collection_id)
    .bind(record.question)
    .bind(record.answer)
    .bind(record.abstained)
    .bind(Json(record.cited_documents))
    .bind(record.language)
    .bind(record.asked_at)
    .execute(&store.pool)
    .await?;
    Ok(())
}

pub(super) async fn record_feedback(
    store: &PostgresStore,
    collection: &str,
    answer_id: &str,
    feedback: Feedback,
) -> Result<()> {
    feedback.validate()?;
    let collection_id = store.collection_row(collection).await?.id;
    let updated = query(
        "UPDATE bellhop_answers SET rating = $1, comment = $2, rated_at = $3
         WHERE collection_id = $4 AND id = $5"
            .to_string(),
    )
    .bind(feedback.rating.as_str())
    .bind(feedback.comment)
    .bind(feedback.rated_at)
    .bind(collection_id)
    .bind(answer_id.to_string())
    .execute(&store.pool)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(StoreError::AnswerNotFound {
            collection: collection.to_string(),
            answer: answer_id.to_string(),
        });
    }
    Ok(())
}

pub(super) async fn questions(
    store: &PostgresStore,
    collection: &str,
    filter: &QuestionQuery,
) -> Result<Vec<AnswerRecord>> {
    filter.validate()?;
    let collection_id = store.collection_row(collection).await?.id;
    let rows = query(format!(
        "SELECT {ANSWER_COLUMNS} FROM bellhop_answers
         WHERE collection_id = $1
           AND ($2::boolean IS NULL OR abstained = $2)
           AND ($3::bigint IS NULL OR asked_at >= $3)
           AND ($4::text IS NULL OR rating = $4)
         ORDER BY asked_at DESC, id
         LIMIT $5"
    ))
    .bind(collection_id)
    .bind(filter.answered.map(|answered| !answered))
    .bind(filter.since)
    .bind(filter.rating.map(Rating::as_str))
    .bind(filter.limit as i64)
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|row| answer_record(row, collection))
        .collect()
}

pub(super) async fn delete_expired_answers(store: &PostgresStore, now: i64) -> Result<u64> {
    // Each collection's retention is read from its spec in the same statement, so replicas
    // sweeping at once delete the same rows.
    let deleted = query(
        "DELETE FROM bellhop_answers a USING bellhop_collections c
         WHERE a.collection_id = c.id
           AND a.asked_at < $1 - COALESCE((c.spec->>'question_retention_days')::bigint, $2) * 86400"
            .to_string(),
    )
    .bind(now)
    .bind(i64::from(DEFAULT_QUESTION_RETENTION_DAYS))
    .execute(&store.pool)
    .await?
    .rows_affected();
    Ok(deleted)
}

fn answer_record(row: &PgRow, collection: &str) -> Result<AnswerRecord> {
    let id: String = row.try_get("id")?;
    let describe = || format!("answer {id:?}");
    let Json(cited): Json<serde_json::Value> = row.try_get("cited_documents")?;
    let cited_documents: Vec<String> = serde_json::from_value(cited)
        .map_err(|err| StoreError::corrupt(collection, describe(), "cited_documents", err))?;
    let asked_at: i64 = row.try_get("asked_at")?;
    let rating: Option<String> = row.try_get("rating")?;
    let feedback = match rating {
        None => None,
        Some(rating) => Some(Feedback {
            rating: Rating::parse(&rating).ok_or_else(|| {
                StoreError::corrupt(collection, describe(), "rating", format!("{rating:?}"))
            })?,
            comment: row.try_get("comment")?,
            rated_at: row
                .try_get::<Option<i64>, _>("rated_at")?
                .unwrap_or(asked_at),
        }),
    };
    Ok(AnswerRecord {
        question: row.try_get("question")?,
        answer: row.try_get("answer")?,
        abstained: row.try_get("abstained")?,
        cited_documents,
        language: row.try_get("language")?,
        asked_at,
        feedback,
        id,
    })
}
