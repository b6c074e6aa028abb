//! The reader's output: documents made of section-aware blocks.

use serde::{Deserialize, Serialize};

/// Free metadata: string, number, bool or string-list values by key.
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// One document as read from a file or a record, before chunking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedDocument {
    /// Stable id: the file's relative path, plus `#record` for records of a CSV/JSON file.
    pub id: String,
    /// Human title: the first heading, the HTML `<title>`, a record's name, else the file name.
    pub title: String,
    /// Where it came from (the relative path).
    pub source: String,
    /// Metadata for filters (CSV columns, JSON fields).
    pub metadata: Metadata,
    /// Paragraph-level text in reading order.
    pub blocks: Vec<Block>,
}

/// A paragraph, list item, table row or record: the smallest unit the chunker keeps whole
/// when it fits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Headings above this block, outermost first ("Spa", "Opening hours").
    pub section: Vec<String>,
    /// The text, whitespace-normalised.
    pub text: String,
}

impl ParsedDocument {
    /// A document given whole as one text (a record sent through an API): one block, the id
    /// as its title when it has none.
    pub fn from_text(
        id: String,
        title: Option<String>,
        text: String,
        metadata: Metadata,
        source: String,
    ) -> Self {
        Self {
            title: title.unwrap_or_else(|| id.clone()),
            id,
            source,
            metadata,
            blocks: vec![Block {
                section: Vec::new(),
                text,
            }],
        }
    }

    /// All block text joined by blank lines (for display and tests).
    pub fn full_text(&self) -> String {
        self.blocks
            .iter()
            .map(|block| block.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

/// Collapses runs of whitespace to single spaces and trims.
pub(crate) fn normalize_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Builds blocks while tracking the heading stack.
#[derive(Debug, Default)]
pub(crate) struct BlockBuilder {
    headings: Vec<(usize, String)>,
    blocks: Vec<Block>,
    first_heading: Option<String>,
}

impl BlockBuilder {
    /// Enters a heading of `level` (1 = outermost), closing deeper ones.
    pub fn heading(&mut self, level: usize, text: &str) {
        let text = normalize_whitespace(text);
        if text.is_empty() {
            return;
        }
        if self.first_heading.is_none() {
            self.first_heading = Some(text.clone());
        }
        self.headings.retain(|(existing, _)| *existing < level);
        self.headings.push((level, text));
    }

    /// Adds a block of text under the current headings; empty text is ignored.
    pub fn push(&mut self, text: &str) {
        let text = normalize_whitespace(text);
        if text.is_empty() {
            return;
        }
        let section = self.headings.iter().map(|(_, h)| h.clone()).collect();
        self.blocks.push(Block { section, text });
    }

    /// The first heading seen, if any.
    pub fn first_heading(&self) -> Option<&str> {
        self.first_heading.as_deref()
    }

    /// The blocks built so far.
    pub fn finish(self) -> Vec<Block> {
        self.blocks
    }
}
