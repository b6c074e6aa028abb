//! Changes to a collection's answer settings, which are free to change after it is created:
//! they shape answers and how long they are logged, not the stored chunks and vectors.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::collection::{AnswerabilitySettings, CollectionSpec};
use crate::error::Result;

/// A change to a collection's answer settings, as a JSON merge patch reads (RFC 7396): a
/// field left out keeps its value, `null` clears it, any other value replaces it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    /// Instructions for answer generation.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub system_prompt: Option<Option<String>>,
    /// The answer generator used when a request names none.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub generator: Option<Option<String>>,
    /// Milliseconds within which every answer is given.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub answer_deadline_ms: Option<Option<u64>>,
    /// What an answer says when the sources do not hold it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub fallback_text: Option<Option<String>>,
    /// The fallback in other languages, by ISO 639-1 code; replaces all of them.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub fallback_texts: Option<Option<BTreeMap<String, String>>>,
    /// Overrides of the answerability thresholds; replaces all of them.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub answerability: Option<Option<AnswerabilitySettings>>,
    /// Days the question log keeps guests' questions, answers and feedback.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub question_retention_days: Option<Option<u32>>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`, by `default`).
fn present<'de, D, T>(deserializer: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl SettingsUpdate {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `spec` with this change, checked as a new spec is.
    pub fn applied_to(&self, spec: &CollectionSpec) -> Result<CollectionSpec> {
        let mut spec = spec.clone();
        if let Some(value) = &self.system_prompt {
            spec.system_prompt = value.clone();
        }
        if let Some(value) = &self.generator {
            spec.generator = value.clone();
        }
        if let Some(value) = self.answer_deadline_ms {
            spec.answer_deadline_ms = value;
        }
        if let Some(value) = &self.fallback_text {
            spec.fallback_text = value.clone();
        }
        if let Some(value) = &self.fallback_texts {
            spec.fallback_texts = value.clone().unwrap_or_default();
        }
        if let Some(value) = self.answerability {
            spec.answerability = value.unwrap_or_default();
        }
        if let Some(value) = self.question_retention_days {
            spec.question_retention_days = value;
        }
        spec.validate()?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_out_keeps_null_clears_a_value_replaces() {
        let mut spec = CollectionSpec::new("hotel", "model", 4);
        spec.fallback_text = Some("Ask at Reception.".into());
        spec.system_prompt = Some("You are the concierge.".into());
        let update: SettingsUpdate = serde_json::from_str(
            r#"{"fallback_text": "Dial 9.", "system_prompt": null, "fallback_texts": {"de": "Bitte 9 wählen."}}"#,
        )
        .unwrap();
        let changed = update.applied_to(&spec).unwrap();
        assert_eq!(changed.fallback_text.as_deref(), Some("Dial 9."));
        assert_eq!(changed.system_prompt, None);
        assert_eq!(changed.fallback_texts["de"], "Bitte 9 wählen.");
        assert_eq!(changed.generator, spec.generator);
        assert_eq!(changed.name, spec.name);
        let empty: SettingsUpdate = serde_json::from_str("{}").unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.applied_to(&spec).unwrap(), spec);
    }

    #[test]
    fn unknown_fields_and_bad_thresholds_are_refused() {
        let renamed = serde_json::from_str::<SettingsUpdate>(r#"{"name": "other"}"#);
        assert!(renamed.is_err(), "a name is not a setting");
        let update: SettingsUpdate =
            serde_json::from_str(r#"{"answerability": {"min_dense": 2.0}}"#).unwrap();
        let spec = CollectionSpec::new("hotel", "model", 4);
        let err = update.applied_to(&spec).unwrap_err().to_string();
        assert!(err.contains("min_dense"), "{err}");
    }
}
