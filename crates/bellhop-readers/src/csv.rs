//! CSV: each row is a record (a menu item, a room type). The text is `column: value` lines of
//! the text columns; every column is also typed metadata (numbers, booleans, and lists for
//! `;`-separated columns such as allergens), so rows can be filtered.

use serde_json::{Number, Value};

use super::ReadOptions;
use crate::document::{Block, Metadata, ParsedDocument, normalize_whitespace};
use crate::error::{ReadError, Result};

pub(super) fn read(bytes: &[u8], name: &str, options: &ReadOptions) -> Result<Vec<ParsedDocument>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|err| malformed(name, &err))?
        .iter()
        .map(|header| header.trim_start_matches('\u{feff}').to_string())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(ReadError::malformed(name, "the CSV has no header row"));
    }
    let rows = reader
        .records()
        .map(|row| row.map_err(|err| malformed(name, &err)))
        .collect::<Result<Vec<_>>>()?;
    for wanted in options.text_columns.iter().chain(&options.list_columns) {
        if !headers.contains(wanted) {
            return Err(ReadError::malformed(
                name,
                format!(
                    "no column named {wanted:?} (columns: {})",
                    headers.join(", ")
                ),
            ));
        }
    }
    let list_columns: Vec<bool> = headers
        .iter()
        .enumerate()
        .map(|(index, header)| {
            header.eq_ignore_ascii_case("tags")
                || options.list_columns.contains(header)
                || looks_like_list(rows.iter().map(|row| row.get(index).unwrap_or("")))
        })
        .collect();
    let id_column =
        match &options.id_field {
            Some(field) => Some(headers.iter().position(|h| h == field).ok_or_else(|| {
                ReadError::malformed(name, format!("no id column named {field:?}"))
            })?),
            None => headers.iter().position(|h| h.eq_ignore_ascii_case("id")),
        };
    let title_column = headers.iter().position(|h| {
        ["name", "title"]
            .iter()
            .any(|candidate| h.eq_ignore_ascii_case(candidate))
    });
    let mut documents = Vec::with_capacity(rows.len());
    let mut seen_ids = std::collections::HashSet::new();
    for (row_index, row) in rows.iter().enumerate() {
        let line = row.position().map_or(row_index + 2, |p| p.line() as usize);
        let record_id = match id_column {
            Some(column) if !row[column].is_empty() => row[column].to_string(),
            Some(_) => {
                return Err(ReadError::malformed(name, format!("line {line}: empty id")));
            }
            None => format!("row-{}", row_index + 1),
        };
        if !seen_ids.insert(record_id.clone()) {
            return Err(ReadError::malformed(
                name,
                format!("line {line}: duplicate id {record_id:?}"),
            ));
        }
        let mut metadata = Metadata::new();
        let mut lines = Vec::new();
        for (index, (header, value)) in headers.iter().zip(row.iter()).enumerate() {
            if value.is_empty() || header.is_empty() {
                continue;
            }
            let typed = if list_columns[index] {
                Value::Array(
                    split_list(value)
                        .map(|item| Value::String(item.to_string()))
                        .collect(),
                )
            } else {
                typed_value(value)
            };
            let in_text = if options.text_columns.is_empty() {
                Some(index) != id_column
            } else {
                options.text_columns.contains(header)
            };
            if in_text {
                let shown = if list_columns[index] {
                    split_list(value).collect::<Vec<_>>().join(", ")
                } else {
                    normalize_whitespace(value)
                };
                lines.push(format!("{header}: {shown}"));
            }
            metadata.insert(header.clone(), typed);
        }
        let title = title_column
            .map(|column| row[column].to_string())
            .filter(|title| !title.is_empty())
            .unwrap_or_else(|| format!("{} {}", super::title_from_name(name), record_id));
        documents.push(ParsedDocument {
            id: format!("{name}#{record_id}"),
            title,
            source: name.to_string(),
            metadata,
            // A row whose text columns are all empty has no text to chunk.
            blocks: if lines.is_empty() {
                Vec::new()
            } else {
                vec![Block {
                    section: Vec::new(),
                    text: lines.join("\n"),
                    record: false,
                }]
            },
        });
    }
    Ok(documents)
}

fn malformed(name: &str, err: &csv::Error) -> ReadError {
    let reason = match err.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "line {}: {len} fields where the header has {expected_len}",
            pos.as_ref().map_or(0, |p| p.line())
        ),
        csv::ErrorKind::Utf8 { pos, .. } => format!(
            "line {}: not valid UTF-8",
            pos.as_ref().map_or(0, |p| p.line())
        ),
        _ => err.to_string(),
    };
    ReadError::malformed(name, reason)
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(';')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// A column of short `;`-separated labels (`gluten;dairy`), not prose that has a semicolon:
/// every item is at most three words, with no comma or full stop.
fn looks_like_list<'a>(values: impl Iterator<Item = &'a str>) -> bool {
    let mut any_separator = false;
    for value in values.filter(|v| !v.is_empty()) {
        any_separator |= value.contains(';');
        let labels = split_list(value).all(|item| {
            item.len() <= 32 && item.split_whitespace().count() <= 3 && !item.contains([',', '.'])
        });
        if !labels {
            return false;
        }
    }
    any_separator
}

fn typed_value(value: &str) -> Value {
    if let Ok(integer) = value.parse::<i64>() {
        return Value::Number(integer.into());
    }
    if let Some(number) = value.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(number);
    }
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" => Value::Bool(true),
        "false" | "no" => Value::Bool(false),
        _ => Value::String(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MENU: &str = "id,name,category,description,price,allergens,available\n\
        rs-club,Club sandwich,mains,\"Chicken, bacon; toasted\",16.50,gluten;eggs;mustard,yes\n\
        rs-salad,Green salad,starters,Leaves and seeds,9,,no\n";

    #[test]
    fn rows_become_typed_records() {
        let docs = read(MENU.as_bytes(), "menu.csv", &ReadOptions::default()).unwrap();
        assert_eq!(docs.len(), 2);
        let club = &docs[0];
        assert_eq!(club.id, "menu.csv#rs-club");
        assert_eq!(club.title, "Club sandwich");
        assert_eq!(club.metadata["price"], serde_json::json!(16.5));
        assert_eq!(
            club.metadata["allergens"],
            serde_json::json!(["gluten", "eggs", "mustard"])
        );
        assert_eq!(club.metadata["available"], serde_json::json!(true));
        assert_eq!(
            club.blocks[0].text,
            "name: Club sandwich\ncategory: mains\ndescription: Chicken, bacon; toasted\n\
             price: 16.50\nallergens: gluten, eggs, mustard\navailable: yes"
        );
        assert_eq!(docs[1].metadata["price"], serde_json::json!(9));
        assert!(!docs[1].metadata.contains_key("allergens"));
    }

    #[test]
    fn chosen_text_columns_and_explicit_lists() {
        let options = ReadOptions {
            text_columns: vec!["name".into(), "description".into()],
            list_columns: vec!["category".into()],
            id_field: None,
        };
        let docs = read(MENU.as_bytes(), "menu.csv", &options).unwrap();
        assert_eq!(
            docs[1].blocks[0].text,
            "name: Green salad\ndescription: Leaves and seeds"
        );
        assert_eq!(
            docs[1].metadata["category"],
            serde_json::json!(["starters"])
        );
    }

    #[test]
    fn malformed_rows_name_the_line() {
        let bad = "id,name,price\na,Soup,5\nb,Bread\n";
        let err = read(bad.as_bytes(), "menu.csv", &ReadOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "menu.csv: line 3: 2 fields where the header has 3"
        );
        let dup = "id,name\na,Soup\na,Bread\n";
        let err = read(dup.as_bytes(), "m.csv", &ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("duplicate id \"a\""), "{err}");
        let err = read(b"", "empty.csv", &ReadOptions::default()).unwrap_err();
        assert!(err.to_string().contains("no header"), "{err}");
        let options = ReadOptions {
            text_columns: vec!["nope".into()],
            ..Default::default()
        };
        let err = read(MENU.as_bytes(), "menu.csv", &options).unwrap_err();
        assert!(
            err.to_string().contains("no column named \"nope\""),
            "{err}"
        );
    }

    #[test]
    fn rows_without_ids_are_numbered() {
        let docs = read(
            b"name,price\nTea,3\nCoffee,3.5\n",
            "drinks.csv",
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(docs[1].id, "drinks.csv#row-2");
    }
}
