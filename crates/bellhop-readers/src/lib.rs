//! One reader per file format, all producing [`ParsedDocument`]s: text, Markdown, HTML, PDF,
//! CSV and JSON of any shape become a title, metadata and paragraph-level [`Block`]s that
//! remember their section path. Pure functions of the bytes, bounded in the time and memory
//! that hostile files can make them take.

mod csv;
mod document;
mod error;
mod html;
mod json;
mod markdown;
mod pdf;
mod text;

use std::path::Path;

pub use document::{Block, Metadata, ParsedDocument};
pub use error::{ReadError, Result};

/// Changes whenever a reader turns the same bytes into different text, so that sources
/// ingested before are read again rather than skipped as unchanged.
pub const READERS_VERSION: u32 = 4;

/// A file format we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain text: paragraphs separated by blank lines.
    Text,
    /// CommonMark with tables.
    Markdown,
    /// HTML pages; navigation, scripts and other boilerplate are dropped.
    Html,
    /// PDF text layer.
    Pdf,
    /// One record per row.
    Csv,
    /// JSON of any shape: the records in it, found at any depth.
    Json,
    /// One JSON value per line, each read like a JSON file.
    JsonLines,
}

impl Format {
    /// The format a path's extension names, if we read it.
    pub fn from_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match extension.as_str() {
            "txt" | "text" => Self::Text,
            "md" | "markdown" => Self::Markdown,
            "html" | "htm" => Self::Html,
            "pdf" => Self::Pdf,
            "csv" => Self::Csv,
            "json" => Self::Json,
            "jsonl" | "ndjson" => Self::JsonLines,
            _ => return None,
        })
    }

    /// Like [`Format::from_path`], but an error naming the file when unsupported.
    pub fn require(path: &Path) -> Result<Self> {
        Self::from_path(path).ok_or_else(|| ReadError::Unsupported {
            path: path.to_path_buf(),
        })
    }
}

/// Choices for record formats (CSV and JSON).
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// CSV columns whose values form the text; all columns when empty.
    pub text_columns: Vec<String>,
    /// CSV columns holding `;`-separated lists (besides `tags` and those detected).
    pub list_columns: Vec<String>,
    /// The record field or column that holds the record id (default `id`, `_id`).
    pub id_field: Option<String>,
}

/// Parses a file's bytes. `name` is the id and source of the documents (a relative path).
pub fn read_document_bytes(
    bytes: &[u8],
    name: &str,
    format: Format,
    options: &ReadOptions,
) -> Result<Vec<ParsedDocument>> {
    let documents = match format {
        Format::Pdf => vec![pdf::read(bytes, name)?],
        Format::Csv => csv::read(bytes, name, options)?,
        _ => {
            let text = std::str::from_utf8(bytes).map_err(|err| {
                ReadError::malformed(
                    name,
                    format!("not valid UTF-8 at byte {}", err.valid_up_to()),
                )
            })?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            match format {
                Format::Text => vec![text::read(text, name)],
                Format::Markdown => vec![markdown::read(text, name)],
                Format::Html => vec![html::read(text, name)?],
                Format::Json => json::read_json(text, name, options)?,
                Format::JsonLines => json::read_json_lines(text, name, options)?,
                Format::Pdf | Format::Csv => unreachable!("handled above"),
            }
        }
    };
    Ok(documents)
}

/// A readable title from a file name: `room-service_menu.md` → `Room service menu`.
pub(crate) fn title_from_name(name: &str) -> String {
    let stem = Path::new(name)
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or(name);
    let words = stem.replace(['-', '_'], " ");
    let mut chars = words.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => name.to_string(),
    }
}

/// A document with no structure beyond its blocks.
pub(crate) fn file_document(
    name: &str,
    title: Option<&str>,
    blocks: Vec<crate::document::Block>,
) -> ParsedDocument {
    ParsedDocument {
        id: name.to_string(),
        title: title
            .map(str::to_string)
            .unwrap_or_else(|| title_from_name(name)),
        source: name.to_string(),
        metadata: Default::default(),
        blocks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_extensions_case_insensitively() {
        assert_eq!(
            Format::from_path(Path::new("a/B.MD")),
            Some(Format::Markdown)
        );
        assert_eq!(Format::from_path(Path::new("menu.csv")), Some(Format::Csv));
        assert_eq!(
            Format::from_path(Path::new("x.jsonl")),
            Some(Format::JsonLines)
        );
        assert_eq!(Format::from_path(Path::new("photo.jpg")), None);
        assert!(matches!(
            Format::require(Path::new("photo.jpg")),
            Err(ReadError::Unsupported { .. })
        ));
    }

    #[test]
    fn titles_come_from_file_names() {
        assert_eq!(
            title_from_name("dining/room-service_menu.md"),
            "Room service menu"
        );
    }

    #[test]
    fn invalid_utf8_is_malformed_with_the_file_name() {
        let err = read_document_bytes(
            b"ok\xff",
            "notes.txt",
            Format::Text,
            &ReadOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("notes.txt"), "{err}");
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }
}
