//! What goes over HTTP: every request and response body, with the constraints the handlers
//! check, so that the OpenAPI document describes exactly what is accepted and sent. Core
//! types never appear on the wire; these convert to and from them.
//!
//! Constraints are stated for the default [`crate::config::Limits`]; a server configured
//! with other limits checks those instead.

pub mod collections;
pub mod documents;
pub mod errors;
pub mod feedback;
pub mod insights;
pub mod openai;
pub mod operations;
pub mod search;

pub use errors::{ErrorBody, ErrorDetail};

/// A collection name: 1-64 of `[A-Za-z0-9_-]`, starting with a letter or digit.
pub const COLLECTION_NAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$";

/// Text with something to read in it: a character that is neither whitespace, a control
/// character nor a byte-order mark, as [`bellhop_store::is_blank`] decides.
pub const NOT_BLANK_PATTERN: &str = "[^\\s\\x00-\\x1f\\x7f-\\x9f\\ufeff]";

/// JSON Schema's integers include numbers such as `5.0`; these read them as serde's integers
/// do not.
pub mod integer {
    use serde::{Deserialize, Deserializer};

    fn whole<T: TryFrom<u64>, E: serde::de::Error>(number: &serde_json::Number) -> Result<T, E> {
        let value = match number.as_u64() {
            Some(value) => Some(value),
            None => number.as_f64().and_then(|value| {
                // Below 2^64, so that the conversion is exact.
                (value >= 0.0 && value.fract() == 0.0 && value < 18_446_744_073_709_551_616.0)
                    .then_some(value as u64)
            }),
        };
        value
            .and_then(|value| T::try_from(value).ok())
            .ok_or_else(|| E::custom(format!("expected a whole number in range, got {number}")))
    }

    /// A whole number.
    pub fn required<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
        deserializer: D,
    ) -> Result<T, D::Error> {
        whole(&serde_json::Number::deserialize(deserializer)?)
    }

    /// A whole number, or null.
    pub fn optional<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        Option::<serde_json::Number>::deserialize(deserializer)?
            .map(|number| whole::<T, D::Error>(&number))
            .transpose()
    }

    /// A whole number, or null told from a field left out (with `default`), as a merge
    /// patch reads it.
    pub fn present<'de, D: Deserializer<'de>, T: TryFrom<u64>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        optional(deserializer).map(Some)
    }
}

/// serde reads a struct from a JSON array of its fields as well as from an object; the API
/// takes objects only, as the schema says. Each struct named derives with
/// `#[serde(remote = "Self")]`, which leaves the traits to these impls; `serialize` adds
/// the `Serialize` impl for one that is also sent.
macro_rules! object_only {
    (serialize $name:ident) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $name::serialize(self, serializer)
            }
        }
        $crate::wire::object_only!($name);
    };
    ($name:ident) => {
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Fields;
                impl<'de> serde::de::Visitor<'de> for Fields {
                    type Value = $name;
                    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                        formatter.write_str("a JSON object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        map: A,
                    ) -> Result<$name, A::Error> {
                        $name::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                deserializer.deserialize_map(Fields)
            }
        }
    };
}

pub(crate) use object_only;

/// Strings and lists with constraints that utoipa's attributes cannot put on an enum's
/// variants: newtypes that read and write as their content.
macro_rules! constrained {
    ($(#[$meta:meta])* $name:ident($inner:ty): $schema:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $schema.into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

pub(crate) use constrained;

/// A string schema.
fn string(
    min_length: Option<usize>,
    max_length: usize,
    pattern: Option<&str>,
) -> utoipa::openapi::schema::ObjectBuilder {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(min_length)
        .max_length(Some(max_length))
        .pattern(pattern)
}

/// A Server-Sent Event named `name` whose data is the JSON of the component `data`.
fn sse_event(name: &str, data: &str) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let mut data_schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/json")
        .build();
    // `contentSchema` is standard JSON Schema that utoipa has no field for; extensions
    // serialise flattened into the schema.
    data_schema
        .extensions
        .get_or_insert_with(Default::default)
        .insert(
            "contentSchema".into(),
            serde_json::json!({"$ref": format!("#/components/schemas/{data}")}),
        );
    sse_event_of(name, data_schema)
}

/// A Server-Sent Event named `name` whose data is the text `data`.
fn sse_text_event(name: &str, data: &str) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let data_schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([data]))
        .build();
    sse_event_of(name, data_schema)
}

fn sse_event_of(
    name: &str,
    data_schema: utoipa::openapi::schema::Object,
) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "event",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([name])),
        )
        .property("data", data_schema)
        .required("event")
        .required("data")
        .build()
}

constrained!(
    /// A question: not blank, at most 2000 characters.
    QuestionText(String): string(None, 2000, Some(NOT_BLANK_PATTERN))
);

constrained!(
    /// A text of at most 200000 characters.
    LongText(String): string(None, 200_000, None)
);

constrained!(
    /// A text to embed: 1 to 200000 characters.
    EmbeddingText(String): string(Some(1), 200_000, None)
);

#[cfg(test)]
mod tests {
    use crate::config::Limits;

    /// The literals in the schema attributes are the default limits.
    #[test]
    fn schema_constraints_are_the_default_limits() {
        let limits = Limits::default();
        assert_eq!(limits.max_query_chars, super::search::MAX_QUERY_CHARS);
        assert_eq!(limits.max_text_chars, super::documents::MAX_TEXT_CHARS);
        assert_eq!(limits.max_batch, super::documents::MAX_BATCH);
        assert_eq!(limits.max_k, super::search::MAX_K);
        assert_eq!(
            limits.max_answer_deadline().as_millis() as u64,
            super::search::MAX_DEADLINE_MS
        );
    }

    #[derive(serde::Deserialize)]
    struct Seeded {
        #[serde(default, deserialize_with = "super::integer::optional")]
        seed: Option<i64>,
    }

    fn seed(json: &str) -> Result<Option<i64>, serde_json::Error> {
        serde_json::from_str::<Seeded>(json).map(|seeded| seeded.seed)
    }

    /// JSON Schema's integers include whole numbers written with a fraction, which schema
    /// tools send; they are read exactly, however many digits they have.
    #[test]
    fn whole_numbers_written_with_a_fraction_are_read_exactly() {
        assert_eq!(seed(r#"{"seed": 5.0}"#).unwrap(), Some(5));
        assert_eq!(
            seed(r#"{"seed": 4481513820991850.0}"#).unwrap(),
            Some(4_481_513_820_991_850)
        );
        assert_eq!(
            seed(r#"{"seed": 9007199254740991}"#).unwrap(),
            Some(9_007_199_254_740_991)
        );
        assert_eq!(seed(r#"{"seed": null}"#).unwrap(), None);
        assert_eq!(seed("{}").unwrap(), None);
        for refused in ["5.5", "-1", "-1.0", "1e300", "9223372036854775808"] {
            let error = seed(&format!(r#"{{"seed": {refused}}}"#)).unwrap_err();
            assert!(
                error.to_string().contains("whole number"),
                "{refused}: {error}"
            );
        }
    }
}
