//! Plain text: blank lines separate paragraphs; a lone short line without closing
//! punctuation is a heading.

use crate::document::{BlockBuilder, ParsedDocument};

pub(super) fn read(text: &str, name: &str) -> ParsedDocument {
    let mut builder = BlockBuilder::default();
    for paragraph in paragraphs(text) {
        if looks_like_heading(&paragraph) {
            builder.heading(1, paragraph.trim_end_matches(':'));
        } else {
            builder.push(&paragraph);
        }
    }
    let title = builder.first_heading().map(str::to_string);
    super::file_document(name, title.as_deref(), builder.finish())
}

fn paragraphs(text: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
        } else {
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(line.trim());
        }
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

fn looks_like_heading(paragraph: &str) -> bool {
    !paragraph.contains('\n')
        && paragraph.chars().count() <= 60
        && !paragraph.ends_with(['.', '!', '?', ',', ';'])
        && !paragraph.starts_with(['-', '*', '•'])
        && paragraph.chars().any(char::is_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_headings() {
        let doc = read(
            "HOUSE RULES\n\nQuiet hours are 22:00 to 07:00.\nPlease respect them.\n\n\nSmoking:\n\nNo smoking anywhere indoors.\n",
            "rules.txt",
        );
        assert_eq!(doc.title, "HOUSE RULES");
        assert_eq!(doc.blocks.len(), 2);
        assert_eq!(doc.blocks[0].section, vec!["HOUSE RULES"]);
        assert_eq!(
            doc.blocks[0].text,
            "Quiet hours are 22:00 to 07:00. Please respect them."
        );
        assert_eq!(doc.blocks[1].section, vec!["Smoking"]);
    }

    #[test]
    fn empty_text_gives_an_empty_document_titled_by_file() {
        let doc = read("\n\n  \n", "empty-notes.txt");
        assert!(doc.blocks.is_empty());
        assert_eq!(doc.title, "Empty notes");
    }
}
