//! Metadata filters, backend-neutral. JSON form, one key per condition, all must hold:
//!
//! ```json
//! {"category": "Lunch", "price": {"lte": 20}, "allergens": {"none": ["nuts", "peanuts"]},
//!  "dietary": {"any": ["vegan"]}, "available": true}
//! ```
//!
//! A bare value is equality; an object holds operators: `eq`, `ne`, `in`, `not_in`, `any`,
//! `all`, `none`, `gt`, `gte`, `lt`, `lte`. On list-valued metadata (tags) `eq` and `in`
//! match when any element matches. Keys `document_id` and `source` address the document
//! itself.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, StoreError};

/// A conjunction of conditions on metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct Filter {
    /// All of these must hold.
    pub conditions: Vec<Condition>,
}

/// One condition on one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The metadata key.
    pub key: String,
    /// What must hold for its value.
    pub op: FilterOp,
}

/// A comparison on a metadata value (scalars compare directly; lists match by element).
#[derive(Debug, Clone, PartialEq)]
pub enum FilterOp {
    /// Equals (any element equals, for lists).
    Eq(Value),
    /// Does not equal (no element equals); true when the key is absent.
    Ne(Value),
    /// Equals one of these (any element, for lists).
    In(Vec<Value>),
    /// Equals none of these; true when the key is absent.
    NotIn(Vec<Value>),
    /// Holds every one of these (lists).
    All(Vec<Value>),
    /// A number within bounds.
    Range {
        /// Greater than.
        gt: Option<f64>,
        /// Greater than or equal.
        gte: Option<f64>,
        /// Less than.
        lt: Option<f64>,
        /// Less than or equal.
        lte: Option<f64>,
    },
}

/// Keys that name document fields rather than metadata.
pub const DOCUMENT_KEYS: &[&str] = &["document_id", "source"];

impl Filter {
    /// True when there is nothing to filter.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// Parses the JSON form.
    pub fn from_json(value: &Value) -> Result<Self> {
        Self::try_from(value.clone())
    }
}

impl TryFrom<Value> for Filter {
    type Error = StoreError;

    fn try_from(value: Value) -> Result<Self> {
        let object = match value {
            Value::Null => return Ok(Self::default()),
            Value::Object(object) => object,
            other => {
                return Err(invalid(format!(
                    "expected an object of conditions, got {other}"
                )));
            }
        };
        let mut conditions = Vec::new();
        for (key, spec) in object {
            validate_key(&key)?;
            match spec {
                Value::Object(operators) => {
                    let mut range = (None, None, None, None);
                    let mut has_range = false;
                    for (name, operand) in operators {
                        let op = match name.as_str() {
                            "eq" => FilterOp::Eq(scalar(&key, operand)?),
                            "ne" => FilterOp::Ne(scalar(&key, operand)?),
                            "in" | "any" => FilterOp::In(scalars(&key, &name, operand)?),
                            "not_in" | "none" | "nin" => {
                                FilterOp::NotIn(scalars(&key, &name, operand)?)
                            }
                            "all" => FilterOp::All(scalars(&key, &name, operand)?),
                            "gt" | "gte" | "lt" | "lte" => {
                                let bound = operand.as_f64().ok_or_else(|| {
                                    invalid(format!("{key}.{name} needs a number, got {operand}"))
                                })?;
                                has_range = true;
                                match name.as_str() {
                                    "gt" => range.0 = Some(bound),
                                    "gte" => range.1 = Some(bound),
                                    "lt" => range.2 = Some(bound),
                                    _ => range.3 = Some(bound),
                                }
                                continue;
                            }
                            other => {
                                return Err(invalid(format!(
                                    "unknown operator {other:?} on {key:?} (use eq, ne, in, not_in, any, all, none, gt, gte, lt, lte)"
                                )));
                            }
                        };
                        conditions.push(Condition {
                            key: key.clone(),
                            op,
                        });
                    }
                    if has_range {
                        if DOCUMENT_KEYS.contains(&key.as_str()) {
                            return Err(invalid(format!("{key:?} does not support ranges")));
                        }
                        let (gt, gte, lt, lte) = range;
                        conditions.push(Condition {
                            key: key.clone(),
                            op: FilterOp::Range { gt, gte, lt, lte },
                        });
                    }
                }
                value => conditions.push(Condition {
                    key: key.clone(),
                    op: FilterOp::Eq(scalar(&key, value)?),
                }),
            }
        }
        Ok(Self { conditions })
    }
}

/// The JSON form, which parses back to the same conditions for every filter parsed from
/// JSON. A key may hold two `in` conditions (`in` and `any`) and three `not_in` ones
/// (`not_in`, `none`, `nin`), so each repeat takes the next name that means the same.
impl From<Filter> for Value {
    fn from(filter: Filter) -> Self {
        let mut object = serde_json::Map::new();
        for condition in filter.conditions {
            let entry = object
                .entry(condition.key)
                .or_insert_with(|| Value::Object(Default::default()));
            let Value::Object(operators) = entry else {
                unreachable!("always an object")
            };
            let (names, operand): (&[&str], Value) = match condition.op {
                FilterOp::Eq(value) => (&["eq"], value),
                FilterOp::Ne(value) => (&["ne"], value),
                FilterOp::In(values) => (&["in", "any"], Value::Array(values)),
                FilterOp::NotIn(values) => (&["not_in", "none", "nin"], Value::Array(values)),
                FilterOp::All(values) => (&["all"], Value::Array(values)),
                FilterOp::Range { gt, gte, lt, lte } => {
                    for (name, bound) in [("gt", gt), ("gte", gte), ("lt", lt), ("lte", lte)] {
                        if let Some(bound) = bound.and_then(serde_json::Number::from_f64) {
                            operators.insert(name.into(), Value::Number(bound));
                        }
                    }
                    continue;
                }
            };
            // Past the last synonym (a filter built in code), the last one is replaced.
            let name = names
                .iter()
                .find(|name| !operators.contains_key(**name))
                .unwrap_or(&names[names.len() - 1]);
            operators.insert((*name).into(), operand);
        }
        Value::Object(object)
    }
}

fn invalid(message: String) -> StoreError {
    StoreError::InvalidFilter(message)
}

fn validate_key(key: &str) -> Result<()> {
    let valid = !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(invalid(format!(
            "invalid key {key:?}: use letters, digits, '_' or '-'"
        )))
    }
}

fn scalar(key: &str, value: Value) -> Result<Value> {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(value),
        other => Err(invalid(format!(
            "{key:?} needs a string, number or boolean, got {other}"
        ))),
    }
}

fn scalars(key: &str, operator: &str, value: Value) -> Result<Vec<Value>> {
    let Value::Array(items) = value else {
        return Err(invalid(format!("{key}.{operator} needs a list")));
    };
    if items.is_empty() {
        return Err(invalid(format!(
            "{key}.{operator} needs at least one value"
        )));
    }
    items.into_iter().map(|item| scalar(key, item)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_operator() {
        let filter = Filter::from_json(&json!({
            "category": "Lunch",
            "price": {"gte": 5, "lt": 20},
            "allergens": {"none": ["nuts"]},
            "dietary": {"any": ["vegan"], "all": ["vegan", "gluten-free"]},
            "available": {"ne": false},
        }))
        .unwrap();
        assert_eq!(filter.conditions.len(), 6);
        assert!(filter.conditions.contains(&Condition {
            key: "price".into(),
            op: FilterOp::Range {
                gt: None,
                gte: Some(5.0),
                lt: Some(20.0),
                lte: None
            },
        }));
        let round_trip = Filter::from_json(&Value::from(filter.clone())).unwrap();
        assert_eq!(round_trip.conditions.len(), filter.conditions.len());
    }

    #[test]
    fn rejects_malformed_filters_with_a_reason() {
        for (bad, reason) in [
            (json!([1]), "expected an object"),
            (json!({"price": {"lte": "cheap"}}), "needs a number"),
            (json!({"a": {"near": 1}}), "unknown operator"),
            (json!({"a": {"in": []}}), "at least one value"),
            (json!({"a": {"in": "x"}}), "needs a list"),
            (json!({"a": {"eq": {"x": 1}}}), "needs a string"),
            (json!({"bad key!": 1}), "invalid key"),
            (json!({"source": {"gt": 1}}), "does not support ranges"),
        ] {
            let err = Filter::from_json(&bad).unwrap_err().to_string();
            assert!(err.contains(reason), "{bad}: {err}");
        }
        assert!(Filter::from_json(&Value::Null).unwrap().is_empty());
    }

    /// The conditions in a fixed order: a conjunction's order means nothing.
    fn sorted(filter: &Filter) -> Vec<String> {
        let mut conditions: Vec<String> = filter
            .conditions
            .iter()
            .map(|condition| format!("{condition:?}"))
            .collect();
        conditions.sort();
        conditions
    }

    #[test]
    fn synonyms_on_one_key_survive_the_json_form() {
        let filter = Filter::from_json(&json!({
            "tags": {"in": ["a"], "any": ["b"], "not_in": ["c"], "none": ["d"], "nin": ["e"]},
        }))
        .unwrap();
        assert_eq!(filter.conditions.len(), 5);
        let back = Filter::from_json(&Value::from(filter.clone())).unwrap();
        assert_eq!(sorted(&back), sorted(&filter));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn scalar() -> impl Strategy<Value = Value> {
            prop_oneof![
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                "[a-zA-Z0-9 _-]{0,12}".prop_map(Value::from),
            ]
        }

        /// Operands of every kind, the wrong ones included.
        fn operand() -> impl Strategy<Value = Value> {
            prop_oneof![
                4 => scalar(),
                4 => prop::collection::vec(scalar(), 0..4).prop_map(Value::Array),
                1 => Just(Value::Null),
                1 => Just(json!({"x": 1})),
                1 => Just(json!([[1]])),
            ]
        }

        /// A key's condition: a bare value, or an object of operators (known and unknown).
        fn spec() -> impl Strategy<Value = Value> {
            let operator = prop::sample::select(
                &[
                    "eq", "ne", "in", "any", "not_in", "none", "nin", "all", "gt", "gte", "lt",
                    "lte", "near",
                ][..],
            );
            prop_oneof![
                2 => operand(),
                3 => prop::collection::btree_map(operator.prop_map(str::to_string), operand(), 0..5)
                    .prop_map(|operators| Value::Object(operators.into_iter().collect())),
            ]
        }

        fn filter_json() -> impl Strategy<Value = Value> {
            let key = prop_oneof![
                prop::sample::select(
                    &[
                        "category",
                        "price",
                        "tags",
                        "source",
                        "document_id",
                        "",
                        "bad key!"
                    ][..]
                )
                .prop_map(str::to_string),
                "[a-zA-Z0-9_-]{1,70}",
            ];
            prop_oneof![
                9 => prop::collection::btree_map(key, spec(), 0..5)
                    .prop_map(|keys| Value::Object(keys.into_iter().collect())),
                1 => operand(),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn filters_parse_or_are_refused_and_round_trip_through_json(value in filter_json()) {
                match Filter::from_json(&value) {
                    Ok(filter) => {
                        let json = Value::from(filter.clone());
                        let back = Filter::from_json(&json).unwrap();
                        prop_assert_eq!(sorted(&back), sorted(&filter), "via {}", json);
                        let text = serde_json::to_string(&filter).unwrap();
                        let back: Filter = serde_json::from_str(&text).unwrap();
                        prop_assert_eq!(sorted(&back), sorted(&filter), "via {}", text);
                    }
                    Err(StoreError::InvalidFilter(reason)) => prop_assert!(!reason.is_empty()),
                    Err(other) => prop_assert!(false, "not an invalid filter: {other:?}"),
                }
            }
        }
    }
}
