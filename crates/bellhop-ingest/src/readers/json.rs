//! JSON and JSON Lines records: `text` (or `content`, `body`, `answer`) is the text, `title`
//! (or `name`, `question`) the title, `id` (or `_id`) the id; a `metadata` object and all
//! other scalar or string-list fields become metadata.

use serde_json::{Map, Value};

use super::ReadOptions;
use crate::document::{Block, Metadata, ParsedDocument};
use crate::error::{IngestError, Result};

const TEXT_FIELDS: &[&str] = &["text", "content", "body", "answer", "description"];
const TITLE_FIELDS: &[&str] = &["title", "name", "question"];
const ID_FIELDS: &[&str] = &["id", "_id"];

pub(super) fn read_json(
    text: &str,
    name: &str,
    options: &ReadOptions,
) -> Result<Vec<ParsedDocument>> {
    let value: Value = serde_json::from_str(text).map_err(|err| {
        IngestError::malformed(
            name,
            format!(
                "invalid JSON at line {}, column {}: {err}",
                err.line(),
                err.column()
            ),
        )
    })?;
    let records = match value {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => {
            return Err(IngestError::malformed(
                name,
                "expected a JSON object or an array of objects",
            ));
        }
    };
    let mut documents = Vec::with_capacity(records.len());
    for (index, record) in records.into_iter().enumerate() {
        let Value::Object(record) = record else {
            return Err(IngestError::malformed(
                name,
                format!("record {}: not a JSON object", index + 1),
            ));
        };
        documents.push(record_document(
            record,
            name,
            &format!("record {}", index + 1),
            index,
            options,
        )?);
    }
    check_unique(&documents, name)?;
    Ok(documents)
}

pub(super) fn read_json_lines(
    text: &str,
    name: &str,
    options: &ReadOptions,
) -> Result<Vec<ParsedDocument>> {
    let mut documents = Vec::new();
    for (line_index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let where_ = format!("line {}", line_index + 1);
        let record: Map<String, Value> = serde_json::from_str(line).map_err(|err| {
            IngestError::malformed(name, format!("{where_}: invalid JSON object: {err}"))
        })?;
        documents.push(record_document(
            record,
            name,
            &where_,
            documents.len(),
            options,
        )?);
    }
    check_unique(&documents, name)?;
    Ok(documents)
}

fn record_document(
    mut record: Map<String, Value>,
    name: &str,
    where_: &str,
    index: usize,
    options: &ReadOptions,
) -> Result<ParsedDocument> {
    let id_fields: Vec<&str> = match &options.id_field {
        Some(field) => vec![field.as_str()],
        None => ID_FIELDS.to_vec(),
    };
    let record_id = match take_first(&mut record, &id_fields) {
        Some(Value::String(id)) if !id.trim().is_empty() => id,
        Some(Value::Number(id)) => id.to_string(),
        Some(_) => {
            return Err(IngestError::malformed(
                name,
                format!("{where_}: the id must be a non-empty string or a number"),
            ));
        }
        None => format!("record-{}", index + 1),
    };
    let text = match take_first(&mut record, TEXT_FIELDS) {
        Some(Value::String(text)) if !text.trim().is_empty() => text,
        _ => {
            return Err(IngestError::malformed(
                name,
                format!(
                    "{where_}: no text (expected a non-empty string in one of: {})",
                    TEXT_FIELDS.join(", ")
                ),
            ));
        }
    };
    let title = match take_first(&mut record, TITLE_FIELDS) {
        Some(Value::String(title)) if !title.trim().is_empty() => title,
        _ => format!("{} {record_id}", super::title_from_name(name)),
    };
    let mut metadata = Metadata::new();
    if let Some(Value::Object(explicit)) = record.remove("metadata") {
        for (key, value) in explicit {
            if is_metadata_value(&value) {
                metadata.insert(key, value);
            }
        }
    }
    for (key, value) in record {
        if is_metadata_value(&value) {
            metadata.entry(key).or_insert(value);
        }
    }
    Ok(ParsedDocument {
        id: format!("{name}#{record_id}"),
        title,
        source: name.to_string(),
        metadata,
        blocks: text
            .split("\n\n")
            .filter(|paragraph| !paragraph.trim().is_empty())
            .map(|paragraph| Block {
                section: Vec::new(),
                text: crate::document::normalize_whitespace(paragraph),
            })
            .collect(),
    })
}

fn take_first(record: &mut Map<String, Value>, fields: &[&str]) -> Option<Value> {
    fields.iter().find_map(|field| record.remove(*field))
}

fn is_metadata_value(value: &Value) -> bool {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
        Value::Array(items) => items.iter().all(Value::is_string),
        Value::Null | Value::Object(_) => false,
    }
}

fn check_unique(documents: &[ParsedDocument], name: &str) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for document in documents {
        if !seen.insert(document.id.as_str()) {
            return Err(IngestError::malformed(
                name,
                format!("duplicate record id {:?}", document.id),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_records_with_metadata() {
        let text = "{\"id\": \"pool\", \"title\": \"Is the pool heated?\", \"text\": \"Yes, 28 °C.\", \"category\": \"wellness\", \"tags\": [\"pool\"], \"nested\": {\"x\": 1}}\n\n\
                    {\"question\": \"Pets?\", \"answer\": \"Dogs up to 15 kg.\", \"metadata\": {\"fee\": 25}}\n";
        let docs = read_json_lines(text, "faq.jsonl", &ReadOptions::default()).unwrap();
        assert_eq!(docs[0].id, "faq.jsonl#pool");
        assert_eq!(docs[0].title, "Is the pool heated?");
        assert_eq!(docs[0].blocks[0].text, "Yes, 28 °C.");
        assert_eq!(docs[0].metadata["tags"], serde_json::json!(["pool"]));
        assert!(!docs[0].metadata.contains_key("nested"));
        assert_eq!(docs[1].id, "faq.jsonl#record-2");
        assert_eq!(docs[1].title, "Pets?");
        assert_eq!(docs[1].metadata["fee"], serde_json::json!(25));
    }

    #[test]
    fn json_arrays_and_single_objects() {
        let docs = read_json(
            r#"[{"id": 1, "text": "a"}, {"id": 2, "text": "b"}]"#,
            "e.json",
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(docs[1].id, "e.json#2");
        let docs = read_json(r#"{"text": "only"}"#, "one.json", &ReadOptions::default()).unwrap();
        assert_eq!(docs.len(), 1);
    }

    #[test]
    fn malformed_records_name_their_place() {
        let err = read_json_lines(
            "{\"text\": \"ok\"}\n{\"text\": \n",
            "f.jsonl",
            &ReadOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("f.jsonl: line 2: invalid JSON object"),
            "{err}"
        );
        let err = read_json_lines(
            "{\"title\": \"no text\"}\n",
            "f.jsonl",
            &ReadOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("line 1: no text"), "{err}");
        let err = read_json("[1, 2]", "g.json", &ReadOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("record 1: not a JSON object"),
            "{err}"
        );
        let err = read_json("{\"text\": ", "h.json", &ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("invalid JSON at line 1"), "{err}");
        let err = read_json(
            r#"[{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]"#,
            "d.json",
            &ReadOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("duplicate record id"), "{err}");
    }
}
