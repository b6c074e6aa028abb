//! Filters as PostgreSQL conditions over `bellhop_documents d`, on its `jsonb` metadata.
//!
//! Equality, `in` and `all` are containment tests (`d.metadata @> '{"key": value}'`, or
//! `'{"key": [value]}'` for list-valued metadata), which the `jsonb_path_ops` GIN index
//! serves; jsonb compares within a type, so `true` never matches `1`. Ranges look at the
//! number or the numbers of a list. Values are bound as parameters, never spliced into SQL.

use serde_json::{Value, json};

use crate::filter::{Filter, FilterOp};

/// A parameter of a query.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Text(String),
    Json(Value),
    Float(f64),
}

/// SQL text with numbered placeholders and their parameters.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Query {
    /// Adds a parameter and returns its placeholder.
    pub fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }
}

/// Appends the filter's condition (`TRUE` when empty) to `query.sql`.
pub(crate) fn push_condition(query: &mut Query, filter: &Filter) {
    if filter.is_empty() {
        query.sql.push_str("TRUE");
        return;
    }
    let mut parts = Vec::new();
    for condition in &filter.conditions {
        let column = match condition.key.as_str() {
            "document_id" => Some("d.external_id"),
            "source" => Some("d.source"),
            _ => None,
        };
        let key = condition.key.as_str();
        let part = match (&condition.op, column) {
            (FilterOp::Eq(value), Some(column)) => equals_column(query, column, value),
            (FilterOp::Ne(value), Some(column)) => {
                format!("NOT ({})", equals_column(query, column, value))
            }
            (FilterOp::In(values), Some(column)) => any_of(
                values
                    .iter()
                    .map(|value| equals_column(query, column, value))
                    .collect(),
            ),
            (FilterOp::NotIn(values), Some(column)) => format!(
                "NOT {}",
                any_of(
                    values
                        .iter()
                        .map(|value| equals_column(query, column, value))
                        .collect()
                )
            ),
            // A document field holds one value: it equals all of these only if they agree.
            (FilterOp::All(values), Some(column)) => values
                .iter()
                .map(|value| equals_column(query, column, value))
                .collect::<Vec<_>>()
                .join(" AND "),
            (FilterOp::Range { .. }, Some(_)) => "FALSE".to_string(),
            (FilterOp::Eq(value), None) => contains(query, key, value),
            (FilterOp::Ne(value), None) => format!("NOT {}", contains(query, key, value)),
            (FilterOp::In(values), None) => any_of(
                values
                    .iter()
                    .map(|value| contains(query, key, value))
                    .collect(),
            ),
            (FilterOp::NotIn(values), None) => format!(
                "NOT {}",
                any_of(
                    values
                        .iter()
                        .map(|value| contains(query, key, value))
                        .collect()
                )
            ),
            (FilterOp::All(values), None) => values
                .iter()
                .map(|value| contains(query, key, value))
                .collect::<Vec<_>>()
                .join(" AND "),
            (FilterOp::Range { gt, gte, lt, lte }, None) => {
                let key = query.bind(Param::Text(key.to_string()));
                // CASE, not AND: PostgreSQL may evaluate AND's operands in any order, and
                // the cast fails on a string.
                let number = "CASE WHEN jsonb_typeof(m.value) = 'number' THEN (m.value #>> '{}')::float8 END";
                let mut bounds = vec!["jsonb_typeof(m.value) = 'number'".to_string()];
                for (operator, bound) in [(">", gt), (">=", gte), ("<", lt), ("<=", lte)] {
                    if let Some(bound) = bound {
                        let placeholder = query.bind(Param::Float(*bound));
                        bounds.push(format!("{number} {operator} {placeholder}"));
                    }
                }
                format!(
                    "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof(d.metadata -> {key}) \
                     WHEN 'array' THEN d.metadata -> {key} ELSE jsonb_build_array(d.metadata -> {key}) END) AS m(value) \
                     WHERE {})",
                    bounds.join(" AND ")
                )
            }
        };
        parts.push(format!("({part})"));
    }
    query.sql.push_str(&parts.join(" AND "));
}

fn any_of(parts: Vec<String>) -> String {
    format!("({})", parts.join(" OR "))
}

/// A document column equals a value; a column holds text, so only a string can match.
fn equals_column(query: &mut Query, column: &str, value: &Value) -> String {
    match value {
        Value::String(text) => {
            let placeholder = query.bind(Param::Text(text.clone()));
            format!("{column} = {placeholder}")
        }
        _ => "FALSE".to_string(),
    }
}

/// The metadata key holds `value`, as a scalar or in a list.
fn contains(query: &mut Query, key: &str, value: &Value) -> String {
    let scalar = query.bind(Param::Json(json!({ key: value })));
    let list = query.bind(Param::Json(json!({ key: [value] })));
    format!("(d.metadata @> {scalar} OR d.metadata @> {list})")
}
