//! Building statements: SQL text with bound parameters, names of per-collection indexes,
//! and vectors in pgvector's text form.

use sqlx_core::sql_str::{AssertSqlSafe, SqlSafeStr, SqlStr};
use sqlx_core::types::Json;
use sqlx_postgres::Postgres;

use super::sql_filter::Param;

pub(super) fn sql(text: String) -> SqlStr {
    AssertSqlSafe(text).into_sql_str()
}

pub(super) type PgQuery = sqlx_core::query::Query<'static, Postgres, sqlx_postgres::PgArguments>;

pub(super) fn bind_all(mut query: PgQuery, params: &[Param]) -> PgQuery {
    for param in params {
        query = match param {
            Param::Text(text) => query.bind(text.clone()),
            Param::Json(value) => query.bind(Json(value.clone())),
            Param::Float(number) => query.bind(*number),
        };
    }
    query
}

pub(super) fn query(text: String) -> PgQuery {
    sqlx_core::query::query(sql(text))
}

/// The name of a collection's HNSW index.
pub(super) fn hnsw_index(collection_id: i64) -> String {
    format!("bellhop_chunks_hnsw_{collection_id}")
}

/// The vector column as the collection's dimension, the expression its index covers.
pub(super) fn embedding(dim: usize) -> String {
    format!("c.embedding::vector({dim})")
}

/// pgvector's text form of a vector; Rust prints the shortest text that reads back as the
/// same `f32`, so the stored vector is bit-for-bit the one given.
pub(super) fn vector_text(vector: &[f32]) -> String {
    let mut text = String::with_capacity(vector.len() * 12 + 2);
    text.push('[');
    for (index, x) in vector.iter().enumerate() {
        if index > 0 {
            text.push(',');
        }
        text.push_str(&x.to_string());
    }
    text.push(']');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_print_as_pgvector_reads_them() {
        assert_eq!(vector_text(&[1.0, -0.5, 0.1]), "[1,-0.5,0.1]");
        let x = 0.1f32 + 1e-9;
        let text = vector_text(&[x]);
        let back: f32 = text[1..text.len() - 1].parse().unwrap();
        assert_eq!(back.to_bits(), x.to_bits());
    }
}
