//! Reading texts from JSONL files and standard input, line by line, with line numbers in errors.

use std::io::BufRead;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// One record to embed.
#[derive(Debug, Clone, PartialEq)]
pub struct InputRecord {
    /// The record's id (`id` field), if it has one.
    pub id: Option<serde_json::Value>,
    /// The text.
    pub text: String,
}

#[derive(Deserialize)]
struct JsonRecord {
    #[serde(default, alias = "_id")]
    id: Option<serde_json::Value>,
    text: Option<String>,
}

/// Reads raw lines, failing on invalid UTF-8 with the line number.
fn lines(reader: impl BufRead, source: &str) -> impl Iterator<Item = Result<(usize, String)>> {
    let source = source.to_string();
    reader.split(b'\n').enumerate().map(move |(index, bytes)| {
        let number = index + 1;
        let bytes = bytes.with_context(|| format!("{source}: reading line {number}"))?;
        let mut line = String::from_utf8(bytes)
            .map_err(|err| anyhow::anyhow!("{source}: line {number} is not valid UTF-8 ({err})"))?;
        if line.ends_with('\r') {
            line.pop();
        }
        Ok((number, line))
    })
}

/// Reads a JSONL file of `{"id": .., "text": ..}` records; blank lines are skipped.
pub fn read_jsonl(reader: impl BufRead, source: &str) -> Result<Vec<InputRecord>> {
    let mut records = Vec::new();
    for line in lines(reader, source) {
        let (number, line) = line?;
        if line.trim().is_empty() {
            continue;
        }
        let record: JsonRecord = serde_json::from_str(&line)
            .with_context(|| format!("{source}: line {number} is not a JSON object"))?;
        let Some(text) = record.text else {
            bail!("{source}: line {number} has no \"text\" string field");
        };
        records.push(InputRecord {
            id: record.id,
            text,
        });
    }
    Ok(records)
}

/// Reads one text per line.
pub fn read_plain_lines(reader: impl BufRead, source: &str) -> Result<Vec<InputRecord>> {
    lines(reader, source)
        .map(|line| line.map(|(_, text)| InputRecord { id: None, text }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_records_with_and_without_ids() {
        let input = b"{\"id\": 1, \"text\": \"pool\"}\n\n{\"_id\": \"d2\", \"text\": \"spa\"}\r\n{\"text\": \"gym\"}";
        let records = read_jsonl(&input[..], "in.jsonl").unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].id, Some(serde_json::json!(1)));
        assert_eq!(records[1].id, Some(serde_json::json!("d2")));
        assert_eq!(
            records[2],
            InputRecord {
                id: None,
                text: "gym".into()
            }
        );
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let input = b"{\"text\": \"ok\"}\n{\"text\": \"bad \xff\"}\n";
        let err = read_jsonl(&input[..], "in.jsonl").unwrap_err().to_string();
        assert!(err.contains("in.jsonl: line 2 is not valid UTF-8"), "{err}");
        let err = read_plain_lines(&b"fine\nalso fine\n\xc3\x28\n"[..], "stdin").unwrap_err();
        assert!(
            err.to_string().contains("stdin: line 3 is not valid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn malformed_json_and_missing_text_name_the_line() {
        let err = read_jsonl(&b"{\"text\": \"a\"}\n{not json\n"[..], "f").unwrap_err();
        assert!(
            format!("{err:#}").contains("f: line 2 is not a JSON object"),
            "{err:#}"
        );
        let err = read_jsonl(&b"{\"id\": 3}\n"[..], "f").unwrap_err();
        assert!(err.to_string().contains("line 1 has no \"text\""), "{err}");
        let err = read_jsonl(&b"{\"text\": 42}\n"[..], "f").unwrap_err();
        assert!(format!("{err:#}").contains("line 1"), "{err:#}");
    }
}
