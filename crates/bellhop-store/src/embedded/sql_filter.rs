//! Filters as SQLite conditions over `documents d` (JSON metadata via `json_each`).
//!
//! `json_each` over a scalar yields the scalar itself, so one expression serves scalar and
//! list-valued metadata. Keys and values are bound as parameters, never spliced into SQL.

use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use crate::filter::{Filter, FilterOp};

/// A SQL condition and its parameters, in order.
pub(crate) struct SqlCondition {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

pub(crate) fn to_sql(filter: &Filter) -> SqlCondition {
    let mut parts = Vec::new();
    let mut params = Vec::new();
    for condition in &filter.conditions {
        let column = match condition.key.as_str() {
            "document_id" => Some("d.external_id"),
            "source" => Some("d.source"),
            _ => None,
        };
        let elements = || "SELECT 1 FROM json_each(d.metadata, ?) AS m WHERE ".to_string();
        let path = SqlValue::Text(format!("$.\"{}\"", condition.key));
        let part = match (&condition.op, column) {
            (FilterOp::Eq(value), Some(column)) => {
                params.push(sql_value(value));
                format!("{column} = ?")
            }
            (FilterOp::Ne(value), Some(column)) => {
                params.push(sql_value(value));
                format!("{column} <> ?")
            }
            (FilterOp::In(values), Some(column)) => {
                params.extend(values.iter().map(sql_value));
                format!("{column} IN ({})", placeholders(values.len()))
            }
            // A document field holds one value: it equals all of these only if they agree.
            (FilterOp::All(values), Some(column)) => {
                params.extend(values.iter().map(sql_value));
                vec![format!("{column} = ?"); values.len()].join(" AND ")
            }
            (FilterOp::NotIn(values), Some(column)) => {
                params.extend(values.iter().map(sql_value));
                format!("{column} NOT IN ({})", placeholders(values.len()))
            }
            (FilterOp::Range { .. }, Some(_)) => "0".to_string(),
            (FilterOp::Eq(value), None) => {
                params.push(path);
                format!(
                    "EXISTS ({}{})",
                    elements(),
                    matches_any(std::slice::from_ref(value), &mut params)
                )
            }
            (FilterOp::Ne(value), None) => {
                params.push(path);
                format!(
                    "NOT EXISTS ({}{})",
                    elements(),
                    matches_any(std::slice::from_ref(value), &mut params)
                )
            }
            (FilterOp::In(values), None) => {
                params.push(path);
                format!(
                    "EXISTS ({}{})",
                    elements(),
                    matches_any(values, &mut params)
                )
            }
            (FilterOp::NotIn(values), None) => {
                params.push(path);
                format!(
                    "NOT EXISTS ({}{})",
                    elements(),
                    matches_any(values, &mut params)
                )
            }
            (FilterOp::All(values), None) => values
                .iter()
                .map(|value| {
                    params.push(path.clone());
                    format!(
                        "EXISTS ({}{})",
                        elements(),
                        matches_any(std::slice::from_ref(value), &mut params)
                    )
                })
                .collect::<Vec<_>>()
                .join(" AND "),
            (FilterOp::Range { gt, gte, lt, lte }, None) => {
                params.push(path);
                let mut bounds = vec!["m.type IN ('integer', 'real')".to_string()];
                for (operator, bound) in [(">", gt), (">=", gte), ("<", lt), ("<=", lte)] {
                    if let Some(bound) = bound {
                        params.push(SqlValue::Real(*bound));
                        bounds.push(format!("m.value {operator} ?"));
                    }
                }
                format!("EXISTS ({}{})", elements(), bounds.join(" AND "))
            }
        };
        parts.push(format!("({part})"));
    }
    SqlCondition {
        sql: if parts.is_empty() {
            "1".to_string()
        } else {
            parts.join(" AND ")
        },
        params,
    }
}

/// `m` (a `json_each` row) equals one of `values`, comparing within a JSON type: `true`
/// never matches the number 1, nor the string "1" the number 1.
fn matches_any(values: &[Value], params: &mut Vec<SqlValue>) -> String {
    let mut alternatives = Vec::new();
    let strings: Vec<&Value> = values.iter().filter(|v| v.is_string()).collect();
    let numbers: Vec<&Value> = values.iter().filter(|v| v.is_number()).collect();
    if !strings.is_empty() {
        params.extend(strings.iter().map(|v| sql_value(v)));
        alternatives.push(format!(
            "(m.type = 'text' AND m.value IN ({}))",
            placeholders(strings.len())
        ));
    }
    if !numbers.is_empty() {
        params.extend(numbers.iter().map(|v| sql_value(v)));
        alternatives.push(format!(
            "(m.type IN ('integer', 'real') AND m.value IN ({}))",
            placeholders(numbers.len())
        ));
    }
    for flag in values.iter().filter_map(Value::as_bool) {
        alternatives.push(
            if flag {
                "m.type = 'true'"
            } else {
                "m.type = 'false'"
            }
            .to_string(),
        );
    }
    if alternatives.is_empty() {
        "0".to_string()
    } else {
        format!("({})", alternatives.join(" OR "))
    }
}

fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

fn sql_value(value: &Value) -> SqlValue {
    match value {
        Value::Bool(flag) => SqlValue::Integer(i64::from(*flag)),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => SqlValue::Integer(integer),
            None => SqlValue::Real(number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => SqlValue::Text(text.clone()),
        Value::Null | Value::Array(_) | Value::Object(_) => SqlValue::Null,
    }
}
