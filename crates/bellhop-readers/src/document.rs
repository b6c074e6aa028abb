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
    /// A record (a table row with its column names): chunked on its own, so that its
    /// embedding is about that one row and not averaged with its neighbours'.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub record: bool,
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
                record: false,
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

/// One table row as a line that reads on its own, with its column names: "Harbourmaster
/// Suite — Size: 65 m²; From (EUR per night): 520". A row is a block of its own, so chunking
/// may part it from the header; without the names its figures would mean nothing.
pub(crate) fn table_row_text(header: &[String], cells: &[String]) -> String {
    let cells: Vec<String> = cells
        .iter()
        .map(|cell| normalize_whitespace(cell))
        .collect();
    let name = |index: usize| {
        header
            .get(index)
            .map(|name| normalize_whitespace(name))
            .filter(|name| !name.is_empty())
    };
    let Some((first, rest)) = cells.split_first() else {
        return String::new();
    };
    let fields: Vec<String> = rest
        .iter()
        .enumerate()
        .filter(|(_, cell)| !cell.is_empty())
        .map(|(index, cell)| match name(index + 1) {
            Some(name) => format!("{name}: {cell}"),
            None => cell.clone(),
        })
        .collect();
    match (first.is_empty(), fields.is_empty()) {
        (_, true) => first.clone(),
        (true, false) => fields.join("; "),
        (false, false) if fields.len() == 1 && name(1).is_none() => {
            format!("{first}: {}", fields[0])
        }
        (false, false) => format!("{first} — {}", fields.join("; ")),
    }
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
        self.push_block(text, false);
    }

    /// Adds a record (a table row) under the current headings, to be chunked on its own.
    pub fn push_record(&mut self, text: &str) {
        self.push_block(text, true);
    }

    fn push_block(&mut self, text: &str, record: bool) {
        let text = normalize_whitespace(text);
        if text.is_empty() {
            return;
        }
        let section = self.headings.iter().map(|(_, h)| h.clone()).collect();
        self.blocks.push(Block {
            section,
            text,
            record,
        });
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

#[cfg(test)]
mod tests {
    use super::table_row_text;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|cell| cell.to_string()).collect()
    }

    #[test]
    fn a_table_row_reads_on_its_own_with_its_column_names() {
        let header = strings(&["Room", "Size", "Beds", "From (EUR per night)"]);
        assert_eq!(
            table_row_text(
                &header,
                &strings(&["Harbourmaster Suite", "65 m²", " 1 super king ", "520"])
            ),
            "Harbourmaster Suite — Size: 65 m²; Beds: 1 super king; From (EUR per night): 520"
        );
        // An empty cell is left out rather than named with nothing.
        assert_eq!(
            table_row_text(&header, &strings(&["Quay Room", "", "", "145"])),
            "Quay Room — From (EUR per night): 145"
        );
        // Key–value tables often have an empty header, or none.
        assert_eq!(
            table_row_text(&strings(&["", ""]), &strings(&["Depth", "1.2 m to 1.5 m"])),
            "Depth: 1.2 m to 1.5 m"
        );
        assert_eq!(
            table_row_text(&[], &strings(&["Monday", "closed", "all day"])),
            "Monday — closed; all day"
        );
        assert_eq!(table_row_text(&header, &strings(&["Alone"])), "Alone");
        assert_eq!(table_row_text(&header, &[]), "");
    }
}
